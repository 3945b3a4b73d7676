package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	dsv1 "github.com/k12dev/devicesync-operator/api/v1alpha1"
	"github.com/k12dev/devicesync-operator/internal/clock"
	"github.com/k12dev/devicesync-operator/internal/metrics"
	"github.com/k12dev/devicesync-operator/internal/schedule"
)

// DefaultRetryInterval is how soon a policy whose Ready condition failed on a transient check (a
// connection refused, an API answering 503) is reconciled again.
const DefaultRetryInterval = time.Minute

// DefaultStalledInterval is how soon a Stalled policy (a failed check that needs a person) is checked
// again although nothing it watches changed: a fix the watches cannot see (a Jamf privilege granted, a
// building created in the MDM, a roster file replaced under --roster-root) is noticed within it.
const DefaultStalledInterval = 10 * time.Minute

// DeviceSyncPolicyReconciler schedules a policy's runs, prunes their history and reports the policy's
// readiness and recent results in its status.
//
// One reconcile is a short sequence of named steps (devicesyncpolicy_phases.go) over a policyScope;
// the status is computed once from what the steps did and saw, and patched once
// (devicesyncpolicy_status.go).
//
// Behaviour in brief (the reasons are on the steps):
//   - A scheduled slot creates one SyncRun named schedule.RunName(policy, slot): the name is the lock,
//     so a slot never runs twice, even after a restart. After downtime only the latest missed slot
//     within startingDeadlineSeconds runs; a MissedSchedule event lists the others.
//   - suspend, or a policy that is not Ready, creates no scheduled runs and leaves lastScheduleTime
//     alone, as a suspended CronJob does: on resume, the latest slot within the starting deadline runs.
//   - concurrencyPolicy Forbid skips a slot that comes while a Pending or Running run exists (the slot
//     stays skipped; the next one runs); Replace deletes the active runs and starts the slot's run.
//     Blocked runs wait for a person and never hold the schedule up.
//   - The run-now annotation creates one Manual run per new value, whatever suspend, concurrency or
//     readiness say (as `kubectl create job --from=cronjob/...` does).
//   - History limits delete the oldest finished runs the policy controls; Blocked runs are kept.
type DeviceSyncPolicyReconciler struct {
	client.Client
	Scheme *runtime.Scheme

	// APIReader reads the policy itself, uncached, so that a decision is never taken on a stale
	// status.lastScheduleTime. SetupWithManager sets it to the manager's API reader; nil reads through Client.
	APIReader client.Reader

	// Clock tells the time of the schedule. Nil is the wall clock.
	Clock clock.Clock

	// Recorder records Kubernetes events (events.k8s.io) about the policy. SetupWithManager sets it
	// from the manager when nil; a nil Recorder outside a manager drops events.
	Recorder events.EventRecorder

	// Validator adds readiness checks beyond the schedule (Secrets, templates, buildings, connections).
	// Nil means the schedule is the only check.
	Validator PolicyValidator

	// RetryInterval is how soon a policy whose only failed checks are transient is reconciled again.
	// Zero is DefaultRetryInterval.
	RetryInterval time.Duration

	// StalledInterval is how soon a Stalled policy is checked again (zero: DefaultStalledInterval).
	StalledInterval time.Duration
}

// PolicyValidator checks what CEL cannot: Secrets present with their keys, templates that parse,
// schools that exist in the MDM, both systems reachable. Each result becomes part of the Ready
// condition. Implementations must not put secrets in messages, and should cache slow checks
// (connection tests) rather than repeat them on every reconcile.
type PolicyValidator interface {
	Validate(ctx context.Context, policy *dsv1.DeviceSyncPolicy) []Check
}

// Check is the result of one readiness check of a policy.
type Check struct {
	// Name says what was checked, for example Schedule, Secrets, Templates, Connection.
	Name string
	// OK is true when the check passed.
	OK bool
	// Reason is the Ready condition's reason when this is the first failed check: CamelCase, for
	// example SecretNotFound or DestinyUnreachable.
	Reason string
	// Message is what an admin can act on, for example `Secret "destiny" has no key client-secret`.
	Message string
	// Transient marks a failure that may clear without a change to the policy or its Secrets (a
	// timeout, a 503). The policy is then retried after RetryInterval and is not Stalled. A failure
	// that needs a person (a bad template, a missing Secret) is not transient and makes it Stalled.
	Transient bool
}

// +kubebuilder:rbac:groups=devicesync.k12.dev,resources=devicesyncpolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups=devicesync.k12.dev,resources=devicesyncpolicies/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=devicesync.k12.dev,resources=devicesyncpolicies/finalizers,verbs=update
// +kubebuilder:rbac:groups=devicesync.k12.dev,resources=syncruns,verbs=get;list;watch;create;delete
// +kubebuilder:rbac:groups=devicesync.k12.dev,resources=syncruns/status,verbs=get;update;patch
// +kubebuilder:rbac:groups="",resources=secrets;configmaps,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile schedules the policy's runs and brings its status in line with its spec and its runs.
func (r *DeviceSyncPolicyReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	policy := &dsv1.DeviceSyncPolicy{}
	if err := r.apiReader().Get(ctx, req.NamespacedName, policy); err != nil {
		if apierrors.IsNotFound(err) {
			metrics.ForgetPolicy(req.Namespace, req.Name)
			if f, ok := r.Validator.(interface{ ForgetPolicy(namespace, name string) }); ok {
				f.ForgetPolicy(req.Namespace, req.Name)
			}
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, fmt.Errorf("reading DeviceSyncPolicy %s: %w", req.NamespacedName, err)
	}
	if !policy.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil // being deleted: start nothing new; the garbage collector removes its runs
	}

	s := newPolicyScope(policy, r.clock().Now())
	var stepErr error
	for _, step := range r.steps() {
		if err := step.run(ctx, s); err != nil {
			stepErr = fmt.Errorf("DeviceSyncPolicy %s: %s: %w", req.NamespacedName, step.name, err)
			break // the status still records what the earlier steps did
		}
	}

	r.computeStatus(s)
	if err := r.patchStatus(ctx, s); err != nil {
		if apierrors.IsNotFound(err) {
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, errors.Join(stepErr, fmt.Errorf("patching status of DeviceSyncPolicy %s: %w", req.NamespacedName, err))
	}
	r.emitDeferred(s)
	r.recordMetrics(s)
	if stepErr != nil {
		return ctrl.Result{}, stepErr
	}
	log.FromContext(ctx).V(1).Info("reconciled policy", "generation", policy.Generation,
		"ready", s.ready.ready, "next", s.next, "requeueAfter", s.requeueAfter)
	return ctrl.Result{RequeueAfter: s.requeueAfter}, nil
}

// SetupWithManager registers the reconciler: it watches policies (spec and annotation changes, so the
// run-now annotation triggers a reconcile), the runs they control (a phase change updates history and
// supersedes older Blocked runs), and the metadata of the Secrets and ConfigMaps they name (a fixed
// Secret makes the policy Ready at once; devicesyncpolicy_watches.go).
func (r *DeviceSyncPolicyReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Recorder == nil {
		r.Recorder = mgr.GetEventRecorder("devicesyncpolicy-controller")
	}
	if r.APIReader == nil {
		r.APIReader = mgr.GetAPIReader()
	}
	if err := indexReferences(context.Background(), mgr); err != nil {
		return fmt.Errorf("indexing the Secrets and ConfigMaps policies reference: %w", err)
	}
	b := ctrl.NewControllerManagedBy(mgr).
		For(&dsv1.DeviceSyncPolicy{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Owns(&dsv1.SyncRun{}, builder.WithPredicates(runSummaryChanged()))
	for _, k := range watchedKinds { // metadata only: the cache never holds Secret data
		b = b.Watches(k.obj, handler.EnqueueRequestsFromMapFunc(r.policiesReferencing(k.index)), builder.OnlyMetadata)
	}
	return b.Named("devicesyncpolicy").Complete(r)
}

// runSummaryChanged lets through creations, deletions, and the updates of a run that change what the
// policy's status shows of it (phase, times, counts, blocked reason, ownership), not its progress
// writes, which come every few seconds during a run.
func runSummaryChanged() predicate.Predicate {
	return predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		before, ok1 := e.ObjectOld.(*dsv1.SyncRun)
		after, ok2 := e.ObjectNew.(*dsv1.SyncRun)
		if !ok1 || !ok2 {
			return true
		}
		return !equality.Semantic.DeepEqual(runSummary(before), runSummary(after))
	}}
}

// runSummary is what the policy's status shows of a run.
func runSummary(run *dsv1.SyncRun) any {
	return struct {
		Phase                       dsv1.SyncRunPhase
		Start, Completion, Deletion *metav1.Time
		Changed, Failed             int32
		Blocked                     *dsv1.BlockedDetail
		Owners                      []metav1.OwnerReference
		Labels                      map[string]string
		FailedCondition             *metav1.Condition
	}{run.Status.Phase, run.Status.StartTime, run.Status.CompletionTime, run.DeletionTimestamp,
		run.Status.Summary.Changed, run.Status.Summary.Failed, run.Status.Blocked, run.OwnerReferences, run.Labels,
		meta.FindStatusCondition(run.Status.Conditions, dsv1.ConditionFailed)}
}

func (r *DeviceSyncPolicyReconciler) clock() clock.Clock { return clockOr(r.Clock) }

func (r *DeviceSyncPolicyReconciler) apiReader() client.Reader {
	return uncached(r.APIReader, r.Client)
}

func (r *DeviceSyncPolicyReconciler) stalledInterval() time.Duration {
	if r.StalledInterval <= 0 {
		return DefaultStalledInterval
	}
	return r.StalledInterval
}

func (r *DeviceSyncPolicyReconciler) retryInterval() time.Duration {
	if r.RetryInterval <= 0 {
		return DefaultRetryInterval
	}
	return r.RetryInterval
}

// event records an event about the policy now. Use it for actions that happen once by nature (a run
// created, a run deleted); decisions that a stale read could repeat go through scope.defer.
func (r *DeviceSyncPolicyReconciler) event(policy *dsv1.DeviceSyncPolicy, e pendingEvent) {
	record(r.Recorder, policy, e.related, e.eventType, e.reason, e.action, e.note)
}

// parseSchedule turns the API's schedule into the schedule package's, which checks what CEL cannot
// (the time zone exists) and computes slots.
func parseSchedule(s dsv1.Schedule) (*schedule.Schedule, error) {
	every, err := time.ParseDuration(s.Every)
	if err != nil {
		return nil, fmt.Errorf("schedule.every %q is not a duration such as 30m or 1h", s.Every)
	}
	days := make([]string, len(s.Days))
	for i, d := range s.Days {
		days[i] = string(d)
	}
	return schedule.Parse(schedule.Spec{TimeZone: s.TimeZone, Start: s.Window.Start, End: s.Window.End, Every: every, Days: days})
}
