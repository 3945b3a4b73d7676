package controllers

import (
	"net/http"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/k12dev/devicesync-operator/internal/clock"
)

// Options configure both controllers.
type Options struct {
	// Clock is the time of the schedules and runs (nil: the wall clock).
	Clock clock.Clock
	// HTTPClient, when set, is used by every Destiny and Jamf client (nil: each client's own, TLS verified).
	HTTPClient *http.Client
	// ProgressInterval bounds how often a run's progress is written (zero: DefaultProgressInterval).
	ProgressInterval time.Duration
	// RetestInterval is how long a successful connection test is trusted (zero: DefaultRetestInterval).
	RetestInterval time.Duration
	// RetryInterval is how soon a policy with a transient failed check is reconciled again (zero:
	// DefaultRetryInterval).
	RetryInterval time.Duration
	// MaxConcurrentRuns bounds the runs executing at once (zero: DefaultMaxConcurrentRuns).
	MaxConcurrentRuns int
	// RetryPause is the pause before a change's transient failure is retried (zero: the engine's 2s).
	RetryPause time.Duration
	// RosterRoot is the only directory roster paths may point under (empty: none).
	RosterRoot string
}

// Setup registers the DeviceSyncPolicy and SyncRun controllers with the manager. They share one
// Connector (so a policy's runs share its Destiny patron cache) reading Secrets through the manager's
// API reader: Secrets are read when needed, never cached or watched.
func Setup(mgr ctrl.Manager, o Options) error {
	conn := &Connector{Reader: mgr.GetAPIReader(), HTTPClient: o.HTTPClient, RosterRoot: o.RosterRoot}
	policies := &DeviceSyncPolicyReconciler{
		Client: mgr.GetClient(), Scheme: mgr.GetScheme(), Clock: o.Clock, RetryInterval: o.RetryInterval,
		Validator: &ConnectionValidator{Connector: conn, Clock: o.Clock, RetestInterval: o.RetestInterval},
	}
	if err := policies.SetupWithManager(mgr); err != nil {
		return err
	}
	runs := &SyncRunReconciler{
		Client: mgr.GetClient(), Scheme: mgr.GetScheme(), Clock: o.Clock, Connector: conn,
		ProgressInterval: o.ProgressInterval, MaxConcurrentRuns: o.MaxConcurrentRuns, RetryPause: o.RetryPause,
	}
	return runs.SetupWithManager(mgr)
}
