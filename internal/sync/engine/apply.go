package engine

import (
	"context"
	"errors"
	gosync "sync"
	"time"

	"github.com/k12dev/devicesync-operator/internal/httpx"
	"github.com/k12dev/devicesync-operator/internal/sync/plan"
)

// apply writes the plan: the roster changes first (when rt is set), phase by phase, every change of a
// phase before the next, so a user can join a group and a class name a user created in this run; then
// the device changes, so a new student's device gets its owner in the same run. Within a phase, and for
// the devices, changes are applied with the target's concurrency. Results are filled in plan order. A
// cancelled run stops between changes.
func apply(ctx context.Context, r Run, rt RosterTarget, rep *Report) {
	var roster []plan.RosterChange
	if rt != nil && rep.Plan.Roster != nil {
		roster = rep.Plan.Roster.Changes
	}
	changes := rep.Plan.Changes
	maxAttempts := r.MaxAttempts
	if maxAttempts <= 0 {
		maxAttempts = 2
	}
	pause := r.Retry
	if pause <= 0 {
		pause = 2 * time.Second
	}

	var mu gosync.Mutex
	prog := Progress{Total: len(roster) + len(changes)}
	progress := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		prog.Done++
		if err != nil {
			prog.Failed++
		}
		if r.Progress != nil {
			r.Progress(prog)
		}
	}
	if r.Progress != nil {
		r.Progress(prog)
	}

	// The roster, phase by phase (the plan orders its changes by phase; grouping keeps plan order).
	rosterResults := make([]RosterResult, len(roster))
	rosterDone := make([]bool, len(roster))
	var phases [][]int
	for i, c := range roster {
		if len(phases) == 0 || roster[phases[len(phases)-1][0]].Phase != c.Phase {
			phases = append(phases, nil)
		}
		phases[len(phases)-1] = append(phases[len(phases)-1], i)
	}
	for _, idx := range phases {
		if ctx.Err() != nil {
			break
		}
		pool(ctx, r.Target.Concurrency(), len(idx), func(j int) {
			i := idx[j]
			res := RosterResult{Change: roster[i]}
			res.Attempts, res.Err = attempt(ctx, maxAttempts, pause, func() error { return rt.ApplyRoster(ctx, roster[i]) })
			rosterResults[i], rosterDone[i] = res, true
			progress(res.Err)
		})
	}
	for i := range roster {
		switch {
		case !rosterDone[i]:
			rep.RosterNotAttempted++
			continue
		case rosterResults[i].Err != nil:
			rep.RosterFailed++
		default:
			rep.RosterApplied++
		}
		rep.RosterResults = append(rep.RosterResults, rosterResults[i])
	}

	// Then the devices.
	results := make([]Result, len(changes))
	done := make([]bool, len(changes))
	if ctx.Err() == nil {
		pool(ctx, r.Target.Concurrency(), len(changes), func(i int) {
			res := Result{Change: changes[i]}
			res.Attempts, res.Err = attempt(ctx, maxAttempts, pause, func() error { return r.Target.Apply(ctx, changes[i]) })
			results[i], done[i] = res, true
			progress(res.Err)
		})
	}
	for i := range changes {
		if !done[i] {
			rep.NotAttempted++
			continue
		}
		rep.Results = append(rep.Results, results[i])
		if results[i].Err != nil {
			rep.FailedChanges++
		} else {
			rep.Applied++
		}
	}
}

// pool calls do(0..n-1) on up to workers goroutines, and stops handing out indexes once ctx is done.
// It returns when every call it started has returned.
func pool(ctx context.Context, workers, n int, do func(i int)) {
	workers = max(1, min(workers, n))
	next := make(chan int)
	var wg gosync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range next {
				do(i)
			}
		})
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
}

// attempt calls write, retrying only what the target marks Transient, up to maxAttempts in all.
func attempt(ctx context.Context, maxAttempts int, pause time.Duration, write func() error) (attempts int, err error) {
	for {
		attempts++
		err = write()
		var tr *Transient
		if err == nil || !errors.As(err, &tr) || attempts >= maxAttempts || ctx.Err() != nil {
			return attempts, err
		}
		if httpx.Sleep(ctx, pause) != nil {
			return attempts, err
		}
	}
}
