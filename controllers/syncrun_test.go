package controllers_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	dsv1 "github.com/k12dev/devicesync-operator/api/v1alpha1"
	"github.com/k12dev/devicesync-operator/controllers"
	"github.com/k12dev/devicesync-operator/internal/clock"
	"github.com/k12dev/devicesync-operator/internal/httpx"
	"github.com/k12dev/devicesync-operator/internal/metrics"
	destinysim "github.com/k12dev/devicesync-operator/internal/sim/destiny"
	"github.com/k12dev/devicesync-operator/internal/sim/district"
	jamfprosim "github.com/k12dev/devicesync-operator/internal/sim/jamfpro"
	jamfschoolsim "github.com/k12dev/devicesync-operator/internal/sim/jamfschool"
	"github.com/k12dev/devicesync-operator/internal/sim/simhttp"
)

// runEnv is one namespace with a generated district served by the Destiny, Jamf Pro and Jamf School
// simulators, the Secrets and roster ConfigMap a policy refers to, and a SyncRun manager watching only
// that namespace (so the suite's policy tests and these never execute each other's runs).
type runEnv struct {
	ns      string
	d       *district.District
	destiny *destinysim.Server
	pro     *jamfprosim.Server
	school  *jamfschoolsim.Server
	urls    struct{ destiny, pro, school string }
	// transport trusts the simulators' test certificate (they serve https, as the real systems do).
	transport http.RoundTripper
	// limits is the run manager's registry of requests in flight per host.
	limits *httpx.HostLimits
	// leaseDuration of the runs' leases in this env's managers (zero: the default).
	leaseDuration time.Duration
	// maxRunTimeout caps the policies' runTimeout in this env's managers (zero: no cap).
	maxRunTimeout time.Duration
	// kinds are the MDM kinds this env's managers know (nil: the default ones).
	kinds []controllers.TargetKind
	// clock is this env's managers' clock (nil: the wall clock).
	clock clock.Clock
	// roster is the district's generated roster (sections, extra teachers), published as the ConfigMap
	// "oneroster".
	roster *district.Roster
}

func newRunEnv(t *testing.T, devices int) *runEnv {
	t.Helper()
	ctx := context.Background()
	e := &runEnv{ns: strings.ToLower(strings.NewReplacer("_", "-", "/", "-").Replace(t.Name()))}
	if len(e.ns) > 50 {
		e.ns = e.ns[:50]
	}
	e.ns = strings.Trim(e.ns, "-")
	e.d = district.Generate(district.Options{Seed: 3, Schools: 3, Devices: devices, Now: time.Date(2026, 11, 16, 12, 0, 0, 0, time.UTC)})
	e.destiny = destinysim.New(e.d, destinysim.Options{ClientID: "sync", ClientSecret: "destiny-secret"})
	e.pro = jamfprosim.New(e.d, jamfprosim.Options{ClientID: "sync", ClientSecret: "jamf-secret"})
	e.school = jamfschoolsim.New(e.d, jamfschoolsim.Options{})
	ds, ps, ss := httptest.NewTLSServer(e.destiny), httptest.NewTLSServer(e.pro), httptest.NewTLSServer(e.school)
	e.transport, e.limits = ds.Client().Transport, httpx.NewHostLimits() // one test certificate for all three
	t.Cleanup(ds.Close)
	t.Cleanup(ps.Close)
	t.Cleanup(ss.Close)
	e.urls.destiny, e.urls.pro, e.urls.school = ds.URL, ps.URL, ss.URL+"/api"

	objs := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: e.ns}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "destiny", Namespace: e.ns},
			StringData: map[string]string{"client-id": "sync", "client-secret": "destiny-secret"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "jamf-pro", Namespace: e.ns},
			StringData: map[string]string{"client-id": "sync", "client-secret": "jamf-secret"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "jamf-school", Namespace: e.ns},
			StringData: map[string]string{"network-id": jamfschoolsim.DefaultNetworkID, "api-key": jamfschoolsim.DefaultAPIKey}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "roster", Namespace: e.ns},
			Data: map[string]string{"patrons.csv": string(e.d.SISPatronCSV())}},
		oneRosterConfigMap(e),
	}
	for _, o := range objs {
		if err := k8s.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// policy is the district's policy with the CRD's defaults, every school mapped, Lost Mode on (stolen
// included), no budget, suspended so that only the runs a test creates execute.
func (e *runEnv) policy(name string, school bool) *dsv1.DeviceSyncPolicy {
	all := intstr.FromString("100%")
	p := &dsv1.DeviceSyncPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns},
		Spec: dsv1.DeviceSyncPolicySpec{
			Suspend: true,
			Source: dsv1.Source{Destiny: dsv1.DestinySource{
				URL: e.urls.destiny, CredentialsSecretRef: dsv1.SecretReference{Name: "destiny"},
				ResourceTypes:              []string{district.ResourceTypeIPad, district.ResourceTypeStaffIPad},
				StudentDeviceResourceTypes: []string{district.ResourceTypeIPad},
				Roster:                     &dsv1.RosterSource{Format: dsv1.RosterSISPatronCSV, ConfigMapRef: &dsv1.LocalObjectReference{Name: "roster"}},
			}},
			LostMode: dsv1.LostMode{Enabled: true, Message: "This iPad belongs to the district.", Phone: "555-0100", IncludeStolen: true},
			Safety:   dsv1.Safety{MaxChanges: &all, MaxClears: &all},
		},
	}
	if school {
		p.Spec.Target.JamfSchool = &dsv1.JamfSchoolTarget{URL: e.urls.school, CredentialsSecretRef: dsv1.SecretReference{Name: "jamf-school"}}
	} else {
		p.Spec.Target.JamfPro = &dsv1.JamfProTarget{URL: e.urls.pro, CredentialsSecretRef: dsv1.SecretReference{Name: "jamf-pro"}}
	}
	for _, s := range e.d.Schools {
		m := dsv1.SchoolMapping{Site: s.ShortName, Building: s.Building}
		if school {
			m = dsv1.SchoolMapping{Site: s.ShortName, Location: s.Name}
		}
		p.Spec.Schools = append(p.Spec.Schools, m)
	}
	return p
}

// startRunManager runs a manager with the SyncRun controller for the namespace until the returned
// function is called (which waits for it to stop, as a killed manager would have).
// skipNameValidation lets several managers in one test process name their controller syncrun.
var skipNameValidation = true

func (e *runEnv) startRunManager(t *testing.T) (stop func()) {
	t.Helper()
	mgr := e.newManager(t, nil)
	r := &controllers.SyncRunReconciler{Client: mgr.GetClient(), Scheme: scheme, Recorder: recorded,
		Connector: &controllers.Connector{Reader: mgr.GetAPIReader(), Transport: e.transport, Limits: e.limits, Kinds: e.kinds}, RunLeaseDuration: e.leaseDuration, MaxRunTimeout: e.maxRunTimeout, Clock: e.clock, ProgressInterval: 20 * time.Millisecond, RetryPause: time.Millisecond}
	if err := r.SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	return startManager(t, mgr)
}

// newManager is a manager of the env's namespace (its cache restricted further by byObject, if set), for a
// test's own controllers.
func (e *runEnv) newManager(t *testing.T, byObject map[client.Object]cache.ByObject) ctrl.Manager {
	t.Helper()
	mgr, err := ctrl.NewManager(restConfig, ctrl.Options{
		Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"},
		Cache:      cache.Options{DefaultNamespaces: map[string]cache.Config{e.ns: {}}, ByObject: byObject},
		Controller: config.Controller{SkipNameValidation: &skipNameValidation},
	})
	if err != nil {
		t.Fatal(err)
	}
	return mgr
}

// startManager starts mgr until the returned function is called (which waits for it to stop, as a killed
// manager would have) or the test ends.
func startManager(t *testing.T, mgr ctrl.Manager) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	}
	t.Cleanup(stop)
	return stop
}

func (e *runEnv) createRun(t *testing.T, name, policy string) *dsv1.SyncRun {
	t.Helper()
	run := &dsv1.SyncRun{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns},
		Spec: dsv1.SyncRunSpec{PolicyRef: dsv1.LocalObjectReference{Name: policy}, Trigger: dsv1.TriggerManual}}
	if err := k8s.Create(context.Background(), run); err != nil {
		t.Fatal(err)
	}
	return run
}

// waitRun waits until cond holds for the run and returns it.
func waitRun(t *testing.T, run *dsv1.SyncRun, what string, cond func(*dsv1.SyncRun) bool) *dsv1.SyncRun {
	t.Helper()
	var got dsv1.SyncRun
	eventually(t, what, func() (bool, error) {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(run), &got); err != nil {
			return false, err
		}
		return cond(&got), fmt.Errorf("phase %s, progress %+v, conditions %+v, errors %+v", got.Status.Phase, got.Status.Progress, got.Status.Conditions, got.Status.Errors)
	})
	return &got
}

func condition(run *dsv1.SyncRun, typ string) *metav1.Condition {
	return meta.FindStatusCondition(run.Status.Conditions, typ)
}

func isTrue(run *dsv1.SyncRun, typ string) bool {
	c := condition(run, typ)
	return c != nil && c.Status == metav1.ConditionTrue
}

// checkJamfProState compares every device of the simulator with the district's oracle.
func (e *runEnv) checkJamfProState(t *testing.T) {
	t.Helper()
	if wrong := e.pro.Differences(e.d); len(wrong) > 0 {
		t.Fatalf("%d devices not in the expected state, first: %s", len(wrong), wrong[0])
	}
}

// proWrites counts the calls to the Jamf Pro simulator that write.
func (e *runEnv) proWrites() int { return e.pro.WriteCalls() }

func TestManualRunDrivesJamfProToTheExpectedStateAndKubectlWaitReturns(t *testing.T) {
	e := newRunEnv(t, 400)
	e.startRunManager(t)
	p := e.policy("lincoln", false)
	if err := k8s.Create(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	run := e.createRun(t, "lincoln-now", p.Name)

	if out, err := kubectl("wait", "--for=condition=Complete", "-n", e.ns, "syncrun/"+run.Name, "--timeout=60s"); err != nil {
		t.Fatalf("kubectl wait --for=condition=Complete: %v: %s", err, out)
	}
	got := waitRun(t, run, "the run succeeded", func(r *dsv1.SyncRun) bool { return r.Status.Phase == dsv1.PhaseSucceeded })
	e.checkJamfProState(t)
	for _, args := range [][]string{{"get", "syncruns", "-n", e.ns}, {"describe", "syncrun", "-n", e.ns, run.Name}} {
		if out, err := kubectl(args...); err != nil || !strings.Contains(out, run.Name) || !strings.Contains(out, "Succeeded") {
			t.Errorf("kubectl %s: %v:\n%s", strings.Join(args, " "), err, out)
		}
	}

	s := got.Status
	if s.Summary.Changed == 0 || s.Summary.Changed != s.Progress.Total || s.Progress.Done != s.Progress.Total || s.Summary.ByAction["Cleared"] == 0 ||
		s.Summary.ByReason["NotInDestiny"] == 0 || s.PolicyGeneration != p.Generation || s.StartTime == nil || s.CompletionTime == nil {
		t.Errorf("status does not account for the run: %+v", s)
	}
	if len(s.Changes) == 0 || s.Changes[0].Result != controllers.ResultApplied || len(s.Changes[0].Fields) == 0 {
		t.Errorf("status.changes must list what was written, old and new: %+v", s.Changes[:min(1, len(s.Changes))])
	}
	if owner := metav1.GetControllerOf(got); got.Labels[dsv1.PolicyLabel] != p.Name || owner == nil || owner.Name != p.Name {
		t.Errorf("a run created by hand is adopted by its policy: labels %v, owners %v", got.Labels, got.OwnerReferences)
	}

	if started, over := recorded.withReason(run.Name, "RunStarted"), recorded.withReason(run.Name, "RunTakenOver"); len(started) != 1 || len(over) != 0 {
		t.Errorf("the run must execute exactly once: %d RunStarted, %d RunTakenOver events", len(started), len(over))
	}

	eventually(t, "the policy records the run's Destiny item count as the baseline of maxSourceShrink", func() (bool, error) {
		pol := getPolicy(t, p)
		b := pol.Status.LastGoodSource
		return b != nil && b.Items == s.Summary.DestinyItems && b.Run == run.Name, fmt.Errorf("lastGoodSource %+v", b)
	})
	if n := runsCounted(t, e.ns, p.Name, "Succeeded"); n != 1 {
		t.Errorf("devicesync_runs_total{phase=Succeeded} for the policy is %v, want 1", n)
	}

	again := e.createRun(t, "lincoln-again", p.Name)
	second := waitRun(t, again, "the second run succeeded", func(r *dsv1.SyncRun) bool { return r.Status.Phase == dsv1.PhaseSucceeded })
	if second.Status.Summary.Changed != 0 {
		t.Errorf("a second run changed %d devices, want none", second.Status.Summary.Changed)
	}
}

func TestRunOverBudgetIsBlockedWithNothingWrittenUntilApproved(t *testing.T) {
	ctx := context.Background()
	e := newRunEnv(t, 300)
	e.startRunManager(t)
	p := e.policy("budget", false)
	five := intstr.FromInt32(5)
	p.Spec.Safety.MaxChanges = &five
	if err := k8s.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	run := e.createRun(t, "budget-now", p.Name)
	blocked := waitRun(t, run, "the run is Blocked", func(r *dsv1.SyncRun) bool { return r.Status.Phase == dsv1.PhaseBlocked })
	b := blocked.Status.Blocked
	if b == nil || b.Reason != "ChangeBudgetExceeded" || len(b.PlanDigest) != 64 || !isTrue(blocked, dsv1.ConditionBlocked) ||
		!strings.Contains(condition(blocked, dsv1.ConditionBlocked).Message, "kubectl annotate syncrun") {
		t.Fatalf("blocked status: %+v, conditions %+v", b, blocked.Status.Conditions)
	}
	if len(blocked.Status.Changes) == 0 || blocked.Status.Changes[0].Result != controllers.ResultPlanned {
		t.Errorf("a blocked run shows the plan it did not apply: %+v", blocked.Status.Changes[:min(1, len(blocked.Status.Changes))])
	}
	if w := e.proWrites(); w != 0 {
		t.Fatalf("a blocked run wrote %d times", w)
	}

	patch := client.MergeFrom(blocked.DeepCopy())
	blocked.Annotations = map[string]string{dsv1.ApproveAnnotation: "not-the-digest"}
	if err := k8s.Patch(ctx, blocked, patch); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // a wrong approval must not start anything; give the manager a chance to misbehave
	if w := e.proWrites(); w != 0 {
		t.Fatalf("an approval naming another plan made %d writes", w)
	}

	// Approve with the very command the Blocked condition prints.
	msg := condition(blocked, dsv1.ConditionBlocked).Message
	command := msg[strings.Index(msg, "kubectl annotate"):]
	args := strings.Fields(command)[1:]
	if out, err := kubectl(args...); err != nil || !strings.Contains(command, b.PlanDigest) {
		t.Fatalf("%s: %v: %s", command, err, out)
	}
	done := waitRun(t, run, "the approved run succeeded", func(r *dsv1.SyncRun) bool { return r.Status.Phase == dsv1.PhaseSucceeded })
	if !isTrue(done, dsv1.ConditionComplete) || condition(done, dsv1.ConditionBlocked) != nil || done.Status.Blocked != nil {
		t.Errorf("approved run conditions: %+v", done.Status.Conditions)
	}
	e.checkJamfProState(t)
}

func TestANewerRunSupersedesAnOlderBlockedOne(t *testing.T) {
	e := newRunEnv(t, 200)
	e.startRunManager(t)
	p := e.policy("pileup", false)
	five := intstr.FromInt32(5)
	p.Spec.Safety.MaxChanges = &five
	if err := k8s.Create(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	first := e.createRun(t, "pileup-1", p.Name)
	waitRun(t, first, "the first run is Blocked", func(r *dsv1.SyncRun) bool { return r.Status.Phase == dsv1.PhaseBlocked })
	second := e.createRun(t, "pileup-2", p.Name)
	waitRun(t, second, "the second run is Blocked", func(r *dsv1.SyncRun) bool { return r.Status.Phase == dsv1.PhaseBlocked })
	old := waitRun(t, first, "the first run is superseded", func(r *dsv1.SyncRun) bool { return r.Status.Phase == dsv1.PhaseFailed })
	if c := condition(old, dsv1.ConditionFailed); c == nil || c.Reason != controllers.ReasonSuperseded || !strings.Contains(c.Message, "pileup-2") ||
		condition(old, dsv1.ConditionBlocked) != nil {
		t.Errorf("superseded run conditions: %+v", old.Status.Conditions)
	}
	if w := e.proWrites(); w != 0 {
		t.Fatalf("blocked runs wrote %d times", w)
	}
}

func TestDryRunRecordsThePlanAndWritesNothing(t *testing.T) {
	e := newRunEnv(t, 300)
	e.startRunManager(t)
	p := e.policy("dry", false)
	p.Spec.Mode = dsv1.ModeDryRun
	five := intstr.FromInt32(5) // over budget: a dry run still completes, and says an Enforce run would be blocked
	p.Spec.Safety.MaxChanges = &five
	if err := k8s.Create(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	run := waitRun(t, e.createRun(t, "dry-now", p.Name), "the dry run completed", func(r *dsv1.SyncRun) bool { return isTrue(r, dsv1.ConditionComplete) })
	if c := condition(run, dsv1.ConditionComplete); c.Reason != controllers.ReasonDryRun || run.Status.Mode != dsv1.ModeDryRun ||
		run.Status.Summary.Changed == 0 || run.Status.Changes[0].Result != controllers.ResultPlanned || !strings.Contains(c.Message, "would be blocked") {
		t.Errorf("dry run status: %+v, %+v", c, run.Status.Summary)
	}
	if w := e.proWrites(); w != 0 {
		t.Fatalf("a dry run wrote %d times", w)
	}
}

func TestARunWhoseSecretIsMissingFailsNamingTheSecret(t *testing.T) {
	e := newRunEnv(t, 50)
	e.startRunManager(t)
	p := e.policy("nosecret", false)
	p.Spec.Target.JamfPro.CredentialsSecretRef.Name = "jamf-pro-typo"
	if err := k8s.Create(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	run := waitRun(t, e.createRun(t, "nosecret-now", p.Name), "the run failed", func(r *dsv1.SyncRun) bool { return isTrue(r, dsv1.ConditionFailed) })
	c := condition(run, dsv1.ConditionFailed)
	if run.Status.Phase != dsv1.PhaseFailed || c.Reason != controllers.ReasonSecretNotFound || !strings.Contains(c.Message, "jamf-pro-typo") {
		t.Errorf("failed run: phase %s, condition %+v", run.Status.Phase, c)
	}
}

func TestJamfSchoolRunReportsWhatJamfSchoolCannotWrite(t *testing.T) {
	e := newRunEnv(t, 400)
	e.startRunManager(t)
	p := e.policy("school", true)
	if err := k8s.Create(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	run := waitRun(t, e.createRun(t, "school-now", p.Name), "the run succeeded", func(r *dsv1.SyncRun) bool { return isTrue(r, dsv1.ConditionComplete) })
	s := run.Status.Summary
	if s.ByReason["UnsupportedByTarget"] == 0 || s.Changed == 0 || s.ByAction["LostModeEnabled"] != 0 {
		t.Errorf("summary: %+v", s)
	}
	unsupported := false
	for _, c := range run.Status.Changes {
		if strings.Contains(c.Message, "the target cannot") {
			unsupported = true
		}
	}
	if !unsupported {
		t.Errorf("no change says which differences it could not write")
	}
}

func TestRunTakenOverAfterTheManagerStopsEndsInTheExpectedStateWithoutDuplicateCommands(t *testing.T) {
	e := newRunEnv(t, 400)
	// Slow Jamf writes so that the run is still applying when its manager stops.
	e.pro.HTTP().SetKnobs(simhttp.Knobs{Latency: 15 * time.Millisecond})
	p := e.policy("restart", false)
	p.Spec.Target.JamfPro.MaxConcurrency = 1
	if err := k8s.Create(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	stop := e.startRunManager(t)
	run := e.createRun(t, "restart-now", p.Name)
	waitRun(t, run, "the run is applying", func(r *dsv1.SyncRun) bool { return r.Status.Progress.Done >= 5 })
	stop()

	mid := waitRun(t, run, "the run read back", func(*dsv1.SyncRun) bool { return true })
	if mid.Status.Phase != dsv1.PhaseRunning || mid.Status.Progress.Done >= mid.Status.Progress.Total {
		t.Fatalf("the stopped manager must leave the run Running and unfinished: %s %+v", mid.Status.Phase, mid.Status.Progress)
	}
	e.pro.HTTP().SetKnobs(simhttp.Knobs{})
	e.startRunManager(t)
	done := waitRun(t, run, "the run was taken over and succeeded", func(r *dsv1.SyncRun) bool { return r.Status.Phase == dsv1.PhaseSucceeded })
	e.checkJamfProState(t)
	if done.Status.Summary.Changed >= int32(mid.Status.Progress.Total) {
		t.Errorf("the new manager re-planned %d changes; the %d already applied must not be planned again", done.Status.Summary.Changed, mid.Status.Progress.Done)
	}
	perDevice := map[string]int{}
	for _, c := range e.pro.Commands() {
		if strings.HasSuffix(c.Type, "_LOST_MODE") {
			perDevice[c.ManagementID]++
			if perDevice[c.ManagementID] > 1 {
				t.Errorf("device %s got %d Lost Mode commands", c.ManagementID, perDevice[c.ManagementID])
			}
		}
	}
	if len(recorded.withReason(run.Name, "RunTakenOver")) == 0 {
		t.Errorf("no RunTakenOver event")
	}
}

// runsCounted reads devicesync_runs_total for a policy and phase from the manager's registry.
func runsCounted(t *testing.T, namespace, policy, phase string) float64 {
	t.Helper()
	families, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != metrics.RunsTotal {
			continue
		}
		for _, m := range f.GetMetric() {
			l := map[string]string{}
			for _, lp := range m.GetLabel() {
				l[lp.GetName()] = lp.GetValue()
			}
			if l["namespace"] == namespace && l["policy"] == policy && l["phase"] == phase {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// kubectl runs the real kubectl against the test's API server and returns its combined output.
func kubectl(args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(testEnv.BinaryAssetsDirectory, "kubectl"), append([]string{"--kubeconfig", kubeconfig}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestARunStatusWrite(t *testing.T) {
	ctx := context.Background()
	e := newRunEnv(t, 10) // no run manager: nothing else writes these runs

	t.Run("never lands on a run deleted and re-created under the same name", func(t *testing.T) {
		old := e.createRun(t, "recreated", "nopolicy")
		orig := old.DeepCopy()
		if err := k8s.Delete(ctx, old); err != nil {
			t.Fatal(err)
		}
		fresh := e.createRun(t, "recreated", "nopolicy")
		stale := orig.DeepCopy()
		stale.Status.Phase = dsv1.PhaseSucceeded
		if err := controllers.WriteRunStatus(ctx, k8s, stale, orig); !errors.Is(err, controllers.ErrReplaced) {
			t.Fatalf("writing the deleted run's status: %v, want ErrReplaced", err)
		}
		var got dsv1.SyncRun
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(fresh), &got); err != nil {
			t.Fatal(err)
		}
		if got.Status.Phase != "" {
			t.Errorf("the new run's phase is %q, want it untouched", got.Status.Phase)
		}
	})
	t.Run("survives a change to the run's metadata made meanwhile", func(t *testing.T) {
		run := e.createRun(t, "annotated", "nopolicy")
		orig := run.DeepCopy()
		var other dsv1.SyncRun
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(run), &other); err != nil {
			t.Fatal(err)
		}
		other.Annotations = map[string]string{"example.org/note": "someone was here"}
		if err := k8s.Update(ctx, &other); err != nil {
			t.Fatal(err)
		}
		run.Status.Phase = dsv1.PhaseSucceeded
		if err := controllers.WriteRunStatus(ctx, k8s, run, orig); err != nil {
			t.Fatal(err)
		}
		var got dsv1.SyncRun
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(run), &got); err != nil {
			t.Fatal(err)
		}
		if got.Status.Phase != dsv1.PhaseSucceeded || got.Annotations["example.org/note"] == "" {
			t.Errorf("phase %q, annotations %v", got.Status.Phase, got.Annotations)
		}
	})
}
