package engine

import (
	"context"

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
