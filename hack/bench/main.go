// Command bench measures the manager against simulated districts: the real controllers (controllers.Setup
// with one shared httpx.HostLimits) on a local control plane, the Destiny and Jamf Pro (or Jamf School)
// simulators with latency in a child process (so the manager's peak RSS is its own), one SyncRun per policy all created
// at once, and per run its wall time, calls, lower bound and ratio, the peak requests in flight per host,
// and the manager process's peak RSS. It exits non-zero when a run does not succeed or a host saw more
// requests at once than it allows (correctness, not speed).
//
//	go run ./hack/bench --scenario single [--devices 50000] [--latency 20ms]
//	go run ./hack/bench --scenario many [--policies 20] [--devices 10000] [--small 500] [--share-jamf 5]
//	go run ./hack/bench --target jamfschool --scenario single --devices 50000
//
// KUBEBUILDER_ASSETS names the directory of kube-apiserver and etcd (else bin/k8s/<version>).
package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/yaml"

	dsv1 "github.com/k12dev/devicesync-operator/api/v1alpha1"
	"github.com/k12dev/devicesync-operator/controllers"
	"github.com/k12dev/devicesync-operator/internal/httpx"
	"github.com/k12dev/devicesync-operator/internal/memlimit"
	"github.com/k12dev/devicesync-operator/internal/sim/district"
	"github.com/k12dev/devicesync-operator/internal/testenv"
)

// What each system allows in flight: Jamf's guidance of 5 connections (the policies' maxConcurrency) and
// the 10 the Destiny client uses.
const (
	jamfLimit    = 5
	destinyLimit = 10
	namespace    = "devicesync-bench"
	samplePolicy = "config/samples/devicesync_v1alpha1_devicesyncpolicy.yaml"
)

type config struct {
	scenario         string
	target           string
	devices, small   int
	policies         int
	schools, drift   int
	shareJamf        int
	rounds           int
	maxRuns          int
	latency, timeout time.Duration
	heapProfile      string
	cpuProfile       string
	memoryLimit      string
	cgroup           bool
	memLimitFrom     string // where the soft memory limit in force came from ("" when none)
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "sim" {
		if err := simMain(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "bench sim:", err)
			os.Exit(1)
		}
		return
	}
	var c config
	flag.StringVar(&c.scenario, "scenario", "single", "single (one large district) or many (several districts due at once)")
	flag.StringVar(&c.target, "target", targetJamfPro, "the MDM: jamfpro, or jamfschool (device sync only: owner and location, no roster sync)")
	flag.IntVar(&c.devices, "devices", 0, "devices per district (default: single 10000, many 2000)")
	flag.IntVar(&c.policies, "policies", 0, "districts, one policy each, in the many scenario (default 5)")
	flag.IntVar(&c.small, "small", 500, "many: devices of one more, small district due with the others (0: none)")
	flag.IntVar(&c.schools, "schools", 20, "schools per district")
	flag.IntVar(&c.drift, "drift", 2, "percent of devices needing a change")
	flag.IntVar(&c.shareJamf, "share-jamf", 0, "many: how many districts share one Jamf Pro host")
	flag.IntVar(&c.rounds, "rounds", 2, "runs of every policy, one round after the other (the first fills the patron cache)")
	flag.IntVar(&c.maxRuns, "max-runs", 0, "the SyncRun controller's worker count, Options.MaxConcurrentRuns (0: its default)")
	flag.DurationVar(&c.latency, "latency", 20*time.Millisecond, "latency of every simulated call")
	flag.DurationVar(&c.timeout, "timeout", 30*time.Minute, "how long to wait for a round")
	flag.StringVar(&c.cpuProfile, "cpu-profile", "", "write the CPU profile of the bench process (the manager; the simulators run apart) during the last round here")
	flag.StringVar(&c.heapProfile, "heap-profile", "", "write the manager process's heap profile here at the peak of the last round")
	flag.StringVar(&c.memoryLimit, "memory-limit", "", "the manager container's limits.memory (e.g. 1Gi, the Deployment's default): the soft memory limit is set from it as main.go does from "+memlimit.EnvVar+" (90%; GOMEMLIMIT wins); empty: "+memlimit.EnvVar+" if set")
	flag.BoolVar(&c.cgroup, "cgroup", false, "run the manager under --memory-limit as a hard limit too: the bench moves its own process (the manager, not the control plane or the simulators) into a memory cgroup of that size, as a container's limits.memory does, and reports its peak charge and OOM kills (Linux, as root)")
	flag.Parse()
	if c.cgroup && c.memoryLimit == "" {
		fmt.Fprintln(os.Stderr, "bench: --cgroup needs --memory-limit (the cgroup's size)")
		os.Exit(2)
	}
	if c.target != targetJamfPro && c.target != targetJamfSchool {
		fmt.Fprintf(os.Stderr, "bench: --target %q: want jamfpro or jamfschool\n", c.target)
		os.Exit(2)
	}
	if c.target == targetJamfSchool && c.shareJamf > 0 {
		fmt.Fprintln(os.Stderr, "bench: --share-jamf is for Jamf Pro hosts")
		os.Exit(2)
	}
	switch c.scenario {
	case "single":
		c.policies, c.small, c.shareJamf = 1, 0, 0
		if c.devices == 0 {
			c.devices = 10000
		}
	case "many":
		if c.policies == 0 {
			c.policies = 5
		}
		if c.devices == 0 {
			c.devices = 2000
		}
	default:
		fmt.Fprintf(os.Stderr, "bench: --scenario %q: want single or many\n", c.scenario)
		os.Exit(2)
	}
	// The manager's soft memory limit, as main.go sets it in a Deployment.
	limit, from, err := memlimit.Apply(func(k string) string {
		if k == memlimit.EnvVar && c.memoryLimit != "" {
			return c.memoryLimit
		}
		return os.Getenv(k)
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	if from != "" {
		c.memLimitFrom = fmt.Sprintf("%d MiB (%s)", limit>>20, from)
	}
	ok, err := run(c)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	if !ok {
		os.Exit(1)
	}
}

// bench is one benchmark from simulators to verdict.
type bench struct {
	cfg     config
	hello   simHello
	devices []int
	k8s     client.WithWatch
	limits  *httpx.HostLimits
	heap    *heapSampler
	// rosterDir holds the districts' rosters (the manager's roster root).
	rosterDir string
}

func run(c config) (bool, error) {
	b := &bench{cfg: c, limits: httpx.NewHostLimits(), heap: newHeapSampler()}
	defer b.heap.stop()
	for range c.policies {
		b.devices = append(b.devices, c.devices)
	}
	if c.small > 0 {
		b.devices = append(b.devices, c.small)
	}
	root, err := testenv.RepoRoot()
	if err != nil {
		return false, err
	}
	outDir := filepath.Join(root, "bin", "bench")
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return false, err
	}
	b.rosterDir = filepath.Join(outDir, "rosters")
	if err := os.RemoveAll(b.rosterDir); err != nil {
		return false, err
	}
	logf, err := os.Create(filepath.Join(outDir, "manager.log"))
	if err != nil {
		return false, err
	}
	defer logf.Close()
	logger := zap.New(zap.WriteTo(logf))
	ctrl.SetLogger(logger)
	klog.SetLogger(logger)

	t0 := time.Now()
	stopSims, err := b.startSims()
	if err != nil {
		return false, fmt.Errorf("simulators: %w", err)
	}
	defer stopSims()
	fmt.Printf("simulators: %d districts (%s devices), %d schools each, %d%% drift, %s per call, in child process (%s)\n",
		len(b.devices), joinInts(b.devices), c.schools, c.drift, c.latency, time.Since(t0).Round(100*time.Millisecond))

	env, restCfg, err := testenv.Start()
	if err != nil {
		return false, err
	}
	defer func() { _ = env.Stop() }()
	if b.k8s, err = client.NewWithWatch(restCfg, client.Options{Scheme: testenv.Scheme()}); err != nil {
		return false, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := b.install(ctx, root); err != nil {
		return false, fmt.Errorf("installing the policies: %w", err)
	}
	rssBefore := readStatusKiB("VmRSS")
	if c.cgroup {
		q, err := resource.ParseQuantity(c.memoryLimit)
		if err != nil {
			return false, fmt.Errorf("--memory-limit %q: %w", c.memoryLimit, err)
		}
		// What the process already holds is charged elsewhere: the cgroup gets the rest of the limit.
		held := int64(readStatusKiB("RssAnon")) << 10
		cg, err := joinMemCgroup(q.Value() - held)
		if err != nil {
			return false, fmt.Errorf("--cgroup: %w", err)
		}
		fmt.Printf("memory cgroup: %d MiB, the --memory-limit less the %d MiB of anonymous memory the process held before (charged elsewhere)\n",
			(q.Value()-held)>>20, held>>20)
		defer cg.leave()
		defer func() { fmt.Println(cg.report()) }()
	}
	mgrDone, err := b.startManager(ctx, restCfg)
	if err != nil {
		return false, err
	}
	if err := b.waitReady(ctx, mgrDone); err != nil {
		return false, err
	}
	fmt.Printf("control plane, %d policies Ready (%s); process RSS before the manager %d MiB\n",
		len(b.devices), time.Since(t0).Round(100*time.Millisecond), rssBefore>>10)

	ok := true
	for r := 1; r <= c.rounds; r++ {
		stop, err := b.profileCPU(r == c.rounds)
		if err != nil {
			return false, err
		}
		good, err := b.round(ctx, r, mgrDone)
		stop()
		if err != nil {
			return false, fmt.Errorf("round %d: %w", r, err)
		}
		ok = ok && good
	}
	fmt.Printf("\nmanager process: peak RSS (VmHWM) %d MiB, peak heap in use %d MiB, peak live heap %d MiB, GOGC %s, memory limit %s, GOMAXPROCS %d\n",
		readStatusKiB("VmHWM")>>10, b.heap.peak()>>20, b.heap.peakLive()>>20, envOr("GOGC", "100"), cmp.Or(b.cfg.memLimitFrom, "off"), runtime.GOMAXPROCS(0))
	fmt.Println(b.heap.atPeakRSS())
	if c.heapProfile != "" {
		if err := b.heap.writeProfile(c.heapProfile); err != nil {
			return false, err
		}
	}
	if !ok {
		fmt.Println("FAIL: a run did not succeed or a host saw more requests at once than it allows")
	}
	return ok, nil
}

// profileCPU starts the CPU profile when --cpu-profile is set and this is the round to profile; the
// returned func stops it.
func (b *bench) profileCPU(this bool) (func(), error) {
	if b.cfg.cpuProfile == "" || !this {
		return func() {}, nil
	}
	f, err := os.Create(b.cfg.cpuProfile)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
		fmt.Printf("CPU profile of the round: %s (go tool pprof -top %s)\n", b.cfg.cpuProfile, b.cfg.cpuProfile)
	}, nil
}

// startSims re-executes this program as "bench sim ..." and reads its first line.
func (b *bench) startSims() (func(), error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	spec := simSpec{Devices: b.devices, Schools: b.cfg.schools, Latency: b.cfg.latency, ShareJamf: b.cfg.shareJamf, Drift: b.cfg.drift,
		RosterDir: b.rosterDir, Target: b.cfg.target}
	cmd := exec.Command(exe, spec.args()...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	stop := func() {
		_ = stdin.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
		}
	}
	line, err := bufio.NewReader(stdout).ReadBytes('\n')
	if err == nil {
		err = json.Unmarshal(line, &b.hello)
	}
	if err != nil {
		stop()
		return nil, fmt.Errorf("reading the child's addresses: %w", err)
	}
	return stop, nil
}

func (b *bench) stats() (simStats, error) {
	var st simStats
	resp, err := http.Get(b.hello.Control + "/stats")
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

func (b *bench) reset() error {
	resp, err := http.Post(b.hello.Control+"/reset", "", nil)
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	return nil
}

func policyName(i int) string { return fmt.Sprintf("district-%02d", i) }

// install creates the namespace, the CA ConfigMap, and per district its two Secrets and a suspended
// policy (runs are created by the benchmark) built from the sample: its naming, fields and Lost Mode
// rules, the district's URLs, schools, resource types and roster (a path under the roster root), a budget that lets the drift through.
func (b *bench) install(ctx context.Context, root string) error {
	raw, err := os.ReadFile(filepath.Join(root, samplePolicy))
	if err != nil {
		return err
	}
	objs := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "bench-ca", Namespace: namespace}, Data: map[string]string{"ca.crt": b.hello.CA}},
	}
	ca := &dsv1.CABundleSource{ConfigMapRef: &dsv1.KeyReference{Name: "bench-ca", Key: "ca.crt"}}
	for i, d := range b.hello.Districts {
		var p dsv1.DeviceSyncPolicy
		if err := yaml.UnmarshalStrict(raw, &p); err != nil {
			return fmt.Errorf("%s: %w", samplePolicy, err)
		}
		name := policyName(i)
		p.Name, p.Namespace, p.Spec.Suspend = name, namespace, true
		src := &p.Spec.Source.Destiny
		src.URL, src.CABundle = d.DestinyURL, ca
		src.Roster = &dsv1.RosterSource{Format: dsv1.RosterSISPatronCSV, Path: d.Roster}
		src.CredentialsSecretRef = dsv1.SecretReference{Name: name + "-destiny"}
		src.ResourceTypes = []string{district.ResourceTypeIPad, district.ResourceTypeStaffIPad}
		src.StudentDeviceResourceTypes = []string{district.ResourceTypeIPad}
		jamfKeys := map[string]string{"client-id": d.JamfID, "client-secret": d.JamfSecret}
		p.Spec.Schools = nil
		if b.cfg.target == targetJamfSchool {
			// Jamf School writes a device's owner and location (the sample's Jamf School policy): no
			// names, no Lost Mode. Its client keeps to 5 requests in flight, as Jamf Pro's maxConcurrency.
			p.Spec.Target = dsv1.Target{JamfSchool: &dsv1.JamfSchoolTarget{URL: d.JamfURL, CABundle: ca,
				CredentialsSecretRef: dsv1.SecretReference{Name: name + "-jamf"}}}
			p.Spec.Fields.Manage = []dsv1.ManagedField{dsv1.FieldUser, dsv1.FieldLocation}
			jamfKeys = map[string]string{"network-id": d.JamfID, "api-key": d.JamfSecret}
			for _, s := range d.Schools {
				p.Spec.Schools = append(p.Spec.Schools, dsv1.SchoolMapping{Site: s.Site, Location: s.Location})
			}
		} else {
			p.Spec.Target.JamfPro.URL, p.Spec.Target.JamfPro.CABundle = d.JamfURL, ca
			p.Spec.Target.JamfPro.CredentialsSecretRef = dsv1.SecretReference{Name: name + "-jamf"}
			p.Spec.Target.JamfPro.MaxConcurrency = jamfLimit
			for _, s := range d.Schools {
				p.Spec.Schools = append(p.Spec.Schools, dsv1.SchoolMapping{Site: s.Site, Building: s.Building})
			}
		}
		changes, clears, shrink := intstr.FromString("40%"), intstr.FromString("15%"), intstr.FromString("20%")
		p.Spec.Safety.MaxChanges, p.Spec.Safety.MaxClears, p.Spec.Safety.MaxSourceShrink = &changes, &clears, &shrink
		p.Spec.Safety.MaxRosterShrink = nil
		objs = append(objs,
			&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name + "-destiny", Namespace: namespace},
				StringData: map[string]string{"client-id": d.DestinyID, "client-secret": d.DestinySecret}},
			&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name + "-jamf", Namespace: namespace}, StringData: jamfKeys},
			&p)
	}
	for _, o := range objs {
		if err := b.k8s.Create(ctx, o); err != nil {
			return fmt.Errorf("creating %T %s: %w", o, o.GetName(), err)
		}
	}
	return nil
}

func (b *bench) startManager(ctx context.Context, restCfg *rest.Config) (chan error, error) {
	mgr, err := ctrl.NewManager(restCfg, ctrl.Options{
		Scheme: testenv.Scheme(), Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
	})
	if err != nil {
		return nil, fmt.Errorf("creating the manager: %w", err)
	}
	if err := controllers.Setup(mgr, controllers.Options{HostLimits: b.limits, MaxConcurrentRuns: b.cfg.maxRuns,
		RosterRoot: b.rosterDir}); err != nil {
		return nil, fmt.Errorf("setting up the controllers: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	return done, nil
}

func managerStopped(done chan error) error {
	select {
	case err := <-done:
		return fmt.Errorf("the manager stopped: %v (log in bin/bench/manager.log)", err)
	default:
		return nil
	}
}

func (b *bench) waitReady(ctx context.Context, done chan error) error {
	deadline := time.Now().Add(5 * time.Minute)
	for {
		if err := managerStopped(done); err != nil {
			return err
		}
		var list dsv1.DeviceSyncPolicyList
		if err := b.k8s.List(ctx, &list, client.InNamespace(namespace)); err != nil {
			return err
		}
		ready, notReady := 0, ""
		for _, p := range list.Items {
			if c := meta.FindStatusCondition(p.Status.Conditions, dsv1.ConditionReady); c != nil && c.Status == metav1.ConditionTrue && p.Status.ObservedGeneration == p.Generation {
				ready++
			} else if c != nil {
				notReady = fmt.Sprintf("%s: Ready=%s %s: %s", p.Name, c.Status, c.Reason, c.Message)
			}
		}
		if ready == len(b.devices) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d policies Ready after 5m (%s)", ready, len(b.devices), notReady)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// runTimes is what the benchmark saw of one run.
type runTimes struct {
	created, running, final time.Time
	phase                   dsv1.SyncRunPhase
	message                 string
}

// round creates one SyncRun per policy at once, waits for all to end and prints them.
func (b *bench) round(ctx context.Context, r int, done chan error) (bool, error) {
	if err := b.reset(); err != nil {
		return false, err
	}
	runs := make([]runTimes, len(b.devices))
	// Phases are seen as they change (a watch: a poll would add its period to every run's wall); a list
	// every second also catches what a closed watch would miss.
	w, err := b.k8s.Watch(ctx, &dsv1.SyncRunList{}, client.InNamespace(namespace))
	if err != nil {
		return false, fmt.Errorf("watching SyncRuns: %w", err)
	}
	defer w.Stop()
	observe := func(run *dsv1.SyncRun, now time.Time) {
		i, ok := runIndex(run.Name, r)
		if !ok {
			return
		}
		t := &runs[i]
		if t.running.IsZero() && run.Status.Phase != "" {
			t.running = now
		}
		if t.final.IsZero() && finalPhase(run.Status.Phase) {
			t.final, t.phase = now, run.Status.Phase
			if c := meta.FindStatusCondition(run.Status.Conditions, dsv1.ConditionReady); c != nil {
				t.message = c.Message
			}
			if bl := run.Status.Blocked; bl != nil {
				t.message = bl.Reason + ": " + bl.Message
			}
			if len(run.Status.Errors) > 0 {
				t.message = fmt.Sprint(run.Status.Errors[0])
			}
		}
	}
	start := time.Now()
	for i := range b.devices {
		run := &dsv1.SyncRun{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-r%d", policyName(i), r), Namespace: namespace,
				Labels: map[string]string{dsv1.PolicyLabel: policyName(i)}},
			Spec: dsv1.SyncRunSpec{PolicyRef: dsv1.LocalObjectReference{Name: policyName(i)}, Trigger: dsv1.TriggerManual},
		}
		if err := b.k8s.Create(ctx, run); err != nil {
			return false, fmt.Errorf("creating SyncRun %s: %w", run.Name, err)
		}
		runs[i].created = time.Now()
	}
	deadline := start.Add(b.cfg.timeout)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	events := w.ResultChan()
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				events = nil // closed: the list below carries on alone
				continue
			}
			if run, isRun := ev.Object.(*dsv1.SyncRun); isRun {
				observe(run, time.Now())
			}
		case <-tick.C:
			if err := managerStopped(done); err != nil {
				return false, err
			}
			var list dsv1.SyncRunList
			if err := b.k8s.List(ctx, &list, client.InNamespace(namespace)); err != nil {
				return false, err
			}
			now := time.Now()
			for i := range list.Items {
				observe(&list.Items[i], now)
			}
			if now.After(deadline) {
				return false, fmt.Errorf("%d runs not finished after %s", unfinished(runs), b.cfg.timeout)
			}
		}
		if unfinished(runs) == 0 {
			break
		}
	}
	wall := time.Since(start)
	st, err := b.stats()
	if err != nil {
		return false, err
	}
	return b.report(r, runs, st, wall), nil
}

// runIndex reads i from "district-<i>-r<round>".
func unfinished(runs []runTimes) int {
	n := 0
	for _, t := range runs {
		if t.final.IsZero() {
			n++
		}
	}
	return n
}

func runIndex(name string, round int) (int, bool) {
	rest, ok := strings.CutPrefix(name, "district-")
	if !ok {
		return 0, false
	}
	num, suffix, ok := strings.Cut(rest, "-")
	if !ok || suffix != fmt.Sprintf("r%d", round) {
		return 0, false
	}
	i, err := strconv.Atoi(num)
	return i, err == nil
}

func finalPhase(p dsv1.SyncRunPhase) bool {
	switch p {
	case dsv1.PhaseSucceeded, dsv1.PhasePartiallyFailed, dsv1.PhaseFailed, dsv1.PhaseBlocked:
		return true
	}
	return false
}

// report prints the round and says whether every run succeeded and every host stayed in its limit.
func (b *bench) report(r int, runs []runTimes, st simStats, wall time.Duration) bool {
	ok := true
	cache := "warm patron cache"
	if r == 1 {
		cache = "cold patron cache (first run)"
	}
	fmt.Printf("\n== round %d: %d runs created at once, %s; wall %s\n", r, len(runs), cache, wall.Round(10*time.Millisecond))
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "run\tdevices\tphase\twaited\twall\tDestiny\tJamf reads\tJamf writes\tlower bound\tratio\tpeak Destiny\tpeak Jamf\t")
	var all []Calls
	for i, t := range runs {
		d := st.Districts[i]
		c := Calls{Destiny: d.Destiny, JamfReads: d.JamfTotal - d.JamfWrites, JamfWrites: d.JamfWrites}
		all = append(all, c)
		runWall := t.final.Sub(t.running)
		bound := LowerBound(c, Limits{Destiny: destinyLimit, Jamf: jamfLimit}, b.cfg.latency)
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%d\t%d\t%d\t%s\t%.2f\t%d\t%d\t\n", policyName(i), b.devices[i], t.phase,
			t.running.Sub(t.created).Round(100*time.Millisecond), runWall.Round(10*time.Millisecond), c.Destiny, c.JamfReads,
			c.JamfWrites, bound.Round(10*time.Millisecond), Ratio(runWall, bound), d.DestinyPeak, d.JamfPeak)
		if t.phase != dsv1.PhaseSucceeded {
			ok = false
			fmt.Printf("run %s ended %s: %s\n", policyName(i), t.phase, t.message)
		}
	}
	_ = tw.Flush()
	if b.cfg.shareJamf > 0 {
		host := b.hello.Districts[0].JamfHost
		fmt.Printf("the %d districts sharing Jamf Pro host %s: it saw at most %d requests at once (the manager admitted %d, allowed %d); their Jamf calls alone need at least %s\n",
			b.cfg.shareJamf, host, st.HostPeak[host], b.limits.Peak(host), jamfLimit, SharedBound(all[:b.cfg.shareJamf], jamfLimit, b.cfg.latency).Round(10*time.Millisecond))
	}
	// Every host's peak, as the host saw it (the child's listeners) and as the manager admitted it.
	limitOf := map[string]int{}
	for _, d := range b.hello.Districts {
		limitOf[d.DestinyHost], limitOf[d.JamfHost] = destinyLimit, jamfLimit
	}
	managerPeaks := b.limits.Peaks()
	var lines []string
	worst := map[int]int{}
	for host, limit := range limitOf {
		seen, admitted := st.HostPeak[host], managerPeaks[host]
		worst[limit] = max(worst[limit], seen, admitted)
		if seen > limit || admitted > limit {
			ok = false
			lines = append(lines, fmt.Sprintf("host %s saw %d requests at once (manager admitted %d), allowed %d", host, seen, admitted, limit))
		}
	}
	slices.Sort(lines)
	for _, l := range lines {
		fmt.Println("FAIL:", l)
	}
	fmt.Printf("peak in flight on any Destiny host %d (allowed %d), on any %s host %d (allowed %d), since the manager started; process peak RSS so far %d MiB\n",
		worst[destinyLimit], destinyLimit, map[string]string{targetJamfPro: "Jamf Pro", targetJamfSchool: "Jamf School"}[b.cfg.target], worst[jamfLimit], jamfLimit, readStatusKiB("VmHWM")>>10)
	return ok
}

// readStatusKiB reads a "Vm...:  N kB" line of /proc/self/status (0 when absent).
func readStatusKiB(field string) uint64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// heapSampler samples the heap every 50 ms: the peak of the heap in use (live and not yet collected),
// and a heap profile taken whenever the live heap after a collection reaches a new high (10% above the
// last), which is what the profile describes: it is as of the last completed collection.
type heapSampler struct {
	mu      sync.Mutex
	max     uint64
	live    uint64
	profile []byte
	// rss is the largest resident set sampled, and atRSS the runtime's memory classes at that sample.
	rss   uint64
	atRSS []metrics.Sample
	done  chan struct{}
	once  sync.Once
}

// memoryClasses are what the runtime holds, by class (runtime/metrics): their sum is what it has mapped,
// and the resident set is that sum less what it released to the OS, plus the binary's pages.
var memoryClasses = []string{
	"/memory/classes/heap/objects:bytes",
	"/memory/classes/heap/unused:bytes",
	"/memory/classes/heap/free:bytes",
	"/memory/classes/heap/stacks:bytes",
	"/memory/classes/os-stacks:bytes",
	"/memory/classes/metadata/other:bytes",
	"/memory/classes/metadata/mspan/inuse:bytes",
	"/memory/classes/metadata/mspan/free:bytes",
	"/memory/classes/metadata/mcache/inuse:bytes",
	"/memory/classes/profiling/buckets:bytes",
	"/memory/classes/other:bytes",
	"/memory/classes/heap/released:bytes",
}

// atPeakRSS describes the runtime's memory at the largest resident set sampled.
func (h *heapSampler) atPeakRSS() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var parts []string
	for _, s := range h.atRSS {
		if s.Value.Kind() == metrics.KindUint64 {
			name := strings.TrimSuffix(strings.TrimPrefix(s.Name, "/memory/classes/"), ":bytes")
			parts = append(parts, fmt.Sprintf("%s %.1f", name, float64(s.Value.Uint64())/(1<<20)))
		}
	}
	return fmt.Sprintf("at the peak sampled RSS (%d MiB), the runtime's memory classes in MiB: %s", h.rss>>20, strings.Join(parts, ", "))
}

// residentBytes is the process's resident set from /proc/self/statm (cheaper than status).
func residentBytes() uint64 {
	raw, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(raw))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseUint(f[1], 10, 64)
	return pages * uint64(os.Getpagesize())
}

func newHeapSampler() *heapSampler {
	h := &heapSampler{done: make(chan struct{})}
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	go func() {
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-h.done:
				return
			case <-t.C:
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				metrics.Read(sample)
				live := sample[0].Value.Uint64()
				rss := residentBytes()
				var classes []metrics.Sample
				if rss > h.rss {
					classes = make([]metrics.Sample, len(memoryClasses))
					for i, n := range memoryClasses {
						classes[i].Name = n
					}
					metrics.Read(classes)
				}
				h.mu.Lock()
				if classes != nil && rss > h.rss {
					h.rss, h.atRSS = rss, classes
				}
				grew := live > h.live+h.live/10
				h.max = max(h.max, ms.HeapInuse)
				h.live = max(h.live, live)
				h.mu.Unlock()
				if grew {
					var buf bytes.Buffer
					if pprof.Lookup("heap").WriteTo(&buf, 0) == nil {
						h.mu.Lock()
						h.profile = buf.Bytes()
						h.mu.Unlock()
					}
				}
			}
		}
	}()
	return h
}

// peakLive is the largest live heap after a collection.
func (h *heapSampler) peakLive() uint64 { h.mu.Lock(); defer h.mu.Unlock(); return h.live }

func (h *heapSampler) peak() uint64 { h.mu.Lock(); defer h.mu.Unlock(); return h.max }
func (h *heapSampler) stop()        { h.once.Do(func() { close(h.done) }) }

func (h *heapSampler) writeProfile(path string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.profile == nil {
		return errors.New("no heap profile taken")
	}
	fmt.Printf("heap profile at the peak live heap: %s (go tool pprof -sample_index=inuse_space -top %s)\n", path, path)
	return os.WriteFile(path, h.profile, 0o644)
}

func joinInts(ns []int) string {
	var parts []string
	for _, n := range ns {
		parts = append(parts, strconv.Itoa(n))
	}
	return strings.Join(parts, "+")
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
