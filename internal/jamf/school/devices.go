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
	return listDevices(ctx, c, "Devices", nil, all)
}

// DevicesAs is Devices with each device converted by conv as the answer arrives: only the results conv
// keeps (ok) are, so a caller holding its own compact form of a device never holds the district twice.
// conv must not keep d.
func DevicesAs[T any](ctx context.Context, c *Client, conv func(d *Device) (v T, ok bool)) ([]T, error) {
	return listDevices(ctx, c, "Devices", nil, conv)
}

// all keeps every device as it is.
func all(d *Device) (Device, bool) { return *d, true }

func listDevices[T any](ctx context.Context, c *Client, op string, q url.Values, conv func(d *Device) (T, bool)) ([]T, error) {
	return listRows(ctx, c, request{op: op, method: "GET", path: "/devices", query: q, idempotent: true}, "devices",
		func(w *wireDevice) (T, bool) { d := w.toDevice(); return conv(&d) })
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

func checkUDID(op, udid string) error {
	if strings.TrimSpace(udid) == "" {
		return fmt.Errorf("jamfschool: %s: empty UDID", op)
	}
	return nil
}
