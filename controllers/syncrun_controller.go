package controllers

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	dsv1 "github.com/k12dev/devicesync-operator/api/v1alpha1"
	"github.com/k12dev/devicesync-operator/internal/clock"
	"github.com/k12dev/devicesync-operator/internal/notify"
)

// Defaults of the SyncRun controller.
const (
	// DefaultProgressInterval bounds how often a running run's progress is written to its status.
	DefaultProgressInterval = 5 * time.Second
	// DefaultMaxConcurrentRuns is how many runs (of different policies) execute at once.
	DefaultMaxConcurrentRuns = 4
)

// SyncRunReconciler executes runs in the manager process, through the sync engine.
//
// Reconcile only admits a run that has work to do to the run scheduler (syncrun_scheduler.go), which
// executes it when a slot is free, the run expected to cost least first. One execution is the sequence
// in syncrun_phases.go: adopt (a run made with kubectl create gets the policy's label and owner
// reference), start (phase Running, the policy's generation recorded), connect (Secrets read now),
// execute (snapshot, plan, safety, apply, with progress written at most every ProgressInterval) and
// finish (the final status computed once from the engine's report, in syncrun_status.go, and patched once).
//
// Lifecycle:
//   - Pending or new: admitted, then executed. Running, but not executing in this process: the manager
//     that ran it stopped; the run is taken over and re-planned from fresh reads, so nothing is applied twice.
//   - Queued: admitted, waiting for one of MaxConcurrentRuns slots (its phase unchanged).
//   - Waiting: another run of its policy executes in this manager (the registry wakes this one when that
//     one ends, no polling), or another manager holds the run's lease (looked at again every lease
//     duration: that manager is out of this one's reach).
//   - Blocked: waits until the approve annotation equals status.blocked.planDigest, then re-plans and
//     applies if the plan is still the one approved (otherwise it is Blocked again, with the new digest).
//   - Succeeded, PartiallyFailed, Failed: done.
//   - Deleted while executing (concurrencyPolicy Replace, or by hand): the execution is cancelled from
//     the watch. Deleted while queued: it leaves the queue.
//   - Manager stopping: the execution is cancelled and the run left Running for the next manager.
type SyncRunReconciler struct {
	client.Client
	Scheme *runtime.Scheme

	// APIReader reads the run itself, uncached, so that a run is never executed again on a stale read of
	// its phase. SetupWithManager sets it to the manager's API reader; nil reads through Client.
	APIReader client.Reader
	// Clock stamps start and completion times. Nil is the wall clock.
	Clock clock.Clock
	// Recorder records events about runs and their policies. SetupWithManager sets it when nil.
	Recorder events.EventRecorder
	// Connector builds a policy's clients from its Secrets. SetupWithManager sets one reading through
	// the manager's API reader when nil.
	Connector *Connector
	// ProgressInterval bounds progress writes (zero: DefaultProgressInterval).
	ProgressInterval time.Duration
	// MaxConcurrentRuns bounds the runs executing at once, one per policy (zero: DefaultMaxConcurrentRuns):
	// the run scheduler's slots.
	MaxConcurrentRuns int
	// RetryPause is the pause before the engine retries a transient failure of one change (zero: 2s).
	RetryPause time.Duration
	// Identity names this manager in the runs' leases (empty: host name and a random suffix).
	Identity string
	// RunLeaseDuration is how long a run's lease stays valid without renewal (zero: DefaultRunLeaseDuration).
	RunLeaseDuration time.Duration
	// MaxRunTimeout caps every policy's spec.runTimeout (the manager's --max-run-timeout; zero: no cap).
	MaxRunTimeout time.Duration
	// Notifier posts a finished run's result to its policy's webhook (nil: no webhooks).
	Notifier *notify.Notifier

	// RunAging is how long a run waits for an execution slot before it goes ahead of runs expected to
	// cost less (zero: DefaultRunAging).
	RunAging time.Duration
	// SmallRunItems is the largest expected cost (Destiny items) of a run the express slot takes when
	// every other slot is taken (zero: DefaultSmallRunItems; negative: no express slot).
	SmallRunItems int64

	running   executions
	leases    runLeases
	scheduler *runScheduler
	retries   workqueue.TypedRateLimiter[types.NamespacedName]
	logger    logr.Logger
}

// +kubebuilder:rbac:groups=devicesync.k12.dev,resources=syncruns,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=devicesync.k12.dev,resources=syncruns/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=devicesync.k12.dev,resources=devicesyncpolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=secrets;configmaps,verbs=get
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile admits a run that has work to do to the run scheduler (syncrun_scheduler.go), with its
// expected cost, and returns: the execution does not hold the controller's worker. The scheduler executes
// it (executeAdmitted) when a slot is free and no cheaper run waits.
func (r *SyncRunReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var run dsv1.SyncRun
	if err := r.reader().Get(ctx, req.NamespacedName, &run); err != nil {
		if apierrors.IsNotFound(err) {
			r.scheduler.drop(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !r.hasWork(&run) || r.scheduler.againIfExecuting(req.NamespacedName) {
		return ctrl.Result{}, nil // finished, or executing (its own status writes): looked at again after
	}
	cost, from := r.runCost(ctx, &run)
	log.FromContext(ctx).V(1).Info("run admitted to the run scheduler", "expectedCost", cost, "from", from)
	r.scheduler.admit(req.NamespacedName, cost)
	return ctrl.Result{}, nil
}

// hasWork reports whether a run is to be executed: not being deleted, not finished, and not Blocked
// unless approved.
func (r *SyncRunReconciler) hasWork(run *dsv1.SyncRun) bool {
	if !run.DeletionTimestamp.IsZero() {
		return false
	}
	switch run.Status.Phase {
	case dsv1.PhaseSucceeded, dsv1.PhasePartiallyFailed, dsv1.PhaseFailed:
		return false
	case dsv1.PhaseBlocked:
		return r.approved(&runScope{run: run})
	}
	return true
}

// executeAdmitted is the scheduler's execution of an admitted run. What the execution's outcome asks
// (a retry after an error, a look again when another manager's lease expires) goes back through the
// controller's queue, so the run is read and admitted again.
func (r *SyncRunReconciler) executeAdmitted(ctx context.Context, key types.NamespacedName) {
	logger := r.logger.WithValues("SyncRun", klog.KRef(key.Namespace, key.Name))
	ctx = log.IntoContext(ctx, logger)
	defer func() {
		// As the controller's workers do: a panic fails this execution (retried), not the manager.
		if v := recover(); v != nil {
			logger.Error(fmt.Errorf("panic: %v", v), "executing the run; retrying", "stack", string(debug.Stack()))
			r.running.enqueue(key, r.retries.When(key))
		}
	}()
	res, err := r.executeRun(ctx, key)
	switch {
	case err != nil:
		if ctx.Err() == nil {
			logger.Error(err, "executing the run; retrying")
			r.running.enqueue(key, r.retries.When(key))
		}
		return
	case res.RequeueAfter > 0:
		r.running.enqueue(key, res.RequeueAfter)
	}
	r.retries.Forget(key)
}

// executeRun executes a run that has work to do, read again (uncached) now that it has a slot.
func (r *SyncRunReconciler) executeRun(ctx context.Context, key types.NamespacedName) (ctrl.Result, error) {
	var run dsv1.SyncRun
	if err := r.reader().Get(ctx, key, &run); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !r.hasWork(&run) {
		return ctrl.Result{}, nil
	}
	s := &runScope{run: &run}
	if run.Status.Phase == dsv1.PhaseBlocked {
		r.approved(s) // records the approved digest
	}
	err := r.execute(ctx, s)
	switch {
	case apierrors.IsNotFound(err), errors.Is(err, errReplaced):
		return ctrl.Result{}, nil // deleted under us
	case err == nil && s.waitingForLease:
		// Another manager executes the run: out of reach of this one's registry, so look again when its
		// lease would have expired had it stopped renewing it.
		log.FromContext(ctx).V(1).Info("waiting for the manager that holds the run's lease", "holder", s.waitingFor)
		return ctrl.Result{RequeueAfter: r.leases.duration}, nil
	case err == nil && s.waitingFor != "":
		// The policy's executing run is in this manager: its release wakes this run (executions.release).
		log.FromContext(ctx).V(1).Info("waiting for the policy's executing run", "other", s.waitingFor)
	}
	return ctrl.Result{}, err
}

// reader reads uncached when an API reader is set.
func (r *SyncRunReconciler) reader() client.Reader { return uncached(r.APIReader, r.Client) }

// SetupWithManager registers the reconciler.
func (r *SyncRunReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Recorder == nil {
		r.Recorder = mgr.GetEventRecorder("syncrun-controller")
	}
	if r.Connector == nil {
		r.Connector = &Connector{Reader: mgr.GetAPIReader()}
	}
	if r.APIReader == nil {
		r.APIReader = mgr.GetAPIReader()
	}
	if r.Identity == "" {
		r.Identity = newIdentity()
	}
	r.leases = runLeases{reader: r.APIReader, client: r.Client, identity: r.Identity, duration: r.RunLeaseDuration}
	if r.leases.duration <= 0 {
		r.leases.duration = DefaultRunLeaseDuration
	}
	n := r.MaxConcurrentRuns
	if n <= 0 {
		n = DefaultMaxConcurrentRuns
	}
	// A run deleted while it executes (concurrencyPolicy Replace, or by hand) is cancelled from the watch,
	// at once rather than at its next status write; one deleted while it waits leaves the scheduler.
	cancelDeleted := predicate.Funcs{DeleteFunc: func(e event.DeleteEvent) bool {
		r.running.cancelRun(e.Object.GetUID())
		return true
	}}
	// Executions run in the run scheduler, n at once (and one small run more), smallest expected cost
	// first (with aging).
	r.logger = mgr.GetLogger().WithValues("controller", "syncrun")
	r.retries = workqueue.DefaultTypedItemBasedRateLimiter[types.NamespacedName]()
	small := r.SmallRunItems
	if small == 0 {
		small = DefaultSmallRunItems
	}
	r.scheduler = newRunScheduler(n, r.RunAging, small, r.executeAdmitted, func(key types.NamespacedName) { r.running.enqueue(key, 0) })
	if err := mgr.Add(r.scheduler); err != nil {
		return err
	}
	// A run that waits for its policy's executing run is put back on the queue when that run releases
	// the policy (executions.release): no polling.
	return ctrl.NewControllerManagedBy(mgr).
		For(&dsv1.SyncRun{}, builder.WithPredicates(cancelDeleted)).
		WatchesRawSource(r.running.wakeSource()).
		WithOptions(controller.Options{MaxConcurrentReconciles: n}).
		Named("syncrun").
		Complete(r)
}

func (r *SyncRunReconciler) now() time.Time { return clockOr(r.Clock).Now() }

func (r *SyncRunReconciler) progressInterval() time.Duration {
	if r.ProgressInterval <= 0 {
		return DefaultProgressInterval
	}
	return r.ProgressInterval
}

// event records an event about obj (a run or its policy); related is the other one.
func (r *SyncRunReconciler) event(obj, related runtime.Object, eventType, reason, action, note string) {
	if p, ok := related.(*dsv1.DeviceSyncPolicy); ok && p == nil {
		related = nil // a run whose policy is not found: no related object (a typed nil would panic in the recorder)
	}
	record(r.Recorder, obj, related, eventType, reason, action, note)
}

// adopt gives a run created by hand the policy's label and controller reference, so the policy's
// history and pruning see it like its scheduled runs. A run another policy controls is left alone.
func (r *SyncRunReconciler) adopt(ctx context.Context, s *runScope) error {
	run, p := s.run, s.policy
	if run.Labels[dsv1.PolicyLabel] == policyLabelValue(p.Name) && metav1.IsControlledBy(run, p) {
		return nil
	}
	if owner := metav1.GetControllerOf(run); owner != nil && owner.UID != p.UID {
		return &ConfigError{Reason: "ControlledByAnotherObject", Message: fmt.Sprintf(
			"SyncRun %s/%s is controlled by %s %s, not by DeviceSyncPolicy %s: it is not executed", run.Namespace, run.Name, owner.Kind, owner.Name, p.Name)}
	}
	patch := client.MergeFrom(run.DeepCopy())
	if run.Labels == nil {
		run.Labels = map[string]string{}
	}
	run.Labels[dsv1.PolicyLabel] = policyLabelValue(p.Name)
	if metav1.GetControllerOf(run) == nil {
		if err := controllerutil.SetControllerReference(p, run, r.Scheme); err != nil {
			return err
		}
	}
	return r.Patch(ctx, run, patch)
}
