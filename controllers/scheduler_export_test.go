package controllers

import "k8s.io/apimachinery/pkg/types"

// QueuedRuns exposes the runs waiting in r's run scheduler, in the order they would execute now.
func QueuedRuns(r *SyncRunReconciler) []types.NamespacedName { return r.scheduler.queued() }
