package notify_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	dsv1 "github.com/k12dev/devicesync-operator/api/v1alpha1"
	"github.com/k12dev/devicesync-operator/internal/httpx"
	"github.com/k12dev/devicesync-operator/internal/notify"
)

type notifyEnv struct {
	k8s  client.Client
	rec  *receiver
	n    *notify.Notifier
	p    *dsv1.DeviceSyncPolicy
	run  *dsv1.SyncRun
	urls map[string]string // Secret lookups: name/key -> value
}

func newNotifyEnv(t *testing.T, phase dsv1.SyncRunPhase, on ...dsv1.NotifyPhase) *notifyEnv {
	t.Helper()
	sch := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(sch); err != nil {
		t.Fatal(err)
	}
	if err := dsv1.AddToScheme(sch); err != nil {
		t.Fatal(err)
	}
	e := &notifyEnv{rec: &receiver{}, run: finishedRun(phase)}
	e.run.UID = "run-uid"
	srv := httptest.NewTLSServer(e.rec)
	t.Cleanup(srv.Close)
	e.urls = map[string]string{"it-alerts/url": srv.URL + "/services/" + token}
	e.k8s = fake.NewClientBuilder().WithScheme(sch).WithObjects(e.run.DeepCopy()).Build()
	if err := e.k8s.Get(context.Background(), client.ObjectKeyFromObject(e.run), e.run); err != nil {
		t.Fatal(err)
	}
	e.p = &dsv1.DeviceSyncPolicy{}
	e.p.Name = "district"
	e.p.Spec.Notifications = &dsv1.Notifications{Webhook: &dsv1.WebhookNotification{
		URLSecretRef: dsv1.SecretKeyReference{Name: "it-alerts", Key: "url"}, Format: dsv1.WebhookGeneric, On: on}}
	e.n = &notify.Notifier{Client: e.k8s, Sender: newSender(srv, httpx.Guard{}),
		SecretValue: func(_ context.Context, ns, name, key string) (string, error) {
			if v, ok := e.urls[name+"/"+key]; ok {
				return v, nil
			}
			return "", &secretMissing{name: ns + "/" + name}
		}}
	return e
}

type secretMissing struct{ name string }

func (s *secretMissing) Error() string { return "Secret " + s.name + " not found" }

func TestNotifier(t *testing.T) {
	cases := []struct {
		name  string
		phase dsv1.SyncRunPhase
		on    []dsv1.NotifyPhase
		sends int
	}{
		{name: "by default a Failed run is reported", phase: dsv1.PhaseFailed, sends: 1},
		{name: "by default a PartiallyFailed run is reported", phase: dsv1.PhasePartiallyFailed, sends: 1},
		{name: "by default a Blocked run is reported", phase: dsv1.PhaseBlocked, sends: 1},
		{name: "by default a Succeeded run is not reported", phase: dsv1.PhaseSucceeded, sends: 0},
		{name: "Succeeded is reported when listed", phase: dsv1.PhaseSucceeded, on: []dsv1.NotifyPhase{"Succeeded"}, sends: 1},
		{name: "a phase left out of on is not reported", phase: dsv1.PhaseFailed, on: []dsv1.NotifyPhase{"Blocked"}, sends: 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newNotifyEnv(t, tc.phase, tc.on...)
			if err := e.n.Notify(context.Background(), e.run, e.p); err != nil {
				t.Fatal(err)
			}
			if n := len(e.rec.bodies); n != tc.sends {
				t.Fatalf("%d messages, want %d", n, tc.sends)
			}
		})
	}
}

func TestTheSameResultIsSentOnceWhateverTheReconciles(t *testing.T) {
	e := newNotifyEnv(t, dsv1.PhaseBlocked)
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ { // four reconciles finishing the same result at once
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := e.n.Notify(context.Background(), e.run.DeepCopy(), e.p); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if err := e.n.Notify(context.Background(), e.run, e.p); err != nil { // and a later one
		t.Fatal(err)
	}
	if n := len(e.rec.bodies); n != 1 {
		t.Fatalf("%d messages for one result, want 1", n)
	}
	var got dsv1.SyncRun
	if err := e.k8s.Get(context.Background(), client.ObjectKeyFromObject(e.run), &got); err != nil {
		t.Fatal(err)
	}
	if v := got.Annotations[notify.NotifiedAnnotation]; v != "Blocked:abc123" {
		t.Fatalf("%s = %q", notify.NotifiedAnnotation, v)
	}

	// Approved, run again, and blocked again on another plan: a new result with a new approve command.
	got.Status.Blocked.PlanDigest = "def456"
	got.Status.Conditions[0].Message = strings.ReplaceAll(got.Status.Conditions[0].Message, "abc123", "def456")
	if err := e.n.Notify(context.Background(), &got, e.p); err != nil {
		t.Fatal(err)
	}
	if n := len(e.rec.bodies); n != 2 || !strings.Contains(e.rec.bodies[1], "approve=def456") {
		t.Fatalf("%d messages; the last: %s", n, e.rec.bodies[n-1])
	}
	// Then it ends Failed: another result.
	got.Status.Phase = dsv1.PhaseFailed
	if err := e.n.Notify(context.Background(), &got, e.p); err != nil {
		t.Fatal(err)
	}
	if n := len(e.rec.bodies); n != 3 {
		t.Fatalf("%d messages, want 3", n)
	}
}

func TestAMissingSecretOrRefusedDeliveryIsAnErrorWithoutTheURL(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(e *notifyEnv)
		want   string
		posts  int
	}{
		{name: "the Secret is missing", mutate: func(e *notifyEnv) { delete(e.urls, "it-alerts/url") }, want: "Secret lincoln/it-alerts not found"},
		{name: "the receiver answers 400", mutate: func(e *notifyEnv) { e.rec.statuses = []int{http.StatusBadRequest} }, want: "answered HTTP 400", posts: 1},
		{name: "the URL is plain http", mutate: func(e *notifyEnv) {
			e.urls["it-alerts/url"] = strings.Replace(e.urls["it-alerts/url"], "https://", "http://", 1)
		}, want: "must use https://"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newNotifyEnv(t, dsv1.PhaseFailed)
			tc.mutate(e)
			err := e.n.Notify(context.Background(), e.run, e.p)
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), token) {
				t.Fatalf("err = %v, want %q and never the URL", err, tc.want)
			}
			if len(e.rec.bodies) != tc.posts {
				t.Fatalf("%d posts, want %d", len(e.rec.bodies), tc.posts)
			}
		})
	}
}
