package schedule

import "time"

// civilDay is a local calendar date, held as midnight UTC of that date so that stepping days and
// reading the weekday never depend on a time zone.
type civilDay time.Time

func dayOf(y int, m time.Month, d int) civilDay {
	return civilDay(time.Date(y, m, d, 0, 0, 0, 0, time.UTC))
}

// localDay is the calendar date of instant t in loc.
func localDay(t time.Time, loc *time.Location) civilDay {
	y, m, d := t.In(loc).Date()
	return dayOf(y, m, d)
}

func (c civilDay) add(days int) civilDay  { return civilDay(time.Time(c).AddDate(0, 0, days)) }
func (c civilDay) before(o civilDay) bool { return time.Time(c).Before(time.Time(o)) }

// SlotsOn returns the slots of one local calendar day, in the schedule's zone, as strictly
// increasing instants; none when the day is not one of the schedule's days.
//
// The day is date's year, month and day as read in date's own Location: pass
// time.Date(2026, 3, 8, 0, 0, 0, 0, time.UTC) for 8 March 2026, or t.In(s.Location()) for the local
// day containing the instant t.
func (s *Schedule) SlotsOn(date time.Time) []time.Time {
	y, m, d := date.Date()
	return s.slotsOn(dayOf(y, m, d))
}

func (s *Schedule) slotsOn(day civilDay) []time.Time {
	t := time.Time(day)
	if !s.days[t.Weekday()] {
		return nil
	}
	y, m, d := t.Date()
	out := make([]time.Time, 0, (s.endMin-s.startMin)/s.everyMin+1)
	for min := s.startMin; min <= s.endMin; min += s.everyMin {
		inst := resolveWallTime(s.loc, y, m, d, min)
		if n := len(out); n > 0 && !inst.After(out[n-1]) {
			continue // a wall time in a DST gap landing on a slot already taken
		}
		out = append(out, inst)
	}
	return out
}

// Next returns the first slot strictly after after. A parsed schedule has at least one day, so a
// slot always exists within a week of after's local date. Slots of earlier local days all fall
// before after: a slot is the first occurrence of its wall time, or the end of a gap, which is on
// the following local day at the earliest.
func (s *Schedule) Next(after time.Time) time.Time {
	day := localDay(after, s.loc)
	for k := 0; k <= 8; k++ {
		for _, slot := range s.slotsOn(day.add(k)) {
			if slot.After(after) {
				return slot
			}
		}
	}
	return time.Time{} // unreachable for a Schedule returned by Parse
}

// zonePeriod is a span of instants [start, end) with one UTC offset; a zero start or end is unbounded.
type zonePeriod struct {
	start, end int64
	hasStart   bool
	hasEnd     bool
	offset     int64
}

func (p zonePeriod) contains(u int64) bool {
	return (!p.hasStart || u >= p.start) && (!p.hasEnd || u < p.end)
}

// resolveWallTime returns the instant at which the wall-clock time minute-of-day min on y-m-d
// happens in loc. A wall time that happens twice (DST fall-back) resolves to its first occurrence;
// one that never happens (spring-forward gap) resolves to the first instant after the gap. Unlike
// time.Date, whose choice in those cases is unspecified, the result is defined.
func resolveWallTime(loc *time.Location, y int, m time.Month, d, min int) time.Time {
	// naive is the wall time read as if it were UTC; the instant is naive - offset for the offset in
	// effect at that instant. UTC offsets lie within ±14h, so periods covering naive ± 26h suffice.
	naive := time.Date(y, m, d, 0, min, 0, 0, time.UTC).Unix()
	const span = 26 * 60 * 60
	var periods []zonePeriod
	u := naive - span
	for i := 0; i < 32; i++ {
		t := time.Unix(u, 0).In(loc)
		_, off := t.Zone()
		start, end := t.ZoneBounds()
		p := zonePeriod{offset: int64(off), hasStart: !start.IsZero(), hasEnd: !end.IsZero()}
		if p.hasStart {
			p.start = start.Unix()
		}
		if p.hasEnd {
			p.end = end.Unix()
		}
		periods = append(periods, p)
		if !p.hasEnd || p.end > naive+span || p.end <= u {
			break
		}
		u = p.end
	}

	found := false
	var first int64
	for _, p := range periods {
		if c := naive - p.offset; p.contains(c) && (!found || c < first) {
			found, first = true, c
		}
	}
	if found {
		return time.Unix(first, 0).In(loc)
	}
	// In a gap: the clock jumped from before naive to after it at the boundary between two periods.
	for i := 0; i+1 < len(periods); i++ {
		b := periods[i].end
		if naive >= b+periods[i].offset && naive < b+periods[i+1].offset {
			return time.Unix(b, 0).In(loc)
		}
	}
	return time.Date(y, m, d, 0, min, 0, 0, loc) // not reached with consistent zone data
}
