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
	// Progress, when set, is called after the plan (Done 0) and after every applied change (roster and
	// device changes alike), from one goroutine at a time.
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
	// RosterResults has one entry per roster change the apply step attempted (spec.roster), in plan
	// order; they are applied before the device changes. RosterApplied, RosterFailed and
	// RosterNotAttempted count them as Applied, FailedChanges and NotAttempted count the device changes.
	RosterResults                                   []RosterResult
	RosterApplied, RosterFailed, RosterNotAttempted int
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

// RosterResult is one attempted roster change.
type RosterResult struct {
	Change   plan.RosterChange
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

	rosterTgt, rosterData, warning, err := rosterSetup(r)
	if err != nil {
		return fail(err)
	}
	var rosterRead func(context.Context) (plan.MDMRoster, error)
	if rosterTgt != nil {
		locations := rosterLocations(r.Policy)
		rosterRead = func(ctx context.Context) (plan.MDMRoster, error) { return rosterTgt.RosterInventory(ctx, locations) }
	}

	start := time.Now()
	snap, devices, mdm, err := snapshot(ctx, r.Source, r.Target, rosterRead)
	rep.SnapshotTime = time.Since(start)
	if err != nil {
		return fail(err)
	}
	rep.Warnings = snap.Warnings
	if warning != "" {
		rep.Warnings = append(rep.Warnings, warning)
	}

	start = time.Now()
	r.Policy.Target = r.Target.Capabilities()
	if rs, ok := r.Source.(RosterSource); ok && r.Policy.Roster == nil {
		if rows, configured := rs.RosterRows(); configured {
			r.Policy.Roster = &plan.Roster{Rows: rows}
		}
	}
	rep.Plan = plan.Build(r.Policy, snap.Items, devices)
	if rosterTgt != nil {
		rep.Plan.AttachRoster(plan.BuildRoster(r.Policy, rosterData, mdm))
	}
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
	apply(ctx, r, rosterTgt, rep)
	rep.ApplyTime = time.Since(start)
	applied, failed := rep.Applied+rep.RosterApplied, rep.FailedChanges+rep.RosterFailed
	switch {
	case ctx.Err() != nil:
		return fail(fmt.Errorf("run cancelled after %d of %d changes: %w", applied+failed, len(rep.Plan.Changes)+rosterChanges(rep.Plan), ctx.Err()))
	case failed == 0:
		rep.Outcome = Succeeded
	case applied == 0:
		return fail(fmt.Errorf("all %d changes failed; first: %w", failed, firstError(rep)))
	default:
		rep.Outcome = PartiallyFailed
	}
	return rep, nil
}

// rosterSetup decides whether the run syncs the roster (spec.roster): it does when the policy says so
// and the target is a RosterTarget. A target that cannot gets the device sync and a warning; a source
// with no roster to sync from fails the run before anything is read, since an empty roster would plan
// every user and class away.
func rosterSetup(r Run) (RosterTarget, plan.RosterData, string, error) {
	if r.Policy.RosterSync == nil {
		return nil, plan.RosterData{}, "", nil
	}
	rt, ok := r.Target.(RosterTarget)
	if !ok {
		return nil, plan.RosterData{}, fmt.Sprintf("spec.roster is set, but %s cannot sync users, groups and classes: only devices were synced", r.Target.Name()), nil
	}
	var data plan.RosterData
	if ds, ok := r.Source.(RosterDataSource); ok {
		data, ok = ds.RosterData()
		if ok {
			return rt, data, "", nil
		}
	}
	return nil, plan.RosterData{}, "", fmt.Errorf("spec.roster is set, but %s has no roster to sync users and classes from (set the policy's roster): nothing was written", r.Source.Name())
}

func rosterChanges(pl plan.Plan) int {
	if pl.Roster == nil {
		return 0
	}
	return len(pl.Roster.Changes)
}

// firstError is the first failed change's error, roster changes first (they are applied first).
func firstError(rep *Report) error {
	for _, r := range rep.RosterResults {
		if r.Err != nil {
			return r.Err
		}
	}
	for _, r := range rep.Results {
		if r.Err != nil {
			return r.Err
		}
	}
	return errors.New("unknown error")
}

// snapshot reads both sides at once, and the target's users, groups and classes when rosterRead is set:
// they are different systems (or calls), so none waits for another. Any failure fails the snapshot.
func snapshot(ctx context.Context, src Source, tgt Target, rosterRead func(context.Context) (plan.MDMRoster, error)) (SourceSnapshot, []plan.Device, plan.MDMRoster, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg                        gosync.WaitGroup
		snap                      SourceSnapshot
		devices                   []plan.Device
		mdm                       plan.MDMRoster
		srcErr, tgtErr, rosterErr error
	)
	if rosterRead != nil {
		wg.Go(func() {
			if mdm, rosterErr = rosterRead(ctx); rosterErr != nil {
				cancel()
			}
		})
	}
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
	// Report the error that caused the other sides' cancellation, not the cancellation.
	cancelled := func(err error) bool { return errors.Is(err, context.Canceled) }
	genuine := srcErr != nil && !cancelled(srcErr) || tgtErr != nil && !cancelled(tgtErr) || rosterErr != nil && !cancelled(rosterErr)
	for _, e := range []struct {
		err  error
		what string
	}{
		{tgtErr, "reading the " + tgt.Name() + " inventory"},
		{srcErr, "reading " + src.Name()},
		{rosterErr, "reading the " + tgt.Name() + " users, groups and classes"},
	} {
		if e.err != nil && (!genuine || !cancelled(e.err)) {
			return snap, nil, plan.MDMRoster{}, fmt.Errorf("%s: %w", e.what, e.err)
		}
	}
	return snap, devices, mdm, nil
}
