package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	dsv1 "github.com/k12dev/devicesync-operator/api/v1alpha1"
	"github.com/k12dev/devicesync-operator/internal/sync/engine"
	"github.com/k12dev/devicesync-operator/internal/sync/plan"
)

// approved reports whether a Blocked run's approve annotation names its plan.
func (r *SyncRunReconciler) approved(s *runScope) bool {
	b := s.run.Status.Blocked
	v := s.run.Annotations[dsv1.ApproveAnnotation]
	if b == nil || v == "" || v != b.PlanDigest {
		return false
	}
	s.approvedDigest = v
	return true
}

// execute runs the steps. An error is returned only for what a retry may fix (an API write failed);
// everything else ends in the run's status.
func (r *SyncRunReconciler) execute(ctx context.Context, s *runScope) error {
	logger := log.FromContext(ctx)
	// Running but not started by this manager: the manager that ran it stopped.
	s.takenOver = s.run.Status.Phase == dsv1.PhaseRunning && !r.running.startedHere(s.run.UID)

	if err := r.loadPolicy(ctx, s); err != nil {
		return err
	}
	if s.policy == nil {
		return r.finish(ctx, s)
	}
	if err := r.adopt(ctx, s); err != nil {
		var ce *ConfigError
		if !errors.As(err, &ce) {
			return err
		}
		s.failReason, s.failMessage = ce.Reason, ce.Message
		return r.finish(ctx, s)
	}
	if s.compiled == nil {
		return r.finish(ctx, s)
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	other, ok := r.running.claim(s.policy.UID, s.run.UID, client.ObjectKeyFromObject(s.run), cancel)
	if !ok {
		s.waitingFor = other // woken when it releases the policy
		return nil
	}
	defer r.running.release(s.policy.UID, s.run.UID)
	holder, ok, err := r.leases.acquire(ctx, s.run)
	if err != nil {
		return err
	}
	if !ok {
		s.waitingFor = "manager " + holder + ", which holds the run's lease"
		s.waitingForLease = true
		return nil
	}
	defer r.leases.release(ctx, s.run)
	stopLease := r.leases.keep(runCtx, s.run, cancel) // a lost lease stops the execution before its next write
	defer stopLease()
	if err := r.start(ctx, s); err != nil {
		return err
	}
	if err := r.connect(ctx, s); err != nil {
		return err
	}
	if s.conn == nil {
		return r.finish(ctx, s)
	}

	last := r.lastGood(ctx, s)
	s.compiled.Policy.Withdrawn = plan.Withdrawn{FirstSeen: r.loadWithdrawn(ctx, s), Now: r.now()}
	stop := r.writeProgress(runCtx, cancel, s)
	execCtx, cancelDeadline := context.WithDeadline(runCtx, s.deadline(r.MaxRunTimeout))
	defer cancelDeadline()
	rep, _ := engine.Execute(execCtx, engine.Run{
		Policy:             s.compiled.Policy,
		Safety:             s.compiled.Safety,
		Source:             s.conn.Source,
		Target:             s.conn.Target,
		DryRun:             s.mode == dsv1.ModeDryRun,
		ApprovedDigest:     s.approvedDigest,
		LastGoodItems:      last.Items,
		LastGoodRosterRows: last.RosterRows,
		Progress:           stop.update,
		Retry:              r.RetryPause,
	})
	deleted := stop.wait()
	if ctx.Err() != nil || deleted || runCtx.Err() != nil {
		r.running.forget(s.run.UID)
	}
	switch {
	case ctx.Err() != nil:
		// The manager is stopping: leave the run Running; the next manager takes it over and re-plans.
		logger.Info("manager stopping: run left Running for the next manager", "run", s.run.Name)
		return nil
	case deleted || runCtx.Err() != nil:
		logger.Info("run deleted, or its lease lost, while executing: cancelled", "run", s.run.Name)
		return nil
	}
	s.report = rep
	if c := rep.Plan.Counts; c.Items > 0 || c.Devices > 0 { // both systems were read: the holders are known
		r.rememberWithdrawn(ctx, s, rep.Plan.Holders)
	}
	if execCtx.Err() != nil {
		// spec.runTimeout passed: the run ends Failed with what it had applied.
		s.failReason = ReasonDeadlineExceeded
		rep.Err = fmt.Errorf("the run passed its %s timeout (spec.runTimeout, at most the manager's --max-run-timeout) %s: %w", s.runTimeout(r.MaxRunTimeout), phaseAt(rep), rep.Err)
	}
	s.attempted = make(map[string]error, len(rep.Results))
	for _, res := range rep.Results {
		s.attempted[res.Change.DeviceKey] = res.Err
	}
	logChanges(ctx, s)
	logRoster(ctx, s)
	return r.finish(ctx, s)
}

// phaseAt says how far a run got, for the deadline's message.
func phaseAt(rep *engine.Report) string {
	planned, applied, failed := changeTotals(rep)
	if planned == 0 && applied+failed == 0 {
		return "while reading Destiny and the MDM"
	}
	return fmt.Sprintf("after %d of %d changes (%d applied)", applied+failed, planned, applied)
}

// loadPolicy reads the run's policy and compiles it. A missing policy or one that does not compile
// fails the run (recorded in s), not the reconcile.
func (r *SyncRunReconciler) loadPolicy(ctx context.Context, s *runScope) error {
	var p dsv1.DeviceSyncPolicy
	key := client.ObjectKey{Namespace: s.run.Namespace, Name: s.run.Spec.PolicyRef.Name}
	if err := r.reader().Get(ctx, key, &p); err != nil { // uncached: a policy applied with its run is found
		if apierrors.IsNotFound(err) {
			s.failReason, s.failMessage = "PolicyNotFound", fmt.Sprintf("DeviceSyncPolicy %s not found in namespace %s", key.Name, key.Namespace)
			return nil
		}
		return err
	}
	s.policy = &p
	s.mode = p.Spec.Mode
	if s.run.Spec.Mode != "" {
		s.mode = s.run.Spec.Mode
	}
	if s.run.Status.Mode != "" {
		// A run that started (Running, taken over) or was planned (Blocked, approved) keeps the mode it
		// started with: an approved dry run never writes because the policy became Enforce since.
		s.mode = s.run.Status.Mode
	}
	if s.mode == "" {
		s.mode = dsv1.ModeEnforce
	}
	kind, _, err := targetKind(r.Connector.Kinds, &p.Spec.Target)
	if err != nil {
		var ce *ConfigError
		errors.As(err, &ce)
		s.failReason, s.failMessage = ce.Reason, ce.Message
		return nil
	}
	c, err := compilePolicy(&p.Spec, kind)
	if err != nil {
		s.failReason, s.failMessage = ReasonInvalidTemplate, err.Error()
		return nil
	}
	s.compiled = c
	return nil
}

// start marks the run Running with the policy generation it executes, through the run's one status
// writer. The write is refused when the run's phase moved since this reconcile read it (another writer
// started or finished it): the reconcile is then retried on a fresh read, so a run is never started twice.
func (r *SyncRunReconciler) start(ctx context.Context, s *runScope) error {
	phase := s.run.Status.Phase
	msg := fmt.Sprintf("reading Destiny and %s", s.compiled.Kind.Name)
	switch {
	case s.takenOver:
		msg = "taken over after the manager running it stopped: re-reading both systems and re-planning; " + msg
	case s.approvedDigest != "":
		msg = "approved: re-planning and applying if the plan is still " + plan.ShortDigest(s.approvedDigest) + "; " + msg
	}
	err := r.writeStatus(ctx, s.run, func(run *dsv1.SyncRun) error {
		if run.Status.Phase != phase {
			return fmt.Errorf("SyncRun %s/%s moved from phase %q to %q before it started: deciding again", run.Namespace, run.Name, phase, run.Status.Phase)
		}
		now := metav1.NewTime(r.now())
		if run.Status.StartTime == nil {
			run.Status.StartTime = &now
		}
		run.Status.ObservedGeneration = run.Generation
		run.Status.Phase = dsv1.PhaseRunning
		run.Status.Mode = s.mode
		run.Status.PolicyGeneration = s.policy.Generation
		run.Status.Progress = dsv1.Progress{}
		// What an earlier attempt (a blocked plan, a run taken over) recorded is replaced by this execution's.
		run.Status.Blocked, run.Status.Changes, run.Status.ChangesOmitted, run.Status.Errors = nil, nil, 0, nil
		run.Status.Summary, run.Status.CompletionTime = dsv1.RunSummary{}, nil
		run.Status.Schools, run.Status.FixList = nil, nil
		setCondition(run, dsv1.ConditionReconciling, metav1.ConditionTrue, "Running", msg)
		meta.RemoveStatusCondition(&run.Status.Conditions, dsv1.ConditionBlocked)
		return nil
	})
	if err != nil {
		return err
	}
	r.running.markStarted(s.run.UID)
	switch {
	case s.takenOver:
		r.event(s.run, s.policy, "Normal", EventRunTakenOver, "Execute", msg)
	case s.approvedDigest != "":
		r.event(s.run, s.policy, "Normal", EventRunApproved, "Execute", fmt.Sprintf("plan %s approved; applying it", plan.ShortDigest(s.approvedDigest)))
	default:
		r.event(s.run, s.policy, "Normal", EventRunStarted, "Execute", fmt.Sprintf("%s run of policy %s started", s.mode, s.policy.Name))
	}
	return nil
}

// connect reads the Secrets and the roster and builds the clients. A *ConfigError fails the run.
func (r *SyncRunReconciler) connect(ctx context.Context, s *runScope) error {
	conn, err := r.Connector.Connect(ctx, s.policy, s.compiled.Query)
	var ce *ConfigError
	switch {
	case errors.As(err, &ce):
		s.failReason, s.failMessage = ce.Reason, ce.Message
		return nil
	case err != nil:
		return err
	}
	s.conn = conn
	return nil
}

// lastGood is the number of Destiny items and roster students the policy's latest good Enforce run read
// (0 when none): the baseline of safety.maxSourceShrink and maxRosterShrink. The policy records it in
// status.lastGoodSource; a newer good run still in the history (its policy not yet reconciled) counts too.
func (r *SyncRunReconciler) lastGood(ctx context.Context, s *runScope) plan.Baseline {
	best, last := time.Time{}, plan.Baseline{}
	if b := s.policy.Status.LastGoodSource; b != nil {
		best, last = b.Time.Time, plan.Baseline{Items: int(b.Items), RosterRows: int(b.RosterRows)}
	}
	runs, err := policyRuns(ctx, r.Client, s.policy)
	if err != nil {
		return last
	}
	for i := range runs {
		o := &runs[i]
		if o.UID == s.run.UID || !goodRun(o) {
			continue
		}
		if at := finishedAt(o); at.After(best) {
			best = at
			last = plan.Baseline{Items: int(o.Status.Summary.DestinyItems), RosterRows: int(o.Status.Summary.RosterRows)}
		}
	}
	return last
}
