package schedule

import "time"

// Bounds of the scan Due makes when the last scheduled time is long ago, like the CronJob
// controller's "too many missed start times" guard.
const (
	// MaxMissed is the most missed slots Due lists; beyond it Decision.TooManyMissed is set.
	MaxMissed = 100
	// MaxScanDays is how many local days before now Due looks at, at most.
	MaxScanDays = 400
)

// Decision is what Due found.
type Decision struct {
	// Due is the slot to run now, or zero when none is due.
	Due time.Time
	// Missed are the slots in (last, now] that will not run, oldest first: older slots superseded by
	// a later one, and the latest slot too when it is past the starting deadline. At most MaxMissed,
	// the most recent ones. The newest missed slot is Missed[len(Missed)-1].
	Missed []time.Time
	// TooManyMissed reports that more slots were missed than Missed lists (more than MaxMissed, or
	// last lies beyond the MaxScanDays scan): set startingDeadlineSeconds, or check the clock.
	TooManyMissed bool
	// Next is the first slot strictly after now (and after last, when last is in the future
	// because of clock skew): requeue for Next.Sub(now).
	Next time.Time
}

// Due decides, CronJob style, what to run at now.
//
// last is the policy's status.lastScheduleTime, or, when the policy has never been scheduled, its
// metadata.creationTimestamp (the caller supplies it, as the CronJob controller does), so slots
// before the policy existed never run. A zero last means "history unknown": Due then looks back
// MaxScanDays and reports TooManyMissed when it found slots.
//
// Of the slots in (last, now], only the latest runs, and only when startingDeadline is nil or
// slot + startingDeadline >= now; a negative deadline counts as zero. The others are missed. A slot
// equal to last has already run and is never due again.
func (s *Schedule) Due(last, now time.Time, startingDeadline *time.Duration) Decision {
	var dec Decision
	if last.After(now) {
		dec.Next = s.Next(last)
	} else {
		dec.Next = s.Next(now)
	}
	if !now.After(last) {
		return dec
	}

	// Walk backwards from now, newest slot first, until last is reached or the bounds are hit.
	found := make([]time.Time, 0, 8) // newest first
	complete := false
	lastDay := localDay(last, s.loc).add(-1)
	day := localDay(now, s.loc).add(1)
scan:
	for i := 0; i < MaxScanDays+2; i++ {
		slots := s.slotsOn(day)
		for j := len(slots) - 1; j >= 0; j-- {
			t := slots[j]
			if t.After(now) {
				continue
			}
			if !t.After(last) {
				complete = true
				break scan
			}
			if n := len(found); n > 0 && !t.Before(found[n-1]) {
				continue // the same instant as the first slot of the following day (DST at midnight)
			}
			found = append(found, t)
			if len(found) > MaxMissed+1 {
				break scan
			}
		}
		if day.before(lastDay) {
			complete = true
			break
		}
		day = day.add(-1)
	}
	if len(found) == 0 {
		dec.TooManyMissed = !complete && !last.IsZero()
		return dec
	}

	latest, older := found[0], found[1:]
	deadline := time.Duration(-1)
	if startingDeadline != nil {
		deadline = max(*startingDeadline, 0)
	}
	if startingDeadline == nil || !latest.Add(deadline).Before(now) {
		dec.Due = latest
	} else {
		older = found
	}
	if len(older) > MaxMissed {
		older = older[:MaxMissed]
		dec.TooManyMissed = true
	}
	if !complete {
		dec.TooManyMissed = true
	}
	dec.Missed = make([]time.Time, len(older))
	for i, t := range older {
		dec.Missed[len(older)-1-i] = t
	}
	return dec
}
