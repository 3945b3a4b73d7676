package controllers

import (
	"context"
	gosync "sync"

	"k8s.io/apimachinery/pkg/types"
)

// executions is the registry of the runs executing in this manager: at most one per policy, so two runs
// of a policy (a scheduled one and a run-now, or two approvals) never read and write the same devices at
// once, and a run deleted while it executes (concurrencyPolicy Replace) is cancelled at once, from the
// watch, rather than at its next status write.
type executions struct {
	mu       gosync.Mutex
	byPolicy map[types.UID]*execution
	byRun    map[types.UID]*execution
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
