package jamfpro

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// patchBody is the schema's UpdateMobileDeviceV2; unknown properties are rejected.
type patchBody struct {
	Name                       *string           `json:"name"`
	EnforceName                *bool             `json:"enforceName"`
	AssetTag                   *string           `json:"assetTag"`
	SiteID                     *string           `json:"siteId"`
	TimeZone                   *string           `json:"timeZone"`
	Location                   *patchLocation    `json:"location"`
	UpdatedExtensionAttributes []json.RawMessage `json:"updatedExtensionAttributes"`
	IOS                        json.RawMessage   `json:"ios"`
	TVOS                       json.RawMessage   `json:"tvos"`
}

// patchLocation is the schema's LocationV2.
type patchLocation struct {
	Username     *string `json:"username"`
	RealName     *string `json:"realName"`
	EmailAddress *string `json:"emailAddress"`
	Position     *string `json:"position"`
	PhoneNumber  *string `json:"phoneNumber"`
	DepartmentID *string `json:"departmentId"`
	BuildingID   *string `json:"buildingId"`
	Room         *string `json:"room"`
}

func decodeStrict(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data after JSON body")
	}
	return nil
}

// resolveID parses a building/department id in a PATCH: "-1" clears (0), an existing id sets it.
func resolveID(list []named, v string) (int, bool) {
	if v == "-1" {
		return 0, true
	}
	id, err := strconv.Atoi(v)
	if err != nil {
		return 0, false
	}
	_, ok := nameOf(list, id)
	return id, ok
}

func (s *Server) handlePatch(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.Atoi(r.PathValue("id"))
	if err != nil {
		writeAPIError(w, http.StatusNotFound, "INVALID_ID", "Mobile device not found", "id")
		return
	}
	var body patchBody
	if err := decodeStrict(r, &body); err != nil {
		writeAPIError(w, http.StatusBadRequest, "INVALID_FIELD", "Invalid request body: "+err.Error(), "")
		return
	}
	// A rename makes Jamf send a SETTINGS command: the caller needs that command's privilege too.
	if body.Name != nil && !s.commandAllowed(w, r, "SETTINGS") {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.devices[id]
	if !ok {
		writeAPIError(w, http.StatusNotFound, "INVALID_ID", "Mobile device not found", "id")
		return
	}
	if s.conflicts[id] > 0 {
		s.conflicts[id]--
		writeAPIError(w, http.StatusConflict, "OPTIMISTIC_LOCK_FAILED",
			"The record was modified by another request. Please try again.", "")
		return
	}
	// Validate everything before changing anything.
	newB, newD := d.BuildingID, d.DepartmentID
	if l := body.Location; l != nil {
		if l.BuildingID != nil {
			if newB, ok = resolveID(s.buildings, *l.BuildingID); !ok {
				writeAPIError(w, http.StatusBadRequest, "INVALID_ID", "Building with id "+strconv.Quote(*l.BuildingID)+" does not exist", "location.buildingId")
				return
			}
		}
		if l.DepartmentID != nil {
			if newD, ok = resolveID(s.departments, *l.DepartmentID); !ok {
				writeAPIError(w, http.StatusBadRequest, "INVALID_ID", "Department with id "+strconv.Quote(*l.DepartmentID)+" does not exist", "location.departmentId")
				return
			}
		}
	}
	if body.Name != nil && strings.TrimSpace(*body.Name) == "" {
		writeAPIError(w, http.StatusBadRequest, "INVALID_FIELD", "Mobile device name must not be empty", "name")
		return
	}
	if body.Name != nil && d.Supervised && *body.Name != d.Name {
		d.Name = *body.Name
		s.queue(d, map[string]any{"commandType": "SETTINGS", "deviceName": *body.Name})
	}
	if body.EnforceName != nil && d.Supervised {
		d.EnforceName = *body.EnforceName
	}
	if body.AssetTag != nil {
		d.AssetTag = *body.AssetTag
	}
	if l := body.Location; l != nil {
		set := func(dst *string, v *string) {
			if v != nil {
				*dst = *v
			}
		}
		set(&d.Username, l.Username)
		set(&d.RealName, l.RealName)
		set(&d.Email, l.EmailAddress)
		set(&d.Position, l.Position)
		set(&d.Phone, l.PhoneNumber)
		set(&d.Room, l.Room)
		d.BuildingID, d.DepartmentID = newB, newD
	}
	writeJSON(w, http.StatusOK, s.renderDetails(d))
}

// renderDetails is the schema's MobileDeviceDetailsV2 (the PATCH response).
func (s *Server) renderDetails(d *Device) map[string]any {
	return map[string]any{
		"id": strconv.Itoa(d.ID), "name": d.Name, "enforceName": d.EnforceName, "assetTag": d.AssetTag,
		"lastInventoryUpdateTimestamp": simTimestamp, "serialNumber": d.Serial, "udid": d.UDID,
		"managed": d.Managed, "deviceOwnershipLevel": "institutional", "type": "ios",
		"site": map[string]any{"id": "-1", "name": "None"},
		"location": map[string]any{
			"username": d.Username, "realName": d.RealName, "emailAddress": d.Email, "position": d.Position,
			"phoneNumber": d.Phone, "departmentId": idString(d.DepartmentID), "buildingId": idString(d.BuildingID),
			"room": d.Room,
		},
		"ios": map[string]any{
			"model": d.Model, "supervised": d.Supervised, "batteryHealth": "NORMAL",
			"security": map[string]any{"activationLockEnabled": false, "bootstrapTokenEscrowed": "NOT_SUPPORTED"},
		},
	}
}

// queue logs a command for d and applies it: the simulated device acknowledges at once, unless it is
// offline (SetOffline), when the command stays PENDING. Caller holds mu.
func (s *Server) queue(d *Device, payload map[string]any) Command {
	c := Command{UUID: newUUID(), Type: fmt.Sprint(payload["commandType"]), ManagementID: d.ManagementID, Payload: payload, Sent: s.opts.Now(), State: "ACKNOWLEDGED"}
	if s.offline[d.ManagementID] {
		c.State = "PENDING"
	} else {
		s.apply(d, &c)
	}
	s.commands = append(s.commands, c)
	return c
}

// apply makes an acknowledged command's effect. Caller holds mu.
func (s *Server) apply(d *Device, c *Command) {
	str := func(k string) string { v, _ := c.Payload[k].(string); return v }
	switch c.Type {
	case "SETTINGS":
		if n := str("deviceName"); n != "" && d.Supervised {
			d.Name = n
		}
	case "ENABLE_LOST_MODE":
		d.LostMode, d.LostMessage, d.LostPhone, d.LostFootnote = true, str("lostModeMessage"), str("lostModePhone"), str("lostModeFootnote")
	case "DISABLE_LOST_MODE":
		d.LostMode, d.LostMessage, d.LostPhone, d.LostFootnote = false, "", "", ""
	}
}

func newUUID() string {
	t := newToken()
	return t[0:8] + "-" + t[8:12] + "-4" + t[13:16] + "-a" + t[17:20] + "-" + t[20:32]
}

var commandTypes = map[string]bool{
	"APPLY_REDEMPTION_CODE": true, "CANCEL_ENHANCED_LOG_COLLECTION": true, "CERTIFICATE_LIST": true, "CLEAR_PASSCODE": true,
	"CLEAR_RESTRICTIONS_PASSWORD": true, "DECLARATIVE_MANAGEMENT": true, "DELETE_USER": true, "DEVICE_INFORMATION": true,
	"DEVICE_LOCATION": true, "DEVICE_LOCK": true, "DISABLE_LOST_MODE": true, "DISABLE_REMOTE_DESKTOP": true,
	"ENABLE_LOST_MODE": true, "ENABLE_REMOTE_DESKTOP": true, "ERASE_DEVICE": true, "INSTALLED_APPLICATION_LIST": true,
	"LOG_OUT_USER": true, "MANAGED_APPLICATION_LIST": true, "MANAGED_MEDIA_LIST": true, "REFRESH_CELLULAR_PLANS": true,
	"PLAY_LOST_MODE_SOUND": true, "PROFILE_LIST": true, "PROVISIONING_PROFILE_LIST": true, "RESTART_DEVICE": true,
	"REQUEST_MIRRORING": true, "SECURITY_INFO": true, "SETTINGS": true, "SET_AUTO_ADMIN_PASSWORD": true,
	"SET_RECOVERY_LOCK": true, "SHUT_DOWN_DEVICE": true, "STOP_MIRRORING": true, "TRIGGER_ENHANCED_LOG_COLLECTION": true,
	"UNLOCK_USER_ACCOUNT": true, "VALIDATE_APPLICATIONS": true, "VERIFY_RECOVERY_LOCK": true,
}

func (s *Server) handlePostCommands(w http.ResponseWriter, r *http.Request) {
	var body struct {
		ClientData []struct {
			ManagementID string `json:"managementId"`
		} `json:"clientData"`
		CommandData json.RawMessage `json:"commandData"`
	}
	if err := decodeStrict(r, &body); err != nil {
		writeAPIError(w, http.StatusBadRequest, "INVALID_FIELD", "Invalid request body: "+err.Error(), "")
		return
	}
	var data map[string]any
	dec := json.NewDecoder(bytes.NewReader(body.CommandData))
	if err := dec.Decode(&data); err != nil || data == nil {
		writeAPIError(w, http.StatusBadRequest, "INVALID_FIELD", "commandData is required", "commandData")
		return
	}
	ct, _ := data["commandType"].(string)
	if !commandTypes[ct] {
		writeAPIError(w, http.StatusBadRequest, "INVALID_FIELD", "Unknown commandType "+strconv.Quote(ct), "commandData.commandType")
		return
	}
	if len(body.ClientData) == 0 {
		writeAPIError(w, http.StatusBadRequest, "INVALID_FIELD", "clientData must name at least one device", "clientData")
		return
	}
	if !s.commandAllowed(w, r, ct) {
		return
	}
	if ct == "ENABLE_LOST_MODE" {
		msg, _ := data["lostModeMessage"].(string)
		phone, _ := data["lostModePhone"].(string)
		if msg == "" && phone == "" {
			writeAPIError(w, http.StatusBadRequest, "INVALID_FIELD", "At least one of lostModeMessage or lostModePhone must be provided", "commandData.lostModeMessage")
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	targets := make([]*Device, 0, len(body.ClientData))
	for i, c := range body.ClientData {
		var found *Device
		for _, d := range s.sortedDevices() {
			if d.ManagementID == c.ManagementID && c.ManagementID != "" {
				found = d
				break
			}
		}
		if found == nil {
			writeAPIError(w, http.StatusBadRequest, "INVALID_FIELD", "No device with managementId "+strconv.Quote(c.ManagementID), fmt.Sprintf("clientData[%d].managementId", i))
			return
		}
		if (ct == "ENABLE_LOST_MODE" || ct == "DISABLE_LOST_MODE") && !found.Supervised {
			writeAPIError(w, http.StatusInternalServerError, "UNABLE_TO_QUEUE_COMMAND",
				"Lost Mode commands can only be sent to supervised devices", fmt.Sprintf("clientData[%d].managementId", i))
			return
		}
		targets = append(targets, found)
	}
	out := make([]any, 0, len(targets))
	for _, d := range targets {
		c := s.queue(d, data)
		out = append(out, map[string]any{"id": c.UUID, "href": "/api/v2/mdm/commands?filter=uuid%3D%3D" + c.UUID})
	}
	writeJSON(w, http.StatusCreated, out)
}

var commandFilterFields = map[string]bool{"uuid": true, "clientManagementId": true, "command": true, "status": true}

func (s *Server) handleListCommands(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if strings.TrimSpace(q.Get("filter")) == "" {
		writeAPIError(w, http.StatusBadRequest, "INVALID_FIELD", "At least one filter field is required", "filter")
		return
	}
	pred, err := parseRSQLWith(q.Get("filter"), commandFilterFields)
	if err != nil {
		writeAPIError(w, http.StatusBadRequest, "INVALID_RSQL_FILTER", err.Error(), "filter")
		return
	}
	page, size, err := pageParams(r, 100, s.opts.MaxCommandPageSize)
	if err != nil {
		writeAPIError(w, http.StatusBadRequest, "INVALID_FIELD", err.Error(), "page")
		return
	}
	s.mu.Lock()
	var matched []Command
	for _, c := range s.commands {
		// status takes the words of the schema's filter example (status==Pending), commandState the enum.
		status := "Acknowledged"
		if c.State == "PENDING" {
			status = "Pending"
		}
		if pred(map[string]string{"uuid": c.UUID, "clientManagementId": c.ManagementID, "command": c.Type, "status": status}) {
			matched = append(matched, c)
		}
	}
	total := int64(len(matched))
	if s.commandsTotal != 0 {
		total = s.commandsTotal
	}
	s.mu.Unlock()
	results := []any{}
	for _, c := range pageOf(matched, page, size) {
		ts := c.Sent.UTC().Format("2006-01-02T15:04:05.000Z")
		done := ts
		if c.State == "PENDING" {
			done = ""
		}
		results = append(results, map[string]any{
			"uuid": c.UUID, "dateSent": ts, "dateCompleted": done,
			"client":       map[string]any{"managementId": c.ManagementID, "clientType": "MOBILE_DEVICE"},
			"commandState": c.State, "commandType": c.Type,
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{"totalCount": total, "results": results})
}

var lookupFilterFields = map[string]bool{"id": true, "name": true}

func (s *Server) handleBuildings(w http.ResponseWriter, r *http.Request) {
	s.handleLookup(w, r, func() []named { return s.buildings }, func(n named) map[string]any {
		return map[string]any{"id": strconv.Itoa(n.ID), "name": n.Name, "streetAddress1": "", "streetAddress2": "",
			"city": "", "stateProvince": "", "zipPostalCode": "", "country": ""}
	})
}

func (s *Server) handleDepartments(w http.ResponseWriter, r *http.Request) {
	s.handleLookup(w, r, func() []named { return s.departments }, func(n named) map[string]any {
		return map[string]any{"id": strconv.Itoa(n.ID), "name": n.Name}
	})
}

// handleLookup serves the buildings / departments search: page, page-size (default 100), sort id|name
// asc|desc (default id:asc), filter id==/name== (RSQL subset as the inventory's).
func (s *Server) handleLookup(w http.ResponseWriter, r *http.Request, list func() []named, render func(named) map[string]any) {
	q := r.URL.Query()
	page, size, err := pageParams(r, 100, s.opts.MaxCommandPageSize)
	if err != nil {
		writeAPIError(w, http.StatusBadRequest, "INVALID_FIELD", err.Error(), "page")
		return
	}
	pred, err := parseRSQLWith(q.Get("filter"), lookupFilterFields)
	if err != nil {
		writeAPIError(w, http.StatusBadRequest, "INVALID_RSQL_FILTER", err.Error(), "filter")
		return
	}
	byName, desc := false, false
	for _, v := range q["sort"] {
		for _, part := range strings.Split(v, ",") {
			f, dir, _ := strings.Cut(strings.TrimSpace(part), ":")
			if (f != "id" && f != "name") || (dir != "" && dir != "asc" && dir != "desc") {
				writeAPIError(w, http.StatusBadRequest, "INVALID_SORT_FIELD", "unsupported sort "+strconv.Quote(part), "sort")
				return
			}
			byName, desc = f == "name", dir == "desc"
		}
	}
	s.mu.Lock()
	var matched []named
	for _, n := range list() {
		if pred(map[string]string{"id": strconv.Itoa(n.ID), "name": n.Name}) {
			matched = append(matched, n)
		}
	}
	s.mu.Unlock()
	sort.SliceStable(matched, func(i, j int) bool {
		a, b := matched[i], matched[j]
		if desc {
			a, b = b, a
		}
		if byName {
			return a.Name < b.Name
		}
		return a.ID < b.ID
	})
	results := []any{}
	for _, n := range pageOf(matched, page, size) {
		results = append(results, render(n))
	}
	writeJSON(w, http.StatusOK, map[string]any{"totalCount": len(matched), "results": results})
}

func (s *Server) deviceFromPath(w http.ResponseWriter, r *http.Request) (*Device, bool) {
	id, err := strconv.Atoi(r.PathValue("id"))
	s.mu.Lock()
	d, ok := s.devices[id]
	s.mu.Unlock()
	if err != nil || !ok {
		writeAPIError(w, http.StatusNotFound, "INVALID_ID", "Mobile device not found", "id")
		return nil, false
	}
	return d, true
}

// handleGetDevice serves the schema's MobileDeviceV2.
func (s *Server) handleGetDevice(w http.ResponseWriter, r *http.Request) {
	d, ok := s.deviceFromPath(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	body := map[string]any{"id": strconv.Itoa(d.ID), "name": d.Name, "serialNumber": d.Serial, "udid": d.UDID,
		"phoneNumber": d.Phone, "model": d.Model, "username": d.Username, "type": "ios", "managementId": d.ManagementID}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, body)
}

// handleGetDeviceDetail serves the schema's MobileDeviceDetailsGetV2 (the PATCH answer plus managementId).
func (s *Server) handleGetDeviceDetail(w http.ResponseWriter, r *http.Request) {
	d, ok := s.deviceFromPath(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	body := s.renderDetails(d)
	body["managementId"] = d.ManagementID
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, body)
}
