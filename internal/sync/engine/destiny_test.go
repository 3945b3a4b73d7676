package engine_test

import (
	"context"
	"strings"
	"testing"

	"github.com/k12dev/devicesync-operator/internal/serial"
	"github.com/k12dev/devicesync-operator/internal/sim/district"
	"github.com/k12dev/devicesync-operator/internal/sync/engine"
	"github.com/k12dev/devicesync-operator/internal/sync/plan"
)

// TestDestinyBorrowerNotFound: a borrower whose patron status lookup answers 404 fails their device
// with the reason; the device is neither cleared nor reassigned, and every other device is as expected.
func TestDestinyBorrowerNotFound(t *testing.T) {
	d := newDistrict(t, 500)
	dsim, src := destinySide(t, d)
	jsim, tgt := jamfProSide(t, d, 5)
	// A device the run would reassign: Jamf has another user, Destiny has it checked out.
	var item *district.Item
	for i := range d.Items {
		if d.Items[i].Case == district.CaseWrongUser {
			item = &d.Items[i]
			break
		}
	}
	if item == nil {
		t.Fatal("the district has no CaseWrongUser item")
	}
	borrowed := map[string]bool{}
	for _, it := range d.Items {
		if it.Borrower == item.Borrower {
			borrowed[serial.Normalize(it.SerialNumber+it.SerialField)] = true
		}
	}
	if !dsim.RemovePatron(item.Borrower) {
		t.Fatal("no such patron")
	}
	rep, err := engine.Execute(context.Background(), engine.Run{Policy: defaultPolicy(t, d), Source: src, Target: tgt, Retry: 1, Safety: defaultSafety()})
	if err != nil || rep.Outcome != engine.Succeeded {
		t.Fatalf("outcome %s (%v)", rep.Outcome, err)
	}
	if served := dsim.Sim().CallCount(dsim.RoutePatron()); served == 0 {
		t.Fatal("no patron lookups: the test did not exercise the 404")
	}
	var skip *plan.Skip
	for i := range rep.Plan.Skips {
		if s := &rep.Plan.Skips[i]; borrowed[s.Serial] {
			skip = s
		}
	}
	if skip == nil || skip.Reason != plan.ReasonPatronLookupFailed || !strings.Contains(skip.Message, "Destiny has no patron status") ||
		!strings.Contains(skip.Message, item.Borrower) {
		t.Fatalf("skip %+v, want PatronLookupFailed naming the borrower and the 404", skip)
	}
	for i := range d.Devices {
		dev := &d.Devices[i]
		if !borrowed[dev.Serial] {
			continue
		}
		got, _ := jsim.Device(dev.ID)
		if got.Username != dev.Username || got.Name != dev.Name || got.RealName != dev.RealName {
			t.Errorf("device %s changed although its borrower could not be looked up: %+v", dev.Serial, got)
		}
	}
	for _, line := range jsim.Differences(d) {
		mentioned := false
		for s := range borrowed {
			mentioned = mentioned || strings.Contains(line, "("+s+")")
		}
		if !mentioned {
			t.Errorf("another device is not as expected: %s", line)
		}
	}
}

// TestDestinyResourceTypeNames: the policy's names are resolved in Destiny's hierarchy; a full path works
// as a bare name does, and a name found twice fails the run before any write.
func TestDestinyResourceTypeNames(t *testing.T) {
	tests := []struct {
		name          string
		types         []string
		studentTypes  []string
		ambiguous     bool
		wantOutcome   engine.Outcome
		wantErrSubstr string
	}{
		{name: "bare names, as in the policy of most districts", types: []string{"iPad", "Staff iPad"}, studentTypes: []string{"iPad"}, wantOutcome: engine.Succeeded},
		{name: "full paths, any case", types: []string{"Resources/Technology/iPad", "resources/technology/staff ipad"},
			studentTypes: []string{"Resources/Technology/iPad"}, wantOutcome: engine.Succeeded},
		{name: "a name found twice fails the run before any write", types: []string{"iPad", "Staff iPad"}, studentTypes: []string{"iPad"},
			ambiguous: true, wantOutcome: engine.Failed, wantErrSubstr: "Resources/Library/iPad"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDistrict(t, 300)
			dsim, src := destinySide(t, d)
			jsim, tgt := jamfProSide(t, d, 5)
			if tt.ambiguous {
				dsim.AddResourceType(district.ResourceType{ID: 70, GUID: "AAAAAAAA-0000-0000-0000-000000000070", Name: "Library", ParentID: 1})
				dsim.AddResourceType(district.ResourceType{ID: 71, GUID: "AAAAAAAA-0000-0000-0000-000000000071", Name: "iPad", ParentID: 70})
			}
			src.Query.ResourceTypes = tt.types
			pol := defaultPolicy(t, d)
			pol.StudentDeviceTypes = tt.studentTypes
			rep, err := engine.Execute(context.Background(), engine.Run{Policy: pol, Source: src, Target: tgt, Retry: 1})
			if rep.Outcome != tt.wantOutcome {
				t.Fatalf("outcome %s (%v), want %s", rep.Outcome, err, tt.wantOutcome)
			}
			if tt.wantOutcome == engine.Failed {
				if err == nil || !strings.Contains(err.Error(), tt.wantErrSubstr) {
					t.Errorf("error %v, want one naming %q", err, tt.wantErrSubstr)
				}
				if w := writes(jsim); w != 0 {
					t.Fatalf("a run whose source failed wrote %d times", w)
				}
				return
			}
			if wrong := jsim.Differences(d); len(wrong) > 0 {
				t.Fatalf("%d devices not as expected, first: %s", len(wrong), wrong[0])
			}
		})
	}
}
