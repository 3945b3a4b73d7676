package jamfpro

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/k12dev/devicesync-operator/internal/sim/simhttp"
)

// TestResponsesMatchTheSchema checks every kind of answer the simulator gives against the component
// schema the vendor file names for it.
func TestResponsesMatchTheSchema(t *testing.T) {
	v := loadSchema(t)
	h := newHarness(t, 6, nil)
	tok := h.oauthToken()
	legacy := h.request(http.MethodPost, "/api/v1/auth/token", "", nil,
		map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(testUser+":"+testPassword))})
	h.sim.ConflictNext(3, 1)
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {testClientID}, "client_secret": {"wrong"}}

	cases := []struct {
		name      string
		do        func() response
		status    int
		schema    string
		array     bool
		allowNull []string
	}{
		{"OAuth token", func() response {
			f := url.Values{"grant_type": {"client_credentials"}, "client_id": {testClientID}, "client_secret": {testSecret}}
			return h.request(http.MethodPost, "/api/v1/oauth/token", "", f.Encode(), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
		}, 200, "OAuthTokenResponse", false, nil},
		{"OAuth refusal", func() response {
			return h.request(http.MethodPost, "/api/v1/oauth/token", "", form.Encode(), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
		}, 401, "OAuthTokenEndpointErrorResponse", false, nil},
		{"legacy token", func() response { return legacy }, 200, "AuthTokenV1", false, nil},
		{"inventory page with the four sections", func() response {
			return h.get("/api/v2/mobile-devices/detail?"+allSectionsQuery+"&page-size=100", tok)
		}, 200, "MobileDeviceInventorySearchResults", false, nil},
		{"buildings", func() response { return h.get("/api/v1/buildings", tok) }, 200, "BuildingSearchResults", false, nil},
		{"departments", func() response { return h.get("/api/v1/departments", tok) }, 200, "DepartmentsSearchResults", false, nil},
		{"PATCH response", func() response {
			return h.request(http.MethodPatch, "/api/v2/mobile-devices/1", tok, map[string]any{"name": "STU-SER0001", "location": map[string]any{"room": "102"}}, nil)
		}, 200, "MobileDeviceDetailsV2", false, nil},
		{"single device", func() response { return h.get("/api/v2/mobile-devices/1", tok) }, 200, "MobileDeviceV2", false, nil},
		{"single device detail", func() response { return h.get("/api/v2/mobile-devices/1/detail", tok) }, 200, "MobileDeviceDetailsGetV2", false, nil},
		{"MDM command created", func() response {
			return h.request(http.MethodPost, "/api/v2/mdm/commands", tok, map[string]any{
				"clientData":  []any{map[string]any{"managementId": "mgmt-0001"}},
				"commandData": map[string]any{"commandType": "ENABLE_LOST_MODE", "lostModeMessage": "Return to library"}}, nil)
		}, 201, "HrefResponse", true, nil},
		{"MDM command listing", func() response {
			return h.get("/api/v2/mdm/commands?filter=command%3D%3DENABLE_LOST_MODE", tok)
		}, 200, "MdmCommandResults", false, nil},
		// ApiError bodies carry "field": null, as in the real 401 Jamf's documentation quotes, although the
		// schema types it as a non-nullable string.
		{"401 INVALID_TOKEN", func() response { return h.get("/api/v1/buildings", "nope") }, 401, "ApiError", false, []string{"$.errors[].field"}},
		{"409 OPTIMISTIC_LOCK_FAILED", func() response {
			return h.request(http.MethodPatch, "/api/v2/mobile-devices/3", tok, map[string]any{"name": "x"}, nil)
		}, 409, "ApiError", false, []string{"$.errors[].field"}},
		{"404 unknown device", func() response {
			return h.request(http.MethodPatch, "/api/v2/mobile-devices/999", tok, map[string]any{"name": "x"}, nil)
		}, 404, "ApiError", false, nil},
		{"400 bad filter", func() response {
			return h.get("/api/v2/mobile-devices/detail?filter="+url.QueryEscape("osVersion==17"), tok)
		}, 400, "ApiError", false, nil},
		{"500 Lost Mode on an unsupervised device", func() response {
			return h.request(http.MethodPost, "/api/v2/mdm/commands", tok, map[string]any{
				"clientData":  []any{map[string]any{"managementId": "mgmt-0002"}},
				"commandData": map[string]any{"commandType": "ENABLE_LOST_MODE", "lostModePhone": "555"}}, nil)
		}, 500, "ApiError", false, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.do()
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.raw)
			}
			if !strings.HasPrefix(r.ctype, "application/json") {
				t.Fatalf("content type %q", r.ctype)
			}
			var errs []string
			if tc.array {
				errs = v.ValidateArrayOf(tc.schema, r.json)
			} else {
				errs = v.Validate(tc.schema, r.json, tc.allowNull...)
			}
			if len(errs) > 0 {
				t.Fatalf("%s does not match %s:\n%s\nbody: %s", tc.name, tc.schema, strings.Join(errs, "\n"), r.raw)
			}
		})
	}
}

func TestLenientInventoryShowsAnUnreadableSectionAsNull(t *testing.T) {
	v := loadSchema(t)
	cases := []struct {
		name       string
		supported  bool
		param      string
		wantStatus int
	}{
		{"STRICT (default) fails the page with 500", true, "", 500},
		{"LENIENT answers 200 with the section null", true, "&exception-handling=LENIENT", 200},
		{"a server without exception handling ignores LENIENT and fails", false, "&exception-handling=LENIENT", 500},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, 3, func(o *Options) { o.ExceptionHandling = tc.supported })
			h.sim.SetUnreadable(2, "SECURITY")
			r := h.get("/api/v2/mobile-devices/detail?"+allSectionsQuery+tc.param, h.oauthToken())
			if r.status != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", r.status, tc.wantStatus, r.raw)
			}
			if r.status != 200 {
				if errs := v.Validate("ApiError", r.json, "$.errors[].field"); len(errs) > 0 {
					t.Fatal(errs)
				}
				return
			}
			// The parameter's documentation says problematic sections are null.
			if errs := v.Validate("MobileDeviceInventorySearchResults", r.json, "$.results[].security"); len(errs) > 0 {
				t.Fatal(errs)
			}
			res := r.obj()["results"].([]any)
			if sec := res[1].(map[string]any)["security"]; sec != nil {
				t.Fatalf("device 2 security = %v, want null", sec)
			}
			if sec := res[0].(map[string]any)["security"]; sec == nil {
				t.Fatal("device 1 security is null, want a section")
			}
		})
	}
}

func ids(r response) []string {
	var out []string
	res, _ := r.obj()["results"].([]any)
	for _, x := range res {
		out = append(out, x.(map[string]any)["mobileDeviceId"].(string))
	}
	return out
}

func TestInventoryPagingSortingAndFilter(t *testing.T) {
	h := newHarness(t, 7, func(o *Options) { o.MaxPageSize = 3 })
	tok := h.oauthToken()
	cases := []struct {
		name      string
		query     string
		wantIDs   string
		wantTotal float64
	}{
		{"page size above the maximum is clamped silently", "page-size=10&sort=mobileDeviceId:asc", "1,2,3", 7},
		{"the last page holds the rest", "page=2&page-size=3&sort=mobileDeviceId:asc", "7", 7},
		{"a page past the end is empty", "page=5&page-size=3&sort=mobileDeviceId:asc", "", 7},
		{"default sort is displayName ascending", "page-size=3", "7,6,5", 7},
		{"sort by id descending", "page-size=3&sort=mobileDeviceId:desc", "7,6,5", 7},
		{"filter serialNumber=in= selects those serials", "sort=mobileDeviceId:asc&filter=" + url.QueryEscape(`serialNumber=in=(SER0004,"SER0006",NOPE)`), "4,6", 2},
		{"filter == and ; combine", "sort=mobileDeviceId:asc&filter=" + url.QueryEscape("supervised==true;managed==true"), "1,3,7", 3},
		{"filter != excludes", "sort=mobileDeviceId:asc&filter=" + url.QueryEscape("supervised!=true;managed==true"), "2,4,6", 3},
		{"filter on a quoted building name", "filter=" + url.QueryEscape(`building=="Lincoln High"`), "1", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := h.get("/api/v2/mobile-devices/detail?"+tc.query, tok)
			if r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.raw)
			}
			if got := strings.Join(ids(r), ","); got != tc.wantIDs {
				t.Errorf("ids %q, want %q", got, tc.wantIDs)
			}
			if got := r.obj()["totalCount"]; got != tc.wantTotal {
				t.Errorf("totalCount %v, want %v", got, tc.wantTotal)
			}
		})
	}
}

func TestInventoryRejectsWhatItDoesNotSimulate(t *testing.T) {
	h := newHarness(t, 3, nil)
	tok := h.oauthToken()
	cases := []struct{ name, query, wantCode string }{
		{"an unsupported filter field", "filter=" + url.QueryEscape("osVersion==17"), "INVALID_RSQL_FILTER"},
		{"the or operator", "filter=" + url.QueryEscape("username==a,username==b"), "INVALID_RSQL_FILTER"},
		{"a wildcard", "filter=" + url.QueryEscape("displayName==iPad*"), "INVALID_RSQL_FILTER"},
		{"an unknown operator", "filter=" + url.QueryEscape("mobileDeviceId=gt=3"), "INVALID_RSQL_FILTER"},
		{"an unsupported sort field", "sort=osVersion:asc", "INVALID_SORT_FIELD"},
		{"an unknown section", "section=BOGUS", "INVALID_FIELD"},
		{"a section nobody simulated", "section=APPLICATIONS", "INVALID_FIELD"},
		{"a negative page", "page=-1", "INVALID_FIELD"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := h.get("/api/v2/mobile-devices/detail?"+tc.query, tok)
			if r.status != 400 || r.errCode() != tc.wantCode {
				t.Fatalf("got %d %s, want 400 %s: %s", r.status, r.errCode(), tc.wantCode, r.raw)
			}
		})
	}
}

func TestAuth(t *testing.T) {
	basic := func(u, p string) map[string]string {
		return map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(u+":"+p))}
	}
	t.Run("a token stops working at the end of its lifetime", func(t *testing.T) {
		h := newHarness(t, 1, func(o *Options) { o.TokenLifetime = time.Minute })
		tok := h.oauthToken()
		if r := h.get("/api/v1/buildings", tok); r.status != 200 {
			t.Fatalf("fresh token: %d", r.status)
		}
		h.clock.Step(time.Minute)
		if r := h.get("/api/v1/buildings", tok); r.status != 401 || r.errCode() != "INVALID_TOKEN" {
			t.Fatalf("expired token: %d %s", r.status, r.raw)
		}
	})
	t.Run("expires_in reports the configured lifetime", func(t *testing.T) {
		h := newHarness(t, 1, func(o *Options) { o.TokenLifetime = 90 * time.Second })
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {testClientID}, "client_secret": {testSecret}}
		r := h.request(http.MethodPost, "/api/v1/oauth/token", "", form.Encode(), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
		if r.obj()["expires_in"] != float64(90) {
			t.Fatalf("expires_in %v", r.obj()["expires_in"])
		}
	})
	t.Run("a wrong client secret is invalid_client", func(t *testing.T) {
		h := newHarness(t, 1, nil)
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {testClientID}, "client_secret": {"x"}}
		r := h.request(http.MethodPost, "/api/v1/oauth/token", "", form.Encode(), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
		if r.status != 401 || r.obj()["error"] != "invalid_client" {
			t.Fatalf("%d %s", r.status, r.raw)
		}
	})
	t.Run("the deprecated /api/oauth/token is not served: the schema names /api/v1/oauth/token", func(t *testing.T) {
		h := newHarness(t, 1, nil)
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {testClientID}, "client_secret": {testSecret}}
		r := h.request(http.MethodPost, "/api/oauth/token", "", form.Encode(), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
		if r.status != http.StatusNotFound {
			t.Fatalf("%d %s", r.status, r.raw)
		}
	})
	t.Run("a missing grant type is a 400", func(t *testing.T) {
		h := newHarness(t, 1, nil)
		form := url.Values{"client_id": {testClientID}, "client_secret": {testSecret}}
		r := h.request(http.MethodPost, "/api/v1/oauth/token", "", form.Encode(), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
		if r.status != 400 {
			t.Fatalf("%d %s", r.status, r.raw)
		}
	})
	t.Run("the legacy flow refuses a wrong password", func(t *testing.T) {
		h := newHarness(t, 1, nil)
		if r := h.request(http.MethodPost, "/api/v1/auth/token", "", nil, basic(testUser, "bad")); r.status != 401 {
			t.Fatalf("%d", r.status)
		}
	})
	t.Run("keep-alive trades a token for a new one and retires the old", func(t *testing.T) {
		h := newHarness(t, 1, nil)
		r := h.request(http.MethodPost, "/api/v1/auth/token", "", nil, basic(testUser, testPassword))
		old := r.obj()["token"].(string)
		k := h.request(http.MethodPost, "/api/v1/auth/keep-alive", old, nil, nil)
		if k.status != 200 {
			t.Fatalf("keep-alive %d", k.status)
		}
		if r := h.get("/api/v1/buildings", old); r.status != 401 {
			t.Fatalf("old token still works: %d", r.status)
		}
		if r := h.get("/api/v1/buildings", k.obj()["token"].(string)); r.status != 200 {
			t.Fatalf("new token: %d", r.status)
		}
	})
	t.Run("invalidate-token ends a token", func(t *testing.T) {
		h := newHarness(t, 1, nil)
		tok := h.request(http.MethodPost, "/api/v1/auth/token", "", nil, basic(testUser, testPassword)).obj()["token"].(string)
		if r := h.request(http.MethodPost, "/api/v1/auth/invalidate-token", tok, nil, nil); r.status != 204 {
			t.Fatalf("%d", r.status)
		}
		if r := h.get("/api/v1/buildings", tok); r.status != 401 {
			t.Fatalf("%d", r.status)
		}
	})
	t.Run("a missing privilege is 403 INVALID_PRIVILEGE", func(t *testing.T) {
		h := newHarness(t, 1, func(o *Options) { o.Privileges = []string{PrivReadMobileDevices} })
		r := h.get("/api/v1/buildings", h.oauthToken())
		if r.status != 403 || r.errCode() != "INVALID_PRIVILEGE" {
			t.Fatalf("%d %s", r.status, r.raw)
		}
	})
}

func TestPatchSemantics(t *testing.T) {
	type check func(t *testing.T, h *harness, r response)
	wantStatus := func(code int, errCode string) check {
		return func(t *testing.T, h *harness, r response) {
			if r.status != code || r.errCode() != errCode {
				t.Fatalf("got %d %q, want %d %q: %s", r.status, r.errCode(), code, errCode, r.raw)
			}
		}
	}
	cases := []struct {
		name  string
		id    int
		body  any
		check check
	}{
		{"rename of a supervised device lands in inventory and queues SETTINGS", 1, map[string]any{"name": "STU-SER0001"},
			func(t *testing.T, h *harness, r response) {
				d, _ := h.sim.Device(1)
				cmds := h.sim.Commands()
				if d.Name != "STU-SER0001" || len(cmds) != 1 || cmds[0].Type != "SETTINGS" || cmds[0].Payload["deviceName"] != "STU-SER0001" {
					t.Fatalf("device %+v commands %+v", d, cmds)
				}
				if r.obj()["name"] != "STU-SER0001" {
					t.Fatalf("response name %v", r.obj()["name"])
				}
			}},
		{"rename of an unsupervised device leaves the name and queues nothing", 2, map[string]any{"name": "STU-SER0002", "enforceName": true},
			func(t *testing.T, h *harness, r response) {
				d, _ := h.sim.Device(2)
				if d.Name != "iPad 0004" || d.EnforceName || len(h.sim.Commands()) != 0 || r.obj()["name"] != "iPad 0004" {
					t.Fatalf("device %+v response %s", d, r.raw)
				}
			}},
		{"empty strings clear text location fields; absent fields stay", 1,
			map[string]any{"location": map[string]any{"username": "", "realName": "", "emailAddress": ""}},
			func(t *testing.T, h *harness, r response) {
				d, _ := h.sim.Device(1)
				if d.Username != "" || d.RealName != "" || d.Email != "" || d.Position != "Grade 9" || d.Room != "101" || d.BuildingID == 0 {
					t.Fatalf("device %+v", d)
				}
			}},
		{"building and department id -1 clear them", 1,
			map[string]any{"location": map[string]any{"buildingId": "-1", "departmentId": "-1"}},
			func(t *testing.T, h *harness, r response) {
				d, _ := h.sim.Device(1)
				loc := r.obj()["location"].(map[string]any)
				if d.BuildingID != 0 || d.DepartmentID != 0 || loc["buildingId"] != "-1" || loc["departmentId"] != "-1" {
					t.Fatalf("device %+v location %v", d, loc)
				}
			}},
		{"an existing building id sets it", 3, map[string]any{"location": map[string]any{"buildingId": "2"}},
			func(t *testing.T, h *harness, r response) {
				d, _ := h.sim.Device(3)
				if h.sim.BuildingName(d.BuildingID) != "Washington Middle" {
					t.Fatalf("device %+v", d)
				}
			}},
		{"an unknown building id is a 400 naming the field", 1, map[string]any{"location": map[string]any{"buildingId": "99"}}, wantStatus(400, "INVALID_ID")},
		{"an empty building id is a 400 (use -1)", 1, map[string]any{"location": map[string]any{"buildingId": ""}}, wantStatus(400, "INVALID_ID")},
		{"a property the schema lacks is a 400", 1, map[string]any{"displayName": "x"}, wantStatus(400, "INVALID_FIELD")},
		{"an empty name is a 400", 1, map[string]any{"name": " "}, wantStatus(400, "INVALID_FIELD")},
		{"an unknown device is a 404", 42, map[string]any{"name": "x"}, wantStatus(404, "INVALID_ID")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, 5, nil)
			r := h.request(http.MethodPatch, "/api/v2/mobile-devices/"+strconv.Itoa(tc.id), h.oauthToken(), tc.body, nil)
			tc.check(t, h, r)
		})
	}
	t.Run("a rejected PATCH changes nothing", func(t *testing.T) {
		h := newHarness(t, 5, nil)
		before, _ := h.sim.Device(1)
		r := h.request(http.MethodPatch, "/api/v2/mobile-devices/1", h.oauthToken(),
			map[string]any{"name": "NEW", "location": map[string]any{"username": "", "departmentId": "77"}}, nil)
		after, _ := h.sim.Device(1)
		if r.status != 400 || after.Name != before.Name || after.Username != before.Username {
			t.Fatalf("%d before %+v after %+v", r.status, before, after)
		}
	})
	t.Run("409 OPTIMISTIC_LOCK_FAILED changes nothing, the next PATCH applies", func(t *testing.T) {
		h := newHarness(t, 5, nil)
		tok := h.oauthToken()
		h.sim.ConflictNext(1, 1)
		r := h.request(http.MethodPatch, "/api/v2/mobile-devices/1", tok, map[string]any{"name": "A"}, nil)
		if d, _ := h.sim.Device(1); r.status != 409 || r.errCode() != "OPTIMISTIC_LOCK_FAILED" || d.Name == "A" {
			t.Fatalf("%d %s %+v", r.status, r.raw, d)
		}
		r = h.request(http.MethodPatch, "/api/v2/mobile-devices/1", tok, map[string]any{"name": "A"}, nil)
		if d, _ := h.sim.Device(1); r.status != 200 || d.Name != "A" {
			t.Fatalf("%d %+v", r.status, d)
		}
	})
}

func TestMDMCommands(t *testing.T) {
	post := func(h *harness, tok, mgmt string, data map[string]any) response {
		return h.request(http.MethodPost, "/api/v2/mdm/commands", tok, map[string]any{
			"clientData": []any{map[string]any{"managementId": mgmt}}, "commandData": data}, nil)
	}
	t.Run("ENABLE_LOST_MODE flips lostModeEnabled and is logged", func(t *testing.T) {
		h := newHarness(t, 3, nil)
		r := post(h, h.oauthToken(), "mgmt-0003", map[string]any{"commandType": "ENABLE_LOST_MODE", "lostModeMessage": "Return to LHS library", "lostModePhone": "555-0199", "lostModeFootnote": "Thanks"})
		d, _ := h.sim.Device(3)
		cmds := h.sim.Commands()
		if r.status != 201 || !d.LostMode || d.LostMessage != "Return to LHS library" || len(cmds) != 1 || cmds[0].ManagementID != "mgmt-0003" {
			t.Fatalf("%d %s %+v %+v", r.status, r.raw, d, cmds)
		}
	})
	t.Run("DISABLE_LOST_MODE clears it", func(t *testing.T) {
		h := newHarness(t, 3, nil)
		h.sim.mu.Lock()
		h.sim.devices[3].LostMode = true
		h.sim.mu.Unlock()
		r := post(h, h.oauthToken(), "mgmt-0003", map[string]any{"commandType": "DISABLE_LOST_MODE"})
		if d, _ := h.sim.Device(3); r.status != 201 || d.LostMode {
			t.Fatalf("%d %+v", r.status, d)
		}
	})
	t.Run("SETTINGS deviceName renames a supervised device", func(t *testing.T) {
		h := newHarness(t, 3, nil)
		post(h, h.oauthToken(), "mgmt-0001", map[string]any{"commandType": "SETTINGS", "deviceName": "LIB-1"})
		if d, _ := h.sim.Device(1); d.Name != "LIB-1" {
			t.Fatalf("%+v", d)
		}
	})
	rejects := []struct {
		name, mgmt string
		data       map[string]any
		status     int
		code       string
	}{
		{"Lost Mode on an unsupervised device is refused", "mgmt-0002", map[string]any{"commandType": "ENABLE_LOST_MODE", "lostModeMessage": "x"}, 500, "UNABLE_TO_QUEUE_COMMAND"},
		{"Lost Mode without message or phone is refused", "mgmt-0001", map[string]any{"commandType": "ENABLE_LOST_MODE", "lostModeFootnote": "x"}, 400, "INVALID_FIELD"},
		{"an unknown managementId is refused", "nope", map[string]any{"commandType": "DISABLE_LOST_MODE"}, 400, "INVALID_FIELD"},
		{"an unknown command type is refused", "mgmt-0001", map[string]any{"commandType": "SELF_DESTRUCT"}, 400, "INVALID_FIELD"},
	}
	for _, tc := range rejects {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, 3, nil)
			before, _ := h.sim.Device(2)
			r := post(h, h.oauthToken(), tc.mgmt, tc.data)
			after, _ := h.sim.Device(2)
			if r.status != tc.status || r.errCode() != tc.code || len(h.sim.Commands()) != 0 || before.LostMode != after.LostMode {
				t.Fatalf("%d %s commands %d", r.status, r.raw, len(h.sim.Commands()))
			}
		})
	}
	t.Run("the command listing needs a filter", func(t *testing.T) {
		h := newHarness(t, 1, nil)
		if r := h.get("/api/v2/mdm/commands", h.oauthToken()); r.status != 400 {
			t.Fatalf("%d", r.status)
		}
	})
}

func TestLookups(t *testing.T) {
	h := newHarness(t, 1, func(o *Options) { o.Departments = []string{"Library", "Science"} })
	tok := h.oauthToken()
	cases := []struct{ name, path, want string }{
		{"buildings come from the schools, sorted by id", "/api/v1/buildings", "Lincoln High,Washington Middle"},
		{"departments come from options and devices", "/api/v1/departments", "Library,Science,Grade 9"},
		{"filter by name", "/api/v1/buildings?filter=" + url.QueryEscape(`name=="Washington Middle"`), "Washington Middle"},
		{"paged", "/api/v1/departments?page=1&page-size=2", "Grade 9"},
		{"sorted by name descending", "/api/v1/departments?sort=name:desc", "Science,Library,Grade 9"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := h.get(tc.path, tok)
			var names []string
			for _, x := range r.obj()["results"].([]any) {
				names = append(names, x.(map[string]any)["name"].(string))
			}
			if got := strings.Join(names, ","); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestFaultsAndCountersComeFromSimhttp(t *testing.T) {
	h := newHarness(t, 2, nil)
	tok := h.oauthToken()
	h.sim.HTTP().FailNext("GET /api/v1/buildings", 1, simhttp.FaultHTML502)
	r := h.get("/api/v1/buildings", tok)
	if r.status != 502 || !strings.Contains(r.ctype, "text/html") {
		t.Fatalf("%d %q", r.status, r.ctype)
	}
	if r := h.get("/api/v1/buildings", tok); r.status != 200 {
		t.Fatalf("%d", r.status)
	}
	calls := h.sim.HTTP().Calls()
	if calls["GET /api/v1/buildings"] != 2 || calls["POST /api/v1/oauth/token"] != 1 {
		t.Fatalf("calls %v", calls)
	}
}

// FuzzRSQL: the filter parser never panics, and whatever it accepts only uses supported fields.
func FuzzRSQL(f *testing.F) {
	for _, s := range []string{`serialNumber=in=(A,"B")`, `supervised==true;managed==true`, `a==1,b==2`, `x=in=(`, `"`, `;;`, `username!="a;b"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, filter string) {
		pred, err := parseRSQL(filter)
		if err != nil {
			return
		}
		_ = pred(map[string]string{"serialNumber": "A"})
	})
}

func TestAnAppleTVIsListedAsTvOSWithoutASecuritySection(t *testing.T) {
	v := loadSchema(t)
	h := newHarness(t, 3, nil)
	h.sim.SetModel(2, "Apple TV 4K (3rd generation)")
	r := h.get("/api/v2/mobile-devices/detail?"+allSectionsQuery+"&sort=mobileDeviceId:asc", h.oauthToken())
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	// The discriminator picks MobileDeviceTvOsInventory for "tvOS": a security property there is an error.
	if errs := v.Validate("MobileDeviceInventorySearchResults", r.json); len(errs) > 0 {
		t.Fatal(errs)
	}
	res := r.obj()["results"].([]any)
	tv := res[1].(map[string]any)
	if tv["deviceType"] != "tvOS" {
		t.Fatalf("deviceType %v, want tvOS", tv["deviceType"])
	}
	if _, has := tv["security"]; has {
		t.Fatalf("an Apple TV listed with a security section: %v", tv)
	}
	if ipad := res[0].(map[string]any); ipad["deviceType"] != "iOS" || ipad["security"] == nil {
		t.Fatalf("an iPad listed as %v without security", ipad["deviceType"])
	}
}

// Each MDM command needs its own privilege besides the endpoint's; a rename through PATCH sends a
// SETTINGS command and needs that command's. Jamf refuses with 403 INVALID_PRIVILEGE naming the command
// type, and changes nothing.
func TestCommandPrivileges(t *testing.T) {
	v := loadSchema(t)
	lost := map[string]any{"clientData": []any{map[string]any{"managementId": "mgmt-0001"}},
		"commandData": map[string]any{"commandType": "ENABLE_LOST_MODE", "lostModeMessage": "Return to the library"}}
	unlock := map[string]any{"clientData": []any{map[string]any{"managementId": "mgmt-0001"}},
		"commandData": map[string]any{"commandType": "DISABLE_LOST_MODE"}}
	rename := map[string]any{"name": "STU-NEW"}
	cases := []struct {
		name     string
		missing  string
		method   string
		path     string
		body     any
		wantDesc string // "" when allowed
	}{
		{"ENABLE_LOST_MODE without the Lost Mode privilege", PrivLostModeCommand, http.MethodPost, "/api/v2/mdm/commands", lost,
			"User " + testClientID + " not privileged for [ENABLE_LOST_MODE]"},
		{"DISABLE_LOST_MODE without the Lost Mode privilege", PrivLostModeCommand, http.MethodPost, "/api/v2/mdm/commands", unlock,
			"User " + testClientID + " not privileged for [DISABLE_LOST_MODE]"},
		{"a rename without the Set Device Name privilege", PrivSetDeviceNameCommand, http.MethodPatch, "/api/v2/mobile-devices/1", rename,
			"User " + testClientID + " not privileged for [SETTINGS]"},
		{"a rename needs no Lost Mode privilege", PrivLostModeCommand, http.MethodPatch, "/api/v2/mobile-devices/1", rename, ""},
		{"a Lost Mode command needs no rename privilege", PrivSetDeviceNameCommand, http.MethodPost, "/api/v2/mdm/commands", lost, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, 1, nil)
			var privs []string
			for _, p := range AllPrivileges {
				if p != tc.missing {
					privs = append(privs, p)
				}
			}
			h.sim.SetPrivileges(privs...)
			before, _ := h.sim.Device(1)
			r := h.request(tc.method, tc.path, h.oauthToken(), tc.body, nil)
			if tc.wantDesc == "" {
				if r.status >= 300 {
					t.Fatalf("%d %s", r.status, r.raw)
				}
				return
			}
			if r.status != http.StatusForbidden || r.errCode() != "INVALID_PRIVILEGE" || !strings.Contains(string(r.raw), tc.wantDesc) {
				t.Fatalf("%d %s, want 403 INVALID_PRIVILEGE %q", r.status, r.raw, tc.wantDesc)
			}
			if errs := v.Validate("ApiError", r.json, "$.errors[].field"); len(errs) > 0 {
				t.Fatal(errs)
			}
			after, _ := h.sim.Device(1)
			if after.Name != before.Name || after.LostMode != before.LostMode || len(h.sim.Commands()) != 0 {
				t.Fatalf("a refused request changed the device or queued a command")
			}
		})
	}
}
