package pro

import (
	"errors"
	"net/http"
	"sync"
	"time"
)

// Jamf Pro privilege names. The read and update privileges and "View MDM command information in Jamf
// Pro API" are the x-required-privileges of Jamf's schema; the per-command ones are the names Jamf Pro
// lists for API roles (Jamf Pro Server Actions), required besides the endpoint's own privilege ("A
// separate privilege is required for each device type and MDM command you want to view or send").
const (
	PrivReadMobileDevices   = "Read Mobile Devices"
	PrivUpdateMobileDevices = "Update Mobile Devices"
	PrivReadBuildings       = "Read Buildings"
	PrivReadDepartments     = "Read Departments"
	PrivViewMDMCommands     = "View MDM command information in Jamf Pro API"
	// PrivLostModeCommand covers ENABLE_LOST_MODE and DISABLE_LOST_MODE.
	PrivLostModeCommand = "Send Mobile Device Lost Mode Command"
	// PrivSetDeviceNameCommand covers the SETTINGS command with deviceName, which Jamf sends when a PATCH
	// renames a supervised device.
	PrivSetDeviceNameCommand = "Send Mobile Device Set Device Name Command"
)

// commandPrivilege is the per-command privilege of an MDM command type this client sends.
func commandPrivilege(commandType string) string {
	switch commandType {
	case "ENABLE_LOST_MODE", "DISABLE_LOST_MODE":
		return PrivLostModeCommand
	case "SETTINGS":
		return PrivSetDeviceNameCommand
	}
	return ""
}

// invalidPrivilege returns the APIError when err is Jamf's refusal for a missing privilege (403, code
// INVALID_PRIVILEGE or no code at all).
func invalidPrivilege(err error) *APIError {
	var ae *APIError
	if errors.As(err, &ae) && ae.StatusCode == http.StatusForbidden && (ae.Code == "INVALID_PRIVILEGE" || ae.Code == "") {
		return ae
	}
	return nil
}

// RefusalMemory is how long a refused write privilege is reported by TestConnection without a write to
// confirm it: no read shows whether a district has granted it since, so after this the next run tries
// the write again (and learns it again if it is still missing).
var RefusalMemory = time.Hour

// refusals remembers, per Jamf Pro server and API client (or account), the write privileges Jamf refused,
// for every Client of the process: the controller builds a new Client per reconcile and per run, and a
// refusal seen by a run must reach the next connection test.
var refusals = struct {
	sync.Mutex
	m map[string]map[string]refusal // key -> privilege -> the refusal
}{m: map[string]map[string]refusal{}}

type refusal struct {
	what string
	at   time.Time
}

func (c *Client) refusalKey() string { return c.base.String() + " " + c.auth.principal() }

// refusedWrite records that Jamf refused a write for want of priv and returns the error that says so
// (wrapping Jamf's answer).
func (c *Client) refusedWrite(priv, what string, err error) error {
	refusals.Lock()
	defer refusals.Unlock()
	k := c.refusalKey()
	if refusals.m[k] == nil {
		refusals.m[k] = map[string]refusal{}
	}
	refusals.m[k][priv] = refusal{what: what, at: c.now()}
	return &MissingPrivilegesError{Privileges: []string{priv}, Notes: map[string]string{priv: what}, Err: err}
}

// grantedWrite forgets the refusals of privs: a write needing them just succeeded.
func (c *Client) grantedWrite(privs ...string) {
	refusals.Lock()
	defer refusals.Unlock()
	for _, p := range privs {
		delete(refusals.m[c.refusalKey()], p)
	}
}

// refusal reports whether priv was refused to this server and principal within RefusalMemory, and
// what was refused.
func (c *Client) refusal(priv string) (string, bool) {
	refusals.Lock()
	defer refusals.Unlock()
	r, ok := refusals.m[c.refusalKey()][priv]
	if !ok || c.now().Sub(r.at) >= RefusalMemory {
		return "", false
	}
	return r.what, true
}
