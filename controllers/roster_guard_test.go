package controllers_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dsv1 "github.com/k12dev/devicesync-operator/api/v1alpha1"
)

// TestARosterCutShortAfterAGoodRunIsBlocked: a good run records the roster's size next to its Destiny item
// count (status.lastGoodSource.rosterRows); when the roster ConfigMap is then replaced by a file cut off
// at 70%, the next run is Blocked RosterShrunk with a message naming the roster, and writes nothing.
func TestARosterCutShortAfterAGoodRunIsBlocked(t *testing.T) {
	ctx := context.Background()
	e := newRunEnv(t, 300)
	e.startRunManager(t)
	p := e.policy("roster", false)
	shrink := intstr.FromString("20%")
	p.Spec.Safety.MaxRosterShrink = &shrink
	if err := k8s.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	good := waitRun(t, e.createRun(t, "roster-good", p.Name), "the first run succeeded",
		func(r *dsv1.SyncRun) bool { return r.Status.Phase == dsv1.PhaseSucceeded })
	rows := good.Status.Summary.RosterRows
	if rows == 0 {
		t.Fatalf("the run does not record its roster's size: summary %+v", good.Status.Summary)
	}
	eventually(t, "the policy records the run's roster size as the baseline of maxRosterShrink", func() (bool, error) {
		b := getPolicy(t, p).Status.LastGoodSource
		return b != nil && b.RosterRows == rows && b.Run == good.Name, fmt.Errorf("lastGoodSource %+v", b)
	})

	var cm corev1.ConfigMap
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: e.ns, Name: "roster"}, &cm); err != nil {
		t.Fatal(err)
	}
	csv := cm.Data["patrons.csv"]
	cm.Data["patrons.csv"] = csv[:len(csv)*7/10]
	if err := k8s.Update(ctx, &cm); err != nil {
		t.Fatal(err)
	}
	before := e.proWrites()
	blocked := waitRun(t, e.createRun(t, "roster-cut", p.Name), "the run with the cut roster is Blocked",
		func(r *dsv1.SyncRun) bool { return r.Status.Phase == dsv1.PhaseBlocked })
	if b := blocked.Status.Blocked; b == nil || b.Reason != "RosterShrunk" || !strings.Contains(b.Message, "safety.maxRosterShrink") {
		t.Errorf("blocked %+v, want reason RosterShrunk naming safety.maxRosterShrink", b)
	}
	if got := blocked.Status.Summary.RosterRows; got*100 > rows*75 {
		t.Errorf("the blocked run counts %d roster rows of %d, want about 70%%", got, rows)
	}
	if w := e.proWrites() - before; w != 0 {
		t.Errorf("the blocked run wrote %d times", w)
	}
	e.checkJamfProState(t)
}
