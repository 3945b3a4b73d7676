package controllers

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	dsv1 "github.com/k12dev/devicesync-operator/api/v1alpha1"
	"github.com/k12dev/devicesync-operator/internal/sync/engine"
	"github.com/k12dev/devicesync-operator/internal/sync/plan"
)

// maximal is a value far longer than any system sends (5,120 runes), made of the characters that cost the most once
// the status is JSON: "<" and control characters escape to six bytes, U+2028 to six, emoji take four.
var maximal = strings.Repeat("<\x01\u2028é😀", 1<<10)

// TestRunStatusStaysFarBelowEtcdsLimit fills a run's status with 200 changes (and more) of maximal values
// and maximal errors, and checks the serialised SyncRun stays well under etcd's 1.5 MiB request limit.
func TestRunStatusStaysFarBelowEtcdsLimit(t *testing.T) {
	const nChanges = 250
	fields := []string{plan.FieldName, plan.FieldUsername, plan.FieldRealName, plan.FieldEmail, plan.FieldBuilding,
		plan.FieldDepartment, plan.FieldRoom, plan.FieldPosition, plan.FieldLocation}
	report := func(outcome engine.Outcome) (*engine.Report, map[string]error) {
		rep := &engine.Report{Outcome: outcome}
		attempted := map[string]error{}
		for i := range nChanges {
			key := fmt.Sprintf("%d-%s", i, maximal)
			ch := plan.Change{Serial: fmt.Sprintf("S%d%s", i, maximal), DeviceKey: key, ItemID: maximal, Action: plan.ActionReassigned,
				Unsupported: []string{plan.FieldLostMode}}
			for _, f := range fields {
				ch.Fields = append(ch.Fields, plan.FieldChange{Field: f, Old: maximal, New: maximal})
			}
			rep.Plan.Changes = append(rep.Plan.Changes, ch)
			if outcome == engine.PartiallyFailed || outcome == engine.Failed {
				var err error
				if i%2 == 0 {
					err = errors.New(maximal)
					rep.FailedChanges++
				} else {
					rep.Applied++
				}
				attempted[key] = err
				rep.Results = append(rep.Results, engine.Result{Change: ch, Err: err, Attempts: 2})
			}
		}
		for range 100 {
			rep.Warnings = append(rep.Warnings, "roster: "+maximal)
		}
		switch outcome {
		case engine.Blocked:
			rep.Blocked = &plan.Blocked{Reason: plan.BlockedRosterShrunk, Message: "the roster has 700 students, 300 fewer"}
		case engine.Failed:
			rep.Err = errors.New("reading Destiny: " + maximal)
		}
		rep.Plan.Counts.Changed = nChanges
		rep.Plan.Digest = strings.Repeat("d", 64)
		return rep, attempted
	}
	for _, outcome := range []engine.Outcome{engine.Blocked, engine.Planned, engine.PartiallyFailed, engine.Failed} {
		t.Run(string(outcome), func(t *testing.T) {
			rep, attempted := report(outcome)
			run := &dsv1.SyncRun{ObjectMeta: metav1.ObjectMeta{Name: "lincoln-ipads-20261123-1140z", Namespace: "lincoln", Generation: 1},
				Spec: dsv1.SyncRunSpec{PolicyRef: dsv1.LocalObjectReference{Name: "lincoln-ipads"}, Trigger: dsv1.TriggerManual}}
			s := &runScope{run: run, mode: dsv1.ModeEnforce, report: rep, attempted: attempted}
			finalStatus(s, run, metav1.Now())

			b, err := json.Marshal(run)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d changes listed, %d omitted, %d errors: %d KiB", len(run.Status.Changes), run.Status.ChangesOmitted, len(run.Status.Errors), len(b)>>10)
			if len(b) >= 512<<10 {
				t.Errorf("the serialised run is %d KiB, want well under etcd's 1.5 MiB (under 512 KiB)", len(b)>>10)
			}
			st := run.Status
			if len(st.Changes) == 0 || len(st.Changes)+int(st.ChangesOmitted) != nChanges {
				t.Errorf("%d changes listed and %d omitted, want some listed and the %d accounted for", len(st.Changes), st.ChangesOmitted, nChanges)
			}
			if len(st.Errors) > maxStatusErrors {
				t.Errorf("%d errors, want at most %d", len(st.Errors), maxStatusErrors)
			}
			long := func(what, v string, max int) {
				if n := utf8.RuneCountInString(v); n > max {
					t.Errorf("%s has %d runes, want at most %d", what, n, max)
				}
			}
			for _, c := range st.Changes {
				long("a change's serial", c.Serial, maxStatusValue)
				long("a change's device", c.Device, maxStatusValue)
				long("a change's message", c.Message, maxStatusValue)
				for _, f := range c.Fields {
					long("an old value", f.Old, maxStatusValue)
					long("a new value", f.New, maxStatusValue)
					if !strings.HasSuffix(f.Old, "…") || !strings.HasSuffix(f.New, "…") {
						t.Fatalf("a cut value must end in an ellipsis: %q", f.New)
					}
				}
			}
			for _, e := range st.Errors {
				long("an error", e.Message, maxStatusRunError)
			}
			for _, c := range st.Conditions {
				long("condition "+c.Type, c.Message, maxStatusRunError+1024)
			}
		})
	}
}

func TestStatusText(t *testing.T) {
	tests := []struct {
		name, in, want string
		n              int
	}{
		{"a short value is kept", "Room 101", "Room 101", 5 + 3},
		{"a value of exactly the limit is kept", "ééééé", "ééééé", 5},
		{"a longer value is cut to the limit, ending in an ellipsis", "abcdefgh", "abcd…", 5},
		{"a cut never splits a character", "😀😀😀😀😀😀", "😀😀😀😀…", 5},
		{"an empty value stays empty", "", "", 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := statusText(tt.in, tt.n); got != tt.want {
				t.Errorf("statusText(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
			}
		})
	}
}
