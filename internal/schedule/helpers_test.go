package schedule

import (
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // zones resolve on any machine, as in the operator binary
)

var allDays = []string{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}

func mustParse(t testing.TB, spec Spec) *Schedule {
	t.Helper()
	s, err := Parse(spec)
	if err != nil {
		t.Fatalf("Parse(%+v): %v", spec, err)
	}
	return s
}

func mustLoad(t testing.TB, zone string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatalf("LoadLocation(%q): %v", zone, err)
	}
	return loc
}

// at parses an RFC 3339 instant such as "2026-03-10T05:40:00-04:00".
func at(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("bad instant %q: %v", s, err)
	}
	return v
}

// day is midnight UTC of an ISO date: SlotsOn reads only its year, month and day.
func day(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.DateOnly, s)
	if err != nil {
		t.Fatalf("bad date %q: %v", s, err)
	}
	return v
}

// rfc formats instants as RFC 3339 in their own Location, so the UTC offset is visible.
func rfc(ts []time.Time) []string {
	out := make([]string, len(ts))
	for i, v := range ts {
		out[i] = v.Format(time.RFC3339)
	}
	return out
}

// series is n wall times "date T hh:mm offset" from start, every step minutes, all at one offset.
func series(date, offset string, startMin, step, n int) []string {
	out := make([]string, n)
	for i := range n {
		m := startMin + i*step
		out[i] = date + "T" + formatClock(m) + ":00" + offset
	}
	return out
}

func equalStrings(a, b []string) bool {
	return strings.Join(a, "\n") == strings.Join(b, "\n") && len(a) == len(b)
}

func ptr(d time.Duration) *time.Duration { return &d }
