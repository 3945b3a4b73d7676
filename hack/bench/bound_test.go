package main

import (
	"testing"
	"time"
)

func TestLowerBound(t *testing.T) {
	const ms = time.Millisecond
	limits := Limits{Destiny: 10, Jamf: 5}
	cases := []struct {
		name  string
		calls Calls
		want  time.Duration
	}{
		{"no calls cost nothing", Calls{}, 0},
		{"Destiny slower than Jamf: the reads cost Destiny's rounds", Calls{Destiny: 100, JamfReads: 10}, 10 * 20 * ms},
		{"Jamf slower than Destiny: the reads cost Jamf's rounds", Calls{Destiny: 10, JamfReads: 50}, 10 * 20 * ms},
		{"writes follow the reads on Jamf's slots", Calls{Destiny: 100, JamfReads: 10, JamfWrites: 25}, (10 + 5) * 20 * ms},
		{"a partial round costs a whole latency", Calls{Destiny: 11}, 2 * 20 * ms},
		{"one write still costs one latency", Calls{JamfWrites: 1}, 20 * ms},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := LowerBound(tc.calls, limits, 20*ms); got != tc.want {
				t.Errorf("LowerBound(%+v) = %s, want %s", tc.calls, got, tc.want)
			}
		})
	}
}

func TestLowerBoundLimitBelowOneCountsAsOne(t *testing.T) {
	if got := LowerBound(Calls{Destiny: 3}, Limits{}, time.Second); got != 3*time.Second {
		t.Errorf("got %s, want 3s", got)
	}
}

func TestSharedBound(t *testing.T) {
	cases := []struct {
		name string
		runs []Calls
		want time.Duration
	}{
		{"no runs", nil, 0},
		{"one host serves every run's reads and writes in turn", []Calls{{JamfReads: 6, JamfWrites: 4}, {JamfReads: 10}}, 4 * time.Second},
		{"Destiny calls are on other hosts and do not count", []Calls{{Destiny: 1000, JamfReads: 5}}, time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := SharedBound(tc.runs, 5, time.Second); got != tc.want {
				t.Errorf("SharedBound = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestRatio(t *testing.T) {
	cases := []struct {
		name        string
		wall, bound time.Duration
		want        float64
	}{
		{"wall over bound", 3 * time.Second, 2 * time.Second, 1.5},
		{"no bound, no ratio", time.Second, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Ratio(tc.wall, tc.bound); got != tc.want {
				t.Errorf("Ratio(%s, %s) = %v, want %v", tc.wall, tc.bound, got, tc.want)
			}
		})
	}
}

func TestRunIndex(t *testing.T) {
	cases := []struct {
		name  string
		run   string
		round int
		want  int
		ok    bool
	}{
		{"a run of this round names its district", policyName(7) + "-r2", 2, 7, true},
		{"a run of another round is not counted", policyName(7) + "-r1", 2, 0, false},
		{"a run the benchmark did not create is not counted", "district-07-now-1a2b3c4d", 2, 0, false},
		{"another policy's run is not counted", "lincoln-ipads-r2", 2, 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := runIndex(tc.run, tc.round)
			if ok != tc.ok || (ok && got != tc.want) {
				t.Errorf("runIndex(%q, %d) = %d, %v; want %d, %v", tc.run, tc.round, got, ok, tc.want, tc.ok)
			}
		})
	}
}
