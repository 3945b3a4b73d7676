package plan

// BuildRoster plans the roster sync: the decision table of issue 15. STUB: the decision table lands with
// its tests.
func BuildRoster(p Policy, data RosterData, mdm MDMRoster) RosterPlan {
	return RosterPlan{Counts: RosterCounts{ByAction: map[string]int{}, ByReason: map[string]int{}}}
}

// AttachRoster sets the plan's roster part and makes the digest cover it.
func (pl *Plan) AttachRoster(rp RosterPlan) {
	pl.Roster = &rp
}
