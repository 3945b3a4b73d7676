package controllers

import (
	"time"

	"k8s.io/apimachinery/pkg/runtime"

	dsv1 "github.com/k12dev/devicesync-operator/api/v1alpha1"
	"github.com/k12dev/devicesync-operator/internal/schedule"
)

// policyScope is what one reconcile of a policy knows and has done. Steps read and write it; the
// status is computed from it once, at the end.
type policyScope struct {
	policy   *dsv1.DeviceSyncPolicy // the object whose status is being computed
	original *dsv1.DeviceSyncPolicy // as read, the base of the status patch
	now      time.Time              // the clock, read once

	sched  *schedule.Schedule // nil when the schedule does not parse
	checks []Check
	ready  readiness

	listed bool           // the runs were listed: the run-derived status can be computed
	runs   []dsv1.SyncRun // runs the policy controls, as they are after this reconcile's creations and deletions
	pruned []dsv1.SyncRun // finished runs the history limits deleted in this reconcile

	scheduled    bool          // the scheduling step ran: next is known
	next         time.Time     // the next slot, zero when no scheduled run will happen
	requeueAfter time.Duration // zero: no timed requeue

	deferred []pendingEvent // emitted only once the status recording the decision is saved
}

// pendingEvent is a Kubernetes event about the policy.
type pendingEvent struct {
	eventType, reason, action, note string
	related                         runtime.Object
}

func newPolicyScope(policy *dsv1.DeviceSyncPolicy, now time.Time) *policyScope {
	return &policyScope{policy: policy, original: policy.DeepCopy(), now: now}
}

// deferEvent queues an event describing a decision (a slot missed or skipped). A reconcile that read a
// stale policy takes the same decision again, but its status patch fails on the resourceVersion, so
// emitting only after the patch succeeds reports each decision once.
func (s *policyScope) deferEvent(e pendingEvent) { s.deferred = append(s.deferred, e) }

// requeueWithin asks for a reconcile no later than d from now.
func (s *policyScope) requeueWithin(d time.Duration) {
	if d <= 0 {
		d = time.Second
	}
	if s.requeueAfter == 0 || d < s.requeueAfter {
		s.requeueAfter = d
	}
}

// active are the runs not finished: Pending, Running, or just created (no phase yet). Blocked runs wait
// for a person and are not active: they must not hold the schedule up for days.
func (s *policyScope) active() []dsv1.SyncRun {
	var out []dsv1.SyncRun
	for _, run := range s.runs {
		if isActive(run.Status.Phase) {
			out = append(out, run)
		}
	}
	return out
}

func (s *policyScope) hasRun(name string) bool {
	for _, run := range s.runs {
		if run.Name == name {
			return true
		}
	}
	return false
}

func (s *policyScope) forget(name string) {
	kept := s.runs[:0]
	for _, run := range s.runs {
		if run.Name != name {
			kept = append(kept, run)
		}
	}
	s.runs = kept
}

func isActive(p dsv1.SyncRunPhase) bool {
	return p == "" || p == dsv1.PhasePending || p == dsv1.PhaseRunning
}
