package engine

import (
	"context"
	"slices"

	"github.com/k12dev/devicesync-operator/internal/sync/plan"
)

// RosterTarget is a Target that can also keep users, user groups and classes in step with the roster
// (spec.roster): Jamf School. A target without it cannot sync the roster, and its Capabilities say so.
type RosterTarget interface {
	Target
	// RosterInventory reads the MDM's users, groups and classes in bulk. Class members are read (one
	// call per class) only for the classes in the given locations that are not synced from Apple School
	// Manager; other classes have MembersKnown false.
	RosterInventory(ctx context.Context, locations []string) (plan.MDMRoster, error)
	// ApplyRoster writes one roster change. A change may name a group or user created by a change of an
	// earlier phase by name instead of Ref: the target resolves it from what it created in this run.
	// A write the target knows is safe to repeat fails with a *Transient error.
	ApplyRoster(ctx context.Context, c plan.RosterChange) error
}

// RosterDataSource is a Source that can hand the roster's people and classes to roster sync.
type RosterDataSource interface {
	// RosterData is every person and class of the roster read for this run, and whether there is one.
	RosterData() (plan.RosterData, bool)
}

// RosterData implements RosterDataSource: the roster's People and Classes.
func (s *DestinySource) RosterData() (plan.RosterData, bool) {
	if s.Roster == nil {
		return plan.RosterData{}, false
	}
	return plan.RosterData{People: s.Roster.People, Classes: s.Roster.Classes}, true
}

// rosterLocations are the MDM locations of the policy's schools, sorted, without duplicates: the
// classes whose members the roster inventory reads.
func rosterLocations(p plan.Policy) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range p.Schools {
		if s.Location != "" && !seen[s.Location] {
			seen[s.Location] = true
			out = append(out, s.Location)
		}
	}
	slices.Sort(out)
	return out
}
