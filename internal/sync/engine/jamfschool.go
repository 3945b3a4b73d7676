package engine

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	gosync "sync"

	"github.com/k12dev/devicesync-operator/internal/jamf/school"
	"github.com/k12dev/devicesync-operator/internal/sync/naming"
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

	locMu     gosync.Mutex
	locByName map[string]int // lower-case location name -> id, read on first use
	createMu  gosync.Mutex   // one user creation at a time: two devices of one new student make one user

	rosterMu gosync.Mutex
	roster   *rosterRun // this run's roster state, started by RosterInventory (jamfschool_roster.go)
}

var (
	_ Target = (*JamfSchool)(nil)
	_ Target = (*JamfPro)(nil)
)

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

// Check implements Target: the credentials and the reads a run needs. Jamf School's API keys carry
// their rights per method; a refused key is a 401 (bad credentials) or a 405 (a missing right).
//
// A policy that syncs the roster also needs the key's rights to list user groups and classes: they are
// read before any write, so a key without them is named in Ready rather than failing every run. (Write
// rights cannot be tested without writing; a refused write fails its change and names the method.)
func (t *JamfSchool) Check(ctx context.Context, m plan.Manage) error {
	refused := func(err error) error {
		return &CheckError{Refused: errors.Is(err, school.ErrUnauthorized) || errors.Is(err, school.ErrPermissionDenied), Err: err}
	}
	if err := t.Client.TestConnection(ctx); err != nil {
		return refused(err)
	}
	if !m.Roster {
		return nil
	}
	if _, err := t.Client.Groups(ctx); err != nil {
		return refused(fmt.Errorf("spec.roster needs the API key's right to read user groups: %w", err))
	}
	if _, err := t.Client.Classes(ctx); err != nil {
		return refused(fmt.Errorf("spec.roster needs the API key's right to read classes: %w", err))
	}
	return nil
}

// Places implements Target: the Jamf School locations.
func (t *JamfSchool) Places(ctx context.Context) ([]string, error) {
	locs, err := t.Client.Locations(ctx)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(locs))
	for _, l := range locs {
		names = append(names, l.Name)
	}
	return names, nil
}

// Inventory implements Target. Devices in the trash are left out: Jamf School no longer manages them.
// Each device's Ref is the id of the location it is in (a user created for it joins that location).
func (t *JamfSchool) Inventory(ctx context.Context) ([]plan.Device, error) {
	locs, err := t.Client.Locations(ctx)
	if err != nil {
		return nil, err
	}
	byID := make(map[int]string, len(locs))
	for _, l := range locs {
		byID[l.ID] = l.Name
	}
	// Each device is converted as the answer arrives (the district is one unpaged answer); a device in
	// the trash is not part of the inventory.
	return school.DevicesAs(ctx, t.Client, func(d *school.Device) (plan.Device, bool) {
		if d.InTrash {
			return plan.Device{}, false
		}
		pd := plan.Device{Key: d.UDID, Ref: strconv.Itoa(d.LocationID), RawSerial: d.Serial, Name: d.Name, Managed: d.Managed,
			Supervised: d.Supervised, Location: byID[d.LocationID]}
		if o := d.Owner; o != nil {
			pd.Username, pd.Email, pd.RealName = o.Username, o.Email, o.Name
		}
		return pd, true
	})
}

// Apply implements Target: the location, then the owner (creating the user when the policy allows it
// and Jamf School has none). Both writes are idempotent, so a transient failure is retried.
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
		id, ok, err := t.locationID(ctx, *s.Location)
		if err != nil {
			return transientIf(err)
		}
		if !ok {
			return fmt.Errorf("Jamf School has no location named %q (check spec.schools[].location)", *s.Location)
		}
		if err := t.Client.MoveToLocation(ctx, c.DeviceKey, id); err != nil {
			return transientIf(err)
		}
	}
	if s.Username != nil {
		if err := t.setOwner(ctx, c, *s.Username); err != nil {
			if errors.Is(err, school.ErrUserNotFound) {
				return fmt.Errorf("Jamf School has no user %q to own the device (create it, sync it from Apple School Manager, or set target.jamfSchool.createMissingUsers): %w", *s.Username, err)
			}
			return transientIf(err)
		}
	}
	return nil
}

// locationID resolves a location name (any case) to its id. The names are read on first use: a lookup
// table of the tenant, not state left by Inventory.
func (t *JamfSchool) locationID(ctx context.Context, name string) (int, bool, error) {
	t.locMu.Lock()
	defer t.locMu.Unlock()
	if t.locByName == nil {
		locs, err := t.Client.Locations(ctx)
		if err != nil {
			return 0, false, err
		}
		t.locByName = make(map[string]int, len(locs))
		for _, l := range locs {
			t.locByName[strings.ToLower(l.Name)] = l.ID
		}
	}
	id, ok := t.locByName[strings.ToLower(name)]
	return id, ok, nil
}

func (t *JamfSchool) setOwner(ctx context.Context, c plan.Change, username string) error {
	if username == "" {
		return t.Client.RemoveOwner(ctx, c.DeviceKey)
	}
	u, err := t.Client.FindUser(ctx, username)
	if errors.Is(err, school.ErrUserNotFound) && t.Client.Config().CreateMissingUsers {
		u, err = t.createUser(ctx, c, username)
	}
	if err != nil {
		return err
	}
	return t.Client.SetOwner(ctx, c.DeviceKey, u.ID)
}

// createUser creates the student's user with the five fields POST /users needs: username, the
// names and email the plan carries (Destiny's, else the roster's), and a password from the policy's
// rule or a random one. Creations are serialised and re-check the listing, so two devices of one new
// student make one user. The password is never logged or put in an error.
func (t *JamfSchool) createUser(ctx context.Context, c plan.Change, username string) (school.User, error) {
	t.createMu.Lock()
	defer t.createMu.Unlock()
	if u, err := t.Client.FindUser(ctx, username); !errors.Is(err, school.ErrUserNotFound) {
		return u, err
	}
	o := c.Owner
	if o == nil {
		return school.User{}, fmt.Errorf("cannot create Jamf School user %q: the plan carries no student data for it (the policy's target.jamfSchool.createMissingUsers is off)", username)
	}
	pw, err := newUserPassword(o)
	if err != nil {
		return school.User{}, fmt.Errorf("cannot create Jamf School user %q: %w", username, err)
	}
	loc, ok := t.newUserLocation(ctx, c)
	if !ok {
		return school.User{}, fmt.Errorf("cannot create Jamf School user %q: the device's location is unknown", username)
	}
	u, err := t.Client.CreateUser(ctx, school.NewUser{Username: username, Password: pw, Email: o.Email,
		FirstName: o.FirstName, LastName: o.LastName, LocationID: loc})
	if err != nil {
		// The request may have created the user all the same (a 5xx or a lost answer): forget the
		// listing, so a retry looks the user up again instead of creating it twice.
		t.Client.ResetUserCache()
		return school.User{}, fmt.Errorf("cannot create Jamf School user %q for the student: %w", username, err)
	}
	return u, nil
}

// newUserLocation is the location a created user joins: the device's new location, else the one it is in
// (its Ref).
func (t *JamfSchool) newUserLocation(ctx context.Context, c plan.Change) (int, bool) {
	if c.Set.Location != nil {
		id, ok, err := t.locationID(ctx, *c.Set.Location)
		return id, ok && err == nil
	}
	id, err := strconv.Atoi(c.Ref)
	return id, err == nil && c.Ref != ""
}

// newUserPassword renders the policy's password rule over the student's data, or makes a random
// password when there is none. Errors name the rule, never the rendered value.
func newUserPassword(o *plan.NewOwner) (string, error) {
	if o.Password == nil {
		return school.RandomPassword()
	}
	pw, err := o.Password.RenderPtr(&o.Data)
	if err != nil {
		return "", fmt.Errorf("spec.target.jamfSchool.newUserPassword: %w", unwrapNamingError(err))
	}
	if pw == "" {
		return "", errors.New("spec.target.jamfSchool.newUserPassword rendered an empty password for this student")
	}
	return pw, nil
}

// unwrapNamingError drops naming.Error's rule prefix (the caller names the field).
func unwrapNamingError(err error) error {
	var ne *naming.Error
	if errors.As(err, &ne) {
		return ne.Err
	}
	return err
}

// transientIf marks the errors Jamf School says are temporary.
func transientIf(err error) error {
	var tmp interface{ Temporary() bool }
	if errors.As(err, &tmp) && tmp.Temporary() {
		return &Transient{Err: err}
	}
	return err
}
