package engine_test

import (
	"context"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/k12dev/devicesync-operator/internal/roster"
	"github.com/k12dev/devicesync-operator/internal/sync/engine"
	"github.com/k12dev/devicesync-operator/internal/sync/plan"
)

// TestATruncatedRoster runs a good sync with the district's whole roster, then one whose roster file was
// cut off at 70% (a partial SIS export, the last row broken mid-line). The students it lost must not
// have their devices reassigned to their e-mail address or their room and position emptied: the run is
// Blocked by safety.maxRosterShrink, or, without a baseline to compare with, their devices are skipped
// NotInRoster. Either way Jamf ends as the good run left it.
func TestATruncatedRoster(t *testing.T) {
	cases := []struct {
		name string
		// baseline: the second run knows the roster size of the first (status.lastGoodSource.rosterRows).
		baseline    bool
		wantOutcome engine.Outcome
		wantBlocked string
	}{
		{
			name:        "after a good run, a roster 30% shorter is Blocked RosterShrunk and nothing is written",
			baseline:    true,
			wantOutcome: engine.Blocked, wantBlocked: plan.BlockedRosterShrunk,
		},
		{
			name:        "with no baseline to compare with, the lost students' devices are skipped NotInRoster and nothing is written",
			wantOutcome: engine.Succeeded,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			d := newDistrict(t, 500)
			_, src := destinySide(t, d)
			jsim, tgt := jamfProSide(t, d, 5)
			shrink := plan.Percent(20)
			run := engine.Run{Policy: defaultPolicy(t, d), Safety: plan.Safety{MaxRosterShrink: &shrink}, Source: src, Target: tgt, Retry: 1}

			first, err := engine.Execute(ctx, run)
			if err != nil || first.Outcome != engine.Succeeded {
				t.Fatalf("the good run: %s, %v", first.Outcome, err)
			}
			if wrong := jsim.Differences(d); len(wrong) > 0 {
				t.Fatalf("the good run left %d devices not as expected, first: %s", len(wrong), wrong[0])
			}

			csv := d.SISPatronCSV()
			cut, err := roster.Read(fstest.MapFS{"patrons.csv": {Data: csv[:len(csv)*7/10]}}, roster.Options{})
			if err != nil {
				t.Fatal(err)
			}
			whole := len(src.Roster.Students)
			if got := first.Plan.Counts.RosterRows; got != whole || !first.Plan.Counts.Roster {
				t.Errorf("the good run's plan counts %d roster rows, want the roster's %d students (the baseline the controller records)", got, whole)
			}
			if n := len(cut.Students); n*100 > whole*75 || n*100 < whole*60 {
				t.Fatalf("the cut roster has %d of %d students, want about 70%%", n, whole)
			}
			truncated := *src
			truncated.Roster = cut
			run.Source = &truncated
			if tc.baseline {
				run.LastGoodRosterRows = whole
			}
			before := writes(jsim)

			rep, err := engine.Execute(ctx, run)
			if err != nil || rep.Outcome != tc.wantOutcome {
				t.Fatalf("outcome %s (%v), want %s; blocked %+v", rep.Outcome, err, tc.wantOutcome, rep.Blocked)
			}
			if tc.wantBlocked != "" && (rep.Blocked == nil || rep.Blocked.Reason != tc.wantBlocked || !strings.Contains(rep.Blocked.Message, "roster")) {
				t.Errorf("blocked %+v, want reason %s with a message naming the roster", rep.Blocked, tc.wantBlocked)
			}
			if tc.wantBlocked == "" && rep.Plan.Counts.ByReason[plan.ReasonNotInRoster] == 0 {
				t.Errorf("no device skipped NotInRoster: %v", rep.Plan.Counts.ByReason)
			}
			for _, c := range rep.Plan.Changes {
				if c.Action == plan.ActionReassigned || c.Action == plan.ActionCleared || c.Set.Username != nil {
					t.Errorf("the truncated roster plans %s of %s: %+v", c.Action, c.Serial, c.Fields)
				}
			}
			if w := writes(jsim) - before; w != 0 {
				t.Errorf("the run with the truncated roster wrote %d times", w)
			}
			if wrong := jsim.Differences(d); len(wrong) > 0 {
				t.Fatalf("%d devices no longer as the good run left them, first: %s", len(wrong), wrong[0])
			}
		})
	}
}
