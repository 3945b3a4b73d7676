package controllers

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dsv1 "github.com/k12dev/devicesync-operator/api/v1alpha1"
	"github.com/k12dev/devicesync-operator/internal/metrics"
)

// maxHistory is how many finished runs status.history lists (the API's MaxItems).
const maxHistory = 10

// maxMessage bounds the messages copied from runs into the policy's status.
const maxMessage = 256

// readiness is the Ready condition computed from the checks, and whether the policy is Stalled.
type readiness struct {
	ready           bool
	reason, message string
	// stalled: a failed check needs a person (not transient).
	stalled                       bool
	stalledReason, stalledMessage string
}

// computeReadiness turns check results into the Ready condition: True when every check passed;
// otherwise False with the reason of the first failed check and the messages of all failed checks,
// in order. The policy is Stalled when a failed check is not transient (it will not clear by itself).
// The message of a Ready policy is written by computeStatus, which knows the next slot.
func computeReadiness(checks []Check) readiness {
	var failed []Check
	for _, c := range checks {
		if !c.OK {
			failed = append(failed, c)
		}
	}
	if len(failed) == 0 {
		return readiness{ready: true, reason: ReasonReady}
	}
	rd := readiness{reason: failed[0].Reason, message: joinMessages(failed)}
	var permanent []Check
	for _, c := range failed {
		if !c.Transient {
			permanent = append(permanent, c)
		}
	}
	if len(permanent) > 0 {
		rd.stalled = true
		rd.stalledReason = permanent[0].Reason
		rd.stalledMessage = joinMessages(permanent)
	}
	return rd
}

func joinMessages(checks []Check) string {
	msgs := make([]string, 0, len(checks))
	for _, c := range checks {
		m := c.Message
		if m == "" {
			m = c.Name + " check failed"
		}
		msgs = append(msgs, m)
	}
	return strings.Join(msgs, "; ")
}

// computeStatus writes the whole status of the policy from the scope: what the steps decided
// (lastScheduleTime, lastHandledRunNow), the schedule, the runs as they now are, and the conditions.
func (r *DeviceSyncPolicyReconciler) computeStatus(s *policyScope) {
	p := s.policy
	st := &p.Status
	st.ObservedGeneration = p.Generation

	st.Schedule = ""
	if s.sched != nil {
		st.Schedule = s.sched.String()
	}
	if s.scheduled {
		st.NextScheduleTime = nil
		if !s.next.IsZero() {
			st.NextScheduleTime = &metav1.Time{Time: s.next}
		}
	}

	if s.listed {
		r.computeRunStatus(s)
	}

	// Conditions.
	ready := metav1.Condition{Type: dsv1.ConditionReady, Status: metav1.ConditionFalse, Reason: s.ready.reason,
		Message: s.ready.message, ObservedGeneration: p.Generation}
	if s.ready.ready {
		ready.Status = metav1.ConditionTrue
		ready.Message = r.readyMessage(s)
	}
	meta.SetStatusCondition(&st.Conditions, ready)
	if s.ready.stalled {
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: dsv1.ConditionStalled, Status: metav1.ConditionTrue,
			Reason: s.ready.stalledReason, Message: s.ready.stalledMessage, ObservedGeneration: p.Generation})
	} else {
		meta.RemoveStatusCondition(&st.Conditions, dsv1.ConditionStalled)
	}
	// kstatus Reconciling is true while work for the observed generation is still in progress: here, while
	// a transient failure is retried (Flux's ProgressingWithRetry; Ready=False keeps the failure's reason
	// and message). A reconcile is otherwise synchronous, so it is never left set; a Stalled policy waits
	// for a person and is not reconciling.
	if !s.ready.ready && !s.ready.stalled {
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: dsv1.ConditionReconciling, Status: metav1.ConditionTrue,
			Reason: ReasonProgressingWithRetry, Message: fmt.Sprintf("retrying every %s: %s", r.retryInterval(), s.ready.message),
			ObservedGeneration: p.Generation})
	} else {
		meta.RemoveStatusCondition(&st.Conditions, dsv1.ConditionReconciling)
	}
}

// computeRunStatus writes the fields that come from the runs: active, history and the latest results.
// It is skipped when the runs could not be listed, so a failed list does not empty them.
func (r *DeviceSyncPolicyReconciler) computeRunStatus(s *policyScope) {
	st := &s.policy.Status
	// Active runs, oldest first.
	st.Active = nil
	for _, run := range s.runs {
		if isActive(run.Status.Phase) {
			st.Active = append(st.Active, dsv1.RunReference{Name: run.Name, ScheduledTime: run.Spec.ScheduledTime})
		}
	}
	sort.SliceStable(st.Active, func(i, j int) bool {
		a, b := runByName(s.runs, st.Active[i].Name), runByName(s.runs, st.Active[j].Name)
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return a.CreationTimestamp.Before(&b.CreationTimestamp)
		}
		return a.Name < b.Name
	})

	// History: the remaining finished runs, newest first. Blocked runs are listed: their message says
	// what waits for approval.
	var finished []dsv1.SyncRun
	for _, run := range s.runs {
		if !isActive(run.Status.Phase) {
			finished = append(finished, run)
		}
	}
	sortOldestFirst(finished)
	st.History = nil
	for i := len(finished) - 1; i >= 0 && len(st.History) < maxHistory; i-- {
		st.History = append(st.History, runResult(&finished[i]))
	}

	// Latest results, from the runs seen in this reconcile including those just pruned (a history limit
	// of 0 must not erase lastSuccessfulTime). They never move backwards.
	seen := append(append([]dsv1.SyncRun(nil), finished...), s.pruned...)
	sortOldestFirst(seen)
	if n := len(seen); n > 0 {
		newest := &seen[n-1]
		if latestResultTime(st) == nil || !finishedAt(newest).Before(latestResultTime(st).Time) {
			st.LastRunResult = newest.Status.Phase
		}
	}
	for i := range seen {
		run := &seen[i]
		at := metav1.NewTime(finishedAt(run))
		if good := run.Status.Phase == dsv1.PhaseSucceeded || run.Status.Phase == dsv1.PhasePartiallyFailed; good &&
			run.Status.Mode != dsv1.ModeDryRun && run.Status.Summary.DestinyItems > 0 &&
			(st.LastGoodSource == nil || !at.Before(&st.LastGoodSource.Time)) {
			st.LastGoodSource = &dsv1.SourceBaseline{Items: run.Status.Summary.DestinyItems, RosterRows: run.Status.Summary.RosterRows,
				Run: run.Name, Time: at}
		}
		switch run.Status.Phase {
		case dsv1.PhaseSucceeded:
			if st.LastSuccessfulTime == nil || st.LastSuccessfulTime.Before(&at) {
				st.LastSuccessfulTime = &at
			}
		case dsv1.PhaseFailed, dsv1.PhasePartiallyFailed:
			if st.LastFailureTime == nil || st.LastFailureTime.Before(&at) {
				st.LastFailureTime = &at
			}
		}
	}
}

// readyMessage is the message of a Ready policy: what its schedule will do next, and any warnings.
func (r *DeviceSyncPolicyReconciler) readyMessage(s *policyScope) string {
	msg := r.scheduleMessage(s)
	// Passing checks may carry a warning (a Jamf School policy managing fields Jamf School cannot write).
	for _, c := range s.checks {
		if c.OK && c.Message != "" {
			msg += "; " + c.Message
		}
	}
	return msg
}

// scheduleMessage says what the schedule will do next.
func (r *DeviceSyncPolicyReconciler) scheduleMessage(s *policyScope) string {
	next := s.policy.Status.NextScheduleTime
	switch {
	case s.policy.Spec.Suspend:
		return "suspended: no scheduled runs; the run-now annotation still starts a run"
	case next == nil:
		return "schedule valid; no upcoming slot"
	default:
		return "schedule valid; next run " + r.formatSlot(s, next.Time)
	}
}

// latestResultTime is the newest of lastSuccessfulTime and lastFailureTime.
func latestResultTime(st *dsv1.DeviceSyncPolicyStatus) *metav1.Time {
	a, b := st.LastSuccessfulTime, st.LastFailureTime
	switch {
	case a == nil:
		return b
	case b == nil || b.Before(a):
		return a
	default:
		return b
	}
}

func runByName(runs []dsv1.SyncRun, name string) *dsv1.SyncRun {
	for i := range runs {
		if runs[i].Name == name {
			return &runs[i]
		}
	}
	return &dsv1.SyncRun{}
}

// runResult is the one-line summary of a finished run.
func runResult(run *dsv1.SyncRun) dsv1.RunResult {
	res := dsv1.RunResult{
		Name:           run.Name,
		Phase:          run.Status.Phase,
		CompletionTime: run.Status.CompletionTime,
		Changed:        run.Status.Summary.Changed,
		Failed:         run.Status.Summary.Failed,
	}
	switch run.Status.Phase {
	case dsv1.PhaseBlocked:
		if run.Status.Blocked != nil {
			res.Message = run.Status.Blocked.Message
		}
	case dsv1.PhaseFailed, dsv1.PhasePartiallyFailed:
		if c := meta.FindStatusCondition(run.Status.Conditions, dsv1.ConditionFailed); c != nil && c.Message != "" {
			res.Message = c.Message
		} else if len(run.Status.Errors) > 0 {
			res.Message = run.Status.Errors[0].Message
		}
	}
	res.Message = truncate(res.Message, maxMessage)
	return res
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("...")
	for cut > 0 && !isRuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// patchStatus saves the computed status in one patch, when it changed. The patch carries the
// resourceVersion read at the start: a reconcile that decided on a stale policy fails with a
// conflict (and is retried) instead of overwriting a newer lastScheduleTime.
func (r *DeviceSyncPolicyReconciler) patchStatus(ctx context.Context, s *policyScope) error {
	if equality.Semantic.DeepEqual(s.original.Status, s.policy.Status) {
		return nil
	}
	return r.Status().Patch(ctx, s.policy, client.MergeFromWithOptions(s.original, client.MergeFromWithOptimisticLock{}))
}

// emitDeferred records the decision events once the status recording the decisions is saved.
func (r *DeviceSyncPolicyReconciler) emitDeferred(s *policyScope) {
	for _, e := range s.deferred {
		r.event(s.policy, e)
	}
	s.deferred = nil
}

// recordMetrics exports the policy's readiness, next slot and blocked runs.
func (r *DeviceSyncPolicyReconciler) recordMetrics(s *policyScope) {
	ns, name := s.policy.Namespace, s.policy.Name
	metrics.SetPolicyReady(ns, name, s.ready.ready)
	var lastSuccess time.Time
	if t := s.policy.Status.LastSuccessfulTime; t != nil {
		lastSuccess = t.Time
	}
	metrics.ObservePolicy(ns, name, lastSuccess)
	if s.scheduled {
		metrics.SetNextRun(ns, name, s.next)
	}
	if !s.listed {
		return
	}
	blocked := 0
	for _, run := range s.runs {
		if run.Status.Phase == dsv1.PhaseBlocked {
			blocked++
		}
	}
	metrics.SetBlockedRuns(ns, name, blocked)
}
