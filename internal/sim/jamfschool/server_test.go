package jamfschool

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/k12dev/devicesync-operator/internal/sim/district"
	"github.com/k12dev/devicesync-operator/internal/sim/simhttp"
)

// referenceDir is the directory of the real Jamf School replies (see its README.md).
func referenceDir(t *testing.T) string {
	t.Helper()
	return filepath.Join("..", "..", "jamf", "school", "testdata", "responses")
}

func readRef(t *testing.T, name string) any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(referenceDir(t), name))
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return v
}

// schema maps each JSON path ("devices[].owner.id") to the set of JSON types seen there.
type schema map[string]map[string]bool

func schemaOf(v any) schema {
	s := schema{}
	var walk func(v any, path string)
	walk = func(v any, path string) {
		t := "null"
		switch x := v.(type) {
		case map[string]any:
			t = "object"
			for k, e := range x {
				walk(e, path+"."+k)
			}
		case []any:
			t = "array"
			for _, e := range x {
				walk(e, path+"[]")
			}
		case string:
			t = "string"
		case float64:
			t = "number"
		case bool:
			t = "boolean"
		}
		if s[path] == nil {
			s[path] = map[string]bool{}
		}
		s[path][t] = true
	}
	walk(v, "")
	return s
}

func (s schema) merge(o schema) schema {
	out := schema{}
	for _, src := range []schema{s, o} {
		for p, ts := range src {
			if out[p] == nil {
				out[p] = map[string]bool{}
			}
			for t := range ts {
				out[p][t] = true
			}
		}
	}
	return out
}

// compareSchemas lists every difference between the simulator's answer and the reference: a path
// the simulator adds, a JSON type the reference never has there, or a reference path the simulator
// lacks. allowMissing names reference paths the simulator may omit (documented exceptions); a
// trailing "*" allows a whole subtree.
func compareSchemas(sim, ref schema, allowMissing ...string) []string {
	allowed := func(p string) bool {
		for _, a := range allowMissing {
			if a == p || (strings.HasSuffix(a, "*") && strings.HasPrefix(p, strings.TrimSuffix(a, "*"))) {
				return true
			}
		}
		return false
	}
	var diffs []string
	for p, ts := range sim {
		rts, ok := ref[p]
		if !ok {
			diffs = append(diffs, fmt.Sprintf("simulator has %s, the reference does not", p))
			continue
		}
		for t := range ts {
			if !rts[t] {
				diffs = append(diffs, fmt.Sprintf("%s is %s in the simulator, %v in the reference", p, t, keys(rts)))
			}
		}
	}
	for p := range ref {
		if _, ok := sim[p]; !ok && !allowed(p) {
			diffs = append(diffs, fmt.Sprintf("reference has %s, the simulator does not", p))
		}
	}
	sort.Strings(diffs)
	return diffs
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// testDistrict has two schools, a student, a teacher, a device owned by the student, one without
// owner, and one whose owner is no patron.
func testDistrict() *district.District {
	return &district.District{
		Schools: []district.School{
			{InternalID: 1, ShortName: "LHS", Name: "Lincoln High School", Building: "Lincoln HS", JamfSchoolLocationID: 11},
			{InternalID: 2, ShortName: "WMS", Name: "Washington Middle School", Building: "Washington MS", JamfSchoolLocationID: 12},
		},
		Patrons: []district.Patron{
			{DistrictID: "S1", FirstName: "Ada", LastName: "Lovelace", Email: "ada@example.org", Username: "ada.lovelace", Type: district.PatronStudent, Status: district.StatusActive, SiteShortName: "LHS"},
			{DistrictID: "T1", FirstName: "Grace", LastName: "Hopper", Email: "grace@example.org", Username: "ghopper", Type: district.PatronTeacher, Status: district.StatusActive, SiteShortName: "WMS"},
		},
		Devices: []district.Device{
			{UDID: "UDID-1", Serial: "DMPX1111AAAA", Name: "STU-DMPX1111AAAA", Model: "iPad (9th generation)", AssetTag: "A-1", Managed: true, Supervised: true, Username: "ada.lovelace", Building: "Lincoln HS", Case: district.CaseNormal},
			{UDID: "UDID-2", Serial: "DMPX2222BBBB", Name: "Spare", Managed: true, Supervised: false, Building: "Washington MS"},
			{UDID: "UDID-3", Serial: "DMPX3333CCCC", Name: "Old", Managed: false, Username: "former.student", RealName: "Former Student", Email: "former@example.org", Building: "Nowhere"},
		},
	}
}

type harness struct {
	sim *Server
	srv *httptest.Server
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	sim := New(testDistrict(), Options{})
	sim.AddGroup(GroupState{Name: "Students", LocationID: 11}) // group 1
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return &harness{sim: sim, srv: srv}
}

type call struct {
	method, path, body string
	user, key, proto   string
	noAuth             bool
}

func (h *harness) do(t *testing.T, c call) (int, http.Header, []byte) {
	t.Helper()
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	req, err := http.NewRequest(c.method, h.srv.URL+c.path, body)
	if err != nil {
		t.Fatal(err)
	}
	user, key := DefaultNetworkID, DefaultAPIKey
	if c.user != "" || c.key != "" {
		user, key = c.user, c.key
	}
	if !c.noAuth {
		req.SetBasicAuth(user, key)
	}
	proto := "3"
	if c.proto != "" {
		proto = c.proto
	}
	if proto != "-" {
		req.Header.Set("X-Server-Protocol-Version", proto)
	}
	if c.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

func (h *harness) json(t *testing.T, c call) (int, any) {
	t.Helper()
	code, _, b := h.do(t, c)
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s %s: answer is not JSON: %v: %s", c.method, c.path, err, b)
	}
	return code, v
}

// The simulator's answers have the keys and JSON types of the reference files, endpoint by
// endpoint. Allowed omissions: fields the reference shows on some records only (isBootstrapStored,
// networkInformation.EthernetMACs, region.coordinates in the list) and the elements of arrays the
// simulator leaves empty (groups, vpp, groupIds, teacherGroups, children: the district model has no
// groups or VPP).
func TestSimulatorAnswersMatchReferenceShapes(t *testing.T) {
	optionalListDevice := []string{
		".devices[].isBootstrapStored", ".devices[].networkInformation.EthernetMACs", ".devices[].region.coordinates",
		".devices[].groups[]", ".devices[].owner.vpp[]", ".devices[].owner.vpp[].status",
	}
	emptyOwnerArrays := []string{".device.owner.groupIds[]", ".device.owner.groups[]", ".device.groupIds[]", ".device.groups[]"}
	userArrays := func(prefix string) []string {
		return []string{prefix + ".groupIds[]", prefix + ".groups[]", prefix + ".teacherGroups[]", prefix + ".children[]", prefix + ".vpp[]", prefix + ".vpp[].status"}
	}
	tests := []struct {
		name         string
		call         call
		wantStatus   int
		ref          []string // reference files merged into one schema
		allowMissing []string
	}{
		{"GET /devices has the list shape", call{method: "GET", path: "/api/devices"}, 200, []string{"GET_devices__200.json"},
			// the list reference shows owners only; the simulator's owner-less device has owner {}
			optionalListDevice},
		{"GET /devices/{udid} with an owner has the single-device shape", call{method: "GET", path: "/api/devices/UDID-1"}, 200,
			[]string{"GET_devices_udid__200.json"}, emptyOwnerArrays},
		{"GET /devices/{udid} without owner has owner {}", call{method: "GET", path: "/api/devices/UDID-2"}, 200,
			// both single-device files make the endpoint's schema (deviceDepProfile is a string or null);
			// the owner-less device has none of the owner's keys
			[]string{"GET_devices_udid__200__no_owner.json", "GET_devices_udid__200.json"}, append([]string{".device.owner.*"}, emptyOwnerArrays...)},
		{"GET /devices/{udid} unknown is the flat 404", call{method: "GET", path: "/api/devices/NOPE"}, 404,
			[]string{"GET_devices_udid__404.json"}, nil},
		{"GET /users has the list shape", call{method: "GET", path: "/api/users"}, 200, []string{"GET_users__200.json"}, userArrays(".users[]")},
		{"GET /users/{id} has the single-user shape", call{method: "GET", path: "/api/users/1"}, 200, []string{"GET_users_id__200.json"}, userArrays(".user")},
		{"GET /users/{id} unknown is the flat 404", call{method: "GET", path: "/api/users/999"}, 404, []string{"GET_users_id__404.json"}, nil},
		{"GET /locations has the locations shape", call{method: "GET", path: "/api/locations"}, 200, []string{"GET_locations__200.json"}, nil},
		{"PUT /devices/{udid}/owner answers DeviceSaved", call{method: "PUT", path: "/api/devices/UDID-2/owner", body: `{"user":1}`}, 200,
			[]string{"PUT_devices_udid_owner__200.json"}, nil},
		{"PUT /devices/{udid}/migrate answers DeviceMoved", call{method: "PUT", path: "/api/devices/UDID-2/migrate", body: `{"locationId":11,"onlyDevice":true}`}, 200,
			[]string{"PUT_devices_udid_migrate__200.json"}, nil},
		{"PUT /devices/migrate answers the four lists", call{method: "PUT", path: "/api/devices/migrate", body: `{"locationId":12,"udids":["UDID-1","NOPE","UDID-2"],"onlyDevice":true}`}, 200,
			[]string{"PUT_devices_migrate__200.json"}, []string{".devicesMoveFailed[]"}},
		{"PUT /users/{id} answers UserDetailsSaved", call{method: "PUT", path: "/api/users/1", body: `{"notes":"n","memberOf":["Band"]}`}, 200,
			[]string{"PUT_users_id__200.json"}, nil},
		{"PUT /users/{id}/migrate answers UserMoved", call{method: "PUT", path: "/api/users/1/migrate", body: `{"locationId":12,"onlyUser":true}`}, 200,
			[]string{"PUT_users_id_migrate__200.json"}, nil},
		{"GET /users/groups/{id} unknown is the flat 404", call{method: "GET", path: "/api/users/groups/999"}, 404, []string{"GET_users_groups_id__404.json"}, nil},
		{"PUT /users/groups/{id} answers GroupDetailsSaved", call{method: "PUT", path: "/api/users/groups/1", body: `{"name":"G","acl":{"teacher":"allow"}}`}, 200,
			[]string{"PUT_users_groups_id__200.json"}, nil},
		{"GET /users/groups/{id} has the group shape", call{method: "GET", path: "/api/users/groups/1"}, 200, []string{"GET_users_groups_id__200.json"}, nil},
		{"POST /devices/{udid}/details answers DeviceUpdated", call{method: "POST", path: "/api/devices/UDID-1/details", body: `{"notes":"n","assetTag":"A-9"}`}, 200,
			[]string{"POST_devices_udid_details__200.json"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			status, got := h.json(t, tt.call)
			if status != tt.wantStatus {
				t.Fatalf("status %d, want %d", status, tt.wantStatus)
			}
			ref := schema{}
			for _, f := range tt.ref {
				ref = ref.merge(schemaOf(readRef(t, f)))
			}
			simSchema := schemaOf(got)
			if tt.call.path == "/api/devices" {
				// The owner-less device's owner {} is compared with the single-device no-owner reference.
				ref[".devices[].owner"]["object"] = true
			}
			if diffs := compareSchemas(simSchema, ref, tt.allowMissing...); len(diffs) > 0 {
				t.Errorf("shape differs from %v:\n  %s", tt.ref, strings.Join(diffs, "\n  "))
			}
		})
	}
}

// A denied route answers the documented 405 shape, naming the request method.
func TestDeniedRouteAnswersDocumented405(t *testing.T) {
	h := newHarness(t)
	h.sim.Deny(PatternDevices)
	status, got := h.json(t, call{method: "GET", path: "/api/devices"})
	if status != 405 {
		t.Fatalf("status %d, want 405", status)
	}
	if diffs := compareSchemas(schemaOf(got), schemaOf(readRef(t, "GET_devices__405.json"))); len(diffs) > 0 {
		t.Errorf("405 shape differs: %v", diffs)
	}
	want := "Requested method (GET) not allowed using this API key"
	if msg := got.(map[string]any)["error"].(map[string]any)["message"]; msg != want {
		t.Errorf("message %q, want %q", msg, want)
	}
	h.sim.Allow(PatternDevices)
	if status, _ := h.json(t, call{method: "GET", path: "/api/devices"}); status != 200 {
		t.Errorf("after Allow: status %d, want 200", status)
	}
}

func TestAuthAndProtocolChecks(t *testing.T) {
	tests := []struct {
		name       string
		call       call
		wantStatus int
		wantBody   string
	}{
		{"no credentials is 401 plain text", call{method: "GET", path: "/api/devices", noAuth: true}, 401, "Unauthorized"},
		{"wrong API key is 401", call{method: "GET", path: "/api/devices", user: DefaultNetworkID, key: "wrong"}, 401, "Unauthorized"},
		{"wrong network id is 401", call{method: "GET", path: "/api/devices", user: "other", key: DefaultAPIKey}, 401, "Unauthorized"},
		{"missing protocol header is 400", call{method: "GET", path: "/api/devices", proto: "-"}, 400, "X-Server-Protocol-Version"},
		{"unsupported protocol version is 400", call{method: "GET", path: "/api/devices", proto: "1"}, 400, "X-Server-Protocol-Version"},
		{"second key accepted", call{method: "GET", path: "/api/locations", user: "net2", key: "key2"}, 200, "locations"},
		{"second key's denied route is 405", call{method: "GET", path: "/api/users", user: "net2", key: "key2"}, 405, "not allowed using this API key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.sim.AddKey("net2", "key2", PatternUsers)
			status, _, body := h.do(t, tt.call)
			if status != tt.wantStatus || !bytes.Contains(body, []byte(tt.wantBody)) {
				t.Errorf("got %d %q, want %d containing %q", status, body, tt.wantStatus, tt.wantBody)
			}
		})
	}
}

func TestSeedingFromDistrict(t *testing.T) {
	sim := New(testDistrict(), Options{})
	t.Run("locations come from schools", func(t *testing.T) {
		got := sim.Locations()
		want := []LocationState{{11, "Lincoln High School"}, {12, "Washington Middle School"}}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("locations %v, want %v", got, want)
		}
	})
	t.Run("patrons become users in their site's location", func(t *testing.T) {
		u, ok := sim.UserByUsername("ada.lovelace")
		if !ok || u.LocationID != 11 || u.Email != "ada@example.org" || u.Name != "Ada Lovelace" {
			t.Errorf("ada: %+v %v", u, ok)
		}
		g, ok := sim.UserByUsername("ghopper")
		if !ok || g.LocationID != 12 {
			t.Errorf("ghopper: %+v %v", g, ok)
		}
	})
	t.Run("a device owner no patron accounts for becomes a user", func(t *testing.T) {
		u, ok := sim.UserByUsername("former.student")
		if !ok || u.Email != "former@example.org" || u.FirstName != "Former" || u.LastName != "Student" {
			t.Errorf("former.student: %+v %v", u, ok)
		}
	})
	t.Run("device owner and location come from username and building", func(t *testing.T) {
		d, ok := sim.Device("UDID-1")
		ada, _ := sim.UserByUsername("ada.lovelace")
		if !ok || d.OwnerID != ada.ID || d.LocationID != 11 || !d.Managed || !d.Supervised || d.Serial != "DMPX1111AAAA" {
			t.Errorf("UDID-1: %+v", d)
		}
		d2, _ := sim.Device("UDID-2")
		if d2.OwnerID != 0 || d2.LocationID != 12 || d2.Supervised {
			t.Errorf("UDID-2: %+v", d2)
		}
	})
	t.Run("DeviceBySerial ignores case", func(t *testing.T) {
		if d, ok := sim.DeviceBySerial("dmpx2222bbbb"); !ok || d.UDID != "UDID-2" {
			t.Errorf("got %+v %v", d, ok)
		}
	})
	t.Run("a nil district is an empty server", func(t *testing.T) {
		empty := New(nil, Options{})
		if len(empty.Devices())+len(empty.Users())+len(empty.Locations()) != 0 {
			t.Error("nil district should give no data")
		}
	})
}

func TestDeviceListFilters(t *testing.T) {
	h := newHarness(t)
	ada, _ := h.sim.UserByUsername("ada.lovelace")
	tests := []struct {
		query string
		want  []string
	}{
		{"", []string{"UDID-1", "UDID-2", "UDID-3"}},
		{"?serialnumber=dmpx2222bbbb", []string{"UDID-2"}},
		{"?serialnumber=UNKNOWN", nil},
		{"?location=11", []string{"UDID-1"}},
		{fmt.Sprintf("?owner=%d", ada.ID), []string{"UDID-1"}},
		{"?managed=0", []string{"UDID-3"}},
		{"?supervised=1", []string{"UDID-1"}},
	}
	for _, tt := range tests {
		t.Run("filter "+tt.query, func(t *testing.T) {
			_, _, b := h.do(t, call{method: "GET", path: "/api/devices" + tt.query})
			var resp struct {
				Count   int `json:"count"`
				Devices []struct {
					UDID string `json:"UDID"`
				} `json:"devices"`
			}
			if err := json.Unmarshal(b, &resp); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range resp.Devices {
				got = append(got, d.UDID)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) || resp.Count != len(tt.want) {
				t.Errorf("got %v (count %d), want %v", got, resp.Count, tt.want)
			}
		})
	}
}

func TestWritesChangeStateAndAreLogged(t *testing.T) {
	tests := []struct {
		name       string
		call       call
		wantStatus int
		wantMsg    string
		check      func(t *testing.T, s *Server)
		wantWrites []Write
	}{
		{"owner set", call{method: "PUT", path: "/api/devices/UDID-2/owner", body: `{"user":1}`}, 200, "DeviceSaved",
			func(t *testing.T, s *Server) {
				if d, _ := s.Device("UDID-2"); d.OwnerID != 1 {
					t.Errorf("owner %d", d.OwnerID)
				}
			}, []Write{{PatternSetOwner, "UDID-2", "owner", "0", "1"}}},
		{"owner 0 removes it", call{method: "PUT", path: "/api/devices/UDID-1/owner", body: `{"user":0}`}, 200, "DeviceSaved",
			func(t *testing.T, s *Server) {
				if d, _ := s.Device("UDID-1"); d.OwnerID != 0 {
					t.Errorf("owner %d", d.OwnerID)
				}
			}, []Write{{PatternSetOwner, "UDID-1", "owner", "1", "0"}}},
		{"owner already set writes nothing", call{method: "PUT", path: "/api/devices/UDID-1/owner", body: `{"user":1}`}, 200, "DeviceSaved", nil, nil},
		{"owner of unknown device is DeviceNotFound", call{method: "PUT", path: "/api/devices/NOPE/owner", body: `{"user":1}`}, 404, "DeviceNotFound", nil, nil},
		{"unknown user is UserNotFound", call{method: "PUT", path: "/api/devices/UDID-1/owner", body: `{"user":999}`}, 404, "UserNotFound", nil, nil},
		{"owner body without user is 400", call{method: "PUT", path: "/api/devices/UDID-1/owner", body: `{}`}, 400, "InvalidUser", nil, nil},
		{"malformed body is 400", call{method: "PUT", path: "/api/devices/UDID-1/owner", body: `{"user":`}, 400, "InvalidRequestBody", nil, nil},
		{"migrate onlyDevice moves the device only", call{method: "PUT", path: "/api/devices/UDID-1/migrate", body: `{"locationId":12,"onlyDevice":true}`}, 200, "DeviceMoved",
			func(t *testing.T, s *Server) {
				d, _ := s.Device("UDID-1")
				u, _ := s.User(1)
				if d.LocationID != 12 || u.LocationID != 11 {
					t.Errorf("device loc %d, user loc %d", d.LocationID, u.LocationID)
				}
			}, []Write{{PatternMigrate, "UDID-1", "location", "11", "12"}}},
		{"migrate without onlyDevice moves the owner too", call{method: "PUT", path: "/api/devices/UDID-1/migrate", body: `{"locationId":12,"onlyDevice":false}`}, 200, "DeviceMoved",
			func(t *testing.T, s *Server) {
				if u, _ := s.User(1); u.LocationID != 12 {
					t.Errorf("user loc %d", u.LocationID)
				}
			}, []Write{{PatternMigrate, "UDID-1", "location", "11", "12"}, {PatternMigrate, "ada.lovelace", "userLocation", "11", "12"}}},
		{"migrate to unknown location is 404", call{method: "PUT", path: "/api/devices/UDID-1/migrate", body: `{"locationId":99,"onlyDevice":true}`}, 404, "LocationNotFound", nil, nil},
		{"details set notes and asset tag", call{method: "POST", path: "/api/devices/UDID-1/details", body: `{"notes":"hello","assetTag":"A-2"}`}, 200, "DeviceUpdated",
			func(t *testing.T, s *Server) {
				if d, _ := s.Device("UDID-1"); d.Notes != "hello" || d.AssetTag != "A-2" {
					t.Errorf("device %+v", d)
				}
			}, []Write{{PatternDetails, "UDID-1", "notes", "", "hello"}, {PatternDetails, "UDID-1", "assetTag", "A-1", "A-2"}}},
		{"details with notes only keeps the asset tag", call{method: "POST", path: "/api/devices/UDID-1/details", body: `{"notes":"x"}`}, 200, "DeviceUpdated",
			func(t *testing.T, s *Server) {
				if d, _ := s.Device("UDID-1"); d.AssetTag != "A-1" {
					t.Errorf("asset tag %q", d.AssetTag)
				}
			}, []Write{{PatternDetails, "UDID-1", "notes", "", "x"}}},
		{"create user with the five fields Jamf's clients send", call{method: "POST", path: "/api/users", body: newUserBody("")}, 200, `"message":"UserCreated","id":4`,
			func(t *testing.T, s *Server) {
				if u, ok := s.UserByUsername("new.kid"); !ok || u.Name != "New Kid" || u.LocationID != 11 || u.Password != "Secret-1" {
					t.Errorf("user %+v %v", u, ok)
				}
			}, []Write{{PatternCreateUser, "new.kid", "user", "", "4"}}},
		{"create user without username is refused", call{method: "POST", path: "/api/users", body: newUserBody("username")}, 400, `{"code":400,"message":"UsernameRequired"}`, nil, nil},
		{"create user without password is refused", call{method: "POST", path: "/api/users", body: newUserBody("password")}, 400, `{"code":400,"message":"PasswordRequired"}`, nil, nil},
		{"create user without email is refused", call{method: "POST", path: "/api/users", body: newUserBody("email")}, 400, `{"code":400,"message":"EmailRequired"}`, nil, nil},
		{"create user without first name is refused", call{method: "POST", path: "/api/users", body: newUserBody("firstName")}, 400, `{"code":400,"message":"FirstNameRequired"}`, nil, nil},
		{"create user without last name is refused", call{method: "POST", path: "/api/users", body: newUserBody("lastName")}, 400, `{"code":400,"message":"LastNameRequired"}`, nil, nil},
		{"create user with a blank password is refused", call{method: "POST", path: "/api/users", body: strings.Replace(newUserBody(""), `"Secret-1"`, `"  "`, 1)}, 400, "PasswordRequired", nil, nil},
		{"create an existing username is 409", call{method: "POST", path: "/api/users", body: strings.Replace(newUserBody(""), `"new.kid"`, `"ADA.LOVELACE"`, 1)}, 409, "UserAlreadyExists", nil, nil},
		{"create an existing email is 409", call{method: "POST", path: "/api/users", body: strings.Replace(newUserBody(""), `"new@example.org"`, `"ADA@example.org"`, 1)}, 409, "EmailAlreadyExists", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			status, _, body := h.do(t, tt.call)
			if status != tt.wantStatus || !bytes.Contains(body, []byte(tt.wantMsg)) {
				t.Fatalf("got %d %s, want %d %q", status, body, tt.wantStatus, tt.wantMsg)
			}
			if tt.check != nil {
				tt.check(t, h.sim)
			}
			if got := h.sim.Writes(); fmt.Sprint(got) != fmt.Sprint(tt.wantWrites) {
				t.Errorf("writes %v, want %v", got, tt.wantWrites)
			}
		})
	}
}

// newUserBody is a POST /users body with the five fields Jamf's clients send, less the one named.
func newUserBody(without string) string {
	fields := map[string]any{"username": "new.kid", "password": "Secret-1", "email": "new@example.org",
		"firstName": "New", "lastName": "Kid", "locationId": 11}
	delete(fields, without)
	b, err := json.Marshal(fields)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func TestBulkMigrateSortsDevicesIntoTheFourLists(t *testing.T) {
	h := newHarness(t)
	_, _, b := h.do(t, call{method: "PUT", path: "/api/devices/migrate", body: `{"locationId":12,"udids":["UDID-1","NOPE","UDID-2"],"onlyDevice":true}`})
	var got bulkMigrateResponse
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := bulkMigrateResponse{Code: 200, DevicesMoved: []string{"UDID-1"}, DevicesNotFound: []string{"NOPE"}, DevicesLocationSame: []string{"UDID-2"}, DevicesMoveFailed: []string{}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if d, _ := h.sim.Device("UDID-1"); d.LocationID != 12 {
		t.Errorf("UDID-1 location %d", d.LocationID)
	}
}

func TestRemoveUserClearsOwnership(t *testing.T) {
	sim := New(testDistrict(), Options{})
	sim.RemoveUser(1)
	if _, ok := sim.User(1); ok {
		t.Error("user 1 still there")
	}
	if d, _ := sim.Device("UDID-1"); d.OwnerID != 0 {
		t.Errorf("UDID-1 owner %d, want 0", d.OwnerID)
	}
}

// Faults queued through the embedded simhttp server hit the Jamf School routes and are counted.
func TestFaultsAndCountersComeFromSimhttp(t *testing.T) {
	h := newHarness(t)
	h.sim.FailNext(PatternDevices, 1, simhttp.FaultHTML502)
	status, hdr, _ := h.do(t, call{method: "GET", path: "/api/devices"})
	if status != 502 || !strings.Contains(hdr.Get("Content-Type"), "text/html") {
		t.Errorf("first call %d %s, want 502 HTML", status, hdr.Get("Content-Type"))
	}
	if status, _, _ := h.do(t, call{method: "GET", path: "/api/devices"}); status != 200 {
		t.Errorf("second call %d, want 200", status)
	}
	if n := h.sim.CallCount(PatternDevices); n != 2 {
		t.Errorf("CallCount %d, want 2", n)
	}
}
