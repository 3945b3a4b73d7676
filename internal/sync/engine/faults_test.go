package engine_test

import (
	"context"
	"strings"
	"testing"

	destinysim "github.com/k12dev/devicesync-operator/internal/sim/destiny"
	jamfprosim "github.com/k12dev/devicesync-operator/internal/sim/jamfpro"
	"github.com/k12dev/devicesync-operator/internal/sim/simhttp"
	"github.com/k12dev/devicesync-operator/internal/sync/engine"
)

// TestFaults runs a whole sync with the faults real servers produce. A fault the clients can ride out
// (retries, token renewal) must not change the outcome; one they cannot must fail the run before any write.
func TestFaults(t *testing.T) {
	cases := []struct {
		name string
		// inject arms the faults before the run; during, when set, is called from the progress callback.
		inject      func(d *destinysim.Server, j *jamfprosim.Server)
		during      func(d *destinysim.Server, j *jamfprosim.Server, p engine.Progress)
		wantOutcome engine.Outcome
		wantErr     string
		// wantFaults is how many faulty answers the simulators must have served (0: not counted; the
		// token cases show in the renewals instead).
		wantFaults int
		// wantRenewal: a second token was requested from Destiny or Jamf.
		wantRenewal bool
	}{
		{
			name: "Jamf answering 503 and gateway HTML pages to some writes: retried, every device as expected",
			inject: func(_ *destinysim.Server, j *jamfprosim.Server) {
				j.HTTP().FailNext("PATCH /api/v2/mobile-devices/{id}", 2, simhttp.FaultStatus503)
				j.HTTP().FailNext("PATCH /api/v2/mobile-devices/{id}", 1, simhttp.FaultHTML502)
			},
			wantOutcome: engine.Succeeded, wantFaults: 3,
		},
		{
			name: "the Jamf token revoked in the middle of the apply: renewed, every device as expected",
			during: func(_ *destinysim.Server, j *jamfprosim.Server, p engine.Progress) {
				if p.Done == 10 {
					j.ExpireTokens()
				}
			},
			wantOutcome: engine.Succeeded, wantRenewal: true,
		},
		{
			name: "the Destiny token expiring during the patron lookups: renewed, every device as expected",
			inject: func(d *destinysim.Server, _ *jamfprosim.Server) {
				d.ExpireTokensAfter(40)
			},
			wantOutcome: engine.Succeeded, wantRenewal: true,
		},
		{
			name: "Destiny answering 502 pages twice: retried, every device as expected",
			inject: func(d *destinysim.Server, _ *jamfprosim.Server) {
				d.Sim().FailNext(d.RouteTypeItems(), 2, simhttp.FaultHTML502)
			},
			wantOutcome: engine.Succeeded, wantFaults: 2,
		},
		{
			name: "Destiny sending truncated item pages every time: the run fails before any write",
			inject: func(d *destinysim.Server, _ *jamfprosim.Server) {
				d.Sim().FailNext(d.RouteTypeItems(), 100, simhttp.FaultTruncated)
			},
			wantOutcome: engine.Failed,
			wantErr:     "reading Destiny",
			wantFaults:  1, // how many depends on how far the other sources got before the run stopped
		},
		{
			name: "Destiny down (503 after every retry): the run fails before any write",
			inject: func(d *destinysim.Server, _ *jamfprosim.Server) {
				d.SetOutage(destinysim.Outage503)
			},
			wantOutcome: engine.Failed,
			wantErr:     "reading Destiny",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := newDistrict(t, 500)
			dsim, src := destinySide(t, d)
			jsim, tgt := jamfProSide(t, d, 5)
			if tc.inject != nil {
				tc.inject(dsim, jsim)
			}
			run := engine.Run{Policy: defaultPolicy(t, d), Source: src, Target: tgt, Retry: 1}
			if tc.during != nil {
				run.Progress = func(p engine.Progress) { tc.during(dsim, jsim, p) }
			}
			rep, err := engine.Execute(context.Background(), run)
			if served := dsim.Sim().FaultsServed() + jsim.HTTP().FaultsServed(); served < tc.wantFaults {
				t.Errorf("%d faulty answers served, want at least %d: the test did not exercise its fault", served, tc.wantFaults)
			}
			if renewed := dsim.Sim().CallCount(dsim.RouteToken()) > 1 || jsim.HTTP().CallCount("POST /api/v1/oauth/token") > 1; tc.wantRenewal && !renewed {
				t.Errorf("no token was renewed: the test did not exercise its fault")
			}
			if rep.Outcome != tc.wantOutcome {
				t.Fatalf("outcome %s (%v), want %s; first failure %v", rep.Outcome, err, tc.wantOutcome, firstErr(rep))
			}
			if tc.wantOutcome == engine.Failed {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("error %v, want one naming %q", err, tc.wantErr)
				}
				if w := writes(jsim); w != 0 {
					t.Fatalf("a run whose source failed wrote %d times", w)
				}
				return
			}
			if wrong := jsim.Differences(d); len(wrong) > 0 {
				t.Fatalf("%d devices not as expected, first: %s", len(wrong), wrong[0])
			}
		})
	}
}
