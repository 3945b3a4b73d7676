package engine

import (
	"context"
	"errors"
	"fmt"
	gosync "sync"
	"time"

	"github.com/k12dev/devicesync-operator/internal/sync/plan"
)

// Source reads the source of truth.
type Source interface {
	// Name is how reports name the source ("Destiny").
	Name() string
	// Read returns the items of the policy's resource types and schools, with their borrowers resolved.
	// An error means the snapshot cannot be trusted and the run must not write.
	Read(ctx context.Context) (SourceSnapshot, error)
}

// SourceSnapshot is what a Source read.
type SourceSnapshot struct {
	Items []plan.Item
	// Warnings are problems that did not stop the read: a patron lookup that failed (its items are
	// skipped PatronLookupFailed), a roster row that could not be used.
	Warnings []string
}

// Target is an MDM (Jamf Pro, Jamf School): everything that differs between MDMs is behind it, so the
// controllers and the planner never ask which one they have.
type Target interface {
	// Name is how reports name the target ("Jamf Pro").
	Name() string
	// Capabilities says which fields the target can write.
	Capabilities() plan.Capabilities
	// Concurrency is how many changes may be applied at once.
	Concurrency() int
	// Check tests the connection and the privileges writing the managed fields needs. A failure is a
	// *CheckError when the target can tell refused credentials from an outage.
	Check(ctx context.Context, m plan.Manage) error
	// Places lists the names of the places a school maps to (Jamf Pro buildings, Jamf School locations),
	// for validating the policy's school map.
	Places(ctx context.Context) ([]string, error)
	// Inventory reads every device in bulk.
	Inventory(ctx context.Context) ([]plan.Device, error)
	// Apply writes one change. Everything it needs travels on the change (its Set and the device's Ref):
	// a target keeps no state from Inventory.
	Apply(ctx context.Context, c plan.Change) error
}

// CheckError is a failed Check the target classified.
type CheckError struct {
	// Refused is true when the target refused the credentials or a privilege (a person must act), false
	// for an outage (retrying may help).
	Refused bool
	// Retest is true when even a refusal should be tested again soon (it was learned from a write
	// refusal that lapses).
	Retest bool
	Err    error
}

func (e *CheckError) Error() string { return e.Err.Error() }
func (e *CheckError) Unwrap() error { return e.Err }

// Run is one sync to execute.
type Run struct {
	Policy plan.Policy
	Safety plan.Safety
	Source Source
	Target Target
	// DryRun plans and writes nothing.
	DryRun bool
	// ApprovedDigest lets a plan over budget proceed when it equals the plan's digest.
	ApprovedDigest string
	// LastGoodItems is the number of source items the last successful run saw (0: unknown), for
	// safety.maxSourceShrink.
	LastGoodItems int
	// LastGoodRosterRows is the number of roster students the last successful run saw (0: unknown or no
	// roster), for safety.maxRosterShrink.
	LastGoodRosterRows int
	// Progress, when set, is called after the plan (Done 0) and after every applied change, from one
	// goroutine at a time.
	Progress func(Progress)
	// Retry is the pause before a change is retried (default 2s); MaxAttempts bounds the attempts per
	// change (default 2).
	Retry       time.Duration
	MaxAttempts int
}

// Progress is how far the apply step is.
type Progress struct {
	Total, Done, Failed int
}

// Outcome is how a run ended.
type Outcome string

const (
	// Succeeded: every planned change was applied (or there was none).
	Succeeded Outcome = "Succeeded"
	// PartiallyFailed: some changes failed, the others were applied.
	PartiallyFailed Outcome = "PartiallyFailed"
	// Failed: the run could not complete: a snapshot read failed (nothing was written), every change
	// failed, or the run was cancelled.
	Failed Outcome = "Failed"
	// Blocked: the plan is over budget and was not applied.
	Blocked Outcome = "Blocked"
	// Planned: a dry run; the plan was computed and nothing written.
	Planned Outcome = "Planned"
)

// Report is what a run did.
type Report struct {
	Outcome Outcome
	// Plan is the full plan (also for Blocked and Planned runs).
	Plan plan.Plan
	// Blocked says why the plan was not applied (Outcome Blocked), or, for a dry run (Outcome Planned),
	// why an Enforce run of the same plan would be blocked.
	Blocked *plan.Blocked
	// Approved is true when a plan over budget was applied because ApprovedDigest matched.
	Approved bool
	// Results has one entry per change the apply step attempted, in plan order.
	Results []Result
	// Applied and FailedChanges count Results; NotAttempted counts changes left when the run was cancelled.
	Applied, FailedChanges, NotAttempted int
	// Warnings from the snapshot.
	Warnings []string
	// Err is why a run Failed.
	Err error
	// Durations of the steps.
	SnapshotTime, PlanTime, ApplyTime time.Duration
}

// Result is one attempted change.
type Result struct {
	Change   plan.Change
	Err      error
	Attempts int
}

// Transient marks an error a target says is safe to retry: the write is idempotent and the failure
// temporary. Targets wrap errors in it; anything else is not retried by the engine.
type Transient struct{ Err error }

func (t *Transient) Error() string { return t.Err.Error() }
func (t *Transient) Unwrap() error { return t.Err }

// Execute runs the sync. The report is never nil; the error is the report's Err.
func Execute(ctx context.Context, r Run) (*Report, error) {
	rep := &Report{}
	fail := func(err error) (*Report, error) {
		rep.Outcome, rep.Err = Failed, err
		return rep, err
	}

	start := time.Now()
	snap, devices, err := snapshot(ctx, r.Source, r.Target)
	rep.SnapshotTime = time.Since(start)
	if err != nil {
		return fail(err)
	}
	rep.Warnings = snap.Warnings

	start = time.Now()
	r.Policy.Target = r.Target.Capabilities()
	if rs, ok := r.Source.(RosterSource); ok && r.Policy.Roster == nil {
		if rows, configured := rs.RosterRows(); configured {
			r.Policy.Roster = &plan.Roster{Rows: rows}
		}
	}
	rep.Plan = plan.Build(r.Policy, snap.Items, devices)
	rep.PlanTime = time.Since(start)

	b := plan.CheckBudget(rep.Plan, r.Safety, plan.Baseline{Items: r.LastGoodItems, RosterRows: r.LastGoodRosterRows})
	if r.DryRun {
		// A dry run writes nothing, so the budget cannot block it: it ends with the plan, and says whether
		// an Enforce run of the same plan would be blocked.
		rep.Outcome, rep.Blocked = Planned, b
		return rep, nil
	}
	if b != nil {
		if r.ApprovedDigest == "" || r.ApprovedDigest != rep.Plan.Digest {
			if r.ApprovedDigest != "" {
				b.Message += fmt.Sprintf("; the approval names plan %s but the plan is now %s: review and approve again", plan.ShortDigest(r.ApprovedDigest), plan.ShortDigest(rep.Plan.Digest))
			}
			rep.Outcome, rep.Blocked = Blocked, b
			return rep, nil
		}
		rep.Approved = true
	}

	start = time.Now()
	apply(ctx, r, rep)
	rep.ApplyTime = time.Since(start)
	switch {
	case ctx.Err() != nil:
		return fail(fmt.Errorf("run cancelled after %d of %d changes: %w", rep.Applied+rep.FailedChanges, len(rep.Plan.Changes), ctx.Err()))
	case rep.FailedChanges == 0:
		rep.Outcome = Succeeded
	case rep.Applied == 0:
		return fail(fmt.Errorf("all %d changes failed; first: %w", rep.FailedChanges, firstError(rep.Results)))
	default:
		rep.Outcome = PartiallyFailed
	}
	return rep, nil
}

func firstError(rs []Result) error {
	for _, r := range rs {
		if r.Err != nil {
			return r.Err
		}
	}
	return errors.New("unknown error")
}

// snapshot reads both sides at once: they are different systems, so neither waits for the other.
func snapshot(ctx context.Context, src Source, tgt Target) (SourceSnapshot, []plan.Device, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg             gosync.WaitGroup
		snap           SourceSnapshot
		devices        []plan.Device
		srcErr, tgtErr error
	)
	wg.Go(func() {
		if snap, srcErr = src.Read(ctx); srcErr != nil {
			cancel()
		}
	})
	wg.Go(func() {
		if devices, tgtErr = tgt.Inventory(ctx); tgtErr != nil {
			cancel()
		}
	})
	wg.Wait()
	// Report the error that caused the other side's cancellation, not the cancellation.
	switch {
	case srcErr != nil && (tgtErr == nil || errors.Is(tgtErr, context.Canceled) && ctx.Err() != nil && !errors.Is(srcErr, context.Canceled)):
		return snap, nil, fmt.Errorf("reading %s: %w", src.Name(), srcErr)
	case tgtErr != nil:
		return snap, nil, fmt.Errorf("reading the %s inventory: %w", tgt.Name(), tgtErr)
	case srcErr != nil:
		return snap, nil, fmt.Errorf("reading %s: %w", src.Name(), srcErr)
	}
	return snap, devices, nil
}
