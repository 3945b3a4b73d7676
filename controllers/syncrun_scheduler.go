package controllers

import (
	"cmp"
	"context"
	"slices"
	gosync "sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// The run scheduler: which waiting run executes next. Executions do not hold the SyncRun controller's
// workers: Reconcile decides that a run has work to do and admits it here with its expected cost; the
// scheduler, a manager Runnable started and stopped with the manager, executes at most MaxConcurrentRuns
// runs at once and, when a slot frees, takes the waiting run with the smallest expected cost, so a small
// district due with twenty large ones waits for one large run at most, not for all of them. A run that
// has waited RunAging goes before any smaller one (the aged in the order they came), so a large run is
// never starved by a stream of small ones either. Equal costs go in the order they came.
//
// One more slot, the express slot, takes only a run expected to cost at most SmallRunItems, and only when
// every other slot is taken: a small district due while large ones fill every slot starts at once instead
// of waiting for the shortest of them to end (minutes for a large district's first run). It executes one
// small run at a time, so the manager executes at most MaxConcurrentRuns+1 runs, the last of them small.

// DefaultRunAging is how long a run waits for an execution slot before it goes ahead of smaller runs.
const DefaultRunAging = 10 * time.Minute

// DefaultSmallRunItems is the largest expected cost (Destiny items) of a run the express slot takes: a
// district of a few schools, whose run lasts seconds warm and under a minute cold.
const DefaultSmallRunItems = 2000

// runScheduler orders the admitted runs and executes them, at most slots at once.
type runScheduler struct {
	// slots is the number of runs executing at once (at least 1).
	slots int
	// aging is how long a run waits before it goes ahead of smaller runs (zero: DefaultRunAging).
	aging time.Duration
	// small is the largest cost the express slot takes (zero or less: no express slot).
	small int64
	// execute executes one run: it reads it again and does what its phase asks. It returns when the
	// execution ended, or was cancelled by ctx (the manager stopping).
	execute func(ctx context.Context, key types.NamespacedName)
	// again is called for a run admitted again while it executed: the controller looks at it once more
	// after the execution (as it does for an object that changed while it was reconciled).
	again func(key types.NamespacedName)
	// now is the wall clock of the waits (nil: time.Now); aging is about waits, not the schedules' clock.
	now func() time.Time

	mu      gosync.Mutex
	seq     uint64
	waiting map[types.NamespacedName]*admitted
	// running are the runs executing; true when the run was admitted again meanwhile.
	running map[types.NamespacedName]bool
	// express is the run in the express slot ("" when it is free).
	express types.NamespacedName
	wake    chan struct{}
}

// admitted is a run waiting for a slot.
type admitted struct {
	key   types.NamespacedName
	cost  int64
	since time.Time
	seq   uint64
}

func newRunScheduler(slots int, aging time.Duration, small int64, execute func(context.Context, types.NamespacedName), again func(types.NamespacedName)) *runScheduler {
	if aging <= 0 {
		aging = DefaultRunAging
	}
	return &runScheduler{slots: max(slots, 1), aging: aging, small: small, execute: execute, again: again,
		waiting: map[types.NamespacedName]*admitted{}, running: map[types.NamespacedName]bool{}, wake: make(chan struct{}, 1)}
}

func (s *runScheduler) clock() time.Time {
	if s.now != nil {
		return s.now()
	}
	return time.Now()
}

// admit queues run key with its expected cost (the Destiny items it is expected to read). A run already
// waiting keeps its place in time and takes the new cost; a run executing is looked at again after.
func (s *runScheduler) admit(key types.NamespacedName, cost int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.running[key]; ok {
		s.running[key] = true
		return
	}
	if w, ok := s.waiting[key]; ok {
		w.cost = cost
		return
	}
	s.seq++
	s.waiting[key] = &admitted{key: key, cost: cost, since: s.clock(), seq: s.seq}
	s.signal()
}

// againIfExecuting marks run key, when it executes, to be looked at again after the execution, and reports whether
// it executes (then there is nothing to admit: its expected cost need not be computed).
func (s *runScheduler) againIfExecuting(key types.NamespacedName) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.running[key]; ok {
		s.running[key] = true
		return true
	}
	return false
}

// drop forgets a waiting run (it was deleted); an executing run is cancelled through the registry.
func (s *runScheduler) drop(key types.NamespacedName) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.waiting, key)
}

func (s *runScheduler) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// next removes and returns the run to execute next: the longest-waiting of the runs that waited aging or
// more, else the one of smallest cost, ties in the order they came. Called with mu held.
func (s *runScheduler) next() *admitted { return s.nextOf(func(*admitted) bool { return true }) }

// nextSmall is next among the runs the express slot takes; nil when none waits.
func (s *runScheduler) nextSmall() *admitted {
	return s.nextOf(func(w *admitted) bool { return w.cost <= s.small })
}

func (s *runScheduler) nextOf(eligible func(*admitted) bool) *admitted {
	now := s.clock()
	var best *admitted
	better := func(a, b *admitted) bool {
		agedA, agedB := now.Sub(a.since) >= s.aging, now.Sub(b.since) >= s.aging
		switch {
		case agedA != agedB:
			return agedA
		case !agedA && a.cost != b.cost:
			return a.cost < b.cost
		}
		return a.seq < b.seq
	}
	for _, w := range s.waiting {
		if eligible(w) && (best == nil || better(w, best)) {
			best = w
		}
	}
	if best != nil {
		delete(s.waiting, best.key)
	}
	return best
}

// Start executes admitted runs until ctx is done, then waits for the executions to return (they leave
// their runs Running for the next manager). It implements manager.Runnable.
func (s *runScheduler) Start(ctx context.Context) error {
	var wg gosync.WaitGroup
	defer wg.Wait()
	for {
		s.mu.Lock()
		for len(s.waiting) > 0 {
			var w *admitted
			switch {
			case len(s.running)-s.expressBusy() < s.slots:
				w = s.next()
			case s.small > 0 && s.expressBusy() == 0:
				if w = s.nextSmall(); w != nil {
					s.express = w.key
				}
			}
			if w == nil {
				break
			}
			s.running[w.key] = false
			wg.Go(func() {
				s.execute(ctx, w.key)
				s.done(w.key)
			})
		}
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil
		case <-s.wake:
		}
	}
}

// NeedLeaderElection: runs execute where the controllers reconcile, on the leader.
func (s *runScheduler) NeedLeaderElection() bool { return true }

// expressBusy is 1 when a run holds the express slot, else 0. Called with mu held.
func (s *runScheduler) expressBusy() int {
	if s.express == (types.NamespacedName{}) {
		return 0
	}
	return 1
}

// done frees key's slot.
func (s *runScheduler) done(key types.NamespacedName) {
	s.mu.Lock()
	again := s.running[key]
	delete(s.running, key)
	if s.express == key {
		s.express = types.NamespacedName{}
	}
	s.signal()
	s.mu.Unlock()
	if again && s.again != nil {
		s.again(key)
	}
}

// queued lists the waiting runs in the order they would execute now (for tests and logs).
func (s *runScheduler) queued() []types.NamespacedName {
	s.mu.Lock()
	defer s.mu.Unlock()
	saved := make([]*admitted, 0, len(s.waiting))
	for _, w := range s.waiting {
		saved = append(saved, w)
	}
	var out []types.NamespacedName
	for len(s.waiting) > 0 {
		out = append(out, s.next().key)
	}
	for _, w := range saved {
		s.waiting[w.key] = w
	}
	return out
}

// executing lists the runs executing now.
func (s *runScheduler) executing() []types.NamespacedName {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []types.NamespacedName
	for k := range s.running {
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b types.NamespacedName) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	return out
}
