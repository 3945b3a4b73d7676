package district_test

import (
	"testing"
	"testing/fstest"

	"github.com/k12dev/devicesync-operator/internal/roster"
	"github.com/k12dev/devicesync-operator/internal/sim/district"
)

func rosterDistrict() *district.District {
	return &district.District{
		Schools: []district.School{{ShortName: "LHS"}, {ShortName: "WMS"}},
		Patrons: []district.Patron{
			{DistrictID: "S1", FirstName: "Ada", LastName: "Lovelace", Email: "ada@example.org", Username: "ada.lovelace", Type: district.PatronStudent, SiteShortName: "LHS"},
			{DistrictID: "T1", FirstName: "Grace", LastName: "Hopper", Email: "grace@example.org", Username: "ghopper", Type: district.PatronTeacher, SiteShortName: "LHS"},
		},
	}
}

func TestGeneratedRosterHasTheAwkwardCases(t *testing.T) {
	d := rosterDistrict()
	r := district.GenerateRoster(d)
	cases := map[string]district.Section{}
	for _, s := range r.Sections {
		cases[s.Case] = s
	}
	teacher := map[string]district.Patron{}
	for _, p := range r.Teachers {
		teacher[p.DistrictID] = p
	}
	tests := []struct {
		name string
		ok   func() bool
	}{
		{"a student is in classes of two schools", func() bool { return cases[district.RosterCaseTwoSchools].SchoolShortName == "WMS" }},
		{"a teacher has no email", func() bool {
			s := cases[district.RosterCaseTeacherNoEmail]
			return len(s.Teachers) == 1 && teacher[s.Teachers[0]].Email == ""
		}},
		{"a class has no teacher", func() bool { s, ok := cases[district.RosterCaseNoTeacher]; return ok && len(s.Teachers) == 0 }},
		{"a teacher's username duplicates a student's", func() bool {
			s := cases[district.RosterCaseDuplicateUser]
			return len(s.Teachers) == 1 && teacher[s.Teachers[0]].Username == "ada.lovelace"
		}},
		{"a class is ASM-managed", func() bool { return cases[district.RosterCaseASMManagedClass].ASMSource == district.ASMSourceStandIn }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !tt.ok() {
				t.Errorf("case missing from %+v", r.Sections)
			}
		})
	}
}

// The OneRoster bundle reads back: every student gets the teachers of its classes.
func TestOneRosterBundleRoundTrips(t *testing.T) {
	d := rosterDistrict()
	files := district.GenerateRoster(d).OneRoster(d)
	fsys := fstest.MapFS{}
	for name, b := range files {
		fsys[name] = &fstest.MapFile{Data: b}
	}
	ros, err := roster.ReadOneRoster(fsys, roster.Options{KeyField: roster.KeySourcedID})
	if err != nil {
		t.Fatal(err)
	}
	if len(ros.Problems) != 0 {
		t.Errorf("problems: %+v", ros.Problems)
	}
	s, ok := ros.Students["S1"]
	if !ok {
		t.Fatalf("S1 missing from %+v", ros.Students)
	}
	want := []string{"Dup Licate", "Grace Hopper", "Nora Nomail"}
	if len(s.Teachers) != len(want) {
		t.Fatalf("teachers %v, want %v", s.Teachers, want)
	}
	for i := range want {
		if s.Teachers[i] != want[i] {
			t.Errorf("teachers %v, want %v", s.Teachers, want)
		}
	}
}
