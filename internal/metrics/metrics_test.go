package metrics

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestMetrics(t *testing.T) {
	const ns, pol = "lincoln", "ipads"
	t0 := time.Date(2026, 11, 23, 11, 40, 0, 0, time.UTC)

	t.Run("a policy's run counters exist at zero from its first reconcile, so increase() sees the first failure", func(t *testing.T) {
		ObservePolicy(ns, pol, time.Time{})
		for _, p := range phases {
			if v := testutil.ToFloat64(runsTotal.WithLabelValues(ns, pol, p)); v != 0 {
				t.Errorf("%s{phase=%s} = %v, want 0", RunsTotal, p, v)
			}
		}
	})
	t.Run("a finished run counts its phase, its applied changes by action and its skips by reason", func(t *testing.T) {
		ObserveRun(RunResult{Namespace: ns, Policy: pol, Phase: "Succeeded", Duration: 3 * time.Second,
			ByAction: map[string]int{"Assigned": 4}, ByReason: map[string]int{"NotInJamf": 2}, CompletedAt: t0})
		if v := testutil.ToFloat64(runsTotal.WithLabelValues(ns, pol, "Succeeded")); v != 1 {
			t.Errorf("runs = %v", v)
		}
		if v := testutil.ToFloat64(changesTotal.WithLabelValues(ns, pol, "Assigned")); v != 4 {
			t.Errorf("changes = %v", v)
		}
		if v := testutil.ToFloat64(skipsTotal.WithLabelValues(ns, pol, "NotInJamf")); v != 2 {
			t.Errorf("skips = %v", v)
		}
		if v := testutil.ToFloat64(lastSuccess.WithLabelValues(ns, pol)); v != float64(t0.Unix()) {
			t.Errorf("last success = %v", v)
		}
	})
	t.Run("the last success never moves backwards (a stale status after a restart)", func(t *testing.T) {
		ObservePolicy(ns, pol, t0.Add(-time.Hour))
		if v := testutil.ToFloat64(lastSuccess.WithLabelValues(ns, pol)); v != float64(t0.Unix()) {
			t.Errorf("last success = %v, want %v", v, t0.Unix())
		}
	})
	t.Run("a deleted policy's series are dropped", func(t *testing.T) {
		ForgetPolicy(ns, pol)
		if n := testutil.CollectAndCount(runsTotal); n != 0 {
			t.Errorf("%d runs_total series left", n)
		}
		if n := testutil.CollectAndCount(lastSuccess); n != 0 {
			t.Errorf("%d last-success series left", n)
		}
	})
}
