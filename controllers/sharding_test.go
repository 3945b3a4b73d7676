package controllers_test

import (
	"context"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	dsv1 "github.com/k12dev/devicesync-operator/api/v1alpha1"
	"github.com/k12dev/devicesync-operator/controllers"
)

// startShard runs both controllers for the env's namespace, taking only the policies and runs whose labels
// match selector, as a manager started with --watch-label-selector does. Its events go to events.
func (e *runEnv) startShard(t *testing.T, selector string, events *eventLog) {
	t.Helper()
	sel, err := controllers.ParseShardSelector(selector)
	if err != nil {
		t.Fatal(err)
	}
	mgr := e.newManager(t, controllers.ShardCache(sel))
	conn := &controllers.Connector{Reader: mgr.GetAPIReader(), Transport: e.transport, Limits: e.limits}
	if err := (&controllers.DeviceSyncPolicyReconciler{Client: mgr.GetClient(), Scheme: scheme, Recorder: events}).SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	if err := (&controllers.SyncRunReconciler{Client: mgr.GetClient(), Scheme: scheme, Recorder: events, Connector: conn}).SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	startManager(t, mgr)
}

func TestTwoShardsEachRunOnlyTheirOwnPolicies(t *testing.T) {
	ctx := context.Background()
	e := newRunEnv(t, 100)
	events := map[string]*eventLog{"shard1": {}, "shard2": {}}
	for shard, ev := range events {
		e.startShard(t, controllers.ShardLabel+"="+shard, ev)
	}
	policies := map[string]*dsv1.DeviceSyncPolicy{}
	for _, shard := range []string{"shard1", "shard2"} {
		p := e.ownPolicy("district-" + shard)
		p.Labels[controllers.ShardLabel] = shard
		p.Annotations = map[string]string{dsv1.RunNowAnnotation: "first"}
		if err := k8s.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
		policies[shard] = p
	}

	for shard, p := range policies {
		var run dsv1.SyncRun
		eventually(t, "the run of "+p.Name+" succeeded", func() (bool, error) {
			var runs dsv1.SyncRunList
			if err := k8s.List(ctx, &runs, client.InNamespace(e.ns), client.MatchingLabels{dsv1.PolicyLabel: p.Name}); err != nil || len(runs.Items) != 1 {
				return false, err
			}
			run = runs.Items[0]
			return run.Status.Phase == dsv1.PhaseSucceeded, nil
		})
		if got := run.Labels[controllers.ShardLabel]; got != shard {
			t.Errorf("run %s carries shard %q, want its policy's %q", run.Name, got, shard)
		}
		other := "shard1"
		if shard == other {
			other = "shard2"
		}
		if n := len(events[shard].withReason(run.Name, "RunStarted")); n != 1 {
			t.Errorf("%s started run %s %d times, want once", shard, run.Name, n)
		}
		if n := len(events[other].about(run.Name)) + len(events[other].about(p.Name)); n != 0 {
			t.Errorf("%s touched %s's policy or run (%d events)", other, shard, n)
		}
	}
}

func TestShardSelectorsAndLeaderElection(t *testing.T) {
	all, err := controllers.ParseShardSelector("")
	if err != nil || controllers.ShardCache(all) != nil || controllers.LeaderElectionID(all) != "devicesync-operator.devicesync.k12.dev" {
		t.Fatalf("no selector: every policy, the plain leader election ID (%v)", err)
	}
	one, _ := controllers.ParseShardSelector(controllers.ShardLabel + "=shard1")
	two, _ := controllers.ParseShardSelector(controllers.ShardLabel + "=shard2")
	rest, _ := controllers.ParseShardSelector("!" + controllers.ShardLabel)
	ids := map[string]bool{controllers.LeaderElectionID(one): true, controllers.LeaderElectionID(two): true, controllers.LeaderElectionID(rest): true}
	if len(ids) != 3 {
		t.Errorf("each shard must elect its own leader: %v", ids)
	}
	if _, err := controllers.ParseShardSelector("key in (a"); err == nil {
		t.Error("a broken selector was accepted")
	}
}
