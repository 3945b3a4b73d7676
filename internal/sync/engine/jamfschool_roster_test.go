package engine_test

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/k12dev/devicesync-operator/internal/httpx"
	"github.com/k12dev/devicesync-operator/internal/jamf/school"
	"github.com/k12dev/devicesync-operator/internal/sim/district"
	jamfschoolsim "github.com/k12dev/devicesync-operator/internal/sim/jamfschool"
	"github.com/k12dev/devicesync-operator/internal/sim/simhttp"
	"github.com/k12dev/devicesync-operator/internal/sync/engine"
	"github.com/k12dev/devicesync-operator/internal/sync/naming"
	"github.com/k12dev/devicesync-operator/internal/sync/plan"
)

// Roster sync on Jamf School: the target's inventory and writes against the simulator, which refuses
// what the real API refuses (unknown groups and users, numeric class member ids, ...).

const (
	lhs = "Lincoln High School"      // location 11
	wms = "Washington Middle School" // location 12
)

// rosterDistrict: users 1 ada.lovelace (Lincoln, owns UDID-1), 2 aturing and 3 ghopper (Washington).
func rosterDistrict() *district.District {
	return &district.District{
		Schools: []district.School{
			{ShortName: "LHS", Name: lhs, Building: "Lincoln HS", JamfSchoolLocationID: 11},
			{ShortName: "WMS", Name: wms, Building: "Washington MS", JamfSchoolLocationID: 12},
		},
		Patrons: []district.Patron{
			{DistrictID: "S1", FirstName: "Ada", LastName: "Lovelace", Email: "ada@example.org", Username: "ada.lovelace", Type: district.PatronStudent, SiteShortName: "LHS"},
			{DistrictID: "S2", FirstName: "Alan", LastName: "Turing", Email: "alan@example.org", Username: "aturing", Type: district.PatronStudent, SiteShortName: "WMS"},
			{DistrictID: "T1", FirstName: "Grace", LastName: "Hopper", Email: "grace@example.org", Username: "ghopper", Type: district.PatronTeacher, SiteShortName: "WMS"},
		},
		Devices: []district.Device{
			{UDID: "UDID-1", Serial: "DMPX1111AAAA", Name: "STU-DMPX1111AAAA", Managed: true, Supervised: true, Username: "ada.lovelace", Building: "Lincoln HS"},
		},
	}
}

// rosterSide serves the Jamf School simulator over TLS, as a tenant does, with a target trusting only
// its certificate.
// inventoriedRosterSide is rosterSide on the roster district, with the run's roster inventory read (as
// the engine reads it before any ApplyRoster).
func inventoriedRosterSide(t *testing.T) (*jamfschoolsim.Server, *engine.JamfSchool) {
	t.Helper()
	sim, tgt := rosterSide(t, rosterDistrict())
	if _, err := tgt.RosterInventory(context.Background(), []string{lhs}); err != nil {
		t.Fatal(err)
	}
	return sim, tgt
}

func rosterSide(t *testing.T, d *district.District) (*jamfschoolsim.Server, *engine.JamfSchool) {
	t.Helper()
	sim := jamfschoolsim.New(d, jamfschoolsim.Options{})
	srv := httptest.NewTLSServer(sim)
	t.Cleanup(srv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	cl, err := school.New(school.Config{BaseURL: srv.URL + "/api", NetworkID: jamfschoolsim.DefaultNetworkID,
		APIKey: jamfschoolsim.DefaultAPIKey, Backoff: fastBackoff, HTTPClient: httpx.NewClient(httpx.ClientOptions{RootCAs: pool})})
	if err != nil {
		t.Fatal(err)
	}
	return sim, &engine.JamfSchool{Client: cl}
}

func sp(s string) *string { return &s }

func TestIsASMSourceTakesAnyASMOrAppleSourceAsASM(t *testing.T) {
	tests := []struct {
		source string
		want   bool
	}{
		{"sim-asm", true},
		{"ASM", true},
		{"AppleSchoolManager", true},
		{"apple_school_manager", true},
		{"sim-api", false},
		{"manual", false},
		{"api", false},
	}
	for _, tt := range tests {
		t.Run(tt.source, func(t *testing.T) {
			if got := engine.IsASMSource(tt.source); got != tt.want {
				t.Errorf("IsASMSource(%q) = %v, want %v", tt.source, got, tt.want)
			}
		})
	}
}

// The inventory maps Jamf School's users, groups and classes to the planner's; class members are read
// only for the non-ASM classes of the given locations.
func TestJamfSchoolRosterInventory(t *testing.T) {
	ctx := context.Background()
	sim, tgt := rosterSide(t, rosterDistrict())
	students := sim.AddGroup(jamfschoolsim.GroupState{Name: "Students", LocationID: 11})
	if err := tgt.Client.UpdateUser(ctx, 1, school.UserUpdate{MemberOf: []any{students}}); err != nil {
		t.Fatal(err)
	}
	if err := tgt.Client.TrashUser(ctx, 2); err != nil {
		t.Fatal(err)
	}
	api := sim.AddClass(jamfschoolsim.ClassState{Name: "Math", Description: plan.ClassMarkerPrefix + "c1", LocationID: 11, Students: []int{3, 1}, Teachers: []int{3}})
	asm := sim.AddClass(jamfschoolsim.ClassState{Name: "ASM Biology", LocationID: 11, Source: jamfschoolsim.SourceASM, Students: []int{1}})
	other := sim.AddClass(jamfschoolsim.ClassState{Name: "Art", LocationID: 12, Students: []int{3}})
	sim.ResetCounters()

	policyLHS := strings.ToUpper(lhs) // the policy's spelling of location 11
	got, err := tgt.RosterInventory(ctx, []string{policyLHS})
	if err != nil {
		t.Fatal(err)
	}
	user := func(username string) plan.MDMUser {
		for _, u := range got.Users {
			if u.Username == username {
				return u
			}
		}
		t.Fatalf("no user %s in %+v", username, got.Users)
		return plan.MDMUser{}
	}
	class := func(ref string) plan.MDMClass {
		for _, c := range got.Classes {
			if c.Ref == ref {
				return c
			}
		}
		t.Fatalf("no class %s in %+v", ref, got.Classes)
		return plan.MDMClass{}
	}
	tests := []struct {
		name       string
		got, want  any
		callsCheck bool
	}{
		{"a user carries its id, names, email, location name (as the policy spells it) and group ids", user("ada.lovelace"),
			plan.MDMUser{Ref: "1", Username: "ada.lovelace", FirstName: "Ada", LastName: "Lovelace", Email: "ada@example.org",
				Location: policyLHS, Groups: []string{strconv.Itoa(students)}}, false},
		{"a user in the trash is listed Trashed", user("aturing").Trashed, true, false},
		{"a group carries its id, name and location name", got.Groups,
			[]plan.MDMGroup{{Ref: strconv.Itoa(students), Name: "Students", Location: policyLHS}}, false},
		{"a class of the locations carries its members as sorted refs", class(api),
			plan.MDMClass{Ref: api, Name: "Math", Description: plan.ClassMarkerPrefix + "c1", Location: policyLHS, Source: jamfschoolsim.SourceAPI,
				Students: []string{"1", "3"}, Teachers: []string{"3"}, MembersKnown: true}, false},
		{"an ASM class is marked ASM and its members are not read", class(asm),
			plan.MDMClass{Ref: asm, Name: "ASM Biology", Location: policyLHS, Source: jamfschoolsim.SourceASM, ASM: true}, false},
		{"a class outside the locations has its members unread and Jamf School's location name", class(other),
			plan.MDMClass{Ref: other, Name: "Art", Location: wms, Source: jamfschoolsim.SourceAPI}, false},
		{"one GET /classes/{uuid}, for the one class whose members are read", sim.CallCount(jamfschoolsim.PatternClass), 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !reflect.DeepEqual(tt.got, tt.want) {
				t.Errorf("got %+v\nwant %+v", tt.got, tt.want)
			}
		})
	}
}

// Any failed read fails the inventory: the planner never sees a partial one.
func TestJamfSchoolRosterInventoryFailsOnAnyFailedRead(t *testing.T) {
	for _, pattern := range []string{jamfschoolsim.PatternUsers, jamfschoolsim.PatternGroups, jamfschoolsim.PatternClasses,
		jamfschoolsim.PatternLocations, jamfschoolsim.PatternClass} {
		t.Run(pattern, func(t *testing.T) {
			sim, tgt := rosterSide(t, rosterDistrict())
			sim.AddClass(jamfschoolsim.ClassState{Name: "Math", LocationID: 11})
			sim.Deny(pattern)
			got, err := tgt.RosterInventory(context.Background(), []string{lhs})
			if err == nil || !errors.Is(err, school.ErrPermissionDenied) {
				t.Fatalf("err %v, want the refused read's error", err)
			}
			if !reflect.DeepEqual(got, plan.MDMRoster{}) {
				t.Errorf("a failed inventory returned %+v", got)
			}
		})
	}
}

// rosterWorld is the simulator's state after a case, for its check.
type rosterWorld struct {
	t    *testing.T
	sim  *jamfschoolsim.Server
	seed map[string]string // names the case's setup gave to seeded refs
}

func (w *rosterWorld) user(username string) jamfschoolsim.UserState {
	w.t.Helper()
	u, ok := w.sim.UserByUsername(username)
	if !ok {
		w.t.Fatalf("no user %s", username)
	}
	return u
}

func (w *rosterWorld) groupNames(u jamfschoolsim.UserState) []string {
	var out []string
	for _, id := range u.GroupIDs {
		g, _ := w.sim.Group(id)
		out = append(out, fmt.Sprintf("%s@%d", g.Name, g.LocationID))
	}
	slices.Sort(out)
	return out
}

// Each roster action makes the calls the vendor reference documents, and leaves the simulator in the
// state the change asks for. Changes are applied in order, as the engine's phases do.
func TestJamfSchoolApplyRoster(t *testing.T) {
	pwRule, err := naming.Compile("spec.roster.users.password", "{{.DistrictID}}-{{lower .LastName}}!")
	if err != nil {
		t.Fatal(err)
	}
	newUser := func(username, first, last, email, location string, groups ...plan.GroupRef) plan.RosterChange {
		return plan.RosterChange{Kind: plan.KindUser, Action: plan.ActionUserCreated, Phase: plan.PhaseUsers, Name: username, Location: location,
			User:    &plan.UserSet{Username: username, FirstName: sp(first), LastName: sp(last), Email: sp(email), Groups: groups},
			NewUser: &plan.NewRosterUser{Password: pwRule, Data: naming.Data{DistrictID: "S9", LastName: last}}}
	}
	newGroup := func(name, location string, teacher bool) plan.RosterChange {
		return plan.RosterChange{Kind: plan.KindGroup, Action: plan.ActionGroupCreated, Phase: plan.PhaseGroups, Name: name, Location: location,
			Group: &plan.GroupSet{Name: name, Teacher: teacher}}
	}
	tests := []struct {
		name    string
		setup   func(sim *jamfschoolsim.Server) map[string]string
		changes func(seed map[string]string) []plan.RosterChange
		check   func(w *rosterWorld)
	}{
		{"GroupCreated makes a teachers group with the teacher permission in its location", nil,
			func(map[string]string) []plan.RosterChange {
				return []plan.RosterChange{newGroup("Teachers", wms, true)}
			},
			func(w *rosterWorld) {
				g, ok := w.sim.Group(1)
				if want := (jamfschoolsim.GroupState{ID: 1, Name: "Teachers", LocationID: 12, Teacher: "allow", Parent: "inherit"}); !ok || g != want {
					w.t.Errorf("group %+v, want %+v", g, want)
				}
			}},
		{"GroupCreated makes a students group without the teacher permission", nil,
			func(map[string]string) []plan.RosterChange {
				return []plan.RosterChange{newGroup("Students", lhs, false)}
			},
			func(w *rosterWorld) {
				if g, _ := w.sim.Group(1); g.Teacher != "inherit" || g.LocationID != 11 {
					w.t.Errorf("group %+v, want teacher inherit at location 11", g)
				}
			}},
		{"UserCreated posts the user with its location, groups and the rendered password", nil,
			func(map[string]string) []plan.RosterChange {
				return []plan.RosterChange{newGroup("Students", lhs, false),
					newUser("new.kid", "New", "Kid", "new@example.org", lhs, plan.GroupRef{Location: lhs, Name: "Students"})}
			},
			func(w *rosterWorld) {
				u := w.user("new.kid")
				if u.FirstName != "New" || u.LastName != "Kid" || u.Email != "new@example.org" || u.LocationID != 11 || u.Password != "S9-kid!" {
					w.t.Errorf("user %+v, want New Kid, new@example.org, location 11, the rule's password", u)
				}
				if got := w.groupNames(u); !reflect.DeepEqual(got, []string{"Students@11"}) {
					w.t.Errorf("groups %v, want the Students group created in the run", got)
				}
				if n := w.sim.CallCount(jamfschoolsim.PatternUpdateUser); n != 0 {
					w.t.Errorf("%d PUT /users/{id}, want none: memberOf travels on the POST", n)
				}
			}},
		{"UserCreated without a password rule gets a random password", nil,
			func(map[string]string) []plan.RosterChange {
				c := newUser("new.kid", "New", "Kid", "new@example.org", lhs)
				c.NewUser = nil
				return []plan.RosterChange{c}
			},
			func(w *rosterWorld) {
				if u := w.user("new.kid"); len(u.Password) != school.PasswordLength {
					w.t.Errorf("password of %d characters, want a random one of %d", len(u.Password), school.PasswordLength)
				}
			}},
		{"UserUpdated writes names, email and memberships", func(sim *jamfschoolsim.Server) map[string]string {
			return map[string]string{"band": strconv.Itoa(sim.AddGroup(jamfschoolsim.GroupState{Name: "Band", LocationID: 11}))}
		}, func(seed map[string]string) []plan.RosterChange {
			return []plan.RosterChange{{Kind: plan.KindUser, Action: plan.ActionUserUpdated, Name: "ada.lovelace", Ref: "1",
				User: &plan.UserSet{FirstName: sp("Augusta"), Email: sp("augusta@example.org"), Groups: []plan.GroupRef{{Ref: seed["band"]}}}}}
		}, func(w *rosterWorld) {
			u := w.user("ada.lovelace")
			if u.FirstName != "Augusta" || u.LastName != "Lovelace" || u.Email != "augusta@example.org" || !reflect.DeepEqual(w.groupNames(u), []string{"Band@11"}) {
				w.t.Errorf("user %+v (groups %v), want Augusta Lovelace, augusta@example.org, in Band", u, w.groupNames(u))
			}
		}},
		{"UserUpdated with an empty group list clears memberships", func(sim *jamfschoolsim.Server) map[string]string {
			sim.AddGroup(jamfschoolsim.GroupState{Name: "Band", LocationID: 11})
			return nil
		}, func(map[string]string) []plan.RosterChange {
			return []plan.RosterChange{
				{Kind: plan.KindUser, Action: plan.ActionUserUpdated, Name: "ada.lovelace", Ref: "1", User: &plan.UserSet{Groups: []plan.GroupRef{{Ref: "1"}}}},
				{Kind: plan.KindUser, Action: plan.ActionUserUpdated, Name: "ada.lovelace", Ref: "1", User: &plan.UserSet{Groups: []plan.GroupRef{}}},
			}
		}, func(w *rosterWorld) {
			if u := w.user("ada.lovelace"); len(u.GroupIDs) != 0 {
				w.t.Errorf("groups %v, want none", u.GroupIDs)
			}
		}},
		{"UserUpdated with a location moves the user only, never its devices", nil, func(map[string]string) []plan.RosterChange {
			return []plan.RosterChange{{Kind: plan.KindUser, Action: plan.ActionUserUpdated, Name: "ada.lovelace", Ref: "1", User: &plan.UserSet{Location: sp(wms)}}}
		}, func(w *rosterWorld) {
			d, _ := w.sim.Device("UDID-1")
			if u := w.user("ada.lovelace"); u.LocationID != 12 || d.LocationID != 11 {
				w.t.Errorf("user at %d, device at %d; want the user moved to 12 and the device left at 11", u.LocationID, d.LocationID)
			}
			if n := w.sim.CallCount(jamfschoolsim.PatternUpdateUser); n != 0 {
				w.t.Errorf("%d PUT /users/{id}, want none when only the location changes", n)
			}
		}},
		{"ClassCreated makes the class, then sets its members, users created in the run included", nil,
			func(map[string]string) []plan.RosterChange {
				return []plan.RosterChange{newUser("new.kid", "New", "Kid", "new@example.org", lhs),
					{Kind: plan.KindClass, Action: plan.ActionClassCreated, Phase: plan.PhaseClasses, Name: "Math", Key: "c1", Location: lhs,
						Class: &plan.ClassSet{Name: sp("Math"), Description: sp(plan.ClassMarkerPrefix + "c1"), SetMembers: true,
							Students: []plan.UserRef{{Ref: "1"}, {Username: "new.kid"}}, Teachers: []plan.UserRef{{Ref: "3"}}}}}
			},
			func(w *rosterWorld) {
				kid := w.user("new.kid")
				c, ok := w.sim.Class("5e1a0c1a-0000-4000-8000-000000000001")
				want := jamfschoolsim.ClassState{UUID: c.UUID, Name: "Math", Description: plan.ClassMarkerPrefix + "c1", LocationID: 11,
					Source: jamfschoolsim.SourceAPI, Students: []int{1, kid.ID}, Teachers: []int{3}}
				if !ok || !reflect.DeepEqual(c, want) {
					w.t.Errorf("class %+v, want %+v", c, want)
				}
			}},
		{"ClassUpdated with a new name keeps the description it does not set", func(sim *jamfschoolsim.Server) map[string]string {
			return map[string]string{"c": sim.AddClass(jamfschoolsim.ClassState{Name: "Math", Description: "keep me", LocationID: 11})}
		}, func(seed map[string]string) []plan.RosterChange {
			return []plan.RosterChange{{Kind: plan.KindClass, Action: plan.ActionClassUpdated, Name: "Algebra", Ref: seed["c"], Class: &plan.ClassSet{Name: sp("Algebra")}}}
		}, func(w *rosterWorld) {
			if c, _ := w.sim.Class(w.seed["c"]); c.Name != "Algebra" || c.Description != "keep me" {
				w.t.Errorf("class %+v, want Algebra with its description kept", c)
			}
		}},
		{"MembersChanged replaces both member lists", func(sim *jamfschoolsim.Server) map[string]string {
			return map[string]string{"c": sim.AddClass(jamfschoolsim.ClassState{Name: "Math", LocationID: 11, Students: []int{1, 2}, Teachers: []int{3}})}
		}, func(seed map[string]string) []plan.RosterChange {
			return []plan.RosterChange{{Kind: plan.KindClass, Action: plan.ActionMembersChanged, Name: "Math", Ref: seed["c"],
				Class: &plan.ClassSet{SetMembers: true, Students: []plan.UserRef{{Ref: "2"}}, Teachers: []plan.UserRef{}}}}
		}, func(w *rosterWorld) {
			if c, _ := w.sim.Class(w.seed["c"]); !reflect.DeepEqual(c.Students, []int{2}) || len(c.Teachers) != 0 || c.Name != "Math" {
				w.t.Errorf("class %+v, want students [2], no teachers, name kept", c)
			}
			if n := w.sim.CallCount(jamfschoolsim.PatternUpdateClass); n != 0 {
				w.t.Errorf("%d PUT /classes/{uuid}, want none when only members change", n)
			}
		}},
		{"Removed trashes a user", nil, func(map[string]string) []plan.RosterChange {
			return []plan.RosterChange{{Kind: plan.KindUser, Action: plan.ActionRemoved, Phase: plan.PhaseRemovals, Name: "aturing", Ref: "2", Remove: &plan.RemoveSet{}}}
		}, func(w *rosterWorld) {
			if u := w.user("aturing"); u.Status != "Trash" {
				w.t.Errorf("status %q, want Trash", u.Status)
			}
		}},
		{"Removed with MoveTo replaces the user's groups with the stale group and the ones it keeps", func(sim *jamfschoolsim.Server) map[string]string {
			return map[string]string{
				"students": strconv.Itoa(sim.AddGroup(jamfschoolsim.GroupState{Name: "Students", LocationID: 12})),
				"band":     strconv.Itoa(sim.AddGroup(jamfschoolsim.GroupState{Name: "Band", LocationID: 12})),
				"stale":    strconv.Itoa(sim.AddGroup(jamfschoolsim.GroupState{Name: "Left", LocationID: 12})),
			}
		}, func(seed map[string]string) []plan.RosterChange {
			return []plan.RosterChange{
				{Kind: plan.KindUser, Action: plan.ActionUserUpdated, Name: "aturing", Ref: "2", User: &plan.UserSet{Groups: []plan.GroupRef{{Ref: seed["students"]}, {Ref: seed["band"]}}}},
				{Kind: plan.KindUser, Action: plan.ActionRemoved, Phase: plan.PhaseRemovals, Name: "aturing", Ref: "2",
					Remove: &plan.RemoveSet{MoveTo: &plan.GroupRef{Location: wms, Name: "Left"}, Groups: []plan.GroupRef{{Ref: seed["band"]}, {Location: wms, Name: "Left"}}}},
			}
		}, func(w *rosterWorld) {
			u := w.user("aturing")
			if got := w.groupNames(u); !reflect.DeepEqual(got, []string{"Band@12", "Left@12"}) || u.Status == "Trash" {
				w.t.Errorf("groups %v status %s, want Band and Left, not trashed", got, u.Status)
			}
		}},
		{"Removed deletes a class", func(sim *jamfschoolsim.Server) map[string]string {
			return map[string]string{"c": sim.AddClass(jamfschoolsim.ClassState{Name: "Old", LocationID: 11})}
		}, func(seed map[string]string) []plan.RosterChange {
			return []plan.RosterChange{{Kind: plan.KindClass, Action: plan.ActionRemoved, Phase: plan.PhaseRemovals, Name: "Old", Ref: seed["c"], Remove: &plan.RemoveSet{}}}
		}, func(w *rosterWorld) {
			if _, ok := w.sim.Class(w.seed["c"]); ok {
				w.t.Error("the class is still there")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			sim, tgt := rosterSide(t, rosterDistrict())
			var seed map[string]string
			if tt.setup != nil {
				seed = tt.setup(sim)
			}
			if _, err := tgt.RosterInventory(ctx, []string{lhs, wms}); err != nil {
				t.Fatal(err)
			}
			sim.ResetCounters()
			for _, c := range tt.changes(seed) {
				if err := tgt.ApplyRoster(ctx, c); err != nil {
					t.Fatalf("%s %s: %v", c.Action, c.Name, err)
				}
			}
			tt.check(&rosterWorld{t: t, sim: sim, seed: seed})
		})
	}
}

// Groups and users named by name resolve from what the run created, without a listing (which may be
// stale right after a write), else from one fresh listing; a name neither knows fails that change.
func TestJamfSchoolApplyRosterResolvesNames(t *testing.T) {
	userIn := func(username string, groups ...plan.GroupRef) plan.RosterChange {
		return plan.RosterChange{Kind: plan.KindUser, Action: plan.ActionUserCreated, Name: username, Location: lhs,
			User: &plan.UserSet{Username: username, FirstName: sp("N"), LastName: sp("K"), Email: sp(username + "@example.org"), Groups: groups}}
	}
	classWith := func(students ...plan.UserRef) plan.RosterChange {
		return plan.RosterChange{Kind: plan.KindClass, Action: plan.ActionClassCreated, Name: "Math", Key: "c1", Location: lhs,
			Class: &plan.ClassSet{Name: sp("Math"), SetMembers: true, Students: students, Teachers: []plan.UserRef{}}}
	}
	tests := []struct {
		name         string
		setup        func(sim *jamfschoolsim.Server)
		changes      []plan.RosterChange
		wantErr      string // of the last change
		wantListings int    // GET /users/groups after the inventory
	}{
		{"a group created in the run is found without a listing, even when listings are refused",
			nil, []plan.RosterChange{
				{Kind: plan.KindGroup, Action: plan.ActionGroupCreated, Name: "Students", Location: lhs, Group: &plan.GroupSet{Name: "Students"}},
				userIn("a.kid", plan.GroupRef{Location: strings.ToUpper(lhs), Name: "students"}),
			}, "", 0},
		{"a user created in the run is found without a listing", nil, []plan.RosterChange{
			userIn("a.kid"), classWith(plan.UserRef{Username: "A.Kid"}),
		}, "", 0},
		{"groups the run did not create are read from one listing for every change", func(sim *jamfschoolsim.Server) {
			sim.AddGroup(jamfschoolsim.GroupState{Name: "Students", LocationID: 11})
		}, []plan.RosterChange{
			userIn("a.kid", plan.GroupRef{Location: lhs, Name: "Students"}),
			userIn("b.kid", plan.GroupRef{Location: lhs, Name: "Students"}),
		}, "", 1},
		{"a group of that name in another location is not joined", func(sim *jamfschoolsim.Server) {
			sim.AddGroup(jamfschoolsim.GroupState{Name: "Students", LocationID: 12})
		}, []plan.RosterChange{userIn("a.kid", plan.GroupRef{Location: lhs, Name: "Students"})},
			`no group "Students" in location "Lincoln High School"`, 1},
		{"a user neither created nor listed fails the class change", nil, []plan.RosterChange{classWith(plan.UserRef{Username: "nobody"})},
			`no user "nobody"`, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			sim, tgt := rosterSide(t, rosterDistrict())
			if tt.setup != nil {
				tt.setup(sim)
			}
			if _, err := tgt.RosterInventory(ctx, []string{lhs}); err != nil {
				t.Fatal(err)
			}
			sim.ResetCounters()
			if tt.wantListings == 0 {
				sim.Deny(jamfschoolsim.PatternGroups)
				sim.Deny(jamfschoolsim.PatternUsers)
			}
			var err error
			for _, c := range tt.changes {
				err = tgt.ApplyRoster(ctx, c)
			}
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("last change: %v, want %q", err, tt.wantErr)
			}
			if n := sim.CallCount(jamfschoolsim.PatternGroups); n != tt.wantListings {
				t.Errorf("%d group listings, want %d", n, tt.wantListings)
			}
			if tt.wantErr != "" && sim.CallCount(jamfschoolsim.PatternCreateClass)+sim.CallCount(jamfschoolsim.PatternCreateUser) != 0 {
				t.Errorf("a change that cannot name its groups or members wrote anyway: %v", sim.Calls())
			}
		})
	}
}

const asmClass = "a5a5a5a5-0000-4000-8000-000000000001"

// A write Jamf School refuses (or the target does: ASM classes) fails that change only, and no password
// ever appears in an error.
func TestJamfSchoolApplyRosterRefusals(t *testing.T) {
	const secret = "S9-kid!"
	pwRule, err := naming.Compile("spec.roster.users.password", "{{.DistrictID}}-{{lower .LastName}}!")
	if err != nil {
		t.Fatal(err)
	}
	create := func(username, email string, groups ...plan.GroupRef) plan.RosterChange {
		return plan.RosterChange{Kind: plan.KindUser, Action: plan.ActionUserCreated, Name: username, Location: lhs,
			User:    &plan.UserSet{Username: username, FirstName: sp("New"), LastName: sp("Kid"), Email: sp(email), Groups: groups},
			NewUser: &plan.NewRosterUser{Password: pwRule, Data: naming.Data{DistrictID: "S9", LastName: "Kid"}}}
	}
	tests := []struct {
		name    string
		refused plan.RosterChange
		wantErr string
	}{
		{"an unknown group id", create("new.kid", "new@example.org", plan.GroupRef{Ref: "999"}), "GroupNotFound"},
		{"a duplicate username", create("ADA.lovelace", "other@example.org"), "UserAlreadyExists"},
		{"a duplicate email", create("new.kid", "ada@example.org"), "EmailAlreadyExists"},
		{"a user without an email, refused before any call", create("new.kid", ""), "email empty"},
		{"an unknown user's update", plan.RosterChange{Kind: plan.KindUser, Action: plan.ActionUserUpdated, Name: "ghost", Ref: "999",
			User: &plan.UserSet{FirstName: sp("G")}}, "UserNotFound"},
		{"a write to a class the inventory found synced from ASM, refused without a call", plan.RosterChange{Kind: plan.KindClass,
			Action: plan.ActionMembersChanged, Name: "ASM Biology", Ref: asmClass, Class: &plan.ClassSet{SetMembers: true}}, "Apple School Manager"},
		{"an unknown location", plan.RosterChange{Kind: plan.KindGroup, Action: plan.ActionGroupCreated, Name: "G", Location: "Nowhere",
			Group: &plan.GroupSet{Name: "G"}}, `no location named "Nowhere"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			sim, tgt := rosterSide(t, rosterDistrict())
			sim.AddClass(jamfschoolsim.ClassState{UUID: asmClass, Name: "ASM Biology", LocationID: 11, Source: jamfschoolsim.SourceASM})
			if _, err := tgt.RosterInventory(ctx, []string{lhs}); err != nil {
				t.Fatal(err)
			}
			before := len(sim.Users())
			err := tgt.ApplyRoster(ctx, tt.refused)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err %v, want one saying %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(fmt.Sprintf("%+v %#v", err, err), secret) {
				t.Errorf("the error shows the password: %v", err)
			}
			var tr *engine.Transient
			if errors.As(err, &tr) {
				t.Errorf("a refusal is marked Transient (it would be retried): %v", err)
			}
			if n := len(sim.Users()); n != before {
				t.Errorf("%d users after a refused change, want %d", n, before)
			}
			if n := sim.WritesTo(asmClass); n != 0 {
				t.Errorf("%d writes to the ASM class", n)
			}
			if err := tgt.ApplyRoster(ctx, create("next.kid", "next@example.org")); err != nil {
				t.Errorf("the next change failed too: %v", err)
			}
		})
	}
}

// A class created whose members could not be set fails Transient, and the retry sets the members of
// that class instead of creating a second one; a user creation that failed is never Transient.
func TestJamfSchoolApplyRosterRetriesOnlyWhatIsSafe(t *testing.T) {
	ctx := context.Background()
	sim, tgt := inventoriedRosterSide(t)
	class := plan.RosterChange{Kind: plan.KindClass, Action: plan.ActionClassCreated, Name: "Math", Key: "c1", Location: lhs,
		Class: &plan.ClassSet{Name: sp("Math"), SetMembers: true, Students: []plan.UserRef{{Ref: "1"}}, Teachers: []plan.UserRef{}}}
	sim.FailNext(jamfschoolsim.PatternSetClassMembers, 1+school.DefaultMaxRetries, simhttp.FaultStatus503)
	err := tgt.ApplyRoster(ctx, class)
	var tr *engine.Transient
	if err == nil || !errors.As(err, &tr) {
		t.Fatalf("err %v, want a Transient failure to set the members", err)
	}
	if err := tgt.ApplyRoster(ctx, class); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if n := sim.CallCount(jamfschoolsim.PatternCreateClass); n != 1 {
		t.Errorf("%d POST /classes, want 1", n)
	}
	if c, ok := sim.Class("5e1a0c1a-0000-4000-8000-000000000001"); !ok || !reflect.DeepEqual(c.Students, []int{1}) {
		t.Errorf("class %+v, want student 1", c)
	}

	sim.FailNext(jamfschoolsim.PatternCreateUser, 1, simhttp.FaultStatus503)
	err = tgt.ApplyRoster(ctx, plan.RosterChange{Kind: plan.KindUser, Action: plan.ActionUserCreated, Name: "new.kid", Location: lhs,
		User: &plan.UserSet{Username: "new.kid", FirstName: sp("N"), LastName: sp("K"), Email: sp("nk@example.org")}})
	if err == nil || errors.As(err, &tr) {
		t.Errorf("err %v, want a failure that is not Transient (the POST may have created the user)", err)
	}
	if n := sim.CallCount(jamfschoolsim.PatternCreateUser); n != 1 {
		t.Errorf("%d POST /users, want 1: a 5xx on a creation is not retried", n)
	}
}

// A policy that syncs the roster needs the key's rights to list user groups and classes: Check names a
// missing one as a refusal (a person must change the key), and a policy without a roster sync does not
// ask for them.
func TestJamfSchoolCheckTestsTheRosterReadsOnlyForARosterSync(t *testing.T) {
	tests := []struct {
		name        string
		deny        string
		roster      bool
		wantRefused bool
		wantMessage string
	}{
		{name: "a key with every right passes", roster: true},
		{name: "a key that cannot list groups is refused, naming the right", deny: jamfschoolsim.PatternGroups, roster: true,
			wantRefused: true, wantMessage: "right to read user groups"},
		{name: "a key that cannot list classes is refused, naming the right", deny: jamfschoolsim.PatternClasses, roster: true,
			wantRefused: true, wantMessage: "right to read classes"},
		{name: "without a roster sync the class right is not asked for", deny: jamfschoolsim.PatternClasses},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim, tgt := rosterSide(t, rosterDistrict())
			if tt.deny != "" {
				sim.Deny(tt.deny)
			}
			err := tgt.Check(context.Background(), plan.Manage{User: true, Location: true, Roster: tt.roster})
			var ce *engine.CheckError
			switch {
			case !tt.wantRefused && err != nil:
				t.Fatalf("Check: %v, want nil", err)
			case tt.wantRefused && (!errors.As(err, &ce) || !ce.Refused || !strings.Contains(err.Error(), tt.wantMessage)):
				t.Fatalf("Check: %v, want a refusal naming %q", err, tt.wantMessage)
			}
		})
	}
}

// memberOf replaces every membership, so a user listed without its groupIds would lose every group the
// policy does not manage: such a listing fails the inventory (a user with no group lists []).
func TestJamfSchoolRosterInventoryFailsOnAUserListedWithoutGroupIds(t *testing.T) {
	tests := []struct {
		name     string
		groupIds string // the user's "groupIds" member, "" to leave it out
		wantErr  bool
	}{
		{name: "groupIds [] is a user in no group", groupIds: `"groupIds":[],`},
		{name: "groupIds listed are the user's groups", groupIds: `"groupIds":[5],`},
		{name: "groupIds left out fails the read", groupIds: "", wantErr: true},
		{name: "groupIds null fails the read", groupIds: `"groupIds":null,`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bodies := map[string]string{
				"/api/users": `{"code":200,"count":1,"users":[{"id":7,"locationId":11,"status":"Active","username":"ada","email":"ada@example.org",` +
					tt.groupIds + `"firstName":"Ada","lastName":"Lovelace"}]}`,
				"/api/users/groups": `{"code":200,"count":1,"groups":[{"id":5,"locationId":11,"name":"Art Club"}]}`,
				"/api/classes":      `{"code":200,"classes":[]}`,
				"/api/locations":    `{"locations":[{"id":11,"name":"Lincoln High School"}]}`,
			}
			srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, ok := bodies[r.URL.Path]
				if !ok || r.Method != http.MethodGet {
					http.Error(w, `{"code":404,"message":"NotFound"}`, http.StatusNotFound)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprint(w, body)
			}))
			t.Cleanup(srv.Close)
			pool := x509.NewCertPool()
			pool.AddCert(srv.Certificate())
			cl, err := school.New(school.Config{BaseURL: srv.URL + "/api", NetworkID: jamfschoolsim.DefaultNetworkID,
				APIKey: jamfschoolsim.DefaultAPIKey, Backoff: fastBackoff, HTTPClient: httpx.NewClient(httpx.ClientOptions{RootCAs: pool})})
			if err != nil {
				t.Fatal(err)
			}
			_, err = (&engine.JamfSchool{Client: cl}).RosterInventory(context.Background(), []string{lhs})
			switch {
			case tt.wantErr && (err == nil || !strings.Contains(err.Error(), `"ada"`) || !strings.Contains(err.Error(), "groupIds")):
				t.Errorf("err = %v, want one naming user \"ada\" and groupIds", err)
			case !tt.wantErr && err != nil:
				t.Errorf("err = %v, want none", err)
			}
		})
	}
}

// What a second DELETE /users/{id} does to a user already in the trash is not public (it may delete it for
// good): a trash whose answer failed is neither retried by the client nor Transient; the next run finds
// the user in the trash and leaves it.
func TestJamfSchoolApplyRosterNeverRepeatsATrash(t *testing.T) {
	ctx := context.Background()
	sim, tgt := inventoriedRosterSide(t)
	sim.FailNext(jamfschoolsim.PatternTrashUser, 1, simhttp.FaultStatus503)
	err := tgt.ApplyRoster(ctx, plan.RosterChange{Kind: plan.KindUser, Action: plan.ActionRemoved, Name: "ada.lovelace", Ref: "1",
		Location: lhs, Remove: &plan.RemoveSet{}})
	var tr *engine.Transient
	if err == nil || errors.As(err, &tr) {
		t.Errorf("err %v, want a failure that is not Transient", err)
	}
	if n := sim.CallCount(jamfschoolsim.PatternTrashUser); n != 1 {
		t.Errorf("%d DELETE /users/{id}, want 1", n)
	}
}
