package controllers_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	dsv1 "github.com/k12dev/devicesync-operator/api/v1alpha1"
	"github.com/k12dev/devicesync-operator/controllers"
	"github.com/k12dev/devicesync-operator/internal/clock"
	"github.com/k12dev/devicesync-operator/internal/testenv"
)

// The suite's shared state. Tests run one at a time (no t.Parallel): they share the fake clock.
var (
	// testEnv is the local control plane (kube-apiserver and etcd); restConfig reaches it as an admin,
	// and kubeconfig is a kubeconfig file for the same, for kubectl.
	testEnv    *envtest.Environment
	restConfig *rest.Config
	kubeconfig string
	// k8s is a direct (uncached) client of the envtest API server the managers under test watch.
	k8s client.Client
	// scheme knows the built-in kinds and this project's.
	scheme = testenv.Scheme()
	// clk is the time the suite's DeviceSyncPolicy reconciler reads. Tests set or step it; it never
	// moves by itself.
	clk = clock.NewFake(time.Now().Add(-time.Hour))
	// recorded collects the events the reconcilers record, so tests can assert on them without
	// waiting for the API server's event aggregation.
	recorded = &eventLog{}
)

// ownPolicyManagerLabel marks a policy that a test reconciles with a policy manager of its own
// (startPolicyManager): the suite's policy manager does not watch it.
const ownPolicyManagerLabel = "test.devicesync.k12.dev/own-policy-manager"

// Namespaces of the suite.
const (
	// policyNS holds the policies of the scheduling tests (newPolicy). No SyncRun controller executes
	// runs there: the tests give runs their phases by hand.
	policyNS = "scheduling"
	// runNS is the one namespace the suite's own SyncRun controller watches.
	runNS = "default"
)

// TestMain starts the control plane and two managers: one with the DeviceSyncPolicy controller for
// every namespace (on the fake clock clk), and one with the SyncRun controller for runNS only, so that
// runs elsewhere are executed only by the managers tests start themselves.
func TestMain(m *testing.M) {
	if os.Getenv("DEVICESYNC_TEST_LOG") != "" { // the managers' logs, for debugging a failing test
		ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.UseDevMode(true)))
	} else {
		ctrl.SetLogger(logr.Discard())
	}
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	env, cfg, err := testenv.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	testEnv, restConfig = env, cfg
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping envtest:", err)
		}
	}()
	fail := func(what string, err error) int {
		fmt.Fprintf(os.Stderr, "%s: %v\n", what, err)
		return 1
	}

	dir, err := os.MkdirTemp("", "controllers-suite-")
	if err != nil {
		return fail("temporary directory", err)
	}
	defer os.RemoveAll(dir)
	admin, err := env.AddUser(envtest.User{Name: "suite-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fail("adding the kubectl user", err)
	}
	kc, err := admin.KubeConfig()
	if err != nil {
		return fail("kubeconfig", err)
	}
	kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, kc, 0o600); err != nil {
		return fail("writing the kubeconfig", err)
	}

	if k8s, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		return fail("client", err)
	}
	if err := k8s.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: policyNS}}); err != nil {
		return fail("creating namespace "+policyNS, err)
	}

	notOwn, err := labels.Parse("!" + ownPolicyManagerLabel)
	if err != nil {
		return fail("label selector", err)
	}
	policyMgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"},
		Cache: cache.Options{ByObject: map[client.Object]cache.ByObject{&dsv1.DeviceSyncPolicy{}: {Label: notOwn}}}})
	if err != nil {
		return fail("policy manager", err)
	}
	if err := (&controllers.DeviceSyncPolicyReconciler{Client: policyMgr.GetClient(), Scheme: scheme, Clock: clk, Recorder: recorded}).SetupWithManager(policyMgr); err != nil {
		return fail("DeviceSyncPolicy controller", err)
	}
	runMgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"},
		Cache: cache.Options{DefaultNamespaces: map[string]cache.Config{runNS: {}}}})
	if err != nil {
		return fail("run manager", err)
	}
	if err := (&controllers.SyncRunReconciler{Client: runMgr.GetClient(), Scheme: scheme}).SetupWithManager(runMgr); err != nil {
		return fail("SyncRun controller", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	go func() { done <- policyMgr.Start(ctx) }()
	go func() { done <- runMgr.Start(ctx) }()
	code := m.Run()
	cancel()
	for range 2 {
		if err := <-done; err != nil {
			code = fail("manager", err)
		}
	}
	return code
}

// eventually polls cond until it holds or the wait runs out (a bound on a broken controller, not a timing assertion).
func eventually(t *testing.T, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		ok, err := cond()
		if ok {
			return
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: did not happen (last error: %v)", what, last)
}

// createPolicy creates p with the fake clock put just before the present, and waits for the manager's
// first reconcile of p: at that time no slot is due (slots count from the policy's creation), so the
// test starts from a policy with no runs and may then move the clock. p is updated from the server.
func createPolicy(t *testing.T, p *dsv1.DeviceSyncPolicy) {
	t.Helper()
	ctx := context.Background()
	clk.Set(time.Now().Add(-time.Minute))
	if err := k8s.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the manager reconciled the new policy "+p.Name, func() (bool, error) {
		var got dsv1.DeviceSyncPolicy
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(p), &got); err != nil {
			return false, err
		}
		*p = got
		return got.Status.ObservedGeneration == got.Generation, fmt.Errorf("observedGeneration %d of %d", got.Status.ObservedGeneration, got.Generation)
	})
}

// newPolicy is a minimal valid policy in policyNS: Jamf Pro, one school, the default schedule
// (Mon-Fri 05:40-17:40 every 1h) in America/Chicago.
func newPolicy(name string) *dsv1.DeviceSyncPolicy {
	return &dsv1.DeviceSyncPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: policyNS},
		Spec: dsv1.DeviceSyncPolicySpec{
			Schedule: dsv1.Schedule{TimeZone: "America/Chicago"},
			Source: dsv1.Source{Destiny: dsv1.DestinySource{
				URL: "https://destiny.example.org", CredentialsSecretRef: dsv1.SecretReference{Name: "destiny"},
				ResourceTypes: []string{"iPad"},
			}},
			Target: dsv1.Target{JamfPro: &dsv1.JamfProTarget{
				URL: "https://example.jamfcloud.com", CredentialsSecretRef: dsv1.SecretReference{Name: "jamf"},
			}},
			Schools: []dsv1.SchoolMapping{{Site: "LHS", Building: "Lincoln High School"}},
		},
	}
}

func TestPolicyControllerRecordsObservedGenerationAndSchedule(t *testing.T) {
	ctx := context.Background()
	p := newPolicy("observed")
	createPolicy(t, p)
	waitObserved := func(wantSchedule string) {
		t.Helper()
		var got dsv1.DeviceSyncPolicy
		eventually(t, "policy status observes generation "+fmt.Sprint(p.Generation), func() (bool, error) {
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(p), &got); err != nil {
				return false, err
			}
			return got.Status.ObservedGeneration == got.Generation && got.Status.Schedule == wantSchedule,
				fmt.Errorf("observedGeneration %d of %d, schedule %q", got.Status.ObservedGeneration, got.Generation, got.Status.Schedule)
		})
		*p = got
	}
	waitObserved("Mon-Fri 05:40-17:40 every 1h (America/Chicago)")

	p.Spec.Schedule.Days = []dsv1.Weekday{"Mon", "Wed", "Thu", "Sat"}
	p.Spec.Schedule.Every = "30m"
	if err := k8s.Update(ctx, p); err != nil {
		t.Fatal(err)
	}
	waitObserved("Mon,Wed,Thu,Sat 05:40-17:40 every 30m (America/Chicago)")
}

func TestPolicyWithUnknownTimeZoneIsNotReady(t *testing.T) {
	ctx := context.Background()
	p := newPolicy("bad-zone")
	p.Spec.Schedule.TimeZone = "America/Chicgo"
	createPolicy(t, p)
	eventually(t, "policy is not Ready because of its time zone", func() (bool, error) {
		var got dsv1.DeviceSyncPolicy
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(p), &got); err != nil {
			return false, err
		}
		c := meta.FindStatusCondition(got.Status.Conditions, dsv1.ConditionReady)
		if c == nil {
			return false, fmt.Errorf("no Ready condition")
		}
		return c.Status == metav1.ConditionFalse && c.Reason == "InvalidSchedule" &&
				strings.Contains(c.Message, `schedule.timeZone "America/Chicgo" is not a known IANA time zone`),
			fmt.Errorf("Ready=%s %s: %s", c.Status, c.Reason, c.Message)
	})
}

// TestSyncRunControllerTakesUpNewRunsInItsNamespace checks the suite's wiring: the SyncRun controller
// of runNS records a phase and the observed generation on a new run (Pending, or a later phase once it
// executes runs; the run's policy does not exist, so it cannot succeed).
func TestSyncRunControllerTakesUpNewRunsInItsNamespace(t *testing.T) {
	ctx := context.Background()
	run := &dsv1.SyncRun{
		ObjectMeta: metav1.ObjectMeta{Name: "pending", Namespace: runNS},
		Spec:       dsv1.SyncRunSpec{PolicyRef: dsv1.LocalObjectReference{Name: "observed"}},
	}
	if err := k8s.Create(ctx, run); err != nil {
		t.Fatal(err)
	}
	eventually(t, "run has a phase and observedGeneration", func() (bool, error) {
		var got dsv1.SyncRun
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(run), &got); err != nil {
			return false, err
		}
		return got.Status.Phase != "" && got.Status.ObservedGeneration == got.Generation,
			fmt.Errorf("phase %q, observedGeneration %d of %d", got.Status.Phase, got.Status.ObservedGeneration, got.Generation)
	})
}

// eventLog is an events.EventRecorder that keeps what it is given.
type eventLog struct {
	mu     sync.Mutex
	events []recordedEvent
}

// recordedEvent is one event: about which object (kind/name), of which type and reason, saying what.
type recordedEvent struct {
	Object, Related, Type, Reason, Action, Note string
}

func (l *eventLog) Eventf(regarding, related runtime.Object, eventtype, reason, action, note string, args ...interface{}) {
	e := recordedEvent{Object: objectName(regarding), Related: objectName(related), Type: eventtype, Reason: reason,
		Action: action, Note: fmt.Sprintf(note, args...)}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

// about returns the events recorded about the object of that name, oldest first.
func (l *eventLog) about(name string) []recordedEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []recordedEvent
	for _, e := range l.events {
		if e.Object == name {
			out = append(out, e)
		}
	}
	return out
}

// withReason returns the events about the object of that name that have the reason.
func (l *eventLog) withReason(name, reason string) []recordedEvent {
	var out []recordedEvent
	for _, e := range l.about(name) {
		if e.Reason == reason {
			out = append(out, e)
		}
	}
	return out
}

func objectName(o runtime.Object) string {
	if o == nil {
		return ""
	}
	if m, ok := o.(metav1.Object); ok {
		return m.GetName()
	}
	return ""
}
