package engine_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/k12dev/devicesync-operator/internal/serial"
	"github.com/k12dev/devicesync-operator/internal/sim/district"
	jamfschoolsim "github.com/k12dev/devicesync-operator/internal/sim/jamfschool"
	"github.com/k12dev/devicesync-operator/internal/sync/engine"
	"github.com/k12dev/devicesync-operator/internal/sync/plan"
)

// schoolState is the part of a Jamf School device a run may write, and the name it may not.
type schoolState struct {
	Name, Owner, Location string
}

func schoolStateOf(sim *jamfschoolsim.Server, d jamfschoolsim.DeviceState) schoolState {
	st := schoolState{Name: d.Name}
	if u, ok := sim.User(d.OwnerID); ok && d.OwnerID != 0 {
		st.Owner = u.Username
	}
	for _, l := range sim.Locations() {
		if l.ID == d.LocationID {
			st.Location = l.Name
		}
	}
	return st
}

// expectedSchoolState is the Jamf School oracle: owner and location follow Destiny as on Jamf Pro; the name
// and Lost Mode cannot be written, so the devices whose only difference is one of those are left alone.
func expectedSchoolState(d *district.District, dev *district.Device, initial schoolState) schoolState {
	st := initial
	item := d.ItemBySerial(serial.Normalize(dev.Serial))
	switch dev.Case {
	case district.CaseNormal, district.CaseStaleName, district.CaseWrongUser, district.CaseNoUser, district.CaseWrongBuilding,
		district.CaseMessySerial, district.CaseSerialInField, district.CaseFound:
		st.Owner = d.Patron(item.Borrower).Username
		st.Location = d.School(item.SiteShortName).Name
	case district.CaseReturned:
		st.Owner = ""
		st.Location = d.School(item.SiteShortName).Name
	}
	return st
}

func TestJamfSchoolRunWritesOwnerAndLocationAndReportsWhatItCannotWrite(t *testing.T) {
	ctx := context.Background()
	d := newDistrict(t, 1500)
	_, src := destinySide(t, d)
	sim, tgt := jamfSchoolSide(t, d)
	initial := map[string]schoolState{}
	for _, dv := range sim.Devices() {
		initial[dv.UDID] = schoolStateOf(sim, dv)
	}
	pol := defaultPolicy(t, d)
	pol.Location = plan.LocationRules{} // Jamf School devices have no position, room or department
	run := engine.Run{Policy: pol, Source: src, Target: tgt, Retry: 1}

	rep, err := engine.Execute(ctx, run)
	if err != nil {
		t.Fatalf("first run: %v", err)
	}
	if rep.Outcome != engine.Succeeded || rep.Applied == 0 {
		t.Fatalf("first run: outcome %s, %d applied, %d failed; first error %v", rep.Outcome, rep.Applied, rep.FailedChanges, firstErr(rep))
	}
	var wrong []string
	for i := range d.Devices {
		dev := &d.Devices[i]
		got, ok := sim.Device(dev.UDID)
		if !ok {
			t.Fatalf("device %s vanished", dev.UDID)
		}
		if want, have := expectedSchoolState(d, dev, initial[dev.UDID]), schoolStateOf(sim, got); want != have {
			wrong = append(wrong, fmt.Sprintf("%s device %s (%s):\n  want %+v\n  got  %+v", dev.Case, dev.UDID, dev.Serial, want, have))
		}
	}
	if len(wrong) > 0 {
		t.Fatalf("%d of %d devices are not in the expected state:\n%s", len(wrong), len(d.Devices), strings.Join(wrong[:min(len(wrong), 10)], "\n"))
	}

	// The differences Jamf School cannot write are reported, not hidden.
	c := rep.Plan.Counts
	if c.ByReason[plan.ReasonUnsupportedByTarget] == 0 || c.Unsupported <= c.ByReason[plan.ReasonUnsupportedByTarget] {
		t.Errorf("want devices skipped UnsupportedByTarget and changes listing unsupported fields; counts %+v", c)
	}
	if c.ByAction[plan.ActionLostModeEnabled] != 0 || c.ByAction[plan.ActionLostModeDisabled] != 0 || c.ByAction[plan.ActionRenamed] != 0 {
		t.Errorf("planned actions Jamf School cannot do: %v", c.ByAction)
	}
	for _, s := range rep.Plan.Skips {
		if s.Reason == plan.ReasonUnsupportedByTarget && !strings.Contains(s.Message, "Jamf") && !strings.Contains(s.Message, "target") {
			t.Errorf("UnsupportedByTarget skip of %s does not say why: %q", s.Serial, s.Message)
			break
		}
	}

	sim.ResetWrites()
	again, err := engine.Execute(ctx, run)
	if err != nil {
		t.Fatalf("second run: %v", err)
	}
	if len(again.Plan.Changes) != 0 {
		t.Fatalf("second run planned %d changes, want none: %+v", len(again.Plan.Changes), again.Plan.Changes[0])
	}
	if w := sim.Writes(); len(w) != 0 {
		t.Errorf("second run wrote %d times: %+v", len(w), w[0])
	}
}

func TestAJamfSchoolUserThatDoesNotExistFailsThatDeviceOnlyAndTheLocationStillMoves(t *testing.T) {
	ctx := context.Background()
	d := newDistrict(t, 600)
	_, src := destinySide(t, d)
	sim, tgt := jamfSchoolSide(t, d)
	pol := defaultPolicy(t, d)
	pol.Location = plan.LocationRules{}
	dry, err := engine.Execute(ctx, engine.Run{Policy: pol, Source: src, Target: tgt, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	var victim *plan.Change
	for i, c := range dry.Plan.Changes {
		if c.Set.Username != nil && *c.Set.Username != "" && c.Set.Location != nil {
			victim = &dry.Plan.Changes[i]
			break
		}
	}
	if victim == nil {
		t.Fatal("no change assigns a user and moves the device")
	}
	u, ok := sim.UserByUsername(*victim.Set.Username)
	if !ok {
		t.Fatalf("no user %s in the simulator", *victim.Set.Username)
	}
	sim.RemoveUser(u.ID)

	rep, _ := engine.Execute(ctx, engine.Run{Policy: pol, Source: src, Target: tgt, Retry: 1})
	if rep.Outcome != engine.PartiallyFailed || rep.FailedChanges != 1 {
		t.Fatalf("outcome %s with %d failed changes; want PartiallyFailed with one", rep.Outcome, rep.FailedChanges)
	}
	for _, r := range rep.Results {
		if r.Err != nil && (r.Change.Serial != victim.Serial || !strings.Contains(r.Err.Error(), "createMissingUsers")) {
			t.Errorf("failure of %s: %v; want the missing user's device, with what to do", r.Change.Serial, r.Err)
		}
	}
	got, _ := sim.Device(victim.DeviceKey)
	if st := schoolStateOf(sim, got); st.Location != *victim.Set.Location {
		t.Errorf("the device's location is %q; the move does not depend on the owner and must happen (%q)", st.Location, *victim.Set.Location)
	}
}
