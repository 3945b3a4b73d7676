package school

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Devices lists every device (GET /devices; Jamf School does not page this listing).
func (c *Client) Devices(ctx context.Context) ([]Device, error) {
	return c.listDevices(ctx, "Devices", nil)
}

// DevicesBySerial lists the devices whose serial number is serial (GET /devices?serialnumber=).
func (c *Client) DevicesBySerial(ctx context.Context, serial string) ([]Device, error) {
	return c.listDevices(ctx, "DevicesBySerial", url.Values{"serialnumber": {serial}})
}

func (c *Client) listDevices(ctx context.Context, op string, q url.Values) ([]Device, error) {
	var resp wireDevicesResponse
	if err := c.do(ctx, request{op: op, method: "GET", path: "/devices", query: q, idempotent: true}, &resp); err != nil {
		return nil, err
	}
	out := make([]Device, 0, len(resp.Devices))
	for i := range resp.Devices {
		out = append(out, resp.Devices[i].toDevice())
	}
	return out, nil
}

// Device reads one device (GET /devices/{udid}); errors.Is(err, ErrNotFound) when it does not exist.
func (c *Client) Device(ctx context.Context, udid string) (Device, error) {
	if err := checkUDID("Device", udid); err != nil {
		return Device{}, err
	}
	var resp wireDeviceResponse
	path := "/devices/" + url.PathEscape(udid)
	if err := c.do(ctx, request{op: "Device", method: "GET", path: path, idempotent: true}, &resp); err != nil {
		return Device{}, err
	}
	if resp.Device == nil {
		return Device{}, &DecodeError{Op: "Device", Method: "GET", Path: path, Status: 200, Err: errors.New(`no "device" object in the answer`)}
	}
	return resp.Device.toDevice(), nil
}

// SetOwner assigns the device to the user with id userID (PUT /devices/{udid}/owner); 0 removes the
// owner. Idempotent, so retried on transient failures.
func (c *Client) SetOwner(ctx context.Context, udid string, userID int) error {
	if err := checkUDID("SetOwner", udid); err != nil {
		return err
	}
	if userID < 0 {
		return fmt.Errorf("jamfschool: SetOwner: user id %d is negative", userID)
	}
	var resp envelope
	return c.do(ctx, request{op: "SetOwner", method: "PUT", path: "/devices/" + url.PathEscape(udid) + "/owner",
		body: setOwnerBody{User: userID}, idempotent: true}, &resp)
}

// RemoveOwner removes the device's owner (SetOwner with user 0).
func (c *Client) RemoveOwner(ctx context.Context, udid string) error { return c.SetOwner(ctx, udid, 0) }

// MoveToLocation moves one device to a location (PUT /devices/{udid}/migrate with onlyDevice true:
// the owner's own location is not changed). Idempotent.
func (c *Client) MoveToLocation(ctx context.Context, udid string, locationID int) error {
	if err := checkUDID("MoveToLocation", udid); err != nil {
		return err
	}
	if locationID < 0 {
		return fmt.Errorf("jamfschool: MoveToLocation: location id %d is negative", locationID)
	}
	var resp envelope
	return c.do(ctx, request{op: "MoveToLocation", method: "PUT", path: "/devices/" + url.PathEscape(udid) + "/migrate",
		body: migrateBody{LocationID: locationID, OnlyDevice: true}, idempotent: true}, &resp)
}

// BulkMove moves many devices to one location in a single call (PUT /devices/migrate, onlyDevice
// true) and returns Jamf School's per-device verdict. No call is made for an empty list.
func (c *Client) BulkMove(ctx context.Context, locationID int, udids []string) (BulkMoveResult, error) {
	if len(udids) == 0 {
		return BulkMoveResult{}, nil
	}
	for _, u := range udids {
		if err := checkUDID("BulkMove", u); err != nil {
			return BulkMoveResult{}, err
		}
	}
	var resp wireBulkMoveResponse
	err := c.do(ctx, request{op: "BulkMove", method: "PUT", path: "/devices/migrate",
		body: bulkMigrateBody{LocationID: locationID, UDIDs: udids, OnlyDevice: true}, idempotent: true}, &resp)
	if err != nil {
		return BulkMoveResult{}, err
	}
	conv := func(in []flexString) []string {
		out := make([]string, 0, len(in))
		for _, s := range in {
			out = append(out, string(s))
		}
		return out
	}
	return BulkMoveResult{
		Moved: conv(resp.DevicesMoved), NotFound: conv(resp.DevicesNotFound),
		LocationSame: conv(resp.DevicesLocationSame), MoveFailed: conv(resp.DevicesMoveFailed),
	}, nil
}

// SetDetails writes the device's notes and/or asset tag (POST /devices/{udid}/details); a nil
// pointer leaves that field alone, and with both nil no call is made. It sets absolute values, so it
// is retried like the idempotent PUTs.
func (c *Client) SetDetails(ctx context.Context, udid string, notes, assetTag *string) error {
	if err := checkUDID("SetDetails", udid); err != nil {
		return err
	}
	if notes == nil && assetTag == nil {
		return nil
	}
	var resp envelope
	return c.do(ctx, request{op: "SetDetails", method: "POST", path: "/devices/" + url.PathEscape(udid) + "/details",
		body: detailsBody{Notes: notes, AssetTag: assetTag}, idempotent: true}, &resp)
}

// SetName always fails with *UnsupportedError: Jamf School's API has no endpoint to rename a device.
// No request is made.
func (c *Client) SetName(ctx context.Context, udid, name string) error { return Unsupported(FieldName) }

// LostModeSettings is what enabling Lost Mode would send (kept for signature parity with Jamf Pro).
type LostModeSettings struct {
	Message  string
	Phone    string
	Footnote string
}

// EnableLostMode always fails with *UnsupportedError: Jamf School's API has no endpoint to enable
// Lost Mode. No request is made.
func (c *Client) EnableLostMode(ctx context.Context, udid string, s LostModeSettings) error {
	return Unsupported(FieldLostMode)
}

// DisableLostMode always fails with *UnsupportedError, for the same reason. No request is made.
func (c *Client) DisableLostMode(ctx context.Context, udid string) error {
	return Unsupported(FieldLostMode)
}

func checkUDID(op, udid string) error {
	if strings.TrimSpace(udid) == "" {
		return fmt.Errorf("jamfschool: %s: empty UDID", op)
	}
	return nil
}
