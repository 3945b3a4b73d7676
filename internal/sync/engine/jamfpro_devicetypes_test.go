package engine_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/k12dev/devicesync-operator/internal/sim/district"
	"github.com/k12dev/devicesync-operator/internal/sync/engine"
	"github.com/k12dev/devicesync-operator/internal/sync/plan"
)

// Apple TVs have no SECURITY section in Jamf Pro's inventory: they are skipped with their own reason on
// every run, never reported Unreadable and never written, whatever Destiny says about them.
func TestAppleTVsAreSkippedUnsupportedDeviceTypeNotUnreadable(t *testing.T) {
	ctx := context.Background()
	d := newDistrict(t, 300)
	_, src := destinySide(t, d)
	sim, tgt := jamfProSide(t, d, 5)
	tgt.PendingLostMode = true
	tvs := map[string]bool{}
	for _, dev := range d.Devices {
		// Devices a run would write (a stale name, a lost device): as Apple TVs they must be left alone.
		if (dev.Case == district.CaseStaleName || dev.Case == district.CaseLost) && len(tvs) < 4 {
			sim.SetModel(dev.ID, "Apple TV 4K (3rd generation)")
			tvs[strconv.Itoa(dev.ID)] = true
		}
	}
	if len(tvs) < 2 {
		t.Fatalf("the district has only %d devices to turn into Apple TVs", len(tvs))
	}
	before := map[string]string{}
	for key := range tvs {
		id, _ := strconv.Atoi(key)
		dev, _ := sim.Device(id)
		before[key] = dev.Name
	}
	for run := 1; run <= 2; run++ {
		rep, err := engine.Execute(ctx, engine.Run{Policy: defaultPolicy(t, d), Source: src, Target: tgt})
		if err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		got := map[string]string{}
		for _, sk := range rep.Plan.Skips {
			if tvs[sk.DeviceKey] {
				got[sk.DeviceKey] = sk.Reason
			}
		}
		for key := range tvs {
			if got[key] != plan.ReasonUnsupportedDeviceType {
				t.Errorf("run %d: Apple TV %s skipped %q, want %s", run, key, got[key], plan.ReasonUnsupportedDeviceType)
			}
		}
		if n := rep.Plan.Counts.ByReason[plan.ReasonUnreadable]; n != 0 {
			t.Errorf("run %d: %d devices reported Unreadable", run, n)
		}
		for _, c := range rep.Plan.Changes {
			if tvs[c.DeviceKey] {
				t.Errorf("run %d: a change planned for Apple TV %s: %+v", run, c.DeviceKey, c)
			}
		}
	}
	for key, name := range before {
		id, _ := strconv.Atoi(key)
		if dev, _ := sim.Device(id); dev.Name != name || dev.LostMode {
			t.Errorf("Apple TV %s was written: name %q (was %q), Lost Mode %v", key, dev.Name, name, dev.LostMode)
		}
	}
	for _, c := range sim.Commands() {
		for key := range tvs {
			id, _ := strconv.Atoi(key)
			if dev, _ := sim.Device(id); dev.ManagementID == c.ManagementID {
				t.Errorf("an MDM command %s was sent to Apple TV %s", c.Type, key)
			}
		}
	}
}
