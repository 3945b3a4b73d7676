package engine_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	gosync "sync"
	"testing"

	"github.com/k12dev/devicesync-operator/internal/jamf/school"
	"github.com/k12dev/devicesync-operator/internal/serial"
	"github.com/k12dev/devicesync-operator/internal/sim/district"
	jamfschoolsim "github.com/k12dev/devicesync-operator/internal/sim/jamfschool"
	"github.com/k12dev/devicesync-operator/internal/sync/engine"
	"github.com/k12dev/devicesync-operator/internal/sync/naming"
	"github.com/k12dev/devicesync-operator/internal/sync/plan"
)

// jamfSchoolCreatingSide is jamfSchoolSide with target.jamfSchool.createMissingUsers on.
func jamfSchoolCreatingSide(tb testing.TB, d *district.District) (*jamfschoolsim.Server, *engine.JamfSchool) {
	tb.Helper()
	sim := jamfschoolsim.New(d, jamfschoolsim.Options{})
	srv := httptest.NewServer(sim)
	tb.Cleanup(srv.Close)
	cl, err := school.New(school.Config{BaseURL: srv.URL + "/api", NetworkID: jamfschoolsim.DefaultNetworkID,
		APIKey: jamfschoolsim.DefaultAPIKey, Backoff: fastBackoff, CreateMissingUsers: true})
	if err != nil {
		tb.Fatal(err)
	}
	return sim, &engine.JamfSchool{Client: cl}
}

const passwordRule = "{{.DistrictID}}-{{lower .LastName}}!"

// A run with createMissingUsers creates the student Jamf School does not know, with the username,
// Destiny's first and last name and email, and the password the policy's rule renders (or a random
// one); the device gets that owner, and no password appears anywhere in the run's report.
func TestJamfSchoolRunCreatesAMissingStudentWithEverythingPostUsersNeeds(t *testing.T) {
	tests := []struct {
		name string
		rule string
		want func(t *testing.T, p *district.Patron, password string)
	}{
		{"with the policy's password rule", passwordRule, func(t *testing.T, p *district.Patron, password string) {
			if want := p.DistrictID + "-" + strings.ToLower(p.LastName) + "!"; password != want {
				t.Errorf("password %q, want the rule's %q", password, want)
			}
		}},
		{"with a random password when the policy has no rule", "", func(t *testing.T, _ *district.Patron, password string) {
			if len(password) != school.PasswordLength {
				t.Errorf("password of %d characters, want a random one of %d", len(password), school.PasswordLength)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			d := newDistrict(t, 300)
			_, src := destinySide(t, d)
			sim, tgt := jamfSchoolCreatingSide(t, d)
			pol := defaultPolicy(t, d)
			pol.Location = plan.LocationRules{}
			pol.CreateMissingUsers = true
			if tt.rule != "" {
				pol.NewUserPassword = mustTemplate(t, "target.jamfSchool.newUserPassword", tt.rule)
			}
			victim, patron := assignedStudent(t, ctx, d, pol, src, tgt)
			old, _ := sim.UserByUsername(*victim.Set.Username)
			sim.RemoveUser(old.ID)

			rep, err := engine.Execute(ctx, engine.Run{Policy: pol, Source: src, Target: tgt, Retry: 1})
			if err != nil || rep.Outcome != engine.Succeeded {
				t.Fatalf("outcome %s, err %v, first failure %v", rep.Outcome, err, firstErr(rep))
			}
			u, ok := sim.UserByUsername(*victim.Set.Username)
			if !ok {
				t.Fatalf("no user %s was created", *victim.Set.Username)
			}
			if u.FirstName != patron.FirstName || u.LastName != patron.LastName || u.Email != patron.Email {
				t.Errorf("created %+v, want Destiny's %s %s <%s>", u, patron.FirstName, patron.LastName, patron.Email)
			}
			tt.want(t, patron, u.Password)
			if dev, _ := sim.Device(victim.DeviceKey); dev.OwnerID != u.ID {
				t.Errorf("device owner %d, want the created user %d", dev.OwnerID, u.ID)
			}
			if n := sim.CallCount(jamfschoolsim.PatternCreateUser); n != 1 {
				t.Errorf("%d POST /users, want 1", n)
			}
			if report := fmt.Sprintf("%+v %#v", rep, rep); strings.Contains(report, u.Password) {
				t.Error("the run's report holds the new user's password")
			}
		})
	}
}

// assignedStudent plans a dry run and returns a change that assigns a student (and moves the
// device), with the student's Destiny record.
func assignedStudent(t *testing.T, ctx context.Context, d *district.District, pol plan.Policy, src engine.Source, tgt engine.Target) (plan.Change, *district.Patron) {
	t.Helper()
	dry, err := engine.Execute(ctx, engine.Run{Policy: pol, Source: src, Target: tgt, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range dry.Plan.Changes {
		if c.Set.Username != nil && *c.Set.Username != "" && c.Owner != nil {
			item := d.ItemBySerial(serial.Normalize(c.Serial))
			return c, d.Patron(item.Borrower)
		}
	}
	t.Fatal("no change assigns a student")
	return plan.Change{}, nil
}

// What Apply does with a change assigning a user Jamf School does not have, case by case.
func TestJamfSchoolCreatesAMissingUserOnlyWithCompleteData(t *testing.T) {
	rule := func(text string) *naming.Template { return mustTemplate(t, "target.jamfSchool.newUserPassword", text) }
	ada := naming.Data{DistrictID: "S100", FirstName: "Ada", LastName: "Lovelace", Email: "ada@example.org"}
	owner := func(mod func(o *plan.NewOwner)) *plan.NewOwner {
		o := &plan.NewOwner{Username: "new.student", FirstName: "Ada", LastName: "Lovelace", Email: "ada@example.org", Data: ada}
		if mod != nil {
			mod(o)
		}
		return o
	}
	tests := []struct {
		name       string
		owner      *plan.NewOwner
		wantErr    string // "" : created
		wantPasswd string // "" : any
	}{
		{"complete, with a rule: created with the rendered password", owner(func(o *plan.NewOwner) { o.Password = rule(passwordRule) }), "", "S100-lovelace!"},
		{"complete, no rule: created with a random password", owner(nil), "", ""},
		{"no email: refused before any request, naming it", owner(func(o *plan.NewOwner) { o.Email = "" }), "email empty", ""},
		{"no names: refused before any request, naming them", owner(func(o *plan.NewOwner) { o.FirstName, o.LastName = "", "" }), "firstName, lastName empty", ""},
		{"a rule rendering nothing: refused, naming the rule", owner(func(o *plan.NewOwner) { o.Password = rule("{{.Grade}}") }), "newUserPassword rendered an empty password", ""},
		{"no student data (policy option off): refused, saying so", nil, "createMissingUsers is off", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			d := newDistrict(t, 20)
			sim, tgt := jamfSchoolCreatingSide(t, d)
			devs, err := tgt.Inventory(ctx)
			if err != nil {
				t.Fatal(err)
			}
			username := "new.student"
			c := plan.Change{Serial: devs[0].RawSerial, DeviceKey: devs[0].Key, Ref: devs[0].Ref, Action: plan.ActionReassigned,
				Set: plan.Set{Username: &username}, Owner: tt.owner}

			err = tgt.Apply(ctx, c)
			posts := sim.CallCount(jamfschoolsim.PatternCreateUser)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error with %q", err, tt.wantErr)
				}
				if posts != 0 {
					t.Errorf("%d POST /users, want none", posts)
				}
				if w := sim.Writes(); len(w) != 0 {
					t.Errorf("wrote %+v, want nothing", w)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			u, ok := sim.UserByUsername(username)
			if !ok || u.Email != "ada@example.org" || u.FirstName != "Ada" || u.LastName != "Lovelace" || u.LocationID != devLocation(sim, devs[0].Key) {
				t.Fatalf("created %+v (%v), want Ada in the device's location", u, ok)
			}
			if tt.wantPasswd != "" && u.Password != tt.wantPasswd || tt.wantPasswd == "" && len(u.Password) != school.PasswordLength {
				t.Errorf("password %q, want %q (or random)", u.Password, tt.wantPasswd)
			}
			if dev, _ := sim.Device(devs[0].Key); dev.OwnerID != u.ID {
				t.Errorf("owner %d, want %d", dev.OwnerID, u.ID)
			}
		})
	}
}

func devLocation(sim *jamfschoolsim.Server, udid string) int {
	d, _ := sim.Device(udid)
	return d.LocationID
}

// Two devices of one new student, applied at once, make one user who owns both.
func TestTwoDevicesOfOneNewStudentMakeOneUser(t *testing.T) {
	ctx := context.Background()
	sim, tgt := jamfSchoolCreatingSide(t, newDistrict(t, 20))
	devs, err := tgt.Inventory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	username := "twin.devices"
	o := &plan.NewOwner{Username: username, FirstName: "Two", LastName: "Devices", Email: "two@example.org"}
	var wg gosync.WaitGroup
	errs := make([]error, 2)
	for i := range 2 {
		wg.Go(func() {
			errs[i] = tgt.Apply(ctx, plan.Change{DeviceKey: devs[i].Key, Ref: devs[i].Ref, Set: plan.Set{Username: &username}, Owner: o})
		})
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil {
		t.Fatalf("errors %v", errs)
	}
	if n := sim.CallCount(jamfschoolsim.PatternCreateUser); n != 1 {
		t.Errorf("%d POST /users, want 1", n)
	}
	u, _ := sim.UserByUsername(username)
	for _, dv := range devs[:2] {
		if got, _ := sim.Device(dv.Key); got.OwnerID != u.ID {
			t.Errorf("device %s owner %d, want %d", dv.Key, got.OwnerID, u.ID)
		}
	}
}
