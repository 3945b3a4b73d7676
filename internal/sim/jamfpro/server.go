// Package jamfpro is a faithful simulator of the slice of the Jamf Pro API (11.30.1) this project uses,
// built from Jamf's own OpenAPI schema (Jamf Pro 11.30.1, the subset in testdata/api-schema-subset.json) and
// the vendor facts gathered from Jamf's documentation:
//
//   - auth: POST /api/v1/oauth/token (client credentials, form-encoded; the schema's path: the older
//     /api/oauth/token is deprecated and not served, so a client still using it fails here), the legacy
//     POST /api/v1/auth/token (Basic) with POST /api/v1/auth/keep-alive and /api/v1/auth/invalidate-token;
//     token lifetime is an option; an expired or unknown token gets 401 INVALID_TOKEN.
//   - GET /api/v2/mobile-devices/detail: sections, page / page-size (clamped silently to MaxPageSize), sort,
//     a documented RSQL subset in filter, exception-handling=LENIENT (when Options.ExceptionHandling).
//   - PATCH /api/v2/mobile-devices/{id} (UpdateMobileDeviceV2 -> MobileDeviceDetailsV2), with 409
//     OPTIMISTIC_LOCK_FAILED on demand; the per-device reads GET /api/v2/mobile-devices/{id} and
//     /{id}/detail (served so that a client using them shows up in the call counters).
//   - GET/POST /api/v2/mdm/commands: SETTINGS (deviceName), ENABLE_LOST_MODE, DISABLE_LOST_MODE.
//   - GET /api/v1/buildings, GET /api/v1/departments.
//
// Every route is served through a *simhttp.Server (see Server.HTTP) for latency, concurrency limits,
// faults and call counters.
//
// Documented behaviour where the vendor material is silent (the client is built against this):
//
//   - PATCH semantics: a property absent (or JSON null) in the body is left untouched. For the text
//     location fields (username, realName, emailAddress, position, phoneNumber, room) the empty string
//     clears the field. buildingId and departmentId are ids: "-1" clears (Jamf's "none" id, as siteId "-1"
//     in inventory); "" or an id that does not exist is a 400 INVALID_ID naming the field. Unknown
//     properties in the body are a 400 INVALID_FIELD, so a client cannot send fields the schema lacks.
//   - Rename: PATCH name on a supervised device changes the record's name at once and queues a SETTINGS
//     command (logged in Commands). Jamf sends that command to supervised devices only: on an unsupervised
//     device the name is left unchanged (the PATCH answers 200 with the old name) and enforceName stays
//     false.
//   - MDM commands are acknowledged at once (the simulated device is always reachable): ENABLE_LOST_MODE
//     and DISABLE_LOST_MODE flip security.lostModeEnabled, SETTINGS with deviceName renames a supervised
//     device. A Lost Mode command (enable or disable) for an unsupervised device is answered with the
//     schema's documented failure for this endpoint, an ApiError 500 UNABLE_TO_QUEUE_COMMAND (Jamf sends
//     Lost Mode to supervised devices only); ENABLE_LOST_MODE without message and phone, an unknown
//     managementId or commandType is a 400 INVALID_FIELD. Then nothing is queued for any device of the
//     request.
//   - A 503 produced by the concurrency limit (simhttp OverloadReject) is answered before the handler
//     runs: such a request was not processed.
//   - Inventory: when no building (department) is set, buildingId (departmentId) is "-1" and building
//     (department) is "". An unreadable device (SetUnreadable) makes the page a 500 ApiError unless the
//     request asks for exception-handling=LENIENT and the server supports it; then the unreadable section
//     is null. A server without ExceptionHandling ignores the parameter, as older Jamf Pro versions do.
package jamfpro

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/k12dev/devicesync-operator/internal/sim/district"
	"github.com/k12dev/devicesync-operator/internal/sim/simhttp"
)

// Privileges. The first five are the schema's x-required-privileges for the routes served here. The
// per-command ones are the names Jamf Pro lists for API roles (Jamf Pro Server Actions); the schema says
// of POST /v2/mdm/commands that "a separate privilege is required for each device type and MDM command
// you want to view or send".
const (
	PrivReadMobileDevices   = "Read Mobile Devices"
	PrivUpdateMobileDevices = "Update Mobile Devices"
	PrivReadBuildings       = "Read Buildings"
	PrivReadDepartments     = "Read Departments"
	PrivMDMCommands         = "View MDM command information in Jamf Pro API"
	// PrivLostModeCommand is needed for ENABLE_LOST_MODE and DISABLE_LOST_MODE.
	PrivLostModeCommand = "Send Mobile Device Lost Mode Command"
	// PrivSetDeviceNameCommand is needed for SETTINGS with deviceName, sent directly or by a PATCH that
	// renames a device.
	PrivSetDeviceNameCommand = "Send Mobile Device Set Device Name Command"
)

// AllPrivileges is the default privilege set of the simulated API client.
var AllPrivileges = []string{PrivReadMobileDevices, PrivUpdateMobileDevices, PrivReadBuildings, PrivReadDepartments,
	PrivMDMCommands, PrivLostModeCommand, PrivSetDeviceNameCommand}

// Options configure a simulated Jamf Pro server.
type Options struct {
	// ClientID and ClientSecret are the API client credentials the OAuth endpoint accepts.
	ClientID, ClientSecret string
	// Username and Password are the account the legacy /api/v1/auth/token endpoint accepts.
	Username, Password string
	// TokenLifetime is the lifetime of every token issued (default 30 minutes).
	TokenLifetime time.Duration
	// Now is the server's clock (default time.Now); tests advance it to expire tokens deterministically.
	Now func() time.Time
	// MaxPageSize is the page size the inventory silently clamps to (default 2000); MaxCommandPageSize
	// the same for the MDM command listing (default 2000).
	MaxPageSize, MaxCommandPageSize int
	// MaxHealthyPageSize, when set, makes an inventory page asking for more devices than this answer the
	// gateway's 504 HTML page, as Jamf Cloud's gateways do when a heavy page takes too long (counted in
	// FaultsServed).
	MaxHealthyPageSize int
	// ExceptionHandling makes the server honour exception-handling=LENIENT (Jamf Pro 11.29+).
	ExceptionHandling bool
	// Departments are extra department names, beyond those the devices use.
	Departments []string
	// Privileges the API client holds (nil: AllPrivileges).
	Privileges []string
	// Seed makes rate-drawn faults repeatable.
	Seed uint64
}

// Device is the simulator's state of one mobile device.
type Device struct {
	ID int
	// DeviceType is the schema's MobileDeviceInventory.deviceType: "iOS" (iPhone, iPad), "tvOS" (Apple TV),
	// "watchOS", "visionOS". Only iOS devices have a SECURITY section (the schema's MobileDeviceSecurity:
	// "This section only available for Ios type"); the others are listed without one.
	DeviceType   string
	ManagementID string
	UDID         string
	Serial       string
	Name         string
	EnforceName  bool
	Model        string
	AssetTag     string
	Managed      bool
	Supervised   bool
	Username     string
	RealName     string
	Email        string
	Position     string
	Phone        string
	BuildingID   int // 0: none
	DepartmentID int // 0: none
	Room         string
	LostMode     bool
	LostMessage  string
	LostPhone    string
	LostFootnote string
	// Unreadable names the sections whose data cannot be read (see SetUnreadable).
	Unreadable map[string]bool
}

// Command is one MDM command the server received and queued.
type Command struct {
	UUID         string
	Type         string
	ManagementID string
	// Payload is the commandData object as received.
	Payload map[string]any
	Sent    time.Time
	// State is ACKNOWLEDGED (applied) or PENDING (the device is offline: see SetOffline).
	State string
}

type token struct {
	expires time.Time
	legacy  bool
	who     string // the API client id or the account's username
}

// Server is a simulated Jamf Pro. Serve it with httptest.NewServer(s).
type Server struct {
	http *simhttp.Server
	opts Options

	mu          sync.Mutex
	tokens      map[string]token
	devices     map[int]*Device
	buildings   []named
	departments []named
	commands    []Command
	conflicts   map[int]int // device id -> remaining 409 answers
	privileges  map[string]bool
	offline     map[string]bool // management ids of devices that do not answer commands
	// inventoryTotal and commandsTotal, when not 0, replace the totalCount of the listings (a lying or
	// broken server); faults counts the faulty answers served here (beyond simhttp's).
	inventoryTotal, commandsTotal int64
	faults                        int
	intercepts                    []intercept
}

type intercept struct {
	pattern string
	h       http.HandlerFunc
}

type named struct {
	ID   int
	Name string
}

// New builds a server seeded from d: buildings from the schools' Building names (plus any the devices
// use), departments from opts.Departments plus the devices', devices from d.Devices.
func New(d *district.District, opts Options) *Server {
	if opts.TokenLifetime <= 0 {
		opts.TokenLifetime = 30 * time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxPageSize <= 0 {
		opts.MaxPageSize = 2000
	}
	if opts.MaxCommandPageSize <= 0 {
		opts.MaxCommandPageSize = 2000
	}
	if opts.Privileges == nil {
		opts.Privileges = AllPrivileges
	}
	s := &Server{
		http:       simhttp.NewServer(opts.Seed),
		opts:       opts,
		tokens:     map[string]token{},
		devices:    map[int]*Device{},
		conflicts:  map[int]int{},
		offline:    map[string]bool{},
		privileges: map[string]bool{},
	}
	for _, p := range opts.Privileges {
		s.privileges[p] = true
	}
	if d != nil {
		for _, sc := range d.Schools {
			s.buildingID(sc.Building)
		}
		for _, name := range opts.Departments {
			s.departmentID(name)
		}
		for _, dv := range d.Devices {
			s.devices[dv.ID] = &Device{
				ID: dv.ID, DeviceType: deviceTypeOf(dv.Model), ManagementID: dv.ManagementID, UDID: dv.UDID, Serial: dv.Serial, Name: dv.Name,
				Model: dv.Model, AssetTag: dv.AssetTag, Managed: dv.Managed, Supervised: dv.Supervised,
				Username: dv.Username, RealName: dv.RealName, Email: dv.Email, Position: dv.Position,
				Phone: dv.Phone, BuildingID: s.buildingID(dv.Building), DepartmentID: s.departmentID(dv.Department),
				Room: dv.Room, LostMode: dv.LostMode,
			}
		}
	} else {
		for _, name := range opts.Departments {
			s.departmentID(name)
		}
	}
	s.routes()
	return s
}

func (s *Server) routes() {
	h := routeMux{s}
	h.Handle("POST /api/v1/oauth/token", s.handleOAuthToken)
	h.Handle("POST /api/v1/auth/token", s.handleAuthToken)
	h.Handle("POST /api/v1/auth/keep-alive", s.handleKeepAlive)
	h.Handle("POST /api/v1/auth/invalidate-token", s.handleInvalidate)
	h.Handle("GET /api/v2/mobile-devices/detail", s.authed(PrivReadMobileDevices, s.handleInventory))
	h.Handle("PATCH /api/v2/mobile-devices/{id}", s.authed(PrivUpdateMobileDevices, s.handlePatch))
	h.Handle("GET /api/v2/mobile-devices/{id}", s.authed(PrivReadMobileDevices, s.handleGetDevice))
	h.Handle("GET /api/v2/mobile-devices/{id}/detail", s.authed(PrivReadMobileDevices, s.handleGetDeviceDetail))
	h.Handle("GET /api/v2/mdm/commands", s.authed(PrivMDMCommands, s.handleListCommands))
	h.Handle("POST /api/v2/mdm/commands", s.authed(PrivMDMCommands, s.handlePostCommands))
	h.Handle("GET /api/v1/buildings", s.authed(PrivReadBuildings, s.handleBuildings))
	h.Handle("GET /api/v1/departments", s.authed(PrivReadDepartments, s.handleDepartments))
}

// routeMux registers every route through the intercept hook.
type routeMux struct{ s *Server }

func (m routeMux) Handle(pattern string, h http.HandlerFunc) {
	m.s.http.Handle(pattern, m.s.intercepting(pattern, h))
}

// Intercept makes the next n requests to pattern ("" for any route) answered by h instead of the
// simulated API, each counted in FaultsServed: how a test serves a redirect, a Retry-After, a slow or
// oversized body.
func (s *Server) Intercept(pattern string, n int, h http.HandlerFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.intercepts = append(s.intercepts, intercept{pattern, h})
	}
}

func (s *Server) intercepting(pattern string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		var hook http.HandlerFunc
		for i, ic := range s.intercepts {
			if ic.pattern == "" || ic.pattern == pattern {
				hook = ic.h
				s.intercepts = append(s.intercepts[:i], s.intercepts[i+1:]...)
				s.faults++
				break
			}
		}
		s.mu.Unlock()
		if hook != nil {
			hook(w, r)
			return
		}
		h(w, r)
	}
}

// FaultsServed counts every faulty answer: simhttp's queued and drawn faults, the intercepts, and the
// simulator's own (gateway timeouts for heavy pages).
func (s *Server) FaultsServed() int {
	s.mu.Lock()
	n := s.faults
	s.mu.Unlock()
	return n + s.http.FaultsServed()
}

// ReportTotals makes the inventory and the MDM command listings answer totalCount inventory and
// commands (0: the truth), as a broken server or proxy might.
func (s *Server) ReportTotals(inventory, commands int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inventoryTotal, s.commandsTotal = inventory, commands
}

// ServeHTTP serves the simulated API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.http.ServeHTTP(w, r) }

// HTTP returns the plumbing for knobs, queued faults and call counters (patterns as registered above,
// for example "GET /api/v2/mobile-devices/detail").
func (s *Server) HTTP() *simhttp.Server { return s.http }

// buildingID returns the id of the named building, creating it; 0 for "". Callers hold mu or are in New.
func (s *Server) buildingID(name string) int {
	return lookupOrAdd(&s.buildings, name)
}

func (s *Server) departmentID(name string) int {
	return lookupOrAdd(&s.departments, name)
}

func lookupOrAdd(list *[]named, name string) int {
	if name == "" {
		return 0
	}
	for _, n := range *list {
		if n.Name == name {
			return n.ID
		}
	}
	id := len(*list) + 1
	*list = append(*list, named{ID: id, Name: name})
	return id
}

func nameOf(list []named, id int) (string, bool) {
	for _, n := range list {
		if n.ID == id {
			return n.Name, true
		}
	}
	return "", false
}

// AddBuilding creates a building and returns its id (an existing name returns its id).
func (s *Server) AddBuilding(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buildingID(name)
}

// AddDepartment creates a department and returns its id.
func (s *Server) AddDepartment(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.departmentID(name)
}

// BuildingName returns the name of building id ("" when none).
func (s *Server) BuildingName(id int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, _ := nameOf(s.buildings, id)
	return n
}

// DepartmentName returns the name of department id ("" when none).
func (s *Server) DepartmentName(id int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, _ := nameOf(s.departments, id)
	return n
}

// Device returns a copy of device id's state.
func (s *Server) Device(id int) (Device, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.devices[id]
	if !ok {
		return Device{}, false
	}
	return copyDevice(d), true
}

// DeviceBySerial returns a copy of the first device (lowest id) whose serial is serial.
func (s *Server) DeviceBySerial(serial string) (Device, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.sortedDevices() {
		if d.Serial == serial {
			return copyDevice(d), true
		}
	}
	return Device{}, false
}

// deviceTypeOf derives the schema's deviceType from a model name ("Apple TV 4K (3rd generation)" is tvOS).
func deviceTypeOf(model string) string {
	switch {
	case strings.HasPrefix(model, "Apple TV"):
		return "tvOS"
	case strings.HasPrefix(model, "Apple Watch"):
		return "watchOS"
	case strings.HasPrefix(model, "Apple Vision"):
		return "visionOS"
	}
	return "iOS"
}

// SetModel changes device id's model, and with it its device type (an "Apple TV ..." model makes it a
// tvOS device, listed without a SECURITY section).
func (s *Server) SetModel(id int, model string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d, ok := s.devices[id]; ok {
		d.Model, d.DeviceType = model, deviceTypeOf(model)
	}
}

// SetUnreadable marks a section (GENERAL, HARDWARE, USER_AND_LOCATION, SECURITY) of device id as
// unreadable: STRICT inventory pages containing it fail with 500, LENIENT ones show the section as null.
func (s *Server) SetUnreadable(id int, section string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d, ok := s.devices[id]; ok {
		if d.Unreadable == nil {
			d.Unreadable = map[string]bool{}
		}
		d.Unreadable[section] = true
	}
}

// ConflictNext makes the next n PATCHes of device id answer 409 OPTIMISTIC_LOCK_FAILED (nothing is changed).
func (s *Server) ConflictNext(id, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conflicts[id] += n
}

// Commands returns the MDM commands received so far, in order.
func (s *Server) Commands() []Command {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Command(nil), s.commands...)
}

// ExpireTokens makes every token issued so far invalid (as a server restart or revocation would).
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens = map[string]token{}
}

// SetPrivileges replaces the API client's privileges.
func (s *Server) SetPrivileges(privs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.privileges = map[string]bool{}
	for _, p := range privs {
		s.privileges[p] = true
	}
}

func copyDevice(d *Device) Device {
	c := *d
	if d.Unreadable != nil {
		c.Unreadable = map[string]bool{}
		for k, v := range d.Unreadable {
			c.Unreadable[k] = v
		}
	}
	return c
}

func (s *Server) sortedDevices() []*Device {
	out := make([]*Device, 0, len(s.devices))
	for _, d := range s.devices {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// ---- auth ----

func newToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *Server) issue(legacy bool, who string) (string, time.Time) {
	t := newToken()
	exp := s.opts.Now().Add(s.opts.TokenLifetime)
	s.mu.Lock()
	s.tokens[t] = token{expires: exp, legacy: legacy, who: who}
	s.mu.Unlock()
	return t, exp
}

func (s *Server) handleOAuthToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "malformed form body")
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != "client_credentials" {
		writeOAuthError(w, http.StatusBadRequest, "unsupported_grant_type", "OAuth 2.0 Parameter: grant_type")
		return
	}
	id, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if s.opts.ClientID == "" || id != s.opts.ClientID || secret != s.opts.ClientSecret {
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "Client authentication failed")
		return
	}
	t, _ := s.issue(false, id)
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": t,
		"token_type":   "Bearer",
		"scope":        "api-role:1",
		"expires_in":   int(s.opts.TokenLifetime / time.Second),
	})
}

func (s *Server) handleAuthToken(w http.ResponseWriter, r *http.Request) {
	u, p, ok := r.BasicAuth()
	if !ok || s.opts.Username == "" || u != s.opts.Username || p != s.opts.Password {
		writeAPIError(w, http.StatusUnauthorized, "INVALID_CREDENTIALS", "Unauthorized", "")
		return
	}
	s.writeLegacyToken(w, u)
}

// handleKeepAlive issues a new token for a valid one and invalidates the old one, as Jamf Pro does.
func (s *Server) handleKeepAlive(w http.ResponseWriter, r *http.Request) {
	who, ok := s.revoke(w, r)
	if !ok {
		return
	}
	s.writeLegacyToken(w, who)
}

// revoke ends the token r presents and returns whose it was; it answers INVALID_TOKEN and returns false
// when there is none.
func (s *Server) revoke(w http.ResponseWriter, r *http.Request) (string, bool) {
	old, ok := s.valid(r)
	if !ok {
		writeInvalidToken(w)
		return "", false
	}
	s.mu.Lock()
	who := s.tokens[old].who
	delete(s.tokens, old)
	s.mu.Unlock()
	return who, true
}

// writeLegacyToken issues a bearer token and answers with the legacy flow's {token, expires}.
func (s *Server) writeLegacyToken(w http.ResponseWriter, who string) {
	t, exp := s.issue(true, who)
	writeJSON(w, http.StatusOK, map[string]any{"token": t, "expires": exp.UTC().Format("2006-01-02T15:04:05.000Z")})
}

// handleInvalidate ends the token presented, as POST /api/v1/auth/invalidate-token does.
func (s *Server) handleInvalidate(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.revoke(w, r); !ok {
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// valid reports whether the request carries a live bearer token.
func (s *Server) valid(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	t, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || t == "" {
		return "", false
	}
	now := s.opts.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	tok, ok := s.tokens[t]
	if !ok || !now.Before(tok.expires) {
		delete(s.tokens, t)
		return "", false
	}
	return t, true
}

func (s *Server) authed(priv string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if _, ok := s.valid(r); !ok {
			writeInvalidToken(w)
			return
		}
		s.mu.Lock()
		allowed := s.privileges[priv]
		s.mu.Unlock()
		if !allowed {
			writeInvalidPrivilege(w, "Forbidden")
			return
		}
		h(w, r)
	}
}

// ---- wire helpers ----

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

// apiErrorBody is the schema's ApiError; field is null when no field is concerned, as in real responses.
func apiErrorBody(code int, errCode, desc, field string) map[string]any {
	var f any
	if field != "" {
		f = field
	}
	return map[string]any{
		"httpStatus": code,
		"errors":     []any{map[string]any{"code": errCode, "description": desc, "id": "0", "field": f}},
	}
}

func writeAPIError(w http.ResponseWriter, code int, errCode, desc, field string) {
	writeJSON(w, code, apiErrorBody(code, errCode, desc, field))
}

// writeInvalidPrivilege is Jamf's refusal for a missing privilege: 403 INVALID_PRIVILEGE, described
// "Forbidden" for an endpoint's privilege and "User <who> not privileged for [<COMMAND>]" for an MDM
// command's (as Jamf Pro answers, seen by public clients of the API).
func writeInvalidPrivilege(w http.ResponseWriter, desc string) {
	writeAPIError(w, http.StatusForbidden, "INVALID_PRIVILEGE", desc, "")
}

// commandAllowed reports whether the token r presents may send commandType: the per-command privilege.
func (s *Server) commandAllowed(w http.ResponseWriter, r *http.Request, commandType string) bool {
	var priv string
	switch commandType {
	case "ENABLE_LOST_MODE", "DISABLE_LOST_MODE":
		priv = PrivLostModeCommand
	case "SETTINGS":
		priv = PrivSetDeviceNameCommand
	default:
		return true
	}
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	allowed, who := s.privileges[priv], s.tokens[tok].who
	s.mu.Unlock()
	if !allowed {
		writeInvalidPrivilege(w, fmt.Sprintf("User %s not privileged for [%s]", who, commandType))
	}
	return allowed
}

func writeInvalidToken(w http.ResponseWriter) {
	writeAPIError(w, http.StatusUnauthorized, "INVALID_TOKEN", "Unauthorized", "")
}

func writeOAuthError(w http.ResponseWriter, code int, errCode, desc string) {
	writeJSON(w, code, map[string]any{"error": errCode, "error_description": desc})
}

func idString(id int) string {
	if id == 0 {
		return "-1"
	}
	return strconv.Itoa(id)
}

func pageParams(r *http.Request, def, max int) (page, size int, err error) {
	q := r.URL.Query()
	page, size = 0, def
	if v := q.Get("page"); v != "" {
		if page, err = strconv.Atoi(v); err != nil || page < 0 {
			return 0, 0, fmt.Errorf("page must be a non-negative integer")
		}
	}
	if v := q.Get("page-size"); v != "" {
		if size, err = strconv.Atoi(v); err != nil || size < 1 {
			return 0, 0, fmt.Errorf("page-size must be a positive integer")
		}
	}
	if size > max {
		size = max
	}
	return page, size, nil
}

func pageOf[T any](all []T, page, size int) []T {
	start := page * size
	if start >= len(all) {
		return []T{}
	}
	end := min(start+size, len(all))
	return all[start:end]
}

// SetOffline makes a device stop answering MDM commands, as a lost iPad does: commands sent to it stay
// PENDING and change nothing (the inventory still shows the old state) until SetOffline(id, false),
// which acknowledges and applies them in order.
func (s *Server) SetOffline(id int, offline bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.devices[id]
	if d == nil {
		return
	}
	s.offline[d.ManagementID] = offline
	if offline {
		return
	}
	for i := range s.commands {
		if c := &s.commands[i]; c.ManagementID == d.ManagementID && c.State == "PENDING" {
			c.State = "ACKNOWLEDGED"
			s.apply(d, c)
		}
	}
}
