package controllers_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	dsv1 "github.com/k12dev/devicesync-operator/api/v1alpha1"
	"github.com/k12dev/devicesync-operator/controllers"
	"github.com/k12dev/devicesync-operator/internal/testenv"
)

// k8s is a direct (uncached) client of the envtest API server the manager under test watches.
var k8s client.Client

func TestMain(m *testing.M) {
	env, cfg, err := testenv.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := func() int {
		scheme := testenv.Scheme()
		mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"}})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if err := (&controllers.DeviceSyncPolicyReconciler{Client: mgr.GetClient(), Scheme: scheme}).SetupWithManager(mgr); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if err := (&controllers.SyncRunReconciler{Client: mgr.GetClient(), Scheme: scheme}).SetupWithManager(mgr); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if k8s, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- mgr.Start(ctx) }()
		code := m.Run()
		cancel()
		if err := <-done; err != nil {
			fmt.Fprintln(os.Stderr, "manager:", err)
			return 1
		}
		return code
	}()
	if err := env.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping envtest:", err)
	}
	os.Exit(code)
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

func newPolicy(name string) *dsv1.DeviceSyncPolicy {
	return &dsv1.DeviceSyncPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
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
	if err := k8s.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
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
	if err := k8s.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
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

func TestSyncRunControllerMarksNewRunsPending(t *testing.T) {
	ctx := context.Background()
	run := &dsv1.SyncRun{
		ObjectMeta: metav1.ObjectMeta{Name: "pending", Namespace: "default"},
		Spec:       dsv1.SyncRunSpec{PolicyRef: dsv1.LocalObjectReference{Name: "observed"}},
	}
	if err := k8s.Create(ctx, run); err != nil {
		t.Fatal(err)
	}
	eventually(t, "run is Pending with observedGeneration", func() (bool, error) {
		var got dsv1.SyncRun
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(run), &got); err != nil {
			return false, err
		}
		return got.Status.Phase == dsv1.PhasePending && got.Status.ObservedGeneration == got.Generation,
			fmt.Errorf("phase %q, observedGeneration %d of %d", got.Status.Phase, got.Status.ObservedGeneration, got.Generation)
	})
}
