package plan

import (
	"testing"
	"time"
)

func TestDevicesHeldByInactiveStudents(t *testing.T) {
	now := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
	inactive := borrower(func(b *Borrower) { b.Status = "Inactive" })
	seen := func(ago time.Duration) map[string]time.Time { return map[string]time.Time{itemA: now.Add(-ago)} }
	cases := []struct {
		name      string
		after     time.Duration
		firstSeen map[string]time.Time
		policy    func(*Policy)
		item      Item
		device    Device
		// wantHolder: the device is reported; wantLost: this run enables its Lost Mode; wantFirst: when
		// it was first seen.
		wantHolder, wantLost bool
		// wantDue: Lost Mode is due (on already, or enabled now); defaults to wantLost.
		wantDue     bool
		wantFirst   time.Time
		wantLostOff bool
	}{
		{name: "an inactive student's checkout is reported, first seen now", item: item(itemA, serialA, "checked out", inactive),
			device: adaDevice(), wantHolder: true, wantFirst: now},
		{name: "within the grace period it is only reported, keeping when it was first seen", after: 72 * time.Hour, firstSeen: seen(24 * time.Hour),
			item: item(itemA, serialA, "checked out", inactive), device: adaDevice(), wantHolder: true, wantFirst: now.Add(-24 * time.Hour)},
		{name: "past the grace period Lost Mode is enabled", after: 72 * time.Hour, firstSeen: seen(80 * time.Hour),
			item: item(itemA, serialA, "checked out", inactive), device: adaDevice(), wantHolder: true, wantLost: true, wantFirst: now.Add(-80 * time.Hour)},
		{name: "exactly at the end of the grace period Lost Mode is enabled", after: 72 * time.Hour, firstSeen: seen(72 * time.Hour),
			item: item(itemA, serialA, "checked out", inactive), device: adaDevice(), wantHolder: true, wantLost: true, wantFirst: now.Add(-72 * time.Hour)},
		{name: "a device already in Lost Mode stays in it: disableWhenFound does not apply to a withdrawn student", after: 72 * time.Hour, firstSeen: seen(80 * time.Hour),
			item: item(itemA, serialA, "checked out", inactive), device: device(adaDevice(), func(d *Device) { d.LostMode = lost(true) }),
			wantHolder: true, wantDue: true, wantFirst: now.Add(-80 * time.Hour)},
		{name: "without the grace period set, a device in Lost Mode is found again as before", firstSeen: seen(80 * time.Hour),
			item: item(itemA, serialA, "checked out", inactive), device: device(adaDevice(), func(d *Device) { d.LostMode = lost(true) }),
			wantHolder: true, wantFirst: now.Add(-80 * time.Hour), wantLostOff: true},
		{name: "a policy that does not manage Lost Mode only reports", after: 72 * time.Hour, firstSeen: seen(80 * time.Hour),
			policy: func(p *Policy) { p.Manage.LostMode = false }, item: item(itemA, serialA, "checked out", inactive), device: adaDevice(),
			wantHolder: true, wantFirst: now.Add(-80 * time.Hour)},
		{name: "a first-seen time in the future (a clock set back) counts from now", after: time.Hour, firstSeen: seen(-10 * time.Hour),
			item: item(itemA, serialA, "checked out", inactive), device: adaDevice(), wantHolder: true, wantFirst: now},
		{name: "an active student's checkout is not reported", after: time.Hour, item: item(itemA, serialA, "checked out", ada()), device: adaDevice()},
		{name: "an item in transit between schools is not reported", after: time.Hour, firstSeen: seen(80 * time.Hour),
			item: item(itemA, serialA, "in transit", inactive), device: adaDevice()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := defaultPolicy(t)
			p.LostMode.WithdrawnAfter = tc.after
			p.Withdrawn = Withdrawn{FirstSeen: tc.firstSeen, Now: now}
			if tc.policy != nil {
				tc.policy(&p)
			}
			got := Build(p, []Item{tc.item}, []Device{tc.device})
			checkInvariants(t, got)
			if (len(got.Holders) == 1) != tc.wantHolder || len(got.Holders) > 1 {
				t.Fatalf("holders %+v, want reported=%v", got.Holders, tc.wantHolder)
			}
			var lostSet *LostModeCommand
			for _, c := range got.Changes {
				lostSet = c.Set.LostMode
			}
			if tc.wantHolder {
				h := got.Holders[0]
				if h.ItemID != itemA || h.Serial != serialA || h.DeviceKey != devA || h.Site != "LHS" || h.Barcode != "T"+itemA || h.DistrictID != "100001" {
					t.Errorf("holder %+v does not say which device, item, school and student", h)
				}
				if !h.FirstSeen.Equal(tc.wantFirst) || h.LostModeDue != (tc.wantLost || tc.wantDue) {
					t.Errorf("holder first seen %v, Lost Mode due %v; want %v, %v", h.FirstSeen, h.LostModeDue, tc.wantFirst, tc.wantLost || tc.wantDue)
				}
			}
			switch {
			case tc.wantLost && (lostSet == nil || !lostSet.Enable || lostSet.Message == ""):
				t.Errorf("Lost Mode not enabled with the policy's message: %+v", lostSet)
			case tc.wantLostOff && (lostSet == nil || lostSet.Enable):
				t.Errorf("Lost Mode not disabled: %+v", lostSet)
			case !tc.wantLost && !tc.wantLostOff && lostSet != nil:
				t.Errorf("Lost Mode changed: %+v", lostSet)
			}
		})
	}
}
