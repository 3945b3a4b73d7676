package main

import "time"

// Calls are what one run asked of each system, counted by the simulators.
type Calls struct {
	// Destiny is every Destiny request (token, resource types, pages, counts, patron lookups).
	Destiny int
	// JamfReads is every Jamf request that is not a write (token, inventory pages, lists, commands).
	JamfReads int
	// JamfWrites is every device PATCH and MDM command.
	JamfWrites int
}

// Limits are the requests each system allows in flight at once.
type Limits struct {
	Destiny, Jamf int
}

// LowerBound is the least time any client needs for calls at latency per call under limits: Destiny
// and Jamf are read at the same time, so the reads cost the slower of the two; the writes follow the
// reads (they depend on the plan) and use Jamf's slots alone.
//
//	max(Destiny / Limits.Destiny, JamfReads / Limits.Jamf) x latency  +  JamfWrites / Limits.Jamf x latency
//
// Calls cannot be split, so a system with fewer calls than slots still costs one latency: the bound
// rounds each quotient up.
func LowerBound(c Calls, l Limits, latency time.Duration) time.Duration {
	reads := max(rounds(c.Destiny, l.Destiny), rounds(c.JamfReads, l.Jamf))
	return time.Duration(reads+rounds(c.JamfWrites, l.Jamf)) * latency
}

// SharedBound is the least time for runs whose Jamf calls all go to one host under limit jamf: that
// host serves every read and write of them one slot at a time, whatever else runs in parallel.
func SharedBound(runs []Calls, jamf int, latency time.Duration) time.Duration {
	n := 0
	for _, c := range runs {
		n += c.JamfReads + c.JamfWrites
	}
	return time.Duration(rounds(n, jamf)) * latency
}

// rounds is how many rounds of at most limit parallel calls n calls need (a limit below 1 is 1).
func rounds(n, limit int) int {
	limit = max(limit, 1)
	return (n + limit - 1) / limit
}

// Ratio is wall / bound (0 when there is no bound, as with no latency).
func Ratio(wall, bound time.Duration) float64 {
	if bound <= 0 {
		return 0
	}
	return wall.Seconds() / bound.Seconds()
}
