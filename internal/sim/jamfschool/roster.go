package jamfschool

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/k12dev/devicesync-operator/internal/sim/district"
)

// The roster endpoints (issue 15): user updates, moves and trash, user groups, classes. Reply shapes
// follow the vendor reference: real captured replies where they exist (UserDetailsSaved, UserMoved,
// GroupDetailsSaved, UserNotFound, GroupNotFound, the groups listing), otherwise the fields Jamf's Go
// SDK decodes (classes) and the messages the jamfsync README shows (ClassSaved, ClassDeleted). Marked
// "mock-only" where no source shows the text.

// Roster route patterns.
const (
	PatternUpdateUser = "PUT /api/users/{id}"
	// PatternMoveUser and PatternUpdateGroup are one mux pattern: Go's ServeMux cannot tell
	// /users/{id}/migrate from /users/groups/{id} apart (both match /users/groups/migrate), so one
	// handler dispatches on the path. Deny and CallCount on either name cover both routes.
	PatternMoveUser        = "PUT /api/users/{id}/{sub}"
	PatternTrashUser       = "DELETE /api/users/{id}"
	PatternGroups          = "GET /api/users/groups"
	PatternGroup           = "GET /api/users/groups/{id}"
	PatternCreateGroup     = "POST /api/users/groups"
	PatternUpdateGroup     = PatternMoveUser
	PatternClasses         = "GET /api/classes"
	PatternClass           = "GET /api/classes/{uuid}"
	PatternCreateClass     = "POST /api/classes"
	PatternUpdateClass     = "PUT /api/classes/{uuid}"
	PatternSetClassMembers = "PUT /api/classes/{uuid}/users"
	PatternDeleteClass     = "DELETE /api/classes/{uuid}"

	// SourceAPI is the source the simulator gives classes made through the API, and SourceASM the one
	// it gives classes synced from Apple School Manager. Both are stand-ins: the real strings are not
	// public (the vendor SDK's "manual" is a mock value), only that source is never empty.
	SourceAPI = "sim-api"
	SourceASM = "sim-asm"
)

// GroupState is one user group.
type GroupState struct {
	ID          int
	LocationID  int
	Name        string
	Description string
	Teacher     string // acl.teacher: allow, deny or inherit
	Parent      string // acl.parent
}

// ClassState is one class.
type ClassState struct {
	UUID        string
	Name        string
	Description string
	LocationID  int
	Source      string
	Students    []int
	Teachers    []int
}

type rosterState struct {
	groups      []*GroupState
	groupByID   map[int]*GroupState
	nextGroupID int
	classes     []*ClassState
	classByUUID map[string]*ClassState
	nextClass   int
	classWrites map[string]int
}

func (s *Server) routeRoster() {
	s.roster.groupByID = map[int]*GroupState{}
	s.roster.classByUUID = map[string]*ClassState{}
	s.roster.classWrites = map[string]int{}
	s.route(PatternUpdateUser, s.updateUser)
	s.route(PatternMoveUser, s.userSubresource)
	s.route(PatternTrashUser, s.trashUser)
	s.route(PatternGroups, s.listGroups)
	s.route(PatternGroup, s.getGroup)
	s.route(PatternCreateGroup, s.createGroup)
	s.route(PatternClasses, s.listClasses)
	s.route(PatternClass, s.getClass)
	s.route(PatternCreateClass, s.createClass)
	s.route(PatternUpdateClass, s.updateClass)
	s.route(PatternSetClassMembers, s.setClassMembers)
	s.route(PatternDeleteClass, s.deleteClass)
}

// AddGroup seeds a user group and returns its id.
func (s *Server) AddGroup(g GroupState) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addGroupLocked(g).ID
}

// Group returns a copy of a user group.
func (s *Server) Group(id int) (GroupState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.roster.groupByID[id]
	if !ok {
		return GroupState{}, false
	}
	return *g, true
}

// AddClass seeds a class (an empty Source becomes SourceAPI) and returns its uuid.
func (s *Server) AddClass(c ClassState) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addClassLocked(c).UUID
}

// Class returns a copy of a class.
func (s *Server) Class(uuid string) (ClassState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.roster.classByUUID[uuid]
	if !ok {
		return ClassState{}, false
	}
	return c.copy(), true
}

// copy is the class with its own member lists.
func (c *ClassState) copy() ClassState {
	out := *c
	out.Students = append([]int(nil), c.Students...)
	out.Teachers = append([]int(nil), c.Teachers...)
	return out
}

// AllClasses returns a copy of every class, in creation order.
func (s *Server) AllClasses() []ClassState {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ClassState, 0, len(s.roster.classes))
	for _, c := range s.roster.classes {
		out = append(out, c.copy())
	}
	return out
}

// Groups returns copies of every user group, in listing order.
func (s *Server) Groups() []GroupState {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]GroupState, 0, len(s.roster.groups))
	for _, g := range s.roster.groups {
		out = append(out, *g)
	}
	return out
}

// WritesTo counts the accepted writes (PUT, PUT users, DELETE) to a class, so tests can assert that
// ASM-synced classes were never touched.
func (s *Server) WritesTo(uuid string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.roster.classWrites[uuid]
}

func (s *Server) addGroupLocked(g GroupState) *GroupState {
	if g.ID == 0 {
		s.roster.nextGroupID++
		g.ID = s.roster.nextGroupID
	} else if g.ID > s.roster.nextGroupID {
		s.roster.nextGroupID = g.ID
	}
	for _, v := range []*string{&g.Teacher, &g.Parent} {
		if *v == "" {
			*v = "inherit"
		}
	}
	p := &g
	s.roster.groups = append(s.roster.groups, p)
	s.roster.groupByID[g.ID] = p
	return p
}

func (s *Server) addClassLocked(c ClassState) *ClassState {
	if c.UUID == "" {
		s.roster.nextClass++
		c.UUID = fmt.Sprintf("5e1a0c1a-0000-4000-8000-%012d", s.roster.nextClass)
	}
	if c.Source == "" {
		c.Source = SourceAPI
	}
	p := &c
	s.roster.classes = append(s.roster.classes, p)
	s.roster.classByUUID[c.UUID] = p
	return p
}

func (s *Server) groupIDsLocked(u *UserState) []int {
	return append([]int{}, u.GroupIDs...)
}

func (s *Server) groupNamesLocked(u *UserState) []string {
	out := []string{}
	for _, id := range u.GroupIDs {
		if g, ok := s.roster.groupByID[id]; ok {
			out = append(out, g.Name)
		}
	}
	return out
}

func (s *Server) userFromPathLocked(r *http.Request) *UserState {
	id, err := strconv.Atoi(r.PathValue("id"))
	if err != nil {
		return nil
	}
	return s.userByID[id]
}

// --- users ---------------------------------------------------------------------------------

// updateUser is PUT /users/{id}: a partial update. memberOf, when present, replaces every membership
// ([] clears them); entries are group ids or names, and an unknown name creates a group of that name
// at the user's location. An unknown group id is refused with 404 GroupNotFound (an assumption: no
// source shows what the server does). locationId is not accepted here: moving is migrate's job.
func (s *Server) updateUser(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Email     *string            `json:"email"`
		FirstName *string            `json:"firstName"`
		LastName  *string            `json:"lastName"`
		Notes     *string            `json:"notes"`
		MemberOf  *[]json.RawMessage `json:"memberOf"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.userFromPathLocked(r)
	if u == nil {
		writeFlat(w, http.StatusNotFound, "UserNotFound")
		return
	}
	if body.Email != nil && !strings.EqualFold(*body.Email, u.Email) && s.userByEmailLocked(*body.Email) != nil {
		writeFlat(w, http.StatusConflict, "EmailAlreadyExists")
		return
	}
	var groups []int
	if body.MemberOf != nil {
		var ok bool
		if groups, ok = s.memberOfLocked(w, *body.MemberOf, u.LocationID); !ok {
			return
		}
	}
	set := func(field string, dst *string, v *string) {
		if v != nil && *v != *dst {
			s.logLocked(PatternUpdateUser, u.Username, field, *dst, *v)
			*dst = *v
		}
	}
	set("email", &u.Email, body.Email)
	set("firstName", &u.FirstName, body.FirstName)
	set("lastName", &u.LastName, body.LastName)
	set("notes", &u.Notes, body.Notes)
	if body.FirstName != nil || body.LastName != nil {
		u.Name = strings.TrimSpace(u.FirstName + " " + u.LastName)
	}
	if groups != nil {
		s.logLocked(PatternUpdateUser, u.Username, "memberOf", fmt.Sprint(u.GroupIDs), fmt.Sprint(groups))
		u.GroupIDs = groups
	}
	writeFlat(w, http.StatusOK, "UserDetailsSaved")
}

// memberOfLocked resolves a memberOf list (PUT and POST /users) to group ids: entries are group ids or
// names, and an unknown name creates a group of that name at location. An unknown group id is refused
// with 404 GroupNotFound (an assumption: no source shows what the server does), anything else with 400
// InvalidMemberOf (mock-only). On a refusal it has written the answer, created nothing, and returns false.
func (s *Server) memberOfLocked(w http.ResponseWriter, memberOf []json.RawMessage, location int) ([]int, bool) {
	groups := []int{}
	var create []string
	for _, raw := range memberOf {
		var id int
		var name string
		switch {
		case json.Unmarshal(raw, &id) == nil:
			if _, ok := s.roster.groupByID[id]; !ok {
				writeFlat(w, http.StatusNotFound, "GroupNotFound")
				return nil, false
			}
			groups = append(groups, id)
		case json.Unmarshal(raw, &name) == nil && strings.TrimSpace(name) != "":
			if g := s.groupByNameLocked(name); g != nil {
				groups = append(groups, g.ID)
			} else {
				create = append(create, name)
			}
		default:
			writeFlat(w, http.StatusBadRequest, "InvalidMemberOf")
			return nil, false
		}
	}
	for _, name := range create {
		g := s.addGroupLocked(GroupState{Name: name, LocationID: location})
		s.logLocked(PatternCreateGroup, name, "group", "", strconv.Itoa(g.ID))
		groups = append(groups, g.ID)
	}
	return groups, true
}

func (s *Server) groupByNameLocked(name string) *GroupState {
	for _, g := range s.roster.groups {
		if strings.EqualFold(g.Name, name) {
			return g
		}
	}
	return nil
}

// moveUser is PUT /users/{id}/migrate {"locationId", "onlyUser"}: without onlyUser: true the user's
// devices move too, as the vendor documents.
func (s *Server) moveUser(w http.ResponseWriter, r *http.Request) {
	var body struct {
		LocationID *int `json:"locationId"`
		OnlyUser   bool `json:"onlyUser"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.userFromPathLocked(r)
	switch {
	case u == nil:
		writeFlat(w, http.StatusNotFound, "UserNotFound")
		return
	case body.LocationID == nil:
		writeFlat(w, http.StatusBadRequest, "LocationIdRequired") // mock-only message
		return
	case !s.locationExistsLocked(*body.LocationID):
		writeFlat(w, http.StatusNotFound, "LocationNotFound")
		return
	}
	s.logLocked(PatternMoveUser, u.Username, "location", strconv.Itoa(u.LocationID), strconv.Itoa(*body.LocationID))
	u.LocationID = *body.LocationID
	if !body.OnlyUser {
		for _, d := range s.devices {
			if d.OwnerID == u.ID && d.LocationID != *body.LocationID {
				s.moveLocked(PatternMoveUser, d, *body.LocationID, true)
			}
		}
	}
	writeFlat(w, http.StatusOK, "UserMoved")
}

// trashUser is DELETE /users/{id}: the user moves to the trash and stays listed with status "Trash".
// The reply message is not public ("UserTrashed" is mock-only).
func (s *Server) trashUser(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.userFromPathLocked(r)
	if u == nil {
		writeFlat(w, http.StatusNotFound, "UserNotFound")
		return
	}
	if u.Status != "Trash" {
		s.logLocked(PatternTrashUser, u.Username, "status", u.Status, "Trash")
		u.Status = "Trash"
	}
	writeFlat(w, http.StatusOK, "UserTrashed")
}

// --- user groups ---------------------------------------------------------------------------

type wireGroupACL struct {
	Teacher string `json:"teacher"`
	Parent  string `json:"parent"`
}

// wireGroup copies the keys of the real GET /users/groups reply.
type wireGroup struct {
	ID          int          `json:"id"`
	LocationID  int          `json:"locationId"`
	Name        string       `json:"name"`
	Description string       `json:"description"`
	UserCount   int          `json:"userCount"`
	ACL         wireGroupACL `json:"acl"`
	Modified    string       `json:"modified"`
}

func (s *Server) renderGroupLocked(g *GroupState) wireGroup {
	n := 0
	for _, u := range s.users {
		for _, id := range u.GroupIDs {
			if id == g.ID {
				n++
			}
		}
	}
	return wireGroup{ID: g.ID, LocationID: g.LocationID, Name: g.Name, Description: g.Description, UserCount: n,
		ACL: wireGroupACL{Teacher: g.Teacher, Parent: g.Parent}, Modified: s.opts.Modified}
}

func (s *Server) listGroups(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	out := make([]wireGroup, 0, len(s.roster.groups))
	for _, g := range s.roster.groups {
		out = append(out, s.renderGroupLocked(g))
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, struct {
		Code   int         `json:"code"`
		Count  int         `json:"count"`
		Groups []wireGroup `json:"groups"`
	}{200, len(out), out})
}

// userSubresource serves PUT /users/groups/{id} and PUT /users/{id}/migrate.
func (s *Server) userSubresource(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.PathValue("id") == "groups":
		s.updateGroup(w, r)
	case r.PathValue("sub") == "migrate":
		s.moveUser(w, r)
	default:
		http.NotFound(w, r)
	}
}

// groupFromPathLocked reads the group id from /users/groups/{id} (the {sub} of the shared pattern on
// PUT).
func (s *Server) groupFromPathLocked(r *http.Request) *GroupState {
	v := r.PathValue("id")
	if r.Method == http.MethodPut {
		v = r.PathValue("sub")
	}
	id, err := strconv.Atoi(v)
	if err != nil {
		return nil
	}
	return s.roster.groupByID[id]
}

func (s *Server) getGroup(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	g := s.groupFromPathLocked(r)
	var out wireGroup
	if g != nil {
		out = s.renderGroupLocked(g)
	}
	s.mu.Unlock()
	if g == nil {
		writeFlat(w, http.StatusNotFound, "GroupNotFound")
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Code  int       `json:"code"`
		Group wireGroup `json:"group"`
	}{200, out})
}

// aclValue refuses values other than allow, deny, inherit (empty keeps def).
func aclValue(v, def string) (string, bool) {
	switch v {
	case "":
		return def, true
	case "allow", "deny", "inherit":
		return v, true
	}
	return "", false
}

type groupBody struct {
	Name        *string                `json:"name"`
	Description *string                `json:"description"`
	LocationID  *int                   `json:"locationId"`
	ACL         map[string]interface{} `json:"acl"`
}

func (b groupBody) acl(teacher, parent string) (string, string, bool) {
	str := func(k string) string { v, _ := b.ACL[k].(string); return v }
	t, ok1 := aclValue(str("teacher"), teacher)
	p, ok2 := aclValue(str("parent"), parent)
	return t, p, ok1 && ok2
}

// createGroup is POST /users/groups; the reply {code, message, id} has a mock-only message.
func (s *Server) createGroup(w http.ResponseWriter, r *http.Request) {
	var body groupBody
	if !decodeBody(w, r, &body) {
		return
	}
	if body.Name == nil || strings.TrimSpace(*body.Name) == "" {
		writeFlat(w, http.StatusBadRequest, "NameRequired") // mock-only message
		return
	}
	t, p, ok := body.acl("inherit", "inherit")
	if !ok {
		writeFlat(w, http.StatusBadRequest, "InvalidAcl") // mock-only message
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	loc := 0
	if body.LocationID != nil {
		loc = *body.LocationID
	}
	if !s.locationExistsLocked(loc) {
		writeFlat(w, http.StatusNotFound, "LocationNotFound")
		return
	}
	g := GroupState{Name: *body.Name, LocationID: loc, Teacher: t, Parent: p}
	if body.Description != nil {
		g.Description = *body.Description
	}
	ng := s.addGroupLocked(g)
	s.logLocked(PatternCreateGroup, ng.Name, "group", "", strconv.Itoa(ng.ID))
	writeJSON(w, http.StatusOK, struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		ID      int    `json:"id"`
	}{200, "GroupCreated", ng.ID})
}

// updateGroup is PUT /users/groups/{id}: name, description, acl. A locationId that differs from the
// group's is refused (a group's location cannot change; the message is mock-only).
func (s *Server) updateGroup(w http.ResponseWriter, r *http.Request) {
	var body groupBody
	if !decodeBody(w, r, &body) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groupFromPathLocked(r)
	if g == nil {
		writeFlat(w, http.StatusNotFound, "GroupNotFound")
		return
	}
	if body.LocationID != nil && *body.LocationID != g.LocationID {
		writeFlat(w, http.StatusBadRequest, "GroupLocationCannotChange")
		return
	}
	t, p, ok := body.acl(g.Teacher, g.Parent)
	if !ok {
		writeFlat(w, http.StatusBadRequest, "InvalidAcl")
		return
	}
	if body.Name != nil && strings.TrimSpace(*body.Name) != "" {
		g.Name = *body.Name
	}
	if body.Description != nil {
		g.Description = *body.Description
	}
	g.Teacher, g.Parent = t, p
	s.logLocked(PatternUpdateGroup, g.Name, "group", "", strconv.Itoa(g.ID))
	writeFlat(w, http.StatusOK, "GroupDetailsSaved")
}

// --- classes -------------------------------------------------------------------------------

// wireClass has the fields Jamf's Go SDK decodes from GET /classes (no real capture is public).
type wireClass struct {
	UUID          string `json:"uuid"`
	Name          string `json:"name"`
	Description   string `json:"description"`
	LocationID    int    `json:"locationId"`
	Source        string `json:"source"`
	Image         string `json:"image"`
	UserGroupID   int    `json:"userGroupId"`
	StudentCount  int    `json:"studentCount"`
	TeacherCount  int    `json:"teacherCount"`
	DeviceGroupID int    `json:"deviceGroupId"`
	DeviceCount   int    `json:"deviceCount"`
}

type memberID struct {
	ID int `json:"id"`
}

type wireClassFull struct {
	wireClass
	Students []memberID `json:"students"`
	Teachers []memberID `json:"teachers"`
}

func renderClass(c *ClassState) wireClass {
	return wireClass{UUID: c.UUID, Name: c.Name, Description: c.Description, LocationID: c.LocationID, Source: c.Source,
		StudentCount: len(c.Students), TeacherCount: len(c.Teachers)}
}

func (s *Server) listClasses(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	out := make([]wireClass, 0, len(s.roster.classes))
	for _, c := range s.roster.classes {
		out = append(out, renderClass(c))
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, struct {
		Code    int         `json:"code"`
		Count   int         `json:"count"`
		Classes []wireClass `json:"classes"`
	}{200, len(out), out})
}

// classNotFound is the flat 404; "ClassNotFound" is mock-only (by analogy with UserNotFound).
func classNotFound(w http.ResponseWriter) { writeFlat(w, http.StatusNotFound, "ClassNotFound") }

func (s *Server) getClass(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	c, ok := s.roster.classByUUID[r.PathValue("uuid")]
	var out wireClassFull
	if ok {
		out = wireClassFull{wireClass: renderClass(c), Students: []memberID{}, Teachers: []memberID{}}
		for _, id := range c.Students {
			out.Students = append(out.Students, memberID{id})
		}
		for _, id := range c.Teachers {
			out.Teachers = append(out.Teachers, memberID{id})
		}
	}
	s.mu.Unlock()
	if !ok {
		classNotFound(w)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Code  int           `json:"code"`
		Class wireClassFull `json:"class"`
	}{200, out})
}

// knownUsersLocked refuses ids of users that do not exist (404 UserNotFound; an assumption).
func (s *Server) knownUsersLocked(ids ...[]int) bool {
	for _, l := range ids {
		for _, id := range l {
			if _, ok := s.userByID[id]; !ok {
				return false
			}
		}
	}
	return true
}

// createClass is POST /classes; reply {"code":200,"message":"ClassSaved","uuid":...} as jamfsync shows.
func (s *Server) createClass(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Name        string `json:"name"`
		Description string `json:"description"`
		LocationID  int    `json:"locationId"`
		Students    []int  `json:"students"`
		Teachers    []int  `json:"teachers"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	if strings.TrimSpace(body.Name) == "" {
		writeFlat(w, http.StatusBadRequest, "NameRequired") // mock-only message
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.locationExistsLocked(body.LocationID) {
		writeFlat(w, http.StatusNotFound, "LocationNotFound")
		return
	}
	if !s.knownUsersLocked(body.Students, body.Teachers) {
		writeFlat(w, http.StatusNotFound, "UserNotFound")
		return
	}
	c := s.addClassLocked(ClassState{Name: body.Name, Description: body.Description, LocationID: body.LocationID,
		Students: sortedCopy(body.Students), Teachers: sortedCopy(body.Teachers)})
	s.logLocked(PatternCreateClass, c.UUID, "class", "", c.Name)
	writeJSON(w, http.StatusOK, struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		UUID    string `json:"uuid"`
	}{200, "ClassSaved", c.UUID})
}

func sortedCopy(ids []int) []int {
	out := append([]int{}, ids...)
	sort.Ints(out)
	return out
}

// updateClass is PUT /classes/{uuid}: name and description. The reply message is not public
// ("ClassSaved" is mock-only).
func (s *Server) updateClass(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Name        *string `json:"name"`
		Description *string `json:"description"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.roster.classByUUID[r.PathValue("uuid")]
	if !ok {
		classNotFound(w)
		return
	}
	if body.Name != nil && strings.TrimSpace(*body.Name) != "" {
		c.Name = *body.Name
	}
	if body.Description != nil {
		c.Description = *body.Description
	}
	s.roster.classWrites[c.UUID]++
	s.logLocked(PatternUpdateClass, c.UUID, "class", "", c.Name)
	writeFlat(w, http.StatusOK, "ClassSaved")
}

// setClassMembers is PUT /classes/{uuid}/users {"students":["12"],"teachers":["7"]}: replaces both
// lists. Ids must be JSON strings: Jamf's Go SDK says the API requires them; the simulator refuses
// numbers with 400 in the flat shape ("InvalidUserIds" is mock-only; what the real server answers to
// numbers is an assumption).
func (s *Server) setClassMembers(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Students []json.RawMessage `json:"students"`
		Teachers []json.RawMessage `json:"teachers"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	parse := func(raw []json.RawMessage) ([]int, bool) {
		out := []int{}
		for _, x := range raw {
			if !bytes.HasPrefix(bytes.TrimSpace(x), []byte(`"`)) {
				return nil, false
			}
			var str string
			if json.Unmarshal(x, &str) != nil {
				return nil, false
			}
			id, err := strconv.Atoi(str)
			if err != nil {
				return nil, false
			}
			out = append(out, id)
		}
		sort.Ints(out)
		return out, true
	}
	students, ok1 := parse(body.Students)
	teachers, ok2 := parse(body.Teachers)
	if !ok1 || !ok2 {
		writeFlat(w, http.StatusBadRequest, "InvalidUserIds")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.roster.classByUUID[r.PathValue("uuid")]
	if !ok {
		classNotFound(w)
		return
	}
	if !s.knownUsersLocked(students, teachers) {
		writeFlat(w, http.StatusNotFound, "UserNotFound")
		return
	}
	s.logLocked(PatternSetClassMembers, c.UUID, "members", fmt.Sprint(c.Students, c.Teachers), fmt.Sprint(students, teachers))
	c.Students, c.Teachers = students, teachers
	s.roster.classWrites[c.UUID]++
	writeFlat(w, http.StatusOK, "ClassSaved")
}

// deleteClass is DELETE /classes/{uuid} → {"code":200,"message":"ClassDeleted"} (jamfsync README).
func (s *Server) deleteClass(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	uuid := r.PathValue("uuid")
	c, ok := s.roster.classByUUID[uuid]
	if !ok {
		classNotFound(w)
		return
	}
	delete(s.roster.classByUUID, uuid)
	for i, x := range s.roster.classes {
		if x == c {
			s.roster.classes = append(s.roster.classes[:i], s.roster.classes[i+1:]...)
			break
		}
	}
	s.roster.classWrites[uuid]++
	s.logLocked(PatternDeleteClass, uuid, "class", c.Name, "")
	writeFlat(w, http.StatusOK, "ClassDeleted")
}

// LoadRoster adds r's sections as classes: members are the users whose username matches the patrons
// of d and r (patrons with no matching user are left out), the location is the school's, and a
// section's ASMSource becomes the class source. It returns the uuid of each section by SourcedID.
func (s *Server) LoadRoster(d *district.District, r *district.Roster) map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	loc := map[string]int{}
	for _, sc := range d.Schools {
		loc[sc.ShortName] = sc.JamfSchoolLocationID
	}
	username := map[string]string{}
	for _, p := range append(append([]district.Patron{}, d.Patrons...), r.Teachers...) {
		username[p.DistrictID] = p.Username
	}
	byName := s.usernameIndexLocked()
	ids := func(patrons []string) []int {
		var out []int
		for _, p := range patrons {
			if u := byName[strings.ToLower(strings.TrimSpace(username[p]))]; u != nil && username[p] != "" {
				out = append(out, u.ID)
			}
		}
		return sortedCopy(out)
	}
	out := map[string]string{}
	for _, sec := range r.Sections {
		c := s.addClassLocked(ClassState{Name: sec.Title, LocationID: loc[sec.SchoolShortName], Source: sec.ASMSource,
			Students: ids(sec.Students), Teachers: ids(sec.Teachers)})
		out[sec.SourcedID] = c.UUID
	}
	return out
}
