// Package jamfschool is a faithful Jamf School API simulator: the paths, Basic auth, the
// X-Server-Protocol-Version header, the response shapes of the real replies in
// internal/jamf/school/testdata/responses (keys and JSON types, including the ones that differ
// between GET /devices and GET /devices/{udid}) and both documented JSON error shapes. It is built on
// simhttp, so latency, faults, concurrency limits and call counters come with it.
//
// Serve it with httptest.NewServer(s) and point a client at srv.URL + "/api".
package jamfschool

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/k12dev/devicesync-operator/internal/sim/district"
	"github.com/k12dev/devicesync-operator/internal/sim/simhttp"
)

// BasePath is where the API lives, as on https://{school}.jamfcloud.com/api.
const BasePath = "/api"

// Route patterns, as counted by simhttp (CallCount, Calls) and named in Deny.
const (
	PatternDevices        = "GET /api/devices"
	PatternDevice         = "GET /api/devices/{udid}"
	PatternSetOwner       = "PUT /api/devices/{udid}/owner"
	PatternMigrate        = "PUT /api/devices/{udid}/migrate"
	PatternBulkMigrate    = "PUT /api/devices/migrate"
	PatternDetails        = "POST /api/devices/{udid}/details"
	PatternUsers          = "GET /api/users"
	PatternCreateUser     = "POST /api/users"
	PatternUser           = "GET /api/users/{id}"
	PatternLocations      = "GET /api/locations"
	DefaultNetworkID      = "sim-network-id"
	DefaultAPIKey         = "sim-api-key"
	DefaultProtocolHeader = "3"
)

// Options configure a simulator.
type Options struct {
	// NetworkID and APIKey are the Basic credentials accepted (defaults DefaultNetworkID, DefaultAPIKey).
	NetworkID string
	APIKey    string
	// ProtocolVersions are the X-Server-Protocol-Version values accepted (default {"3"}).
	ProtocolVersions []string
	// Seed makes rate-drawn faults repeatable.
	Seed uint64
	// Modified is the timestamp text rendered in modified / lastCheckin fields (a fixed default).
	Modified string
}

// Server is the simulated Jamf School. The embedded simhttp.Server provides ServeHTTP, SetKnobs,
// FailNext, Calls, CallCount, PeakInFlight and ResetCounters.
type Server struct {
	*simhttp.Server

	opts      Options
	protocols map[string]bool

	mu           sync.Mutex
	keys         map[credential]map[string]bool // denied patterns per key
	devices      []*DeviceState
	deviceByUDID map[string]*DeviceState
	users        []*UserState
	userByID     map[int]*UserState
	nextUserID   int
	locations    []LocationState
	writes       []Write
	roster       rosterState
	wire         map[string][]WireFault // queued by InjectNext
	wireServed   int
}

type credential struct{ networkID, apiKey string }

// New builds a simulator seeded from d (nil: empty).
func New(d *district.District, opts Options) *Server {
	if opts.NetworkID == "" {
		opts.NetworkID = DefaultNetworkID
	}
	if opts.APIKey == "" {
		opts.APIKey = DefaultAPIKey
	}
	if len(opts.ProtocolVersions) == 0 {
		opts.ProtocolVersions = []string{DefaultProtocolHeader}
	}
	if opts.Modified == "" {
		opts.Modified = "2026-01-05 07:30:00"
	}
	s := &Server{
		Server:       simhttp.NewServer(opts.Seed),
		opts:         opts,
		protocols:    map[string]bool{},
		keys:         map[credential]map[string]bool{{opts.NetworkID, opts.APIKey}: {}},
		deviceByUDID: map[string]*DeviceState{},
		userByID:     map[int]*UserState{},
	}
	for _, p := range opts.ProtocolVersions {
		s.protocols[p] = true
	}
	s.load(d)

	s.route(PatternDevices, s.listDevices)
	s.route(PatternDevice, s.getDevice)
	s.route(PatternSetOwner, s.setOwner)
	s.route(PatternMigrate, s.migrate)
	s.route(PatternBulkMigrate, s.bulkMigrate)
	s.route(PatternDetails, s.details)
	s.route(PatternUsers, s.listUsers)
	s.route(PatternCreateUser, s.createUser)
	s.route(PatternUser, s.getUser)
	s.route(PatternLocations, s.listLocations)
	s.routeRoster()
	return s
}

// AddKey accepts another network id / API key pair, refused the route patterns in denied.
func (s *Server) AddKey(networkID, apiKey string, denied ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	set := map[string]bool{}
	for _, p := range denied {
		set[p] = true
	}
	s.keys[credential{networkID, apiKey}] = set
}

// Deny makes the default key's requests to pattern fail with the documented 405
// {"error":{"code":405,"message":"Requested method (GET) not allowed using this API key"}}.
func (s *Server) Deny(pattern string) { s.setDenied(pattern, true) }

// Allow undoes Deny.
func (s *Server) Allow(pattern string) { s.setDenied(pattern, false) }

func (s *Server) setDenied(pattern string, denied bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	set := s.keys[credential{s.opts.NetworkID, s.opts.APIKey}]
	if denied {
		set[pattern] = true
	} else {
		delete(set, pattern)
	}
}

// route registers h behind auth, protocol and permission checks.
func (s *Server) route(pattern string, h http.HandlerFunc) {
	s.Handle(pattern, func(w http.ResponseWriter, r *http.Request) {
		if f, ok := s.nextWire(pattern); ok {
			serveWire(w, r, f, func(w http.ResponseWriter, r *http.Request) { s.serveAuthorized(pattern, h, w, r) })
			return
		}
		s.serveAuthorized(pattern, h, w, r)
	})
}

// serveAuthorized runs h behind the auth, protocol and permission checks.
func (s *Server) serveAuthorized(pattern string, h http.HandlerFunc, w http.ResponseWriter, r *http.Request) {
	id, key, ok := r.BasicAuth()
	s.mu.Lock()
	denied, known := s.keys[credential{id, key}]
	refused := ok && known && denied[pattern]
	s.mu.Unlock()
	if !ok || !known {
		w.Header().Set("WWW-Authenticate", `Basic realm="Jamf School API"`)
		writePlain(w, http.StatusUnauthorized, "Unauthorized")
		return
	}
	if v := r.Header.Get("X-Server-Protocol-Version"); !s.protocols[v] {
		writePlain(w, http.StatusBadRequest, fmt.Sprintf("Unsupported X-Server-Protocol-Version %q", v))
		return
	}
	if refused {
		writeJSON(w, http.StatusMethodNotAllowed, map[string]any{"error": map[string]any{
			"code": 405, "message": fmt.Sprintf("Requested method (%s) not allowed using this API key", r.Method)}})
		return
	}
	h(w, r)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writePlain(w, http.StatusInternalServerError, "Internal Server Error")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writePlain(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = fmt.Fprintln(w, msg)
}

// writeFlat writes the flat error/status shape {"code":404,"message":"DeviceNotFound"}.
func writeFlat(w http.ResponseWriter, status int, message string) {
	writeJSON(w, status, flatMessage{Code: status, Message: message})
}

type flatMessage struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// decodeBody reads a JSON request body into v; a bad body answers 400 in the flat shape.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	if err := dec.Decode(v); err != nil {
		writeFlat(w, http.StatusBadRequest, "InvalidRequestBody")
		return false
	}
	return true
}

// --- reads -------------------------------------------------------------------------------

func (s *Server) listDevices(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	out := make([]listDevice, 0, len(s.devices))
	for _, d := range s.devices {
		if !matchDevice(d, q) {
			continue
		}
		out = append(out, s.renderListDeviceLocked(d))
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, listDevicesResponse{Code: 200, Count: len(out), Devices: out})
}

func matchDevice(d *DeviceState, q map[string][]string) bool {
	get := func(k string) (string, bool) {
		v, ok := q[k]
		if !ok || len(v) == 0 {
			return "", false
		}
		return v[0], true
	}
	if v, ok := get("serialnumber"); ok && !strings.EqualFold(strings.TrimSpace(v), d.Serial) {
		return false
	}
	if v, ok := get("location"); ok && v != strconv.Itoa(d.LocationID) {
		return false
	}
	if v, ok := get("owner"); ok && v != strconv.Itoa(d.OwnerID) {
		return false
	}
	if v, ok := get("managed"); ok && parseBool(v) != d.Managed {
		return false
	}
	if v, ok := get("supervised"); ok && parseBool(v) != d.Supervised {
		return false
	}
	return true
}

func parseBool(v string) bool {
	switch strings.ToLower(v) {
	case "1", "true", "yes":
		return true
	}
	return false
}

func (s *Server) getDevice(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	d, ok := s.deviceByUDID[r.PathValue("udid")]
	var body singleDeviceResponse
	if ok {
		body = singleDeviceResponse{Code: 200, Device: s.renderSingleDeviceLocked(d)}
	}
	s.mu.Unlock()
	if !ok {
		writeFlat(w, http.StatusNotFound, "DeviceNotFound")
		return
	}
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	out := make([]listUser, 0, len(s.users))
	counts := s.ownerCountsLocked()
	for _, u := range s.users {
		out = append(out, listUser{singleUser: s.renderUserLocked(u, counts[u.ID]), VPP: []any{}, Notes: u.Notes, Exclude: false, Modified: s.opts.Modified})
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, listUsersResponse{Code: 200, Count: len(out), Users: out})
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.Atoi(r.PathValue("id"))
	s.mu.Lock()
	u, ok := s.userByID[id]
	var body singleUserResponse
	if err == nil && ok {
		su := s.renderUserLocked(u, s.deviceCountLocked(u.ID))
		body = singleUserResponse{Code: 200, User: singleUserFull{singleUser: su, Notes: u.Notes, Exclude: false, Modified: s.opts.Modified}}
	}
	s.mu.Unlock()
	if err != nil || !ok {
		writeFlat(w, http.StatusNotFound, "UserNotFound")
		return
	}
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) listLocations(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	out := make([]location, 0, len(s.locations))
	for _, l := range s.locations {
		out = append(out, location{ID: l.ID, Name: l.Name, Source: "ASM", SchoolNumber: strPtr(strconv.Itoa(l.ID))})
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, locationsResponse{Locations: out})
}

func strPtr(s string) *string { return &s }

// --- writes ------------------------------------------------------------------------------

func (s *Server) logLocked(pattern, target, field, old, new string) {
	s.writes = append(s.writes, Write{Pattern: pattern, Target: target, Field: field, Old: old, New: new})
}

func (s *Server) setOwner(w http.ResponseWriter, r *http.Request) {
	var body struct {
		User *json.Number `json:"user"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	var uid int64
	if body.User != nil {
		var err error
		if uid, err = body.User.Int64(); err != nil || uid < 0 {
			writeFlat(w, http.StatusBadRequest, "InvalidUser")
			return
		}
	} else {
		writeFlat(w, http.StatusBadRequest, "InvalidUser")
		return
	}
	udid := r.PathValue("udid")
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.deviceByUDID[udid]
	if !ok {
		writeFlat(w, http.StatusNotFound, "DeviceNotFound")
		return
	}
	if uid != 0 {
		if _, ok := s.userByID[int(uid)]; !ok {
			writeFlat(w, http.StatusNotFound, "UserNotFound")
			return
		}
	}
	if d.OwnerID != int(uid) {
		s.logLocked(PatternSetOwner, udid, "owner", strconv.Itoa(d.OwnerID), strconv.Itoa(int(uid)))
		d.OwnerID = int(uid)
	}
	writeJSON(w, http.StatusOK, flatMessage{Code: 200, Message: "DeviceSaved"})
}

type migrateRequest struct {
	LocationID *int     `json:"locationId"`
	UDIDs      []string `json:"udids"`
	OnlyDevice bool     `json:"onlyDevice"`
}

// moveLocked moves d; with onlyDevice false the owner moves too, as in Jamf School's UI.
func (s *Server) moveLocked(pattern string, d *DeviceState, loc int, onlyDevice bool) {
	s.logLocked(pattern, d.UDID, "location", strconv.Itoa(d.LocationID), strconv.Itoa(loc))
	d.LocationID = loc
	if !onlyDevice && d.OwnerID != 0 {
		if u, ok := s.userByID[d.OwnerID]; ok && u.LocationID != loc {
			s.logLocked(pattern, u.Username, "userLocation", strconv.Itoa(u.LocationID), strconv.Itoa(loc))
			u.LocationID = loc
		}
	}
}

func (s *Server) migrate(w http.ResponseWriter, r *http.Request) {
	var body migrateRequest
	if !decodeBody(w, r, &body) {
		return
	}
	if body.LocationID == nil {
		writeFlat(w, http.StatusBadRequest, "InvalidLocation")
		return
	}
	udid := r.PathValue("udid")
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.deviceByUDID[udid]
	if !ok {
		writeFlat(w, http.StatusNotFound, "DeviceNotFound")
		return
	}
	if !s.locationExistsLocked(*body.LocationID) {
		writeFlat(w, http.StatusNotFound, "LocationNotFound")
		return
	}
	if d.LocationID != *body.LocationID {
		s.moveLocked(PatternMigrate, d, *body.LocationID, body.OnlyDevice)
	}
	writeJSON(w, http.StatusOK, flatMessage{Code: 200, Message: "DeviceMoved"})
}

func (s *Server) bulkMigrate(w http.ResponseWriter, r *http.Request) {
	var body migrateRequest
	if !decodeBody(w, r, &body) {
		return
	}
	if body.LocationID == nil {
		writeFlat(w, http.StatusBadRequest, "InvalidLocation")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.locationExistsLocked(*body.LocationID) {
		writeFlat(w, http.StatusNotFound, "LocationNotFound")
		return
	}
	resp := bulkMigrateResponse{Code: 200, DevicesMoved: []string{}, DevicesNotFound: []string{}, DevicesLocationSame: []string{}, DevicesMoveFailed: []string{}}
	for _, udid := range body.UDIDs {
		d, ok := s.deviceByUDID[udid]
		switch {
		case !ok:
			resp.DevicesNotFound = append(resp.DevicesNotFound, udid)
		case d.LocationID == *body.LocationID:
			resp.DevicesLocationSame = append(resp.DevicesLocationSame, udid)
		default:
			s.moveLocked(PatternBulkMigrate, d, *body.LocationID, body.OnlyDevice)
			resp.DevicesMoved = append(resp.DevicesMoved, udid)
		}
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) details(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Notes    *string `json:"notes"`
		AssetTag *string `json:"assetTag"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	udid := r.PathValue("udid")
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.deviceByUDID[udid]
	if !ok {
		writeFlat(w, http.StatusNotFound, "DeviceNotFound")
		return
	}
	if body.Notes != nil && *body.Notes != d.Notes {
		s.logLocked(PatternDetails, udid, "notes", d.Notes, *body.Notes)
		d.Notes = *body.Notes
	}
	if body.AssetTag != nil && *body.AssetTag != d.AssetTag {
		s.logLocked(PatternDetails, udid, "assetTag", d.AssetTag, *body.AssetTag)
		d.AssetTag = *body.AssetTag
	}
	writeJSON(w, http.StatusOK, flatMessage{Code: 200, Message: "DeviceUpdated"})
}

// createUser is POST /users. Jamf's own clients (its Go SDK and Terraform provider) always send
// username, password, email, firstName and lastName; the simulator refuses a body that lacks any of
// them, or holds only blanks, with the flat error shape {"code":400,"message":"<Field>Required"}
// (which message the real server gives is not public: only the shape is). Usernames and emails are
// unique (case-insensitive), as the vendor's user model says. memberOf (group ids or names, as the
// vendor spec documents on POST) is resolved as PUT /users/{id} does; a refused entry creates nothing.
func (s *Server) createUser(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Username   string            `json:"username"`
		Password   string            `json:"password"`
		Email      string            `json:"email"`
		FirstName  string            `json:"firstName"`
		LastName   string            `json:"lastName"`
		LocationID int               `json:"locationId"`
		Notes      string            `json:"notes"`
		MemberOf   []json.RawMessage `json:"memberOf"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	for _, f := range []struct{ name, value string }{
		{"Username", body.Username}, {"Password", body.Password}, {"Email", body.Email},
		{"FirstName", body.FirstName}, {"LastName", body.LastName},
	} {
		if strings.TrimSpace(f.value) == "" {
			writeFlat(w, http.StatusBadRequest, f.name+"Required")
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.userByUsernameLocked(body.Username) != nil {
		writeFlat(w, http.StatusConflict, "UserAlreadyExists")
		return
	}
	if s.userByEmailLocked(body.Email) != nil {
		writeFlat(w, http.StatusConflict, "EmailAlreadyExists")
		return
	}
	if !s.locationExistsLocked(body.LocationID) {
		writeFlat(w, http.StatusNotFound, "LocationNotFound")
		return
	}
	var groups []int
	if len(body.MemberOf) > 0 {
		var ok bool
		if groups, ok = s.memberOfLocked(w, body.MemberOf, body.LocationID); !ok {
			return
		}
	}
	u := s.addUserLocked(UserState{LocationID: body.LocationID, Username: body.Username, Email: body.Email,
		FirstName: body.FirstName, LastName: body.LastName, Notes: body.Notes, Password: body.Password, GroupIDs: groups})
	s.logLocked(PatternCreateUser, u.Username, "user", "", strconv.Itoa(u.ID))
	writeJSON(w, http.StatusOK, createUserResponse{Code: 200, Message: "UserCreated", ID: u.ID})
}
