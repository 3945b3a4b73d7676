package school

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/k12dev/devicesync-operator/internal/sim/jamfschool"
	"github.com/k12dev/devicesync-operator/internal/sim/simhttp"
)

// testDistrict's users: 1 ada.lovelace (location 11, owns UDID-1), 2 aturing (12), 3 ghopper (12).

func strp(s string) *string { return &s }

func TestUpdateUserIsPartialAndMemberOfReplacesMemberships(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name       string
		before     []any // memberOf sent first (nil: none)
		update     func() UserUpdate
		wantNotes  string
		wantGroups []string
	}{
		{"a field left out keeps its value and memberships are kept when memberOf is left out",
			[]any{"Students"}, func() UserUpdate { return UserUpdate{FirstName: strp("Augusta")} }, "", []string{"Students"}},
		{"memberOf replaces every membership", []any{"Students", "Band"},
			func() UserUpdate { return UserUpdate{MemberOf: []any{"Band"}} }, "", []string{"Band"}},
		{"an empty memberOf clears memberships", []any{"Students"},
			func() UserUpdate { u := UserUpdate{Notes: strp("left")}; u.ClearMemberships(); return u }, "left", nil},
		{"an unknown group name creates the group", nil,
			func() UserUpdate { return UserUpdate{MemberOf: []any{"Robotics"}} }, "", []string{"Robotics"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim, c := newSim(t, nil)
			if tt.before != nil {
				if err := c.UpdateUser(ctx, 1, UserUpdate{MemberOf: tt.before}); err != nil {
					t.Fatal(err)
				}
			}
			if err := c.UpdateUser(ctx, 1, tt.update()); err != nil {
				t.Fatal(err)
			}
			u, err := c.User(ctx, 1)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(u.Groups, tt.wantGroups) || len(u.GroupIDs) != len(tt.wantGroups) {
				t.Errorf("groups %v (ids %v), want %v", u.Groups, u.GroupIDs, tt.wantGroups)
			}
			if u.Notes != tt.wantNotes || u.Email != "ada@example.org" {
				t.Errorf("notes %q email %q, want %q and the email untouched", u.Notes, u.Email, tt.wantNotes)
			}
			st, _ := sim.User(1)
			if st.Username != "ada.lovelace" {
				t.Errorf("username changed to %q", st.Username)
			}
		})
	}
}

func TestUserWritesOnAnUnknownUserAreNotFound(t *testing.T) {
	ctx := context.Background()
	_, c := newSim(t, nil)
	for name, call := range map[string]func() error{
		"UpdateUser": func() error { return c.UpdateUser(ctx, 999, UserUpdate{Notes: strp("x")}) },
		"MoveUser":   func() error { return c.MoveUser(ctx, 999, 12) },
		"TrashUser":  func() error { return c.TrashUser(ctx, 999) },
	} {
		t.Run(name, func(t *testing.T) {
			if err := call(); !errors.Is(err, ErrNotFound) {
				t.Errorf("err %v, want ErrNotFound", err)
			}
		})
	}
}

func TestMoveUserNeverMovesTheUsersDevices(t *testing.T) {
	sim, c := newSim(t, nil)
	if err := c.MoveUser(context.Background(), 1, 12); err != nil {
		t.Fatal(err)
	}
	if u, _ := sim.User(1); u.LocationID != 12 {
		t.Errorf("user at location %d, want 12", u.LocationID)
	}
	if d, _ := sim.Device("UDID-1"); d.LocationID != 11 {
		t.Errorf("the user's device moved to %d; onlyUser must keep it at 11", d.LocationID)
	}
}

func TestTrashUserLeavesTheUserListedAsTrash(t *testing.T) {
	ctx := context.Background()
	_, c := newSim(t, nil)
	if err := c.TrashUser(ctx, 2); err != nil {
		t.Fatal(err)
	}
	users, err := c.Users(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		if u.ID == 2 {
			if u.Status != "Trash" {
				t.Errorf("status %q, want Trash", u.Status)
			}
			return
		}
	}
	t.Error("the trashed user is no longer listed")
}

func TestUserGroups(t *testing.T) {
	ctx := context.Background()
	_, c := newSim(t, nil)
	id, err := c.CreateGroup(ctx, NewGroup{Name: "Teachers WMS", Description: "staff", LocationID: 12, ACL: GroupACL{Teacher: ACLAllow, Parent: ACLDeny}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.UpdateUser(ctx, 3, UserUpdate{MemberOf: []any{id}}); err != nil {
		t.Fatal(err)
	}
	if err := c.UpdateGroup(ctx, id, GroupUpdate{Name: "Teachers", Description: "all staff", ACL: GroupACL{Teacher: ACLAllow, Parent: ACLInherit}}); err != nil {
		t.Fatal(err)
	}
	g, err := c.Group(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	want := Group{ID: id, LocationID: 12, Name: "Teachers", Description: "all staff", UserCount: 1, ACL: GroupACL{Teacher: ACLAllow, Parent: ACLInherit}}
	if g != want {
		t.Errorf("group %+v, want %+v", g, want)
	}
	list, err := c.Groups(ctx)
	if err != nil || len(list) != 1 || list[0] != want {
		t.Errorf("Groups = %+v, %v; want [%+v]", list, err, want)
	}
	if _, err := c.Group(ctx, 999); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown group: err %v, want ErrNotFound", err)
	}
}

func TestGroupACLOtherThanAllowDenyInheritIsRefusedWithoutACall(t *testing.T) {
	sim, c := newSim(t, nil)
	_, err := c.CreateGroup(context.Background(), NewGroup{Name: "X", LocationID: 11, ACL: GroupACL{Teacher: "yes"}})
	if err == nil || !strings.Contains(err.Error(), "acl.teacher") {
		t.Errorf("err %v, want one naming acl.teacher", err)
	}
	if n := sim.CallCount(jamfschool.PatternCreateGroup); n != 0 {
		t.Errorf("%d calls, want 0", n)
	}
}

func TestClassesLifecycle(t *testing.T) {
	ctx := context.Background()
	sim, c := newSim(t, nil)
	uuid, err := c.CreateClass(ctx, NewClass{Name: "Algebra 1", Description: "P1", LocationID: 12, Students: []int{2}, Teachers: []int{3}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Class(ctx, uuid)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Students, []int{2}) || !reflect.DeepEqual(got.Teachers, []int{3}) || got.Source == "" {
		t.Errorf("class %+v, want students [2], teachers [3] and a non-empty source", got)
	}
	if err := c.SetClassMembers(ctx, uuid, []int{1, 2}, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.UpdateClass(ctx, uuid, "Algebra I", "P2"); err != nil {
		t.Fatal(err)
	}
	got, _ = c.Class(ctx, uuid)
	if got.Name != "Algebra I" || got.Description != "P2" || !reflect.DeepEqual(got.Students, []int{1, 2}) || len(got.Teachers) != 0 {
		t.Errorf("after update: %+v", got)
	}
	list, err := c.Classes(ctx)
	if err != nil || len(list) != 1 || list[0].StudentCount != 2 || list[0].TeacherCount != 0 {
		t.Errorf("Classes = %+v, %v", list, err)
	}
	if err := c.DeleteClass(ctx, uuid); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Class(ctx, uuid); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted class: err %v, want ErrNotFound", err)
	}
	if n := sim.WritesTo(uuid); n != 3 {
		t.Errorf("WritesTo = %d, want 3 (members, update, delete)", n)
	}
}

func TestReadingAnASMClassWritesNothingToIt(t *testing.T) {
	ctx := context.Background()
	sim, c := newSim(t, nil)
	asm := sim.AddClass(jamfschool.ClassState{Name: "ASM Biology", LocationID: 11, Source: jamfschool.SourceASM, Students: []int{1}})
	got, err := c.Class(ctx, asm)
	if err != nil {
		t.Fatal(err)
	}
	if got.Source != jamfschool.SourceASM {
		t.Errorf("source %q, want the raw %q", got.Source, jamfschool.SourceASM)
	}
	if _, err := c.Classes(ctx); err != nil {
		t.Fatal(err)
	}
	if n := sim.WritesTo(asm); n != 0 {
		t.Errorf("WritesTo = %d, want 0", n)
	}
}

func TestRosterRetries(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		pattern   string
		call      func(c *Client, uuid string) error
		wantCalls int
	}{
		{"CreateClass is not repeated after a 503", jamfschool.PatternCreateClass,
			func(c *Client, _ string) error {
				_, err := c.CreateClass(ctx, NewClass{Name: "X", LocationID: 11})
				return err
			}, 1},
		{"CreateGroup is not repeated after a 503", jamfschool.PatternCreateGroup,
			func(c *Client, _ string) error {
				_, err := c.CreateGroup(ctx, NewGroup{Name: "X", LocationID: 11})
				return err
			}, 1},
		{"SetClassMembers is repeated after a 503", jamfschool.PatternSetClassMembers,
			func(c *Client, uuid string) error { return c.SetClassMembers(ctx, uuid, []int{1}, nil) }, 2},
		{"UpdateUser is repeated after a 503", jamfschool.PatternUpdateUser,
			func(c *Client, _ string) error { return c.UpdateUser(ctx, 1, UserUpdate{Notes: strp("n")}) }, 2},
		{"MoveUser is repeated after a 503", jamfschool.PatternMoveUser,
			func(c *Client, _ string) error { return c.MoveUser(ctx, 1, 12) }, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim, c := newSim(t, nil)
			uuid := sim.AddClass(jamfschool.ClassState{Name: "C", LocationID: 11})
			sim.FailNext(tt.pattern, 1, simhttp.FaultStatus503)
			err := tt.call(c, uuid)
			if (err != nil) != (tt.wantCalls == 1) {
				t.Errorf("err %v", err)
			}
			if n := sim.CallCount(tt.pattern); n != tt.wantCalls {
				t.Errorf("%d calls, want %d", n, tt.wantCalls)
			}
		})
	}
}

// CreateRosterUser needs no createMissingUsers (spec.roster.users authorises it), sends memberOf on
// POST as the vendor spec documents, and still refuses an incomplete user before any call.
func TestCreateRosterUser(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name       string
		nu         func() NewUser
		wantErr    string
		wantGroups []string
	}{
		{"created with createMissingUsers off, joining its groups", func() NewUser {
			nu := newKid
			nu.MemberOf = []any{"Students"}
			return nu
		}, "", []string{"Students"}},
		{"an incomplete user is refused without a call", func() NewUser { nu := newKid; nu.Email = ""; return nu }, "email empty", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim, c := newSim(t, nil)
			u, err := c.CreateRosterUser(ctx, tt.nu())
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), newKid.Password) {
					t.Fatalf("err %v, want one naming %q without the password", err, tt.wantErr)
				}
				if n := sim.CallCount(jamfschool.PatternCreateUser); n != 0 {
					t.Errorf("%d POST /users, want none", n)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.User(ctx, u.ID)
			if err != nil || !reflect.DeepEqual(got.Groups, tt.wantGroups) {
				t.Errorf("user %+v (%v), want groups %v", got, err, tt.wantGroups)
			}
		})
	}
}

// A user kept by ResetUserCache is found although the next listing lacks it (a stale pod right after
// the write), and a listed user is not doubled.
func TestResetUserCacheKeepsUsersTheListingLacks(t *testing.T) {
	ctx := context.Background()
	_, c := newSim(t, nil)
	ghost := User{ID: 9999, Username: "just.created", Email: "jc@example.org"}
	listed, err := c.User(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	c.ResetUserCache(ghost, listed)
	if u, err := c.FindUser(ctx, "just.created"); err != nil || u.ID != 9999 {
		t.Errorf("FindUser(just.created) = %+v, %v; want the kept user", u, err)
	}
	if u, err := c.FindUser(ctx, listed.Username); err != nil || u.ID != listed.ID {
		t.Errorf("FindUser(%s) = %+v, %v; want the one listed user, not an ambiguity", listed.Username, u, err)
	}
}
