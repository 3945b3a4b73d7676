package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	gosync "sync"

	"github.com/k12dev/devicesync-operator/internal/jamf/school"
	"github.com/k12dev/devicesync-operator/internal/sync/plan"
)

// JamfSchool is the Jamf School target: the device list and the locations in bulk, then the owner
// (PUT /devices/{udid}/owner) and the location (migrate) per device. It cannot rename a device or
// enable Lost Mode: its Capabilities say so, and the planner reports those differences as
// UnsupportedByTarget instead of planning them.
type JamfSchool struct {
	Client *school.Client
	// MaxConcurrency is how many changes are applied at once (default 5).
	MaxConcurrency int

	mu        gosync.Mutex
	locByName map[string]int // lower-case location name -> id
}

// Name implements Target.
func (t *JamfSchool) Name() string { return school.TargetName }

// Capabilities implements Target.
func (t *JamfSchool) Capabilities() plan.Capabilities { return plan.JamfSchool() }

// Concurrency implements Target.
func (t *JamfSchool) Concurrency() int {
	if t.MaxConcurrency <= 0 {
		return 5
	}
	return t.MaxConcurrency
}

// Inventory implements Target. Devices in the trash are left out: Jamf School no longer manages them.
func (t *JamfSchool) Inventory(ctx context.Context) ([]plan.Device, error) {
	locs, err := t.Client.Locations(ctx)
	if err != nil {
		return nil, err
	}
	devs, err := t.Client.Devices(ctx)
	if err != nil {
		return nil, err
	}
	byID := make(map[int]string, len(locs))
	byName := make(map[string]int, len(locs))
	for _, l := range locs {
		byID[l.ID] = l.Name
		byName[strings.ToLower(l.Name)] = l.ID
	}
	t.mu.Lock()
	t.locByName = byName
	t.mu.Unlock()
	out := make([]plan.Device, 0, len(devs))
	for _, d := range devs {
		if d.InTrash {
			continue
		}
		pd := plan.Device{Key: d.UDID, RawSerial: d.Serial, Name: d.Name, Managed: d.Managed, Supervised: d.Supervised,
			Location: byID[d.LocationID]}
		if o := d.Owner; o != nil {
			pd.Username, pd.Email, pd.RealName = o.Username, o.Email, o.Name
		}
		out = append(out, pd)
	}
	return out, nil
}

// Apply implements Target: the owner, then the location. Both writes are idempotent, so a transient
// failure is retried.
func (t *JamfSchool) Apply(ctx context.Context, c plan.Change) error {
	s := c.Set
	if s.Name != nil {
		return school.Unsupported(school.FieldName)
	}
	if s.LostMode != nil {
		return school.Unsupported(school.FieldLostMode)
	}
	// The location first: it does not depend on the owner, so a missing user does not hold it back.
	if s.Location != nil {
		t.mu.Lock()
		id, ok := t.locByName[strings.ToLower(*s.Location)]
		t.mu.Unlock()
		if !ok {
			return fmt.Errorf("Jamf School has no location named %q (check spec.schools[].location)", *s.Location)
		}
		if err := t.Client.MoveToLocation(ctx, c.DeviceKey, id); err != nil {
			return transientIf(err)
		}
	}
	if s.Username != nil {
		if err := t.setOwner(ctx, c.DeviceKey, *s.Username); err != nil {
			if errors.Is(err, school.ErrUserNotFound) {
				return fmt.Errorf("Jamf School has no user %q to own the device (create it, sync it from Apple School Manager, or set target.jamfSchool.createMissingUsers): %w", *s.Username, err)
			}
			return transientIf(err)
		}
	}
	return nil
}

func (t *JamfSchool) setOwner(ctx context.Context, udid, username string) error {
	if username == "" {
		return t.Client.RemoveOwner(ctx, udid)
	}
	u, _, err := t.Client.ResolveUser(ctx, username, school.NewUser{Username: username})
	if err != nil {
		return err
	}
	return t.Client.SetOwner(ctx, udid, u.ID)
}

// transientIf marks the errors Jamf School says are temporary.
func transientIf(err error) error {
	var tmp interface{ Temporary() bool }
	if errors.As(err, &tmp) && tmp.Temporary() {
		return &Transient{Err: err}
	}
	return err
}

// TestConnection checks the credentials and the reads a run needs.
func (t *JamfSchool) TestConnection(ctx context.Context) error { return t.Client.TestConnection(ctx) }
