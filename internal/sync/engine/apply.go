package engine

import (
	"context"
	"errors"
	gosync "sync"
	"time"

	"github.com/k12dev/devicesync-operator/internal/httpx"
	"github.com/k12dev/devicesync-operator/internal/sync/plan"
)

// apply writes the plan's changes with the target's concurrency and fills rep.Results in plan order.
func apply(ctx context.Context, r Run, rep *Report) {
	changes := rep.Plan.Changes
	results := make([]Result, len(changes))
	done := make([]bool, len(changes))
	workers := max(1, min(r.Target.Concurrency(), len(changes)))
	maxAttempts := r.MaxAttempts
	if maxAttempts <= 0 {
		maxAttempts = 2
	}
	pause := r.Retry
	if pause <= 0 {
		pause = 2 * time.Second
	}

	var mu gosync.Mutex
	prog := Progress{Total: len(changes)}
	report := func(i int, res Result) {
		mu.Lock()
		defer mu.Unlock()
		results[i], done[i] = res, true
		prog.Done++
		if res.Err != nil {
			prog.Failed++
		}
		if r.Progress != nil {
			r.Progress(prog)
		}
	}
	if r.Progress != nil {
		r.Progress(prog)
	}

	next := make(chan int)
	var wg gosync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range next {
				report(i, applyOne(ctx, r.Target, changes[i], maxAttempts, pause))
			}
		})
	}
feed:
	for i := range changes {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()

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

// applyOne writes one change, retrying only what the target marks Transient.
func applyOne(ctx context.Context, t Target, c plan.Change, maxAttempts int, pause time.Duration) Result {
	res := Result{Change: c}
	for {
		res.Attempts++
		res.Err = t.Apply(ctx, c)
		var tr *Transient
		if res.Err == nil || !errors.As(res.Err, &tr) || res.Attempts >= maxAttempts || ctx.Err() != nil {
			return res
		}
		if httpx.Sleep(ctx, pause) != nil {
			return res
		}
	}
}
