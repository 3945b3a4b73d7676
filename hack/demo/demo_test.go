package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	dsv1 "github.com/k12dev/devicesync-operator/api/v1alpha1"
	"github.com/k12dev/devicesync-operator/internal/testenv"
)

// TestDemoOnce runs the demo's whole flow (control plane, simulators, sample policy, manager, run-now,
// verification; for Jamf School also the roster and a second run) with --once semantics on a small
// district, once per target. The demos run one after
// the other, each with its own control plane.
func TestDemoOnce(t *testing.T) {
	assets, err := testenv.AssetsDir()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("KUBEBUILDER_ASSETS", assets)
	outDir := t.TempDir() // shared: the manager log is opened once per process

	tests := []struct {
		name   string
		target string
		// says is what the demo must print about the end state.
		says func(d *demo) string
	}{
		{
			name:   "a Jamf Pro run succeeds and leaves every simulated device as the district's oracle expects",
			target: TargetJamfPro,
			says: func(d *demo) string {
				return fmt.Sprintf("Jamf state: %[1]d of %[1]d devices as expected", len(d.district.Devices))
			},
		},
		{
			name:   "a Jamf School run syncs the roster's users and classes, leaves the ASM class alone, and a second run changes nothing",
			target: TargetJamfSchool,
			says: func(d *demo) string {
				return fmt.Sprintf("Jamf School roster: %d users and %d classes as expected, ASM-managed classes untouched: %d",
					len(d.rosterExp.Users), len(d.rosterExp.Classes), len(d.rosterExp.ASM))
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			cfg := defaultConfig()
			cfg.Once, cfg.Target, cfg.Devices, cfg.Schools, cfg.Seed = true, tc.target, 300, 3, 7
			cfg.MetricsAddr, cfg.Assets, cfg.OutDir = "0", assets, outDir
			cfg.Out, cfg.Progress = &out, &out
			cfg.ReadyTimeout, cfg.RunTimeout, cfg.Poll = 30*time.Second, 30*time.Second, 100*time.Millisecond

			d := newDemo(cfg)
			defer func() {
				d.stop()
				if t.Failed() {
					t.Logf("demo output:\n%s", out.String())
				}
			}()
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			outcome, err := d.run(ctx)
			if err != nil {
				t.Fatalf("demo: %v", err)
			}
			if !outcome.OK {
				t.Fatalf("demo --once would exit 1: %s", outcome.Reason)
			}
			if want := tc.says(d); !strings.Contains(out.String(), want) {
				t.Errorf("the output does not say %q", want)
			}
		})
	}
}

func TestPickChangesShowsEachActionOnceBeforeRepeatingAny(t *testing.T) {
	changes := func(actions ...string) []dsv1.Change {
		var out []dsv1.Change
		for i, a := range actions {
			out = append(out, dsv1.Change{Serial: fmt.Sprint(i), Action: a})
		}
		return out
	}
	serials := func(cs []dsv1.Change) string {
		var s []string
		for _, c := range cs {
			s = append(s, c.Serial)
		}
		return strings.Join(s, ",")
	}
	tests := []struct {
		name string
		in   []dsv1.Change
		n    int
		want string
	}{
		{"each action's first change comes first, then the rest in order", changes("Updated", "Updated", "Cleared", "Updated", "Renamed"), 4, "0,2,4,1"},
		{"fewer changes than asked for are all shown", changes("Updated", "Updated"), 8, "0,1"},
		{"more actions than asked for keeps the first actions", changes("A", "B", "C"), 2, "0,1"},
		{"no changes shows none", nil, 8, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := serials(pickChanges(tc.in, tc.n)); got != tc.want {
				t.Errorf("pickChanges = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestCountsLineSortsByCountThenName(t *testing.T) {
	tests := []struct {
		name string
		in   map[string]int
		skip string
		want string
	}{
		{"largest count first, ties by name", map[string]int{"b": 2, "a": 2, "c": 5}, "", "c 5, a 2, b 2"},
		{"the skipped key and zero counts are left out", map[string]int{"Normal": 9, "Lost": 1, "Found": 0}, "Normal", "Lost 1"},
		{"nothing to count says none", map[string]int{}, "", "none"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := countsLine(tc.in, tc.skip); got != tc.want {
				t.Errorf("countsLine = %q, want %q", got, tc.want)
			}
		})
	}
}
