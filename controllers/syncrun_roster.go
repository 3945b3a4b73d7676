package controllers

import (
	"context"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/log"

	dsv1 "github.com/k12dev/devicesync-operator/api/v1alpha1"
	"github.com/k12dev/devicesync-operator/internal/sync/engine"
	"github.com/k12dev/devicesync-operator/internal/sync/plan"
)

// This file turns the roster sync's part of a report (spec.roster: users, groups, classes) into
// status.roster and the log, as syncrun_status.go does for devices.

// rosterKey identifies a roster change among a run's results.
func rosterKey(c plan.RosterChange) string {
	return strings.Join([]string{c.Kind, c.Action, c.Location, c.Name, c.Key, c.Ref}, "\x00")
}

// rosterAttempted maps every roster change the apply step attempted to its error (nil: applied).
func rosterAttempted(rep *engine.Report) map[string]error {
	m := make(map[string]error, len(rep.RosterResults))
	for _, res := range rep.RosterResults {
		m[rosterKey(res.Change)] = res.Err
	}
	return m
}

// rosterStatus is status.roster: counts, and the bounded change list with failed changes first.
func rosterStatus(s *runScope) *dsv1.RosterRunStatus {
	rep := s.report
	rp := rep.Plan.Roster
	if rp == nil {
		return nil
	}
	attempted := rosterAttempted(rep)
	result := func(c plan.RosterChange) (string, error) { return rosterResult(rep, attempted, c) }
	c := rp.Counts
	st := &dsv1.RosterRunStatus{
		People: int32(c.People), Classes: int32(c.Classes), Users: int32(c.Users), MDMClasses: int32(c.MDMClasses),
		InSync: int32(c.InSync), Changed: int32(c.Changed), Removed: int32(c.Removals), Skipped: int32(len(rp.Skips)),
		ByAction: int32Map(c.ByAction), ByReason: int32Map(c.ByReason),
	}
	failed := func(i int) bool { r, _ := result(rp.Changes[i]); return r == ResultFailed }
	for i := range rp.Changes {
		if failed(i) {
			st.Failed++
		}
	}
	st.Changes = boundedChanges(len(rp.Changes), failed, func(i int) dsv1.RosterChange {
		ch := rp.Changes[i]
		r, err := result(ch)
		out := dsv1.RosterChange{Kind: ch.Kind, Name: statusText(ch.Name, maxStatusValue), Location: statusText(ch.Location, maxStatusValue),
			Action: ch.Action, Result: r, Fields: statusFields(ch.Fields)}
		if err != nil {
			out.Message = statusText(err.Error(), maxStatusValue)
		}
		return out
	})
	st.ChangesOmitted = int32(len(rp.Changes) - len(st.Changes))
	return st
}

// rosterResult is a roster change's result for the status and the log, as changeResult is a device's.
func rosterResult(rep *engine.Report, attempted map[string]error, c plan.RosterChange) (string, error) {
	err, ok := attempted[rosterKey(c)]
	switch {
	case rep.Outcome == engine.Planned || rep.Outcome == engine.Blocked:
		return ResultPlanned, nil
	case !ok:
		return ResultNotAttempted, nil
	case err != nil:
		return ResultFailed, err
	}
	return ResultApplied, nil
}

// rosterErrors are the failed roster changes, for status.errors.
func rosterErrors(rep *engine.Report) []dsv1.RunError {
	var errs []dsv1.RunError
	for _, res := range rep.RosterResults {
		if res.Err != nil {
			errs = append(errs, dsv1.RunError{Reason: "RosterApplyFailed",
				Message: statusText(res.Change.Kind+" "+res.Change.Name+": "+res.Err.Error(), maxStatusValue)})
		}
	}
	return errs
}

// logRoster writes every roster change and skip to the structured log. Names, usernames and emails
// are student data: they are logged at verbosity 1 only; the default log has the kind, action, result
// and the names of the fields written.
func logRoster(ctx context.Context, s *runScope) {
	rp := s.report.Plan.Roster
	if rp == nil {
		return
	}
	logger := log.FromContext(ctx).WithValues("policy", s.policy.Name, "run", s.run.Name, "mode", s.mode)
	values := logger.V(1).Enabled()
	attempted := rosterAttempted(s.report)
	for _, c := range rp.Changes {
		result, err := rosterResult(s.report, attempted, c)
		kv := []any{"kind", c.Kind, "action", c.Action, "location", c.Location, "result", result}
		kv = appendFieldValues(kv, c.Fields, values)
		if err != nil {
			kv = append(kv, "error", err.Error())
		}
		if values {
			kv = append(kv, "name", c.Name)
		}
		logger.Info("roster change", kv...)
	}
	for _, sk := range rp.Skips {
		logger.V(1).Info("roster skipped", "kind", sk.Kind, "name", sk.Name, "key", sk.Key, "reason", sk.Reason, "message", sk.Message)
	}
}

// changeTotals counts a report's changes, device and roster alike: planned, applied and failed.
func changeTotals(rep *engine.Report) (planned, applied, failed int) {
	planned = len(rep.Plan.Changes)
	if rep.Plan.Roster != nil {
		planned += len(rep.Plan.Roster.Changes)
	}
	return planned, rep.Applied + rep.RosterApplied, rep.FailedChanges + rep.RosterFailed
}
