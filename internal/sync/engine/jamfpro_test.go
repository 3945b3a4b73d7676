package engine_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/k12dev/devicesync-operator/internal/sim/district"
	jamfprosim "github.com/k12dev/devicesync-operator/internal/sim/jamfpro"
	"github.com/k12dev/devicesync-operator/internal/sync/engine"
	"github.com/k12dev/devicesync-operator/internal/sync/plan"
)

func TestJamfProRunDrivesEveryCaseToTheExpectedStateAndASecondRunChangesNothing(t *testing.T) {
	ctx := context.Background()
	d := newDistrict(t, 1500)
	_, src := destinySide(t, d)
	sim, tgt := jamfProSide(t, d, 5)
	run := engine.Run{Policy: defaultPolicy(t, d), Source: src, Target: tgt, MaxAttempts: 2, Retry: 1}

	rep, err := engine.Execute(ctx, run)
	if err != nil {
		t.Fatalf("first run: %v", err)
	}
	if rep.Outcome != engine.Succeeded || rep.FailedChanges != 0 || rep.Applied != len(rep.Plan.Changes) || rep.Applied == 0 {
		t.Fatalf("first run: outcome %s, %d applied, %d failed of %d changes; first error %v", rep.Outcome, rep.Applied,
			rep.FailedChanges, len(rep.Plan.Changes), firstErr(rep))
	}

	if wrong := sim.Differences(d); len(wrong) > 0 {
		t.Fatalf("%d of %d devices are not in the expected state:\n%s", len(wrong), len(d.Devices), strings.Join(wrong[:min(len(wrong), 10)], "\n"))
	}
	wantReasons := []string{plan.ReasonNoSerial, plan.ReasonDuplicateSerial, plan.ReasonNotInJamf, plan.ReasonNotInDestiny,
		plan.ReasonUnmanaged, plan.ReasonUnsupervised, plan.ReasonNoRuleForStatus, plan.ReasonNotStudentDevice}
	for _, r := range wantReasons {
		if rep.Plan.Counts.ByReason[r] == 0 {
			t.Errorf("the district has %s cases but the plan counts none: %v", r, rep.Plan.Counts.ByReason)
		}
	}
	for _, a := range []string{plan.ActionAssigned, plan.ActionReassigned, plan.ActionUpdated, plan.ActionCleared,
		plan.ActionRenamed, plan.ActionLostModeEnabled, plan.ActionLostModeDisabled} {
		if rep.Plan.Counts.ByAction[a] == 0 {
			t.Errorf("no %s change planned: %v", a, rep.Plan.Counts.ByAction)
		}
	}
	commands := len(sim.Commands())
	if got, want := lostModeCommands(sim), rep.Plan.Counts.ByAction[plan.ActionLostModeEnabled]+rep.Plan.Counts.ByAction[plan.ActionLostModeDisabled]; got != want {
		t.Errorf("%d Lost Mode commands sent, want one per Lost Mode change (%d)", got, want)
	}

	sim.HTTP().ResetCounters()
	again, err := engine.Execute(ctx, run)
	if err != nil {
		t.Fatalf("second run: %v", err)
	}
	if len(again.Plan.Changes) != 0 || again.Outcome != engine.Succeeded {
		t.Fatalf("second run planned %d changes (outcome %s), want none: %+v", len(again.Plan.Changes), again.Outcome, again.Plan.Changes[:min(3, len(again.Plan.Changes))])
	}
	for pattern, n := range sim.HTTP().Calls() {
		if !strings.HasPrefix(pattern, "GET ") && !strings.Contains(pattern, "token") {
			t.Errorf("second run wrote: %d calls to %s", n, pattern)
		}
	}
	if len(sim.Commands()) != commands {
		t.Errorf("second run sent %d more MDM commands", len(sim.Commands())-commands)
	}
}

func firstErr(rep *engine.Report) error {
	if rep.Err != nil {
		return rep.Err
	}
	for _, r := range rep.Results {
		if r.Err != nil {
			return fmt.Errorf("%s: %w", r.Change.Serial, r.Err)
		}
	}
	return nil
}

func lostModeCommands(sim *jamfprosim.Server) int {
	n := 0
	for _, c := range sim.Commands() {
		if strings.HasSuffix(c.Type, "_LOST_MODE") {
			n++
		}
	}
	return n
}

func TestAnOfflineLostIPadIsSentLostModeOnceNotEveryRun(t *testing.T) {
	ctx := context.Background()
	d := newDistrict(t, 800)
	_, src := destinySide(t, d)
	sim, tgt := jamfProSide(t, d, 5)
	tgt.PendingLostMode = true
	offline := 0
	for _, dev := range d.Devices {
		if dev.Case == district.CaseLost || dev.Case == district.CaseStolen {
			sim.SetOffline(dev.ID, true)
			offline++
		}
	}
	if offline == 0 {
		t.Fatal("the district has no lost device")
	}
	run := engine.Run{Policy: defaultPolicy(t, d), Source: src, Target: tgt}
	first, err := engine.Execute(ctx, run)
	if err != nil || first.Plan.Counts.ByAction[plan.ActionLostModeEnabled] != offline {
		t.Fatalf("first run: %v, %d Lost Mode changes, want %d", err, first.Plan.Counts.ByAction[plan.ActionLostModeEnabled], offline)
	}
	second, err := engine.Execute(ctx, run)
	if err != nil || len(second.Plan.Changes) != 0 {
		t.Fatalf("second run while the iPads are offline: %v, %d changes; the pending commands must count as sent", err, len(second.Plan.Changes))
	}
	enables := 0
	for _, c := range sim.Commands() {
		if c.Type == "ENABLE_LOST_MODE" {
			enables++
		}
	}
	if enables != offline {
		t.Fatalf("%d ENABLE_LOST_MODE commands for %d offline lost devices", enables, offline)
	}
	for _, dev := range d.Devices {
		sim.SetOffline(dev.ID, false)
	}
	for i := range d.Devices {
		got, _ := sim.Device(d.Devices[i].ID)
		if want := d.ExpectedJamfPro(&d.Devices[i]); want.LostMode != got.LostMode {
			t.Fatalf("device %d back online: Lost Mode %v, want %v", got.ID, got.LostMode, want.LostMode)
		}
	}
}
