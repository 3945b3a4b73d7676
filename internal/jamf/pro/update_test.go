package pro

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/k12dev/devicesync-operator/internal/sim/jamfpro"
	"github.com/k12dev/devicesync-operator/internal/sim/simhttp"
)

func TestUpdateDevice(t *testing.T) {
	type check func(t *testing.T, e *env, got *MobileDevice, err error)
	cases := []struct {
		name  string
		id    int
		u     DeviceUpdate
		setup func(e *env)
		check check
	}{
		{"rename of a supervised device is applied and shown in the result", 3, DeviceUpdate{Name: ptr("STU-SER0003"), EnforceName: ptr(true)}, nil,
			func(t *testing.T, e *env, got *MobileDevice, err error) {
				d, _ := e.sim.Device(3)
				if err != nil || got.Name != "STU-SER0003" || !got.EnforceName || d.Name != "STU-SER0003" || !d.EnforceName {
					t.Fatalf("err %v got %+v sim %+v", err, got, d)
				}
				if cmds := e.sim.Commands(); len(cmds) != 1 || cmds[0].Type != "SETTINGS" {
					t.Fatalf("commands %+v", cmds)
				}
			}},
		{"rename of an unsupervised device: NameNotAppliedError with the device", 2, DeviceUpdate{Name: ptr("STU-SER0002")}, nil,
			func(t *testing.T, e *env, got *MobileDevice, err error) {
				var nn *NameNotAppliedError
				if !errors.As(err, &nn) || nn.Supervised || nn.Got != "iPad 0002" || got == nil || got.Name != "iPad 0002" {
					t.Fatalf("err %v got %+v", err, got)
				}
			}},
		{"user and location set by names", 3, DeviceUpdate{Location: &LocationUpdate{
			Username: ptr("asmith"), RealName: ptr("Al Smith"), Email: ptr("asmith@example.org"), Position: ptr("Grade 7"),
			Phone: ptr("555-0101"), Room: ptr("B12"), Building: ptr("Washington Middle"), Department: ptr("Library")}}, nil,
			func(t *testing.T, e *env, got *MobileDevice, err error) {
				d, _ := e.sim.Device(3)
				if err != nil || d.Username != "asmith" || d.RealName != "Al Smith" || d.Email != "asmith@example.org" || d.Position != "Grade 7" ||
					d.Phone != "555-0101" || d.Room != "B12" || e.sim.BuildingName(d.BuildingID) != "Washington Middle" || e.sim.DepartmentName(d.DepartmentID) != "Library" {
					t.Fatalf("err %v sim %+v", err, d)
				}
				if got.Building != "Washington Middle" || got.Department != "Library" || got.BuildingID != "2" || got.Username != "asmith" {
					t.Fatalf("result %+v", got)
				}
			}},
		{"a building name matches case-insensitively when unique", 3, DeviceUpdate{Location: &LocationUpdate{Building: ptr("lincoln high")}}, nil,
			func(t *testing.T, e *env, got *MobileDevice, err error) {
				if err != nil || got.Building != "Lincoln High" {
					t.Fatalf("err %v got %+v", err, got)
				}
			}},
		{"ClearUserAndLocation clears every field, building and department included", 1, DeviceUpdate{Location: ClearUserAndLocation()}, nil,
			func(t *testing.T, e *env, got *MobileDevice, err error) {
				d, _ := e.sim.Device(1)
				if err != nil || d.Username != "" || d.RealName != "" || d.Email != "" || d.Position != "" || d.Phone != "" || d.Room != "" ||
					d.BuildingID != 0 || d.DepartmentID != 0 {
					t.Fatalf("err %v sim %+v", err, d)
				}
				if got.Building != "" || got.BuildingID != "" || got.Department != "" || got.Username != "" {
					t.Fatalf("result %+v", got)
				}
			}},
		{"clearing only the user leaves building, department and room", 1, DeviceUpdate{Location: &LocationUpdate{Username: ptr(""), RealName: ptr(""), Email: ptr("")}}, nil,
			func(t *testing.T, e *env, got *MobileDevice, err error) {
				d, _ := e.sim.Device(1)
				if err != nil || d.Username != "" || d.Room != "101" || e.sim.BuildingName(d.BuildingID) != "Lincoln High" || d.Position != "Grade 9" {
					t.Fatalf("err %v sim %+v", err, d)
				}
			}},
		{"a name-only update leaves user and location untouched", 1, DeviceUpdate{Name: ptr("X")}, nil,
			func(t *testing.T, e *env, got *MobileDevice, err error) {
				d, _ := e.sim.Device(1)
				if err != nil || d.Username != "jdoe" || d.BuildingID == 0 || got.Building != "Lincoln High" {
					t.Fatalf("err %v sim %+v", err, d)
				}
			}},
		{"an unknown building name fails before any write", 1, DeviceUpdate{Name: ptr("New"), Location: &LocationUpdate{Building: ptr("Atlantis High")}}, nil,
			func(t *testing.T, e *env, got *MobileDevice, err error) {
				var un *UnknownNameError
				if !errors.As(err, &un) || un.Kind != "building" || un.Name != "Atlantis High" || !strings.Contains(err.Error(), `"Atlantis High"`) {
					t.Fatalf("err %v", err)
				}
				if e.calls(routePatch) != 0 {
					t.Fatal("a PATCH was sent")
				}
				if d, _ := e.sim.Device(1); d.Name != "iPad 0001" {
					t.Fatalf("sim %+v", d)
				}
			}},
		{"an unknown department name fails before any write", 1, DeviceUpdate{Location: &LocationUpdate{Department: ptr("Alchemy")}}, nil,
			func(t *testing.T, e *env, got *MobileDevice, err error) {
				var un *UnknownNameError
				if !errors.As(err, &un) || un.Kind != "department" || e.calls(routePatch) != 0 {
					t.Fatalf("err %v", err)
				}
			}},
		{"409 OPTIMISTIC_LOCK_FAILED is retried", 1, DeviceUpdate{Name: ptr("A")}, func(e *env) { e.sim.ConflictNext(1, 2) },
			func(t *testing.T, e *env, got *MobileDevice, err error) {
				if err != nil || got.Name != "A" || e.calls(routePatch) != 3 {
					t.Fatalf("err %v calls %d", err, e.calls(routePatch))
				}
			}},
		{"409 past the retries is an APIError matching ErrOptimisticLockFailed", 1, DeviceUpdate{Name: ptr("A")}, func(e *env) { e.sim.ConflictNext(1, 10) },
			func(t *testing.T, e *env, got *MobileDevice, err error) {
				var ae *APIError
				if !errors.Is(err, ErrOptimisticLockFailed) || !errors.As(err, &ae) || ae.StatusCode != 409 || e.calls(routePatch) != 4 {
					t.Fatalf("err %v calls %d", err, e.calls(routePatch))
				}
			}},
		{"HTML 502 then success", 1, DeviceUpdate{Name: ptr("A")}, func(e *env) { e.sim.HTTP().FailNext(routePatch, 1, simhttp.FaultHTML502) },
			func(t *testing.T, e *env, got *MobileDevice, err error) {
				if err != nil || got.Name != "A" || e.calls(routePatch) != 2 {
					t.Fatalf("err %v calls %d", err, e.calls(routePatch))
				}
			}},
		{"an unknown device is a 404 APIError, not retried", 99, DeviceUpdate{Name: ptr("A")}, nil,
			func(t *testing.T, e *env, got *MobileDevice, err error) {
				var ae *APIError
				if !errors.As(err, &ae) || ae.StatusCode != 404 || ae.Retryable || e.calls(routePatch) != 1 {
					t.Fatalf("err %v calls %d", err, e.calls(routePatch))
				}
			}},
		{"a missing privilege is a 403 APIError, not retried", 1, DeviceUpdate{Name: ptr("A")},
			func(e *env) { e.sim.SetPrivileges(jamfpro.PrivReadBuildings, jamfpro.PrivReadDepartments) },
			func(t *testing.T, e *env, got *MobileDevice, err error) {
				if !errors.Is(err, ErrInvalidPrivilege) || e.calls(routePatch) != 1 {
					t.Fatalf("err %v calls %d", err, e.calls(routePatch))
				}
			}},
		{"an empty update is refused without a call", 1, DeviceUpdate{}, nil,
			func(t *testing.T, e *env, got *MobileDevice, err error) {
				if err == nil || e.sim.HTTP().TotalCalls() != 0 {
					t.Fatalf("err %v", err)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOpts{devices: 5})
			if tc.setup != nil {
				tc.setup(e)
			}
			got, err := e.client.UpdateDevice(context.Background(), tc.id, tc.u)
			tc.check(t, e, got, err)
		})
	}
}

// TestPatchBodyCarriesTheClearingStrategy pins what goes on the wire: "" for text, "-1" for building
// and department, and nothing for fields left nil.
func TestPatchBodyCarriesTheClearingStrategy(t *testing.T) {
	e := newEnv(t, envOpts{devices: 2})
	var body map[string]any
	e.hook(func(r *http.Request) {
		if r.Method == http.MethodPatch {
			b, _ := io.ReadAll(r.Body)
			_ = json.Unmarshal(b, &body)
			r.Body = io.NopCloser(strings.NewReader(string(b)))
		}
	})
	u := DeviceUpdate{Location: &LocationUpdate{Username: ptr(""), Building: ptr(""), Department: ptr("")}}
	if _, err := e.client.UpdateDevice(context.Background(), 1, u); err != nil {
		t.Fatal(err)
	}
	loc, _ := body["location"].(map[string]any)
	want := map[string]any{"username": "", "buildingId": "-1", "departmentId": "-1"}
	if len(body) != 1 || len(loc) != len(want) {
		t.Fatalf("body %v", body)
	}
	for k, v := range want {
		if loc[k] != v {
			t.Fatalf("location.%s = %v, want %q (body %v)", k, loc[k], v, body)
		}
	}
}

func TestLookupsAreCachedUntilRefreshed(t *testing.T) {
	e := newEnv(t, envOpts{devices: 3})
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if _, err := e.client.UpdateDevice(ctx, 1, DeviceUpdate{Location: &LocationUpdate{Building: ptr("Lincoln High")}}); err != nil {
			t.Fatal(err)
		}
	}
	if e.calls(routeBuildings) != 1 || e.calls(routeDepts) != 1 {
		t.Fatalf("calls %v", e.sim.HTTP().Calls())
	}
	e.sim.AddBuilding("New Annex")
	_, err := e.client.UpdateDevice(ctx, 1, DeviceUpdate{Location: &LocationUpdate{Building: ptr("New Annex")}})
	var un *UnknownNameError
	if !errors.As(err, &un) {
		t.Fatalf("a building created after the cache was loaded: err %v, want UnknownNameError", err)
	}
	if err := e.client.RefreshLookups(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.UpdateDevice(ctx, 1, DeviceUpdate{Location: &LocationUpdate{Building: ptr("New Annex")}}); err != nil {
		t.Fatal(err)
	}
	if e.calls(routeBuildings) != 2 {
		t.Fatalf("building listings %d", e.calls(routeBuildings))
	}
}

func TestLookupsPageThroughLongLists(t *testing.T) {
	e := newEnv(t, envOpts{devices: 1})
	for i := 0; i < lookupPageSize+5; i++ {
		e.sim.AddBuilding("Building " + strings.Repeat("x", i%3) + string(rune('A'+i%26)) + strconv.Itoa(i))
	}
	b, err := e.client.Buildings(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != lookupPageSize+5+2 || e.calls(routeBuildings) != 2 {
		t.Fatalf("%d buildings in %d calls", len(b), e.calls(routeBuildings))
	}
}

func TestAFailedNameLookupAfterASuccessfulPatchIsNotAnError(t *testing.T) {
	e := newEnv(t, envOpts{devices: 2, cfg: func(c *Config) { c.MaxRetries = 1 }})
	e.sim.HTTP().FailNext(routeBuildings, 5, simhttp.FaultStatus500)
	got, err := e.client.UpdateDevice(context.Background(), 1, DeviceUpdate{Name: ptr("B")})
	if err != nil || got.Name != "B" || got.BuildingID != "1" || got.Building != "" {
		t.Fatalf("err %v got %+v", err, got)
	}
}
