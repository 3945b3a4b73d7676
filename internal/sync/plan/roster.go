package plan

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/k12dev/devicesync-operator/internal/roster"
	"github.com/k12dev/devicesync-operator/internal/sync/naming"
)

// BuildRoster plans the roster sync (spec.roster, issue 15): the MDM's users, user groups and classes
// against the roster. It is pure: no I/O, the same inputs in any order give the same plan. Jamf School
// facts it relies on are those of the vendor reference (users, groups, classes); where that reference
// leaves a fact unsettled, the rule below takes the reading that writes less.
//
// # Scope
//
//	person                                      -> the first of its Orgs that RosterSync.Schools maps to a policy school
//	                                               (Policy.Schools); its location is that school's Location. None: out of
//	                                               scope (not written, not skipped, not counted). A student in two
//	                                               schools belongs to the first mapped one.
//	class                                       -> its School (schoolSourcedId), the same way
//	policy locations                            -> the Location of every policy school: the only places users are removed
//	                                               from and classes deleted in
//
// # Who is what
//
//	role in Teachers.Roles (case-insensitive)   -> teacher
//	PatronType in Teachers.PatronTypes          -> teacher
//	MDM user (by username) in a Teachers.Groups -> teacher
//	role student, or no role (an SIS CSV row)   -> student; an SIS row of a patron type that is not in the
//	                                               policy's StudentPatronTypes (Parent, ...) -> no user
//	any other role (guardian, aide, ...)        -> no user (counted in People, never written)
//
// # Users (RosterSync.Users set)
//
//	no username                                 -> skip NoUsername
//	two in-scope people with one username       -> both skip DuplicateUser (and left out of classes)
//	(case-insensitive)
//	two MDM users with the username             -> skip DuplicateUser
//	group template fails or renders ""          -> skip TemplateError
//	MDM user in the trash                       -> skip UserInTrash (a person restores it, the sync does not)
//	no MDM user, no email                       -> skip NoEmail
//	no MDM user, email held by an MDM user or   -> skip EmailTaken (emails are unique in Jamf School; two new people
//	another new person (case-insensitive)          sharing one are both skipped)
//	no MDM user                                 -> UserCreated (phase Users): username, names, email, location, groups;
//	                                               NewUser carries the password rule and the person's data
//	MDM user                                    -> UserUpdated with only what differs: first and last name (exact; an
//	                                               empty roster value is never written), email (case-insensitive; never
//	                                               emptied; left out and reported EmailTaken when another MDM user holds
//	                                               the new one), location (a move, without devices), groups
//	nothing differs                             -> InSync
//
// Groups: the managed groups are every (location, name) the students and teachers templates render for an
// in-scope person, plus the stale group in every policy location (names compare case-insensitively). A
// user's desired membership is its current groups that are not managed, the managed groups of its other
// mapped schools it is already in (a teacher at two schools is never taken out of the second's), plus the
// rendered group of its kind for its first school (none when that template is nil); Groups is written only when the sets differ. A desired group that does
// not exist in that location is created once (GroupCreated, phase Groups), with the Teacher permission when
// only teachers join it. Two MDM groups of one name in one location: the lowest ref is the one joined.
//
// # Classes (RosterSync.Classes set)
//
//	name template fails or renders ""           -> skip TemplateError
//	two roster classes, one name, one location  -> both skip DuplicateClass
//	an ASM class of that name in that location  -> skip ManagedByASM: never written (one report per ASM class)
//	an ASM class in a policy location no roster -> reported ManagedByASM: never written
//	class renders the name of
//	two MDM classes carry the class's marker    -> skip DuplicateClass
//	one MDM class carries the marker            -> that class (any location: Jamf School's PUT does not move a class)
//	else one MDM class of the name in the       -> adopted: ClassUpdated sets the marker description
//	location (two or more: skip DuplicateClass)    (it carries another roster class's marker: skip DuplicateClass)
//	else                                        -> ClassCreated (name, marker description, members, location)
//	name or description differs                 -> ClassUpdated
//	members differ (MembersKnown only)          -> MembersChanged; both lists always set together; with a name or
//	                                               description change, one ClassUpdated change carries both
//	nothing differs                             -> InSync
//
// Members: an enrollment whose role is in Teachers.Roles is a teacher, role student a student; other roles
// are not members. A member is its MDM user (by username, not trashed, exactly one), or the user this run
// creates (UserRef by username); without either, the class is written without it and reported NoMDMUser.
// An enrollment of a person the roster has no usable row for (left out for a missing role or a duplicated
// id) is reported NoMDMUser too, and an existing class's members are then left as they are. A person whose
// user cannot be told apart (DuplicateUser, several MDM users, one in the trash) keeps the seat they have.
// A class with no teacher is written and reported NoTeacher.
//
// # Removals (phase Removals)
//
//	removeStale MoveToGroup or Delete           -> every MDM user in a policy location, not trashed, in a managed group,
//	                                               whose username no in-scope person has: Removed (moved to the stale
//	                                               group, keeping its unmanaged groups; or trashed). A user already
//	                                               moved (its membership is what the move writes) is left alone.
//	classes.removeStale                         -> every non-ASM MDM class in a policy location carrying the marker of a
//	                                               sourcedId no roster class has: Removed (deleted). Only in a location
//	                                               the roster has an in-scope class in: an empty or partial class roster
//	                                               deletes nothing where it has no class.
//
// Managed counts the MDM users (policy locations, not trashed, in a managed group other than the stale
// group) and marker classes in policy locations: the measure of a percentage safety.maxRemovals.
//
// # Output
//
// Changes sorted by phase, kind, name (then key, location, ref); skips by kind, name, key, reason,
// message. Fields hold old and new values for status: never a password.
func BuildRoster(p Policy, data RosterData, mdm MDMRoster) RosterPlan {
	b := &rosterBuilder{
		p:    p,
		data: data,
		mdm:  mdm,
		plan: RosterPlan{Counts: RosterCounts{Users: len(mdm.Users), MDMClasses: len(mdm.Classes), ByAction: map[string]int{}, ByReason: map[string]int{}}},
	}
	if p.RosterSync == nil {
		return b.plan
	}
	b.rp = p.RosterSync
	b.index()
	b.people()
	if b.rp.Users != nil {
		b.users()
	}
	if b.rp.Classes != nil {
		b.classes()
	}
	b.removals()
	return b.finish()
}

// AttachRoster sets the plan's roster part and makes the digest cover it. A plan without a roster part
// keeps the digest of its device changes alone.
func (pl *Plan) AttachRoster(rp RosterPlan) {
	pl.Roster = &rp
	pl.Digest = DigestWithRoster(pl.Changes, pl.Roster)
}

// Person kinds.
const (
	personOther = iota
	personStudent
	personTeacher
)

// rosterPerson is one in-scope person as the planner sees it.
type rosterPerson struct {
	p        roster.Person
	site     string
	school   School
	location string
	kind     int
	user     *MDMUser // the one non-trashed MDM user of the username, else nil
	trashed  bool     // the one MDM user of the username is in the trash
	mdmDup   bool     // two or more MDM users have the username
	dup      bool     // another in-scope person has the username
	group    string   // rendered students or teachers group ("" none)
	// also are the managed groups (groupKey) of the person's other mapped schools (a teacher at two
	// schools): a membership of one of them is kept, never taken away.
	also     map[string]bool
	groupErr error
	create   bool // a UserCreated change is planned
	data     naming.Data
}

type rosterBuilder struct {
	p    Policy
	rp   *RosterPolicy
	data RosterData
	mdm  MDMRoster
	plan RosterPlan

	locations   map[string]bool            // policy locations
	usersByName map[string][]*MDMUser      // folded username -> MDM users
	emails      map[string][]string        // folded email -> MDM user refs
	groupByRef  map[string]MDMGroup        // ref -> group
	groupByKey  map[string]string          // location + folded name -> lowest ref
	persons     []*rosterPerson            // in scope, in roster order
	byID        map[string]*rosterPerson   // in scope, by Person.ID
	names       map[string][]*rosterPerson // folded username -> in-scope people
	managed     map[string]bool            // managed group keys (location + folded name)
	newGroups   map[string]*RosterChange   // key -> GroupCreated
	teacherRole map[string]bool
	allPeople   map[string]roster.Person // every roster person by ID, in scope or not
	usernames   map[string]string        // MDM user ref -> username, for status
}

func groupKey(location, name string) string {
	return location + "\x00" + strings.ToLower(strings.TrimSpace(name))
}

func fold(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

func (b *rosterBuilder) index() {
	b.locations = map[string]bool{}
	for _, s := range b.p.Schools {
		if s.Location != "" {
			b.locations[s.Location] = true
		}
	}
	b.usersByName = map[string][]*MDMUser{}
	b.emails = map[string][]string{}
	b.usernames = map[string]string{}
	b.allPeople = map[string]roster.Person{}
	for _, p := range b.data.People {
		if _, seen := b.allPeople[p.ID]; !seen {
			b.allPeople[p.ID] = p
		}
	}
	for i := range b.mdm.Users {
		u := &b.mdm.Users[i]
		b.usernames[u.Ref] = u.Username
		if n := fold(u.Username); n != "" {
			b.usersByName[n] = append(b.usersByName[n], u)
		}
		if e := fold(u.Email); e != "" {
			b.emails[e] = append(b.emails[e], u.Ref)
		}
	}
	b.groupByRef = map[string]MDMGroup{}
	b.groupByKey = map[string]string{}
	for _, g := range b.mdm.Groups {
		b.groupByRef[g.Ref] = g
		k := groupKey(g.Location, g.Name)
		if prev, ok := b.groupByKey[k]; !ok || refLess(g.Ref, prev) {
			b.groupByKey[k] = g.Ref
		}
	}
	b.teacherRole = foldSet(b.rp.Teachers.Roles)
	b.managed = map[string]bool{}
	b.newGroups = map[string]*RosterChange{}
}

// refLess orders refs numerically when both are numbers (Jamf School's user and group ids), else as text.
func refLess(a, b string) bool {
	x, errA := strconv.Atoi(a)
	y, errB := strconv.Atoi(b)
	if errA == nil && errB == nil {
		return x < y
	}
	return a < b
}

// scope finds the policy school of a list of roster orgs (see the doc: the first mapped one).
func (b *rosterBuilder) scope(orgs ...string) (string, School, bool) {
	for _, o := range orgs {
		site, ok := b.rp.Schools[o]
		if !ok {
			continue
		}
		if s, ok := b.p.Schools[site]; ok {
			return site, s, true
		}
	}
	return "", School{}, false
}

// people scopes, classifies and matches every person, renders its group and collects the managed groups.
func (b *rosterBuilder) people() {
	b.byID = map[string]*rosterPerson{}
	b.names = map[string][]*rosterPerson{}
	patronTeacher := foldSet(b.rp.Teachers.PatronTypes)
	groupTeacher := foldSet(b.rp.Teachers.Groups)
	studentTypes := foldSet(b.p.StudentPatronTypes)
	for _, p := range b.data.People {
		site, school, ok := b.scope(p.Orgs...)
		if !ok {
			continue
		}
		rp := &rosterPerson{p: p, site: site, school: school, location: school.Location}
		rp.data = naming.Data{
			School: site, SchoolCode: site, SchoolName: school.SchoolName, Grade: p.Grade,
			FirstName: p.GivenName, LastName: p.FamilyName, FullName: naming.FullName(p.GivenName, p.FamilyName),
			Username: p.Username, Email: p.Email, DistrictID: p.Identifier,
		}
		if n := fold(p.Username); n != "" {
			switch us := b.usersByName[n]; {
			case len(us) > 1:
				rp.mdmDup = true
			case len(us) == 1 && us[0].Trashed:
				rp.trashed = true
			case len(us) == 1:
				rp.user = us[0]
			}
		}
		switch {
		case b.teacherRole[fold(p.Role)], p.PatronType != "" && patronTeacher[fold(p.PatronType)], rp.user != nil && b.inGroup(rp.user, groupTeacher):
			rp.kind = personTeacher
		case fold(p.Role) == "student", p.Role == "" && (p.PatronType == "" || len(studentTypes) == 0 || studentTypes[fold(p.PatronType)]):
			rp.kind = personStudent
		}
		b.plan.Counts.People++
		b.persons = append(b.persons, rp)
		if _, seen := b.byID[p.ID]; !seen {
			b.byID[p.ID] = rp
		}
		if n := fold(p.Username); n != "" {
			b.names[n] = append(b.names[n], rp)
		}
	}
	for _, same := range b.names {
		if len(same) < 2 {
			continue
		}
		users := 0
		for _, rp := range same {
			if rp.kind != personOther {
				users++
			}
		}
		if users < 2 {
			continue
		}
		for _, rp := range same {
			if rp.kind != personOther {
				rp.dup = true
			}
		}
	}
	if b.rp.Users == nil {
		return
	}
	for _, rp := range b.persons {
		if rp.kind == personOther || rp.dup {
			continue
		}
		t := b.rp.Users.StudentsGroup
		if rp.kind == personTeacher {
			t = b.rp.Users.TeachersGroup
		}
		if t == nil {
			continue
		}
		name, err := t.RenderPtr(&rp.data)
		if err == nil && name == "" {
			err = fmt.Errorf("%s: rendered an empty group name", t.Name())
		}
		if err != nil {
			rp.groupErr = err
			continue
		}
		rp.group = name
		b.managed[groupKey(rp.location, name)] = true
		for _, org := range rp.p.Orgs {
			site, school, ok := b.scope(org)
			if !ok || site == rp.site {
				continue
			}
			d := rp.data
			d.School, d.SchoolCode, d.SchoolName = site, site, school.SchoolName
			if other, err := t.RenderPtr(&d); err == nil && other != "" {
				if rp.also == nil {
					rp.also = map[string]bool{}
				}
				rp.also[groupKey(school.Location, other)] = true
			}
		}
	}
	if b.rp.Users.RemoveStale == StaleMoveToGroup && b.rp.Users.StaleGroup != "" {
		for loc := range b.locations {
			b.managed[groupKey(loc, b.rp.Users.StaleGroup)] = true
		}
	}
}

func (b *rosterBuilder) inGroup(u *MDMUser, names map[string]bool) bool {
	if len(names) == 0 {
		return false
	}
	for _, ref := range u.Groups {
		if g, ok := b.groupByRef[ref]; ok && names[fold(g.Name)] {
			return true
		}
	}
	return false
}

// isManaged reports whether an MDM group ref is one of the policy's managed groups.
func (b *rosterBuilder) isManaged(ref string) bool {
	g, ok := b.groupByRef[ref]
	return ok && b.managed[groupKey(g.Location, g.Name)]
}

// groupRef names the group (location, name), planning its creation when it does not exist.
func (b *rosterBuilder) groupRef(location, name string, teacher bool) GroupRef {
	k := groupKey(location, name)
	if ref, ok := b.groupByKey[k]; ok {
		return GroupRef{Ref: ref}
	}
	if c, ok := b.newGroups[k]; ok {
		c.Group.Teacher = c.Group.Teacher && teacher
		return GroupRef{Location: location, Name: c.Name}
	}
	b.newGroups[k] = &RosterChange{Kind: KindGroup, Action: ActionGroupCreated, Phase: PhaseGroups, Name: name, Location: location,
		Group:  &GroupSet{Name: name, Teacher: teacher},
		Fields: []FieldChange{{Field: "name", New: name}}}
	return GroupRef{Location: location, Name: name}
}

func (b *rosterBuilder) change(c RosterChange) {
	b.plan.Changes = append(b.plan.Changes, c)
	b.plan.Counts.ByAction[c.Action]++
	if c.Action == ActionRemoved {
		b.plan.Counts.Removals++
	} else {
		b.plan.Counts.Changed++
	}
}

func (b *rosterBuilder) skip(kind, name, key, reason, format string, args ...any) {
	b.plan.Skips = append(b.plan.Skips, RosterSkip{Kind: kind, Name: name, Key: key, Reason: reason, Message: fmt.Sprintf(format, args...)})
	b.plan.Counts.ByReason[reason]++
}

func personName(rp *rosterPerson) string {
	if rp.p.Username != "" {
		return rp.p.Username
	}
	return rp.p.ID
}

func (b *rosterBuilder) users() {
	// Emails new users would take, to skip two new people sharing one.
	newEmails := map[string]int{}
	for _, rp := range b.persons {
		if rp.kind != personOther && !rp.dup && !rp.mdmDup && !rp.trashed && rp.user == nil && rp.p.Username != "" && rp.p.Email != "" {
			newEmails[fold(rp.p.Email)]++
		}
	}
	for _, rp := range b.persons {
		if rp.kind == personOther {
			continue
		}
		name, key := personName(rp), rp.p.ID
		switch {
		case rp.p.Username == "":
			b.skip(KindUser, name, key, ReasonNoUsername, "%s has no username: no user is made or updated", describe(rp))
		case rp.dup:
			b.skip(KindUser, name, key, ReasonDuplicateUser, "%s shares username %q with another roster person: neither is written or put in a class", describe(rp), rp.p.Username)
		case rp.mdmDup:
			b.skip(KindUser, name, key, ReasonDuplicateUser, "%d MDM users have username %q: none is written", len(b.usersByName[fold(rp.p.Username)]), rp.p.Username)
		case rp.groupErr != nil:
			b.skip(KindUser, name, key, ReasonTemplateError, "%v", rp.groupErr)
		case rp.trashed:
			b.skip(KindUser, name, key, ReasonUserInTrash, "the MDM user %q is in the trash: restore it to have it synced", rp.p.Username)
		case rp.user == nil:
			b.createUser(rp, newEmails)
		default:
			b.updateUser(rp)
		}
	}
}

func describe(rp *rosterPerson) string {
	return fmt.Sprintf("roster person %s (line %d)", strconv.Quote(rp.p.ID), rp.p.Line)
}

func (b *rosterBuilder) desiredGroup(rp *rosterPerson) *GroupRef {
	if rp.group == "" {
		return nil
	}
	g := b.groupRef(rp.location, rp.group, rp.kind == personTeacher)
	return &g
}

func (b *rosterBuilder) createUser(rp *rosterPerson, newEmails map[string]int) {
	name, key := rp.p.Username, rp.p.ID
	email := fold(rp.p.Email)
	switch {
	case email == "":
		b.skip(KindUser, name, key, ReasonNoEmail, "%s has no email, which creating an MDM user needs", describe(rp))
		return
	case len(b.emails[email]) > 0:
		b.skip(KindUser, name, key, ReasonEmailTaken, "email %q already belongs to another MDM user: no user is made", rp.p.Email)
		return
	case newEmails[email] > 1:
		b.skip(KindUser, name, key, ReasonEmailTaken, "email %q is the email of %d roster people who would be new users: none is made", rp.p.Email, newEmails[email])
		return
	}
	set := &UserSet{Username: rp.p.Username, FirstName: ptr(rp.p.GivenName), LastName: ptr(rp.p.FamilyName), Email: ptr(rp.p.Email), Location: ptr(rp.location)}
	fields := []FieldChange{
		{Field: FieldUsername, New: rp.p.Username},
		{Field: "firstName", New: rp.p.GivenName},
		{Field: "lastName", New: rp.p.FamilyName},
		{Field: FieldEmail, New: rp.p.Email},
		{Field: FieldLocation, New: rp.location},
	}
	if g := b.desiredGroup(rp); g != nil {
		set.Groups = []GroupRef{*g}
		fields = append(fields, FieldChange{Field: "groups", New: rp.group})
	}
	rp.create = true
	b.change(RosterChange{Kind: KindUser, Action: ActionUserCreated, Phase: PhaseUsers, Name: rp.p.Username, Key: key, Location: rp.location,
		Fields: fields, User: set, NewUser: &NewRosterUser{Password: b.rp.Users.Password, Data: rp.data}})
}

func ptr(s string) *string { return &s }

func (b *rosterBuilder) updateUser(rp *rosterPerson) {
	u := rp.user
	set := &UserSet{}
	var fields []FieldChange
	if v := rp.p.GivenName; v != "" && v != strings.TrimSpace(u.FirstName) {
		set.FirstName = ptr(v)
		fields = append(fields, FieldChange{Field: "firstName", Old: u.FirstName, New: v})
	}
	if v := rp.p.FamilyName; v != "" && v != strings.TrimSpace(u.LastName) {
		set.LastName = ptr(v)
		fields = append(fields, FieldChange{Field: "lastName", Old: u.LastName, New: v})
	}
	if v := rp.p.Email; v != "" && fold(v) != fold(u.Email) {
		if others := slices.DeleteFunc(slices.Clone(b.emails[fold(v)]), func(r string) bool { return r == u.Ref }); len(others) > 0 {
			b.skip(KindUser, rp.p.Username, rp.p.ID, ReasonEmailTaken, "email %q already belongs to another MDM user: the user's email is left as %q", v, u.Email)
		} else {
			set.Email = ptr(v)
			fields = append(fields, FieldChange{Field: FieldEmail, Old: u.Email, New: v})
		}
	}
	if rp.location != u.Location {
		set.Location = ptr(rp.location)
		fields = append(fields, FieldChange{Field: FieldLocation, Old: u.Location, New: rp.location})
	}
	if groups, changed := b.membership(u, b.desiredGroup(rp), rp.also); changed {
		set.Groups = groups
		fields = append(fields, FieldChange{Field: "groups", Old: b.groupNames(refsOf(u.Groups)), New: b.groupNames(groups)})
	}
	if len(fields) == 0 {
		b.plan.Counts.InSync++
		return
	}
	b.change(RosterChange{Kind: KindUser, Action: ActionUserUpdated, Phase: PhaseUsers, Name: rp.p.Username, Key: rp.p.ID, Ref: u.Ref,
		Location: rp.location, Fields: fields, User: set})
}

// membership is a user's desired groups: its unmanaged groups, the managed groups of its other schools
// it is in (also), plus want (nil: none), sorted, and whether that differs from its current groups.
func (b *rosterBuilder) membership(u *MDMUser, want *GroupRef, also map[string]bool) ([]GroupRef, bool) {
	keep := map[string]bool{}
	var out []GroupRef
	for _, ref := range u.Groups {
		if (!b.isManaged(ref) || b.inAlso(ref, also)) && !keep[ref] {
			keep[ref] = true
			out = append(out, GroupRef{Ref: ref})
		}
	}
	if want != nil && !keep[want.Ref] {
		out = append(out, *want)
	}
	sortGroupRefs(out)
	cur := map[string]bool{}
	for _, ref := range u.Groups {
		cur[ref] = true
	}
	changed := len(cur) != len(out)
	for _, g := range out {
		if g.Ref == "" || !cur[g.Ref] {
			changed = true
		}
	}
	if out == nil {
		out = []GroupRef{}
	}
	return out, changed
}

// inAlso reports whether a group ref is one of a person's other schools' managed groups.
func (b *rosterBuilder) inAlso(ref string, also map[string]bool) bool {
	g, ok := b.groupByRef[ref]
	return ok && also[groupKey(g.Location, g.Name)]
}

func refsOf(refs []string) []GroupRef {
	out := make([]GroupRef, len(refs))
	for i, r := range refs {
		out[i] = GroupRef{Ref: r}
	}
	sortGroupRefs(out)
	return out
}

func sortGroupRefs(gs []GroupRef) {
	slices.SortFunc(gs, func(a, b GroupRef) int {
		if c, ok := compareRefs(a.Ref, b.Ref); ok {
			return c
		}
		return cmp.Or(cmp.Compare(a.Location, b.Location), cmp.Compare(a.Name, b.Name))
	})
}

// compareRefs orders references to existing objects (by ref, see refLess) before references by name; ok
// is false when neither has a ref (the caller orders them by name).
func compareRefs(a, b string) (c int, ok bool) {
	switch {
	case a != "" && b != "":
		if refLess(a, b) {
			return -1, true
		}
		if refLess(b, a) {
			return 1, true
		}
		return 0, true
	case a != "":
		return -1, true
	case b != "":
		return 1, true
	}
	return 0, false
}

// groupNames shows a membership list for status: group names, comma-separated.
func (b *rosterBuilder) groupNames(gs []GroupRef) string {
	names := make([]string, 0, len(gs))
	for _, g := range gs {
		switch {
		case g.Ref == "":
			names = append(names, g.Name)
		case b.groupByRef[g.Ref].Name != "":
			names = append(names, b.groupByRef[g.Ref].Name)
		default:
			names = append(names, "#"+g.Ref)
		}
	}
	return strings.Join(names, ", ")
}

// rosterClass is one in-scope class with its rendered name.
type rosterClass struct {
	c        roster.Class
	location string
	name     string
}

func (b *rosterBuilder) classes() {
	markers := map[string][]*MDMClass{}
	byName := map[string][]*MDMClass{}
	asm := map[string][]*MDMClass{}
	for i := range b.mdm.Classes {
		c := &b.mdm.Classes[i]
		k := groupKey(c.Location, c.Name)
		if c.ASM {
			asm[k] = append(asm[k], c)
			continue
		}
		if strings.HasPrefix(c.Description, ClassMarkerPrefix) {
			markers[c.Description] = append(markers[c.Description], c)
		}
		byName[k] = append(byName[k], c)
	}
	var list []*rosterClass
	named := map[string]int{}
	for _, c := range b.data.Classes {
		site, school, ok := b.scope(c.School)
		if !ok {
			continue
		}
		b.plan.Counts.Classes++
		d := naming.Data{Title: c.Title, ClassCode: c.ClassCode, Period: c.Period, School: site, SchoolCode: site,
			SchoolName: school.SchoolName, Grade: c.Grade, Location: c.Location}
		name, err := b.rp.Classes.Name.RenderPtr(&d)
		if err == nil && name == "" {
			err = fmt.Errorf("%s: rendered an empty class name", b.rp.Classes.Name.Name())
		}
		if err != nil {
			b.skip(KindClass, c.ID, c.ID, ReasonTemplateError, "%v", err)
			continue
		}
		rc := &rosterClass{c: c, location: school.Location, name: name}
		list = append(list, rc)
		named[groupKey(rc.location, name)]++
	}
	reported := map[*MDMClass]bool{}
	defer func() {
		// Every other ASM class in the policy's locations is reported too: the sync leaves it alone, and a
		// roster class it was meant to match (under another name) is written beside it.
		for i := range b.mdm.Classes {
			if a := &b.mdm.Classes[i]; a.ASM && !reported[a] && b.locations[a.Location] {
				b.skip(KindClass, a.Name, "", ReasonManagedByASM, "the MDM class %q (%s) in location %q is synced from Apple School Manager: the roster sync never writes it (no roster class renders its name)", a.Name, a.Ref, a.Location)
			}
		}
	}()
	for _, rc := range list {
		k := groupKey(rc.location, rc.name)
		if n := named[k]; n > 1 {
			b.skip(KindClass, rc.name, rc.c.ID, ReasonDuplicateClass, "%d roster classes render the name %q in location %q: none is written", n, rc.name, rc.location)
			continue
		}
		if as := asm[k]; len(as) > 0 {
			for _, a := range as {
				reported[a] = true
				b.skip(KindClass, rc.name, rc.c.ID, ReasonManagedByASM, "the MDM class %q (%s) in location %q is synced from Apple School Manager: it is never written", a.Name, a.Ref, a.Location)
			}
			continue
		}
		marker := ClassMarkerPrefix + rc.c.ID
		var mc *MDMClass
		switch ms := markers[marker]; {
		case len(ms) > 1:
			b.skip(KindClass, rc.name, rc.c.ID, ReasonDuplicateClass, "%d MDM classes carry the marker of roster class %q: none is written", len(ms), rc.c.ID)
			continue
		case len(ms) == 1:
			mc = ms[0]
		default:
			switch same := byName[k]; {
			case len(same) > 1:
				b.skip(KindClass, rc.name, rc.c.ID, ReasonDuplicateClass, "%d MDM classes are named %q in location %q: none is adopted or written", len(same), rc.name, rc.location)
				continue
			case len(same) == 1 && strings.HasPrefix(same[0].Description, ClassMarkerPrefix):
				// Another roster class's class (its own, or one it left): adopting it would rewrite that
				// class's marker and members, and both roster classes would write it.
				b.skip(KindClass, rc.name, rc.c.ID, ReasonDuplicateClass, "the MDM class %q (%s) in location %q carries the marker of roster class %q: it is not adopted",
					same[0].Name, same[0].Ref, rc.location, strings.TrimPrefix(same[0].Description, ClassMarkerPrefix))
				continue
			case len(same) == 1:
				mc = same[0]
			}
		}
		b.class(rc, mc, marker)
	}
}

// members resolves a class's enrollments into MDM user references, reporting those without a user.
// unknown counts enrollments of people the roster has no usable row for (a row left out for a missing
// role or a duplicated id): the class's current members are then kept. A person the roster knows but
// whose user cannot be told (a username two people share, several MDM users, one in the trash) keeps the
// seat they already have in an existing class (mc): an ambiguity never takes anyone out of a class.
func (b *rosterBuilder) members(rc *rosterClass, mc *MDMClass) (students, teachers []UserRef, unknown int) {
	for _, e := range rc.c.Enrollments {
		var teacher bool
		switch {
		case b.teacherRole[fold(e.Role)]:
			teacher = true
		case fold(e.Role) == "student":
		default:
			continue
		}
		list := &students
		if teacher {
			list = &teachers
		}
		ref, why := b.userRef(e.Person)
		if ref == nil {
			what := "the class is written without them"
			p, known := b.allPeople[e.Person]
			switch kept := b.seatsHeld(mc, p.Username, teacher); {
			case !known:
				unknown++
				if mc != nil {
					what = "the class's members are left as they are"
				}
			case len(kept) > 0:
				*list = append(*list, kept...)
				what = "the seat they have in the class is kept"
			}
			b.skip(KindClass, rc.name, rc.c.ID, ReasonNoMDMUser, "member %q (%s) %s: %s", e.Person, e.Role, why, what)
			continue
		}
		*list = append(*list, *ref)
	}
	return sortUserRefs(students), sortUserRefs(teachers), unknown
}

// seatsHeld are the members of an existing class (as teachers or as students) whose MDM user has the
// username.
func (b *rosterBuilder) seatsHeld(mc *MDMClass, username string, teacher bool) []UserRef {
	if mc == nil || !mc.MembersKnown || username == "" {
		return nil
	}
	seats := mc.Students
	if teacher {
		seats = mc.Teachers
	}
	var out []UserRef
	for _, u := range b.usersByName[fold(username)] {
		if slices.Contains(seats, u.Ref) {
			out = append(out, UserRef{Ref: u.Ref})
		}
	}
	return out
}

// userRef is the MDM user of a roster person: an existing one by Ref, one created this run by username.
func (b *rosterBuilder) userRef(id string) (*UserRef, string) {
	rp, ok := b.byID[id]
	switch {
	case !ok:
		if p, ok := b.allPeople[id]; ok {
			return b.mdmUserRef(p.Username, "is not in a school of this policy and")
		}
		return nil, "is not in the roster's users"
	case rp.dup:
		return nil, "shares a username with another roster person"
	case rp.create:
		return &UserRef{Username: rp.p.Username}, ""
	}
	return b.mdmUserRef(rp.p.Username, "")
}

func (b *rosterBuilder) mdmUserRef(username, prefix string) (*UserRef, string) {
	join := func(s string) string { return strings.TrimSpace(prefix + " " + s) }
	if username == "" {
		return nil, join("has no username")
	}
	us := b.usersByName[fold(username)]
	switch {
	case len(us) == 0:
		return nil, join("has no MDM user")
	case len(us) > 1:
		return nil, join("has several MDM users")
	case us[0].Trashed:
		return nil, join("has an MDM user in the trash")
	}
	return &UserRef{Ref: us[0].Ref}, ""
}

// dedupe and sort member references: by ref, then by username.
func sortUserRefs(rs []UserRef) []UserRef {
	if rs == nil {
		return []UserRef{}
	}
	slices.SortFunc(rs, func(a, b UserRef) int {
		if c, ok := compareRefs(a.Ref, b.Ref); ok {
			return c
		}
		return cmp.Compare(a.Username, b.Username)
	})
	return slices.Compact(rs)
}

func (b *rosterBuilder) class(rc *rosterClass, mc *MDMClass, marker string) {
	students, teachers, unknown := b.members(rc, mc)
	if len(teachers) == 0 {
		b.skip(KindClass, rc.name, rc.c.ID, ReasonNoTeacher, "roster class %q has no teacher: it is written with its students", rc.c.ID)
	}
	if mc == nil {
		set := &ClassSet{Name: ptr(rc.name), Description: ptr(marker)}
		fields := []FieldChange{{Field: FieldName, New: rc.name}, {Field: "description", New: marker}}
		if len(students)+len(teachers) > 0 {
			set.Students, set.Teachers, set.SetMembers = students, teachers, true
			fields = append(fields, FieldChange{Field: "students", New: b.userNames(students)}, FieldChange{Field: "teachers", New: b.userNames(teachers)})
		}
		b.change(RosterChange{Kind: KindClass, Action: ActionClassCreated, Phase: PhaseClasses, Name: rc.name, Key: rc.c.ID, Location: rc.location,
			Fields: fields, Class: set})
		return
	}
	set := &ClassSet{}
	var fields []FieldChange
	action := ""
	if mc.Name != rc.name {
		set.Name = ptr(rc.name)
		fields = append(fields, FieldChange{Field: FieldName, Old: mc.Name, New: rc.name})
		action = ActionClassUpdated
	}
	if mc.Description != marker {
		set.Description = ptr(marker)
		fields = append(fields, FieldChange{Field: "description", Old: mc.Description, New: marker})
		action = ActionClassUpdated
	}
	if mc.MembersKnown && unknown == 0 && (!sameMembers(students, mc.Students) || !sameMembers(teachers, mc.Teachers)) {
		set.Students, set.Teachers, set.SetMembers = students, teachers, true
		fields = append(fields,
			FieldChange{Field: "students", Old: b.userNames(refsToUsers(mc.Students)), New: b.userNames(students)},
			FieldChange{Field: "teachers", Old: b.userNames(refsToUsers(mc.Teachers)), New: b.userNames(teachers)})
		if action == "" {
			action = ActionMembersChanged
		}
	}
	if action == "" {
		b.plan.Counts.InSync++
		return
	}
	b.change(RosterChange{Kind: KindClass, Action: action, Phase: PhaseClasses, Name: rc.name, Key: rc.c.ID, Ref: mc.Ref, Location: mc.Location,
		Fields: fields, Class: set})
}

func refsToUsers(refs []string) []UserRef {
	out := make([]UserRef, len(refs))
	for i, r := range refs {
		out[i] = UserRef{Ref: r}
	}
	return sortUserRefs(out)
}

// sameMembers compares desired members with the MDM's refs as sets.
func sameMembers(want []UserRef, have []string) bool {
	h := map[string]bool{}
	for _, r := range have {
		h[r] = true
	}
	w := map[string]bool{}
	for _, r := range want {
		if r.Ref == "" || !h[r.Ref] {
			return false
		}
		w[r.Ref] = true
	}
	return len(w) == len(h)
}

// userNames shows member references for status: usernames, comma-separated, sorted.
func (b *rosterBuilder) userNames(rs []UserRef) string {
	names := make([]string, 0, len(rs))
	for _, r := range rs {
		switch {
		case r.Ref == "":
			names = append(names, r.Username)
		case b.usernames[r.Ref] != "":
			names = append(names, b.usernames[r.Ref])
		default:
			names = append(names, "#"+r.Ref)
		}
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

func (b *rosterBuilder) removals() {
	have := map[string]bool{}
	for _, rp := range b.persons {
		if n := fold(rp.p.Username); n != "" {
			have[n] = true
		}
	}
	var us *UserSync
	if b.rp.Users != nil {
		us = b.rp.Users
	}
	// A user already moved to the stale group is no longer one the policy manages: counting it would let
	// the percentage of maxRemovals grow with every year's leavers.
	inPolicyGroup := func(ref string) bool {
		g, ok := b.groupByRef[ref]
		stale := ok && us != nil && us.RemoveStale == StaleMoveToGroup && fold(g.Name) == fold(us.StaleGroup)
		return b.isManaged(ref) && !stale
	}
	for i := range b.mdm.Users {
		u := &b.mdm.Users[i]
		if u.Trashed || !b.locations[u.Location] || !slices.ContainsFunc(u.Groups, inPolicyGroup) {
			continue
		}
		b.plan.Counts.Managed++
		if us == nil || us.RemoveStale == StaleKeep || have[fold(u.Username)] {
			continue
		}
		rm := &RemoveSet{}
		fields := []FieldChange{{Field: FieldUsername, Old: u.Username}}
		if us.RemoveStale == StaleMoveToGroup {
			if us.StaleGroup == "" {
				continue
			}
			to := b.groupRef(u.Location, us.StaleGroup, false)
			groups, changed := b.membership(u, &to, nil)
			if !changed {
				continue
			}
			rm.MoveTo, rm.Groups = &to, groups
			fields = append(fields, FieldChange{Field: "groups", Old: b.groupNames(refsOf(u.Groups)), New: b.groupNames(groups)})
		} else {
			fields = append(fields, FieldChange{Field: "status", Old: "Active", New: "Trash"})
		}
		b.change(RosterChange{Kind: KindUser, Action: ActionRemoved, Phase: PhaseRemovals, Name: u.Username, Ref: u.Ref, Location: u.Location,
			Fields: fields, Remove: rm})
	}
	classIDs := map[string]bool{}
	classLocs := map[string]bool{} // locations the roster has a class in: the only ones classes are deleted in
	for _, c := range b.data.Classes {
		classIDs[c.ID] = true
		if _, s, ok := b.scope(c.School); ok {
			classLocs[s.Location] = true
		}
	}
	for i := range b.mdm.Classes {
		c := &b.mdm.Classes[i]
		if c.ASM || !b.locations[c.Location] || !strings.HasPrefix(c.Description, ClassMarkerPrefix) {
			continue
		}
		b.plan.Counts.Managed++
		if b.rp.Classes == nil || !b.rp.Classes.RemoveStale || !classLocs[c.Location] || classIDs[strings.TrimPrefix(c.Description, ClassMarkerPrefix)] {
			continue
		}
		b.change(RosterChange{Kind: KindClass, Action: ActionRemoved, Phase: PhaseRemovals, Name: c.Name, Ref: c.Ref, Location: c.Location,
			Fields: []FieldChange{{Field: FieldName, Old: c.Name}}, Remove: &RemoveSet{}})
	}
}

func (b *rosterBuilder) finish() RosterPlan {
	for _, c := range b.newGroups {
		b.change(*c)
	}
	pl := b.plan
	slices.SortFunc(pl.Changes, func(a, b RosterChange) int {
		return cmp.Or(cmp.Compare(a.Phase, b.Phase), cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Name, b.Name),
			cmp.Compare(a.Key, b.Key), cmp.Compare(a.Location, b.Location), cmp.Compare(a.Ref, b.Ref))
	})
	slices.SortFunc(pl.Skips, func(a, b RosterSkip) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Name, b.Name), cmp.Compare(a.Key, b.Key),
			cmp.Compare(a.Reason, b.Reason), cmp.Compare(a.Message, b.Message))
	})
	return pl
}
