package controllers

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	dsv1 "github.com/k12dev/devicesync-operator/api/v1alpha1"
	"github.com/k12dev/devicesync-operator/internal/schedule"
)

// DeviceSyncPolicyReconciler schedules a policy's runs and reports its readiness.
//
// Today it records what it observed (observedGeneration, the schedule in words, and Ready=False when
// the schedule names a time zone that does not exist); scheduling, the rest of the validation CEL
// cannot do and connection tests land with the controllers issue.
type DeviceSyncPolicyReconciler struct {
	client.Client
	Scheme *runtime.Scheme
}

// +kubebuilder:rbac:groups=devicesync.k12.dev,resources=devicesyncpolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups=devicesync.k12.dev,resources=devicesyncpolicies/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=devicesync.k12.dev,resources=syncruns,verbs=get;list;watch;create;delete
// +kubebuilder:rbac:groups="",resources=secrets;configmaps,verbs=get
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile brings a policy's status in line with its spec.
func (r *DeviceSyncPolicyReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var policy dsv1.DeviceSyncPolicy
	if err := r.Get(ctx, req.NamespacedName, &policy); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	patch := client.MergeFrom(policy.DeepCopy())
	policy.Status.ObservedGeneration = policy.Generation
	if sched, err := parseSchedule(policy.Spec.Schedule); err != nil {
		policy.Status.Schedule = ""
		meta.SetStatusCondition(&policy.Status.Conditions, metav1.Condition{
			Type: dsv1.ConditionReady, Status: metav1.ConditionFalse, Reason: "InvalidSchedule",
			Message: err.Error(), ObservedGeneration: policy.Generation,
		})
	} else {
		policy.Status.Schedule = sched.String()
		if c := meta.FindStatusCondition(policy.Status.Conditions, dsv1.ConditionReady); c != nil && c.Reason == "InvalidSchedule" {
			meta.RemoveStatusCondition(&policy.Status.Conditions, dsv1.ConditionReady)
		}
	}
	if err := r.Status().Patch(ctx, &policy, patch); err != nil {
		if apierrors.IsNotFound(err) {
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, fmt.Errorf("patching status of DeviceSyncPolicy %s: %w", req.NamespacedName, err)
	}
	log.FromContext(ctx).V(1).Info("observed policy", "generation", policy.Generation)
	return ctrl.Result{}, nil
}

// SetupWithManager registers the reconciler: it watches policies and the runs they own.
func (r *DeviceSyncPolicyReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&dsv1.DeviceSyncPolicy{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Owns(&dsv1.SyncRun{}).
		Named("devicesyncpolicy").
		Complete(r)
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
