package main

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	dsv1 "github.com/k12dev/devicesync-operator/api/v1alpha1"
	"github.com/k12dev/devicesync-operator/internal/sim/district"
)

// rosterDistrict is two schools with two students, a teacher each, and a third student.
func rosterDistrict() *district.District {
	student := func(id, user, site string) district.Patron {
		return district.Patron{DistrictID: id, Username: user, Email: user + "@example.org", FirstName: "F" + id, LastName: "L" + id,
			Type: district.PatronStudent, Status: district.StatusActive, SiteShortName: site}
	}
	teacher := student("T1", "tone", "LHS")
	teacher.Type = district.PatronTeacher
	teacher2 := student("T2", "ttwo", "WMS")
	teacher2.Type = district.PatronTeacher
	return &district.District{
		Schools: []district.School{{ShortName: "LHS", Name: "Lincoln High School"}, {ShortName: "WMS", Name: "Washington Middle School"}},
		Patrons: []district.Patron{student("S1", "sone", "LHS"), student("S2", "stwo", "LHS"), student("S3", "sthree", "WMS"), teacher, teacher2},
	}
}

// users is an MDM user listing of the given usernames, each with its own email.
func users(names ...string) map[string]mdmUser {
	out := map[string]mdmUser{}
	for _, n := range names {
		out[n] = mdmUser{Username: n, Email: n + "@example.org"}
	}
	return out
}

func TestExpectRosterAppliesTheDecisionTableRules(t *testing.T) {
	d := rosterDistrict()
	all := []string{"sone", "stwo", "sthree", "tone", "ttwo"}
	tests := []struct {
		name   string
		roster *district.Roster
		before map[string]mdmUser
		// check returns what is wrong with the expectation, or "".
		check func(e rosterExpectation) string
	}{
		{
			name:   "a class has its teachers and students, in its school's location, named school, title and class code",
			roster: &district.Roster{Sections: []district.Section{{SourcedID: "c1", Title: "Art", SchoolShortName: "LHS", Teachers: []string{"T1"}, Students: []string{"S2", "S1"}}}},
			before: users(all...),
			check: func(e rosterExpectation) string {
				want := []expectedClass{{Key: "c1", Name: "LHS Art (c1)", Location: "Lincoln High School", Teachers: []string{"tone"}, Students: []string{"sone", "stwo"}}}
				if !reflect.DeepEqual(e.Classes, want) {
					return fmt.Sprintf("classes %+v, want %+v", e.Classes, want)
				}
				return ""
			},
		},
		{
			name:   "every person gets the students or teachers group of their own school's location",
			roster: &district.Roster{},
			before: users(all...),
			check: func(e rosterExpectation) string {
				if g := e.Users["sthree"].Group; g != "WMS Students@Washington Middle School" {
					return "sthree's group " + g
				}
				if g := e.Users["tone"].Group; g != "LHS Teachers@Lincoln High School" {
					return "tone's group " + g
				}
				if len(e.Users) != 5 {
					return fmt.Sprintf("%d users, want 5", len(e.Users))
				}
				return ""
			},
		},
		{
			name: "people sharing a username are both skipped and sit in no class",
			roster: &district.Roster{
				Teachers: []district.Patron{{DistrictID: "T-DUP", Username: "SONE", Email: "dup@example.org", Type: district.PatronTeacher, SiteShortName: "LHS"}},
				Sections: []district.Section{{SourcedID: "c1", Title: "Drama", SchoolShortName: "LHS", Teachers: []string{"T-DUP"}, Students: []string{"S1", "S2"}}},
			},
			before: users(all...),
			check: func(e rosterExpectation) string {
				if e.Skipped["S1"] != skipDuplicateUser || e.Skipped["T-DUP"] != skipDuplicateUser {
					return fmt.Sprintf("skipped %v", e.Skipped)
				}
				if _, ok := e.Users["sone"]; ok {
					return "sone expected as a user"
				}
				if c := e.Classes[0]; len(c.Teachers) != 0 || !reflect.DeepEqual(c.Students, []string{"stwo"}) {
					return fmt.Sprintf("class %+v, want no teacher and stwo only", c)
				}
				return ""
			},
		},
		{
			name: "a new teacher with no email is skipped and left out of the class, which keeps its students",
			roster: &district.Roster{
				Teachers: []district.Patron{{DistrictID: "T-NOEMAIL", Username: "nnomail", Type: district.PatronTeacher, SiteShortName: "LHS"}},
				Sections: []district.Section{{SourcedID: "c1", Title: "Art", SchoolShortName: "LHS", Teachers: []string{"T-NOEMAIL"}, Students: []string{"S1"}}},
			},
			before: users(all...),
			check: func(e rosterExpectation) string {
				if e.Skipped["T-NOEMAIL"] != skipNoEmail || !reflect.DeepEqual(e.NotCreated, []string{"nnomail"}) {
					return fmt.Sprintf("skipped %v, not created %v", e.Skipped, e.NotCreated)
				}
				if c := e.Classes[0]; len(c.Teachers) != 0 || !reflect.DeepEqual(c.Students, []string{"sone"}) {
					return fmt.Sprintf("class %+v", c)
				}
				return ""
			},
		},
		{
			name:   "a person with no user yet and an email is created; one whose email another user has is skipped EmailTaken",
			roster: &district.Roster{},
			before: func() map[string]mdmUser {
				u := users("sone", "tone", "ttwo")
				u["other"] = mdmUser{Username: "other", Email: "STHREE@example.org"}
				return u
			}(),
			check: func(e rosterExpectation) string {
				if _, ok := e.Users["stwo"]; !ok {
					return "stwo (no user, an email) not expected to be created"
				}
				if e.Skipped["S3"] != skipEmailTaken {
					return fmt.Sprintf("S3 skipped %q, want EmailTaken", e.Skipped["S3"])
				}
				return ""
			},
		},
		{
			name: "two new people sharing an email are both skipped EmailTaken",
			roster: &district.Roster{Teachers: []district.Patron{
				{DistrictID: "T-A", Username: "ta", Email: "shared@example.org", Type: district.PatronTeacher, SiteShortName: "LHS"},
				{DistrictID: "T-B", Username: "tb", Email: "Shared@example.org", Type: district.PatronTeacher, SiteShortName: "LHS"},
			}},
			before: users(all...),
			check: func(e rosterExpectation) string {
				if e.Skipped["T-A"] != skipEmailTaken || e.Skipped["T-B"] != skipEmailTaken {
					return fmt.Sprintf("skipped %v, want T-A and T-B EmailTaken", e.Skipped)
				}
				return ""
			},
		},
		{
			name: "two classes rendering one name (without case) in one location are both skipped; the same name elsewhere is not",
			roster: &district.Roster{Sections: []district.Section{
				{SourcedID: "art", Title: "Art", SchoolShortName: "LHS"}, {SourcedID: "ART", Title: "art", SchoolShortName: "LHS"},
				{SourcedID: "Art", Title: "Art", SchoolShortName: "WMS"},
			}},
			before: users(all...),
			check: func(e rosterExpectation) string {
				if e.SkippedClasses["art"] != skipDuplicateClass || e.SkippedClasses["ART"] != skipDuplicateClass {
					return fmt.Sprintf("skipped classes %v", e.SkippedClasses)
				}
				if len(e.Classes) != 1 || e.Classes[0].Key != "Art" {
					return fmt.Sprintf("classes %+v, want WMS's Art only", e.Classes)
				}
				return ""
			},
		},
		{
			name:   "an ASM-managed class is not one to write",
			roster: &district.Roster{Sections: []district.Section{{SourcedID: "asm", Title: "Bio", SchoolShortName: "LHS", ASMSource: "sim-asm", Students: []string{"S1"}}}},
			before: users(all...),
			check: func(e rosterExpectation) string {
				if len(e.Classes) != 0 {
					return fmt.Sprintf("classes %+v, want none", e.Classes)
				}
				return ""
			},
		},
		{
			name:   "a student in a class of another school sits in it",
			roster: &district.Roster{Sections: []district.Section{{SourcedID: "band", Title: "Band", SchoolShortName: "WMS", Teachers: []string{"T2"}, Students: []string{"S1", "S3"}}}},
			before: users(all...),
			check: func(e rosterExpectation) string {
				c := e.Classes[0]
				if c.Location != "Washington Middle School" || !reflect.DeepEqual(c.Students, []string{"sone", "sthree"}) {
					return fmt.Sprintf("class %+v", c)
				}
				return ""
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if msg := tc.check(expectRoster(d, tc.roster, tc.before, nil)); msg != "" {
				t.Error(msg)
			}
		})
	}
}

func TestCompareRosterNamesEachDifference(t *testing.T) {
	exp := rosterExpectation{
		Users: map[string]expectedUser{
			"sone": {ID: "S1", Username: "sone", Location: "LHS School", Group: "LHS Students@LHS School"},
			"tone": {ID: "T1", Username: "tone", Location: "LHS School", Group: "LHS Teachers@LHS School"},
		},
		Classes:    []expectedClass{{Key: "c1", Name: "LHS Art", Location: "LHS School", Teachers: []string{"tone"}, Students: []string{"sone"}}},
		NotCreated: []string{"nnomail"},
		ASM:        []mdmClass{{UUID: "asm-1", Name: "LHS Bio", Location: "LHS School", Source: "sim-asm", ASM: true, Teachers: []string{}, Students: []string{"sone"}}},
	}
	good := func() rosterSnapshot {
		return rosterSnapshot{
			Users: map[string]mdmUser{
				"sone": {Username: "sone", Location: "LHS School", Groups: []string{"Other@LHS School", "LHS Students@LHS School"}},
				"tone": {Username: "tone", Location: "LHS School", Groups: []string{"LHS Teachers@LHS School"}},
			},
			Classes: []mdmClass{
				{UUID: "c-1", Name: "LHS Art", Location: "LHS School", Source: "sim-api", Teachers: []string{"tone"}, Students: []string{"sone"}, Writes: 2},
				{UUID: "asm-1", Name: "LHS Bio", Location: "LHS School", Source: "sim-asm", ASM: true, Teachers: []string{}, Students: []string{"sone"}},
			},
		}
	}
	tests := []struct {
		name   string
		mutate func(s *rosterSnapshot)
		want   string // "" for no difference, else a substring of the only difference
	}{
		{"Jamf School as expected (other groups kept) has no difference", func(*rosterSnapshot) {}, ""},
		{"a missing user", func(s *rosterSnapshot) { delete(s.Users, "tone") }, "user tone (roster T1): missing"},
		{"a user in another location", func(s *rosterSnapshot) { u := s.Users["tone"]; u.Location = "WMS"; s.Users["tone"] = u }, `user tone: location "WMS"`},
		{"a user without its group", func(s *rosterSnapshot) {
			u := s.Users["sone"]
			u.Groups = []string{"LHS Students@WMS"}
			s.Users["sone"] = u
		}, "want one of them LHS Students@LHS School"},
		{"a user made for a skipped person", func(s *rosterSnapshot) { s.Users["nnomail"] = mdmUser{Username: "nnomail"} }, "user nnomail: created, but the roster person is skipped"},
		{"a missing class", func(s *rosterSnapshot) { s.Classes = s.Classes[1:] }, `class "LHS Art" in LHS School (roster c1): missing`},
		{"a class created twice", func(s *rosterSnapshot) { s.Classes = append(s.Classes, s.Classes[0]) }, "2 classes of that name"},
		{"a missing student", func(s *rosterSnapshot) { s.Classes[0].Students = []string{} }, "1 students missing (sone)"},
		{"an extra teacher", func(s *rosterSnapshot) { s.Classes[0].Teachers = []string{"sone", "tone"} }, "1 teachers not in the roster (sone)"},
		{"a written ASM class", func(s *rosterSnapshot) { s.Classes[1].Writes = 1 }, `ASM class "LHS Bio": 1 writes`},
		{"a changed ASM class", func(s *rosterSnapshot) { s.Classes[1].Students = []string{} }, `ASM class "LHS Bio": changed`},
		{"a deleted ASM class", func(s *rosterSnapshot) { s.Classes = s.Classes[:1] }, `ASM class "LHS Bio": gone`},
		{"a class nobody expects", func(s *rosterSnapshot) {
			s.Classes = append(s.Classes, mdmClass{UUID: "x", Name: "LHS Drama", Location: "LHS School", Teachers: []string{}, Students: []string{}})
		}, `class "LHS Drama" in LHS School: not expected`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := good()
			tc.mutate(&s)
			diffs := compareRoster(exp, s)
			switch {
			case tc.want == "" && len(diffs) > 0:
				t.Errorf("differences %q, want none", diffs)
			case tc.want != "" && (len(diffs) != 1 || !strings.Contains(diffs[0], tc.want)):
				t.Errorf("differences %q, want one containing %q", diffs, tc.want)
			}
		})
	}
}

func TestJamfSchoolOutcomeNeedsEveryRosterCheck(t *testing.T) {
	run := func(name string, phase dsv1.SyncRunPhase, st *dsv1.RosterRunStatus) *dsv1.SyncRun {
		r := &dsv1.SyncRun{}
		r.Name, r.Status.Phase, r.Status.Roster = name, phase, st
		return r
	}
	good := func() rosterFacts {
		return rosterFacts{
			Run:        run("first", dsv1.PhaseSucceeded, &dsv1.RosterRunStatus{Changed: 40, ByReason: map[string]int32{"ManagedByASM": 1}}),
			SecondRun:  run("second", dsv1.PhaseSucceeded, &dsv1.RosterRunStatus{InSync: 40, ByReason: map[string]int32{"ManagedByASM": 1}}),
			ASMClasses: 1,
		}
	}
	tests := []struct {
		name   string
		mutate func(f *rosterFacts)
		want   string // "" for OK, else a substring of the reason
	}{
		{"everything as expected is OK", func(*rosterFacts) {}, ""},
		{"a first run not Succeeded", func(f *rosterFacts) { f.Run.Status.Phase = dsv1.PhaseBlocked }, "ended Blocked"},
		{"no roster status", func(f *rosterFacts) { f.Run.Status.Roster = nil }, "no status.roster"},
		{"a failed roster change", func(f *rosterFacts) { f.Run.Status.Roster.Failed = 2 }, "2 roster changes failed"},
		{"a difference in Jamf School", func(f *rosterFacts) { f.Diffs = []string{"class \"LHS Art\": missing"} }, "1 differences between Jamf School and the roster"},
		{"an ASM class not reported", func(f *rosterFacts) { f.Run.Status.Roster.ByReason = nil }, "reported 0 ManagedByASM"},
		{"a new student's iPad without owner", func(f *rosterFacts) { f.OwnerDiffs = []string{"iPad X"} }, "iPads without their owner"},
		{"no second run", func(f *rosterFacts) { f.SecondRun = nil }, "no second run"},
		{"a second run that plans roster changes", func(f *rosterFacts) { f.SecondRun.Status.Roster.Changed = 3 }, "planned 3 roster changes"},
		{"a second run that removes", func(f *rosterFacts) { f.SecondRun.Status.Roster.Removed = 1 }, "and 1 removals"},
		{"a second run that writes", func(f *rosterFacts) { f.SecondRunRosterWrite = 4 }, "wrote 4 times"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := good()
			tc.mutate(&f)
			o := jamfSchoolOutcome(f)
			switch {
			case tc.want == "" && !o.OK:
				t.Errorf("not OK: %s", o.Reason)
			case tc.want != "" && (o.OK || !strings.Contains(o.Reason, tc.want)):
				t.Errorf("outcome %+v, want not OK with %q", o, tc.want)
			}
		})
	}
}

func TestPickAbsentStudentsTakesOnlyStudentsWhoseEveryIPadWillBeTheirs(t *testing.T) {
	d := district.Generate(district.Options{Seed: 7, Schools: 3, Devices: 300})
	r := district.GenerateRoster(d)
	picked := pickAbsentStudents(d, r, 3)
	if len(picked) != 3 {
		t.Fatalf("picked %d students, want 3", len(picked))
	}
	for _, a := range picked {
		p := d.Patrons[0]
		for _, x := range d.Patrons {
			if x.Username == a.Username {
				p = x
			}
		}
		if p.Type != district.PatronStudent || p.Status != district.StatusActive || p.Email == "" {
			t.Errorf("%s: type %s, status %s, email %q: want an active student with an email", a.Username, p.Type, p.Status, p.Email)
		}
		if len(a.UDIDs) == 0 {
			t.Errorf("%s holds no iPad", a.Username)
		}
		for _, dev := range d.Devices {
			mine := dev.Username == a.Username || d.ExpectedJamfPro(&dev).Username == a.Username
			if mine && (!ownerCases[dev.Case] || d.ExpectedJamfPro(&dev).Username != a.Username) {
				t.Errorf("%s: iPad %s (case %s) would not end with them as owner", a.Username, dev.Serial, dev.Case)
			}
		}
		for _, s := range r.Sections {
			if s.Case != "" && (slices.Contains(s.Students, p.DistrictID) || slices.Contains(s.Teachers, p.DistrictID)) {
				t.Errorf("%s sits in class %s of the awkward case %s", a.Username, s.SourcedID, s.Case)
			}
		}
	}
}

func TestClassSizedKeepsWindowsOfStudentsAndTheAwkwardClassesWhole(t *testing.T) {
	students := []string{"a", "b", "c", "d", "e"}
	r := &district.Roster{Sections: []district.Section{
		{SourcedID: "1", SchoolShortName: "LHS", Teachers: []string{"T1"}, Students: students},
		{SourcedID: "2", SchoolShortName: "LHS", Teachers: []string{"T2"}, Students: students},
		{SourcedID: "3", SchoolShortName: "LHS", Teachers: []string{"T3"}, Students: students},
		{SourcedID: "4", SchoolShortName: "WMS", Students: []string{"x", "y"}},
		{SourcedID: "asm", SchoolShortName: "LHS", Students: students, Case: district.RosterCaseASMManagedClass},
	}}
	got := classSized(r, 2)
	want := map[string]string{"1": "a,b", "2": "c,d", "3": "e,a", "4": "x,y", "asm": "a,b,c,d,e"}
	for _, s := range got.Sections {
		if g := strings.Join(s.Students, ","); g != want[s.SourcedID] {
			t.Errorf("section %s students %s, want %s", s.SourcedID, g, want[s.SourcedID])
		}
		if s.SourcedID == "1" && !reflect.DeepEqual(s.Teachers, []string{"T1"}) {
			t.Errorf("section 1 teachers %v, want kept", s.Teachers)
		}
	}
	if len(r.Sections[0].Students) != 5 {
		t.Error("classSized changed the roster it was given")
	}
}
