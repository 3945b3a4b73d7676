package pro

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// DeviceUpdate is a PATCH of one device. A nil field is not touched (not sent).
type DeviceUpdate struct {
	Name        *string
	EnforceName *bool
	Location    *LocationUpdate
}

// LocationUpdate is the user and location part of a DeviceUpdate. A nil field is not touched.
//
// Clearing strategy (what the PATCH body carries): a text field set to "" is sent as "" (Jamf clears it);
// Building or Department set to "" is sent as id "-1", Jamf's "none" id; a name is resolved to its id
// through the cached building / department lookups, and an unknown name fails with *UnknownNameError
// before anything is written. ClearUserAndLocation builds the update that clears all of them.
type LocationUpdate struct {
	Username, RealName, Email, Position, Phone, Room *string
	// Building and Department are names ("" clears).
	Building, Department *string
}

// ClearUserAndLocation returns a LocationUpdate that clears user, building, department and room.
func ClearUserAndLocation() *LocationUpdate {
	e := func() *string { s := ""; return &s }
	return &LocationUpdate{Username: e(), RealName: e(), Email: e(), Position: e(), Phone: e(), Room: e(), Building: e(), Department: e()}
}

// patchRequest is the schema's UpdateMobileDeviceV2, limited to what the engine writes.
type patchRequest struct {
	Name        *string        `json:"name,omitempty"`
	EnforceName *bool          `json:"enforceName,omitempty"`
	Location    *patchLocation `json:"location,omitempty"`
}

// patchLocation is the schema's LocationV2.
type patchLocation struct {
	Username     *string `json:"username,omitempty"`
	RealName     *string `json:"realName,omitempty"`
	EmailAddress *string `json:"emailAddress,omitempty"`
	Position     *string `json:"position,omitempty"`
	PhoneNumber  *string `json:"phoneNumber,omitempty"`
	DepartmentID *string `json:"departmentId,omitempty"`
	BuildingID   *string `json:"buildingId,omitempty"`
	Room         *string `json:"room,omitempty"`
}

// patchResponse is the part of the schema's MobileDeviceDetailsV2 the engine uses.
type patchResponse struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	EnforceName  bool   `json:"enforceName"`
	SerialNumber string `json:"serialNumber"`
	Managed      bool   `json:"managed"`
	Location     *struct {
		Username     string `json:"username"`
		RealName     string `json:"realName"`
		EmailAddress string `json:"emailAddress"`
		Position     string `json:"position"`
		PhoneNumber  string `json:"phoneNumber"`
		DepartmentID string `json:"departmentId"`
		BuildingID   string `json:"buildingId"`
		Room         string `json:"room"`
	} `json:"location"`
	IOS *struct {
		Supervised bool `json:"supervised"`
	} `json:"ios"`
}

// UpdateDevice PATCHes /api/v2/mobile-devices/{id} and returns the device as the PATCH response shows
// it (trust it rather than an immediate re-read: Jamf Cloud nodes may lag). The response carries no
// managementId and no Lost Mode state: those fields of the result are zero.
//
// Calls: one PATCH, retried on 5xx, HTML pages, timeouts and 409 OPTIMISTIC_LOCK_FAILED (PATCH is
// idempotent); plus, once per client (or after RefreshLookups), the building and department listings.
// When Name was asked and the response shows another name (Jamf renames supervised devices only), the
// device is returned with a *NameNotAppliedError.
func (c *Client) UpdateDevice(ctx context.Context, id int, u DeviceUpdate) (*MobileDevice, error) {
	op := fmt.Sprintf("update device %d", id)
	body := patchRequest{Name: u.Name, EnforceName: u.EnforceName}
	if l := u.Location; l != nil {
		pl := &patchLocation{Username: l.Username, RealName: l.RealName, EmailAddress: l.Email, Position: l.Position, PhoneNumber: l.Phone, Room: l.Room}
		var err error
		if pl.BuildingID, err = c.resolve(ctx, "building", l.Building); err != nil {
			return nil, err
		}
		if pl.DepartmentID, err = c.resolve(ctx, "department", l.Department); err != nil {
			return nil, err
		}
		body.Location = pl
	}
	if body.Name == nil && body.EnforceName == nil && body.Location == nil {
		return nil, fmt.Errorf("jamf pro: %s: nothing to update", op)
	}
	var out patchResponse
	path := "/api/v2/mobile-devices/" + strconv.Itoa(id)
	if err := c.do(ctx, call{op: op, method: http.MethodPatch, path: path, body: body, idempotent: true, retryConflict: true}, &out); err != nil {
		if ae := invalidPrivilege(err); ae != nil {
			// A rename makes Jamf send a SETTINGS command, which needs its own privilege; Jamf names the
			// command type it refused ("not privileged for [SETTINGS]").
			if body.Name != nil && strings.Contains(ae.Description, "[SETTINGS]") {
				return nil, c.refusedWrite(PrivSetDeviceNameCommand, "Jamf refused the rename of device "+strconv.Itoa(id), err)
			}
			return nil, c.refusedWrite(PrivUpdateMobileDevices, "Jamf refused the update of device "+strconv.Itoa(id), err)
		}
		return nil, err
	}
	c.grantedWrite(PrivUpdateMobileDevices)
	if body.Name != nil {
		c.grantedWrite(PrivSetDeviceNameCommand)
	}
	m := MobileDevice{ID: id, Name: out.Name, EnforceName: out.EnforceName, Serial: out.SerialNumber, Managed: out.Managed}
	if out.IOS != nil {
		m.Supervised = out.IOS.Supervised
	}
	if l := out.Location; l != nil {
		m.Username, m.RealName, m.Email, m.Position, m.Phone, m.Room = l.Username, l.RealName, l.EmailAddress, l.Position, l.PhoneNumber, l.Room
		m.BuildingID, m.DepartmentID = normID(l.BuildingID), normID(l.DepartmentID)
		// The write succeeded: a failure to load the names now must not turn it into an error. The names
		// then stay "" with the ids kept.
		if c.ensureLookups(ctx) == nil {
			c.lookupMu.Lock()
			m.Building, m.Department = c.buildings.byID[m.BuildingID], c.departments.byID[m.DepartmentID]
			c.lookupMu.Unlock()
		}
	}
	if u.Name != nil && out.Name != *u.Name {
		return &m, &NameNotAppliedError{ID: id, Want: *u.Name, Got: out.Name, Supervised: m.Supervised}
	}
	return &m, nil
}

// lookup is a name <-> id table of buildings or departments.
type lookup struct {
	byName map[string]string
	byFold map[string][]string // lower-case name -> ids
	byID   map[string]string
}

// RefreshLookups re-reads the building and department lists (GET /api/v1/buildings and
// /api/v1/departments, all pages). UpdateDevice loads them once per client on first need.
func (c *Client) RefreshLookups(ctx context.Context) error {
	b, err := c.listLookup(ctx, "building", "/api/v1/buildings")
	if err != nil {
		return err
	}
	d, err := c.listLookup(ctx, "department", "/api/v1/departments")
	if err != nil {
		return err
	}
	c.lookupMu.Lock()
	c.buildings, c.departments = b, d
	c.lookupMu.Unlock()
	return nil
}

// Buildings returns the cached building names by id (loading them on first use).
func (c *Client) Buildings(ctx context.Context) (map[string]string, error) {
	return c.cachedNames(ctx, func() *lookup { return c.buildings })
}

// Departments returns the cached department names by id (loading them on first use).
func (c *Client) Departments(ctx context.Context) (map[string]string, error) {
	return c.cachedNames(ctx, func() *lookup { return c.departments })
}

func (c *Client) cachedNames(ctx context.Context, which func() *lookup) (map[string]string, error) {
	if err := c.ensureLookups(ctx); err != nil {
		return nil, err
	}
	c.lookupMu.Lock()
	defer c.lookupMu.Unlock()
	l := which()
	out := make(map[string]string, len(l.byID))
	for k, v := range l.byID {
		out[k] = v
	}
	return out, nil
}

func (c *Client) ensureLookups(ctx context.Context) error {
	c.loadMu.Lock()
	defer c.loadMu.Unlock()
	c.lookupMu.Lock()
	loaded := c.buildings != nil && c.departments != nil
	c.lookupMu.Unlock()
	if loaded {
		return nil
	}
	return c.RefreshLookups(ctx)
}

const lookupPageSize = 1000

func (c *Client) listLookup(ctx context.Context, kind, path string) (*lookup, error) {
	l := &lookup{byName: map[string]string{}, byFold: map[string][]string{}, byID: map[string]string{}}
	received := 0
	for page := 0; ; page++ {
		var out struct {
			TotalCount int64 `json:"totalCount"`
			Results    []struct {
				ID   string `json:"id"`
				Name string `json:"name"`
			} `json:"results"`
		}
		q := url.Values{"page": {strconv.Itoa(page)}, "page-size": {strconv.Itoa(lookupPageSize)}, "sort": {"id:asc"}}
		if err := c.do(ctx, call{op: "list " + kind + "s", method: http.MethodGet, path: path, query: q, idempotent: true}, &out); err != nil {
			return nil, err
		}
		for _, r := range out.Results {
			l.byID[r.ID] = r.Name
			if _, dup := l.byName[r.Name]; !dup {
				l.byName[r.Name] = r.ID
			}
			f := strings.ToLower(strings.TrimSpace(r.Name))
			l.byFold[f] = append(l.byFold[f], r.ID)
		}
		total, err := checkCount("list "+kind+"s", path, out.TotalCount)
		if err != nil {
			return nil, err
		}
		received += len(out.Results)
		if received >= total {
			return l, nil
		}
		if len(out.Results) == 0 {
			// A building missing from the list would refuse its devices' updates as unknown.
			return nil, pageError("list "+kind+"s", path, fmt.Errorf("totalCount is %d, but the listing ended after %d rows", total, received))
		}
	}
}

// resolve maps a building / department name to the id the PATCH carries: nil stays nil, "" is "-1"
// (none). An exact name wins; otherwise a unique case-insensitive match; otherwise *UnknownNameError.
func (c *Client) resolve(ctx context.Context, kind string, name *string) (*string, error) {
	if name == nil {
		return nil, nil
	}
	if *name == "" {
		none := "-1"
		return &none, nil
	}
	if err := c.ensureLookups(ctx); err != nil {
		return nil, err
	}
	c.lookupMu.Lock()
	defer c.lookupMu.Unlock()
	l := c.buildings
	if kind == "department" {
		l = c.departments
	}
	if id, ok := l.byName[*name]; ok {
		return &id, nil
	}
	if ids := l.byFold[strings.ToLower(strings.TrimSpace(*name))]; len(ids) == 1 {
		id := ids[0]
		return &id, nil
	}
	return nil, &UnknownNameError{Kind: kind, Name: *name}
}
