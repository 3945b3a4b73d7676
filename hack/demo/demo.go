package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/yaml"

	dsv1 "github.com/k12dev/devicesync-operator/api/v1alpha1"
	"github.com/k12dev/devicesync-operator/controllers"
	destinysim "github.com/k12dev/devicesync-operator/internal/sim/destiny"
	"github.com/k12dev/devicesync-operator/internal/sim/district"
	jamfprosim "github.com/k12dev/devicesync-operator/internal/sim/jamfpro"
	jamfschoolsim "github.com/k12dev/devicesync-operator/internal/sim/jamfschool"
	"github.com/k12dev/devicesync-operator/internal/testenv"
)

// Targets the demo can simulate.
const (
	TargetJamfPro    = "jamfpro"
	TargetJamfSchool = "jamfschool"
)

// Names of what the demo installs.
const (
	Namespace  = "devicesync-demo"
	PolicyName = "lincoln-ipads"
	// SamplePolicy is the sample the demo installs, relative to the repository root, and
	// SampleJamfSchoolPolicy the one it installs with --target jamfschool.
	SamplePolicy           = "config/samples/devicesync_v1alpha1_devicesyncpolicy.yaml"
	SampleJamfSchoolPolicy = "config/samples/devicesync_v1alpha1_devicesyncpolicy_jamfschool.yaml"

	destinySecret    = "destiny-api"
	jamfProSecret    = "jamf-pro-api"
	jamfSchoolSecret = "jamf-school-api"
	rosterConfigMap  = "lincoln-roster"
	// oneRosterConfigMap holds the OneRoster bundle the Jamf School demo's roster sync reads.
	oneRosterConfigMap = "lincoln-oneroster"
	caConfigMap        = "district-ca"
	rosterKey          = "patrons.csv"

	// The sample's budget (10% of matched devices changed, 5% cleared) blocks the first run against a
	// generated district, whose devices drift about 20%: the demo raises it, and says so.
	demoMaxChanges = "40%"
	demoMaxClears  = "15%"
)

// Config is what a demo does. The zero value is not useful: start from defaultConfig.
type Config struct {
	// Once: stop after the first run and report whether it ended as expected.
	Once bool
	// Target is TargetJamfPro or TargetJamfSchool.
	Target string
	// Devices, Schools and Seed generate the district.
	Devices, Schools int
	Seed             int64
	// MetricsAddr is the manager's plain-HTTP metrics address ("0" disables it).
	MetricsAddr string
	// Assets is the directory of kube-apiserver, etcd and kubectl; empty runs hack/build-control-plane.sh
	// (which builds them the first time) and uses the directory it prints. The command sets it from
	// KUBEBUILDER_ASSETS when that is set.
	Assets string
	// OutDir receives the kubeconfig and the manager's log; empty is bin/demo under the repository root.
	OutDir string
	// Out receives the demo's output; Progress the control-plane build's progress (nil: stdout, stderr).
	Out, Progress io.Writer
	// ReadyTimeout bounds the wait for the policy to be Ready, RunTimeout the wait for the run.
	ReadyTimeout, RunTimeout time.Duration
	// Poll is how often the run's progress is read and printed.
	Poll time.Duration
	// LogLevel is the manager log's level: error (default), info or debug.
	LogLevel string
}

func defaultConfig() Config {
	return Config{
		Target: TargetJamfPro, Devices: 3000, Schools: 5, Seed: 2026, MetricsAddr: "127.0.0.1:8080",
		ReadyTimeout: 2 * time.Minute, RunTimeout: 5 * time.Minute, Poll: time.Second,
	}
}

// Outcome is how the run ended compared with what the demo expects.
type Outcome struct {
	// OK: the run Succeeded and Jamf is in the expected state (Jamf Pro: every device matches the
	// district's oracle; Jamf School: users, groups and classes as the roster says, see jamfSchoolOutcome).
	OK bool
	// Reason says why, in one sentence.
	Reason string
}

// demo carries the state of one demo from the control plane to the verdict. Each step is a method;
// run calls them in order, stop undoes what was started, in reverse.
type demo struct {
	cfg      Config
	out      io.Writer
	progress io.Writer
	root     string
	outDir   string
	started  time.Time

	assets     string
	env        *envtest.Environment
	restCfg    *rest.Config
	k8s        client.Client
	kubeconfig string
	logPath    string

	district *district.District
	destiny  *destinysim.Server
	pro      *jamfprosim.Server
	school   *jamfschoolsim.Server
	servers  []*http.Server
	ca       *simulatorsCA
	urls     struct{ destiny, target string }
	creds    struct{ destinyID, destinySecret, proID, proSecret, schoolNetwork, schoolKey string }

	policy *dsv1.DeviceSyncPolicy

	// The Jamf School demo's roster: generated, seeded, expected (rosterdemo.go).
	roster    *district.Roster
	rosterExp rosterExpectation
	asmUUIDs  []string
	absent    []absentStudent
	// afterFirst is Jamf School's roster after the first run.
	afterFirst rosterSnapshot
	// second is the Jamf School demo's second run, and the roster writes before and during it.
	second                                 *dsv1.SyncRun
	rosterWritesBefore, rosterWritesSecond int
	// step numbers the headings.
	step int
	// lastRunNow is the last run-now value set: a new one must differ.
	lastRunNow string

	stopManager context.CancelFunc
	managerDone chan error
	// managerErr is the manager's error once reported (it stopped by itself).
	managerErr error

	syncRun *dsv1.SyncRun
}

func newDemo(cfg Config) *demo {
	d := &demo{cfg: cfg, out: cfg.Out, progress: cfg.Progress}
	if d.out == nil {
		d.out = os.Stdout
	}
	if d.progress == nil {
		d.progress = os.Stderr
	}
	if d.cfg.Poll <= 0 {
		d.cfg.Poll = time.Second
	}
	return d
}

// run performs steps 1 to 7: control plane, kubeconfig, simulators, policy, manager, one run, what
// it did. The error is a step that could not be done; a run that ended badly is an Outcome.
func (d *demo) run(ctx context.Context) (Outcome, error) {
	d.started = time.Now()
	root, err := testenv.RepoRoot()
	if err != nil {
		return Outcome{}, err
	}
	d.root, d.outDir = root, d.cfg.OutDir
	if d.outDir == "" {
		d.outDir = filepath.Join(root, "bin", "demo")
	}
	if err := os.MkdirAll(d.outDir, 0o755); err != nil {
		return Outcome{}, err
	}
	if d.logPath, err = setupLogging(d.outDir, d.cfg.LogLevel); err != nil {
		return Outcome{}, err
	}
	steps := []struct {
		title string
		do    func(context.Context) error
	}{
		{"Control plane", d.startControlPlane},
		{"Simulated district", d.startSimulators},
		{"Policy", d.installPolicy},
		{"Manager", d.startManager},
		{"Policy readiness", d.waitReady},
		{"Run", d.triggerRun},
	}
	for _, s := range steps {
		d.heading(s.title)
		if err := s.do(ctx); err != nil {
			return Outcome{}, fmt.Errorf("%s: %w", strings.ToLower(s.title), err)
		}
	}
	if err := d.waitForRun(ctx); err != nil {
		return Outcome{}, fmt.Errorf("run: %w", err)
	}
	if d.cfg.Target == TargetJamfSchool {
		if err := d.approveRosterOnboarding(ctx); err != nil {
			return Outcome{}, fmt.Errorf("approving the run: %w", err)
		}
	}
	d.heading("What the run did")
	if err := d.showRun(ctx); err != nil {
		return Outcome{}, err
	}
	if d.cfg.Target == TargetJamfSchool {
		d.heading("Users and classes in Jamf School")
		d.showRoster(d.syncRun)
		d.afterFirst = d.rosterSnapshot()
		d.showClasses(d.afterFirst)
		d.heading("A second run changes nothing")
		if err := d.secondRun(ctx); err != nil {
			return Outcome{}, fmt.Errorf("second run: %w", err)
		}
	}
	return d.verify(), nil
}

// heading prints the next step's numbered title.
func (d *demo) heading(title string) {
	d.step++
	fmt.Fprintf(d.out, "\n== %d. %s  (%s)\n", d.step, title, time.Since(d.started).Round(100*time.Millisecond))
}

func (d *demo) printf(format string, args ...any) { fmt.Fprintf(d.out, "   "+format+"\n", args...) }

var logOnce struct {
	sync.Once
	path string
	err  error
}

// setupLogging sends the controller-runtime and klog logs, at error level unless level says otherwise,
// to manager.log in dir, so that the demo's output stays readable. It is done once per process (the
// loggers are global).
func setupLogging(dir, level string) (string, error) {
	lvl := zapcore.ErrorLevel
	switch level {
	case "", "error":
	case "info":
		lvl = zapcore.InfoLevel
	case "debug":
		lvl = zapcore.DebugLevel
	default:
		return "", fmt.Errorf("log level %q: want error, info or debug", level)
	}
	logOnce.Do(func() {
		logOnce.path = filepath.Join(dir, "manager.log")
		f, err := os.OpenFile(logOnce.path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
		if err != nil {
			logOnce.err = fmt.Errorf("opening the manager log: %w", err)
			return
		}
		logger := zap.New(zap.WriteTo(f), zap.Level(lvl))
		ctrl.SetLogger(logger)
		klog.SetLogger(logger)
	})
	return logOnce.path, logOnce.err
}

// startControlPlane builds (first time) or finds kube-apiserver, etcd and kubectl, starts the first two
// with the CRDs installed, and writes a kubeconfig of a cluster-admin user.
func (d *demo) startControlPlane(ctx context.Context) error {
	d.assets = d.cfg.Assets
	if d.assets == "" {
		script := filepath.Join(d.root, "hack", "build-control-plane.sh")
		d.printf("bash hack/build-control-plane.sh (the first time builds kube-apiserver, etcd and kubectl: about 4 minutes)")
		var stdout bytes.Buffer
		cmd := exec.CommandContext(ctx, "bash", script)
		cmd.Dir, cmd.Stdout, cmd.Stderr = d.root, &stdout, d.progress
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("hack/build-control-plane.sh: %w", err)
		}
		lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
		d.assets = strings.TrimSpace(lines[len(lines)-1])
		if d.assets == "" {
			return errors.New("hack/build-control-plane.sh printed no assets directory")
		}
	}
	if err := os.Setenv("KUBEBUILDER_ASSETS", d.assets); err != nil {
		return err
	}
	t0 := time.Now()
	env, cfg, err := testenv.Start()
	if err != nil {
		return err
	}
	d.env, d.restCfg = env, cfg
	d.printf("kube-apiserver and etcd from %s up in %s, CRDs installed", d.rel(d.assets), time.Since(t0).Round(100*time.Millisecond))
	if d.k8s, err = client.New(cfg, client.Options{Scheme: testenv.Scheme()}); err != nil {
		return err
	}

	user, err := env.AddUser(envtest.User{Name: "demo", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("adding the demo user: %w", err)
	}
	kc, err := user.KubeConfig()
	if err != nil {
		return fmt.Errorf("writing the kubeconfig: %w", err)
	}
	d.kubeconfig = filepath.Join(d.outDir, "kubeconfig")
	if err := os.WriteFile(d.kubeconfig, kc, 0o600); err != nil {
		return err
	}
	d.printf("kubeconfig (user demo, group system:masters): %s", d.rel(d.kubeconfig))
	return nil
}

// startSimulators generates the district and serves Destiny and the target MDM on 127.0.0.1.
func (d *demo) startSimulators(context.Context) error {
	d.district = district.Generate(district.Options{Seed: d.cfg.Seed, Schools: d.cfg.Schools, Devices: d.cfg.Devices})
	d.creds.destinyID, d.creds.destinySecret = "devicesync-demo", randomSecret()
	d.destiny = destinysim.New(d.district, destinysim.Options{ClientID: d.creds.destinyID, ClientSecret: d.creds.destinySecret})
	var err error
	if d.urls.destiny, err = d.serve(d.destiny); err != nil {
		return fmt.Errorf("serving the Destiny simulator: %w", err)
	}
	var target string
	switch d.cfg.Target {
	case TargetJamfSchool:
		d.creds.schoolNetwork, d.creds.schoolKey = "demo-network", randomSecret()
		d.school = jamfschoolsim.New(d.district, jamfschoolsim.Options{NetworkID: d.creds.schoolNetwork, APIKey: d.creds.schoolKey})
		if target, err = d.serve(d.school); err != nil {
			return fmt.Errorf("serving the Jamf School simulator: %w", err)
		}
		d.urls.target = target + jamfschoolsim.BasePath
		d.seedJamfSchoolRoster()
	default:
		d.creds.proID, d.creds.proSecret = "devicesync-demo", randomSecret()
		d.pro = jamfprosim.New(d.district, jamfprosim.Options{ClientID: d.creds.proID, ClientSecret: d.creds.proSecret})
		if target, err = d.serve(d.pro); err != nil {
			return fmt.Errorf("serving the Jamf Pro simulator: %w", err)
		}
		d.urls.target = target
	}

	items, devices := d.district.CaseCounts()
	d.printf("district: %d schools, %d Destiny items, %d Jamf devices, %d patrons (seed %d)",
		len(d.district.Schools), len(d.district.Items), len(d.district.Devices), len(d.district.Patrons), d.cfg.Seed)
	var schools []string
	for _, s := range d.district.Schools {
		schools = append(schools, s.ShortName+" "+s.Name)
	}
	d.printf("schools: %s", strings.Join(schools, ", "))
	d.printf("drift and awkward cases (devices): %s", countsLine(devices, district.CaseNormal))
	if n := items[district.CaseNoSerial] + items[district.CaseNotInJamf]; n > 0 {
		d.printf("Destiny items with no Jamf device: NoSerial %d, NotInJamf %d", items[district.CaseNoSerial], items[district.CaseNotInJamf])
	}
	if d.roster != nil {
		d.printRosterSeed()
	}
	d.printf("Destiny   %s", d.urls.destiny)
	d.printf("%-9s %s", d.targetName(), d.urls.target)
	return nil
}

// sampleName is the sample policy the demo installs for its target.
func (d *demo) sampleName() string {
	if d.cfg.Target == TargetJamfSchool {
		return SampleJamfSchoolPolicy
	}
	return SamplePolicy
}

func (d *demo) targetName() string {
	if d.cfg.Target == TargetJamfSchool {
		return "Jamf School"
	}
	return "Jamf Pro"
}

// serve serves h over https, with the demo CA's certificate, on a random port of 127.0.0.1 and
// returns its root URL.
func (d *demo) serve(h http.Handler) (string, error) {
	if d.ca == nil {
		ca, err := newSimulatorsCA()
		if err != nil {
			return "", fmt.Errorf("making the simulators' certificate: %w", err)
		}
		d.ca = ca
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, TLSConfig: d.ca.tls}
	d.servers = append(d.servers, srv)
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	return "https://" + ln.Addr().String(), nil
}

func randomSecret() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// samplePolicy reads the sample policy and points it at the simulated district: its schedule, naming,
// fields and Lost Mode rules are kept; URLs, Secrets, roster, resource types and schools are the
// district's; the change budget is raised for the district's drift (maxSourceShrink kept).
func (d *demo) samplePolicy() (*dsv1.DeviceSyncPolicy, error) {
	sample := d.sampleName()
	raw, err := os.ReadFile(filepath.Join(d.root, sample))
	if err != nil {
		return nil, err
	}
	var p dsv1.DeviceSyncPolicy
	if err := yaml.UnmarshalStrict(raw, &p); err != nil {
		return nil, fmt.Errorf("%s: %w", sample, err)
	}
	p.Name, p.Namespace = PolicyName, Namespace
	src := &p.Spec.Source.Destiny
	src.URL = d.urls.destiny
	src.CredentialsSecretRef = dsv1.SecretReference{Name: destinySecret}
	// The simulators' certificate comes from the demo's own CA, as a district's private CA would.
	ca := &dsv1.CABundleSource{ConfigMapRef: &dsv1.KeyReference{Name: caConfigMap, Key: "ca.crt"}}
	src.CABundle = ca
	src.ResourceTypes = []string{district.ResourceTypeIPad, district.ResourceTypeStaffIPad}
	src.StudentDeviceResourceTypes = []string{district.ResourceTypeIPad}
	src.Roster = &dsv1.RosterSource{Format: dsv1.RosterSISPatronCSV, ConfigMapRef: &dsv1.LocalObjectReference{Name: rosterConfigMap}}
	if d.cfg.Target == TargetJamfSchool {
		// The roster sync reads people and classes from the OneRoster bundle; the devices' usernames,
		// grades and homerooms come from it too, keyed by users.csv identifier (the district id).
		src.Roster = &dsv1.RosterSource{Format: dsv1.RosterOneRoster, ConfigMapRef: &dsv1.LocalObjectReference{Name: oneRosterConfigMap}, KeyField: "identifier"}
		p.Spec.Roster = rosterSpec()
	}

	p.Spec.Schools = nil
	for _, s := range d.district.Schools {
		m := dsv1.SchoolMapping{Site: s.ShortName, Building: s.Building}
		if d.cfg.Target == TargetJamfSchool {
			m = dsv1.SchoolMapping{Site: s.ShortName, Location: s.Name}
		}
		p.Spec.Schools = append(p.Spec.Schools, m)
	}
	if d.cfg.Target == TargetJamfSchool {
		if p.Spec.Target.JamfSchool == nil {
			p.Spec.Target = dsv1.Target{JamfSchool: &dsv1.JamfSchoolTarget{}}
		}
		p.Spec.Target.JamfSchool.URL = d.urls.target
		p.Spec.Target.JamfSchool.CredentialsSecretRef = dsv1.SecretReference{Name: jamfSchoolSecret}
		p.Spec.Target.JamfSchool.CABundle = ca
	} else {
		if p.Spec.Target.JamfPro == nil {
			p.Spec.Target.JamfPro = &dsv1.JamfProTarget{}
		}
		p.Spec.Target.JamfPro.URL = d.urls.target
		p.Spec.Target.JamfPro.CredentialsSecretRef = dsv1.SecretReference{Name: jamfProSecret}
		p.Spec.Target.JamfPro.CABundle = ca
	}
	changes, clears := intstr.FromString(demoMaxChanges), intstr.FromString(demoMaxClears)
	p.Spec.Safety.MaxChanges, p.Spec.Safety.MaxClears = &changes, &clears
	return &p, nil
}

// installPolicy creates the namespace, the Secrets, the roster ConfigMap and the policy.
func (d *demo) installPolicy(ctx context.Context) error {
	p, err := d.samplePolicy()
	if err != nil {
		return err
	}
	secrets := []*corev1.Secret{{ObjectMeta: metav1.ObjectMeta{Name: destinySecret, Namespace: Namespace},
		StringData: map[string]string{"client-id": d.creds.destinyID, "client-secret": d.creds.destinySecret}}}
	if d.cfg.Target == TargetJamfSchool {
		secrets = append(secrets, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: jamfSchoolSecret, Namespace: Namespace},
			StringData: map[string]string{"network-id": d.creds.schoolNetwork, "api-key": d.creds.schoolKey}})
	} else {
		secrets = append(secrets, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: jamfProSecret, Namespace: Namespace},
			StringData: map[string]string{"client-id": d.creds.proID, "client-secret": d.creds.proSecret}})
	}
	objs := []client.Object{&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: Namespace}}}
	for _, s := range secrets {
		objs = append(objs, s)
	}
	rosterCM := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: rosterConfigMap, Namespace: Namespace},
		Data: map[string]string{rosterKey: string(d.district.SISPatronCSV())}}
	rosterWhat := "the SIS patron CSV as the roster"
	if d.roster != nil {
		rosterCM = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: oneRosterConfigMap, Namespace: Namespace}, Data: map[string]string{}}
		for name, data := range d.roster.OneRoster(d.district) {
			rosterCM.Data[name] = string(data)
		}
		rosterWhat = "the OneRoster bundle: users.csv, classes.csv, enrollments.csv"
	}
	objs = append(objs, rosterCM,
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: caConfigMap, Namespace: Namespace},
			Data: map[string]string{"ca.crt": string(d.ca.pem)}},
		p)
	for _, o := range objs {
		if err := d.k8s.Create(ctx, o); err != nil {
			return fmt.Errorf("creating %T %s: %w", o, o.GetName(), err)
		}
	}
	d.policy = p
	d.printf("namespace %s: Secrets %s and %s, ConfigMap %s (%s), ConfigMap %s (the CA of the simulators' https certificate)",
		Namespace, secrets[0].Name, secrets[1].Name, rosterCM.Name, rosterWhat, caConfigMap)
	d.printf("DeviceSyncPolicy %s from %s: schedule, naming, fields and lostMode as in the sample;", PolicyName, d.sampleName())
	d.printf("  source and target URLs, Secrets, roster, resource types and schools replaced with the simulated district's")
	if r := p.Spec.Roster; r != nil {
		d.printf("  roster: users in groups %q / %q, teachers by role %v, classes named %q, nothing removed",
			r.Users.StudentsGroup, r.Users.TeachersGroup, r.Teachers.Roles, r.Classes.Name)
	}
	d.printf("  safety: maxChanges %s and maxClears %s instead of the sample's %s and %s (the generated district drifts",
		demoMaxChanges, demoMaxClears, "10%", "5%")
	shrink := "default"
	if p.Spec.Safety.MaxSourceShrink != nil {
		shrink = p.Spec.Safety.MaxSourceShrink.String()
	}
	d.printf("  about 20%%, which the sample's budget would block); maxSourceShrink %s kept", shrink)
	return nil
}

// startManager runs the manager in-process: both controllers, metrics over plain HTTP, no health
// probes, no leader election.
func (d *demo) startManager(context.Context) error {
	mgr, err := ctrl.NewManager(d.restCfg, ctrl.Options{
		Scheme:                 testenv.Scheme(),
		Metrics:                metricsserver.Options{BindAddress: d.cfg.MetricsAddr},
		HealthProbeBindAddress: "0",
		LeaderElection:         false,
		// The demo's test runs two demos in one process; controller names are global otherwise.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		return fmt.Errorf("creating the manager: %w", err)
	}
	if err := controllers.Setup(mgr, controllers.Options{ProgressInterval: 500 * time.Millisecond}); err != nil {
		return fmt.Errorf("setting up the controllers: %w", err)
	}
	mctx, cancel := context.WithCancel(context.Background())
	d.stopManager, d.managerDone = cancel, make(chan error, 1)
	go func() { d.managerDone <- mgr.Start(mctx) }()
	metrics := "metrics off"
	if d.cfg.MetricsAddr != "0" {
		metrics = "metrics on http://" + d.cfg.MetricsAddr + "/metrics"
	}
	level := d.cfg.LogLevel
	if level == "" {
		level = "error"
	}
	d.printf("controllers DeviceSyncPolicy and SyncRun started (%s, log at %s level in %s)", metrics, level, d.rel(d.logPath))
	return nil
}

// managerFailed returns the manager's error if it stopped (for example, the metrics port is taken).
func (d *demo) managerFailed() error {
	if d.managerErr != nil {
		return d.managerErr
	}
	select {
	case err := <-d.managerDone:
		if err == nil {
			err = errors.New("stopped")
		}
		d.managerErr = fmt.Errorf("the manager: %w (log: %s)", err, d.logPath)
		return d.managerErr
	default:
		return nil
	}
}

// waitReady waits for the policy's Ready condition to be True for its generation.
func (d *demo) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(d.cfg.ReadyTimeout)
	last := ""
	for {
		if err := d.managerFailed(); err != nil {
			return err
		}
		var p dsv1.DeviceSyncPolicy
		if err := d.k8s.Get(ctx, client.ObjectKeyFromObject(d.policy), &p); err != nil {
			return err
		}
		c := meta.FindStatusCondition(p.Status.Conditions, dsv1.ConditionReady)
		if c != nil && p.Status.ObservedGeneration == p.Generation {
			if c.Status == metav1.ConditionTrue {
				d.printf("Ready: %s", c.Message)
				d.policy = &p
				return nil
			}
			if now := fmt.Sprintf("Ready=%s %s: %s", c.Status, c.Reason, c.Message); now != last {
				d.printf("%s", now)
				last = now
			}
		}
		if time.Now().After(deadline) {
			if last == "" {
				last = "no Ready condition"
			}
			return fmt.Errorf("policy %s/%s not Ready after %s (%s)", Namespace, PolicyName, d.cfg.ReadyTimeout, last)
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
}

// triggerRun sets the run-now annotation (the product's manual trigger) and finds the SyncRun the
// policy controller creates for it.
func (d *demo) triggerRun(ctx context.Context) error {
	before := map[string]bool{}
	runs, err := d.listRuns(ctx)
	if err != nil {
		return err
	}
	for _, r := range runs {
		before[r.Name] = true
	}
	// The run-now trigger, with the real kubectl, exactly as the README shows it.
	value := time.Now().UTC().Format("2006-01-02T15:04:05Z")
	for value == d.lastRunNow { // the same value would not trigger a second run
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
		value = time.Now().UTC().Format("2006-01-02T15:04:05Z")
	}
	d.lastRunNow = value
	args := []string{"annotate", "devicesyncpolicy", PolicyName, "-n", Namespace, dsv1.RunNowAnnotation + "=" + value, "--overwrite"}
	if err := d.kubectl(ctx, args...); err != nil {
		return err
	}

	deadline := time.Now().Add(d.cfg.ReadyTimeout)
	for {
		if err := d.managerFailed(); err != nil {
			return err
		}
		runs, err := d.listRuns(ctx)
		if err != nil {
			return err
		}
		for i := range runs {
			if r := &runs[i]; !before[r.Name] && r.Spec.Trigger == dsv1.TriggerManual {
				d.syncRun = r.DeepCopy()
				d.printf("the policy controller created SyncRun %s (label %s=%s)", r.Name, dsv1.PolicyLabel, PolicyName)
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no SyncRun labelled %s=%s appeared within %s of the run-now annotation", dsv1.PolicyLabel, PolicyName, d.cfg.ReadyTimeout)
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
}

// kubectl prints and runs the real kubectl with the demo's kubeconfig.
func (d *demo) kubectl(ctx context.Context, args ...string) error {
	d.printf("$ kubectl %s", strings.Join(args, " "))
	out, err := exec.CommandContext(ctx, filepath.Join(d.assets, "kubectl"), append([]string{"--kubeconfig", d.kubeconfig}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("kubectl %s: %w: %s", args[0], err, out)
	}
	return nil
}

func (d *demo) listRuns(ctx context.Context) ([]dsv1.SyncRun, error) {
	var list dsv1.SyncRunList
	if err := d.k8s.List(ctx, &list, client.InNamespace(Namespace), client.MatchingLabels{dsv1.PolicyLabel: PolicyName}); err != nil {
		return nil, fmt.Errorf("listing SyncRuns: %w", err)
	}
	return list.Items, nil
}

// finalPhase: the run will not change phase by itself.
func finalPhase(p dsv1.SyncRunPhase) bool {
	switch p {
	case dsv1.PhaseSucceeded, dsv1.PhasePartiallyFailed, dsv1.PhaseFailed, dsv1.PhaseBlocked:
		return true
	}
	return false
}

// quietEvery is how often waitForRun repeats a line when the run's phase and progress do not change.
const quietEvery = 10

// waitForRun prints the run's phase and progress every Poll until its phase is final (every
// quietEvery polls while nothing changes, to keep the output readable).
func (d *demo) waitForRun(ctx context.Context) error {
	start := time.Now()
	deadline := start.Add(d.cfg.RunTimeout)
	last, same := "", 0
	for {
		if err := d.managerFailed(); err != nil {
			return err
		}
		var r dsv1.SyncRun
		if err := d.k8s.Get(ctx, client.ObjectKeyFromObject(d.syncRun), &r); err != nil {
			return err
		}
		d.syncRun = &r
		phase, ratio := string(r.Status.Phase), r.Status.Progress.Ratio
		if phase == "" {
			phase = "(new)"
		}
		if ratio == "" {
			ratio = "-"
		}
		if now := phase + " " + ratio; now != last || same >= quietEvery-1 || finalPhase(r.Status.Phase) {
			d.printf("%6s  %-15s %s", time.Since(start).Round(time.Second), phase, ratio)
			last, same = now, 0
		} else {
			same++
		}
		if finalPhase(r.Status.Phase) {
			return nil
		}
		if time.Now().After(deadline) {
			msg := ""
			if c := meta.FindStatusCondition(r.Status.Conditions, dsv1.ConditionReconciling); c != nil {
				msg = fmt.Sprintf(" (Reconciling: %s)", c.Message)
			}
			return fmt.Errorf("SyncRun %s still %s, progress %s, after %s%s", r.Name, phase, ratio, d.cfg.RunTimeout, msg)
		}
		if err := sleep(ctx, d.cfg.Poll); err != nil {
			return err
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// rel is path relative to the repository root when it is inside it.
func (d *demo) rel(path string) string {
	if r, err := filepath.Rel(d.root, path); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return path
}

// stop stops what was started, in reverse: the manager, the simulators, the control plane.
func (d *demo) stop() {
	if d.stopManager != nil && d.managerErr == nil {
		d.stopManager()
		select {
		case err := <-d.managerDone:
			if err != nil {
				fmt.Fprintf(d.progress, "demo: the manager stopped with: %v\n", err)
			}
		case <-time.After(30 * time.Second):
			fmt.Fprintln(d.progress, "demo: the manager did not stop within 30s")
		}
	}
	if d.stopManager != nil {
		d.stopManager = nil
	}
	for _, s := range d.servers {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if err := s.Shutdown(ctx); err != nil {
			_ = s.Close()
		}
		cancel()
	}
	d.servers = nil
	if d.env != nil {
		if err := d.env.Stop(); err != nil {
			fmt.Fprintf(d.progress, "demo: stopping kube-apiserver and etcd: %v\n", err)
		}
		d.env = nil
	}
}
