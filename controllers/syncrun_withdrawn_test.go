package controllers_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dsv1 "github.com/k12dev/devicesync-operator/api/v1alpha1"
	"github.com/k12dev/devicesync-operator/controllers"
	"github.com/k12dev/devicesync-operator/internal/clock"
	"github.com/k12dev/devicesync-operator/internal/sim/district"
)

func TestADeviceHeldByAWithdrawnStudentIsReportedThenLockedAfterTheGracePeriod(t *testing.T) {
	ctx := context.Background()
	e := newRunEnv(t, 300)
	clk := clock.NewFake(time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC))
	e.clock = clk
	held := map[string]bool{} // Jamf management ids of devices checked out to inactive students
	for _, it := range e.d.Items {
		if it.Case == district.CaseInactiveStudent {
			for _, d := range e.d.Devices {
				if d.Serial != "" && strings.EqualFold(d.Serial, it.SerialNumber) {
					held[d.ManagementID] = true
				}
			}
		}
	}
	if len(held) == 0 {
		t.Fatal("the district has no device checked out to an inactive student")
	}
	p := e.policy("withdrawn", false)
	p.Spec.LostMode.WithdrawnAfter = &metav1.Duration{Duration: 72 * time.Hour}
	if err := k8s.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	e.startRunManager(t)
	lostModeFor := func() map[string]bool {
		out := map[string]bool{}
		for _, c := range e.pro.Commands() {
			if c.Type == "ENABLE_LOST_MODE" && held[c.ManagementID] {
				out[c.ManagementID] = true
			}
		}
		return out
	}

	first := waitRun(t, e.createRun(t, "withdrawn-1", p.Name), "the first run succeeded", func(r *dsv1.SyncRun) bool { return r.Status.Phase == dsv1.PhaseSucceeded })
	if n := first.Status.Summary.ByReason["HeldByInactiveStudent"]; int(n) != len(held) {
		t.Fatalf("the run reports %d devices held by inactive students, want %d", n, len(held))
	}
	if got := lostModeFor(); len(got) != 0 {
		t.Fatalf("within the grace period %d of them were put in Lost Mode", len(got))
	}
	var cm corev1.ConfigMap
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: e.ns, Name: "withdrawn-withdrawn"}, &cm); err != nil {
		t.Fatalf("the first-seen times are not remembered: %v", err)
	}
	var seen map[string]string
	if err := json.Unmarshal([]byte(cm.Data[controllers.WithdrawnKey]), &seen); err != nil || len(seen) != len(held) {
		t.Fatalf("first-seen times %v (%v), want %d", seen, err, len(held))
	}
	for _, v := range seen {
		if v != "2026-11-30T08:00:00Z" {
			t.Fatalf("first seen %s, want the first run's time", v)
		}
	}
	out, err := kubectl("get", "configmap", "-n", e.ns, first.Status.FixList.ConfigMap, "-o", `jsonpath={.data.fixlist\.csv}`)
	if err != nil || strings.Count(out, "HeldByInactiveStudent") != len(held) {
		t.Errorf("the fix list must list the %d devices for the schools to collect (%v):\n%s", len(held), err, out)
	}

	clk.Step(48 * time.Hour)
	waitRun(t, e.createRun(t, "withdrawn-2", p.Name), "the second run succeeded", func(r *dsv1.SyncRun) bool { return r.Status.Phase == dsv1.PhaseSucceeded })
	if got := lostModeFor(); len(got) != 0 {
		t.Fatalf("48h after they were first seen (grace 72h) %d were put in Lost Mode", len(got))
	}

	clk.Step(25 * time.Hour)
	third := waitRun(t, e.createRun(t, "withdrawn-3", p.Name), "the third run succeeded", func(r *dsv1.SyncRun) bool { return r.Status.Phase == dsv1.PhaseSucceeded })
	if got := lostModeFor(); len(got) != len(held) {
		t.Fatalf("73h after they were first seen, %d of %d are in Lost Mode", len(got), len(held))
	}
	if third.Status.Summary.ByAction["LostModeEnabled"] < int32(len(held)) {
		t.Errorf("byAction %v, want LostModeEnabled for the %d devices", third.Status.Summary.ByAction, len(held))
	}

	clk.Step(time.Hour)
	fourth := waitRun(t, e.createRun(t, "withdrawn-4", p.Name), "the fourth run succeeded", func(r *dsv1.SyncRun) bool { return r.Status.Phase == dsv1.PhaseSucceeded })
	if fourth.Status.Summary.Changed != 0 {
		t.Errorf("a later run changed %d devices (byAction %v): Lost Mode must stay on while the student is inactive", fourth.Status.Summary.Changed, fourth.Status.Summary.ByAction)
	}
}
