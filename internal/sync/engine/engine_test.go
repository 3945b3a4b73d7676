package engine_test

import (
	"context"
	"errors"
	"strings"
	gosync "sync"
	"testing"

	destinysim "github.com/k12dev/devicesync-operator/internal/sim/destiny"
	jamfprosim "github.com/k12dev/devicesync-operator/internal/sim/jamfpro"
	"github.com/k12dev/devicesync-operator/internal/sync/engine"
	"github.com/k12dev/devicesync-operator/internal/sync/plan"
)

// writes counts the calls a run made to the Jamf Pro simulator that change devices.
func writes(sim *jamfprosim.Server) int { return sim.WriteCalls() }

func TestSafety(t *testing.T) {
	count := func(n int) *plan.Budget { b := plan.Count(n); return &b }
	cases := []struct {
		name string
		// setup changes the run or the simulators before the first execution.
		setup      func(*engine.Run, *destinysim.Server)
		wantReason string
	}{
		{
			name:       "a Destiny answer with no items against a populated Jamf blocks the run",
			setup:      func(_ *engine.Run, d *destinysim.Server) { d.SetOutage(destinysim.OutageEmpty) },
			wantReason: plan.BlockedSourceEmpty,
		},
		{
			name: "far fewer items than the last good run saw blocks the run",
			setup: func(r *engine.Run, _ *destinysim.Server) {
				r.LastGoodItems = 5000 // the district has about 1,500
			},
			wantReason: plan.BlockedSourceShrunk,
		},
		{
			name:       "more changes than maxChanges blocks the run",
			setup:      func(r *engine.Run, _ *destinysim.Server) { r.Safety.MaxChanges = count(5) },
			wantReason: plan.BlockedChangeBudgetExceeded,
		},
		{
			name:       "more clears than maxClears blocks the run",
			setup:      func(r *engine.Run, _ *destinysim.Server) { r.Safety.MaxClears = count(1) },
			wantReason: plan.BlockedClearBudgetExceeded,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			d := newDistrict(t, 1500)
			dsim, src := destinySide(t, d)
			jsim, tgt := jamfProSide(t, d, 5)
			none := plan.Percent(100)
			run := engine.Run{Policy: defaultPolicy(t, d), Source: src, Target: tgt, Retry: 1,
				Safety: plan.Safety{MaxChanges: &none, MaxClears: &none, MaxSourceShrink: &none}}
			shrink := plan.Percent(20)
			run.Safety.MaxSourceShrink = &shrink
			tc.setup(&run, dsim)

			rep, err := engine.Execute(ctx, run)
			if err != nil || rep.Outcome != engine.Blocked || rep.Blocked == nil || rep.Blocked.Reason != tc.wantReason {
				t.Fatalf("outcome %s (err %v), blocked %+v; want Blocked %s", rep.Outcome, err, rep.Blocked, tc.wantReason)
			}
			if w := writes(jsim); w != 0 {
				t.Fatalf("a blocked run wrote %d times", w)
			}
			if rep.Plan.Digest == "" || rep.Plan.Counts.Devices == 0 {
				t.Fatalf("a blocked run must carry its plan: %+v", rep.Plan.Counts)
			}

			run.ApprovedDigest = strings.Repeat("0", 64)
			stale, _ := engine.Execute(ctx, run)
			if stale.Outcome != engine.Blocked || !strings.Contains(stale.Blocked.Message, "approve again") {
				t.Fatalf("an approval of another plan must not unblock: %s %+v", stale.Outcome, stale.Blocked)
			}
			if w := writes(jsim); w != 0 {
				t.Fatalf("a run approved for another plan wrote %d times", w)
			}

			run.ApprovedDigest = rep.Plan.Digest
			approved, err := engine.Execute(ctx, run)
			if err != nil || approved.Outcome != engine.Succeeded || !approved.Approved || approved.Applied != len(rep.Plan.Changes) {
				t.Fatalf("approved run: outcome %s (err %v), approved %v, %d of %d applied", approved.Outcome, err, approved.Approved,
					approved.Applied, len(rep.Plan.Changes))
			}
		})
	}
}

func TestDryRunRecordsTheFullPlanAndWritesNothingEvenOverBudget(t *testing.T) {
	d := newDistrict(t, 1000)
	_, src := destinySide(t, d)
	jsim, tgt := jamfProSide(t, d, 5)
	five := plan.Count(5)
	rep, err := engine.Execute(context.Background(), engine.Run{Policy: defaultPolicy(t, d), Source: src, Target: tgt, DryRun: true,
		Safety: plan.Safety{MaxChanges: &five}})
	if err != nil || rep.Outcome != engine.Planned {
		t.Fatalf("outcome %s, err %v", rep.Outcome, err)
	}
	if rep.Blocked == nil || rep.Blocked.Reason != plan.BlockedChangeBudgetExceeded {
		t.Errorf("a dry run over budget must say that an Enforce run would be blocked: %+v", rep.Blocked)
	}
	if len(rep.Plan.Changes) == 0 || len(rep.Results) != 0 {
		t.Fatalf("dry run: %d changes planned, %d results; want a plan and no results", len(rep.Plan.Changes), len(rep.Results))
	}
	if w := writes(jsim); w != 0 {
		t.Fatalf("a dry run wrote %d times", w)
	}
}

func TestADestinyOutageFailsTheRunBeforeAnyWrite(t *testing.T) {
	d := newDistrict(t, 500)
	dsim, src := destinySide(t, d)
	dsim.SetOutage(destinysim.Outage503)
	jsim, tgt := jamfProSide(t, d, 5)
	rep, err := engine.Execute(context.Background(), engine.Run{Policy: defaultPolicy(t, d), Source: src, Target: tgt})
	if err == nil || rep.Outcome != engine.Failed || !strings.Contains(err.Error(), "reading Destiny") {
		t.Fatalf("outcome %s, err %v; want Failed naming Destiny", rep.Outcome, err)
	}
	if w := writes(jsim); w != 0 {
		t.Fatalf("a run whose source failed wrote %d times", w)
	}
}

// flaky wraps a target and fails some changes: fail returns the error for the attempt-th attempt (1-based)
// of a change, nil to let the real target apply it.
type flaky struct {
	engine.Target
	fail func(c plan.Change, attempt int) error

	mu       gosync.Mutex
	attempts map[string]int
}

func (f *flaky) Apply(ctx context.Context, c plan.Change) error {
	f.mu.Lock()
	f.attempts[c.Serial]++
	n := f.attempts[c.Serial]
	f.mu.Unlock()
	if err := f.fail(c, n); err != nil {
		return err
	}
	return f.Target.Apply(ctx, c)
}

func TestApply(t *testing.T) {
	errDown := errors.New("jamf pro: 500 internal error")
	cases := []struct {
		name string
		// fail picks the failures, given the plan's first changed serial.
		fail         func(first string) func(plan.Change, int) error
		wantOutcome  engine.Outcome
		wantFailed   int
		wantAttempts int // attempts of the first change
	}{
		{
			name: "one device that keeps failing does not stop the others",
			fail: func(first string) func(plan.Change, int) error {
				return func(c plan.Change, _ int) error {
					if c.Serial == first {
						return errDown
					}
					return nil
				}
			},
			wantOutcome: engine.PartiallyFailed, wantFailed: 1, wantAttempts: 1,
		},
		{
			name: "a transient failure is retried and then succeeds",
			fail: func(first string) func(plan.Change, int) error {
				return func(c plan.Change, n int) error {
					if c.Serial == first && n == 1 {
						return &engine.Transient{Err: errDown}
					}
					return nil
				}
			},
			wantOutcome: engine.Succeeded, wantAttempts: 2,
		},
		{
			name: "a transient failure is retried at most MaxAttempts times",
			fail: func(first string) func(plan.Change, int) error {
				return func(c plan.Change, n int) error {
					if c.Serial == first {
						return &engine.Transient{Err: errDown}
					}
					return nil
				}
			},
			wantOutcome: engine.PartiallyFailed, wantFailed: 1, wantAttempts: 3,
		},
		{
			name: "when every change fails the run fails",
			fail: func(string) func(plan.Change, int) error {
				return func(plan.Change, int) error { return errDown }
			},
			wantOutcome: engine.Failed, wantFailed: -1, wantAttempts: 1,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := newDistrict(t, 600)
			_, src := destinySide(t, d)
			_, tgt := jamfProSide(t, d, 5)
			dry, err := engine.Execute(context.Background(), engine.Run{Policy: defaultPolicy(t, d), Source: src, Target: tgt, DryRun: true})
			if err != nil || len(dry.Plan.Changes) < 10 {
				t.Fatalf("dry run: %v, %d changes", err, len(dry.Plan.Changes))
			}
			first := dry.Plan.Changes[0].Serial
			f := &flaky{Target: tgt, fail: tc.fail(first), attempts: map[string]int{}}
			var progress []engine.Progress
			rep, _ := engine.Execute(context.Background(), engine.Run{Policy: defaultPolicy(t, d), Source: src, Target: f,
				MaxAttempts: 3, Retry: 1, Progress: func(p engine.Progress) { progress = append(progress, p) }})
			if rep.Outcome != tc.wantOutcome {
				t.Fatalf("outcome %s, want %s (err %v)", rep.Outcome, tc.wantOutcome, rep.Err)
			}
			wantFailed := tc.wantFailed
			if wantFailed < 0 {
				wantFailed = len(rep.Plan.Changes)
			}
			if rep.FailedChanges != wantFailed || rep.Applied != len(rep.Plan.Changes)-wantFailed {
				t.Fatalf("%d applied, %d failed of %d; want %d failed", rep.Applied, rep.FailedChanges, len(rep.Plan.Changes), wantFailed)
			}
			if got := f.attempts[first]; got != tc.wantAttempts {
				t.Errorf("first change attempted %d times, want %d", got, tc.wantAttempts)
			}
			if r := rep.Results[0]; r.Change.Serial != first || (wantFailed > 0) != (r.Err != nil) {
				t.Errorf("the report must say which device failed and why: %+v", r)
			}
			last := progress[len(progress)-1]
			if len(progress) != len(rep.Plan.Changes)+1 || last.Done != last.Total || last.Failed != wantFailed {
				t.Errorf("progress: %d reports, last %+v; want one per change plus the start, ending done", len(progress), last)
			}
		})
	}
}

func TestCancellingARunStopsTheApplyAndSaysHowFarItGot(t *testing.T) {
	d := newDistrict(t, 600)
	_, src := destinySide(t, d)
	_, tgt := jamfProSide(t, d, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rep, err := engine.Execute(ctx, engine.Run{Policy: defaultPolicy(t, d), Source: src, Target: tgt,
		Progress: func(p engine.Progress) {
			if p.Done == 3 {
				cancel()
			}
		}})
	if err == nil || rep.Outcome != engine.Failed || !errors.Is(err, context.Canceled) {
		t.Fatalf("outcome %s, err %v; want Failed, cancelled", rep.Outcome, err)
	}
	if rep.NotAttempted == 0 || rep.Applied+rep.FailedChanges+rep.NotAttempted != len(rep.Plan.Changes) {
		t.Fatalf("%d applied, %d failed, %d not attempted of %d", rep.Applied, rep.FailedChanges, rep.NotAttempted, len(rep.Plan.Changes))
	}
}
