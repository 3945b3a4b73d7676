package schedule

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// FuzzParse: Parse never panics; it either rejects with an *InvalidSpecError whose every problem
// names a schedule field, or returns a schedule whose normalised spec parses to itself and whose
// slots on a run day are strictly increasing and inside the day's window.
func FuzzParse(f *testing.F) {
	f.Add("America/New_York", "05:40", "17:40", int64(time.Hour), "Mon")
	f.Add("Europe/Berln", "05:40", "05:00", int64(2*time.Minute), "Mnday")
	f.Add("", "0:00", "23:59", int64(5*time.Minute), "sunday")
	f.Add("Local", "24:00", "", int64(-1), "")
	f.Add("../../etc/passwd", "05:4", "5:40am", int64(5*time.Minute+30*time.Second), " FRIDAY ")
	f.Add("Australia/Lord_Howe", "01:30", "02:30", int64(25*time.Hour), "Sat")
	f.Add("Etc/GMT+5", "٠٥:٤٠", "17:40", int64(1<<62), "Mon\x00")
	f.Fuzz(func(t *testing.T, zone, start, end string, every int64, dayName string) {
		spec := Spec{TimeZone: zone, Start: start, End: end, Every: time.Duration(every), Days: []string{dayName}}
		s, err := Parse(spec)
		if err != nil {
			var inv *InvalidSpecError
			if !errors.As(err, &inv) || len(inv.Problems) == 0 {
				t.Fatalf("Parse error %v is not an *InvalidSpecError with problems", err)
			}
			for _, p := range inv.Problems {
				if !strings.HasPrefix(p.Field, "schedule.") || !strings.HasPrefix(p.Message, p.Field) {
					t.Fatalf("problem %+v does not start with its schedule field", p)
				}
			}
			return
		}
		again, err := Parse(s.Spec())
		if err != nil || again.String() != s.String() {
			t.Fatalf("Parse(Spec()) = %v, %v; want %v", again, err, s)
		}
		wd, _ := parseWeekday(dayName)
		date := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		for date.Weekday() != wd {
			date = date.AddDate(0, 0, 1)
		}
		slots := s.SlotsOn(date)
		if len(slots) == 0 {
			t.Fatalf("%v has no slots on %s", s, date.Format(time.DateOnly))
		}
		for i := 1; i < len(slots); i++ {
			if !slots[i].After(slots[i-1]) {
				t.Fatalf("slots not increasing: %v", rfc(slots))
			}
		}
		if next := s.Next(slots[0].Add(-time.Nanosecond)); !next.Equal(slots[0]) {
			t.Fatalf("Next before the first slot = %s, want %s", next, slots[0])
		}
	})
}
