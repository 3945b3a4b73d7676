package engine_test

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/k12dev/devicesync-operator/internal/roster"
	"github.com/k12dev/devicesync-operator/internal/serial"
	"github.com/k12dev/devicesync-operator/internal/sim/district"
	jamfschoolsim "github.com/k12dev/devicesync-operator/internal/sim/jamfschool"
	"github.com/k12dev/devicesync-operator/internal/sync/engine"
	"github.com/k12dev/devicesync-operator/internal/sync/naming"
	"github.com/k12dev/devicesync-operator/internal/sync/plan"
)

// Roster sync end to end: a generated district and its OneRoster bundle (GenerateRoster's sections with
// the awkward cases), Destiny's simulator, and the Jamf School simulator seeded with the district's users
// and its ASM-managed class.

// rosterScenario is one district ready for roster runs.
type rosterScenario struct {
	d   *district.District
	r   *district.Roster
	src *engine.DestinySource
	sim *jamfschoolsim.Server
	tgt *engine.JamfSchool
	pol plan.Policy
	// asm is the uuid of the ASM-managed class; newStudent the student whose Jamf School user was
	// removed, whose device a run assigns (createMissingUsers is off: only roster sync can make the user).
	asm        string
	newStudent *district.Patron
	newDevice  string
	// ctx is the runs' context (nil: Background).
	ctx context.Context
}

func newRosterScenario(t *testing.T) *rosterScenario {
	t.Helper()
	ctx := context.Background()
	s := &rosterScenario{d: newDistrict(t, 300)}
	s.r = district.GenerateRoster(s.d)
	files := fstest.MapFS{}
	for name, data := range s.r.OneRoster(s.d) {
		files[name] = &fstest.MapFile{Data: data}
	}
	ros, err := roster.ReadOneRoster(files, roster.Options{Today: genNow, People: true})
	if err != nil {
		t.Fatal(err)
	}
	_, s.src = destinySide(t, s.d)
	s.src.Roster = ros
	s.sim, s.tgt = rosterSide(t, s.d)
	var asm []district.Section
	for _, sec := range s.r.Sections {
		if sec.ASMSource != "" {
			asm = append(asm, sec)
		}
	}
	for _, uuid := range s.sim.LoadRoster(s.d, &district.Roster{Teachers: s.r.Teachers, Sections: asm}) {
		s.asm = uuid
	}

	s.pol = defaultPolicy(t, s.d)
	s.pol.Location = plan.LocationRules{}
	schools := map[string]string{}
	for _, sc := range s.d.Schools {
		schools[sc.ShortName] = sc.ShortName
	}
	s.pol.RosterSync = &plan.RosterPolicy{
		Users: &plan.UserSync{
			StudentsGroup: mustFields(t, "spec.roster.users.studentsGroup", "{{.SchoolName}} Students", naming.PersonFields),
			TeachersGroup: mustFields(t, "spec.roster.users.teachersGroup", "{{.SchoolName}} Teachers", naming.PersonFields),
			Password:      mustTemplate(t, "spec.roster.users.password", passwordRule),
		},
		Classes:  &plan.ClassSync{Name: mustFields(t, "spec.roster.classes.name", "{{.Title}}", naming.ClassFields)},
		Teachers: plan.TeacherRule{Roles: []string{"teacher"}},
		Schools:  schools,
	}

	// A student whose device the run assigns loses its Jamf School user.
	devicePol := s.pol
	devicePol.RosterSync = nil
	dry, err := engine.Execute(ctx, engine.Run{Policy: devicePol, Source: s.src, Target: s.tgt, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(dry.Plan.Changes, func(c plan.Change) bool { return c.Set.Username != nil && *c.Set.Username != "" })
	if i < 0 {
		t.Fatal("no change assigns a student")
	}
	c := dry.Plan.Changes[i]
	p := s.d.Patron(s.d.ItemBySerial(serial.Normalize(c.Serial)).Borrower)
	u, ok := s.sim.UserByUsername(p.Username)
	if !ok {
		t.Fatalf("no Jamf School user %s", p.Username)
	}
	s.sim.RemoveUser(u.ID)
	s.newStudent, s.newDevice = p, c.DeviceKey
	s.sim.ResetWrites()
	s.sim.ResetCounters()
	return s
}

func mustFields(t *testing.T, name, text string, fields []string) *naming.Template {
	t.Helper()
	tmpl, err := naming.CompileFields(name, text, fields...)
	if err != nil {
		t.Fatal(err)
	}
	return tmpl
}

func (s *rosterScenario) run(t *testing.T, mod func(r *engine.Run)) *engine.Report {
	t.Helper()
	r := engine.Run{Policy: s.pol, Source: s.src, Target: s.tgt, Retry: 1}
	if mod != nil {
		mod(&r)
	}
	ctx := s.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	rep, _ := engine.Execute(ctx, r)
	return rep
}

func firstRosterErr(rep *engine.Report) error {
	for _, r := range rep.RosterResults {
		if r.Err != nil {
			return r.Err
		}
	}
	return firstErr(rep)
}

func isRosterWrite(w jamfschoolsim.Write) bool {
	return w.Pattern != jamfschoolsim.PatternSetOwner && w.Pattern != jamfschoolsim.PatternMigrate
}

// The first run creates the groups, the missing users and the classes with their members, before the
// device changes, so the new student's iPad gets its owner in the same run; the second run plans nothing.
func TestRosterRunCreatesUsersGroupsAndClassesThenOwnersAndASecondRunPlansNothing(t *testing.T) {
	s := newRosterScenario(t)
	var progress []engine.Progress
	rep := s.run(t, func(r *engine.Run) { r.Progress = func(p engine.Progress) { progress = append(progress, p) } })
	if rep.Outcome != engine.Succeeded || rep.Plan.Roster == nil {
		t.Fatalf("first run: outcome %s (%v), roster plan %v; first failure %v", rep.Outcome, rep.Err, rep.Plan.Roster != nil, firstRosterErr(rep))
	}
	rp := rep.Plan.Roster
	loc := map[int]string{}
	for _, l := range s.sim.Locations() {
		loc[l.ID] = l.Name
	}
	classByName := map[string]jamfschoolsim.ClassState{}
	for _, c := range s.classes(t) {
		classByName[fmt.Sprintf("%s@%d", c.Name, c.LocationID)] = c
	}

	tests := []struct {
		name  string
		check func(t *testing.T)
	}{
		{"every roster change was applied", func(t *testing.T) {
			if rep.RosterApplied != len(rp.Changes) || rep.RosterFailed != 0 || len(rep.RosterResults) != len(rp.Changes) {
				t.Errorf("%d applied, %d failed, %d results of %d roster changes", rep.RosterApplied, rep.RosterFailed, len(rep.RosterResults), len(rp.Changes))
			}
			for _, a := range []string{plan.ActionGroupCreated, plan.ActionUserCreated, plan.ActionUserUpdated, plan.ActionClassCreated} {
				if rp.Counts.ByAction[a] == 0 {
					t.Errorf("no %s in %v", a, rp.Counts.ByAction)
				}
			}
		}},
		{"every school has a students group and a teachers group with the teacher permission", func(t *testing.T) {
			for _, sc := range s.d.Schools {
				st, te := s.group(t, sc.Name+" Students", sc.JamfSchoolLocationID), s.group(t, sc.Name+" Teachers", sc.JamfSchoolLocationID)
				if st == nil || te == nil || te.Teacher != "allow" || st.Teacher == "allow" {
					t.Errorf("%s: students %+v, teachers %+v; want both, teachers allowed Jamf Teacher", sc.Name, st, te)
				}
			}
		}},
		{"the student without a user was created in its school's students group", func(t *testing.T) {
			u, ok := s.sim.UserByUsername(s.newStudent.Username)
			sc := s.d.School(s.newStudent.SiteShortName)
			if !ok || u.LocationID != sc.JamfSchoolLocationID || u.Email != s.newStudent.Email || len(u.GroupIDs) != 1 {
				t.Fatalf("user %+v (%v), want %s in location %d, one group", u, ok, s.newStudent.Username, sc.JamfSchoolLocationID)
			}
			if g, _ := s.sim.Group(u.GroupIDs[0]); g.Name != sc.Name+" Students" {
				t.Errorf("group %q, want %q", g.Name, sc.Name+" Students")
			}
			if want := s.newStudent.DistrictID + "-" + strings.ToLower(s.newStudent.LastName) + "!"; u.Password != want {
				t.Errorf("password %q, want the rule's %q", u.Password, want)
			}
		}},
		{"the new student's device got the created user as its owner in the same run", func(t *testing.T) {
			u, _ := s.sim.UserByUsername(s.newStudent.Username)
			if dev, _ := s.sim.Device(s.newDevice); u.ID == 0 || dev.OwnerID != u.ID {
				t.Errorf("device owner %d, want the created user %d", dev.OwnerID, u.ID)
			}
		}},
		{"every roster write came before every device write", func(t *testing.T) {
			ws := s.sim.Writes()
			lastRoster, firstDevice := -1, len(ws)
			for i, w := range ws {
				if isRosterWrite(w) {
					lastRoster = i
				} else if i < firstDevice {
					firstDevice = i
				}
			}
			if lastRoster < 0 || firstDevice == len(ws) || lastRoster > firstDevice {
				t.Errorf("last roster write %d, first device write %d of %d", lastRoster, firstDevice, len(ws))
			}
		}},
		{"an ordinary section became a class with its teacher and students", func(t *testing.T) {
			sec := s.r.Sections[0]
			c, ok := classByName[fmt.Sprintf("%s@%d", sec.Title, s.d.School(sec.SchoolShortName).JamfSchoolLocationID)]
			if !ok {
				t.Fatalf("no class %q", sec.Title)
			}
			// The student whose username a roster teacher shares is DuplicateUser: in no class.
			students, teachers := s.userIDs(t, s.withoutDuplicateUsernames(sec.Students)), s.userIDs(t, sec.Teachers)
			if c.Description != plan.ClassMarkerPrefix+sec.SourcedID || loc[c.LocationID] != s.d.School(sec.SchoolShortName).Name ||
				!slices.Equal(c.Students, students) || !slices.Equal(c.Teachers, teachers) {
				t.Errorf("class %+v, want marker %q, students %v, teachers %v", c, sec.SourcedID, students, teachers)
			}
		}},
		{"the ASM-managed class was never written, and is reported", func(t *testing.T) {
			if n := s.sim.WritesTo(s.asm); n != 0 {
				t.Errorf("%d writes to the ASM class", n)
			}
			if rp.Counts.ByReason[plan.ReasonManagedByASM] == 0 {
				t.Errorf("no ManagedByASM in %v", rp.Counts.ByReason)
			}
		}},
		{"the awkward cases are skipped or reported with their reasons", func(t *testing.T) {
			for _, reason := range []string{plan.ReasonDuplicateUser, plan.ReasonNoEmail, plan.ReasonNoTeacher, plan.ReasonNoMDMUser} {
				if rp.Counts.ByReason[reason] == 0 {
					t.Errorf("no %s in %v", reason, rp.Counts.ByReason)
				}
			}
			if _, ok := s.sim.UserByUsername("nnomail"); ok {
				t.Error("the teacher without an email was created")
			}
		}},
		{"no password appears in the report", func(t *testing.T) {
			u, _ := s.sim.UserByUsername(s.newStudent.Username)
			if report := fmt.Sprintf("%+v %#v", rep, rep); u.Password == "" || strings.Contains(report, u.Password) {
				t.Errorf("password %q: empty, or in the report", u.Password)
			}
		}},
		{"progress counted roster and device changes alike", func(t *testing.T) {
			total := len(rp.Changes) + len(rep.Plan.Changes)
			last := progress[len(progress)-1]
			if progress[0] != (engine.Progress{Total: total}) || last.Done != total || last.Total != total {
				t.Errorf("progress from %+v to %+v, want 0 to %d of %d", progress[0], last, total, total)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, tt.check)
	}

	second := s.run(t, nil)
	if second.Outcome != engine.Succeeded || second.Plan.Roster == nil || len(second.Plan.Roster.Changes) != 0 {
		var left []string
		if second.Plan.Roster != nil {
			for _, c := range second.Plan.Roster.Changes {
				left = append(left, fmt.Sprintf("%s %s %q %+v", c.Action, c.Kind, c.Name, c.Fields))
			}
		}
		t.Errorf("second run: outcome %s (%v), roster changes:\n%s", second.Outcome, second.Err, strings.Join(left, "\n"))
	}
}

func (s *rosterScenario) classes(t *testing.T) []jamfschoolsim.ClassState {
	t.Helper()
	list, err := s.tgt.Client.Classes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []jamfschoolsim.ClassState
	for _, c := range list {
		st, _ := s.sim.Class(c.UUID)
		out = append(out, st)
	}
	return out
}

func (s *rosterScenario) group(t *testing.T, name string, location int) *jamfschoolsim.GroupState {
	t.Helper()
	list, err := s.tgt.Client.Groups(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range list {
		if st, ok := s.sim.Group(g.ID); ok && st.Name == name && st.LocationID == location {
			return &st
		}
	}
	return nil
}

// withoutDuplicateUsernames leaves out the patrons whose username a roster teacher shares.
func (s *rosterScenario) withoutDuplicateUsernames(districtIDs []string) []string {
	return slices.DeleteFunc(slices.Clone(districtIDs), func(id string) bool {
		return slices.ContainsFunc(s.r.Teachers, func(t district.Patron) bool { return t.DistrictID != id && t.Username == s.d.Patron(id).Username })
	})
}

// userIDs are the Jamf School ids of patrons (by district id), sorted.
func (s *rosterScenario) userIDs(t *testing.T, districtIDs []string) []int {
	t.Helper()
	out := []int{}
	for _, id := range districtIDs {
		p := s.d.Patron(id)
		if p == nil {
			t.Fatalf("no patron %s", id)
		}
		u, ok := s.sim.UserByUsername(p.Username)
		if !ok {
			t.Fatalf("no user %s", p.Username)
		}
		out = append(out, u.ID)
	}
	sort.Ints(out)
	return out
}

// What a run with spec.roster does besides applying it, case by case.
func TestRosterRunSafety(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, s *rosterScenario) func(r *engine.Run)
		check func(t *testing.T, s *rosterScenario, rep *engine.Report)
	}{
		{"a dry run plans the roster and writes nothing", func(t *testing.T, s *rosterScenario) func(r *engine.Run) {
			return func(r *engine.Run) { r.DryRun = true }
		}, func(t *testing.T, s *rosterScenario, rep *engine.Report) {
			if rep.Outcome != engine.Planned || rep.Plan.Roster == nil || len(rep.Plan.Roster.Changes) == 0 {
				t.Fatalf("outcome %s, roster plan %+v; want Planned with roster changes", rep.Outcome, rep.Plan.Roster)
			}
			if w := s.sim.Writes(); len(w) != 0 {
				t.Errorf("a dry run wrote %d times: %+v", len(w), w[0])
			}
		}},
		{"a plan over safety.maxRemovals is Blocked and writes nothing", func(t *testing.T, s *rosterScenario) func(r *engine.Run) {
			if rep := s.run(t, nil); rep.Outcome != engine.Succeeded {
				t.Fatalf("first run: %s %v", rep.Outcome, firstRosterErr(rep))
			}
			// Every other student leaves the roster (the students groups stay managed: the others render them).
			n := 0
			s.src.Roster.People = slices.DeleteFunc(slices.Clone(s.src.Roster.People), func(p roster.Person) bool {
				if p.Role != "student" {
					return false
				}
				n++
				return n%2 == 0
			})
			s.pol.RosterSync.Users.RemoveStale = plan.StaleDelete
			s.sim.ResetWrites()
			removals := plan.Count(2)
			return func(r *engine.Run) { r.Safety = plan.Safety{MaxRemovals: &removals} }
		}, func(t *testing.T, s *rosterScenario, rep *engine.Report) {
			if rep.Outcome != engine.Blocked || rep.Blocked == nil || rep.Blocked.Reason != plan.BlockedRemovalBudgetExceeded {
				t.Fatalf("outcome %s, blocked %+v; want Blocked RemovalBudgetExceeded", rep.Outcome, rep.Blocked)
			}
			if w := s.sim.Writes(); len(w) != 0 {
				t.Errorf("a blocked run wrote %d times", len(w))
			}
		}},
		{"a failed roster read fails the run before any write", func(t *testing.T, s *rosterScenario) func(r *engine.Run) {
			s.sim.Deny(jamfschoolsim.PatternClasses)
			return nil
		}, func(t *testing.T, s *rosterScenario, rep *engine.Report) {
			if rep.Outcome != engine.Failed || rep.Err == nil || !strings.Contains(rep.Err.Error(), "users, groups and classes") {
				t.Fatalf("outcome %s, err %v; want Failed reading the roster", rep.Outcome, rep.Err)
			}
			if w := s.sim.Writes(); len(w) != 0 {
				t.Errorf("wrote %d times", len(w))
			}
		}},
		{"a source without a roster fails the run before any write", func(t *testing.T, s *rosterScenario) func(r *engine.Run) {
			s.src.Roster = nil
			return nil
		}, func(t *testing.T, s *rosterScenario, rep *engine.Report) {
			if rep.Outcome != engine.Failed || rep.Err == nil || !strings.Contains(rep.Err.Error(), "no roster") {
				t.Fatalf("outcome %s, err %v; want Failed naming the missing roster", rep.Outcome, rep.Err)
			}
			if w := s.sim.Writes(); len(w) != 0 {
				t.Errorf("wrote %d times", len(w))
			}
		}},
		{"a refused roster write fails that change only", func(t *testing.T, s *rosterScenario) func(r *engine.Run) {
			s.sim.Deny(jamfschoolsim.PatternCreateClass)
			return nil
		}, func(t *testing.T, s *rosterScenario, rep *engine.Report) {
			created := rep.Plan.Roster.Counts.ByAction[plan.ActionClassCreated]
			if rep.Outcome != engine.PartiallyFailed || rep.RosterFailed != created || rep.RosterApplied != len(rep.Plan.Roster.Changes)-created {
				t.Fatalf("outcome %s, %d roster failed, %d applied; want PartiallyFailed with only the %d class creations failed",
					rep.Outcome, rep.RosterFailed, rep.RosterApplied, created)
			}
			if rep.Applied == 0 || rep.FailedChanges != 0 {
				t.Errorf("devices: %d applied, %d failed; want the device changes applied", rep.Applied, rep.FailedChanges)
			}
		}},
		{"a run cancelled during the roster stops between changes and writes no device", func(t *testing.T, s *rosterScenario) func(r *engine.Run) {
			ctx, cancel := context.WithCancel(context.Background())
			t.Cleanup(cancel)
			s.ctx = ctx
			return func(r *engine.Run) {
				r.Progress = func(p engine.Progress) {
					if p.Done == 1 {
						cancel()
					}
				}
			}
		}, func(t *testing.T, s *rosterScenario, rep *engine.Report) {
			if rep.Outcome != engine.Failed || rep.RosterNotAttempted == 0 || rep.NotAttempted != len(rep.Plan.Changes) {
				t.Fatalf("outcome %s, %d roster changes and %d of %d device changes not attempted", rep.Outcome, rep.RosterNotAttempted,
					rep.NotAttempted, len(rep.Plan.Changes))
			}
			for _, w := range s.sim.Writes() {
				if !isRosterWrite(w) {
					t.Fatalf("device write %+v after the cancellation", w)
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newRosterScenario(t)
			mod := tt.setup(t, s)
			tt.check(t, s, s.run(t, mod))
		})
	}
}

// A policy with spec.roster on a target that cannot sync users and classes (Jamf Pro) still syncs its
// devices, and the report says the roster was not synced.
func TestRosterSyncOnJamfProSyncsDevicesAndWarns(t *testing.T) {
	ctx := context.Background()
	s := newRosterScenario(t)
	_, pro := jamfProSide(t, s.d, 4)
	rep, err := engine.Execute(ctx, engine.Run{Policy: s.pol, Safety: plan.Safety{}, Source: s.src, Target: pro, Retry: 1})
	if err != nil || rep.Plan.Roster != nil || rep.Applied == 0 {
		t.Fatalf("outcome %s (%v), roster plan %v, %d applied; want the device sync without a roster plan", rep.Outcome, err, rep.Plan.Roster != nil, rep.Applied)
	}
	if !slices.ContainsFunc(rep.Warnings, func(w string) bool { return strings.Contains(w, "spec.roster is set, but Jamf Pro cannot sync") }) {
		t.Errorf("warnings %q, want one saying the roster was not synced", rep.Warnings)
	}
}

// spec.schools[].location is matched to Jamf School's locations in any case (the Ready check does so):
// a policy spelling them in another case gets the same run, and its second run creates no group again
// and moves no user.
func TestRosterRunWithLocationsInAnotherCaseASecondRunPlansNothing(t *testing.T) {
	s := newRosterScenario(t)
	for site, sc := range s.pol.Schools {
		sc.Location = strings.ToUpper(sc.Location)
		s.pol.Schools[site] = sc
	}
	if rep := s.run(t, nil); rep.Outcome != engine.Succeeded {
		t.Fatalf("first run: %s (%v)", rep.Outcome, firstRosterErr(rep))
	}
	second := s.run(t, nil)
	if second.Plan.Roster == nil {
		t.Fatal("second run: no roster plan")
	}
	var left []string
	for _, c := range second.Plan.Roster.Changes {
		left = append(left, fmt.Sprintf("%s %s %q @%s %+v", c.Action, c.Kind, c.Name, c.Location, c.Fields))
	}
	if len(left) > 0 {
		t.Errorf("second run plans %d roster changes, want none; first ones:\n%s", len(left), strings.Join(left[:min(5, len(left))], "\n"))
	}
}
