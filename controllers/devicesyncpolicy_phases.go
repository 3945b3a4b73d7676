package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	dsv1 "github.com/k12dev/devicesync-operator/api/v1alpha1"
	"github.com/k12dev/devicesync-operator/internal/schedule"
)

// step is one named phase of a reconcile.
type step struct {
	name string
	run  func(context.Context, *policyScope) error
}

func (r *DeviceSyncPolicyReconciler) steps() []step {
	return []step{
		{"validating", r.validate},
		{"listing runs", r.listRuns},
		{"superseding blocked runs", r.supersedeBlocked},
		{"scheduling", r.scheduleRuns},
		{"handling run-now", r.runNow},
		{"pruning history", r.pruneHistory},
	}
}

// validate parses the schedule and runs the Validator's checks; the Ready condition is computed from them.
func (r *DeviceSyncPolicyReconciler) validate(ctx context.Context, s *policyScope) error {
	sched, err := parseSchedule(s.policy.Spec.Schedule)
	if err != nil {
		s.checks = append(s.checks, Check{Name: "Schedule", Reason: "InvalidSchedule", Message: err.Error()})
	} else {
		s.sched = sched
		s.checks = append(s.checks, Check{Name: "Schedule", OK: true})
	}
	if r.Validator != nil {
		s.checks = append(s.checks, r.Validator.Validate(ctx, s.policy)...)
	}
	s.ready = computeReadiness(s.checks)
	switch {
	case s.ready.stalled:
		s.requeueWithin(r.stalledInterval()) // the watches see a fixed Secret; this catches fixes elsewhere
	case !s.ready.ready:
		s.requeueWithin(r.retryInterval())
	}
	return nil
}

// listRuns finds the runs the policy controls (policyRuns: by label, then by controller reference).
func (r *DeviceSyncPolicyReconciler) listRuns(ctx context.Context, s *policyScope) error {
	runs, err := policyRuns(ctx, r.Client, s.policy)
	if err != nil {
		return err
	}
	s.runs, s.listed = runs, true
	return nil
}

// errNotBlocked refuses to supersede a run that is no longer Blocked.
var errNotBlocked = errors.New("the SyncRun is no longer Blocked")

// scheduleRuns creates the run of the slot that is due, CronJob style.
//
// Nothing is scheduled while the policy is suspended or not Ready, and lastScheduleTime is left alone:
// on resume the slots in between are reported missed and the latest runs if it is within
// startingDeadlineSeconds (as a CronJob does; set the deadline to keep a resumed policy from running
// at once).
//
// Every other outcome advances lastScheduleTime to the newest slot dealt with, so each slot is
// decided once: run, skipped (Forbid), or reported missed (past the deadline).
func (r *DeviceSyncPolicyReconciler) scheduleRuns(ctx context.Context, s *policyScope) error {
	p := s.policy
	s.scheduled = true
	if s.sched == nil || !s.ready.ready || p.Spec.Suspend {
		return nil
	}
	last := p.CreationTimestamp.Time
	if p.Status.LastScheduleTime != nil {
		last = p.Status.LastScheduleTime.Time
	}
	var deadline *time.Duration
	if sec := p.Spec.Schedule.StartingDeadlineSeconds; sec != nil {
		d := time.Duration(*sec) * time.Second
		deadline = &d
	}
	dec := s.sched.Due(last, s.now, deadline)
	s.next = dec.Next
	if !dec.Next.IsZero() {
		s.requeueWithin(dec.Next.Sub(s.now))
	}

	if dec.TooManyMissed {
		s.deferEvent(pendingEvent{eventType: corev1.EventTypeWarning, reason: ReasonTooManyMissedTimes, action: "Schedule",
			note: fmt.Sprintf("more than %d slots were missed since %s, or the clock jumped: only the latest slot within "+
				"startingDeadlineSeconds runs. Set spec.schedule.startingDeadlineSeconds, or check the clock",
				schedule.MaxMissed, r.formatSlot(s, last))})
	}
	if len(dec.Missed) > 0 {
		s.deferEvent(pendingEvent{eventType: corev1.EventTypeNormal, reason: ReasonMissedSchedule, action: "Schedule",
			note: missedNote(s, dec, deadline, r.formatSlot)})
		newest := dec.Missed[len(dec.Missed)-1]
		p.Status.LastScheduleTime = &metav1.Time{Time: newest}
	}
	if dec.Due.IsZero() {
		return nil
	}
	slot := dec.Due
	name := schedule.RunName(p.Name, slot)
	if s.hasRun(name) {
		// The slot's run exists (another reconcile created it and its status patch has not been seen yet).
		p.Status.LastScheduleTime = &metav1.Time{Time: slot}
		return nil
	}

	if active := s.active(); len(active) > 0 {
		switch p.Spec.ConcurrencyPolicy {
		case dsv1.ReplaceConcurrent:
			for i := range active {
				if err := r.deleteRun(ctx, s, &active[i]); err != nil {
					return err
				}
				r.event(p, pendingEvent{eventType: corev1.EventTypeNormal, reason: ReasonRunReplaced, action: "Delete",
					related: &active[i], note: fmt.Sprintf("deleted active run %s to start the %s slot (concurrencyPolicy Replace)",
						active[i].Name, r.formatSlot(s, slot))})
			}
		default: // Forbid, the default
			// The skipped slot stays skipped: a district expects the next slot to run on time, not a
			// late copy of this one the moment the long run ends.
			p.Status.LastScheduleTime = &metav1.Time{Time: slot}
			s.deferEvent(pendingEvent{eventType: corev1.EventTypeNormal, reason: ReasonRunSkipped, action: "Schedule",
				related: &active[0], note: fmt.Sprintf("skipped the %s slot: run %s is still %s (concurrencyPolicy Forbid); next slot %s",
					r.formatSlot(s, slot), active[0].Name, phaseOrPending(active[0].Status.Phase), r.formatSlot(s, dec.Next))})
			return nil
		}
	}

	run := r.newRun(p, name, dsv1.TriggerScheduled, &metav1.Time{Time: slot})
	if _, err := r.createRun(ctx, s, run, fmt.Sprintf("for the %s slot", r.formatSlot(s, slot))); err != nil {
		return err
	}
	p.Status.LastScheduleTime = &metav1.Time{Time: slot}
	return nil
}

// runNow creates a Manual run when the run-now annotation holds a value not yet handled. The run's name
// derives from the value, so a restart between creating the run and saving lastHandledRunNow does not
// create a second one. Manual runs start whatever suspend, concurrencyPolicy or Ready say: the person
// asked for this run now, and the run records its own outcome.
func (r *DeviceSyncPolicyReconciler) runNow(ctx context.Context, s *policyScope) error {
	p := s.policy
	value := p.Annotations[dsv1.RunNowAnnotation]
	if value == "" || value == p.Status.LastHandledRunNow {
		return nil
	}
	name := manualRunName(p.Name, value)
	if !s.hasRun(name) {
		run := r.newRun(p, name, dsv1.TriggerManual, nil)
		if _, err := r.createRun(ctx, s, run, fmt.Sprintf("for the %s annotation", dsv1.RunNowAnnotation)); err != nil {
			return err
		}
	}
	p.Status.LastHandledRunNow = value
	return nil
}

// formatSlot writes a time in the policy's zone, as a district reads it: "Tue 2026-03-10 05:40 CDT".
func (r *DeviceSyncPolicyReconciler) formatSlot(s *policyScope, t time.Time) string {
	if t.IsZero() {
		return "none"
	}
	if s.sched != nil {
		t = t.In(s.sched.Location())
	}
	return t.Format("Mon 2006-01-02 15:04 MST")
}

// missedNote says which slots were missed and which one runs.
func missedNote(s *policyScope, dec schedule.Decision, deadline *time.Duration, format func(*policyScope, time.Time) string) string {
	const listed = 5
	var b strings.Builder
	n := len(dec.Missed)
	fmt.Fprintf(&b, "missed %d slot", n)
	if n != 1 {
		b.WriteString("s")
	}
	if dec.TooManyMissed {
		b.WriteString(" (at least)")
	}
	b.WriteString(": ")
	shown := dec.Missed
	if n > listed {
		shown = dec.Missed[n-listed:]
		fmt.Fprintf(&b, "%d earlier, then ", n-listed)
	}
	for i, t := range shown {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(format(s, t))
	}
	if !dec.Due.IsZero() {
		fmt.Fprintf(&b, "; running only the latest slot, %s", format(s, dec.Due))
	} else {
		fmt.Fprintf(&b, "; the latest is more than startingDeadlineSeconds (%ds) late, so none runs; next slot %s",
			int64(deadline.Seconds()), format(s, dec.Next))
	}
	return b.String()
}

func phaseOrPending(p dsv1.SyncRunPhase) string {
	if p == "" {
		return string(dsv1.PhasePending)
	}
	return string(p)
}
