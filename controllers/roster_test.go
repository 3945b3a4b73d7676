package controllers_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	dsv1 "github.com/k12dev/devicesync-operator/api/v1alpha1"
	"github.com/k12dev/devicesync-operator/controllers"
	"github.com/k12dev/devicesync-operator/internal/sim/district"
	jamfschoolsim "github.com/k12dev/devicesync-operator/internal/sim/jamfschool"
	"github.com/k12dev/devicesync-operator/internal/sync/plan"
)

// oneRosterConfigMap is the district's OneRoster bundle (users, classes with the generator's awkward
// cases, enrollments) as the ConfigMap "oneroster"; e.roster keeps the generated roster.
func oneRosterConfigMap(e *runEnv) *corev1.ConfigMap {
	e.roster = district.GenerateRoster(e.d)
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "oneroster", Namespace: e.ns}, Data: map[string]string{}}
	for name, b := range e.roster.OneRoster(e.d) {
		cm.Data[name] = string(b)
	}
	return cm
}

func oneRosterSource() *dsv1.RosterSource {
	return &dsv1.RosterSource{Format: dsv1.RosterOneRoster, ConfigMapRef: &dsv1.LocalObjectReference{Name: "oneroster"}}
}

// rosterPolicy is the Jamf School policy syncing users and classes from the OneRoster bundle.
func (e *runEnv) rosterPolicy(name string) *dsv1.DeviceSyncPolicy {
	p := e.policy(name, true)
	p.Spec.Source.Destiny.Roster = oneRosterSource()
	p.Spec.Roster = &dsv1.RosterSync{
		Users:    &dsv1.RosterUsers{StudentsGroup: "Students", TeachersGroup: "Teachers"},
		Teachers: dsv1.RosterTeachers{Roles: []string{"teacher"}},
		Classes:  &dsv1.RosterClasses{Name: "{{.SchoolCode}} {{.Title}} ({{.ClassCode}})"},
	}
	return p
}

// className is the name rosterPolicy gives a generated section (its classCode is its sourcedId).
func className(s district.Section) string {
	return s.SchoolShortName + " " + s.Title + " (" + s.SourcedID + ")"
}

// TestARosterSyncCreatesUsersAndClassesWithTheirMembersAndASecondRunChangesNothing is issue 15 end to
// end: a Jamf School policy with spec.roster, run by the manager against the simulator.
func TestARosterSyncCreatesUsersAndClassesWithTheirMembersAndASecondRunChangesNothing(t *testing.T) {
	e := newRunEnv(t, 300)
	ctx := context.Background()
	// Jamf School already has the class Apple School Manager syncs: it must be reported, never written.
	// It has the name the policy's template gives its roster class: Jamf School shows no other tie
	// between an ASM class and a roster class.
	var asm district.Section
	for _, s := range e.roster.Sections {
		if s.ASMSource != "" {
			asm = s
		}
	}
	asmUUID := e.school.AddClass(jamfschoolsim.ClassState{Name: className(asm), LocationID: e.d.School(asm.SchoolShortName).JamfSchoolLocationID,
		Source: jamfschoolsim.SourceASM})
	username := map[string]string{}
	count := map[string]int{}
	for _, pt := range append(append([]district.Patron{}, e.d.Patrons...), e.roster.Teachers...) {
		username[pt.DistrictID] = pt.Username
		count[strings.ToLower(pt.Username)]++
	}
	// A student whose Jamf School user is gone, and whose iPad Jamf already shows with its student: the
	// run creates the user, then gives the iPad its owner.
	absent, udid := "", ""
	for _, dev := range e.d.Devices {
		u := strings.ToLower(dev.Username)
		if u == "" || count[u] != 1 || strings.ToLower(e.d.ExpectedJamfPro(&dev).Username) != u {
			continue
		}
		if i := slices.IndexFunc(e.d.Patrons, func(p district.Patron) bool {
			return strings.EqualFold(p.Username, u) && p.Type == district.PatronStudent && p.Status == district.StatusActive && p.Email != ""
		}); i >= 0 {
			absent, udid = u, dev.UDID
			break
		}
	}
	gone, ok := e.school.UserByUsername(absent)
	if !ok {
		t.Fatalf("no student with an iPad to remove the user of (%q)", absent)
	}
	e.school.RemoveUser(gone.ID)

	e.startRunManager(t)
	p := e.rosterPolicy("roster")
	if err := k8s.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	run := waitRun(t, e.createRun(t, "roster-1", p.Name), "the first run succeeded", func(r *dsv1.SyncRun) bool { return isTrue(r, dsv1.ConditionComplete) })
	st := run.Status.Roster
	if st == nil {
		t.Fatalf("the run has no status.roster: %+v", run.Status)
	}
	t.Logf("roster status: people %d classes %d changed %d byAction %v byReason %v", st.People, st.Classes, st.Changed, st.ByAction, st.ByReason)
	wantClasses := len(e.roster.Sections) - 1 // all but the ASM one
	if got := int(st.ByAction[plan.ActionClassCreated]); got != wantClasses {
		t.Errorf("ClassCreated %d, want %d (every roster class but the ASM one)", got, wantClasses)
	}
	for _, reason := range []string{plan.ReasonManagedByASM, plan.ReasonDuplicateUser, plan.ReasonNoEmail, plan.ReasonNoTeacher} {
		if st.ByReason[reason] == 0 {
			t.Errorf("status.roster.byReason has no %s: %v", reason, st.ByReason)
		}
	}
	if st.ByAction[plan.ActionGroupCreated] == 0 {
		t.Errorf("no group was created: %v", st.ByAction)
	}
	if n := e.school.WritesTo(asmUUID); n != 0 {
		t.Errorf("the ASM class got %d writes; it must never be touched", n)
	}

	created, ok := e.school.UserByUsername(absent)
	dev, _ := e.school.Device(udid)
	if !ok || st.ByAction[plan.ActionUserCreated] == 0 || dev.OwnerID != created.ID {
		t.Errorf("the removed student %q: user recreated %v (UserCreated %d), iPad owner %d, want the new user", absent, ok, st.ByAction[plan.ActionUserCreated], dev.OwnerID)
	}

	// Every class has exactly its roster members who have a Jamf School user; a username two people
	// share is nobody's.
	members := func(ids []string) []string {
		var out []string
		for _, id := range ids {
			u := username[id]
			if u == "" || count[strings.ToLower(u)] > 1 {
				continue
			}
			if _, ok := e.school.UserByUsername(u); ok {
				out = append(out, strings.ToLower(u))
			}
		}
		slices.Sort(out)
		return out
	}
	classes := e.school.AllClasses()
	for _, s := range e.roster.Sections {
		if s.ASMSource != "" {
			continue
		}
		name := className(s)
		i := slices.IndexFunc(classes, func(c jamfschoolsim.ClassState) bool { return c.Name == name })
		if i < 0 {
			t.Errorf("no Jamf School class %q for roster class %s", name, s.SourcedID)
			continue
		}
		c := classes[i]
		if got, want := e.usernames(c.Teachers), members(s.Teachers); !slices.Equal(got, want) {
			t.Errorf("class %q teachers %v, want %v", name, got, want)
		}
		if got, want := e.usernames(c.Students), members(s.Students); !slices.Equal(got, want) {
			t.Errorf("class %q students %v, want %v", name, got, want)
		}
	}

	again := waitRun(t, e.createRun(t, "roster-2", p.Name), "the second run succeeded", func(r *dsv1.SyncRun) bool { return isTrue(r, dsv1.ConditionComplete) })
	if r := again.Status.Roster; r == nil || r.Changed != 0 || r.Removed != 0 || len(r.Changes) != 0 {
		t.Errorf("the second run changes the roster again: %+v", r)
	}
}

// usernames are the lower-case usernames of Jamf School user ids, sorted.
func (e *runEnv) usernames(ids []int) []string {
	var out []string
	for _, id := range ids {
		u, ok := e.school.User(id)
		if !ok {
			out = append(out, fmt.Sprintf("#%d", id))
			continue
		}
		out = append(out, strings.ToLower(u.Username))
	}
	slices.Sort(out)
	return out
}

// A dry run plans the roster like an Enforce run and writes none of it: status.roster lists the
// planned changes, Jamf School gets no class.
func TestADryRunPlansTheRosterAndWritesNothing(t *testing.T) {
	e := newRunEnv(t, 200)
	e.startRunManager(t)
	p := e.rosterPolicy("roster-dry")
	p.Spec.Mode = dsv1.ModeDryRun
	if err := k8s.Create(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	run := waitRun(t, e.createRun(t, "roster-dry-1", p.Name), "the dry run completed", func(r *dsv1.SyncRun) bool { return isTrue(r, dsv1.ConditionComplete) })
	st := run.Status.Roster
	if st == nil || st.ByAction[plan.ActionClassCreated] == 0 || len(st.Changes) == 0 {
		t.Fatalf("status.roster %+v: want planned class creations", st)
	}
	for _, c := range st.Changes {
		if c.Result != controllers.ResultPlanned {
			t.Errorf("roster change %s %s: result %s, want Planned", c.Kind, c.Name, c.Result)
		}
	}
	if n := len(e.school.AllClasses()); n != 0 {
		t.Errorf("a dry run made %d classes in Jamf School", n)
	}
}
