package controllers

import (
	"time"

	dsv1 "github.com/k12dev/devicesync-operator/api/v1alpha1"
	"github.com/k12dev/devicesync-operator/internal/sync/engine"
)

// runScope is what the steps of one execution share.
type runScope struct {
	run    *dsv1.SyncRun
	policy *dsv1.DeviceSyncPolicy
	mode   dsv1.SyncMode
	// approvedDigest is the digest the approve annotation names, when it approves the blocked plan.
	approvedDigest string
	// takenOver is true when the run was Running but not executing here: its manager stopped.
	takenOver bool
	compiled  *compiled
	conn      *Connection
	report    *engine.Report
	// attempted maps the device key of every change the apply step attempted to its error (nil: applied).
	attempted map[string]error
	// failure is a run-level failure before the engine ran (reason, message).
	failReason, failMessage string
	// waitingFor names what this run waits for: another run of the policy executing in this manager (the
	// registry wakes this one when it ends), or another manager holding the run's lease
	// (waitingForLease: out of reach, so looked at again after the lease duration).
	waitingFor      string
	waitingForLease bool
}

// runTimeout is the policy's spec.runTimeout (default 1h), at most limit when limit is set.
func (s *runScope) runTimeout(limit time.Duration) time.Duration {
	d := time.Hour
	if t := s.policy.Spec.RunTimeout; t != nil && t.Duration > 0 {
		d = t.Duration
	}
	if limit > 0 {
		d = min(d, limit)
	}
	return d
}

// deadline is when this execution must end: runTimeout from now, on the wall clock, since it bounds real
// work (a run taken over after a restart gets the full timeout again: it re-reads and re-plans anyway).
func (s *runScope) deadline(limit time.Duration) time.Time {
	return time.Now().Add(s.runTimeout(limit))
}
