package jamfpro

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/k12dev/devicesync-operator/internal/clock"
	"github.com/k12dev/devicesync-operator/internal/sim/district"
)

const (
	testClientID = "client-1"
	testSecret   = "s3cret-value"
	testUser     = "apiuser"
	testPassword = "p4ss"
)

func newClock() *clock.Fake { return clock.NewFake(time.Date(2026, 1, 5, 7, 0, 0, 0, time.UTC)) }

// testDistrict has two schools and n devices: odd ids supervised, every 5th unmanaged, device 1 with a
// user and location, device 2 in Lost Mode. Serials are SER0001...
func testDistrict(n int) *district.District {
	d := &district.District{
		Schools: []district.School{
			{InternalID: 1, ShortName: "LHS", Name: "Lincoln High School", Building: "Lincoln High"},
			{InternalID: 2, ShortName: "WMS", Name: "Washington Middle School", Building: "Washington Middle"},
		},
	}
	for i := 1; i <= n; i++ {
		dv := district.Device{
			ID: i, UDID: fmt.Sprintf("udid-%04d", i), ManagementID: fmt.Sprintf("mgmt-%04d", i),
			Serial: fmt.Sprintf("SER%04d", i), Name: fmt.Sprintf("iPad %04d", n+1-i), Model: "iPad 10th Gen",
			Managed: i%5 != 0, Supervised: i%2 == 1,
		}
		if i == 1 {
			dv.Username, dv.RealName, dv.Email, dv.Position, dv.Phone = "jdoe", "Jane Doe", "jdoe@example.org", "Grade 9", "555-0100"
			dv.Building, dv.Department, dv.Room = "Lincoln High", "Grade 9", "101"
		}
		if i == 2 {
			dv.LostMode = true
		}
		d.Devices = append(d.Devices, dv)
	}
	return d
}

type harness struct {
	t     *testing.T
	sim   *Server
	ts    *httptest.Server
	clock *clock.Fake
}

func newHarness(t *testing.T, n int, mutate func(*Options)) *harness {
	t.Helper()
	clock := newClock()
	opts := Options{ClientID: testClientID, ClientSecret: testSecret, Username: testUser, Password: testPassword,
		Now: clock.Now, ExceptionHandling: true, Departments: []string{"Library"}}
	if mutate != nil {
		mutate(&opts)
	}
	sim := New(testDistrict(n), opts)
	ts := httptest.NewServer(sim)
	t.Cleanup(ts.Close)
	return &harness{t: t, sim: sim, ts: ts, clock: clock}
}

// response is a raw answer: status, content type and the decoded JSON (nil when not JSON).
type response struct {
	status int
	ctype  string
	raw    []byte
	json   any
}

func (r response) obj() map[string]any {
	m, _ := r.json.(map[string]any)
	return m
}

// errCode returns errors[0].code of an ApiError body.
func (r response) errCode() string {
	errs, _ := r.obj()["errors"].([]any)
	if len(errs) == 0 {
		return ""
	}
	c, _ := errs[0].(map[string]any)["code"].(string)
	return c
}

func (h *harness) request(method, path, token string, body any, hdr map[string]string) response {
	h.t.Helper()
	var rd io.Reader
	if s, ok := body.(string); ok {
		rd = strings.NewReader(s)
	} else if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			h.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, h.ts.URL+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := h.ts.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := response{status: resp.StatusCode, ctype: resp.Header.Get("Content-Type"), raw: raw}
	_ = json.Unmarshal(raw, &out.json)
	return out
}

func (h *harness) oauthToken() string {
	h.t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {testClientID}, "client_secret": {testSecret}}
	r := h.request(http.MethodPost, "/api/v1/oauth/token", "", form.Encode(), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	if r.status != http.StatusOK {
		h.t.Fatalf("token: %d %s", r.status, r.raw)
	}
	return r.obj()["access_token"].(string)
}

func (h *harness) get(path, token string) response {
	h.t.Helper()
	return h.request(http.MethodGet, path, token, nil, nil)
}

const allSectionsQuery = "section=GENERAL&section=HARDWARE&section=USER_AND_LOCATION&section=SECURITY"
