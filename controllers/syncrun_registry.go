package controllers

import (
	"context"
	"errors"
	gosync "sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dsv1 "github.com/k12dev/devicesync-operator/api/v1alpha1"
)

// executions is the registry of the runs executing in this manager: at most one per policy, so two runs
// of a policy (a scheduled one and a run-now, or two approvals) never read and write the same devices at
// once, and a run deleted while it executes (concurrencyPolicy Replace) is cancelled at once, from the
// watch, rather than at its next status write.
type executions struct {
	mu       gosync.Mutex
	byPolicy map[types.UID]*execution
	byRun    map[types.UID]*execution
	// started are the runs this manager marked Running and has not finished (a retry after a transient
	// error is not a takeover).
	started map[types.UID]bool
}

// markStarted records that this manager started run; done=true forgets it.
func (e *executions) markStarted(run types.UID, done bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.started == nil {
		e.started = map[types.UID]bool{}
	}
	if done {
		delete(e.started, run)
	} else {
		e.started[run] = true
	}
}

// startedHere reports whether this manager started run.
func (e *executions) startedHere(run types.UID) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.started[run]
}

type execution struct {
	policy, run types.UID
	runName     string
	cancel      context.CancelFunc
}

// claim registers run as its policy's executing run. It returns the name of the policy's other executing
// run, and false, when there is one.
func (e *executions) claim(policy, run types.UID, runName string, cancel context.CancelFunc) (string, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.byPolicy == nil {
		e.byPolicy, e.byRun = map[types.UID]*execution{}, map[types.UID]*execution{}
	}
	if other, ok := e.byPolicy[policy]; ok && other.run != run {
		return other.runName, false
	}
	x := &execution{policy: policy, run: run, runName: runName, cancel: cancel}
	e.byPolicy[policy], e.byRun[run] = x, x
	return "", true
}

// release unregisters run.
func (e *executions) release(policy, run types.UID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.byPolicy[policy]; ok && x.run == run {
		delete(e.byPolicy, policy)
	}
	delete(e.byRun, run)
}

// cancel stops the execution of run, if it executes here; it reports whether it did.
func (e *executions) cancelRun(run types.UID) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.byRun[run]; ok {
		x.cancel()
		return true
	}
	return false
}

// errReplaced says the run object is gone or is another object now (deleted and re-created under the
// same name, by kubectl replace --force or a GitOps re-sync): its execution must stop and write nothing.
var errReplaced = errors.New("the SyncRun was deleted or replaced")

// writeStatus patches run's status (computed from orig) with optimistic locking. On a conflict it
// re-reads the run: the same object (someone changed its metadata) gets the status again; another
// object under the same name is never given this execution's status (errReplaced).
func (r *SyncRunReconciler) writeStatus(ctx context.Context, run, orig *dsv1.SyncRun) error {
	patch := client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})
	for attempt := 1; ; attempt++ {
		err := r.Status().Patch(ctx, run, patch)
		switch {
		case err == nil:
			return nil
		case apierrors.IsNotFound(err):
			return errReplaced
		case !apierrors.IsConflict(err) || attempt == 5:
			return err
		}
		var fresh dsv1.SyncRun
		if err := r.reader().Get(ctx, client.ObjectKeyFromObject(run), &fresh); err != nil {
			if apierrors.IsNotFound(err) {
				return errReplaced
			}
			return err
		}
		if fresh.UID != run.UID {
			return errReplaced
		}
		status := run.Status
		patch = client.MergeFromWithOptions(fresh.DeepCopy(), client.MergeFromWithOptimisticLock{})
		fresh.Status = status
		*run = fresh
	}
}
