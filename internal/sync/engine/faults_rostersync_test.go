package engine_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	jamfschoolsim "github.com/k12dev/devicesync-operator/internal/sim/jamfschool"
	"github.com/k12dev/devicesync-operator/internal/sim/simhttp"
	"github.com/k12dev/devicesync-operator/internal/sync/engine"
)

// Roster sync against a Jamf School that misbehaves as servers and proxies do: a fault the client can
// ride out leaves the run as a clean one; a creation whose answer is lost fails that change only, and
// the next run creates nothing twice.
func TestRosterRunFaults(t *testing.T) {
	tests := []struct {
		name       string
		inject     func(sim *jamfschoolsim.Server)
		wantFailed int // roster changes of the first run
	}{
		{"a 503, a cut body, a gateway page and a reset on the roster reads are ridden out", func(sim *jamfschoolsim.Server) {
			sim.FailNext(jamfschoolsim.PatternUsers, 1, simhttp.FaultStatus503)
			sim.FailNext(jamfschoolsim.PatternGroups, 1, simhttp.FaultTruncated)
			sim.FailNext(jamfschoolsim.PatternClasses, 1, simhttp.FaultHTML502)
			sim.FailNext(jamfschoolsim.PatternClass, 1, simhttp.FaultResetConnection)
		}, 0},
		{"a group made whose answer was cut: that change fails, its users find the group in a listing", func(sim *jamfschoolsim.Server) {
			sim.FailNext(jamfschoolsim.PatternCreateGroup, 1, simhttp.FaultTruncated)
		}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newRosterScenario(t)
			tt.inject(s.sim)
			rep := s.run(t, nil)
			if s.sim.FaultsServed() == 0 {
				t.Fatal("no fault was served")
			}
			if rep.Plan.Roster == nil || rep.RosterFailed != tt.wantFailed || rep.RosterApplied != len(rep.Plan.Roster.Changes)-tt.wantFailed {
				t.Fatalf("outcome %s (%v): %d roster changes failed, %d applied of %d; want %d failed",
					rep.Outcome, rep.Err, rep.RosterFailed, rep.RosterApplied, rosterLen(rep), tt.wantFailed)
			}
			second := s.run(t, nil)
			if second.Outcome != engine.Succeeded || len(second.Plan.Roster.Changes) != 0 {
				var left []string
				for _, c := range second.Plan.Roster.Changes {
					left = append(left, fmt.Sprintf("%s %s %q", c.Action, c.Kind, c.Name))
				}
				t.Errorf("second run: %s (%v), roster changes %s", second.Outcome, second.Err, strings.Join(left, "; "))
			}
			groups, err := s.tgt.Client.Groups(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]bool{}
			for _, g := range groups {
				k := fmt.Sprintf("%s@%d", g.Name, g.LocationID)
				if seen[k] {
					t.Errorf("group %s made twice", k)
				}
				seen[k] = true
			}
		})
	}
}

func rosterLen(rep *engine.Report) int {
	if rep.Plan.Roster == nil {
		return 0
	}
	return len(rep.Plan.Roster.Changes)
}
