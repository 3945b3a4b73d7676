package controllers

import (
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/k12dev/devicesync-operator/internal/clock"
)

// The small helpers both controllers use: one clock, one uncached reader, one event recorder.

// clockOr is c, or the wall clock when c is nil.
func clockOr(c clock.Clock) clock.Clock {
	if c == nil {
		return clock.Real{}
	}
	return c
}

// uncached is the API reader when there is one (what must not be stale: a run's phase, a policy applied
// with its run, Secrets), else the client.
func uncached(api client.Reader, c client.Client) client.Reader {
	if api == nil {
		return c
	}
	return api
}

// record records an event about obj (related names the other object) when a recorder is set. The note is
// taken as it is, never as a format.
func record(rec events.EventRecorder, obj, related runtime.Object, eventType, reason, action, note string) {
	if rec == nil || obj == nil {
		return
	}
	rec.Eventf(obj, related, eventType, reason, action, "%s", note)
}
