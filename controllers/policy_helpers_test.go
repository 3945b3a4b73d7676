package controllers_test

import (
	"context"
	"sort"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	dsv1 "github.com/k12dev/devicesync-operator/api/v1alpha1"
	"github.com/k12dev/devicesync-operator/controllers"
)

// Schedules count slots from the policy's creation, which is the API server's (real) time, so the
// days the tests simulate lie in the year after the present one.
var testYear = time.Now().Year() + 1

func chicago(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("America/Chicago")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// dayOn returns local midnight of the first day on or after year-month-day that is a wd.
func dayOn(loc *time.Location, year int, month time.Month, day int, wd time.Weekday) time.Time {
	d := time.Date(year, month, day, 0, 0, 0, 0, loc)
	for d.Weekday() != wd {
		d = d.AddDate(0, 0, 1)
	}
	return d
}

// dstChangeDays returns local midnight of the year's spring-forward day (23 hours long) and fall-back
// day (25 hours long) in loc.
func dstChangeDays(t *testing.T, loc *time.Location, year int) (spring, fall time.Time) {
	t.Helper()
	for d := time.Date(year, 1, 1, 0, 0, 0, 0, loc); d.Year() == year; d = d.AddDate(0, 0, 1) {
		switch d.AddDate(0, 0, 1).Sub(d) {
		case 23 * time.Hour:
			spring = d
		case 25 * time.Hour:
			fall = d
		}
	}
	if spring.IsZero() || fall.IsZero() {
		t.Fatalf("no DST change days in %s in %d", loc, year)
	}
	return spring, fall
}

// at returns the wall time hh:mm of day's date in day's zone.
func at(day time.Time, hh, mm int) time.Time {
	return time.Date(day.Year(), day.Month(), day.Day(), hh, mm, 0, 0, day.Location())
}

// directReconciler is a reconciler like the manager's (same clock, same event log) that a test calls
// synchronously: after it returns, the policy has been reconciled at the clock's time. The manager's
// reconciler may reconcile the same policy at the same time; both decide the same, the run name is the
// lock, and the status patch's resourceVersion check makes the later one retry.
func directReconciler(v controllers.PolicyValidator) *controllers.DeviceSyncPolicyReconciler {
	return &controllers.DeviceSyncPolicyReconciler{Client: k8s, Scheme: scheme, Clock: clk, Recorder: recorded, Validator: v}
}

// reconcileAt sets the clock to when and reconciles p once, successfully.
func reconcileAt(t *testing.T, p *dsv1.DeviceSyncPolicy, when time.Time) ctrl.Result {
	t.Helper()
	return reconcileWith(t, directReconciler(nil), p, when)
}

func reconcileWith(t *testing.T, r *controllers.DeviceSyncPolicyReconciler, p *dsv1.DeviceSyncPolicy, when time.Time) ctrl.Result {
	t.Helper()
	clk.Set(when)
	req := ctrl.Request{NamespacedName: client.ObjectKeyFromObject(p)}
	var err error
	for range 50 {
		var res ctrl.Result
		if res, err = r.Reconcile(context.Background(), req); err == nil {
			return res
		}
		if !apierrors.IsConflict(err) {
			break
		}
	}
	t.Fatalf("reconciling %s at %s: %v", p.Name, when, err)
	return ctrl.Result{}
}

func getPolicy(t *testing.T, p *dsv1.DeviceSyncPolicy) *dsv1.DeviceSyncPolicy {
	t.Helper()
	var got dsv1.DeviceSyncPolicy
	if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(p), &got); err != nil {
		t.Fatal(err)
	}
	return &got
}

// runsOf lists the SyncRuns whose spec names p, whoever owns them, sorted by name.
func runsOf(t *testing.T, p *dsv1.DeviceSyncPolicy) []dsv1.SyncRun {
	t.Helper()
	var list dsv1.SyncRunList
	if err := k8s.List(context.Background(), &list, client.InNamespace(p.Namespace)); err != nil {
		t.Fatal(err)
	}
	var out []dsv1.SyncRun
	for _, run := range list.Items {
		if run.Spec.PolicyRef.Name == p.Name {
			out = append(out, run)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func names(runs []dsv1.SyncRun) []string {
	out := make([]string, len(runs))
	for i, run := range runs {
		out[i] = run.Name
	}
	sort.Strings(out)
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// createRun creates a run of p that p controls (as the controller would), for tests that need runs in
// given phases without going through the schedule. A nil owner makes a run nobody controls.
func createRun(t *testing.T, name string, policyName string, owner *dsv1.DeviceSyncPolicy) *dsv1.SyncRun {
	t.Helper()
	run := &dsv1.SyncRun{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: policyNS, Labels: map[string]string{dsv1.PolicyLabel: policyName}},
		Spec:       dsv1.SyncRunSpec{PolicyRef: dsv1.LocalObjectReference{Name: policyName}, Trigger: dsv1.TriggerManual},
	}
	if owner != nil {
		if err := controllerutil.SetControllerReference(owner, run, scheme); err != nil {
			t.Fatal(err)
		}
	}
	if err := k8s.Create(context.Background(), run); err != nil {
		t.Fatal(err)
	}
	return run
}

// setRunStatus gives a run of policyNS a phase (and, when completed is not zero, start and completion
// times), as the SyncRun controller would; no SyncRun controller runs in policyNS.
func setRunStatus(t *testing.T, name string, phase dsv1.SyncRunPhase, completed time.Time, mutate ...func(*dsv1.SyncRunStatus)) {
	t.Helper()
	ctx := context.Background()
	var run dsv1.SyncRun
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: policyNS, Name: name}, &run); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(run.DeepCopy())
	run.Status.Phase = phase
	if !completed.IsZero() {
		run.Status.StartTime = &metav1.Time{Time: completed.Add(-time.Minute)}
		run.Status.CompletionTime = &metav1.Time{Time: completed}
	}
	for _, m := range mutate {
		m(&run.Status)
	}
	if err := k8s.Status().Patch(ctx, &run, patch); err != nil {
		t.Fatal(err)
	}
}

// gauge reads a per-policy gauge from the manager's metrics registry.
func gauge(t *testing.T, metric, namespace, policy string) (float64, bool) {
	t.Helper()
	families, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != metric {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["namespace"] == namespace && labels["policy"] == policy {
				return m.GetGauge().GetValue(), true
			}
		}
	}
	return 0, false
}

// staticValidator is a PolicyValidator that returns the same checks for every policy.
type staticValidator []controllers.Check

func (v staticValidator) Validate(context.Context, *dsv1.DeviceSyncPolicy) []controllers.Check {
	return v
}

// finishRuns marks every unfinished run of p Succeeded, completed at completed.
func finishRuns(t *testing.T, p *dsv1.DeviceSyncPolicy, completed time.Time) {
	t.Helper()
	for _, run := range runsOf(t, p) {
		switch run.Status.Phase {
		case "", dsv1.PhasePending, dsv1.PhaseRunning:
			setRunStatus(t, run.Name, dsv1.PhaseSucceeded, completed)
		}
	}
}
