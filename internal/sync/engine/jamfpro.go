package engine

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	gosync "sync"

	"github.com/k12dev/devicesync-operator/internal/jamf/pro"
	"github.com/k12dev/devicesync-operator/internal/sync/plan"
)

// JamfPro is the Jamf Pro target: one inventory read with the needed sections, one PATCH per device for
// name, user and location, and the Lost Mode MDM commands.
type JamfPro struct {
	Client *pro.Client
	// MaxConcurrency is how many changes are applied at once (spec.target.jamfPro.maxConcurrency).
	MaxConcurrency int
	// PendingLostMode makes Inventory read the Lost Mode commands still pending (the device offline) and
	// count them as done, so an offline lost iPad is not sent the same command every run. Set it when the
	// policy manages lostMode (it needs the MDM command read privilege).
	PendingLostMode bool

	mu gosync.Mutex
	// denied holds, for this run, the refusals of a missing write privilege by privilege name: the other
	// changes needing it fail with the same error without asking Jamf again.
	denied map[string]error
}

// Name implements Target.
func (t *JamfPro) Name() string { return "Jamf Pro" }

// Capabilities implements Target.
func (t *JamfPro) Capabilities() plan.Capabilities { return plan.JamfPro() }

// Concurrency implements Target.
func (t *JamfPro) Concurrency() int { return max(1, t.MaxConcurrency) }

// Inventory implements Target.
func (t *JamfPro) Inventory(ctx context.Context) ([]plan.Device, error) {
	// The pending Lost Mode commands are read while the inventory pages come in.
	var (
		pending    map[string]bool
		pendingErr error
		wg         gosync.WaitGroup
	)
	if t.PendingLostMode {
		wg.Go(func() { pending, pendingErr = t.Client.PendingLostMode(ctx) })
	}
	// Each device goes straight from its page to the planner's form: the client keeps no MobileDevice.
	out, err := pro.InventoryAs(ctx, t.Client, jamfProDevice)
	wg.Wait()
	if err != nil {
		return nil, err
	}
	if pendingErr != nil {
		return nil, pendingErr
	}
	// One block of Lost Mode flags for the whole inventory, instead of one allocation per device.
	lost := make([]bool, len(out))
	for i := range out {
		d := &out[i]
		if d.LostMode == nil {
			continue // not an iOS device: no Lost Mode state
		}
		lost[i] = *d.LostMode
		if on, ok := pending[d.Ref]; ok {
			lost[i] = on // a queued command counts as done: never send it twice
		}
		d.LostMode = &lost[i]
	}
	t.mu.Lock()
	t.denied = map[string]error{}
	t.mu.Unlock()
	return out, nil
}

// Lost Mode states as jamfProDevice reads them, replaced by Inventory with the device's own flag.
var lostModeOn, lostModeOff = true, false

// jamfProDevice is the planner's form of one Jamf Pro device (the management id is its Ref).
func jamfProDevice(m *pro.MobileDevice) plan.Device {
	d := plan.Device{
		Key: strconv.Itoa(m.ID), Ref: m.ManagementID, RawSerial: m.Serial, Name: m.Name, Managed: m.Managed, Supervised: m.Supervised,
		Username: m.Username, RealName: m.RealName, Email: m.Email, Position: m.Position,
		Building: m.Building, Department: m.Department, Room: m.Room, LostMode: &lostModeOff, Unreadable: m.Unreadable,
	}
	if m.LostModeEnabled {
		d.LostMode = &lostModeOn
	}
	if m.DeviceType != pro.DeviceTypeIOS {
		// An Apple TV (watch, ...) has no Lost Mode state; the planner skips it UnsupportedDeviceType.
		d.UnsupportedType, d.LostMode = m.DeviceType, nil
	}
	return d
}

// Apply implements Target: the PATCH first (retryable: it is idempotent), then the Lost Mode command
// (never repeated: the client does not retry a command that may have been sent, and neither does the
// engine).
func (t *JamfPro) Apply(ctx context.Context, c plan.Change) error {
	id, err := strconv.Atoi(c.DeviceKey)
	if err != nil {
		return fmt.Errorf("device key %q is not a Jamf Pro mobile device id", c.DeviceKey)
	}
	if u, ok := deviceUpdate(c.Set); ok {
		needs := []string{pro.PrivUpdateMobileDevices}
		if u.Name != nil {
			needs = append(needs, pro.PrivSetDeviceNameCommand)
		}
		if err := t.deniedErr(needs...); err != nil {
			return err
		}
		if _, err := t.Client.UpdateDevice(ctx, id, u); err != nil {
			if pro.IsRetryable(err) {
				return &Transient{Err: err}
			}
			return t.noteDenied(err)
		}
	}
	lm := c.Set.LostMode
	if lm == nil {
		return nil
	}
	mid := c.Ref // the device's management id
	if mid == "" {
		return errors.New("no management id for this device in the inventory: Lost Mode cannot be sent")
	}
	if err := t.deniedErr(pro.PrivLostModeCommand, pro.PrivViewMDMCommands); err != nil {
		return err
	}
	if lm.Enable {
		_, err = t.Client.EnableLostMode(ctx, mid, pro.LostMode{Message: lm.Message, Phone: lm.Phone, Footnote: lm.Footnote})
	} else {
		_, err = t.Client.DisableLostMode(ctx, mid)
	}
	return t.noteDenied(err)
}

// deniedErr returns the refusal recorded this run for one of privs, if any.
func (t *JamfPro) deniedErr(privs ...string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, p := range privs {
		if err := t.denied[p]; err != nil {
			return err
		}
	}
	return nil
}

// noteDenied records a refusal for a missing privilege and returns err.
func (t *JamfPro) noteDenied(err error) error {
	var mp *pro.MissingPrivilegesError
	if errors.As(err, &mp) {
		t.mu.Lock()
		if t.denied == nil {
			t.denied = map[string]error{}
		}
		for _, p := range mp.Privileges {
			t.denied[p] = err
		}
		t.mu.Unlock()
	}
	return err
}

// deviceUpdate maps plan.Set one to one onto the PATCH; ok is false when the PATCH would be empty.
func deviceUpdate(s plan.Set) (pro.DeviceUpdate, bool) {
	var u pro.DeviceUpdate
	if s.Name != nil {
		enforce := s.EnforceName
		u.Name, u.EnforceName = s.Name, &enforce
	}
	loc := pro.LocationUpdate{Username: s.Username, RealName: s.RealName, Email: s.Email, Position: s.Position,
		Room: s.Room, Building: s.Building, Department: s.Department}
	if loc != (pro.LocationUpdate{}) {
		u.Location = &loc
	}
	return u, u.Name != nil || u.Location != nil
}

// Check implements Target: the credentials and the privileges the managed fields need (see
// pro.Client.TestConnection: reads are tried, write refusals are remembered).
func (t *JamfPro) Check(ctx context.Context, m plan.Manage) error {
	err := t.Client.TestConnection(ctx, pro.Needs{Name: m.Name, User: m.User, Location: m.Location, LostMode: m.LostMode})
	if err == nil {
		return nil
	}
	var ae *pro.AuthError
	var me *pro.MissingPrivilegesError
	if errors.As(err, &ae) || errors.As(err, &me) {
		// A write privilege learned from Jamf's refusal lapses (pro.RefusalMemory): keep re-testing.
		return &CheckError{Refused: true, Retest: me != nil && me.OnlyRefusedWrites(), Err: err}
	}
	return &CheckError{Err: err}
}

// Places implements Target: the Jamf Pro buildings.
func (t *JamfPro) Places(ctx context.Context) ([]string, error) {
	byID, err := t.Client.Buildings(ctx)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(byID))
	for _, n := range byID {
		names = append(names, n)
	}
	return names, nil
}
