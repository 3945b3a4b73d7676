// Command manager runs the devicesync-operator controllers: DeviceSyncPolicy (scheduling, readiness)
// and SyncRun (execution).
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	// Time zones of schedules resolve on any image, including distroless ones without /usr/share/zoneinfo.
	_ "time/tzdata"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	dsv1 "github.com/k12dev/devicesync-operator/api/v1alpha1"
	"github.com/k12dev/devicesync-operator/controllers"
	"github.com/k12dev/devicesync-operator/internal/httpx"
	"github.com/k12dev/devicesync-operator/internal/memlimit"
)

var scheme = runtime.NewScheme()

func init() {
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(dsv1.AddToScheme(scheme))
}

func main() {
	var (
		metricsAddr   string
		probeAddr     string
		secureMetrics bool
		enableHTTP2   bool
		leaderElect   bool
		metricsCerts  string
		rosterRoot    string
		allowedHosts  string
		requireLabel  bool
		leaderNS      string
		maxRunTimeout time.Duration
		shardSel      string
		maxRuns       int
		runAging      time.Duration
		smallRun      int64
		perHost       int
	)
	flag.StringVar(&metricsAddr, "metrics-bind-address", ":8443", "Address of the metrics endpoint (:8443 for HTTPS, :8080 for HTTP, 0 to disable).")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "Address of the liveness and readiness probes.")
	flag.BoolVar(&secureMetrics, "metrics-secure", true, "Serve metrics over HTTPS, authenticated and authorised through the API server.")
	flag.BoolVar(&enableHTTP2, "enable-http2", false, "Enable HTTP/2 for the metrics server (off: HTTP/2 rapid-reset and stream-cancellation CVEs).")
	flag.StringVar(&metricsCerts, "metrics-cert-dir", "", "Directory with tls.crt and tls.key for the metrics endpoint (for example a cert-manager Secret mounted there); empty: a self-signed certificate generated at start.")
	flag.StringVar(&rosterRoot, "roster-root", "", "Directory under which policies may read rosters from the file system (spec.source.destiny.roster.path); empty: none.")
	flag.BoolVar(&leaderElect, "leader-elect", true, "Elect a leader so only one replica reconciles at a time (each run also holds its own lease, so runs never execute twice).")
	flag.StringVar(&leaderNS, "leader-election-namespace", "", "Namespace of the leader election lease; empty: the manager's own namespace in a cluster (required outside one, or use --leader-elect=false).")
	flag.StringVar(&allowedHosts, "allowed-hosts", "", "Comma-separated hosts policies may name as Destiny or Jamf URLs (host, *.domain, either with :port); empty: any host. See README, Security.")
	flag.DurationVar(&maxRunTimeout, "max-run-timeout", 0, "Cap on every policy's spec.runTimeout (0: no cap beyond the policy's own, default 1h).")
	flag.StringVar(&shardSel, "watch-label-selector", "", "Take only the policies (and their runs) whose labels match, e.g. sharding.devicesync.k12.dev/key=shard1; the main replica of a sharded install takes !sharding.devicesync.k12.dev/key. Each shard elects its own leader. Empty: every policy.")
	flag.IntVar(&maxRuns, "max-concurrent-runs", controllers.DefaultMaxConcurrentRuns, "Runs executing at once in this manager (one per policy at most); the others wait, the run expected to read the fewest Destiny items first.")
	flag.DurationVar(&runAging, "run-aging", controllers.DefaultRunAging, "How long a run waits for one of --max-concurrent-runs before it goes ahead of smaller runs (so a large district is never starved).")
	flag.Int64Var(&smallRun, "small-run-items", controllers.DefaultSmallRunItems, "A run expected to read at most this many Destiny items may start in one express slot beyond --max-concurrent-runs when every slot is taken, so a small district never waits behind large ones (negative: no express slot).")
	flag.IntVar(&perHost, "max-requests-per-host", 0, "Cap on requests in flight to any one Destiny or Jamf host, across all policies (0: each system's own limit: Jamf Pro maxConcurrency, default 5; Jamf School 5; Destiny 10).")
	flag.BoolVar(&requireLabel, "require-credentials-label", false, "Read only Secrets labelled devicesync.k12.dev/credentials=true (credentials, rosters, CA bundles).")
	opts := zap.Options{Development: false}
	opts.BindFlags(flag.CommandLine)
	flag.Parse()

	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts)))
	setupLog := ctrl.Log.WithName("setup")
	if err := setMemoryLimit(setupLog); err != nil {
		setupLog.Error(err, "invalid memory limit")
		os.Exit(2)
	}
	hosts, err := httpx.ParseAllowedHosts(allowedHosts)
	if err != nil {
		setupLog.Error(err, "invalid --allowed-hosts")
		os.Exit(2)
	}
	shard, err := controllers.ParseShardSelector(shardSel)
	if err != nil {
		setupLog.Error(err, "invalid --watch-label-selector")
		os.Exit(2)
	}

	var tlsOpts []func(*tls.Config)
	if !enableHTTP2 {
		tlsOpts = append(tlsOpts, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
	}
	metricsOpts := metricsserver.Options{
		BindAddress:   metricsAddr,
		SecureServing: secureMetrics,
		TLSOpts:       tlsOpts,
		CertDir:       metricsCerts,
	}
	if secureMetrics {
		metricsOpts.FilterProvider = filters.WithAuthenticationAndAuthorization
	}

	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{
		Scheme:                        scheme,
		Metrics:                       metricsOpts,
		HealthProbeBindAddress:        probeAddr,
		LeaderElection:                leaderElect,
		LeaderElectionID:              controllers.LeaderElectionID(shard),
		Cache:                         cache.Options{ByObject: controllers.ShardCache(shard)},
		LeaderElectionNamespace:       leaderNS,
		LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		if leaderElect && leaderNS == "" && strings.Contains(err.Error(), "leader election namespace") {
			err = fmt.Errorf("%w: outside a cluster, pass --leader-election-namespace=NAMESPACE, or --leader-elect=false (runs still hold their own leases)", err)
		}
		setupLog.Error(err, "unable to create manager")
		os.Exit(1)
	}

	if err := controllers.Setup(mgr, controllers.Options{RosterRoot: rosterRoot, AllowedHosts: hosts, RequireCredentialsLabel: requireLabel,
		MaxRunTimeout: maxRunTimeout, MaxConcurrentRuns: maxRuns, RunAging: runAging, SmallRunItems: smallRun, MaxRequestsPerHost: perHost}); err != nil {
		setupLog.Error(err, "unable to create controllers")
		os.Exit(1)
	}

	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		setupLog.Error(err, "unable to set up health check")
		os.Exit(1)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		setupLog.Error(err, "unable to set up ready check")
		os.Exit(1)
	}

	setupLog.Info("starting manager")
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		setupLog.Error(err, "problem running manager")
		os.Exit(1)
	}
}

// setMemoryLimit sets the runtime's soft memory limit from the container's (memlimit.EnvVar, from the
// downward API) unless GOMEMLIMIT is set, and logs the limit in force.
func setMemoryLimit(log logr.Logger) error {
	limit, from, err := memlimit.Apply(os.Getenv)
	switch {
	case err != nil:
		return err
	case from == "":
		log.Info("no memory limit: neither GOMEMLIMIT nor " + memlimit.EnvVar + " is set")
	default:
		log.Info("memory limit", "GOMEMLIMIT", fmt.Sprintf("%dMiB", limit>>20), "bytes", limit, "from", from)
	}
	return nil
}
