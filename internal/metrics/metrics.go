// Package metrics defines the Prometheus metrics the manager exports on its metrics endpoint, per policy.
//
// Every series carries the policy's namespace and name. The alert rules in config/prometheus reference these
// names; a test there checks that every metric a rule uses is one of Names().
package metrics

import (
	gosync "sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Metric names, exported so that tests and alert rules can refer to them.
const (
	RunDuration          = "devicesync_run_duration_seconds"
	RunsTotal            = "devicesync_runs_total"
	ChangesTotal         = "devicesync_changes_total"
	DeviceFailuresTotal  = "devicesync_device_failures_total"
	SkipsTotal           = "devicesync_skips_total"
	LastSuccessTimestamp = "devicesync_last_success_timestamp_seconds"
	NextRunTimestamp     = "devicesync_next_run_timestamp_seconds"
	PolicyReady          = "devicesync_policy_ready"
	BlockedRuns          = "devicesync_blocked_runs"
)

var (
	runDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    RunDuration,
		Help:    "Wall time of a finished SyncRun, from start to completion, by result phase.",
		Buckets: []float64{1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600},
	}, []string{"namespace", "policy", "phase"})
	runsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: RunsTotal,
		Help: "Finished SyncRuns by result phase (Succeeded, PartiallyFailed, Failed, Blocked).",
	}, []string{"namespace", "policy", "phase"})
	changesTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: ChangesTotal,
		Help: "Device changes applied to the MDM, by action (Assigned, Reassigned, Updated, Cleared, Renamed, LostModeEnabled, LostModeDisabled).",
	}, []string{"namespace", "policy", "action"})
	deviceFailuresTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: DeviceFailuresTotal,
		Help: "Device changes that failed to apply.",
	}, []string{"namespace", "policy"})
	skipsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: SkipsTotal,
		Help: "Devices or items a run skipped, by reason (NotInJamf, DuplicateSerial, TemplateError, ...).",
	}, []string{"namespace", "policy", "reason"})
	lastSuccess = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: LastSuccessTimestamp,
		Help: "Unix time of the completion of the policy's last Succeeded run.",
	}, []string{"namespace", "policy"})
	nextRun = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: NextRunTimestamp,
		Help: "Unix time of the policy's next scheduled slot (0 when suspended or none).",
	}, []string{"namespace", "policy"})
	policyReady = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: PolicyReady,
		Help: "1 when the policy's Ready condition is True, 0 otherwise.",
	}, []string{"namespace", "policy"})
	blockedRuns = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: BlockedRuns,
		Help: "SyncRuns of the policy waiting in phase Blocked for approval or fixed data.",
	}, []string{"namespace", "policy"})
)

func init() {
	ctrlmetrics.Registry.MustRegister(runDuration, runsTotal, changesTotal, deviceFailuresTotal, skipsTotal,
		lastSuccess, nextRun, policyReady, blockedRuns)
}

// Names lists every metric this package exports.
func Names() []string {
	return []string{RunDuration, RunsTotal, ChangesTotal, DeviceFailuresTotal, SkipsTotal, LastSuccessTimestamp,
		NextRunTimestamp, PolicyReady, BlockedRuns}
}

// RunResult is what a finished run reports.
type RunResult struct {
	Namespace, Policy, Phase string
	Duration                 time.Duration
	ByAction, ByReason       map[string]int
	Failed                   int
	// CompletedAt is set for a Succeeded run.
	CompletedAt time.Time
}

// ObserveRun records a finished run. Call it once per run, when its final status has been written.
func ObserveRun(r RunResult) {
	runDuration.WithLabelValues(r.Namespace, r.Policy, r.Phase).Observe(r.Duration.Seconds())
	runsTotal.WithLabelValues(r.Namespace, r.Policy, r.Phase).Inc()
	for a, n := range r.ByAction {
		changesTotal.WithLabelValues(r.Namespace, r.Policy, a).Add(float64(n))
	}
	for reason, n := range r.ByReason {
		skipsTotal.WithLabelValues(r.Namespace, r.Policy, reason).Add(float64(n))
	}
	if r.Failed > 0 {
		deviceFailuresTotal.WithLabelValues(r.Namespace, r.Policy).Add(float64(r.Failed))
	}
	if r.Phase == "Succeeded" && !r.CompletedAt.IsZero() {
		lastSuccessSetIfNewer(r.Namespace, r.Policy, float64(r.CompletedAt.Unix()))
	}
}

// SetNextRun records the policy's next scheduled slot; the zero time records 0.
func SetNextRun(namespace, policy string, t time.Time) {
	v := 0.0
	if !t.IsZero() {
		v = float64(t.Unix())
	}
	nextRun.WithLabelValues(namespace, policy).Set(v)
}

// SetPolicyReady records the policy's Ready condition.
func SetPolicyReady(namespace, policy string, ready bool) {
	v := 0.0
	if ready {
		v = 1
	}
	policyReady.WithLabelValues(namespace, policy).Set(v)
}

// SetBlockedRuns records how many of the policy's runs wait in phase Blocked.
func SetBlockedRuns(namespace, policy string, n int) {
	blockedRuns.WithLabelValues(namespace, policy).Set(float64(n))
}

// phases are the final phases devicesync_runs_total counts.
var phases = []string{"Succeeded", "PartiallyFailed", "Failed", "Blocked"}

// ObservePolicy records what a policy's status says, so the series exist from the policy's first
// reconcile and survive a manager restart: devicesync_runs_total at 0 for every phase (an alert on
// increase() then sees the first failure), and the last success from status.lastSuccessfulTime.
func ObservePolicy(namespace, policy string, lastSuccess time.Time) {
	for _, p := range phases {
		runsTotal.WithLabelValues(namespace, policy, p).Add(0)
	}
	deviceFailuresTotal.WithLabelValues(namespace, policy).Add(0)
	if !lastSuccess.IsZero() {
		lastSuccessSetIfNewer(namespace, policy, float64(lastSuccess.Unix()))
	}
}

// lastSuccessSetIfNewer moves the last-success gauge forward only.
func lastSuccessSetIfNewer(namespace, policy string, v float64) {
	gauge := lastSuccess.WithLabelValues(namespace, policy)
	lastMu.Lock()
	defer lastMu.Unlock()
	key := namespace + "/" + policy
	if v > lastSeen[key] {
		lastSeen[key] = v
		gauge.Set(v)
	}
}

var (
	lastMu   gosync.Mutex
	lastSeen = map[string]float64{}
)

// ForgetPolicy drops every series of a deleted policy.
func ForgetPolicy(namespace, policy string) {
	l := prometheus.Labels{"namespace": namespace, "policy": policy}
	for _, v := range []interface {
		DeletePartialMatch(prometheus.Labels) int
	}{runDuration, runsTotal, changesTotal, deviceFailuresTotal, skipsTotal, lastSuccess, nextRun, policyReady, blockedRuns} {
		v.DeletePartialMatch(l)
	}
	lastMu.Lock()
	delete(lastSeen, namespace+"/"+policy)
	lastMu.Unlock()
}
