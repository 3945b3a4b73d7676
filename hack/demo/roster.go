package main

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/k12dev/devicesync-operator/internal/sim/district"
)

// The Jamf School demo also syncs the roster (spec.roster, issue 15): the district's OneRoster bundle
// (district.GenerateRoster) is published in a ConfigMap, and the run must leave Jamf School with the
// users, groups and classes worked out here from the generated roster and the rules of the decision
// table (internal/sync/plan), not from the planner's own output.

// The demo's spec.roster. The expectation below applies the same rules in Go (studentsGroup,
// teachersGroup, className): change both together.
const (
	demoStudentsGroup = "{{.SchoolCode}} Students"
	demoTeachersGroup = "{{.SchoolCode}} Teachers"
	// demoClassName has the class code: the generated titles ("Class of Smith") repeat within a school,
	// and classes rendering one name in one location would all be skipped DuplicateClass.
	demoClassName   = "{{.SchoolCode}} {{.Title}} ({{.ClassCode}})"
	demoTeacherRole = "teacher"

	// absentStudents is how many students with a checked-out iPad have no Jamf School user before the
	// run: the run creates them, and their iPads get them as owners in the same run.
	absentStudents = 3
)

func studentsGroup(site string) string          { return site + " Students" }
func teachersGroup(site string) string          { return site + " Teachers" }
func className(site, title, code string) string { return site + " " + title + " (" + code + ")" }

// Roster skip reasons the expectation applies (the planner's names, plan.Reason...).
const (
	skipNoUsername     = "NoUsername"
	skipDuplicateUser  = "DuplicateUser"
	skipNoEmail        = "NoEmail"
	skipEmailTaken     = "EmailTaken"
	skipDuplicateClass = "DuplicateClass"
)

// mdmUser is a Jamf School user as the comparison sees it: location and group names, not ids.
type mdmUser struct {
	Username, Email, Location string
	// Groups are the names of its groups, each as "name@location".
	Groups []string
}

// mdmClass is a Jamf School class as the comparison sees it: members by username, sorted.
type mdmClass struct {
	UUID, Name, Location, Source string
	ASM                          bool
	Teachers, Students           []string
	// Writes counts the API writes the class received.
	Writes int
}

// rosterSnapshot is what Jamf School holds, read from the simulator.
type rosterSnapshot struct {
	// Users by lower-case username.
	Users   map[string]mdmUser
	Classes []mdmClass
}

// expectedUser is a roster person who must have a Jamf School user in a group.
type expectedUser struct {
	ID, Username, Location string
	// Group is the students or teachers group ("name@location").
	Group string
}

// expectedClass is a roster class that must exist once, with exactly these members.
type expectedClass struct {
	Key, Name, Location string
	Teachers, Students  []string
	// Case is the generator's awkward case ("" for an ordinary class).
	Case string
}

// rosterExpectation is what one run must leave in Jamf School.
type rosterExpectation struct {
	// Users by lower-case username.
	Users   map[string]expectedUser
	Classes []expectedClass
	// Skipped people (by roster id) and classes (by sourcedId), with the reason.
	Skipped        map[string]string
	SkippedClasses map[string]string
	// NotCreated are the lower-case usernames of skipped people who had no user: none may exist after.
	NotCreated []string
	// ASM are the classes Apple School Manager manages, as seeded: never written.
	ASM []mdmClass
}

// rosterPerson is one users.csv row of the generated bundle.
type rosterPerson struct {
	district.Patron
	Teacher bool
}

// rosterPeople lists the people the generated OneRoster bundle holds (district.Roster.OneRoster):
// the district's students and teachers, then the roster's extra teachers.
func rosterPeople(d *district.District, r *district.Roster) []rosterPerson {
	var out []rosterPerson
	for _, p := range d.Patrons {
		switch p.Type {
		case district.PatronStudent:
			out = append(out, rosterPerson{Patron: p})
		case district.PatronTeacher:
			out = append(out, rosterPerson{Patron: p, Teacher: true})
		}
	}
	for _, p := range r.Teachers {
		out = append(out, rosterPerson{Patron: p, Teacher: true})
	}
	return out
}

func lower(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// expectRoster works out what the demo's roster sync must leave in Jamf School, from the generated
// district and roster, the users Jamf School had before the run (by lower-case username) and the ASM
// classes as seeded. Every school of the district is one of the policy's, at the location named
// after it. The rules (internal/sync/plan's decision table):
//   - a person with no username is skipped NoUsername;
//   - people sharing a username (without case) are all skipped DuplicateUser: none is written, none
//     sits in a class;
//   - a person with no user yet is created, unless it has no email (NoEmail) or its email is another
//     user's or another new person's (EmailTaken);
//   - every other person has a user in its school's location, in the teachers group (teachers by
//     the OneRoster role teacher) or the students group of its school;
//   - a class (not ASM-managed) exists once in its school's location, named by demoClassName, with its
//     enrolled teachers and students who have a user; classes rendering one name in one location are
//     all skipped DuplicateClass; a class without a teacher is written with its students;
//   - an ASM-managed class is never written.
func expectRoster(d *district.District, r *district.Roster, before map[string]mdmUser, asm []mdmClass) rosterExpectation {
	exp := rosterExpectation{Users: map[string]expectedUser{}, Skipped: map[string]string{}, SkippedClasses: map[string]string{}, ASM: asm}
	location := map[string]string{}
	for _, s := range d.Schools {
		location[s.ShortName] = s.Name
	}
	people := rosterPeople(d, r)
	byUsername := map[string]int{}
	emails := map[string]bool{}
	for _, u := range before {
		if e := lower(u.Email); e != "" {
			emails[e] = true
		}
	}
	for _, p := range people {
		if u := lower(p.Username); u != "" {
			byUsername[u]++
		}
	}
	newEmails := map[string]int{} // emails of people who would be created
	for _, p := range people {
		u := lower(p.Username)
		if _, exists := before[u]; u != "" && byUsername[u] == 1 && !exists && lower(p.Email) != "" {
			newEmails[lower(p.Email)]++
		}
	}
	hasUser := map[string]string{} // roster id -> username of the user it has after the run
	for _, p := range people {
		u := lower(p.Username)
		_, exists := before[u]
		switch {
		case u == "":
			exp.Skipped[p.DistrictID] = skipNoUsername
		case byUsername[u] > 1:
			exp.Skipped[p.DistrictID] = skipDuplicateUser
		case !exists && strings.TrimSpace(p.Email) == "":
			exp.Skipped[p.DistrictID] = skipNoEmail
			exp.NotCreated = append(exp.NotCreated, u)
		case !exists && (emails[lower(p.Email)] || newEmails[lower(p.Email)] > 1):
			exp.Skipped[p.DistrictID] = skipEmailTaken
			exp.NotCreated = append(exp.NotCreated, u)
		default:
			group := studentsGroup(p.SiteShortName)
			if p.Teacher {
				group = teachersGroup(p.SiteShortName)
			}
			loc := location[p.SiteShortName]
			exp.Users[u] = expectedUser{ID: p.DistrictID, Username: p.Username, Location: loc, Group: group + "@" + loc}
			hasUser[p.DistrictID] = p.Username
		}
	}

	members := func(ids []string) []string {
		out := []string{}
		for _, id := range ids {
			if u, ok := hasUser[id]; ok {
				out = append(out, lower(u))
			}
		}
		sort.Strings(out)
		return out
	}
	named := map[string][]expectedClass{}
	var order []string
	for _, s := range r.Sections {
		if s.ASMSource != "" {
			continue
		}
		c := expectedClass{Key: s.SourcedID, Name: className(s.SchoolShortName, s.Title, s.SourcedID), Location: location[s.SchoolShortName],
			Teachers: members(s.Teachers), Students: members(s.Students), Case: s.Case}
		k := c.Location + "\x00" + lower(c.Name)
		if named[k] == nil {
			order = append(order, k)
		}
		named[k] = append(named[k], c)
	}
	for _, k := range order {
		if cs := named[k]; len(cs) > 1 {
			for _, c := range cs {
				exp.SkippedClasses[c.Key] = skipDuplicateClass
			}
			continue
		}
		exp.Classes = append(exp.Classes, named[k][0])
	}
	return exp
}

// compareRoster lists every way the snapshot differs from the expectation: a missing user or one in
// the wrong location or without its group, a user made for a person the rules skip, a class missing,
// duplicated or with other members, an ASM class written or changed, and a class nobody expects. Empty
// means Jamf School is as expected.
func compareRoster(exp rosterExpectation, got rosterSnapshot) []string {
	var diffs []string
	usernames := make([]string, 0, len(exp.Users))
	for u := range exp.Users {
		usernames = append(usernames, u)
	}
	sort.Strings(usernames)
	for _, u := range usernames {
		e := exp.Users[u]
		g, ok := got.Users[u]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("user %s (roster %s): missing", e.Username, e.ID))
		case g.Location != e.Location:
			diffs = append(diffs, fmt.Sprintf("user %s: location %q, want %q", e.Username, g.Location, e.Location))
		case !slices.Contains(g.Groups, e.Group):
			diffs = append(diffs, fmt.Sprintf("user %s: groups %v, want one of them %s", e.Username, g.Groups, e.Group))
		}
	}
	for _, u := range exp.NotCreated {
		if _, ok := got.Users[u]; ok {
			diffs = append(diffs, fmt.Sprintf("user %s: created, but the roster person is skipped", u))
		}
	}

	type key struct{ loc, name string }
	classes := map[key][]mdmClass{}
	for _, c := range got.Classes {
		k := key{c.Location, lower(c.Name)}
		classes[k] = append(classes[k], c)
	}
	expected := map[key]bool{}
	for _, e := range exp.Classes {
		k := key{e.Location, lower(e.Name)}
		expected[k] = true
		cs := classes[k]
		switch {
		case len(cs) == 0:
			diffs = append(diffs, fmt.Sprintf("class %q in %s (roster %s): missing", e.Name, e.Location, e.Key))
			continue
		case len(cs) > 1:
			diffs = append(diffs, fmt.Sprintf("class %q in %s: %d classes of that name, want one", e.Name, e.Location, len(cs)))
			continue
		}
		c := cs[0]
		if c.ASM {
			diffs = append(diffs, fmt.Sprintf("class %q in %s: synced from Apple School Manager, want one the roster sync made", e.Name, e.Location))
		}
		diffs = append(diffs, memberDiffs(fmt.Sprintf("class %q", e.Name), "teachers", c.Teachers, e.Teachers)...)
		diffs = append(diffs, memberDiffs(fmt.Sprintf("class %q", e.Name), "students", c.Students, e.Students)...)
	}

	byUUID := map[string]mdmClass{}
	for _, c := range got.Classes {
		byUUID[c.UUID] = c
	}
	asm := map[string]bool{}
	for _, want := range exp.ASM {
		asm[want.UUID] = true
		c, ok := byUUID[want.UUID]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("ASM class %q: gone, want it untouched", want.Name))
		case c.Writes != 0:
			diffs = append(diffs, fmt.Sprintf("ASM class %q: %d writes, want none", want.Name, c.Writes))
		case c.Name != want.Name || c.Source != want.Source || !slices.Equal(c.Teachers, want.Teachers) || !slices.Equal(c.Students, want.Students):
			diffs = append(diffs, fmt.Sprintf("ASM class %q: changed to %q (source %s, teachers %v, students %v), want it as seeded",
				want.Name, c.Name, c.Source, c.Teachers, c.Students))
		}
	}
	for _, c := range got.Classes {
		if !asm[c.UUID] && !expected[key{c.Location, lower(c.Name)}] {
			diffs = append(diffs, fmt.Sprintf("class %q in %s: not expected (a skipped class written, or a duplicate)", c.Name, c.Location))
		}
	}
	return diffs
}

// memberDiffs names up to three members missing and three extra.
func memberDiffs(what, role string, got, want []string) []string {
	missing, extra := setMinus(want, got), setMinus(got, want)
	var out []string
	if len(missing) > 0 {
		out = append(out, fmt.Sprintf("%s: %d %s missing (%s)", what, len(missing), role, firstN(missing, 3)))
	}
	if len(extra) > 0 {
		out = append(out, fmt.Sprintf("%s: %d %s not in the roster (%s)", what, len(extra), role, firstN(extra, 3)))
	}
	return out
}

func setMinus(a, b []string) []string {
	in := map[string]bool{}
	for _, x := range b {
		in[x] = true
	}
	var out []string
	for _, x := range a {
		if !in[x] {
			out = append(out, x)
		}
	}
	return out
}

func firstN(s []string, n int) string {
	if len(s) <= n {
		return strings.Join(s, ", ")
	}
	return strings.Join(s[:n], ", ") + fmt.Sprintf(", ... %d more", len(s)-n)
}
