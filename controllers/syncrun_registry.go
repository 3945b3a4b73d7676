package controllers

import (
	"context"
	gosync "sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"
)

// executions is the registry of the runs executing in this manager: at most one per policy, so two runs
// of a policy (a scheduled one and a run-now, or two approvals) never read and write the same devices at
// once, and a run deleted while it executes (concurrencyPolicy Replace) is cancelled at once, from the
// watch, rather than at its next status write.
//
// A run that finds its policy's other run executing here waits without polling: claim records it as a
// waiter, and release of the executing run puts every waiter of the policy back on the controller's
// queue. Both happen under one lock, so a wake cannot be missed (a watch on the finished run's status
// could be: its event may be handled before the execution releases its claim).
type executions struct {
	mu       gosync.Mutex
	byPolicy map[types.UID]*execution
	byRun    map[types.UID]*execution
	// started are the runs this manager marked Running and has not finished (a retry after a transient
	// error is not a takeover).
	started map[types.UID]bool
	// waiting are the runs, by policy, that found the policy's other run executing.
	waiting map[types.UID][]types.NamespacedName
	// queue is the SyncRun controller's work queue (set when the controller starts; nil in unit tests).
	queue workqueue.TypedRateLimitingInterface[reconcile.Request]
}

// markStarted records that this manager started run.
func (e *executions) markStarted(run types.UID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.started == nil {
		e.started = map[types.UID]bool{}
	}
	e.started[run] = true
}

// forget drops run from the runs this manager started: it finished, or was cancelled, deleted or left
// for the next manager.
func (e *executions) forget(run types.UID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.started, run)
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

// claim registers run as its policy's executing run. When the policy has another executing run, it
// returns that run's name and false, and records run (key) as waiting: release wakes it.
func (e *executions) claim(policy, run types.UID, key types.NamespacedName, cancel context.CancelFunc) (string, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.byPolicy == nil {
		e.byPolicy, e.byRun, e.waiting = map[types.UID]*execution{}, map[types.UID]*execution{}, map[types.UID][]types.NamespacedName{}
	}
	if other, ok := e.byPolicy[policy]; ok && other.run != run {
		for _, k := range e.waiting[policy] {
			if k == key {
				return other.runName, false
			}
		}
		e.waiting[policy] = append(e.waiting[policy], key)
		return other.runName, false
	}
	x := &execution{policy: policy, run: run, runName: key.Name, cancel: cancel}
	e.byPolicy[policy], e.byRun[run] = x, x
	return "", true
}

// release unregisters run and wakes the runs of its policy that waited for it. One of them claims the
// policy next; the others wait again, for that one.
func (e *executions) release(policy, run types.UID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.byPolicy[policy]; ok && x.run == run {
		delete(e.byPolicy, policy)
		for _, key := range e.waiting[policy] {
			if e.queue != nil {
				e.queue.Add(reconcile.Request{NamespacedName: key}) // never blocks; ignored once the queue is shut down
			}
		}
		delete(e.waiting, policy)
	}
	delete(e.byRun, run)
}

// cancelRun stops the execution of run, if it executes here; it reports whether it did.
func (e *executions) cancelRun(run types.UID) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.byRun[run]; ok {
		x.cancel()
		return true
	}
	return false
}

// enqueue puts run key back on the controller's queue, after the given delay (zero: now). It never blocks.
func (e *executions) enqueue(key types.NamespacedName, after time.Duration) {
	e.mu.Lock()
	q := e.queue
	e.mu.Unlock()
	switch {
	case q == nil:
	case after > 0:
		q.AddAfter(reconcile.Request{NamespacedName: key}, after)
	default:
		q.Add(reconcile.Request{NamespacedName: key})
	}
}

// wakeSource is the controller source through which release puts waiting runs back on the queue.
func (e *executions) wakeSource() source.Source {
	return source.Func(func(_ context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
		e.mu.Lock()
		defer e.mu.Unlock()
		e.queue = q
		return nil
	})
}
