package notify

import (
	"context"
	"fmt"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	dsv1 "github.com/k12dev/devicesync-operator/api/v1alpha1"
)

// NotifiedAnnotation on a run records the result whose message was sent (or attempted): its phase, and
// for Blocked also the first 12 characters of the plan digest (a run approved and then blocked again on
// a new plan has a new approve command to send). A run carrying its current result there is not
// reported again.
const NotifiedAnnotation = "devicesync.k12.dev/notified"

// DefaultOn are the phases reported when a webhook lists none.
var DefaultOn = []dsv1.NotifyPhase{"Failed", "PartiallyFailed", "Blocked"}

// sendTimeout bounds one notification, retries included, so a dead receiver never holds a reconcile long.
const sendTimeout = 45 * time.Second

// Notifier sends a finished run's message to its policy's webhook, at most once per run result.
type Notifier struct {
	// Client reads the run uncached and patches its annotation.
	Client client.Client
	// Reader reads the run uncached before claiming it (nil: Client).
	Reader client.Reader
	// SecretValue returns one key of a Secret in the namespace (the manager's Secret rules apply). Its
	// errors must not quote the value.
	SecretValue func(ctx context.Context, namespace, name, key string) (string, error)
	// Sender posts the message.
	Sender *Sender
}

// Notify sends run's result if policy has a webhook for its phase and it was not sent before. It returns
// nil when there is nothing to send; an error (a *DeliveryError, or the Secret's) says why a message
// that was due did not go out, in words that never contain the URL.
func (n *Notifier) Notify(ctx context.Context, run *dsv1.SyncRun, policy *dsv1.DeviceSyncPolicy) error {
	if policy == nil || policy.Spec.Notifications == nil || policy.Spec.Notifications.Webhook == nil {
		return nil
	}
	wh := policy.Spec.Notifications.Webhook
	on := wh.On
	if len(on) == 0 {
		on = DefaultOn
	}
	phase := run.Status.Phase
	if !slices.Contains(on, dsv1.NotifyPhase(phase)) {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sendTimeout)
	defer cancel()
	claimed, err := n.claim(ctx, run, resultKey(run))
	if err != nil || !claimed {
		return err
	}
	key := wh.URLSecretRef.Key
	if key == "" {
		key = "url"
	}
	rawURL, err := n.SecretValue(ctx, run.Namespace, wh.URLSecretRef.Name, key)
	if err != nil {
		return fmt.Errorf("notification for run %s not sent: %w", run.Name, err)
	}
	body, err := Body(wh.Format, FromRun(run, policy.Name))
	if err != nil {
		return err
	}
	if err := n.Sender.Send(ctx, rawURL, body); err != nil {
		return err
	}
	log.FromContext(ctx).Info("run result sent to the webhook", "run", run.Name, "phase", phase, "host", Host(rawURL), "format", wh.Format)
	return nil
}

// claim records key in the run's NotifiedAnnotation, unless it is there already, with an optimistic
// lock on a fresh read: of two reconciles finishing the same result, one claims it and sends.
func (n *Notifier) claim(ctx context.Context, run *dsv1.SyncRun, key string) (bool, error) {
	reader := n.Reader
	if reader == nil {
		reader = n.Client
	}
	for attempt := 0; attempt < 3; attempt++ {
		var cur dsv1.SyncRun
		if err := reader.Get(ctx, client.ObjectKeyFromObject(run), &cur); err != nil {
			if apierrors.IsNotFound(err) {
				return false, nil
			}
			return false, fmt.Errorf("reading run %s to record its notification: %w", run.Name, err)
		}
		if cur.UID != run.UID || cur.Annotations[NotifiedAnnotation] == key {
			return false, nil
		}
		patch := client.MergeFromWithOptions(cur.DeepCopy(), client.MergeFromWithOptimisticLock{})
		if cur.Annotations == nil {
			cur.Annotations = map[string]string{}
		}
		cur.Annotations[NotifiedAnnotation] = key
		err := n.Client.Patch(ctx, &cur, patch)
		switch {
		case err == nil:
			return true, nil
		case apierrors.IsConflict(err):
			continue
		case apierrors.IsNotFound(err):
			return false, nil
		default:
			return false, fmt.Errorf("recording the notification of run %s: %w", run.Name, err)
		}
	}
	return false, fmt.Errorf("recording the notification of run %s: the run kept changing", run.Name)
}

// resultKey is the NotifiedAnnotation value of run's current result.
func resultKey(run *dsv1.SyncRun) string {
	key := string(run.Status.Phase)
	if run.Status.Phase == dsv1.PhaseBlocked && run.Status.Blocked != nil {
		d := run.Status.Blocked.PlanDigest
		key += ":" + d[:min(12, len(d))]
	}
	return key
}
