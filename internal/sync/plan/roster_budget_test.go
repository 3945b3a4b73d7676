package plan

import (
	"reflect"
	"strings"
	"testing"
)

func TestCheckBudgetRoster(t *testing.T) {
	// devices: a device plan within every budget (4,000 matched, no changes).
	devices := Plan{Counts: Counts{Items: 4000, Devices: 4000, Matched: 4000}}
	withRoster := func(people, classes, managed int, actions map[string]int) Plan {
		pl := devices
		rp := &RosterPlan{Counts: RosterCounts{People: people, Classes: classes, Managed: managed, ByAction: actions, ByReason: map[string]int{}}}
		for a, n := range actions {
			for range n {
				c := RosterChange{Action: a, Kind: KindUser}
				if a == ActionClassCreated || a == ActionClassUpdated || a == ActionMembersChanged {
					c.Kind = KindClass
				}
				rp.Changes = append(rp.Changes, c)
				if a == ActionRemoved {
					rp.Counts.Removals++
				} else {
					rp.Counts.Changed++
				}
			}
		}
		pl.Roster = rp
		return pl
	}
	tests := []struct {
		name    string
		plan    Plan
		safety  Safety
		reasons []string
		message string
	}{
		{name: "a roster plan within its budgets is not blocked",
			plan:   withRoster(900, 100, 500, map[string]int{ActionUserUpdated: 100, ActionRemoved: 10}),
			safety: Safety{MaxChanges: budget(Percent(10)), MaxRemovals: budget(Percent(2))}},
		{name: "roster changes over maxChanges (a percentage of people and classes in scope) block ChangeBudgetExceeded, naming users and classes",
			plan:    withRoster(900, 100, 0, map[string]int{ActionUserCreated: 91, ActionClassCreated: 10, ActionGroupCreated: 1}),
			safety:  Safety{MaxChanges: budget(Percent(10))},
			reasons: []string{BlockedChangeBudgetExceeded},
			message: "the roster plan changes 101 users and classes (91 users created, 0 users updated, 10 classes created, 0 classes updated) " +
				"of 900 people and 100 classes in the roster (10%), over safety.maxChanges 10% (100 people and classes)"},
		{name: "groups created do not count towards maxChanges: 100% allows a first sync of everyone",
			plan:   withRoster(900, 100, 0, map[string]int{ActionUserCreated: 900, ActionClassCreated: 100, ActionGroupCreated: 6}),
			safety: Safety{MaxChanges: budget(Percent(100))}},
		{name: "removals do not count towards maxChanges",
			plan:   withRoster(900, 100, 500, map[string]int{ActionRemoved: 200}),
			safety: Safety{MaxChanges: budget(Count(0))}},
		{name: "removals over maxRemovals (a percentage of the managed users and classes) block RemovalBudgetExceeded",
			plan:    withRoster(900, 100, 500, map[string]int{ActionRemoved: 11}),
			safety:  Safety{MaxRemovals: budget(Percent(2))},
			reasons: []string{BlockedRemovalBudgetExceeded},
			message: "the roster plan removes 11 users and 0 classes, 11 of the 500 the policy manages (2%), over safety.maxRemovals 2% (10 users and classes)"},
		{name: "removals as a count",
			plan:    withRoster(900, 100, 500, map[string]int{ActionRemoved: 6}),
			safety:  Safety{MaxRemovals: budget(Count(5))},
			reasons: []string{BlockedRemovalBudgetExceeded}, message: "over safety.maxRemovals 5"},
		{name: "removals exactly at the budget are allowed",
			plan:   withRoster(900, 100, 500, map[string]int{ActionRemoved: 10}),
			safety: Safety{MaxRemovals: budget(Percent(2))}},
		{name: "with nothing managed a percentage allows no removal",
			plan:    withRoster(900, 100, 0, map[string]int{ActionRemoved: 1}),
			safety:  Safety{MaxRemovals: budget(Percent(50))},
			reasons: []string{BlockedRemovalBudgetExceeded}},
		{name: "device and roster violations are both reported, devices first",
			plan: func() Plan {
				pl := withRoster(10, 0, 10, map[string]int{ActionUserUpdated: 5, ActionRemoved: 5})
				pl.Counts.Changed = 4000
				return pl
			}(),
			safety:  Safety{MaxChanges: budget(Percent(10)), MaxRemovals: budget(Count(1))},
			reasons: []string{BlockedChangeBudgetExceeded, BlockedChangeBudgetExceeded, BlockedRemovalBudgetExceeded}},
		{name: "an unset maxRemovals is not checked",
			plan: withRoster(10, 0, 10, map[string]int{ActionRemoved: 10})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := CheckBudget(tt.plan, tt.safety, Baseline{Items: 4000})
			var reasons []string
			if got != nil {
				for _, v := range got.Violations {
					reasons = append(reasons, v.Reason)
				}
			}
			if !reflect.DeepEqual(reasons, tt.reasons) {
				t.Fatalf("reasons %v, want %v (%+v)", reasons, tt.reasons, got)
			}
			if tt.message != "" && !strings.Contains(got.Message, tt.message) {
				t.Errorf("message %q\nwant it to contain %q", got.Message, tt.message)
			}
		})
	}
}

func TestAttachRosterDigest(t *testing.T) {
	devices := Build(defaultPolicy(t), nil, nil)
	changed := Plan{Changes: []Change{{Serial: serialA, Action: ActionRenamed}}}
	changed.Digest = Digest(changed.Changes)
	user := RosterChange{Kind: KindUser, Action: ActionUserCreated, Name: "avery.smith", User: &UserSet{Username: "avery.smith"}}
	attach := func(pl Plan, changes ...RosterChange) Plan {
		pl.AttachRoster(RosterPlan{Changes: changes})
		return pl
	}
	tests := []struct {
		name string
		a, b Plan
		same bool
	}{
		{name: "a roster part with no changes keeps the device digest", a: changed, b: attach(changed), same: true},
		{name: "a roster change changes the digest", a: changed, b: attach(changed, user)},
		{name: "a roster change changes the digest of a plan without device changes", a: devices, b: attach(devices, user)},
		{name: "the same changes give the same digest", a: attach(changed, user), b: attach(changed, user), same: true},
		{name: "a different roster change gives a different digest", a: attach(changed, user),
			b: attach(changed, RosterChange{Kind: KindUser, Action: ActionUserCreated, Name: "blake.jones", User: &UserSet{Username: "blake.jones"}})},
		{name: "the new user's password rule is not part of the digest", a: attach(changed, user),
			b: func() Plan {
				u := user
				u.NewUser = &NewRosterUser{Password: tmpl(t, "roster.users.password", "secret-{{.Grade}}")}
				return attach(changed, u)
			}(), same: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.a.Digest == "" || tt.b.Digest == "" {
				t.Fatal("a digest is empty")
			}
			if (tt.a.Digest == tt.b.Digest) != tt.same {
				t.Errorf("digests %s and %s: same = %v, want %v", tt.a.Digest, tt.b.Digest, !tt.same, tt.same)
			}
		})
	}
}
