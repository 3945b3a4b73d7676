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

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	dsv1 "github.com/k12dev/devicesync-operator/api/v1alpha1"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"
)

// Creating, deleting, superseding and pruning a policy's runs.

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
