package engine_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/k12dev/devicesync-operator/internal/jamf/pro"
	jamfprosim "github.com/k12dev/devicesync-operator/internal/sim/jamfpro"
	"github.com/k12dev/devicesync-operator/internal/sync/engine"
	"github.com/k12dev/devicesync-operator/internal/sync/plan"
)

// A privilege Jamf refuses fails the changes that need it, names the privilege, stops asking Jamf for
// the rest of the run,
// leaves the other changes applied, and makes the connection test (the policy's Ready) name it.
func TestAMissingWritePrivilegeIsNamedAndNotAskedAgainInTheRun(t *testing.T) {
	cases := []struct {
		name    string
		missing string
		route   string
		// needed counts the planned changes that need the privilege.
		needed func(p plan.Plan) int
	}{
		{"Lost Mode commands without Send Mobile Device Lost Mode Command", jamfprosim.PrivLostModeCommand, routeJamfCommands,
			func(p plan.Plan) int {
				return p.Counts.ByAction[plan.ActionLostModeEnabled] + p.Counts.ByAction[plan.ActionLostModeDisabled]
			}},
		{"renames without Send Mobile Device Set Device Name Command", jamfprosim.PrivSetDeviceNameCommand, routeJamfPatch,
			func(p plan.Plan) int {
				n := 0
				for _, c := range p.Changes {
					if c.Set.Name != nil {
						n++
					}
				}
				return n
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			d := newDistrict(t, 400)
			_, src := destinySide(t, d)
			sim, tgt := jamfProSide(t, d, 5)
			var privs []string
			for _, p := range jamfprosim.AllPrivileges {
				if p != tc.missing {
					privs = append(privs, p)
				}
			}
			sim.SetPrivileges(privs...)
			manage := plan.Manage{Name: true, User: true, Location: true, LostMode: true}
			if err := tgt.Check(ctx, manage); err != nil {
				t.Fatalf("before the first write: %v", err)
			}
			rep, err := engine.Execute(ctx, engine.Run{Policy: defaultPolicy(t, d), Source: src, Target: tgt})
			if err != nil {
				t.Fatal(err)
			}
			needed := tc.needed(rep.Plan)
			if needed < 2 || rep.Outcome != engine.PartiallyFailed || rep.FailedChanges != needed || rep.Applied == 0 {
				t.Fatalf("outcome %s, %d failed, %d applied; want the %d changes needing %q failed and the others applied",
					rep.Outcome, rep.FailedChanges, rep.Applied, needed, tc.missing)
			}
			for _, r := range rep.Results {
				var mp *pro.MissingPrivilegesError
				if r.Err != nil && (!errors.As(r.Err, &mp) || !strings.Contains(r.Err.Error(), tc.missing)) {
					t.Fatalf("%s failed with %v, want the missing privilege named", r.Change.Serial, r.Err)
				}
			}
			refused := 0
			if tc.route == routeJamfCommands {
				refused = sim.HTTP().CallCount(routeJamfCommands) - lostModeCommands(sim)
			} else {
				refused = sim.HTTP().CallCount(routeJamfPatch) - (rep.Applied - countLostModeOnly(rep))
			}
			// Once refused, no more asking; the writes already in flight (up to MaxConcurrency) get refused too.
			if refused < 1 || refused > tgt.Concurrency() || needed <= tgt.Concurrency() {
				t.Errorf("Jamf was asked %d times for the %d writes it refuses, want 1 to %d", refused, needed, tgt.Concurrency())
			}
			err = tgt.Check(ctx, manage)
			var mp *pro.MissingPrivilegesError
			if !errors.As(err, &mp) || !strings.Contains(err.Error(), tc.missing) {
				t.Fatalf("connection test after the run: %v, want it to name %q", err, tc.missing)
			}
		})
	}
}

// countLostModeOnly counts the applied changes that made no PATCH (Lost Mode only).
func countLostModeOnly(rep *engine.Report) int {
	n := 0
	for _, r := range rep.Results {
		s := r.Change.Set
		if r.Err == nil && s.LostMode != nil && s.Name == nil && s.Username == nil && s.RealName == nil && s.Email == nil &&
			s.Position == nil && s.Room == nil && s.Building == nil && s.Department == nil {
			n++
		}
	}
	return n
}
