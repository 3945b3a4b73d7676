package school

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// referenceDir is the directory of the real Jamf School replies (see its README.md).
func referenceDir(t *testing.T) string {
	t.Helper()
	return "testdata/responses"
}

// serveFile answers every request with the reference file, with the status in its name
// (METHOD_path__status[__variant].json), and records the request.
func serveFile(t *testing.T, name string, seen *[]*http.Request) *Client {
	t.Helper()
	body, err := os.ReadFile(filepath.Join(referenceDir(t), name))
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(strings.TrimSuffix(name, ".json"), "__")
	status, err := strconv.Atoi(parts[1])
	if err != nil {
		t.Fatalf("%s: no status in name", name)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if seen != nil {
			*seen = append(*seen, r)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return newTestClient(t, srv.URL+"/api", nil)
}

// Every reference response decodes through the client's types, and the fields the engine needs
// come out right, including those whose JSON type differs between list and single-device answers.
func TestEveryReferenceFileDecodes(t *testing.T) {
	ctx := context.Background()
	tests := map[string]func(t *testing.T, c *Client){
		"GET_devices__200.json": func(t *testing.T, c *Client) {
			ds, err := c.Devices(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(ds) != 80 {
				t.Fatalf("%d devices, want 80 (the body's count is 0: the array is the truth)", len(ds))
			}
			d := ds[0]
			if d.Owner == nil || d.Owner.Username != "[redacted]" || d.ModelType != "[redacted]" || d.LastCheckin != "[redacted]" ||
				d.EnrollType != "ac2" || d.Serial != "[redacted]" || d.Notes != "[redacted]" || d.AssetTag != "[redacted]" {
				t.Errorf("device 0 decoded as %+v (owner %+v)", d, d.Owner)
			}
		},
		"GET_devices__405.json": func(t *testing.T, c *Client) {
			_, err := c.Devices(ctx)
			var ae *APIError
			if !errors.As(err, &ae) || ae.Shape != ShapeWrapped || ae.Code != 405 || !errors.Is(err, ErrPermissionDenied) {
				t.Fatalf("got %v, want a wrapped 405 permission error", err)
			}
			if !strings.Contains(err.Error(), "GET /devices") || !strings.Contains(err.Error(), "not allowed using this API key") {
				t.Errorf("error %q should name the method, path and message", err)
			}
		},
		"GET_devices_udid__200.json": func(t *testing.T, c *Client) {
			d, err := c.Device(ctx, "X")
			if err != nil {
				t.Fatal(err)
			}
			if d.Owner == nil || d.ModelType != "iPad" || d.LastCheckin != "[redacted]" || d.EnrollType != "dep" || d.InTrash {
				t.Errorf("decoded as %+v (owner %+v)", d, d.Owner)
			}
		},
		"GET_devices_udid__200__no_owner.json": func(t *testing.T, c *Client) {
			d, err := c.Device(ctx, "X")
			if err != nil {
				t.Fatal(err)
			}
			if d.Owner != nil || d.EnrollType != "ac2" || d.ModelType != "[redacted]" {
				t.Errorf("decoded as %+v (owner %+v), want no owner", d, d.Owner)
			}
		},
		"GET_devices_udid__404.json": func(t *testing.T, c *Client) {
			_, err := c.Device(ctx, "X")
			var ae *APIError
			if !errors.As(err, &ae) || ae.Shape != ShapeFlat || ae.Message != "DeviceNotFound" || !errors.Is(err, ErrNotFound) {
				t.Fatalf("got %v, want flat 404 DeviceNotFound", err)
			}
		},
		"GET_locations__200.json": func(t *testing.T, c *Client) {
			ls, err := c.Locations(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(ls) != 2 || ls[0].SchoolNumber != "" || ls[1].SchoolNumber != "[redacted]" || ls[0].Name != "[redacted]" {
				t.Errorf("decoded as %+v", ls)
			}
		},
		"GET_users__200.json": func(t *testing.T, c *Client) {
			us, err := c.Users(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(us) != 105 || us[0].Status != "Active" || us[0].Username != "[redacted]" {
				t.Errorf("decoded %d users, first %+v", len(us), us[0])
			}
		},
		"GET_users_id__200.json": func(t *testing.T, c *Client) {
			u, err := c.User(ctx, 1)
			if err != nil {
				t.Fatal(err)
			}
			if u.Email != "[redacted]" || len(u.GroupIDs) != 2 || u.Status != "Active" {
				t.Errorf("decoded as %+v", u)
			}
		},
		"GET_users_id__404.json": func(t *testing.T, c *Client) {
			_, err := c.User(ctx, 1)
			var ae *APIError
			if !errors.As(err, &ae) || ae.Message != "UserNotFound" || !errors.Is(err, ErrNotFound) {
				t.Fatalf("got %v, want UserNotFound", err)
			}
		},
		"GET_users_groups_id__200.json": func(t *testing.T, c *Client) {
			g, err := c.Group(ctx, 1)
			if err != nil {
				t.Fatal(err)
			}
			if g.Name != "[redacted]" || g.ACL != (GroupACL{Teacher: ACLInherit, Parent: ACLInherit}) {
				t.Errorf("decoded as %+v", g)
			}
		},
		"GET_users_groups_id__404.json": func(t *testing.T, c *Client) {
			_, err := c.Group(ctx, 1)
			var ae *APIError
			if !errors.As(err, &ae) || ae.Message != "GroupNotFound" || !errors.Is(err, ErrNotFound) {
				t.Fatalf("got %v, want GroupNotFound", err)
			}
		},
		"PUT_users_groups_id__200.json": func(t *testing.T, c *Client) {
			if err := c.UpdateGroup(ctx, 1, GroupUpdate{Name: "G"}); err != nil {
				t.Fatal(err)
			}
		},
		"PUT_users_id__200.json": func(t *testing.T, c *Client) {
			if err := c.UpdateUser(ctx, 1, UserUpdate{Notes: strp("n")}); err != nil {
				t.Fatal(err)
			}
		},
		"PUT_users_id_migrate__200.json": func(t *testing.T, c *Client) {
			if err := c.MoveUser(ctx, 1, 2); err != nil {
				t.Fatal(err)
			}
		},
		"PUT_devices_udid_migrate__200.json": func(t *testing.T, c *Client) {
			if err := c.MoveToLocation(ctx, "X", 1); err != nil {
				t.Fatal(err)
			}
		},
		"PUT_devices_udid_owner__200.json": func(t *testing.T, c *Client) {
			if err := c.SetOwner(ctx, "X", 1); err != nil {
				t.Fatal(err)
			}
		},
	}
	entries, err := os.ReadDir(referenceDir(t))
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".json") {
			files = append(files, e.Name())
		}
	}
	sort.Strings(files)
	// Endpoints a sync never calls (bulk moves, notes and asset tags): only the simulator's tests read these.
	simOnly := map[string]bool{"POST_devices_udid_details__200.json": true, "PUT_devices_migrate__200.json": true}
	files = slices.DeleteFunc(files, func(f string) bool { return simOnly[f] })
	for _, f := range files {
		check, ok := tests[f]
		if !ok {
			t.Errorf("reference file %s has no decoding case: add one", f)
			continue
		}
		t.Run(f, func(t *testing.T) { check(t, serveFile(t, f, nil)) })
	}
	if len(files) != len(tests) {
		t.Errorf("%d reference files, %d cases", len(files), len(tests))
	}
}

// The request each method sends has the documented method, path and JSON body.
func TestRequestsMatchTheDocumentedEndpoints(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name       string
		file       string
		call       func(c *Client) error
		wantMethod string
		wantPath   string
		wantQuery  string
		wantBody   string
	}{
		{"SetOwner", "PUT_devices_udid_owner__200.json", func(c *Client) error { return c.SetOwner(ctx, "AB/CD", 42) },
			"PUT", "/api/devices/AB%2FCD/owner", "", `{"user":42}`},
		{"RemoveOwner sends user 0", "PUT_devices_udid_owner__200.json", func(c *Client) error { return c.RemoveOwner(ctx, "U1") },
			"PUT", "/api/devices/U1/owner", "", `{"user":0}`},
		{"MoveToLocation", "PUT_devices_udid_migrate__200.json", func(c *Client) error { return c.MoveToLocation(ctx, "U1", 3) },
			"PUT", "/api/devices/U1/migrate", "", `{"locationId":3,"onlyDevice":true}`},
		{"Locations", "GET_locations__200.json", func(c *Client) error { _, err := c.Locations(ctx); return err },
			"GET", "/api/locations", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var seen []*http.Request
			var bodies []string
			c := serveFile(t, tt.file, &seen)
			c.hc.Transport = recordBodies(c.hc.Transport, &bodies)
			if err := tt.call(c); err != nil {
				t.Fatal(err)
			}
			if len(seen) != 1 {
				t.Fatalf("%d requests, want 1", len(seen))
			}
			r := seen[0]
			if r.Method != tt.wantMethod || r.URL.EscapedPath() != tt.wantPath || r.URL.RawQuery != tt.wantQuery {
				t.Errorf("sent %s %s?%s, want %s %s?%s", r.Method, r.URL.EscapedPath(), r.URL.RawQuery, tt.wantMethod, tt.wantPath, tt.wantQuery)
			}
			if got := strings.Join(bodies, ""); got != tt.wantBody {
				t.Errorf("body %s, want %s", got, tt.wantBody)
			}
			if r.Header.Get("X-Server-Protocol-Version") != "3" {
				t.Errorf("X-Server-Protocol-Version %q, want 3", r.Header.Get("X-Server-Protocol-Version"))
			}
			if u, p, ok := r.BasicAuth(); !ok || u != testNetworkID || p != testAPIKey {
				t.Errorf("basic auth %q/%q %v", u, p, ok)
			}
		})
	}
}
