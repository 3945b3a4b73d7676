package controllers

import (
	"slices"
	"strings"
	"testing"

	dsv1 "github.com/k12dev/devicesync-operator/api/v1alpha1"
	"github.com/k12dev/devicesync-operator/internal/sync/plan"
)

// spec.roster reaches the planner as plan.RosterPolicy: defaults filled, the school map keyed by the
// roster's school ids, removeStale translated, and nothing at all for a target that cannot sync a roster.
func TestCompileRosterSync(t *testing.T) {
	base := func(school bool, roster *dsv1.RosterSync) *dsv1.DeviceSyncPolicySpec {
		s := &dsv1.DeviceSyncPolicySpec{
			Source: dsv1.Source{Destiny: dsv1.DestinySource{ResourceTypes: []string{"iPad"}, TeacherPatronTypes: []string{"Faculty"},
				Roster: &dsv1.RosterSource{Format: dsv1.RosterOneRoster, Path: "/roster"}}},
			Schools: []dsv1.SchoolMapping{{Site: "LHS", Location: "Lincoln", Building: "Lincoln"}, {Site: "WES", Location: "Washington", Building: "Washington", RosterSchool: "org-7"}},
			Naming:  dsv1.Naming{Student: "{{.LastName}} - {{.Serial}}", Standard: "STU-{{.Serial}}"},
			Roster:  roster,
		}
		if school {
			s.Target.JamfSchool = &dsv1.JamfSchoolTarget{URL: "https://d.jamfcloud.com/api", NewUserPassword: "pw-{{.DistrictID}}"}
		} else {
			s.Target.JamfPro = &dsv1.JamfProTarget{URL: "https://d.jamfcloud.com"}
		}
		return s
	}
	full := &dsv1.RosterSync{
		Users:   &dsv1.RosterUsers{StudentsGroup: "Students {{.Grade}}", TeachersGroup: "Teachers", RemoveStale: &dsv1.RemoveStaleUsers{Action: dsv1.StaleMoveToGroup, Group: " Former "}},
		Classes: &dsv1.RosterClasses{Name: "{{.SchoolCode}} {{.Title}} {{.Period}}", RemoveStale: true},
	}
	tests := []struct {
		name    string
		spec    *dsv1.DeviceSyncPolicySpec
		wantErr string
		check   func(t *testing.T, rp *plan.RosterPolicy)
	}{
		{"no spec.roster: no roster sync", base(true, nil), "", func(t *testing.T, rp *plan.RosterPolicy) {
			if rp != nil {
				t.Errorf("roster policy %+v, want none", rp)
			}
		}},
		{"a Jamf Pro target cannot sync a roster: none reaches the planner", base(false, full), "", func(t *testing.T, rp *plan.RosterPolicy) {
			if rp != nil {
				t.Errorf("roster policy %+v, want none for Jamf Pro", rp)
			}
		}},
		{"schools are keyed by rosterSchool, else the site short name", base(true, full), "", func(t *testing.T, rp *plan.RosterPolicy) {
			if rp.Schools["LHS"] != "LHS" || rp.Schools["org-7"] != "WES" || len(rp.Schools) != 2 {
				t.Errorf("schools %v", rp.Schools)
			}
		}},
		{"teachers default to the teacher role and the source's teacher patron types", base(true, full), "", func(t *testing.T, rp *plan.RosterPolicy) {
			if !slices.Equal(rp.Teachers.Roles, []string{"teacher"}) || !slices.Equal(rp.Teachers.PatronTypes, []string{"Faculty"}) {
				t.Errorf("teachers %+v", rp.Teachers)
			}
		}},
		{"users: group templates, the target's password rule, MoveToGroup with its group", base(true, full), "", func(t *testing.T, rp *plan.RosterPolicy) {
			u := rp.Users
			if u == nil || u.StudentsGroup == nil || u.TeachersGroup == nil || u.Password == nil {
				t.Fatalf("users %+v", u)
			}
			if u.RemoveStale != plan.StaleMoveToGroup || u.StaleGroup != "Former" {
				t.Errorf("removeStale %q group %q", u.RemoveStale, u.StaleGroup)
			}
		}},
		{"classes: the name template and removeStale", base(true, full), "", func(t *testing.T, rp *plan.RosterPolicy) {
			if rp.Classes == nil || rp.Classes.Name == nil || !rp.Classes.RemoveStale {
				t.Errorf("classes %+v", rp.Classes)
			}
		}},
		{"Delete trashes stale users", base(true, &dsv1.RosterSync{Users: &dsv1.RosterUsers{RemoveStale: &dsv1.RemoveStaleUsers{Action: dsv1.StaleDelete}}}), "",
			func(t *testing.T, rp *plan.RosterPolicy) {
				if rp.Users.RemoveStale != plan.StaleDelete || rp.Classes != nil {
					t.Errorf("users %+v classes %+v", rp.Users, rp.Classes)
				}
			}},
		{"a class name with a device field is an error naming the field", base(true, &dsv1.RosterSync{Classes: &dsv1.RosterClasses{Name: "{{.Serial}}"}}),
			"spec.roster.classes.name", nil},
		{"a group name that does not parse is an error naming the field", base(true, &dsv1.RosterSync{Users: &dsv1.RosterUsers{StudentsGroup: "{{.Grade"}}),
			"spec.roster.users.studentsGroup", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := compileSpec(tt.spec)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c.Policy.RosterSync)
		})
	}
}
