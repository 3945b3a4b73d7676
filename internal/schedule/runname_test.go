package schedule

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// dns1123Subdomain is the Kubernetes object-name rule.
var dns1123Subdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

func TestRunName(t *testing.T) {
	ny := mustLoad(t, "America/New_York")
	slot := time.Date(2026, 3, 10, 5, 40, 0, 0, ny) // 09:40 UTC
	long := "lincoln-unified-school-district-student-ipads-nightly-reassignment"
	tests := []struct {
		name   string
		policy string
		slot   time.Time
		want   string
	}{
		{"a short policy name is followed by the slot's UTC date and time", "district-ipads", slot, "district-ipads-20260310-0940z"},
		{"the slot's Location does not change the name", "district-ipads", slot.UTC(), "district-ipads-20260310-0940z"},
		{"a dotted policy name is kept", "ipads.lincoln", slot, "ipads.lincoln-20260310-0940z"},
		{"a 48-character policy name fits exactly", strings.Repeat("a", 48), slot, strings.Repeat("a", 48) + "-20260310-0940z"},
		{"a long policy name is cut and followed by a hash of the full name", long, slot, "lincoln-unified-school-district-student-7cc47af3-20260310-0940z"},
		{"an invalid policy name is lowercased, sanitised and hashed", "Lincoln_iPads", slot, "lincoln-ipads-5b267ca6-20260310-0940z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := RunName(tt.policy, tt.slot)
			if got != tt.want {
				t.Fatalf("RunName(%q) = %q, want %q", tt.policy, got, tt.want)
			}
			if len(got) > MaxRunNameLength || !dns1123Subdomain.MatchString(got) {
				t.Fatalf("RunName(%q) = %q (%d chars) is not a DNS-1123 name of at most 63 characters", tt.policy, got, len(got))
			}
		})
	}
}

func TestRunNameIsAlwaysAValidName(t *testing.T) {
	slot := time.Date(2026, 3, 10, 9, 40, 0, 0, time.UTC)
	policies := []string{
		strings.Repeat("a", 49),
		strings.Repeat("a", 253),
		strings.Repeat("a.", 40) + "b", // truncation lands next to a dot
		strings.Repeat("ab-", 20),      // truncation lands on a dash
		"-.-",                          // nothing valid left: the hash alone
		"",                             // empty
		"école-élémentaire",            // non-ASCII
		"UPPER.CASE..name--",           // empty parts and trailing dashes
		"x." + strings.Repeat("y", 60) + ".example", // long dotted
	}
	for _, p := range policies {
		got := RunName(p, slot)
		if len(got) > MaxRunNameLength || !dns1123Subdomain.MatchString(got) || !strings.HasSuffix(got, "-20260310-0940z") {
			t.Errorf("RunName(%q) = %q (%d chars): not a valid name ending in the slot", p, got, len(got))
		}
	}
}

func TestRunNameDistinguishes(t *testing.T) {
	ny := mustLoad(t, "America/New_York")
	prefix := strings.Repeat("lincoln-unified-", 4)
	tests := []struct {
		name    string
		policyA string
		slotA   time.Time
		policyB string
		slotB   time.Time
	}{
		{
			name:    "the two occurrences of 01:40 on New York fall-back day",
			policyA: "district-ipads", slotA: time.Date(2026, 11, 1, 5, 40, 0, 0, time.UTC).In(ny), // 01:40 EDT
			policyB: "district-ipads", slotB: time.Date(2026, 11, 1, 6, 40, 0, 0, time.UTC).In(ny), // 01:40 EST
		},
		{
			name:    "two long policy names that share their first 60 characters",
			policyA: prefix + "elementary", slotA: time.Date(2026, 3, 10, 9, 40, 0, 0, time.UTC),
			policyB: prefix + "highschool", slotB: time.Date(2026, 3, 10, 9, 40, 0, 0, time.UTC),
		},
		{
			name:    "a valid name and an invalid name that sanitises to it",
			policyA: "lincoln-ipads", slotA: time.Date(2026, 3, 10, 9, 40, 0, 0, time.UTC),
			policyB: "Lincoln_iPads", slotB: time.Date(2026, 3, 10, 9, 40, 0, 0, time.UTC),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.policyA == tt.policyB && tt.slotA.Format("2006-01-02 15:04") != tt.slotB.Format("2006-01-02 15:04") {
				t.Fatalf("test setup: the two slots should read the same local wall time, got %s and %s", tt.slotA, tt.slotB)
			}
			a, b := RunName(tt.policyA, tt.slotA), RunName(tt.policyB, tt.slotB)
			if a == b {
				t.Fatalf("both give %q", a)
			}
		})
	}
}
