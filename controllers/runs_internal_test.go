package controllers

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	dsv1 "github.com/k12dev/devicesync-operator/api/v1alpha1"
)

func TestAWaitingRunIsWokenWhenItsPolicysExecutionReleases(t *testing.T) {
	key := func(name string) types.NamespacedName { return types.NamespacedName{Namespace: "lincoln", Name: name} }
	tests := []struct {
		name string
		// steps: claim (policy, run) in order; then release releases (policy, run).
		claims   [][2]string
		release  [2]string
		wantWoke []string
	}{
		{name: "the run that found its policy busy is woken by the release",
			claims: [][2]string{{"p", "a"}, {"p", "b"}}, release: [2]string{"p", "a"}, wantWoke: []string{"b"}},
		{name: "every waiter of the policy is woken, once each however often it looked",
			claims: [][2]string{{"p", "a"}, {"p", "b"}, {"p", "c"}, {"p", "b"}}, release: [2]string{"p", "a"}, wantWoke: []string{"b", "c"}},
		{name: "the release of another policy's run wakes nobody",
			claims: [][2]string{{"p", "a"}, {"p", "b"}, {"q", "x"}}, release: [2]string{"q", "x"}},
		{name: "a release by a run that does not hold its policy wakes nobody",
			claims: [][2]string{{"p", "a"}, {"p", "b"}}, release: [2]string{"p", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[reconcile.Request]())
			defer q.ShutDown()
			var e executions
			if err := e.wakeSource().Start(context.Background(), q); err != nil {
				t.Fatal(err)
			}
			for _, c := range tt.claims {
				e.claim(types.UID(c[0]), types.UID(c[1]), key(c[1]), func() {})
			}
			e.release(types.UID(tt.release[0]), types.UID(tt.release[1]))
			var woke []string
			for q.Len() > 0 {
				req, _ := q.Get()
				woke = append(woke, req.Name)
				q.Done(req)
			}
			if len(woke) != len(tt.wantWoke) {
				t.Fatalf("woke %v, want %v", woke, tt.wantWoke)
			}
			for i := range woke {
				if woke[i] != tt.wantWoke[i] {
					t.Fatalf("woke %v, want %v", woke, tt.wantWoke)
				}
			}
		})
	}
}

func TestWhichRunSupersedesABlockedOne(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 11, 40, 0, 0, time.UTC)
	run := func(name string, phase dsv1.SyncRunPhase, started, created time.Time) *dsv1.SyncRun {
		r := &dsv1.SyncRun{ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID(name), CreationTimestamp: metav1.NewTime(created)}}
		r.Status.Phase = phase
		if !started.IsZero() {
			r.Status.StartTime = &metav1.Time{Time: started}
		}
		return r
	}
	blocked := run("b", dsv1.PhaseBlocked, t0, t0)
	tests := []struct {
		name  string
		newer *dsv1.SyncRun
		old   *dsv1.SyncRun
		want  bool
	}{
		{"a run started in a later second supersedes", run("n", dsv1.PhaseSucceeded, t0.Add(time.Second), t0), blocked, true},
		{"a Blocked run started in a later second supersedes", run("n", dsv1.PhaseBlocked, t0.Add(time.Minute), t0), blocked, true},
		{"a run started earlier does not", run("n", dsv1.PhaseSucceeded, t0.Add(-time.Second), t0), blocked, false},
		{"a run that applied in the same second does not: it may have planned first", run("n", dsv1.PhaseSucceeded, t0, t0.Add(time.Second)), blocked, false},
		{"of two Blocked runs of the same second, the one created later stays", run("n", dsv1.PhaseBlocked, t0, t0.Add(time.Second)), blocked, true},
		{"of two Blocked runs of the same second created earlier, it is superseded", run("n", dsv1.PhaseBlocked, t0, t0.Add(-time.Second)), blocked, false},
		{"a Blocked run never started is not ordered", run("n", dsv1.PhaseSucceeded, t0.Add(time.Hour), t0), run("b", dsv1.PhaseBlocked, time.Time{}, t0), false},
		{"a run does not supersede itself", blocked, blocked, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := supersedes(tt.newer, tt.old); got != tt.want {
				t.Errorf("supersedes = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestWhichFinishedRunReadBothSystems(t *testing.T) {
	tests := []struct {
		name    string
		phase   dsv1.SyncRunPhase
		summary dsv1.RunSummary
		want    bool
	}{
		{"a Blocked run planned", dsv1.PhaseBlocked, dsv1.RunSummary{}, true},
		{"a Succeeded run (a dry run too)", dsv1.PhaseSucceeded, dsv1.RunSummary{}, true},
		{"a PartiallyFailed run", dsv1.PhasePartiallyFailed, dsv1.RunSummary{}, true},
		{"a run that failed after reading", dsv1.PhaseFailed, dsv1.RunSummary{DestinyItems: 3, MDMDevices: 2}, true},
		{"a run that failed before reading (a missing Secret)", dsv1.PhaseFailed, dsv1.RunSummary{}, false},
		{"a Running run has not finished", dsv1.PhaseRunning, dsv1.RunSummary{DestinyItems: 3}, false},
		{"a Pending run", dsv1.PhasePending, dsv1.RunSummary{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &dsv1.SyncRun{Status: dsv1.SyncRunStatus{Phase: tt.phase, Summary: tt.summary}}
			if got := readBothSystems(r); got != tt.want {
				t.Errorf("readBothSystems = %v, want %v", got, tt.want)
			}
		})
	}
}
