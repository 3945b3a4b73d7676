package controllers_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dsv1 "github.com/k12dev/devicesync-operator/api/v1alpha1"
	"github.com/k12dev/devicesync-operator/controllers"
	"github.com/k12dev/devicesync-operator/internal/httpx"
	"github.com/k12dev/devicesync-operator/internal/notify"
)

const webhookToken = "T0/B0/notify-test-token"

// chatReceiver is a chat webhook: it answers every POST to its token path with status and keeps the bodies.
type chatReceiver struct {
	mu     sync.Mutex
	status int
	bodies []string
}

func (c *chatReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	c.mu.Lock()
	defer c.mu.Unlock()
	if r.Method != http.MethodPost || r.URL.Path != "/services/"+webhookToken {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	c.bodies = append(c.bodies, string(b))
	w.WriteHeader(c.status)
}

func (c *chatReceiver) received() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.bodies...)
}

// startNotifyingRunManager is startRunManager with the manager's webhook notifier, sending through the
// env's transport (which trusts the httptest certificate the receiver serves too).
func (e *runEnv) startNotifyingRunManager(t *testing.T) *controllers.SyncRunReconciler {
	t.Helper()
	mgr := e.newManager(t, nil)
	conn := &controllers.Connector{Reader: mgr.GetAPIReader(), Transport: e.transport, Limits: e.limits}
	sender := notify.NewSender(e.transport, httpx.Guard{}, e.limits)
	sender.Retrier.Sleep = func(context.Context, time.Duration) error { return nil }
	r := &controllers.SyncRunReconciler{Client: mgr.GetClient(), Scheme: scheme, Recorder: recorded, Connector: conn,
		ProgressInterval: 20 * time.Millisecond, RetryPause: time.Millisecond,
		Notifier: &notify.Notifier{Client: mgr.GetClient(), Reader: mgr.GetAPIReader(), Sender: sender, SecretValue: controllers.WebhookURL(conn)}}
	if err := r.SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	startManager(t, mgr)
	return r
}

// blockedPolicyWithWebhook is a policy whose every run is Blocked by a budget of 5 changes, reporting
// to a Slack webhook whose URL is in the Secret it-alerts.
func (e *runEnv) blockedPolicyWithWebhook(t *testing.T, name, url string) *dsv1.DeviceSyncPolicy {
	t.Helper()
	ctx := context.Background()
	if err := k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "it-alerts", Namespace: e.ns},
		StringData: map[string]string{"url": url}}); err != nil {
		t.Fatal(err)
	}
	p := e.policy(name, false)
	five := intstr.FromInt32(5)
	p.Spec.Safety.MaxChanges = &five
	p.Spec.Notifications = &dsv1.Notifications{Webhook: &dsv1.WebhookNotification{
		URLSecretRef: dsv1.SecretKeyReference{Name: "it-alerts"}, Format: dsv1.WebhookSlack}}
	if err := k8s.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestABlockedRunPostsOneSlackMessageWithTheApproveCommand(t *testing.T) {
	ctx := context.Background()
	e := newRunEnv(t, 300)
	chat := &chatReceiver{status: http.StatusOK}
	srv := httptest.NewTLSServer(chat)
	t.Cleanup(srv.Close)
	r := e.startNotifyingRunManager(t)
	p := e.blockedPolicyWithWebhook(t, "notify", srv.URL+"/services/"+webhookToken)
	if p.Spec.Notifications.Webhook.URLSecretRef.Key != "url" || len(p.Spec.Notifications.Webhook.On) != 3 {
		t.Errorf("the CRD's defaults: %+v", p.Spec.Notifications.Webhook)
	}
	run := e.createRun(t, "notify-1", p.Name)
	blocked := waitRun(t, run, "the run is Blocked and its notification recorded", func(r *dsv1.SyncRun) bool {
		return r.Status.Phase == dsv1.PhaseBlocked && r.Status.Blocked != nil &&
			r.Annotations[notify.NotifiedAnnotation] == "Blocked:"+r.Status.Blocked.PlanDigest[:12]
	})
	eventually(t, "the receiver got the message", func() (bool, error) { return len(chat.received()) > 0, nil })

	cond := condition(blocked, dsv1.ConditionBlocked).Message
	approve := cond[strings.Index(cond, "kubectl annotate"):]
	var msg struct {
		Text   string `json:"text"`
		Blocks []struct {
			Type string `json:"type"`
			Text struct{ Type, Text string }
		} `json:"blocks"`
	}
	if err := json.Unmarshal([]byte(chat.received()[0]), &msg); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if !strings.Contains(msg.Text, "notify-1") || !strings.Contains(msg.Text, approve) {
		t.Errorf("text %q lacks the run or the approve command %q", msg.Text, approve)
	}
	all := chat.received()[0]
	for _, want := range []string{"kubectl describe syncrun -n " + e.ns + " notify-1", blocked.Status.Blocked.PlanDigest, `"mrkdwn"`} {
		if !strings.Contains(all, want) {
			t.Errorf("message lacks %q: %s", want, all)
		}
	}

	// A later reconcile of the same result (an approval naming another plan changes the run) sends nothing.
	patch := client.MergeFrom(blocked.DeepCopy())
	blocked.Annotations[dsv1.ApproveAnnotation] = "not-the-digest"
	if err := k8s.Patch(ctx, blocked, patch); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	// And the result finished again, as a reconcile that repeats finish would.
	if err := r.Notifier.Notify(ctx, blocked, p); err != nil {
		t.Fatal(err)
	}
	if n := len(chat.received()); n != 1 {
		t.Fatalf("the receiver got %d messages for one result, want 1", n)
	}
	for _, ev := range recorded.about(run.Name) {
		if strings.Contains(ev.Note, webhookToken) || ev.Reason == "NotificationFailed" {
			t.Errorf("event %+v", ev)
		}
	}
}

func TestAFailedDeliveryIsAnEventNamingTheHostAndStatusNotAFailedRun(t *testing.T) {
	e := newRunEnv(t, 200)
	chat := &chatReceiver{status: http.StatusBadRequest}
	srv := httptest.NewTLSServer(chat)
	t.Cleanup(srv.Close)
	e.startNotifyingRunManager(t)
	p := e.blockedPolicyWithWebhook(t, "notify-400", srv.URL+"/services/"+webhookToken)
	run := e.createRun(t, "notify-400-1", p.Name)
	waitRun(t, run, "the run is Blocked", func(r *dsv1.SyncRun) bool { return r.Status.Phase == dsv1.PhaseBlocked })
	var failed []string
	eventually(t, "a NotificationFailed event", func() (bool, error) {
		failed = nil
		for _, ev := range recorded.withReason(run.Name, "NotificationFailed") {
			failed = append(failed, ev.Note)
		}
		return len(failed) > 0, nil
	})
	host := strings.TrimPrefix(srv.URL, "https://")
	if len(failed) != 1 || !strings.Contains(failed[0], host) || !strings.Contains(failed[0], "HTTP 400") || strings.Contains(failed[0], webhookToken) {
		t.Errorf("NotificationFailed events: %q", failed)
	}
	if n := len(chat.received()); n != 1 {
		t.Errorf("a 400 was retried: %d posts", n)
	}
	got := waitRun(t, run, "the run stays Blocked", func(r *dsv1.SyncRun) bool { return r.Status.Phase == dsv1.PhaseBlocked })
	raw, _ := json.Marshal(got)
	if strings.Contains(string(raw), webhookToken) {
		t.Errorf("the run's object carries the webhook URL: %s", raw)
	}
}
