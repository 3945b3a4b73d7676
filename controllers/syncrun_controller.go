package controllers

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dsv1 "github.com/k12dev/devicesync-operator/api/v1alpha1"
)

// SyncRunReconciler executes runs.
//
// Today it records what it observed (observedGeneration, and Pending for a new run); execution
// through the sync engine lands with the engine and controllers issues.
type SyncRunReconciler struct {
	client.Client
	Scheme *runtime.Scheme
}

// +kubebuilder:rbac:groups=devicesync.k12.dev,resources=syncruns,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=devicesync.k12.dev,resources=syncruns/status,verbs=get;update;patch

// Reconcile brings a run's status in line with its spec.
func (r *SyncRunReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var run dsv1.SyncRun
	if err := r.Get(ctx, req.NamespacedName, &run); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	patch := client.MergeFrom(run.DeepCopy())
	run.Status.ObservedGeneration = run.Generation
	if run.Status.Phase == "" {
		run.Status.Phase = dsv1.PhasePending
	}
	if err := r.Status().Patch(ctx, &run, patch); err != nil {
		if apierrors.IsNotFound(err) {
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, fmt.Errorf("patching status of SyncRun %s: %w", req.NamespacedName, err)
	}
	return ctrl.Result{}, nil
}

// SetupWithManager registers the reconciler.
func (r *SyncRunReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&dsv1.SyncRun{}).
		Named("syncrun").
		Complete(r)
}
