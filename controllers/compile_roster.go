package controllers

import (
	"cmp"
	"fmt"
	"strings"

	dsv1 "github.com/k12dev/devicesync-operator/api/v1alpha1"
	"github.com/k12dev/devicesync-operator/internal/sync/naming"
	"github.com/k12dev/devicesync-operator/internal/sync/plan"
)

// compileRoster turns spec.roster into the planner's RosterPolicy (nil when the policy has none, or
// its target cannot sync a roster: the Ready condition then says so, and runs sync devices only).
// tmpl compiles a rule allowed the given fields, collecting its error under the path.
func compileRoster(spec *dsv1.DeviceSyncPolicySpec, caps plan.Capabilities, tmpl func(path, text string, fields ...string) *naming.Template) *plan.RosterPolicy {
	rs := spec.Roster
	if rs == nil || !caps.Roster {
		return nil
	}
	rp := &plan.RosterPolicy{
		Teachers: plan.TeacherRule{
			Roles:       orDefault(rs.Teachers.Roles, "teacher"),
			PatronTypes: orDefault(rs.Teachers.PatronTypes, orDefault(spec.Source.Destiny.TeacherPatronTypes, "Teacher", "Staff")...),
			Groups:      rs.Teachers.Groups,
		},
		Schools: map[string]string{},
	}
	for _, s := range spec.Schools {
		rp.Schools[cmp.Or(strings.TrimSpace(s.RosterSchool), s.Site)] = s.Site
	}
	if u := rs.Users; u != nil {
		rp.Users = &plan.UserSync{
			StudentsGroup: tmpl("roster.users.studentsGroup", u.StudentsGroup, naming.PersonFields...),
			TeachersGroup: tmpl("roster.users.teachersGroup", u.TeachersGroup, naming.PersonFields...),
		}
		if js := spec.Target.JamfSchool; js != nil {
			rp.Users.Password = tmpl("target.jamfSchool.newUserPassword", js.NewUserPassword)
		}
		if st := u.RemoveStale; st != nil {
			switch st.Action {
			case dsv1.StaleMoveToGroup:
				rp.Users.RemoveStale, rp.Users.StaleGroup = plan.StaleMoveToGroup, strings.TrimSpace(st.Group)
			case dsv1.StaleDelete:
				rp.Users.RemoveStale = plan.StaleDelete
			}
		}
	}
	if c := rs.Classes; c != nil {
		rp.Classes = &plan.ClassSync{
			Name:        tmpl("roster.classes.name", cmp.Or(c.Name, "{{.Title}}"), naming.ClassFields...),
			RemoveStale: c.RemoveStale,
		}
		if rp.Classes.Name == nil {
			rp.Classes = nil // the error is collected
		}
	}
	return rp
}

// rosterUnsupported warns (a passing check with a message) when a policy asks for a roster sync its
// target cannot do: runs then sync devices only.
func rosterUnsupported(spec *dsv1.DeviceSyncPolicySpec, kind *TargetKind) []Check {
	if spec.Roster == nil || kind.Capabilities.Roster {
		return nil
	}
	what := "spec.roster"
	if spec.Roster.Classes != nil {
		what = "spec.roster.classes"
	}
	return []Check{{Name: "Roster", OK: true, Reason: ReasonUnsupportedByTarget,
		Message: fmt.Sprintf("warning: %s is not supported for %s (its API reference has no user, group and class sync this manager can rely on): runs sync devices only", what, kind.Name)}}
}
