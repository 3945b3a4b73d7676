package jamfschool

import (
	"reflect"
	"testing"

	"github.com/k12dev/devicesync-operator/internal/sim/district"
)

// The roster routes refuse what the real API refuses (or, where marked, what Jamf's clients say it
// refuses), in the flat {"code","message"} shape.
func TestRosterRefusals(t *testing.T) {
	tests := []struct {
		name        string
		setup       func(h *harness) string // returns a class uuid when the case needs one
		call        func(uuid string) call
		wantStatus  int
		wantMessage string
	}{
		{"an unknown user is UserNotFound on PUT", nil, func(string) call { return call{method: "PUT", path: "/api/users/999", body: `{"notes":"x"}`} }, 404, "UserNotFound"},
		{"an unknown user is UserNotFound on migrate", nil, func(string) call {
			return call{method: "PUT", path: "/api/users/999/migrate", body: `{"locationId":11,"onlyUser":true}`}
		}, 404, "UserNotFound"},
		{"an unknown user is UserNotFound on DELETE", nil, func(string) call { return call{method: "DELETE", path: "/api/users/999"} }, 404, "UserNotFound"},
		{"an unknown group is GroupNotFound on PUT", nil, func(string) call { return call{method: "PUT", path: "/api/users/groups/999", body: `{"name":"G"}`} }, 404, "GroupNotFound"},
		{"a group's location cannot change", nil, func(string) call {
			return call{method: "PUT", path: "/api/users/groups/1", body: `{"name":"G","locationId":12}`}
		}, 400, "GroupLocationCannotChange"},
		{"an acl value other than allow, deny, inherit is refused", nil, func(string) call {
			return call{method: "POST", path: "/api/users/groups", body: `{"name":"G","locationId":11,"acl":{"teacher":"yes"}}`}
		}, 400, "InvalidAcl"},
		{"a duplicate username is refused on create", nil, func(string) call {
			return call{method: "POST", path: "/api/users", body: `{"username":"ADA.lovelace","password":"p","email":"n@x.org","firstName":"A","lastName":"L","locationId":11}`}
		}, 409, "UserAlreadyExists"},
		{"an unknown group id in memberOf is refused on create", nil, func(string) call {
			return call{method: "POST", path: "/api/users", body: `{"username":"new","password":"p","email":"n@x.org","firstName":"A","lastName":"L","locationId":11,"memberOf":[999]}`}
		}, 404, "GroupNotFound"},
		{"a duplicate email is refused on create", nil, func(string) call {
			return call{method: "POST", path: "/api/users", body: `{"username":"new","password":"p","email":"Ada@Example.org","firstName":"A","lastName":"L","locationId":11}`}
		}, 409, "EmailAlreadyExists"},
		{"an unknown class is ClassNotFound (message assumed)", nil, func(string) call { return call{method: "GET", path: "/api/classes/nope"} }, 404, "ClassNotFound"},
		{"class member ids sent as numbers are refused (strings required, per Jamf's SDK)",
			func(h *harness) string { return h.sim.AddClass(ClassState{Name: "C", LocationID: 11}) },
			func(uuid string) call {
				return call{method: "PUT", path: "/api/classes/" + uuid + "/users", body: `{"students":[1],"teachers":["2"]}`}
			}, 400, "InvalidUserIds"},
		{"class member ids of unknown users are refused",
			func(h *harness) string { return h.sim.AddClass(ClassState{Name: "C", LocationID: 11}) },
			func(uuid string) call {
				return call{method: "PUT", path: "/api/classes/" + uuid + "/users", body: `{"students":["999"],"teachers":[]}`}
			}, 404, "UserNotFound"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			uuid := ""
			if tt.setup != nil {
				uuid = tt.setup(h)
			}
			status, got := h.json(t, tt.call(uuid))
			want := map[string]any{"code": float64(tt.wantStatus), "message": tt.wantMessage}
			if status != tt.wantStatus || !reflect.DeepEqual(got, want) {
				t.Errorf("got %d %v, want %d %v", status, got, tt.wantStatus, want)
			}
			if uuid != "" && h.sim.WritesTo(uuid) != 0 {
				t.Errorf("a refused write counted against the class")
			}
		})
	}
}

func TestAnUnknownMemberOfNameCreatesTheGroup(t *testing.T) {
	h := newHarness(t)
	if status, _ := h.json(t, call{method: "PUT", path: "/api/users/1", body: `{"memberOf":[1,"Robotics"]}`}); status != 200 {
		t.Fatalf("status %d", status)
	}
	u, _ := h.sim.User(1)
	if len(u.GroupIDs) != 2 || u.GroupIDs[0] != 1 {
		t.Fatalf("groups %v, want [1 <new>]", u.GroupIDs)
	}
	g, ok := h.sim.Group(u.GroupIDs[1])
	if !ok || g.Name != "Robotics" || g.LocationID != 11 {
		t.Errorf("created group %+v, want Robotics at the user's location 11", g)
	}
}

// POST /users takes memberOf as the vendor spec documents it: ids join those groups, an unknown name
// creates the group at the new user's location.
func TestCreateUserJoinsItsMemberOfGroups(t *testing.T) {
	h := newHarness(t)
	status, got := h.json(t, call{method: "POST", path: "/api/users",
		body: `{"username":"new","password":"p","email":"n@x.org","firstName":"A","lastName":"L","locationId":11,"memberOf":[1,"Chess"]}`})
	if status != 200 {
		t.Fatalf("status %d %v", status, got)
	}
	u, ok := h.sim.UserByUsername("new")
	if !ok || len(u.GroupIDs) != 2 || u.GroupIDs[0] != 1 {
		t.Fatalf("user %+v, want groups [1 <new>]", u)
	}
	if g, ok := h.sim.Group(u.GroupIDs[1]); !ok || g.Name != "Chess" || g.LocationID != 11 {
		t.Errorf("created group %+v, want Chess at the new user's location 11", g)
	}
}

func TestDeleteUserMovesItToTheTrash(t *testing.T) {
	h := newHarness(t)
	if status, _ := h.json(t, call{method: "DELETE", path: "/api/users/2"}); status != 200 {
		t.Fatalf("status %d", status)
	}
	status, got := h.json(t, call{method: "GET", path: "/api/users/2"})
	if status != 200 || got.(map[string]any)["user"].(map[string]any)["status"] != "Trash" {
		t.Errorf("after DELETE: %d %v, want the user with status Trash", status, got)
	}
}

func TestMigrateWithoutOnlyUserMovesTheDevicesToo(t *testing.T) {
	tests := []struct {
		name          string
		body          string
		wantDeviceLoc int
	}{
		{"onlyUser true moves the user alone", `{"locationId":12,"onlyUser":true}`, 11},
		{"onlyUser absent moves the user's devices too", `{"locationId":12}`, 12},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			if status, _ := h.json(t, call{method: "PUT", path: "/api/users/1/migrate", body: tt.body}); status != 200 {
				t.Fatalf("status %d", status)
			}
			if d, _ := h.sim.Device("UDID-1"); d.LocationID != tt.wantDeviceLoc {
				t.Errorf("device at %d, want %d", d.LocationID, tt.wantDeviceLoc)
			}
		})
	}
}

// Class replies carry the fields Jamf's Go SDK decodes, with source never empty.
func TestClassRepliesHaveTheSDKFields(t *testing.T) {
	h := newHarness(t)
	uuid := h.sim.AddClass(ClassState{Name: "ASM Bio", LocationID: 11, Source: SourceASM, Students: []int{1}, Teachers: []int{2}})
	_, list := h.json(t, call{method: "GET", path: "/api/classes"})
	_, one := h.json(t, call{method: "GET", path: "/api/classes/" + uuid})
	keys := []string{"uuid", "name", "description", "locationId", "source", "image", "userGroupId", "studentCount", "teacherCount", "deviceGroupId", "deviceCount"}
	c0 := list.(map[string]any)["classes"].([]any)[0].(map[string]any)
	c1 := one.(map[string]any)["class"].(map[string]any)
	for _, k := range keys {
		if _, ok := c0[k]; !ok {
			t.Errorf("listing lacks %q", k)
		}
		if _, ok := c1[k]; !ok {
			t.Errorf("class lacks %q", k)
		}
	}
	if c1["source"] != SourceASM || !reflect.DeepEqual(c1["students"], []any{map[string]any{"id": float64(1)}}) ||
		!reflect.DeepEqual(c1["teachers"], []any{map[string]any{"id": float64(2)}}) {
		t.Errorf("class %v", c1)
	}
	if h.sim.WritesTo(uuid) != 0 {
		t.Errorf("reads counted as writes")
	}
}

func TestLoadRosterKeepsTheASMSourceAndCountsNoWrites(t *testing.T) {
	h := newHarness(t)
	d := testDistrict()
	r := district.GenerateRoster(d)
	uuids := h.sim.LoadRoster(d, r)
	asm, ok := h.sim.Class(uuids["class-asm"])
	if !ok || asm.Source != district.ASMSourceStandIn || asm.Source == SourceAPI {
		t.Fatalf("ASM class %+v, want source %q", asm, district.ASMSourceStandIn)
	}
	if len(asm.Students) != 1 || asm.Students[0] != 1 {
		t.Errorf("ASM class students %v, want [1] (ada.lovelace)", asm.Students)
	}
	if h.sim.WritesTo(asm.UUID) != 0 {
		t.Errorf("loading counted as writes")
	}
}

// The demo removes a few students' users before a run, as if Jamf School had never had them: the user
// leaves the classes it sat in too, so no class names a user the listing lacks, and that seeding is not
// counted as a write to the class.
func TestRemoveUserLeavesItsClassesWithoutCountingAWrite(t *testing.T) {
	sim := New(testDistrict(), Options{})
	uuid := sim.AddClass(ClassState{Name: "Band", LocationID: 11, Source: SourceASM, Students: []int{1}, Teachers: []int{2}})
	sim.RemoveUser(1)
	c, ok := sim.Class(uuid)
	if !ok || len(c.Students) != 0 || !reflect.DeepEqual(c.Teachers, []int{2}) {
		t.Errorf("class after removing user 1: %+v, want no students and teacher 2", c)
	}
	if n := sim.WritesTo(uuid); n != 0 {
		t.Errorf("WritesTo = %d, want 0: removing a user is seeding, not an API write", n)
	}
}

func TestClassesAndGroupsListCopiesInOrder(t *testing.T) {
	sim := New(testDistrict(), Options{})
	sim.AddGroup(GroupState{Name: "Students", LocationID: 11})
	sim.AddGroup(GroupState{Name: "Teachers", LocationID: 12, Teacher: "allow"})
	sim.AddClass(ClassState{Name: "Art", LocationID: 11, Students: []int{1}})
	sim.AddClass(ClassState{Name: "Band", LocationID: 12})

	classes := sim.AllClasses()
	if len(classes) != 2 || classes[0].Name != "Art" || classes[1].Name != "Band" || classes[0].Source != SourceAPI {
		t.Fatalf("AllClasses() = %+v, want Art (source %s) then Band", classes, SourceAPI)
	}
	classes[0].Students[0] = 99
	if again := sim.AllClasses(); again[0].Students[0] != 1 {
		t.Error("AllClasses() returned the simulator's own member slice, not a copy")
	}
	groups := sim.Groups()
	if len(groups) != 2 || groups[0].Name != "Students" || groups[1].Name != "Teachers" || groups[1].Teacher != "allow" {
		t.Errorf("Groups() = %+v, want Students then Teachers (teacher allow)", groups)
	}
}
