package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	gosync "sync"

	"github.com/k12dev/devicesync-operator/internal/jamf/school"
	"github.com/k12dev/devicesync-operator/internal/sync/plan"
)

// Roster sync on Jamf School (spec.roster, issue 15): users, user groups and classes. The calls and
// their retry rules are the client's (internal/jamf/school/roster.go); docs/jamf-school.md lists them
// with their vendor sources.

var _ RosterTarget = (*JamfSchool)(nil)

// rosterRun is what the target learns while it applies one run's roster changes: the ids of what it
// created (Jamf School runs on several pods and may answer a listing right after a write without the
// new object, so created objects are never looked up by re-listing), and one fresh listing of groups
// and users, read only when a change names an object this run did not create.
type rosterRun struct {
	mu      gosync.Mutex
	groups  map[string]int         // groupKey(location, name) -> id, created in this run
	users   map[string]school.User // lower-case username -> user, created in this run
	classes map[string]string      // classKey -> uuid, created in this run (a retry only sets members)
	asm     map[string]bool        // uuids of the classes the inventory found synced from ASM: never written
	created []school.User          // every user created, kept in the client's user cache

	listMu       gosync.Mutex
	listedGroups map[string][]int // groupKey -> ids, from one listing
	listedUsers  map[string][]int // lower-case username -> ids of users not in the trash
}

func newRosterRun() *rosterRun {
	return &rosterRun{groups: map[string]int{}, users: map[string]school.User{}, classes: map[string]string{}, asm: map[string]bool{}}
}

func groupKey(location, name string) string {
	return strings.ToLower(strings.TrimSpace(location)) + "\x00" + strings.ToLower(strings.TrimSpace(name))
}

func classKey(c plan.RosterChange) string {
	return c.Key + "\x00" + strings.ToLower(c.Location) + "\x00" + c.Name
}

// IsASMSource reports whether a class's raw source says Apple School Manager synced it. The strings
// Jamf School uses are not public (the vendor reference says so; the SDK's "manual" is a mock), so the
// reading is conservative: any source containing "asm" or "apple", in any case, is ASM, and such a
// class is never written. A class wrongly taken for ASM is only reported (ManagedByASM); one wrongly
// taken for API-made could be overwritten.
func IsASMSource(source string) bool {
	s := strings.ToLower(source)
	return strings.Contains(s, "asm") || strings.Contains(s, "apple")
}

// RosterInventory implements RosterTarget: GET /users, /users/groups, /classes and /locations at
// once, then GET /classes/{uuid} for the members of every class in locations (names, any case) that
// is not synced from Apple School Manager, on the target's concurrency. Any failed read fails the
// inventory: nothing is planned or written from a partial one. It starts the run's roster state.
func (t *JamfSchool) RosterInventory(ctx context.Context, locations []string) (plan.MDMRoster, error) {
	rr := newRosterRun()
	t.rosterMu.Lock()
	t.roster = rr
	t.rosterMu.Unlock()

	var (
		users   []school.User
		groups  []school.Group
		classes []school.Class
		locs    []school.Location
	)
	err := readAll(ctx,
		func(ctx context.Context) (err error) { users, err = t.Client.Users(ctx); return err },
		func(ctx context.Context) (err error) { groups, err = t.Client.Groups(ctx); return err },
		func(ctx context.Context) (err error) { classes, err = t.Client.Classes(ctx); return err },
		func(ctx context.Context) (err error) { locs, err = t.Client.Locations(ctx); return err },
	)
	if err != nil {
		return plan.MDMRoster{}, err
	}
	// A location the policy names (in any case, as the Ready check matches them) is spelled as the
	// policy spells it: the planner compares locations exactly, and would otherwise create the groups
	// again and move every user at each run.
	policySpelling := make(map[string]string, len(locations))
	for _, l := range locations {
		policySpelling[strings.ToLower(l)] = l
	}
	locName := make(map[int]string, len(locs))
	byName := make(map[string]int, len(locs))
	for _, l := range locs {
		locName[l.ID] = cmp.Or(policySpelling[strings.ToLower(l.Name)], l.Name)
		byName[strings.ToLower(l.Name)] = l.ID
	}
	t.locMu.Lock()
	t.locByName = byName
	t.locMu.Unlock()

	var out plan.MDMRoster
	out.Users = make([]plan.MDMUser, 0, len(users))
	for _, u := range users {
		if !u.GroupIDsListed {
			// memberOf replaces every membership: a user whose groups are unknown would lose them all.
			return plan.MDMRoster{}, fmt.Errorf("Jamf School listed user %q (id %d) without groupIds: its group memberships are unknown, nothing is planned", u.Username, u.ID)
		}
		mu := plan.MDMUser{Ref: strconv.Itoa(u.ID), Username: u.Username, FirstName: u.FirstName, LastName: u.LastName,
			Email: u.Email, Location: locName[u.LocationID], Trashed: strings.EqualFold(u.Status, "Trash")}
		for _, g := range u.GroupIDs {
			mu.Groups = append(mu.Groups, strconv.Itoa(g))
		}
		out.Users = append(out.Users, mu)
	}
	out.Groups = make([]plan.MDMGroup, 0, len(groups))
	for _, g := range groups {
		out.Groups = append(out.Groups, plan.MDMGroup{Ref: strconv.Itoa(g.ID), Name: g.Name, Location: locName[g.LocationID]})
	}

	inScope := map[string]bool{}
	for _, l := range locations {
		inScope[strings.ToLower(l)] = true
	}
	out.Classes = make([]plan.MDMClass, len(classes))
	var read []int
	for i, c := range classes {
		out.Classes[i] = plan.MDMClass{Ref: c.UUID, Name: c.Name, Description: c.Description, Location: locName[c.LocationID],
			Source: c.Source, ASM: IsASMSource(c.Source)}
		switch {
		case out.Classes[i].ASM:
			rr.asm[c.UUID] = true
		case inScope[strings.ToLower(out.Classes[i].Location)]:
			read = append(read, i)
		}
	}
	fns := make([]func(context.Context) error, len(read))
	for j, i := range read {
		mc := &out.Classes[i]
		fns[j] = func(ctx context.Context) error {
			full, err := t.Client.Class(ctx, mc.Ref)
			if err != nil {
				return fmt.Errorf("reading the members of class %q (%s): %w", mc.Name, mc.Ref, err)
			}
			mc.Students, mc.Teachers, mc.MembersKnown = idRefs(full.Students), idRefs(full.Teachers), true
			return nil
		}
	}
	if err := readAllN(ctx, t.Concurrency(), fns...); err != nil {
		return plan.MDMRoster{}, err
	}
	return out, nil
}

// idRefs is ids as sorted refs.
func idRefs(ids []int) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		out = append(out, strconv.Itoa(id))
	}
	slices.Sort(out)
	return out
}

// readAll runs every read at once; the first failure cancels the others and is the one returned.
func readAll(ctx context.Context, fns ...func(context.Context) error) error {
	return readAllN(ctx, len(fns), fns...)
}

// readAllN runs the reads, n at a time; the first failure cancels the others and is the one returned.
func readAllN(ctx context.Context, n int, fns ...func(context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu    gosync.Mutex
		first error
		wg    gosync.WaitGroup
	)
	sem := make(chan struct{}, max(1, n))
	for _, fn := range fns {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := fn(ctx); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
				cancel()
			}
		})
	}
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		first = context.Cause(ctx)
	}
	return first
}

// ApplyRoster implements RosterTarget. Creations (POST) and a user's trash (DELETE) are not marked
// Transient: a failed POST may have created the object, and the next run finds it; a repeated DELETE
// of a user in the trash might delete it for good. The client retries them only on 429. Every other
// write sets absolute values and is Transient when the failure is temporary. A password is never
// logged or put in an error.
func (t *JamfSchool) ApplyRoster(ctx context.Context, c plan.RosterChange) error {
	t.rosterMu.Lock()
	if t.roster == nil {
		t.roster = newRosterRun()
	}
	rr := t.roster
	t.rosterMu.Unlock()
	if c.Kind == plan.KindClass && rr.asm[c.Ref] {
		return fmt.Errorf("%s class %q: class %s is synced from Apple School Manager: never written", c.Action, c.Name, c.Ref)
	}
	var err error
	switch {
	case c.Kind == plan.KindGroup && c.Action == plan.ActionGroupCreated:
		err = t.createGroup(ctx, rr, c)
	case c.Kind == plan.KindUser && c.Action == plan.ActionUserCreated:
		err = t.createRosterUser(ctx, rr, c)
	case c.Kind == plan.KindUser && c.Action == plan.ActionUserUpdated:
		err = t.updateRosterUser(ctx, rr, c)
	case c.Kind == plan.KindClass && c.Action == plan.ActionClassCreated:
		err = t.createClass(ctx, rr, c)
	case c.Kind == plan.KindClass && (c.Action == plan.ActionClassUpdated || c.Action == plan.ActionMembersChanged):
		err = t.updateClass(ctx, rr, c)
	case c.Action == plan.ActionRemoved && (c.Kind == plan.KindUser || c.Kind == plan.KindClass):
		err = t.remove(ctx, rr, c)
	default:
		return fmt.Errorf("Jamf School cannot apply a %s change of a %s", c.Action, c.Kind)
	}
	if err != nil {
		return fmt.Errorf("%s %s %q: %w", c.Action, strings.ToLower(c.Kind), c.Name, err)
	}
	return nil
}

// locationByName resolves a location name (any case); an unknown name is an error naming it.
func (t *JamfSchool) locationByName(ctx context.Context, name string) (int, error) {
	id, ok, err := t.locationID(ctx, name)
	switch {
	case err != nil:
		return 0, transientIf(err)
	case !ok:
		return 0, fmt.Errorf("Jamf School has no location named %q (check spec.schools[].location)", name)
	}
	return id, nil
}

func (t *JamfSchool) createGroup(ctx context.Context, rr *rosterRun, c plan.RosterChange) error {
	if c.Group == nil {
		return errors.New("the change carries no group")
	}
	loc, err := t.locationByName(ctx, c.Location)
	if err != nil {
		return err
	}
	ng := school.NewGroup{Name: c.Group.Name, LocationID: loc}
	if c.Group.Teacher {
		ng.ACL.Teacher = school.ACLAllow
	}
	id, err := t.Client.CreateGroup(ctx, ng)
	if err != nil {
		return err
	}
	rr.mu.Lock()
	rr.groups[groupKey(c.Location, c.Group.Name)] = id
	rr.mu.Unlock()
	return nil
}

// createRosterUser is POST /users with the five fields Jamf School needs, the location and memberOf
// (the vendor spec documents memberOf on POST, so the user and its groups are one write). The user is
// then kept in the client's user cache, so the device phase finds it as an owner.
func (t *JamfSchool) createRosterUser(ctx context.Context, rr *rosterRun, c plan.RosterChange) error {
	s := c.User
	if s == nil || s.Username == "" {
		return errors.New("the change carries no username")
	}
	location := c.Location
	if s.Location != nil {
		location = *s.Location
	}
	loc, err := t.locationByName(ctx, location)
	if err != nil {
		return err
	}
	memberOf, err := t.groupIDs(ctx, rr, s.Groups)
	if err != nil {
		return err
	}
	pw, err := rosterPassword(c.NewUser)
	if err != nil {
		return err
	}
	nu := school.NewUser{Username: s.Username, Password: pw, Email: deref(s.Email), FirstName: deref(s.FirstName),
		LastName: deref(s.LastName), LocationID: loc}
	for _, id := range memberOf {
		nu.MemberOf = append(nu.MemberOf, id)
	}
	u, err := t.Client.CreateRosterUser(ctx, nu)
	if err != nil {
		return err
	}
	rr.mu.Lock()
	rr.users[strings.ToLower(u.Username)] = u
	rr.created = append(rr.created, u)
	keep := slices.Clone(rr.created)
	rr.mu.Unlock()
	t.Client.ResetUserCache(keep...)
	return nil
}

// rosterPassword renders spec.roster.users.password over the person's data, or makes a random
// password. Errors name the rule, never a rendered value.
func rosterPassword(nu *plan.NewRosterUser) (string, error) {
	if nu == nil || nu.Password == nil {
		return school.RandomPassword()
	}
	pw, err := nu.Password.RenderPtr(&nu.Data)
	if err != nil {
		return "", fmt.Errorf("spec.roster.users.password: %w", unwrapNamingError(err))
	}
	if strings.TrimSpace(pw) == "" {
		return "", errors.New("spec.roster.users.password rendered an empty password for this person")
	}
	return pw, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// updateRosterUser moves the user (PUT /users/{id}/migrate, onlyUser) when its location changes, then
// writes its names, email and memberships (PUT /users/{id}) when any is set.
func (t *JamfSchool) updateRosterUser(ctx context.Context, rr *rosterRun, c plan.RosterChange) error {
	s := c.User
	if s == nil {
		return errors.New("the change carries nothing to write")
	}
	id, err := refID(c.Ref)
	if err != nil {
		return err
	}
	if s.Location != nil {
		loc, err := t.locationByName(ctx, *s.Location)
		if err != nil {
			return err
		}
		if err := t.Client.MoveUser(ctx, id, loc); err != nil {
			return transientIf(err)
		}
	}
	up := school.UserUpdate{FirstName: s.FirstName, LastName: s.LastName, Email: s.Email}
	if s.Groups != nil {
		if err := t.setMemberOf(ctx, rr, &up, s.Groups); err != nil {
			return err
		}
	}
	if up.FirstName == nil && up.LastName == nil && up.Email == nil && s.Groups == nil {
		return nil
	}
	return transientIf(t.Client.UpdateUser(ctx, id, up))
}

// setMemberOf sets up's memberOf to groups (an empty list clears every membership).
func (t *JamfSchool) setMemberOf(ctx context.Context, rr *rosterRun, up *school.UserUpdate, groups []plan.GroupRef) error {
	ids, err := t.groupIDs(ctx, rr, groups)
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		up.ClearMemberships()
		return nil
	}
	up.MemberOf = make([]any, 0, len(ids))
	for _, id := range ids {
		up.MemberOf = append(up.MemberOf, id)
	}
	return nil
}

func (t *JamfSchool) createClass(ctx context.Context, rr *rosterRun, c plan.RosterChange) error {
	s := c.Class
	if s == nil || s.Name == nil {
		return errors.New("the change carries no class name")
	}
	key := classKey(c)
	rr.mu.Lock()
	uuid := rr.classes[key]
	rr.mu.Unlock()
	if uuid == "" {
		// Members are resolved before the class is made, so a member who cannot be named does not
		// leave an empty class behind.
		if _, _, err := t.memberIDs(ctx, rr, s); err != nil {
			return err
		}
		loc, err := t.locationByName(ctx, c.Location)
		if err != nil {
			return err
		}
		// The class is created without members, which are then set with PUT /classes/{uuid}/users: no
		// source shows that POST /classes honours students and teachers (Jamf's Terraform provider sets
		// them the same way).
		if uuid, err = t.Client.CreateClass(ctx, school.NewClass{Name: *s.Name, Description: deref(s.Description), LocationID: loc}); err != nil {
			return err
		}
		rr.mu.Lock()
		rr.classes[key] = uuid
		rr.mu.Unlock()
	}
	if !s.SetMembers {
		return nil
	}
	students, teachers, err := t.memberIDs(ctx, rr, s)
	if err != nil {
		return fmt.Errorf("class %s created, members not set: %w", uuid, err)
	}
	// Setting members is idempotent, and a retry of this change does not create the class again.
	if err := t.Client.SetClassMembers(ctx, uuid, students, teachers); err != nil {
		return fmt.Errorf("class %s created, members not set: %w", uuid, transientIf(err))
	}
	return nil
}

// updateClass writes a class's name and description (PUT /classes/{uuid}, which Jamf's SDK always sends
// with both: one left out of the change is read first, so it keeps its value) and its members (PUT
// /classes/{uuid}/users, both lists).
func (t *JamfSchool) updateClass(ctx context.Context, rr *rosterRun, c plan.RosterChange) error {
	s := c.Class
	if s == nil {
		return errors.New("the change carries nothing to write")
	}
	if c.Ref == "" {
		return errors.New("the change names no class uuid")
	}
	var students, teachers []int
	if s.SetMembers {
		var err error
		if students, teachers, err = t.memberIDs(ctx, rr, s); err != nil {
			return err
		}
	}
	if s.Name != nil || s.Description != nil {
		name, desc := s.Name, s.Description
		if name == nil || desc == nil {
			cur, err := t.Client.Class(ctx, c.Ref)
			if err != nil {
				return transientIf(err)
			}
			if IsASMSource(cur.Source) {
				return fmt.Errorf("class %s is synced from Apple School Manager (source %q): not written", c.Ref, cur.Source)
			}
			if name == nil {
				name = &cur.Name
			}
			if desc == nil {
				desc = &cur.Description
			}
		}
		if err := t.Client.UpdateClass(ctx, c.Ref, *name, *desc); err != nil {
			return transientIf(err)
		}
	}
	if s.SetMembers {
		return transientIf(t.Client.SetClassMembers(ctx, c.Ref, students, teachers))
	}
	return nil
}

// remove trashes a user (DELETE /users/{id}), moves it to the stale group (PUT memberOf), or deletes a
// class (DELETE /classes/{uuid}).
func (t *JamfSchool) remove(ctx context.Context, rr *rosterRun, c plan.RosterChange) error {
	if c.Kind == plan.KindClass {
		if c.Ref == "" {
			return errors.New("the change names no class uuid")
		}
		return transientIf(t.Client.DeleteClass(ctx, c.Ref))
	}
	id, err := refID(c.Ref)
	if err != nil {
		return err
	}
	if c.Remove == nil || c.Remove.MoveTo == nil {
		// Not Transient: a repeated DELETE of a user in the trash might delete it for good.
		return t.Client.TrashUser(ctx, id)
	}
	groups := c.Remove.Groups
	if len(groups) == 0 {
		groups = []plan.GroupRef{*c.Remove.MoveTo}
	}
	var up school.UserUpdate
	if err := t.setMemberOf(ctx, rr, &up, groups); err != nil {
		return err
	}
	return transientIf(t.Client.UpdateUser(ctx, id, up))
}

func refID(ref string) (int, error) {
	id, err := strconv.Atoi(ref)
	if err != nil || ref == "" {
		return 0, fmt.Errorf("the change names no Jamf School id (ref %q)", ref)
	}
	return id, nil
}

// groupIDs resolves group refs: by id, else by location and name from what this run created, else
// from one fresh listing (the lowest id when a location has two groups of the name, as the planner
// joins).
func (t *JamfSchool) groupIDs(ctx context.Context, rr *rosterRun, refs []plan.GroupRef) ([]int, error) {
	out := make([]int, 0, len(refs))
	for _, g := range refs {
		if g.Ref != "" {
			id, err := strconv.Atoi(g.Ref)
			if err != nil {
				return nil, fmt.Errorf("group ref %q is not a Jamf School group id", g.Ref)
			}
			out = append(out, id)
			continue
		}
		k := groupKey(g.Location, g.Name)
		rr.mu.Lock()
		id, ok := rr.groups[k]
		rr.mu.Unlock()
		if !ok {
			listed, err := t.listed(ctx, rr)
			if err != nil {
				return nil, err
			}
			ids := listed.groups[k]
			if len(ids) == 0 {
				return nil, fmt.Errorf("Jamf School has no group %q in location %q (its creation failed or did not run)", g.Name, g.Location)
			}
			id = slices.Min(ids)
		}
		out = append(out, id)
	}
	return out, nil
}

// memberIDs resolves a class's students and teachers.
func (t *JamfSchool) memberIDs(ctx context.Context, rr *rosterRun, s *plan.ClassSet) (students, teachers []int, err error) {
	if students, err = t.userIDs(ctx, rr, s.Students); err != nil {
		return nil, nil, err
	}
	if teachers, err = t.userIDs(ctx, rr, s.Teachers); err != nil {
		return nil, nil, err
	}
	return students, teachers, nil
}

// userIDs resolves user refs: by id, else by username from what this run created, else from one
// fresh listing (exactly one user of the username not in the trash).
func (t *JamfSchool) userIDs(ctx context.Context, rr *rosterRun, refs []plan.UserRef) ([]int, error) {
	out := make([]int, 0, len(refs))
	for _, u := range refs {
		if u.Ref != "" {
			id, err := strconv.Atoi(u.Ref)
			if err != nil {
				return nil, fmt.Errorf("user ref %q is not a Jamf School user id", u.Ref)
			}
			out = append(out, id)
			continue
		}
		k := strings.ToLower(strings.TrimSpace(u.Username))
		rr.mu.Lock()
		cu, ok := rr.users[k]
		rr.mu.Unlock()
		if ok {
			out = append(out, cu.ID)
			continue
		}
		listed, err := t.listed(ctx, rr)
		if err != nil {
			return nil, err
		}
		switch ids := listed.users[k]; len(ids) {
		case 0:
			return nil, fmt.Errorf("Jamf School has no user %q (its creation failed or did not run)", u.Username)
		case 1:
			out = append(out, ids[0])
		default:
			return nil, fmt.Errorf("Jamf School has %d users named %q", len(ids), u.Username)
		}
	}
	return out, nil
}

type listing struct {
	groups map[string][]int
	users  map[string][]int
}

// listed reads groups and users once per run, when a change first names one this run did not create.
// A failed read is not kept, so a later change reads again.
func (t *JamfSchool) listed(ctx context.Context, rr *rosterRun) (listing, error) {
	rr.listMu.Lock()
	defer rr.listMu.Unlock()
	if rr.listedGroups != nil {
		return listing{rr.listedGroups, rr.listedUsers}, nil
	}
	var (
		users  []school.User
		groups []school.Group
		locs   []school.Location
	)
	err := readAll(ctx,
		func(ctx context.Context) (err error) { users, err = t.Client.Users(ctx); return err },
		func(ctx context.Context) (err error) { groups, err = t.Client.Groups(ctx); return err },
		func(ctx context.Context) (err error) { locs, err = t.Client.Locations(ctx); return err },
	)
	if err != nil {
		return listing{}, transientIf(err)
	}
	locName := make(map[int]string, len(locs))
	for _, l := range locs {
		locName[l.ID] = l.Name
	}
	g := map[string][]int{}
	for _, x := range groups {
		k := groupKey(locName[x.LocationID], x.Name)
		g[k] = append(g[k], x.ID)
	}
	u := map[string][]int{}
	for _, x := range users {
		if strings.EqualFold(x.Status, "Trash") {
			continue
		}
		k := strings.ToLower(strings.TrimSpace(x.Username))
		u[k] = append(u[k], x.ID)
	}
	rr.listedGroups, rr.listedUsers = g, u
	return listing{g, u}, nil
}
