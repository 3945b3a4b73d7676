package schedule

import (
	"testing"
	"time"
)

func TestSlotsOn(t *testing.T) {
	nyHourly := Spec{TimeZone: "America/New_York", Start: "05:40", End: "17:40", Every: time.Hour}
	nyHourlyDaily := Spec{TimeZone: "America/New_York", Start: "05:40", End: "17:40", Every: time.Hour, Days: allDays}
	berlinHourlyDaily := Spec{TimeZone: "Europe/Berlin", Start: "05:40", End: "17:40", Every: time.Hour, Days: allDays}
	nyNight := Spec{TimeZone: "America/New_York", Start: "00:40", End: "04:40", Every: 30 * time.Minute, Days: allDays}
	berlinNight := Spec{TimeZone: "Europe/Berlin", Start: "00:40", End: "04:40", Every: 30 * time.Minute, Days: allDays}

	tests := []struct {
		name string
		spec Spec
		date string
		want []string
	}{
		{
			name: "a normal weekday in New York hourly 05:40-17:40 has the 13 slots 05:40..17:40",
			spec: nyHourly, date: "2026-03-10", // Tuesday, EDT
			want: series("2026-03-10", "-04:00", 5*60+40, 60, 13),
		},
		{
			name: "a winter weekday in New York has the same wall times at UTC-5",
			spec: nyHourly, date: "2026-01-13", // Tuesday, EST
			want: series("2026-01-13", "-05:00", 5*60+40, 60, 13),
		},
		{name: "Saturday is excluded by the default days", spec: nyHourly, date: "2026-03-14", want: nil},
		{name: "Sunday is excluded by the default days", spec: nyHourly, date: "2026-03-15", want: nil},
		{
			name: "New York spring-forward day leaves a 05:40-17:40 window whole, all 13 slots at EDT",
			spec: nyHourlyDaily, date: "2026-03-08",
			want: series("2026-03-08", "-04:00", 5*60+40, 60, 13),
		},
		{
			name: "New York fall-back day leaves a 05:40-17:40 window whole, all 13 slots at EST",
			spec: nyHourlyDaily, date: "2026-11-01",
			want: series("2026-11-01", "-05:00", 5*60+40, 60, 13),
		},
		{
			name: "Berlin spring-forward day leaves a 05:40-17:40 window whole, all 13 slots at CEST",
			spec: berlinHourlyDaily, date: "2026-03-29",
			want: series("2026-03-29", "+02:00", 5*60+40, 60, 13),
		},
		{
			name: "Berlin fall-back day leaves a 05:40-17:40 window whole, all 13 slots at CET",
			spec: berlinHourlyDaily, date: "2026-10-25",
			want: series("2026-10-25", "+01:00", 5*60+40, 60, 13),
		},
		{
			name: "New York spring forward: wall times in the 02:00-03:00 gap run once, at 03:00 EDT",
			spec: nyNight, date: "2026-03-08",
			want: []string{
				"2026-03-08T00:40:00-05:00", "2026-03-08T01:10:00-05:00", "2026-03-08T01:40:00-05:00",
				"2026-03-08T03:00:00-04:00", // 02:10 moved to the end of the gap; 02:40 lands on it and is dropped
				"2026-03-08T03:10:00-04:00", "2026-03-08T03:40:00-04:00", "2026-03-08T04:10:00-04:00", "2026-03-08T04:40:00-04:00",
			},
		},
		{
			name: "New York spring forward: a gap wall time moved onto a real 03:00 slot runs once",
			spec: Spec{TimeZone: "America/New_York", Start: "01:00", End: "03:30", Every: 30 * time.Minute, Days: allDays},
			date: "2026-03-08",
			want: []string{
				"2026-03-08T01:00:00-05:00", "2026-03-08T01:30:00-05:00",
				"2026-03-08T03:00:00-04:00", // 02:00 and 02:30 do not exist; 03:00 exists
				"2026-03-08T03:30:00-04:00",
			},
		},
		{
			name: "New York fall back: the repeated 01:10 and 01:40 run once, at their first (EDT) occurrence",
			spec: nyNight, date: "2026-11-01",
			want: []string{
				"2026-11-01T00:40:00-04:00", "2026-11-01T01:10:00-04:00", "2026-11-01T01:40:00-04:00",
				"2026-11-01T02:10:00-05:00", "2026-11-01T02:40:00-05:00", "2026-11-01T03:10:00-05:00",
				"2026-11-01T03:40:00-05:00", "2026-11-01T04:10:00-05:00", "2026-11-01T04:40:00-05:00",
			},
		},
		{
			name: "Berlin spring forward: wall times in the 02:00-03:00 gap run once, at 03:00 CEST",
			spec: berlinNight, date: "2026-03-29",
			want: []string{
				"2026-03-29T00:40:00+01:00", "2026-03-29T01:10:00+01:00", "2026-03-29T01:40:00+01:00",
				"2026-03-29T03:00:00+02:00",
				"2026-03-29T03:10:00+02:00", "2026-03-29T03:40:00+02:00", "2026-03-29T04:10:00+02:00", "2026-03-29T04:40:00+02:00",
			},
		},
		{
			name: "Berlin fall back: the repeated 02:10 and 02:40 run once, at their first (CEST) occurrence",
			spec: berlinNight, date: "2026-10-25",
			want: []string{
				"2026-10-25T00:40:00+02:00", "2026-10-25T01:10:00+02:00", "2026-10-25T01:40:00+02:00",
				"2026-10-25T02:10:00+02:00", "2026-10-25T02:40:00+02:00",
				"2026-10-25T03:10:00+01:00", "2026-10-25T03:40:00+01:00", "2026-10-25T04:10:00+01:00", "2026-10-25T04:40:00+01:00",
			},
		},
		{
			name: "a slot falls exactly at the end of the window when the interval divides it",
			spec: Spec{Start: "08:00", End: "09:00", Every: 30 * time.Minute}, date: "2026-03-10",
			want: []string{"2026-03-10T08:00:00Z", "2026-03-10T08:30:00Z", "2026-03-10T09:00:00Z"},
		},
		{
			name: "when the interval does not divide the window the last slot is the last one before the end",
			spec: Spec{TimeZone: "America/New_York", Start: "05:40", End: "17:40", Every: 5 * time.Hour}, date: "2026-03-10",
			want: []string{"2026-03-10T05:40:00-04:00", "2026-03-10T10:40:00-04:00", "2026-03-10T15:40:00-04:00"},
		},
		{
			name: "an interval longer than the window gives one slot, at the start",
			spec: Spec{Start: "05:40", End: "06:00", Every: 24 * time.Hour}, date: "2026-03-10",
			want: []string{"2026-03-10T05:40:00Z"},
		},
		{
			name: "a zone with a 30-minute offset keeps its wall times",
			spec: Spec{TimeZone: "Asia/Kolkata", Start: "07:00", End: "08:00", Every: 30 * time.Minute}, date: "2026-03-10",
			want: []string{"2026-03-10T07:00:00+05:30", "2026-03-10T07:30:00+05:30", "2026-03-10T08:00:00+05:30"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := rfc(mustParse(t, tt.spec).SlotsOn(day(t, tt.date)))
			if !equalStrings(got, tt.want) {
				t.Fatalf("SlotsOn(%s) =\n  %v\nwant\n  %v", tt.date, got, tt.want)
			}
		})
	}
}

func TestSlotsOnReadsTheDateInItsOwnLocation(t *testing.T) {
	ny := mustLoad(t, "America/New_York")
	s := mustParse(t, Spec{TimeZone: "America/New_York", Start: "05:40", End: "06:40"})
	lateTuesday := time.Date(2026, 3, 10, 23, 0, 0, 0, ny) // 03:00 UTC on Wednesday
	tests := []struct {
		name string
		date time.Time
		want string
	}{
		{"a New York evening means that New York day", lateTuesday, "2026-03-10T05:40:00-04:00"},
		{"the same instant in UTC means the UTC day", lateTuesday.UTC(), "2026-03-11T05:40:00-04:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := s.SlotsOn(tt.date)
			if len(got) == 0 || got[0].Format(time.RFC3339) != tt.want {
				t.Fatalf("first slot = %v, want %s", rfc(got), tt.want)
			}
		})
	}
}

func TestNext(t *testing.T) {
	nyHourly := Spec{TimeZone: "America/New_York", Start: "05:40", End: "17:40", Every: time.Hour}
	tests := []struct {
		name  string
		spec  Spec
		after string
		want  string
	}{
		{"before the window the next slot is the start of the same day", nyHourly, "2026-03-10T05:00:00-04:00", "2026-03-10T05:40:00-04:00"},
		{"between slots the next slot is the following one", nyHourly, "2026-03-10T06:00:00-04:00", "2026-03-10T06:40:00-04:00"},
		{"a time exactly at a slot gives the slot after it", nyHourly, "2026-03-10T06:40:00-04:00", "2026-03-10T07:40:00-04:00"},
		{"an instant written in UTC gives the same answer", nyHourly, "2026-03-10T10:00:00Z", "2026-03-10T06:40:00-04:00"},
		{"after the last slot of a Friday the next is Monday at the start", nyHourly, "2026-03-13T17:40:00-04:00", "2026-03-16T05:40:00-04:00"},
		{"on a Saturday the next is Monday at the start", nyHourly, "2026-03-14T12:00:00-04:00", "2026-03-16T05:40:00-04:00"},
		{"a weekend containing spring forward moves the Monday slot to EDT", nyHourly, "2026-03-06T18:00:00-05:00", "2026-03-09T05:40:00-04:00"},
		{"after midnight UTC but before midnight in New York stays on the New York day", nyHourly, "2026-03-11T00:30:00Z", "2026-03-11T05:40:00-04:00"},
		{"in a spring-forward gap the next slot is the end of the gap",
			Spec{TimeZone: "America/New_York", Start: "00:40", End: "04:40", Every: 30 * time.Minute, Days: allDays},
			"2026-03-08T01:40:00-05:00", "2026-03-08T03:00:00-04:00"},
		{"during a fall-back repeat the second occurrence of a wall time is not a slot",
			Spec{TimeZone: "America/New_York", Start: "00:40", End: "04:40", Every: 30 * time.Minute, Days: allDays},
			"2026-11-01T01:40:00-04:00", "2026-11-01T02:10:00-05:00"},
		{"a once-a-week schedule finds next week's day",
			Spec{TimeZone: "Europe/Berlin", Start: "06:00", End: "06:30", Days: []string{"Wed"}},
			"2026-03-11T06:00:00+01:00", "2026-03-18T06:00:00+01:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustParse(t, tt.spec).Next(at(t, tt.after))
			if got.Format(time.RFC3339) != tt.want {
				t.Fatalf("Next(%s) = %s, want %s", tt.after, got.Format(time.RFC3339), tt.want)
			}
		})
	}
}

// TestNextWalksEverySlotOfEveryDayInOrder checks, for zones with unusual DST rules (30-minute
// shifts, transitions at midnight, several a year), that the slots of each day are strictly
// increasing, each is at its wall time unless that wall time does not exist, and Next steps from
// each slot to exactly the following one across the whole year.
func TestNextWalksEverySlotOfEveryDayInOrder(t *testing.T) {
	zones := []string{"America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "America/Havana",
		"America/Santiago", "Africa/Casablanca", "Pacific/Chatham", "Asia/Kolkata", "UTC"}
	for _, zone := range zones {
		t.Run(zone, func(t *testing.T) {
			s := mustParse(t, Spec{TimeZone: zone, Start: "00:00", End: "23:45", Every: 45 * time.Minute, Days: allDays})
			loc := s.Location()
			var prev time.Time
			for d := day(t, "2026-01-01"); d.Year() == 2026; d = d.AddDate(0, 0, 1) {
				slots := s.SlotsOn(d)
				if len(slots) == 0 {
					t.Fatalf("%s: no slots", d.Format(time.DateOnly))
				}
				for _, slot := range slots {
					if !prev.IsZero() {
						if !slot.After(prev) {
							t.Fatalf("%s: slot %s is not after the previous slot %s", d.Format(time.DateOnly), slot, prev)
						}
						if next := s.Next(prev); !next.Equal(slot) {
							t.Fatalf("Next(%s) = %s, want %s", prev, next, slot)
						}
					}
					local := slot.In(loc)
					onGrid := local.Format(time.DateOnly) == d.Format(time.DateOnly) && (local.Hour()*60+local.Minute())%45 == 0 && local.Second() == 0
					if !onGrid && !inGap(loc, slot) {
						t.Fatalf("%s: slot %s is neither at a scheduled wall time nor at the end of a DST gap", d.Format(time.DateOnly), local)
					}
					prev = slot
				}
			}
		})
	}
}

// inGap reports whether t is the first instant after a forward jump of the clock in loc.
func inGap(loc *time.Location, t time.Time) bool {
	_, before := t.Add(-time.Second).In(loc).Zone()
	_, after := t.In(loc).Zone()
	return after > before
}

// Samoa skipped Friday 2011-12-30 entirely (UTC-10 to UTC+14 at midnight): every wall time of that
// day is in the gap, so the day has one slot, at the first instant after it, which is also the
// first slot of 2011-12-31. Next and Due still see that instant once.
func TestADayThatDoesNotExistRunsOnceAtTheEndOfTheGap(t *testing.T) {
	s := mustParse(t, Spec{TimeZone: "Pacific/Apia", Start: "00:00", End: "01:00", Every: 30 * time.Minute, Days: allDays})
	if got, want := rfc(s.SlotsOn(day(t, "2011-12-30"))), []string{"2011-12-31T00:00:00+14:00"}; !equalStrings(got, want) {
		t.Fatalf("SlotsOn(2011-12-30) = %v, want %v", got, want)
	}
	var walk []string
	for v := s.Next(at(t, "2011-12-29T12:00:00-10:00")); len(walk) < 3; v = s.Next(v) {
		walk = append(walk, v.Format(time.RFC3339))
	}
	if want := []string{"2011-12-31T00:00:00+14:00", "2011-12-31T00:30:00+14:00", "2011-12-31T01:00:00+14:00"}; !equalStrings(walk, want) {
		t.Fatalf("Next from 2011-12-29 noon walks %v, want %v", walk, want)
	}
}
