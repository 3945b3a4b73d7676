package school

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
)

// This file is the roster layer (issue 15): user updates, moves and trash, user groups, classes.
// Facts follow the vendor sources named in docs/jamf-school.md (Jamf's Go SDK, the Jamf School
// Terraform provider, and real replies captured by deno_jamf_school).

// UserUpdate is a partial PUT /users/{id}: nil fields are left out and keep their value. MemberOf,
// when not nil, REPLACES every group membership (an empty slice clears them); a nil MemberOf keeps
// them. Entries are group ids (int) or group names (string); an unknown name makes Jamf School create
// a group of that name. PUT never moves a user: see MoveUser.
type UserUpdate struct {
	Email     *string `json:"email,omitempty"`
	FirstName *string `json:"firstName,omitempty"`
	LastName  *string `json:"lastName,omitempty"`
	Notes     *string `json:"notes,omitempty"`
	MemberOf  []any   `json:"memberOf,omitempty"`
	// clearMembers sends "memberOf":[] (set by ClearMemberships).
	clearMembers bool
}

// ClearMemberships makes the update send "memberOf": [], removing the user from every group.
func (u *UserUpdate) ClearMemberships() { u.MemberOf = nil; u.clearMembers = true }

func (u UserUpdate) body() map[string]any {
	m := map[string]any{}
	for k, v := range map[string]*string{"email": u.Email, "firstName": u.FirstName, "lastName": u.LastName, "notes": u.Notes} {
		if v != nil {
			m[k] = *v
		}
	}
	switch {
	case u.clearMembers:
		m["memberOf"] = []any{}
	case u.MemberOf != nil:
		m["memberOf"] = u.MemberOf
	}
	return m
}

// UpdateUser sends a partial PUT /users/{id}. It sets absolute values, so it is retried like a GET.
func (c *Client) UpdateUser(ctx context.Context, id int, up UserUpdate) error {
	var resp envelope
	return c.do(ctx, request{op: "UpdateUser", method: "PUT", path: "/users/" + strconv.Itoa(id), body: up.body(), idempotent: true}, &resp)
}

// MoveUser moves a user to another location (PUT /users/{id}/migrate) with onlyUser: true, always:
// with false Jamf School would also move every device the user owns, which a roster change must never
// do as a side effect.
func (c *Client) MoveUser(ctx context.Context, id, locationID int) error {
	body := struct {
		LocationID int  `json:"locationId"`
		OnlyUser   bool `json:"onlyUser"`
	}{locationID, true}
	var resp envelope
	return c.do(ctx, request{op: "MoveUser", method: "PUT", path: "/users/" + strconv.Itoa(id) + "/migrate", body: body, idempotent: true}, &resp)
}

// TrashUser is DELETE /users/{id}. It does not delete: Jamf School moves the user to the trash
// (status "Trash", still listed by GET /users). What a second DELETE does to a user already in the trash
// is not public (it may delete it for good), so a failed one is retried only on 429, as a creation is.
func (c *Client) TrashUser(ctx context.Context, id int) error {
	var resp envelope
	return c.do(ctx, request{op: "TrashUser", method: "DELETE", path: "/users/" + strconv.Itoa(id)}, &resp)
}

// --- user groups (/users/groups; there is no /groups) -----------------------------------------

// ACL values of a user group permission.
const (
	ACLAllow   = "allow"
	ACLDeny    = "deny"
	ACLInherit = "inherit"
)

// GroupACL is a user group's permissions. The live API returns only teacher and parent.
type GroupACL struct {
	Teacher string `json:"teacher,omitempty"`
	Parent  string `json:"parent,omitempty"`
}

// Group is a user group. Members are not listed here: membership is written on the user (memberOf).
type Group struct {
	ID          int
	LocationID  int
	Name        string
	Description string
	UserCount   int
	ACL         GroupACL
}

// NewGroup is the body of POST /users/groups.
type NewGroup struct {
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	LocationID  int      `json:"locationId"`
	ACL         GroupACL `json:"acl"`
}

// GroupUpdate is the body of PUT /users/groups/{id}. It has no location: a group's location cannot
// change (the Terraform provider recreates the group instead).
type GroupUpdate struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	ACL         GroupACL `json:"acl"`
}

type wireGroup struct {
	ID          flexInt    `json:"id"`
	LocationID  flexInt    `json:"locationId"`
	Name        flexString `json:"name"`
	Description flexString `json:"description"`
	UserCount   flexInt    `json:"userCount"`
	ACL         struct {
		Teacher flexString `json:"teacher"`
		Parent  flexString `json:"parent"`
	} `json:"acl"`
}

func (w *wireGroup) toGroup() Group {
	return Group{ID: int(w.ID), LocationID: int(w.LocationID), Name: string(w.Name), Description: string(w.Description),
		UserCount: int(w.UserCount), ACL: GroupACL{Teacher: string(w.ACL.Teacher), Parent: string(w.ACL.Parent)}}
}

func validACL(a GroupACL) error {
	for _, v := range []struct{ k, v string }{{"teacher", a.Teacher}, {"parent", a.Parent}} {
		switch v.v {
		case "", ACLAllow, ACLDeny, ACLInherit:
		default:
			return fmt.Errorf("acl.%s is %q (want allow, deny or inherit)", v.k, v.v)
		}
	}
	return nil
}

// Groups lists every user group (GET /users/groups, unpaged).
func (c *Client) Groups(ctx context.Context) ([]Group, error) {
	var resp struct {
		envelope
		Count  flexInt     `json:"count"`
		Groups []wireGroup `json:"groups"`
	}
	if err := c.do(ctx, request{op: "Groups", method: "GET", path: "/users/groups", idempotent: true}, &resp); err != nil {
		return nil, err
	}
	out := make([]Group, 0, len(resp.Groups))
	for i := range resp.Groups {
		out = append(out, resp.Groups[i].toGroup())
	}
	return out, nil
}

// Group reads one user group; errors.Is(err, ErrNotFound) for 404 GroupNotFound.
func (c *Client) Group(ctx context.Context, id int) (Group, error) {
	var resp struct {
		envelope
		Group *wireGroup `json:"group"`
	}
	path := "/users/groups/" + strconv.Itoa(id)
	if err := c.do(ctx, request{op: "Group", method: "GET", path: path, idempotent: true}, &resp); err != nil {
		return Group{}, err
	}
	if resp.Group == nil {
		return Group{}, &DecodeError{Op: "Group", Method: "GET", Path: path, Status: 200, Err: errors.New(`no "group" object in the answer`)}
	}
	return resp.Group.toGroup(), nil
}

// CreateGroup is POST /users/groups; it returns the new id. Not idempotent: retried only on 429.
func (c *Client) CreateGroup(ctx context.Context, g NewGroup) (int, error) {
	if g.Name == "" {
		return 0, errors.New("jamfschool: CreateGroup: empty name")
	}
	if err := validACL(g.ACL); err != nil {
		return 0, fmt.Errorf("jamfschool: CreateGroup %q: %w", g.Name, err)
	}
	var resp struct {
		envelope
		ID flexInt `json:"id"`
	}
	if err := c.do(ctx, request{op: "CreateGroup", method: "POST", path: "/users/groups", body: g}, &resp); err != nil {
		return 0, err
	}
	if resp.ID == 0 {
		return 0, fmt.Errorf("jamfschool: CreateGroup %q: created, but the answer holds no id", g.Name)
	}
	return int(resp.ID), nil
}

// UpdateGroup is PUT /users/groups/{id} (name, description, acl). Absolute values: retried.
func (c *Client) UpdateGroup(ctx context.Context, id int, g GroupUpdate) error {
	if err := validACL(g.ACL); err != nil {
		return fmt.Errorf("jamfschool: UpdateGroup %d: %w", id, err)
	}
	var resp envelope
	return c.do(ctx, request{op: "UpdateGroup", method: "PUT", path: "/users/groups/" + strconv.Itoa(id), body: g, idempotent: true}, &resp)
}

// --- classes ------------------------------------------------------------------------------------

// Class is a Jamf School class. Source is kept raw: classes synced from Apple School Manager must be
// left alone, but the strings Source takes are not public (the SDK's "manual" is a mock value), so
// callers decide from the raw value. Students and Teachers are filled by Class (GET /classes/{uuid})
// only.
type Class struct {
	UUID          string
	Name          string
	Description   string
	LocationID    int
	Source        string
	UserGroupID   int
	DeviceGroupID int
	StudentCount  int
	TeacherCount  int
	Students      []int
	Teachers      []int
}

// NewClass is the body of POST /classes.
type NewClass struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	LocationID  int    `json:"locationId"`
	Students    []int  `json:"students,omitempty"`
	Teachers    []int  `json:"teachers,omitempty"`
}

type wireClass struct {
	UUID          flexString `json:"uuid"`
	Name          flexString `json:"name"`
	Description   flexString `json:"description"`
	LocationID    flexInt    `json:"locationId"`
	Source        flexString `json:"source"`
	UserGroupID   flexInt    `json:"userGroupId"`
	DeviceGroupID flexInt    `json:"deviceGroupId"`
	StudentCount  flexInt    `json:"studentCount"`
	TeacherCount  flexInt    `json:"teacherCount"`
	Students      []struct {
		ID flexInt `json:"id"`
	} `json:"students"`
	Teachers []struct {
		ID flexInt `json:"id"`
	} `json:"teachers"`
}

func (w *wireClass) toClass() Class {
	c := Class{UUID: string(w.UUID), Name: string(w.Name), Description: string(w.Description), LocationID: int(w.LocationID),
		Source: string(w.Source), UserGroupID: int(w.UserGroupID), DeviceGroupID: int(w.DeviceGroupID),
		StudentCount: int(w.StudentCount), TeacherCount: int(w.TeacherCount)}
	for _, s := range w.Students {
		c.Students = append(c.Students, int(s.ID))
	}
	for _, t := range w.Teachers {
		c.Teachers = append(c.Teachers, int(t.ID))
	}
	return c
}

func classPath(uuid string) (string, error) {
	if uuid == "" {
		return "", errors.New("empty class uuid")
	}
	return "/classes/" + url.PathEscape(uuid), nil
}

// Classes lists every class (GET /classes, unpaged). Students and Teachers are not in the listing.
func (c *Client) Classes(ctx context.Context) ([]Class, error) {
	var resp struct {
		envelope
		Classes []wireClass `json:"classes"`
	}
	if err := c.do(ctx, request{op: "Classes", method: "GET", path: "/classes", idempotent: true}, &resp); err != nil {
		return nil, err
	}
	out := make([]Class, 0, len(resp.Classes))
	for i := range resp.Classes {
		out = append(out, resp.Classes[i].toClass())
	}
	return out, nil
}

// Class reads one class with its student and teacher ids; errors.Is(err, ErrNotFound) when unknown.
func (c *Client) Class(ctx context.Context, uuid string) (Class, error) {
	path, err := classPath(uuid)
	if err != nil {
		return Class{}, fmt.Errorf("jamfschool: Class: %w", err)
	}
	var resp struct {
		envelope
		Class *wireClass `json:"class"`
	}
	if err := c.do(ctx, request{op: "Class", method: "GET", path: path, idempotent: true}, &resp); err != nil {
		return Class{}, err
	}
	if resp.Class == nil {
		return Class{}, &DecodeError{Op: "Class", Method: "GET", Path: path, Status: 200, Err: errors.New(`no "class" object in the answer`)}
	}
	return resp.Class.toClass(), nil
}

// CreateClass is POST /classes; it returns the new class's uuid. Not idempotent: retried only on 429.
func (c *Client) CreateClass(ctx context.Context, nc NewClass) (string, error) {
	if nc.Name == "" {
		return "", errors.New("jamfschool: CreateClass: empty name")
	}
	var resp struct {
		envelope
		UUID flexString `json:"uuid"`
	}
	if err := c.do(ctx, request{op: "CreateClass", method: "POST", path: "/classes", body: nc}, &resp); err != nil {
		return "", err
	}
	if resp.UUID == "" {
		return "", fmt.Errorf("jamfschool: CreateClass %q: created, but the answer holds no uuid", nc.Name)
	}
	return string(resp.UUID), nil
}

// UpdateClass sets a class's name and description (PUT /classes/{uuid}); the location is never sent.
func (c *Client) UpdateClass(ctx context.Context, uuid, name, description string) error {
	path, err := classPath(uuid)
	if err != nil {
		return fmt.Errorf("jamfschool: UpdateClass: %w", err)
	}
	body := struct {
		Name        string `json:"name"`
		Description string `json:"description"`
	}{name, description}
	var resp envelope
	return c.do(ctx, request{op: "UpdateClass", method: "PUT", path: path, body: body, idempotent: true}, &resp)
}

// SetClassMembers replaces both member lists (PUT /classes/{uuid}/users). Ids go as strings: Jamf's
// Go SDK says the API requires strings. Both lists are always sent, so an empty list clears it.
func (c *Client) SetClassMembers(ctx context.Context, uuid string, students, teachers []int) error {
	path, err := classPath(uuid)
	if err != nil {
		return fmt.Errorf("jamfschool: SetClassMembers: %w", err)
	}
	body := struct {
		Students []string `json:"students"`
		Teachers []string `json:"teachers"`
	}{idStrings(students), idStrings(teachers)}
	var resp envelope
	return c.do(ctx, request{op: "SetClassMembers", method: "PUT", path: path + "/users", body: body, idempotent: true}, &resp)
}

// DeleteClass is DELETE /classes/{uuid}.
func (c *Client) DeleteClass(ctx context.Context, uuid string) error {
	path, err := classPath(uuid)
	if err != nil {
		return fmt.Errorf("jamfschool: DeleteClass: %w", err)
	}
	var resp envelope
	return c.do(ctx, request{op: "DeleteClass", method: "DELETE", path: path, idempotent: true}, &resp)
}

func idStrings(ids []int) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		out = append(out, strconv.Itoa(id))
	}
	return out
}
