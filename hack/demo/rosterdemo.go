package main

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	dsv1 "github.com/k12dev/devicesync-operator/api/v1alpha1"
	"github.com/k12dev/devicesync-operator/internal/sim/district"
	jamfschoolsim "github.com/k12dev/devicesync-operator/internal/sim/jamfschool"
)

// The Jamf School demo's roster part: seeding, what it prints, and the facts its verdict reads.

// shownClasses is how many classes showRoster prints (two lines each), and shownMembers how many
// members of each.
const (
	shownClasses = 8
	shownMembers = 6
)

// absentStudent is a student whose Jamf School user the demo removed before the run.
type absentStudent struct {
	Username string
	// UDIDs are the student's iPads: each must have the student's new user as its owner after the run.
	UDIDs []string
}

// ownerCases are the device cases whose expected owner is the Destiny borrower and that nothing else
// stops the run from writing.
var ownerCases = map[string]bool{district.CaseNormal: true, district.CaseStaleName: true, district.CaseNoUser: true, district.CaseWrongBuilding: true}

// seedJamfSchoolRoster generates the roster, seeds the Jamf School simulator with its ASM-managed
// classes only (named as the policy's template would name them, with the stand-in ASM source), removes
// the users of a few students who hold an iPad, and works out the expectation.
func (d *demo) seedJamfSchoolRoster() {
	d.roster = classSized(district.GenerateRoster(d.district), classSize)
	for _, s := range d.roster.Sections {
		if s.ASMSource == "" {
			continue
		}
		asm := s
		asm.Title = className(s.SchoolShortName, s.Title, s.SourcedID) // the generator's classCode is the sourcedId
		for _, uuid := range d.school.LoadRoster(d.district, &district.Roster{Teachers: d.roster.Teachers, Sections: []district.Section{asm}}) {
			d.asmUUIDs = append(d.asmUUIDs, uuid)
		}
	}
	d.absent = pickAbsentStudents(d.district, d.roster, absentStudents)
	for _, a := range d.absent {
		if u, ok := d.school.UserByUsername(a.Username); ok {
			d.school.RemoveUser(u.ID)
		}
	}
	before := d.rosterSnapshot()
	var asm []mdmClass
	for _, c := range before.Classes {
		if slices.Contains(d.asmUUIDs, c.UUID) {
			asm = append(asm, c)
		}
	}
	d.rosterExp = expectRoster(d.district, d.roster, before.Users, asm)
}

// classSize is the most students the demo keeps in one ordinary class.
const classSize = 25

// classSized keeps at most n students in each ordinary section of r (the awkward cases' sections are
// kept whole). The generator seats every student of a school in every class of it: a roster of
// 3,000 students then has some 60,000 enrollments, over a ConfigMap's 1 MiB. The classes of a school
// take consecutive windows of its students, in the generator's order, so they spread over the school.
func classSized(r *district.Roster, n int) *district.Roster {
	out := &district.Roster{Teachers: r.Teachers}
	next := map[string]int{} // school -> the index of its next class
	for _, s := range r.Sections {
		if s.Case == "" && len(s.Students) > n {
			k := next[s.SchoolShortName]
			next[s.SchoolShortName]++
			start := (k * n) % len(s.Students)
			var kept []string
			for i := 0; i < n; i++ {
				kept = append(kept, s.Students[(start+i)%len(s.Students)])
			}
			s.Students = kept
		}
		out.Sections = append(out.Sections, s)
	}
	return out
}

// pickAbsentStudents picks up to n active students with an email and a username no one else in the
// roster has, in no class of an awkward case, whose every iPad (checked out to them, or showing them in
// Jamf) is in a case that ends with them as its owner.
func pickAbsentStudents(d *district.District, r *district.Roster, n int) []absentStudent {
	awkward := map[string]bool{}
	for _, s := range r.Sections {
		if s.Case != "" {
			for _, id := range append(append([]string{}, s.Students...), s.Teachers...) {
				awkward[id] = true
			}
		}
	}
	usernames := map[string]int{}
	for _, p := range rosterPeople(d, r) {
		usernames[lower(p.Username)]++
	}
	devices := map[string][]district.Device{} // by lower-case username: devices that show or should show it
	for _, dev := range d.Devices {
		want := lower(d.ExpectedJamfPro(&dev).Username)
		devices[want] = append(devices[want], dev)
		if have := lower(dev.Username); have != "" && have != want {
			devices[have] = append(devices[have], dev)
		}
	}
	var out []absentStudent
	for _, p := range d.Patrons {
		u := lower(p.Username)
		if len(out) == n {
			break
		}
		if p.Type != district.PatronStudent || p.Status != district.StatusActive || p.Email == "" || u == "" || usernames[u] != 1 || awkward[p.DistrictID] {
			continue
		}
		devs := devices[u]
		ok := len(devs) > 0
		var udids []string
		for _, dev := range devs {
			if !ownerCases[dev.Case] || lower(d.ExpectedJamfPro(&dev).Username) != u {
				ok = false
				break
			}
			udids = append(udids, dev.UDID)
		}
		if ok {
			out = append(out, absentStudent{Username: p.Username, UDIDs: udids})
		}
	}
	return out
}

// rosterSnapshot reads the simulator's users, groups and classes by name.
func (d *demo) rosterSnapshot() rosterSnapshot {
	locs := map[int]string{}
	for _, l := range d.school.Locations() {
		locs[l.ID] = l.Name
	}
	groups := map[int]string{}
	for _, g := range d.school.Groups() {
		groups[g.ID] = g.Name + "@" + locs[g.LocationID]
	}
	snap := rosterSnapshot{Users: map[string]mdmUser{}}
	names := map[int]string{}
	for _, u := range d.school.Users() {
		names[u.ID] = lower(u.Username)
		if u.Status == "Trash" {
			continue
		}
		mu := mdmUser{Username: u.Username, Email: u.Email, Location: locs[u.LocationID]}
		for _, id := range u.GroupIDs {
			mu.Groups = append(mu.Groups, groups[id])
		}
		snap.Users[lower(u.Username)] = mu
	}
	usernames := func(ids []int) []string {
		out := []string{}
		for _, id := range ids {
			out = append(out, names[id])
		}
		sort.Strings(out)
		return out
	}
	for _, c := range d.school.AllClasses() {
		snap.Classes = append(snap.Classes, mdmClass{UUID: c.UUID, Name: c.Name, Location: locs[c.LocationID], Source: c.Source,
			ASM: c.Source == jamfschoolsim.SourceASM, Teachers: usernames(c.Teachers), Students: usernames(c.Students), Writes: d.school.WritesTo(c.UUID)})
	}
	return snap
}

// rosterSpec is the demo's spec.roster: students and teachers groups per school, teachers by the
// OneRoster role, one class per roster class named "<school> <title> (<class code>)". Nothing is removed.
func rosterSpec() *dsv1.RosterSync {
	return &dsv1.RosterSync{
		Users:    &dsv1.RosterUsers{StudentsGroup: demoStudentsGroup, TeachersGroup: demoTeachersGroup},
		Teachers: dsv1.RosterTeachers{Roles: []string{demoTeacherRole}},
		Classes:  &dsv1.RosterClasses{Name: demoClassName},
	}
}

// printRosterSeed says what the demo did to Jamf School before the run.
func (d *demo) printRosterSeed() {
	cases := map[string]int{}
	for _, s := range d.roster.Sections {
		if s.Case != "" {
			cases[s.Case]++
		}
	}
	d.printf("roster: %d people, %d classes of at most %d students (OneRoster 1.1); awkward cases: %s", len(rosterPeople(d.district, d.roster)), len(d.roster.Sections), classSize, countsLine(cases, ""))
	var absent []string
	for _, a := range d.absent {
		absent = append(absent, a.Username)
	}
	d.printf("Jamf School holds only the ASM-managed class (source %s) and lacks the users of %s (they hold iPads)",
		jamfschoolsim.SourceASM, strings.Join(absent, ", "))
}

// showRoster prints the run's status.roster and a few classes as Jamf School now has them.
func (d *demo) showRoster(run *dsv1.SyncRun) {
	st := run.Status.Roster
	if st == nil {
		d.printf("SyncRun %s has no status.roster", run.Name)
		return
	}
	d.printf("status.roster: %d people and %d classes in the roster, %d users and %d classes in Jamf School", st.People, st.Classes, st.Users, st.MDMClasses)
	d.printf("  in sync %d, changed %d, removed %d, failed %d, skipped %d", st.InSync, st.Changed, st.Removed, st.Failed, st.Skipped)
	d.printf("  by action: %s", countsLine(toInt(st.ByAction), ""))
	d.printf("  by reason: %s", countsLine(toInt(st.ByReason), ""))
}

// showClasses prints up to shownClasses classes, the ASM ones and those of awkward cases first.
func (d *demo) showClasses(snap rosterSnapshot) {
	cases := map[string]string{}
	for _, c := range d.rosterExp.Classes {
		cases[c.Location+"\x00"+lower(c.Name)] = c.Case
	}
	classes := append([]mdmClass(nil), snap.Classes...)
	rank := func(c mdmClass) int {
		switch {
		case c.ASM:
			return 0
		case cases[c.Location+"\x00"+lower(c.Name)] != "":
			return 1
		}
		return 2
	}
	sort.SliceStable(classes, func(i, j int) bool { return rank(classes[i]) < rank(classes[j]) })
	d.printf("Jamf School now has %d classes; %d of them:", len(classes), min(len(classes), shownClasses))
	for i, c := range classes {
		if i == shownClasses {
			d.printf("... and %d more (kubectl cannot show them: they live in Jamf School)", len(classes)-i)
			break
		}
		note := ""
		switch {
		case c.ASM:
			note = fmt.Sprintf("  [synced from Apple School Manager: %d writes]", c.Writes)
		case cases[c.Location+"\x00"+lower(c.Name)] != "":
			note = "  [" + cases[c.Location+"\x00"+lower(c.Name)] + "]"
		}
		d.printf("%-28s %s%s", c.Name, c.Location, note)
		d.printf("    teachers %s; %d students: %s", orNone(firstN(c.Teachers, shownMembers)), len(c.Students), orNone(firstN(c.Students, shownMembers)))
	}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// ownerDiffs lists the absent students' iPads that did not get the student's new user as owner, and
// counts the students all of whose iPads did.
func (d *demo) ownerDiffs() (diffs []string, owned int) {
	for _, a := range d.absent {
		u, ok := d.school.UserByUsername(a.Username)
		if !ok {
			diffs = append(diffs, fmt.Sprintf("student %s: no Jamf School user after the run", a.Username))
			continue
		}
		all := true
		for _, udid := range a.UDIDs {
			dev, _ := d.school.Device(udid)
			if dev.OwnerID != u.ID {
				diffs = append(diffs, fmt.Sprintf("iPad %s of new user %s: owner %d, want %d", dev.Serial, a.Username, dev.OwnerID, u.ID))
				all = false
			}
		}
		if all {
			owned++
		}
	}
	return diffs, owned
}

// rosterWrites counts the simulator's writes to users, groups and classes.
func (d *demo) rosterWrites() int {
	n := 0
	for _, w := range d.school.Writes() {
		if strings.Contains(w.Pattern, "/api/users") || strings.Contains(w.Pattern, "/api/classes") {
			n++
		}
	}
	return n
}

// secondRun triggers another run and waits for it: it must plan no roster change.
func (d *demo) secondRun(ctx context.Context) error {
	first := d.syncRun
	d.rosterWritesBefore = d.rosterWrites()
	if err := d.triggerRun(ctx); err != nil {
		return err
	}
	if err := d.waitForRun(ctx); err != nil {
		return err
	}
	d.second, d.syncRun = d.syncRun, first
	d.rosterWritesSecond = d.rosterWrites() - d.rosterWritesBefore
	d.showRoster(d.second)
	d.printf("writes to Jamf School users, groups and classes during this run: %d", d.rosterWritesSecond)
	return nil
}

// rosterFacts is what the Jamf School verdict reads.
type rosterFacts struct {
	Run, SecondRun       *dsv1.SyncRun
	Diffs, OwnerDiffs    []string
	ASMClasses           int
	SecondRunRosterWrite int
}

// jamfSchoolOutcome says whether the Jamf School demo ended as expected: the first run Succeeded with
// its roster part and no roster change failed, Jamf School's users and classes are as expected
// (compareRoster), every ASM class was reported ManagedByASM, the new students' iPads have them as
// owners, and a second run Succeeded planning and writing no roster change.
func jamfSchoolOutcome(f rosterFacts) Outcome {
	r := f.Run
	st := r.Status.Roster
	fail := func(format string, args ...any) Outcome { return Outcome{Reason: fmt.Sprintf(format, args...)} }
	switch {
	case r.Status.Phase != dsv1.PhaseSucceeded:
		return fail("SyncRun %s ended %s, not Succeeded", r.Name, r.Status.Phase)
	case st == nil:
		return fail("SyncRun %s has no status.roster: the roster was not synced", r.Name)
	case st.Failed > 0:
		return fail("SyncRun %s: %d roster changes failed", r.Name, st.Failed)
	case len(f.Diffs) > 0:
		return fail("%d differences between Jamf School and the roster, the first: %s", len(f.Diffs), f.Diffs[0])
	case int(st.ByReason["ManagedByASM"]) < f.ASMClasses:
		return fail("SyncRun %s reported %d ManagedByASM, want the %d ASM-managed classes", r.Name, st.ByReason["ManagedByASM"], f.ASMClasses)
	case len(f.OwnerDiffs) > 0:
		return fail("%d new students' iPads without their owner, the first: %s", len(f.OwnerDiffs), f.OwnerDiffs[0])
	case f.SecondRun == nil:
		return fail("no second run")
	case f.SecondRun.Status.Phase != dsv1.PhaseSucceeded:
		return fail("the second SyncRun %s ended %s, not Succeeded", f.SecondRun.Name, f.SecondRun.Status.Phase)
	case f.SecondRun.Status.Roster == nil:
		return fail("the second SyncRun %s has no status.roster", f.SecondRun.Name)
	case f.SecondRun.Status.Roster.Changed+f.SecondRun.Status.Roster.Removed > 0:
		s := f.SecondRun.Status.Roster
		return fail("the second SyncRun %s planned %d roster changes and %d removals, want none (by action: %s)",
			f.SecondRun.Name, s.Changed, s.Removed, countsLine(toInt(s.ByAction), ""))
	case f.SecondRunRosterWrite > 0:
		return fail("the second SyncRun %s wrote %d times to Jamf School users, groups or classes, want none", f.SecondRun.Name, f.SecondRunRosterWrite)
	}
	return Outcome{OK: true, Reason: fmt.Sprintf("SyncRun %s Succeeded: Jamf School has the roster's users and classes (ASM-managed classes untouched: %d), and %s changed nothing",
		r.Name, f.ASMClasses, f.SecondRun.Name)}
}

// countValues counts a map's values.
func countValues(m map[string]string) map[string]int {
	out := map[string]int{}
	for _, v := range m {
		out[v]++
	}
	return out
}

// approveRosterOnboarding approves a first run Blocked by its roster plan. A policy's first roster sync
// changes nearly every user (each joins its students or teachers group) and creates every class: more
// than safety.maxChanges, so the run is Blocked with nothing written. A person reads the plan and
// approves exactly it by its digest (README, "Dry run, and approving a blocked run"); the demo does so
// with the real kubectl, then waits for the run to re-read both systems and apply. A run blocked for
// any other reason is left Blocked, and the verdict fails it.
func (d *demo) approveRosterOnboarding(ctx context.Context) error {
	r := d.syncRun
	b := r.Status.Blocked
	if r.Status.Phase != dsv1.PhaseBlocked || b == nil || b.Reason != "ChangeBudgetExceeded" || !strings.Contains(b.Message, "roster plan") {
		return nil
	}
	d.printf("Blocked (%s): %s", b.Reason, b.Message)
	d.printf("a first roster sync puts every user in a group and creates every class; the demo approves this plan, as a person would:")
	if err := d.kubectl(ctx, "annotate", "syncrun", r.Name, "-n", Namespace, dsv1.ApproveAnnotation+"="+b.PlanDigest, "--overwrite"); err != nil {
		return err
	}
	deadline := time.Now().Add(d.cfg.ReadyTimeout)
	for {
		if err := d.managerFailed(); err != nil {
			return err
		}
		var now dsv1.SyncRun
		if err := d.k8s.Get(ctx, client.ObjectKeyFromObject(r), &now); err != nil {
			return err
		}
		if now.Status.Phase != dsv1.PhaseBlocked || now.Status.Blocked == nil || now.Status.Blocked.PlanDigest != b.PlanDigest {
			d.syncRun = &now
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("SyncRun %s still Blocked on plan %s %s after its approval", r.Name, b.PlanDigest, d.cfg.ReadyTimeout)
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
	return d.waitForRun(ctx)
}
