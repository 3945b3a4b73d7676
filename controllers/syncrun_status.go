package controllers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/log"

	dsv1 "github.com/k12dev/devicesync-operator/api/v1alpha1"
	"github.com/k12dev/devicesync-operator/internal/metrics"
	"github.com/k12dev/devicesync-operator/internal/sync/engine"
	"github.com/k12dev/devicesync-operator/internal/sync/plan"
)

// Bounds of a run's status, so that it stays far below etcd's limit on one object (1.5 MiB) whatever the
// systems return: 200 changes of the longest values, 50 errors of the longest messages and the
// conditions serialise to well under 512 KiB. The complete list and the full values are in the logs.
const (
	// maxStatusChanges and maxStatusErrors are the API's MaxItems.
	maxStatusChanges = 200
	maxStatusErrors  = 50
	// maxStatusValue is the most runes of a serial, device id, old or new value, change message or device
	// error in the status (a longer one is cut, ending in an ellipsis).
	maxStatusValue = 256
	// maxStatusRunError is the most runes of a run-level error, in status.errors and the conditions.
	maxStatusRunError = 1024
	// maxStatusChangeBytes bounds the JSON of status.changes: values full of characters JSON escapes take
	// six bytes a rune, so 200 changes of 256-rune values could pass 1.5 MiB. The changes past the
	// bound are counted in changesOmitted, like those past maxStatusChanges.
	maxStatusChangeBytes = 256 << 10
)

// Change results in status.changes.
const (
	ResultApplied      = "Applied"
	ResultFailed       = "Failed"
	ResultPlanned      = "Planned"
	ResultNotAttempted = "NotAttempted"
)

// finish computes the run's final status once (from the engine's report, or the failure that stopped
// the run before the engine ran), writes it once through the run's status writer, and then records the
// events and metrics of the result written.
func (r *SyncRunReconciler) finish(ctx context.Context, s *runScope) error {
	final := s.run.DeepCopy()
	now := metav1.NewTime(r.now())
	st := &final.Status
	st.ObservedGeneration = final.Generation
	if st.StartTime == nil {
		st.StartTime = &now
	}
	if st.Mode == "" {
		st.Mode = s.mode
	}
	meta.RemoveStatusCondition(&st.Conditions, dsv1.ConditionReconciling)
	eventType, reason, note := finalStatus(s, final, now)
	if s.report != nil {
		if err := r.writeFixList(ctx, s, st); err != nil {
			log.FromContext(ctx).Error(err, "writing the run's fix list", "run", final.Name)
			r.event(s.run, s.policy, "Warning", EventFixListNotWritten, "Execute", "the per-school fix list could not be written: "+err.Error())
		}
	}
	err := r.writeStatus(ctx, s.run, func(run *dsv1.SyncRun) error {
		run.Status = *final.Status.DeepCopy()
		return nil
	})
	if err == nil || errors.Is(err, errReplaced) {
		r.running.forget(s.run.UID)
	}
	if err != nil {
		if errors.Is(err, errReplaced) {
			log.FromContext(ctx).Info("run deleted or replaced before its result was written: result dropped", "run", s.run.Name)
			return nil
		}
		return err
	}
	// The result is written: say so once, in events and metrics. (Older Blocked runs this one makes out of
	// date are superseded by the policy controller, which sees this result through its watch on runs.)
	r.event(s.run, s.policy, eventType, reason, "Execute", note)
	if s.policy != nil {
		r.event(s.policy, s.run, eventType, reason, "Execute", s.run.Name+": "+note)
	}
	if r.Notifier != nil {
		if err := r.Notifier.Notify(ctx, s.run, s.policy); err != nil {
			log.FromContext(ctx).Error(err, "the run's notification was not delivered", "run", s.run.Name)
			r.event(s.run, s.policy, "Warning", "NotificationFailed", "Notify", err.Error())
		}
	}
	r.observe(s)
	return nil
}

// writeStatus writes a run's status through the one writer (writeRunStatus), re-reading uncached.
func (r *SyncRunReconciler) writeStatus(ctx context.Context, run *dsv1.SyncRun, set func(*dsv1.SyncRun) error) error {
	return writeRunStatus(ctx, r.Client, r.reader(), run, set)
}

// finalStatus sets the phase, the summary, the bounded lists and the conditions of a finished run, from
// the engine's report or the failure that stopped the run before the engine ran, and returns the event
// to record. run is the copy of s.run that receives the final status.
func finalStatus(s *runScope, run *dsv1.SyncRun, now metav1.Time) (eventType, reason, note string) {
	st := &run.Status
	eventType = "Normal"
	switch rep := s.report; {
	case rep == nil:
		st.Phase, st.CompletionTime = dsv1.PhaseFailed, &now
		st.Errors = []dsv1.RunError{{Reason: s.failReason, Message: s.failMessage}}
		setCondition(run, dsv1.ConditionFailed, metav1.ConditionTrue, s.failReason, s.failMessage)
		eventType, reason, note = "Warning", EventRunFailed, s.failMessage
	default:
		fillFromReport(s, st)
		switch rep.Outcome {
		case engine.Blocked:
			st.Phase, st.CompletionTime = dsv1.PhaseBlocked, nil
			st.Blocked = &dsv1.BlockedDetail{Reason: rep.Blocked.Reason, Message: rep.Blocked.Message, PlanDigest: rep.Plan.Digest}
			msg := fmt.Sprintf("%s; nothing was written. Review status.changes, then approve this plan with: kubectl annotate syncrun -n %s %s %s=%s --overwrite",
				rep.Blocked.Message, run.Namespace, run.Name, dsv1.ApproveAnnotation, rep.Plan.Digest)
			setCondition(run, dsv1.ConditionBlocked, metav1.ConditionTrue, rep.Blocked.Reason, msg)
			eventType, reason, note = "Warning", EventRunBlocked, msg
		case engine.Planned:
			st.Phase, st.CompletionTime, st.Blocked = dsv1.PhaseSucceeded, &now, nil
			planned, _, _ := changeTotals(rep)
			msg := fmt.Sprintf("dry run: %d changes planned, nothing written; %s", planned, countsText(st.Summary)+rosterText(st.Roster))
			if rep.Blocked != nil {
				msg += "; an Enforce run of this plan would be blocked: " + rep.Blocked.Message
			}
			setCondition(run, dsv1.ConditionComplete, metav1.ConditionTrue, ReasonDryRun, msg)
			reason, note = EventRunSucceeded, msg
		case engine.Succeeded:
			st.Phase, st.CompletionTime, st.Blocked = dsv1.PhaseSucceeded, &now, nil
			_, applied, _ := changeTotals(rep)
			msg := fmt.Sprintf("%d changes applied; %s", applied, countsText(st.Summary)+rosterText(st.Roster))
			setCondition(run, dsv1.ConditionComplete, metav1.ConditionTrue, ReasonSucceeded, msg)
			reason, note = EventRunSucceeded, msg
		case engine.PartiallyFailed:
			st.Phase, st.CompletionTime, st.Blocked = dsv1.PhasePartiallyFailed, &now, nil
			planned, applied, failed := changeTotals(rep)
			msg := fmt.Sprintf("%d of %d changes failed (see status.errors); %d applied; %s", failed,
				planned, applied, countsText(st.Summary)+rosterText(st.Roster))
			setCondition(run, dsv1.ConditionFailed, metav1.ConditionTrue, ReasonPartiallyFailed, msg)
			eventType, reason, note = "Warning", EventRunPartiallyFailed, msg
		default:
			st.Phase, st.CompletionTime = dsv1.PhaseFailed, &now
			msg := "run failed"
			if rep.Err != nil {
				msg = statusText(rep.Err.Error(), maxStatusRunError)
			}
			why := ReasonRunFailed
			if s.failReason != "" {
				why = s.failReason // DeadlineExceeded
			}
			setCondition(run, dsv1.ConditionFailed, metav1.ConditionTrue, why, msg)
			eventType, reason, note = "Warning", EventRunFailed, msg
		}
	}
	if st.Phase == dsv1.PhaseSucceeded {
		meta.RemoveStatusCondition(&st.Conditions, dsv1.ConditionFailed)
		meta.RemoveStatusCondition(&st.Conditions, dsv1.ConditionBlocked)
	}
	return eventType, reason, note
}

// fillFromReport writes the summary, the bounded change list and the errors.
func fillFromReport(s *runScope, st *dsv1.SyncRunStatus) {
	rep := s.report
	c := rep.Plan.Counts
	st.Summary = dsv1.RunSummary{
		DestinyItems: int32(c.Items), RosterRows: int32(c.RosterRows), MDMDevices: int32(c.Devices), Matched: int32(c.Matched),
		InSync: int32(c.InSync), Changed: int32(c.Changed), Failed: int32(rep.FailedChanges), Skipped: int32(len(rep.Plan.Skips)),
		ByAction: int32Map(c.ByAction), ByReason: int32Map(c.ByReason),
	}
	if n := len(rep.Plan.Holders); n > 0 { // a report, not a skip: devices still held by inactive students
		if st.Summary.ByReason == nil {
			st.Summary.ByReason = map[string]int32{}
		}
		st.Summary.ByReason[plan.ReasonHeldByInactiveStudent] = int32(n)
	}
	if rep.Outcome != engine.Blocked && rep.Outcome != engine.Planned {
		planned, applied, failed := changeTotals(rep)
		st.Progress = progressOf(engine.Progress{Total: planned, Done: applied + failed, Failed: failed})
	}

	changes := boundedChanges(len(rep.Plan.Changes), func(i int) bool { return s.attempted[rep.Plan.Changes[i].DeviceKey] != nil },
		func(i int) dsv1.Change {
			ch := rep.Plan.Changes[i]
			out := dsv1.Change{Serial: statusText(ch.Serial, maxStatusValue), Device: statusText(ch.DeviceKey, maxStatusValue),
				Action: ch.Action, Result: s.changeResult(ch.DeviceKey), Fields: statusFields(ch.Fields)}
			if err := s.attempted[ch.DeviceKey]; err != nil {
				out.Message = statusText(err.Error(), maxStatusValue)
			} else if len(ch.Unsupported) > 0 {
				out.Message = "not written, the target cannot: " + strings.Join(ch.Unsupported, ", ")
			}
			return out
		})
	st.Changes = changes
	st.ChangesOmitted = int32(len(rep.Plan.Changes) - len(changes))
	st.Roster = rosterStatus(s)

	var errs []dsv1.RunError
	if rep.Err != nil {
		errs = append(errs, dsv1.RunError{Reason: ReasonRunFailed, Message: statusText(rep.Err.Error(), maxStatusRunError)})
	}
	for _, ch := range rep.Plan.Changes {
		if s.attempted[ch.DeviceKey] == nil {
			continue
		}
		errs = append(errs, dsv1.RunError{Serial: statusText(ch.Serial, maxStatusValue), Reason: "ApplyFailed",
			Message: statusText(s.attempted[ch.DeviceKey].Error(), maxStatusValue)})
	}
	errs = append(errs, rosterErrors(rep)...)
	for _, w := range rep.Warnings {
		errs = append(errs, dsv1.RunError{Reason: "SourceWarning", Message: statusText(w, maxStatusValue)})
	}
	if len(errs) > maxStatusErrors {
		more := len(errs) - maxStatusErrors + 1
		errs = append(errs[:maxStatusErrors-1], dsv1.RunError{Reason: "Omitted", Message: fmt.Sprintf("%d more errors are in the manager's log", more)})
	}
	st.Errors = errs
}

// boundedChanges builds a status change list of n changes: failed ones first (so the bounded list always
// shows them), then the others in plan order, at most maxStatusChanges entries and maxStatusChangeBytes
// of JSON.
func boundedChanges[T any](n int, failed func(i int) bool, entry func(i int) T) []T {
	order := make([]int, 0, n)
	for i := range n {
		if failed(i) {
			order = append(order, i)
		}
	}
	for i := range n {
		if !failed(i) {
			order = append(order, i)
		}
	}
	out := make([]T, 0, min(n, maxStatusChanges))
	size := 0
	for _, i := range order {
		if len(out) == maxStatusChanges {
			break
		}
		e := entry(i)
		b, err := json.Marshal(e)
		if err != nil || size+len(b) > maxStatusChangeBytes {
			break
		}
		size += len(b)
		out = append(out, e)
	}
	return out
}

// statusFields are a change's fields as the status shows them, each value cut to maxStatusValue.
func statusFields(fs []plan.FieldChange) []dsv1.FieldChange {
	var out []dsv1.FieldChange
	for _, f := range fs {
		out = append(out, dsv1.FieldChange{Field: f.Field, Old: statusText(f.Old, maxStatusValue), New: statusText(f.New, maxStatusValue)})
	}
	return out
}

// changeResult is a change's result for the status and the log.
func (s *runScope) changeResult(key string) string {
	err, attempted := s.attempted[key]
	switch {
	case s.report.Outcome == engine.Planned || s.report.Outcome == engine.Blocked:
		return ResultPlanned
	case !attempted:
		return ResultNotAttempted
	case err != nil:
		return ResultFailed
	}
	return ResultApplied
}

// observe records the finished run's metrics. Changes count only what was applied.
func (r *SyncRunReconciler) observe(s *runScope) {
	if s.policy == nil {
		return
	}
	run := s.run
	res := metrics.RunResult{Namespace: run.Namespace, Policy: s.policy.Name, Phase: string(run.Status.Phase)}
	if run.Status.StartTime != nil && run.Status.CompletionTime != nil {
		res.Duration = run.Status.CompletionTime.Sub(run.Status.StartTime.Time)
		if run.Status.Phase == dsv1.PhaseSucceeded {
			res.CompletedAt = run.Status.CompletionTime.Time
		}
	}
	if rep := s.report; rep != nil {
		res.ByReason = rep.Plan.Counts.ByReason
		res.Failed = rep.FailedChanges
		res.ByAction = map[string]int{}
		for _, x := range rep.Results {
			if x.Err == nil {
				res.ByAction[x.Change.Action]++
			}
		}
	}
	metrics.ObserveRun(res)
}

// rosterText is the roster part of a run's message ("" without a roster sync).
func rosterText(r *dsv1.RosterRunStatus) string {
	if r == nil {
		return ""
	}
	return fmt.Sprintf("; roster: %d people, %d classes, %d in sync, %d changed, %d removed, %d skipped", r.People, r.Classes, r.InSync, r.Changed, r.Removed, r.Skipped)
}

func countsText(s dsv1.RunSummary) string {
	text := fmt.Sprintf("%d Destiny items, %d MDM devices, %d matched, %d in sync, %d skipped", s.DestinyItems, s.MDMDevices, s.Matched, s.InSync, s.Skipped)
	if len(s.ByReason) > 0 {
		keys := make([]string, 0, len(s.ByReason))
		for k := range s.ByReason {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = fmt.Sprintf("%s %d", k, s.ByReason[k])
		}
		text += " (" + strings.Join(parts, ", ") + ")"
	}
	return text
}

func int32Map(m map[string]int) map[string]int32 {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]int32, len(m))
	for k, v := range m {
		out[k] = int32(v)
	}
	return out
}

// setCondition sets a run condition with the run's generation.
func setCondition(run *dsv1.SyncRun, typ string, status metav1.ConditionStatus, reason, msg string) {
	meta.SetStatusCondition(&run.Status.Conditions, metav1.Condition{Type: typ, Status: status, Reason: reason,
		Message: truncate(msg, 32768), ObservedGeneration: run.Generation})
}

// statusText is s cut to at most n runes, ending in an ellipsis when cut: a value as long as a system
// sends must not make the status too large for etcd (the log keeps it whole).
func statusText(s string, n int) string {
	if len(s) <= n { // bytes >= runes
		return s
	}
	i, count := 0, 0
	for i = range s {
		if count == n-1 {
			if utf8.RuneCountInString(s[i:]) <= 1 {
				return s // exactly n runes
			}
			return s[:i] + "…"
		}
		count++
	}
	return s
}
