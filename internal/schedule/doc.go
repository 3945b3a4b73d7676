// Package schedule turns a DeviceSyncPolicy schedule (time zone, daily window, interval, weekdays)
// into the instants at which scheduled SyncRuns fall, and answers the two questions the policy
// controller asks on every reconcile: which slot is due now (CronJob style, with a starting
// deadline and a bound on missed slots), and when the next slot is (to requeue).
//
// It is pure: no Kubernetes imports, no goroutines, no clock. Callers pass the times in (the
// controllers read them from an injected internal/clock.Clock).
//
// # The rules
//
// A Spec is validated and defaulted by Parse:
//
//   - TimeZone is an IANA zone name ("America/New_York"); empty means "UTC". "Local" is rejected,
//     because it would make the schedule depend on the machine the operator runs on.
//   - Start and End are 24-hour wall-clock times "HH:MM" (a one-digit hour such as "5:40" is also
//     accepted). Both are required. The window does not cross midnight: End must be strictly
//     after Start. A window from 22:00 to 02:00 is two policies, or one window 00:00-23:59.
//   - Every is the interval between runs: default 1h, at least 5 minutes, at most 24 hours, and a
//     whole number of minutes. An interval longer than the window gives one run a day, at Start.
//   - Days are weekdays, written as three-letter abbreviations ("Mon") or full English names
//     ("monday"), case-insensitive, surrounding spaces ignored; repeats are harmless. Empty means
//     Monday to Friday. To stop scheduled runs, suspend the policy: a schedule always has a day.
//
// Slots of a day: on each selected local calendar day, slot k is the local wall time
// Start + k*Every (hours and minutes of that day), for k = 0, 1, ... while it is <= End. End is
// inclusive: a slot falls exactly at End when Every divides the window; when it does not, the last
// slot is the last one <= End and the remainder of the window has no run (05:40-17:40 every 5h gives
// 05:40, 10:40, 15:40).
//
// Daylight saving time, in the wall-clock time of the zone:
//
//   - A wall time that does not exist (spring forward, 02:40 in New York on 2026-03-08) runs at
//     the first instant after the gap (03:00 EDT); if that instant is already a slot of the day
//     (two wall times in the same gap, or a slot at the end of the gap), it runs once.
//   - A wall time that happens twice (fall back, 01:40 in New York on 2026-11-01) runs once, at
//     its first occurrence (01:40 EDT).
//
// The slots of a day are therefore strictly increasing instants, and a window that avoids the
// transition hour (05:40-17:40) is not affected at all.
//
// Due follows the CronJob controller: of the slots in (last, now], only the latest may run, and only
// if it is no older than the starting deadline; every other slot is reported as missed. The scan is
// bounded (MaxMissed slots, MaxScanDays days) so a policy that was down for a year costs no more
// than one that was down for a day.
//
// RunName names the SyncRun of a slot deterministically from the policy name and the slot's UTC
// instant, so a slot is never run twice, even across operator restarts and DST fall-back.
package schedule
