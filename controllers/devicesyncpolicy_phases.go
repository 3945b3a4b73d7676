package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"

	dsv1 "github.com/k12dev/devicesync-operator/api/v1alpha1"
	"github.com/k12dev/devicesync-operator/internal/schedule"
)

// Event reasons of the policy controller.
const (
	// ReasonRunCreated: a SyncRun was created for a slot or a run-now request.
	ReasonRunCreated = "RunCreated"
	// ReasonMissedSchedule: slots passed while the operator was down (or the policy suspended or not
	// Ready); only the latest within startingDeadlineSeconds runs.
	ReasonMissedSchedule = "MissedSchedule"
	// ReasonTooManyMissedTimes (Warning, as CronJob's): more slots were missed than are listed.
	ReasonTooManyMissedTimes = "TooManyMissedTimes"
	// ReasonRunSkipped: concurrencyPolicy Forbid skipped a slot because a run was still active.
	ReasonRunSkipped = "RunSkipped"
	// ReasonRunReplaced: concurrencyPolicy Replace deleted an active run to start a slot.
	ReasonRunReplaced = "RunReplaced"
	// ReasonRunNameTaken (Warning): a SyncRun with the deterministic name exists and is not the policy's.
	ReasonRunNameTaken = "RunNameTaken"
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

// ReasonSuperseded ends a Blocked run that a newer run of its policy made out of date.
const ReasonSuperseded = "Superseded"

// supersedeBlocked ends the policy's Blocked runs that a newer run made out of date: once a newer run
// has read both systems (finished, in any phase: readBothSystems), an older plan can no longer be
// approved (approving it would re-plan anyway), and without this a policy blocked every hour would pile
// up runs waiting for approval. They end Failed, reason Superseded, so the failed-runs history limit
// prunes them.
func (r *DeviceSyncPolicyReconciler) supersedeBlocked(ctx context.Context, s *policyScope) error {
	for i := range s.runs {
		old := &s.runs[i]
		if old.Status.Phase != dsv1.PhaseBlocked {
			continue
		}
		var newer *dsv1.SyncRun
		for j := range s.runs {
			if n := &s.runs[j]; readBothSystems(n) && supersedes(n, old) && (newer == nil || supersedes(n, newer) || startedLater(n, newer)) {
				newer = n
			}
		}
		if newer == nil {
			continue
		}
		msg := fmt.Sprintf("superseded by the newer run %s (%s): this plan is out of date and can no longer be approved", newer.Name, newer.Status.Phase)
		err := writeRunStatus(ctx, r.Client, r.apiReader(), old, func(run *dsv1.SyncRun) error {
			if run.Status.Phase != dsv1.PhaseBlocked {
				return errNotBlocked // approved and executing again, or ended meanwhile: its own result stands
			}
			now := metav1.NewTime(s.now)
			run.Status.Phase, run.Status.CompletionTime = dsv1.PhaseFailed, &now
			meta.RemoveStatusCondition(&run.Status.Conditions, dsv1.ConditionBlocked)
			setCondition(run, dsv1.ConditionFailed, metav1.ConditionTrue, ReasonSuperseded, msg)
			return nil
		})
		switch {
		case errors.Is(err, errNotBlocked), errors.Is(err, errReplaced):
			continue
		case err != nil:
			return err
		}
		if r.Recorder != nil {
			r.Recorder.Eventf(old, s.policy, corev1.EventTypeNormal, "RunSuperseded", "Supersede", "%s", msg)
		}
	}
	return nil
}

// errNotBlocked refuses to supersede a run that is no longer Blocked.
var errNotBlocked = errors.New("the SyncRun is no longer Blocked")

// supersedes reports whether run n, which read both systems, planned after the Blocked run b. Runs of a
// policy execute one at a time, so a run that started in a later second planned later. Start times
// have a precision of one second: of two runs started within the same second, which planned first is
// not known. Two Blocked plans that close are equally fresh, and the one created later stays (so they
// never pile up); a Blocked run is never superseded by a run of the same second that applied or failed,
// since it may have planned after it (the next run supersedes it). A run not yet started is not ordered.
func supersedes(n, b *dsv1.SyncRun) bool {
	tn, tb := n.Status.StartTime, b.Status.StartTime
	switch {
	case n.UID == b.UID || tn == nil || tb == nil:
		return false
	case !tn.Equal(tb):
		return tb.Before(tn)
	case n.Status.Phase != dsv1.PhaseBlocked:
		return false
	case !n.CreationTimestamp.Equal(&b.CreationTimestamp):
		return b.CreationTimestamp.Before(&n.CreationTimestamp)
	}
	return b.Name < n.Name
}

// startedLater reports whether a started in a later second than b (the newest superseding run is named).
func startedLater(a, b *dsv1.SyncRun) bool {
	return a.Status.StartTime != nil && b.Status.StartTime != nil && b.Status.StartTime.Before(a.Status.StartTime)
}

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

// pruneHistory deletes the oldest finished runs beyond successfulRunsHistoryLimit (Succeeded) and
// failedRunsHistoryLimit (Failed and PartiallyFailed), oldest completion first. Blocked runs wait for
// approval and are never pruned; active runs are not finished. The deletions are logged, not evented:
// an event per pruned run every hour would drown the events that matter.
func (r *DeviceSyncPolicyReconciler) pruneHistory(ctx context.Context, s *policyScope) error {
	succeededLimit, failedLimit := int32(10), int32(5)
	if l := s.policy.Spec.SuccessfulRunsHistoryLimit; l != nil {
		succeededLimit = *l
	}
	if l := s.policy.Spec.FailedRunsHistoryLimit; l != nil {
		failedLimit = *l
	}
	var succeeded, failed []dsv1.SyncRun
	for _, run := range s.runs {
		switch run.Status.Phase {
		case dsv1.PhaseSucceeded:
			succeeded = append(succeeded, run)
		case dsv1.PhaseFailed, dsv1.PhasePartiallyFailed:
			failed = append(failed, run)
		}
	}
	for _, group := range []struct {
		runs  []dsv1.SyncRun
		limit int32
	}{{succeeded, succeededLimit}, {failed, failedLimit}} {
		excess := len(group.runs) - int(max(group.limit, 0))
		if excess <= 0 {
			continue
		}
		sortOldestFirst(group.runs)
		for i := range group.runs[:excess] {
			run := group.runs[i]
			if err := r.deleteRun(ctx, s, &run); err != nil {
				return err
			}
			s.pruned = append(s.pruned, run)
			log.FromContext(ctx).Info("pruned run beyond the history limit", "run", run.Name, "phase", run.Status.Phase)
		}
	}
	return nil
}

// newRun is the SyncRun of a slot or a manual request. It carries the policy label and a controller
// reference to the policy, and nothing else of the policy's metadata: an Argo CD tracking label or
// annotation copied onto runs would make Argo CD prune or adopt them.
func (r *DeviceSyncPolicyReconciler) newRun(p *dsv1.DeviceSyncPolicy, name string, trigger dsv1.Trigger, slot *metav1.Time) *dsv1.SyncRun {
	runLabels := map[string]string{dsv1.PolicyLabel: policyLabelValue(p.Name)}
	if shard, ok := p.Labels[ShardLabel]; ok { // the run goes to its policy's shard
		runLabels[ShardLabel] = shard
	}
	return &dsv1.SyncRun{
		ObjectMeta: metav1.ObjectMeta{
			Name:      name,
			Namespace: p.Namespace,
			Labels:    runLabels,
		},
		Spec: dsv1.SyncRunSpec{
			PolicyRef:     dsv1.LocalObjectReference{Name: p.Name},
			Trigger:       trigger,
			ScheduledTime: slot,
		},
	}
}

// createRun creates run and records a RunCreated event. A run of that name already controlled by the
// policy is the lock doing its job (created is false, no error). A run of that name controlled by
// something else is reported with a warning and left alone.
func (r *DeviceSyncPolicyReconciler) createRun(ctx context.Context, s *policyScope, run *dsv1.SyncRun, why string) (created bool, err error) {
	p := s.policy
	if err := controllerutil.SetControllerReference(p, run, r.Scheme); err != nil {
		return false, fmt.Errorf("setting the owner of SyncRun %s: %w", run.Name, err)
	}
	err = r.Create(ctx, run)
	switch {
	case err == nil:
		s.runs = append(s.runs, *run)
		r.event(p, pendingEvent{eventType: corev1.EventTypeNormal, reason: ReasonRunCreated, action: "Create", related: run,
			note: fmt.Sprintf("created %s run %s %s", strings.ToLower(string(run.Spec.Trigger)), run.Name, why)})
		return true, nil
	case apierrors.IsAlreadyExists(err):
		var existing dsv1.SyncRun
		if err := r.Get(ctx, client.ObjectKeyFromObject(run), &existing); err != nil {
			return false, fmt.Errorf("reading existing SyncRun %s: %w", run.Name, err)
		}
		if metav1.IsControlledBy(&existing, p) {
			if !s.hasRun(existing.Name) {
				s.runs = append(s.runs, existing)
			}
			return false, nil
		}
		s.deferEvent(pendingEvent{eventType: corev1.EventTypeWarning, reason: ReasonRunNameTaken, action: "Create", related: &existing,
			note: fmt.Sprintf("SyncRun %s already exists and is not controlled by this policy; no run was started %s", run.Name, why)})
		return false, nil
	default:
		return false, fmt.Errorf("creating SyncRun %s: %w", run.Name, err)
	}
}

// deleteRun deletes a run the policy controls (background propagation, and only that very object: a
// run recreated under the same name in between is left alone).
func (r *DeviceSyncPolicyReconciler) deleteRun(ctx context.Context, s *policyScope, run *dsv1.SyncRun) error {
	uid := run.UID
	err := r.Delete(ctx, run, client.PropagationPolicy(metav1.DeletePropagationBackground), client.Preconditions{UID: &uid})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("deleting SyncRun %s: %w", run.Name, err)
	}
	s.forget(run.Name)
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

// sortOldestFirst orders finished runs by completion (then start, then creation), oldest first.
func sortOldestFirst(runs []dsv1.SyncRun) {
	sort.SliceStable(runs, func(i, j int) bool {
		ti, tj := finishedAt(&runs[i]), finishedAt(&runs[j])
		if !ti.Equal(tj) {
			return ti.Before(tj)
		}
		if ci, cj := runs[i].CreationTimestamp.Time, runs[j].CreationTimestamp.Time; !ci.Equal(cj) {
			return ci.Before(cj)
		}
		return runs[i].Name < runs[j].Name
	})
}

// finishedAt is when a run finished: its completionTime, else its startTime, else its creation.
func finishedAt(run *dsv1.SyncRun) time.Time {
	switch {
	case run.Status.CompletionTime != nil:
		return run.Status.CompletionTime.Time
	case run.Status.StartTime != nil:
		return run.Status.StartTime.Time
	default:
		return run.CreationTimestamp.Time
	}
}

// manualRunName is the name of the run of a run-now value: "<policy>-now-<8 hex of sha256(value)>",
// deterministic so that a request is never run twice. A policy name too long for 63 characters is
// shortened to a prefix and 8 hex characters of its own SHA-256, as schedule.RunName does.
func manualRunName(policy, value string) string {
	sum := sha256.Sum256([]byte(value))
	suffix := "-now-" + hex.EncodeToString(sum[:4])
	if len(policy)+len(suffix) <= maxNameLength {
		return policy + suffix
	}
	return shortened(policy, maxNameLength-len(suffix)) + suffix
}
