package controllers

import (
	"context"
	"net/http"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/k12dev/devicesync-operator/internal/clock"
	"github.com/k12dev/devicesync-operator/internal/httpx"
	"github.com/k12dev/devicesync-operator/internal/notify"
)

// Options configure both controllers.
type Options struct {
	// Clock is the time of the schedules and runs (nil: the wall clock).
	Clock clock.Clock
	// Transport, when set, carries every Destiny and Jamf request (tests trust their simulators with it);
	// nil: a transport per system with TLS verified.
	Transport http.RoundTripper
	// AllowedHosts are the manager's --allowed-hosts patterns (empty: any host).
	AllowedHosts []string
	// HostLimits caps requests in flight per host across every policy (nil: a new registry).
	HostLimits *httpx.HostLimits
	// RequireCredentialsLabel: read only Secrets labelled devicesync.k12.dev/credentials=true.
	RequireCredentialsLabel bool
	// Identity names this manager in run leases (empty: host name and a random suffix).
	Identity string
	// RunLeaseDuration is how long a run's lease lasts without renewal (zero: DefaultRunLeaseDuration).
	RunLeaseDuration time.Duration
	// MaxRunTimeout caps every policy's spec.runTimeout (zero: no cap).
	MaxRunTimeout time.Duration
	// MaxRequestsPerHost caps the requests in flight to any one host across all policies (zero: each
	// system's own limit).
	MaxRequestsPerHost int
	// ProgressInterval bounds how often a run's progress is written (zero: DefaultProgressInterval).
	ProgressInterval time.Duration
	// RetestInterval is how long a successful connection test is trusted (zero: DefaultRetestInterval).
	RetestInterval time.Duration
	// RetryInterval is how soon a policy with a transient failed check is reconciled again (zero:
	// DefaultRetryInterval).
	RetryInterval time.Duration
	// MaxConcurrentRuns bounds the runs executing at once (zero: DefaultMaxConcurrentRuns).
	MaxConcurrentRuns int
	// RunAging is how long a run waits for an execution slot before it goes ahead of runs expected to
	// cost less (zero: DefaultRunAging).
	RunAging time.Duration
	// SmallRunItems is the largest expected cost of a run the express slot takes (zero:
	// DefaultSmallRunItems; negative: no express slot).
	SmallRunItems int64
	// RetryPause is the pause before a change's transient failure is retried (zero: the engine's 2s).
	RetryPause time.Duration
	// RosterRoot is the only directory roster paths may point under (empty: none).
	RosterRoot string
}

// Setup registers the DeviceSyncPolicy and SyncRun controllers with the manager. They share one
// Connector (so a policy's runs share its Destiny patron cache) reading Secrets through the manager's
// API reader: Secrets are read when needed, never cached (the policy controller watches only their metadata).
func Setup(mgr ctrl.Manager, o Options) error {
	limits := o.HostLimits
	if limits == nil {
		limits = httpx.NewHostLimits()
	}
	conn := &Connector{Reader: mgr.GetAPIReader(), Transport: o.Transport, RosterRoot: o.RosterRoot, Limits: limits,
		Guard: httpx.Guard{AllowedHosts: o.AllowedHosts}, RequireCredentialsLabel: o.RequireCredentialsLabel,
		MaxRequestsPerHost: o.MaxRequestsPerHost}
	policies := &DeviceSyncPolicyReconciler{
		Client: mgr.GetClient(), Scheme: mgr.GetScheme(), Clock: o.Clock, RetryInterval: o.RetryInterval,
		Validator: &ConnectionValidator{Connector: conn, Clock: o.Clock, RetestInterval: o.RetestInterval},
	}
	if err := policies.SetupWithManager(mgr); err != nil {
		return err
	}
	runs := &SyncRunReconciler{
		Client: mgr.GetClient(), Scheme: mgr.GetScheme(), Clock: o.Clock, Connector: conn,
		ProgressInterval: o.ProgressInterval, MaxConcurrentRuns: o.MaxConcurrentRuns, RunAging: o.RunAging, SmallRunItems: o.SmallRunItems, RetryPause: o.RetryPause,
		Identity: o.Identity, RunLeaseDuration: o.RunLeaseDuration, MaxRunTimeout: o.MaxRunTimeout,
		Notifier: &notify.Notifier{Client: mgr.GetClient(), Reader: mgr.GetAPIReader(),
			Sender: notify.NewSender(o.Transport, conn.Guard, limits), SecretValue: webhookURL(conn)},
	}
	return runs.SetupWithManager(mgr)
}

// webhookURL reads a policy's webhook URL under the Connector's Secret rules (the credentials label).
func webhookURL(conn *Connector) func(ctx context.Context, ns, name, key string) (string, error) {
	return func(ctx context.Context, ns, name, key string) (string, error) {
		v, err := conn.secret(ctx, ns, "notifications.webhook.urlSecretRef", name, key)
		return v[key], err
	}
}
