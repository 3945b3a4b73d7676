package controllers_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dsv1 "github.com/k12dev/devicesync-operator/api/v1alpha1"
	"github.com/k12dev/devicesync-operator/controllers"
)

// policyIntervals are the intervals of a test's own policy manager.
type policyIntervals struct {
	retry, stalled, failedRetest time.Duration
}

// startPolicyManager runs a manager with the DeviceSyncPolicy controller and the manager's validator
// (Secrets, connections, schools against the env's simulators) for the env's namespace, until the test
// ends. It reconciles the policies labelled ownPolicyManagerLabel (ownPolicy), which the suite's policy
// manager leaves alone.
func (e *runEnv) startPolicyManager(t *testing.T, iv policyIntervals) {
	t.Helper()
	mgr := e.newManager(t, nil)
	conn := &controllers.Connector{Reader: mgr.GetAPIReader(), Transport: e.transport, Limits: e.limits}
	r := &controllers.DeviceSyncPolicyReconciler{Client: mgr.GetClient(), Scheme: scheme, Recorder: recorded,
		Validator:     &controllers.ConnectionValidator{Connector: conn, FailedRetestInterval: iv.failedRetest},
		RetryInterval: iv.retry, StalledInterval: iv.stalled}
	if err := r.SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	startManager(t, mgr)
}

// ownPolicy is the env's policy for a test's own policy manager.
func (e *runEnv) ownPolicy(name string) *dsv1.DeviceSyncPolicy {
	p := e.policy(name, false)
	p.Labels = map[string]string{ownPolicyManagerLabel: "true"}
	return p
}

// waitPolicy waits until cond holds for the policy's status and returns the policy.
func waitPolicy(t *testing.T, p *dsv1.DeviceSyncPolicy, what string, cond func(*dsv1.DeviceSyncPolicy) bool) *dsv1.DeviceSyncPolicy {
	t.Helper()
	var got dsv1.DeviceSyncPolicy
	eventually(t, what, func() (bool, error) {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(p), &got); err != nil {
			return false, err
		}
		return cond(&got), fmt.Errorf("generation %d, conditions %+v", got.Generation, got.Status.Conditions)
	})
	return &got
}

func policyCondition(p *dsv1.DeviceSyncPolicy, typ string) *metav1.Condition {
	return meta.FindStatusCondition(p.Status.Conditions, typ)
}

func readyIs(p *dsv1.DeviceSyncPolicy, status metav1.ConditionStatus, reason string) bool {
	c := policyCondition(p, dsv1.ConditionReady)
	return c != nil && c.Status == status && c.Reason == reason && c.ObservedGeneration == p.Generation
}

func TestFixingWhatAPolicyReferencesMakesItReadyWithoutTouchingThePolicy(t *testing.T) {
	e := newRunEnv(t, 50)
	// The slow re-check is far away: only the watch on what the policy names can make it Ready in time.
	e.startPolicyManager(t, policyIntervals{retry: time.Hour, stalled: time.Hour})
	ctx := context.Background()
	cases := []struct {
		name       string
		break_     func(*dsv1.DeviceSyncPolicy)
		wantReason string
		fix        client.Object
	}{
		{
			name:       "creating the missing credentials Secret",
			break_:     func(p *dsv1.DeviceSyncPolicy) { p.Spec.Target.JamfPro.CredentialsSecretRef.Name = "jamf-pro-later" },
			wantReason: controllers.ReasonSecretNotFound,
			fix: &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "jamf-pro-later", Namespace: e.ns},
				StringData: map[string]string{"client-id": "sync", "client-secret": "jamf-secret"}},
		},
		{
			name:       "creating the missing roster ConfigMap",
			break_:     func(p *dsv1.DeviceSyncPolicy) { p.Spec.Source.Destiny.Roster.ConfigMapRef.Name = "roster-later" },
			wantReason: controllers.ReasonInvalidRoster,
			fix: &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "roster-later", Namespace: e.ns},
				Data: map[string]string{"patrons.csv": string(e.d.SISPatronCSV())}},
		},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := e.ownPolicy(fmt.Sprintf("watch-%d", i))
			tc.break_(p)
			if err := k8s.Create(ctx, p); err != nil {
				t.Fatal(err)
			}
			broken := waitPolicy(t, p, "the policy is not Ready and Stalled", func(p *dsv1.DeviceSyncPolicy) bool {
				c := policyCondition(p, dsv1.ConditionReady)
				return c != nil && c.Status == metav1.ConditionFalse && c.Reason == tc.wantReason &&
					meta.IsStatusConditionTrue(p.Status.Conditions, dsv1.ConditionStalled)
			})
			if err := k8s.Create(ctx, tc.fix); err != nil {
				t.Fatal(err)
			}
			ready := waitPolicy(t, p, "the policy is Ready", func(p *dsv1.DeviceSyncPolicy) bool { return readyIs(p, metav1.ConditionTrue, "Ready") })
			if ready.Generation != broken.Generation {
				t.Errorf("the policy was edited: generation %d, was %d", ready.Generation, broken.Generation)
			}
			if c := policyCondition(ready, dsv1.ConditionStalled); c != nil {
				t.Errorf("a Ready policy is still Stalled: %+v", c)
			}
		})
	}
}

func TestAStalledPolicyIsCheckedAgainAfterTheSlowInterval(t *testing.T) {
	e := newRunEnv(t, 50)
	// The fix is in Jamf Pro, which no watch sees: only the Stalled re-check (1s here) notices it.
	e.startPolicyManager(t, policyIntervals{retry: time.Hour, stalled: time.Second, failedRetest: time.Millisecond})
	p := e.ownPolicy("stalled-recheck")
	p.Spec.Schools[0].Building = "Lincoln Annex"
	if err := k8s.Create(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	waitPolicy(t, p, "the policy is Stalled on the unknown building", func(p *dsv1.DeviceSyncPolicy) bool {
		return readyIs(p, metav1.ConditionFalse, controllers.ReasonUnknownBuilding) && meta.IsStatusConditionTrue(p.Status.Conditions, dsv1.ConditionStalled)
	})
	e.pro.AddBuilding("Lincoln Annex")
	ready := waitPolicy(t, p, "the policy is Ready once Jamf Pro has the building", func(p *dsv1.DeviceSyncPolicy) bool {
		return readyIs(p, metav1.ConditionTrue, "Ready")
	})
	if c := policyCondition(ready, dsv1.ConditionStalled); c != nil {
		t.Errorf("Stalled %+v after the fix, want none", c)
	}
}

func TestAPolicyWhoseSystemIsUnreachableIsReconcilingWithRetry(t *testing.T) {
	e := newRunEnv(t, 50)
	e.startPolicyManager(t, policyIntervals{retry: time.Hour, stalled: time.Hour})
	gone := httptest.NewTLSServer(nil)
	gone.Close() // connections to it are refused
	p := e.ownPolicy("unreachable")
	p.Spec.Source.Destiny.URL = gone.URL
	if err := k8s.Create(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	got := waitPolicy(t, p, "the policy is retrying", func(p *dsv1.DeviceSyncPolicy) bool {
		c := policyCondition(p, dsv1.ConditionReconciling)
		return c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == p.Generation
	})
	rec, ready := policyCondition(got, dsv1.ConditionReconciling), policyCondition(got, dsv1.ConditionReady)
	if rec.Reason != controllers.ReasonProgressingWithRetry || !strings.Contains(rec.Message, "retrying every 1h0m0s") ||
		!strings.Contains(rec.Message, "source.destiny") {
		t.Errorf("Reconciling %+v, want True ProgressingWithRetry saying what is retried and when", rec)
	}
	if ready == nil || ready.Status != metav1.ConditionFalse || ready.Reason != controllers.ReasonDestinyUnreachable || !strings.Contains(ready.Message, "source.destiny") {
		t.Errorf("Ready %+v, want False DestinyUnreachable naming source.destiny", ready)
	}
	if c := policyCondition(got, dsv1.ConditionStalled); c != nil {
		t.Errorf("Stalled %+v: a transient failure is retried, not Stalled", c)
	}
}
