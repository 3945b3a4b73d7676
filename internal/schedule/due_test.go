package schedule

import (
	"testing"
	"time"
)

func TestDue(t *testing.T) {
	// New York, hourly 05:40-17:40, Monday to Friday. 2026-03-10 is a Tuesday (EDT, UTC-4).
	s := mustParse(t, Spec{TimeZone: "America/New_York", Start: "05:40", End: "17:40", Every: time.Hour})
	type want struct {
		due     string // "" for none
		missed  []string
		tooMany bool
		next    string
	}
	tests := []struct {
		name     string
		last     string
		now      string
		deadline *time.Duration
		want     want
	}{
		{
			name: "between slots nothing is due and next is the following slot",
			last: "2026-03-10T05:40:00-04:00", now: "2026-03-10T06:10:00-04:00",
			want: want{next: "2026-03-10T06:40:00-04:00"},
		},
		{
			name: "a slot reached exactly at now is due",
			last: "2026-03-10T05:40:00-04:00", now: "2026-03-10T06:40:00-04:00",
			want: want{due: "2026-03-10T06:40:00-04:00", next: "2026-03-10T07:40:00-04:00"},
		},
		{
			name: "last equal to the latest slot does not run it again",
			last: "2026-03-10T06:40:00-04:00", now: "2026-03-10T06:40:30-04:00",
			want: want{next: "2026-03-10T07:40:00-04:00"},
		},
		{
			name: "a slot missed by less than the starting deadline still runs",
			last: "2026-03-10T05:40:00-04:00", now: "2026-03-10T06:50:00-04:00", deadline: ptr(15 * time.Minute),
			want: want{due: "2026-03-10T06:40:00-04:00", next: "2026-03-10T07:40:00-04:00"},
		},
		{
			name: "a slot missed by exactly the starting deadline still runs",
			last: "2026-03-10T05:40:00-04:00", now: "2026-03-10T06:55:00-04:00", deadline: ptr(15 * time.Minute),
			want: want{due: "2026-03-10T06:40:00-04:00", next: "2026-03-10T07:40:00-04:00"},
		},
		{
			name: "a slot missed by more than the starting deadline is reported missed and not run",
			last: "2026-03-10T05:40:00-04:00", now: "2026-03-10T06:55:01-04:00", deadline: ptr(15 * time.Minute),
			want: want{missed: []string{"2026-03-10T06:40:00-04:00"}, next: "2026-03-10T07:40:00-04:00"},
		},
		{
			name: "a zero starting deadline runs a slot only at its exact instant",
			last: "2026-03-10T05:40:00-04:00", now: "2026-03-10T06:40:01-04:00", deadline: ptr(0),
			want: want{missed: []string{"2026-03-10T06:40:00-04:00"}, next: "2026-03-10T07:40:00-04:00"},
		},
		{
			name: "after an outage only the latest of several missed slots runs",
			last: "2026-03-10T05:40:00-04:00", now: "2026-03-10T09:50:00-04:00",
			want: want{
				due:    "2026-03-10T09:40:00-04:00",
				missed: []string{"2026-03-10T06:40:00-04:00", "2026-03-10T07:40:00-04:00", "2026-03-10T08:40:00-04:00"},
				next:   "2026-03-10T10:40:00-04:00",
			},
		},
		{
			name: "after an outage with a deadline the older slots are missed and the latest runs if within it",
			last: "2026-03-10T05:40:00-04:00", now: "2026-03-10T08:45:00-04:00", deadline: ptr(10 * time.Minute),
			want: want{
				due:    "2026-03-10T08:40:00-04:00",
				missed: []string{"2026-03-10T06:40:00-04:00", "2026-03-10T07:40:00-04:00"},
				next:   "2026-03-10T09:40:00-04:00",
			},
		},
		{
			name: "a weekend has no slots to miss: Monday's first slot runs alone",
			last: "2026-03-13T17:40:00-04:00", now: "2026-03-16T06:00:00-04:00",
			want: want{due: "2026-03-16T05:40:00-04:00", next: "2026-03-16T06:40:00-04:00"},
		},
		{
			name: "the creation time as last keeps slots before the policy existed from running",
			last: "2026-03-10T05:45:00-04:00", now: "2026-03-10T06:00:00-04:00",
			want: want{next: "2026-03-10T06:40:00-04:00"},
		},
		{
			name: "a clock behind last runs nothing and next is after last",
			last: "2026-03-10T08:40:00-04:00", now: "2026-03-10T07:00:00-04:00",
			want: want{next: "2026-03-10T09:40:00-04:00"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := s.Due(at(t, tt.last), at(t, tt.now), tt.deadline)
			if g := fmtOpt(got.Due); g != tt.want.due {
				t.Errorf("Due = %q, want %q", g, tt.want.due)
			}
			if g := rfc(got.Missed); !equalStrings(g, tt.want.missed) {
				t.Errorf("Missed = %v, want %v", g, tt.want.missed)
			}
			if got.TooManyMissed != tt.want.tooMany {
				t.Errorf("TooManyMissed = %v, want %v", got.TooManyMissed, tt.want.tooMany)
			}
			if g := fmtOpt(got.Next); g != tt.want.next {
				t.Errorf("Next = %q, want %q", g, tt.want.next)
			}
		})
	}
}

func fmtOpt(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.RFC3339)
}

func TestDueBoundsTheWorkAfterALongOutage(t *testing.T) {
	s := mustParse(t, Spec{TimeZone: "America/New_York", Start: "05:40", End: "17:40", Every: time.Hour})
	now := at(t, "2026-03-10T10:00:00-04:00")
	tests := []struct {
		name        string
		last        time.Time
		deadline    *time.Duration
		wantDue     string
		wantMissed  int
		wantNewest  string
		wantTooMany bool
	}{
		{
			name: "five weeks of missed slots run only the latest and list the 100 most recent misses",
			last: at(t, "2026-02-02T05:40:00-05:00"), wantDue: "2026-03-10T09:40:00-04:00",
			wantMissed: MaxMissed, wantNewest: "2026-03-10T08:40:00-04:00", wantTooMany: true,
		},
		{
			name: "five weeks of missed slots past the deadline run nothing and list the 100 most recent misses",
			last: at(t, "2026-02-02T05:40:00-05:00"), deadline: ptr(5 * time.Minute),
			wantMissed: MaxMissed, wantNewest: "2026-03-10T09:40:00-04:00", wantTooMany: true,
		},
		{
			name: "exactly 100 missed slots are all listed and not too many",
			last: lastForMissed(t, s, now, MaxMissed), wantDue: "2026-03-10T09:40:00-04:00",
			wantMissed: MaxMissed, wantNewest: "2026-03-10T08:40:00-04:00", wantTooMany: false,
		},
		{
			name: "an unknown last (zero) still runs the latest slot and reports the history as truncated",
			last: time.Time{}, wantDue: "2026-03-10T09:40:00-04:00",
			wantMissed: MaxMissed, wantNewest: "2026-03-10T08:40:00-04:00", wantTooMany: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := s.Due(tt.last, now, tt.deadline)
			if g := fmtOpt(got.Due); g != tt.wantDue {
				t.Errorf("Due = %q, want %q", g, tt.wantDue)
			}
			if len(got.Missed) != tt.wantMissed {
				t.Fatalf("len(Missed) = %d, want %d", len(got.Missed), tt.wantMissed)
			}
			if g := got.Missed[len(got.Missed)-1].Format(time.RFC3339); g != tt.wantNewest {
				t.Errorf("newest missed = %s, want %s", g, tt.wantNewest)
			}
			for i := 1; i < len(got.Missed); i++ {
				if !got.Missed[i].After(got.Missed[i-1]) {
					t.Fatalf("Missed not oldest first at %d: %v", i, rfc(got.Missed[i-1:i+1]))
				}
			}
			if got.TooManyMissed != tt.wantTooMany {
				t.Errorf("TooManyMissed = %v, want %v", got.TooManyMissed, tt.wantTooMany)
			}
		})
	}
}

// lastForMissed returns the slot such that exactly n slots lie strictly between it and the latest
// slot at or before now, walking the schedule with Next from a month before.
func lastForMissed(t *testing.T, s *Schedule, now time.Time, n int) time.Time {
	t.Helper()
	var slots []time.Time
	for v := s.Next(now.AddDate(0, 0, -30)); !v.After(now); v = s.Next(v) {
		slots = append(slots, v)
	}
	if len(slots) < n+2 {
		t.Fatalf("only %d slots in the month before %s", len(slots), now)
	}
	return slots[len(slots)-n-2]
}

func TestDueAcrossFallBackRunsTheRepeatedWallTimeOnce(t *testing.T) {
	s := mustParse(t, Spec{TimeZone: "America/New_York", Start: "00:40", End: "04:40", Every: 30 * time.Minute, Days: allDays})
	first := at(t, "2026-11-01T01:40:00-04:00")  // EDT, the slot
	second := at(t, "2026-11-01T01:40:00-05:00") // EST, the same wall time an hour later
	got := s.Due(first, second, nil)
	if !got.Due.IsZero() || len(got.Missed) != 0 {
		t.Fatalf("Due(last=01:40 EDT, now=01:40 EST) = %+v: the repeated wall time must not run again", got)
	}
	if want := "2026-11-01T02:10:00-05:00"; got.Next.Format(time.RFC3339) != want {
		t.Fatalf("Next = %s, want %s", got.Next.Format(time.RFC3339), want)
	}
}

func TestDueCountsASlotSharedByTwoDaysOnce(t *testing.T) {
	// Samoa skipped 2011-12-30: its one slot is the same instant as 2011-12-31 00:00.
	s := mustParse(t, Spec{TimeZone: "Pacific/Apia", Start: "00:00", End: "01:00", Every: 30 * time.Minute, Days: allDays})
	got := s.Due(at(t, "2011-12-29T01:00:00-10:00"), at(t, "2011-12-31T02:00:00+14:00"), nil)
	if g, want := fmtOpt(got.Due), "2011-12-31T01:00:00+14:00"; g != want {
		t.Errorf("Due = %s, want %s", g, want)
	}
	if g, want := rfc(got.Missed), []string{"2011-12-31T00:00:00+14:00", "2011-12-31T00:30:00+14:00"}; !equalStrings(g, want) {
		t.Errorf("Missed = %v, want %v", g, want)
	}
}
