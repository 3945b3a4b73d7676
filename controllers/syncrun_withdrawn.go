package controllers

import (
	"context"
	"encoding/json"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"

	dsv1 "github.com/k12dev/devicesync-operator/api/v1alpha1"
	"github.com/k12dev/devicesync-operator/internal/sync/plan"
)

// Devices still checked out to inactive students: the operator remembers when a run first saw each one
// (the grace period of lostMode.withdrawnAfter counts from then), across restarts and manager replicas,
// in a ConfigMap owned by the policy: <policy>-withdrawn, key firstSeen.json, {"<Destiny item id>":
// "<RFC 3339 time>"}. A run whose reads failed changes nothing in it.

// WithdrawnKey is the data key of the first-seen times.
const WithdrawnKey = "firstSeen.json"

// withdrawnMaxEntries bounds the memory (a ConfigMap holds 1 MiB; an entry is about 40 bytes).
const withdrawnMaxEntries = 20000

func withdrawnName(policy string) string {
	if name := policy + "-withdrawn"; len(name) <= 253 {
		return name
	}
	return shortened(policy+"-withdrawn", 253)
}

// loadWithdrawn reads the first-seen times of the policy's checkouts held by inactive students (none
// when the ConfigMap does not exist yet, or cannot be read: the grace period then starts now, which
// only delays Lost Mode, never hastens it).
func (r *SyncRunReconciler) loadWithdrawn(ctx context.Context, s *runScope) map[string]time.Time {
	var cm corev1.ConfigMap
	key := client.ObjectKey{Namespace: s.policy.Namespace, Name: withdrawnName(s.policy.Name)}
	if err := r.reader().Get(ctx, key, &cm); err != nil {
		if !apierrors.IsNotFound(err) {
			log.FromContext(ctx).Error(err, "reading when the devices held by inactive students were first seen", "configMap", key.Name)
		}
		return nil
	}
	var raw map[string]string
	if err := json.Unmarshal([]byte(cm.Data[WithdrawnKey]), &raw); err != nil {
		log.FromContext(ctx).Error(err, "the first-seen times are not JSON: starting over", "configMap", key.Name)
		return nil
	}
	out := make(map[string]time.Time, len(raw))
	for id, v := range raw {
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			out[id] = t
		}
	}
	return out
}

// rememberWithdrawn records the run's holders: each keeps its first-seen time, new ones get the run's
// time, and checkouts no longer held by an inactive student are forgotten (a student who comes back and
// leaves again starts a new grace period).
func (r *SyncRunReconciler) rememberWithdrawn(ctx context.Context, s *runScope, holders []plan.Holder) {
	seen := make(map[string]string, min(len(holders), withdrawnMaxEntries))
	for _, h := range holders {
		if len(seen) == withdrawnMaxEntries {
			break
		}
		seen[h.ItemID] = h.FirstSeen.UTC().Format(time.RFC3339)
	}
	body, err := json.Marshal(seen)
	if err != nil {
		return
	}
	p := s.policy
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: p.Namespace, Name: withdrawnName(p.Name)}}
	if _, err := controllerutil.CreateOrUpdate(ctx, r.Client, cm, func() error {
		if cm.Labels == nil {
			cm.Labels = map[string]string{}
		}
		cm.Labels[dsv1.PolicyLabel] = policyLabelValue(p.Name)
		cm.Data = map[string]string{WithdrawnKey: string(body)}
		return controllerutil.SetOwnerReference(p, cm, r.Scheme)
	}); err != nil {
		log.FromContext(ctx).Error(err, "recording when the devices held by inactive students were first seen", "configMap", cm.Name)
	}
}
