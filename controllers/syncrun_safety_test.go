package controllers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kptr "k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dsv1 "github.com/k12dev/devicesync-operator/api/v1alpha1"
	"github.com/k12dev/devicesync-operator/controllers"
	"github.com/k12dev/devicesync-operator/internal/sim/simhttp"
)

// lostModeCommandsPerDevice fails the test when any device got more than one Lost Mode command.
func (e *runEnv) checkOneLostModeCommandPerDevice(t *testing.T) {
	t.Helper()
	perDevice := map[string]int{}
	for _, c := range e.pro.Commands() {
		if strings.HasSuffix(c.Type, "_LOST_MODE") {
			if perDevice[c.ManagementID]++; perDevice[c.ManagementID] > 1 {
				t.Errorf("device %s got %d Lost Mode commands", c.ManagementID, perDevice[c.ManagementID])
			}
		}
	}
}

func TestTwoManagersWithoutLeaderElectionExecuteARunOnce(t *testing.T) {
	e := newRunEnv(t, 300)
	e.pro.HTTP().SetKnobs(simhttp.Knobs{Latency: 5 * time.Millisecond})
	p := e.policy("two-managers", false)
	if err := k8s.Create(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	// Two replicas started with --leader-elect=false: both watch the run from the start.
	e.startRunManager(t)
	e.startRunManager(t)
	run := e.createRun(t, "two-managers-now", p.Name)

	waitRun(t, run, "the run succeeded", func(r *dsv1.SyncRun) bool { return r.Status.Phase == dsv1.PhaseSucceeded })
	e.checkJamfProState(t)
	e.checkOneLostModeCommandPerDevice(t)
	if started, over := recorded.withReason(run.Name, "RunStarted"), recorded.withReason(run.Name, "RunTakenOver"); len(started) != 1 || len(over) != 0 {
		t.Errorf("one manager must execute the run, once: %d RunStarted, %d RunTakenOver events", len(started), len(over))
	}
	eventually(t, "the run's lease is released once the run ended", func() (bool, error) {
		var lease coordinationv1.Lease
		err := k8s.Get(context.Background(), client.ObjectKey{Namespace: e.ns, Name: "devicesync-run-" + run.Name}, &lease)
		return apierrors.IsNotFound(err), fmt.Errorf("lease held by %s (%v)", kptr.Deref(lease.Spec.HolderIdentity, ""), err)
	})
}

func TestARunWhoseLeaseAnotherManagerHoldsWaitsUntilTheLeaseIsGone(t *testing.T) {
	ctx := context.Background()
	e := newRunEnv(t, 100)
	e.leaseDuration = 2 * time.Second // how often a run whose lease another manager holds looks again
	p := e.policy("leased", false)
	if err := k8s.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	run := e.createRun(t, "leased-now", p.Name)
	now := metav1.NewMicroTime(time.Now())
	lease := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: "devicesync-run-" + run.Name, Namespace: e.ns},
		Spec:       coordinationv1.LeaseSpec{HolderIdentity: kptr.To("another-manager_1234"), LeaseDurationSeconds: kptr.To(int32(3600)), RenewTime: &now},
	}
	if err := k8s.Create(ctx, lease); err != nil {
		t.Fatal(err)
	}
	e.startRunManager(t)

	time.Sleep(3 * time.Second) // a few reconciles of the run (it re-checks every lease duration, 2s here)
	held := waitRun(t, run, "the run read back", func(*dsv1.SyncRun) bool { return true })
	if held.Status.Phase == dsv1.PhaseRunning || held.Status.Phase == dsv1.PhaseSucceeded || e.proWrites() != 0 {
		t.Fatalf("a run whose lease another live manager holds was executed: phase %s, %d Jamf writes", held.Status.Phase, e.proWrites())
	}
	if err := k8s.Delete(ctx, lease); err != nil { // the other manager finished or stopped cleanly
		t.Fatal(err)
	}
	waitRun(t, run, "the run succeeded once the lease was gone", func(r *dsv1.SyncRun) bool { return r.Status.Phase == dsv1.PhaseSucceeded })
	e.checkJamfProState(t)
}

func TestAnExpiredLeaseOfAStoppedManagerIsTakenOver(t *testing.T) {
	ctx := context.Background()
	e := newRunEnv(t, 100)
	p := e.policy("expired", false)
	if err := k8s.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	run := e.createRun(t, "expired-now", p.Name)
	stale := metav1.NewMicroTime(time.Now().Add(-2 * time.Minute))
	if err := k8s.Create(ctx, &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: "devicesync-run-" + run.Name, Namespace: e.ns},
		Spec:       coordinationv1.LeaseSpec{HolderIdentity: kptr.To("crashed-manager_1234"), LeaseDurationSeconds: kptr.To(int32(60)), RenewTime: &stale},
	}); err != nil {
		t.Fatal(err)
	}
	e.startRunManager(t)
	waitRun(t, run, "the run succeeded", func(r *dsv1.SyncRun) bool { return r.Status.Phase == dsv1.PhaseSucceeded })
	e.checkJamfProState(t)
}

func TestARunPastItsTimeoutFailsDeadlineExceededKeepingWhatItApplied(t *testing.T) {
	e := newRunEnv(t, 400)
	// Reads are quick; every Jamf write takes 200 ms, one at a time: about 200 changes need 40 s, and the
	// manager's cap (standing in for a policy's runTimeout) ends the run after 5 s, with the reads long done.
	e.maxRunTimeout = 5 * time.Second
	e.transport = slowWrites{base: e.transport, delay: 200 * time.Millisecond}
	p := e.policy("slow", false)
	p.Spec.Target.JamfPro.MaxConcurrency = 1
	if err := k8s.Create(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	e.startRunManager(t)
	run := e.createRun(t, "slow-now", p.Name)

	got := waitRun(t, run, "the run failed", func(r *dsv1.SyncRun) bool { return r.Status.Phase == dsv1.PhaseFailed })
	c := condition(got, dsv1.ConditionFailed)
	if c == nil || c.Reason != controllers.ReasonDeadlineExceeded || !strings.Contains(c.Message, "spec.runTimeout") {
		t.Fatalf("Failed condition = %+v, want reason DeadlineExceeded naming spec.runTimeout", c)
	}
	applied := 0
	for _, ch := range got.Status.Changes {
		if ch.Result == controllers.ResultApplied {
			applied++
		}
	}
	if applied == 0 || got.Status.Summary.Changed == 0 {
		t.Errorf("the run must keep what it applied before the deadline: %d applied changes in status, summary %+v", applied, got.Status.Summary)
	}
	if !strings.Contains(c.Message, "applied") {
		t.Errorf("the message must say how far the run got: %q", c.Message)
	}
}

func TestPoliciesOnOneJamfServerShareItsConnectionLimit(t *testing.T) {
	ctx := context.Background()
	e := newRunEnv(t, 300)
	e.pro.HTTP().SetKnobs(simhttp.Knobs{Latency: 10 * time.Millisecond})
	var runs []*dsv1.SyncRun
	for i := range 3 {
		p := e.policy(fmt.Sprintf("district-%d", i), false)
		p.Spec.Fields.Manage = []dsv1.ManagedField{dsv1.FieldName} // three policies of one district's Jamf
		if err := k8s.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
		runs = append(runs, e.createRun(t, p.Name+"-now", p.Name))
	}
	e.startRunManager(t)
	for _, run := range runs {
		waitRun(t, run, "the run ended", func(r *dsv1.SyncRun) bool { return r.Status.CompletionTime != nil })
	}
	u, _ := url.Parse(e.urls.pro)
	if peak := e.pro.HTTP().PeakInFlight(); peak > 5 {
		t.Errorf("Jamf Pro saw %d requests at once from three policies, want at most 5 (Jamf's guidance, per server)", peak)
	}
	if peak := e.limits.Peak(u.Host); peak < 2 || peak > 5 {
		t.Errorf("the manager's limiter peaked at %d for %s, want between 2 and 5 (it carried the requests, within the limit)", peak, u.Host)
	}
}

func TestASecondRunOfAPolicyWaitsForTheExecutingOneAndStartsWhenItEnds(t *testing.T) {
	e := newRunEnv(t, 300)
	// Slow Jamf writes so that the first run is still applying when the second arrives.
	e.pro.HTTP().SetKnobs(simhttp.Knobs{Latency: 5 * time.Millisecond})
	p := e.policy("one-at-a-time", false)
	p.Spec.Target.JamfPro.MaxConcurrency = 1
	if err := k8s.Create(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	e.startRunManager(t)
	first := e.createRun(t, "one-at-a-time-1", p.Name)
	waitRun(t, first, "the first run is applying", func(r *dsv1.SyncRun) bool { return r.Status.Progress.Done >= 2 })
	second := e.createRun(t, "one-at-a-time-2", p.Name)

	// Nothing polls: only the first run's end wakes the second.
	done := waitRun(t, second, "the second run succeeded", func(r *dsv1.SyncRun) bool { return r.Status.Phase == dsv1.PhaseSucceeded })
	firstDone := waitRun(t, first, "the first run succeeded", func(r *dsv1.SyncRun) bool { return r.Status.Phase == dsv1.PhaseSucceeded })
	if done.Status.StartTime.Before(firstDone.Status.CompletionTime) {
		t.Errorf("the second run started at %s, before the first ended at %s", done.Status.StartTime, firstDone.Status.CompletionTime)
	}
	if done.Status.Summary.Changed != 0 {
		t.Errorf("the second run re-planned %d changes the first had applied, want none", done.Status.Summary.Changed)
	}
	e.checkJamfProState(t)
	e.checkOneLostModeCommandPerDevice(t)
}

// slowWrites delays every request that writes (PATCH, POST, PUT) by delay before sending it.
type slowWrites struct {
	base  http.RoundTripper
	delay time.Duration
}

func (s slowWrites) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method != http.MethodGet && !strings.HasSuffix(r.URL.Path, "/token") && !strings.HasSuffix(r.URL.Path, "/accessToken") {
		select {
		case <-time.After(s.delay):
		case <-r.Context().Done():
			return nil, r.Context().Err()
		}
	}
	return s.base.RoundTrip(r)
}
