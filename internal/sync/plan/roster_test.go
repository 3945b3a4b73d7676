package plan

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/k12dev/devicesync-operator/internal/roster"
	"github.com/k12dev/devicesync-operator/internal/sync/naming"
)

// Roster fixtures: two policy schools (LHS in location Lincoln, MHS in Madison), OneRoster orgs org1 and
// org2 mapped to them, students and teachers groups "<school> Students" / "<school> Teachers", class names
// "<school> <title> <period>", and a roster of one teacher and two students in one class.

func fields(t testing.TB, name, text string, allowed []string) *naming.Template {
	t.Helper()
	tp, err := naming.CompileFields(name, text, allowed...)
	if err != nil {
		t.Fatal(err)
	}
	return tp
}

func rosterPolicy(t testing.TB) Policy {
	return Policy{
		Schools: map[string]School{
			"LHS": {SchoolName: "Lincoln High School", Location: "Lincoln"},
			"MHS": {SchoolName: "Madison High School", Location: "Madison"},
		},
		RosterSync: &RosterPolicy{
			Users: &UserSync{
				StudentsGroup: fields(t, "roster.users.studentsGroup", "{{.SchoolCode}} Students", naming.PersonFields),
				TeachersGroup: fields(t, "roster.users.teachersGroup", "{{.SchoolCode}} Teachers", naming.PersonFields),
			},
			Classes:  &ClassSync{Name: fields(t, "roster.classes.name", "{{.SchoolCode}} {{.Title}} {{.Period}}", naming.ClassFields)},
			Teachers: TeacherRule{Roles: []string{"teacher"}},
			Schools:  map[string]string{"org1": "LHS", "org2": "MHS"},
		},
	}
}

func rperson(id, role, username, org string) roster.Person {
	given, family, _ := strings.Cut(username, ".")
	p := roster.Person{ID: id, Identifier: strings.ToUpper(id), Role: role, Username: username, GivenName: title(given), FamilyName: title(family), Grade: "09"}
	if username != "" {
		p.Email = username + "@example.org"
	}
	if org != "" {
		p.Orgs = []string{org}
	}
	return p
}

func title(s string) string {
	if s == "" {
		return ""
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func rosterPeople() []roster.Person {
	return []roster.Person{
		rperson("t1", "teacher", "jordan.lee", "org1"),
		rperson("s1", "student", "avery.smith", "org1"),
		rperson("s2", "student", "blake.jones", "org1"),
	}
}

func rclass(id, title, period, org string, members ...string) roster.Class {
	c := roster.Class{ID: id, Title: title, Period: period, School: org}
	for _, m := range members {
		person, role, _ := strings.Cut(m, ":")
		c.Enrollments = append(c.Enrollments, roster.Enrollment{Person: person, Role: role})
	}
	return c
}

func rosterClasses() []roster.Class {
	return []roster.Class{rclass("c1", "Algebra", "3", "org1", "t1:teacher", "s1:student", "s2:student")}
}

// synced is the MDM as the base roster wants it: groups 1 and 2, users 11 to 13, class u-1.
func synced() MDMRoster {
	return MDMRoster{
		Groups: []MDMGroup{{Ref: "1", Name: "LHS Students", Location: "Lincoln"}, {Ref: "2", Name: "LHS Teachers", Location: "Lincoln"}},
		Users: []MDMUser{
			{Ref: "11", Username: "jordan.lee", FirstName: "Jordan", LastName: "Lee", Email: "jordan.lee@example.org", Location: "Lincoln", Groups: []string{"2"}},
			{Ref: "12", Username: "avery.smith", FirstName: "Avery", LastName: "Smith", Email: "avery.smith@example.org", Location: "Lincoln", Groups: []string{"1"}},
			{Ref: "13", Username: "blake.jones", FirstName: "Blake", LastName: "Jones", Email: "blake.jones@example.org", Location: "Lincoln", Groups: []string{"1"}},
		},
		Classes: []MDMClass{{Ref: "u-1", Name: "LHS Algebra 3", Description: ClassMarkerPrefix + "c1", Location: "Lincoln",
			Students: []string{"12", "13"}, Teachers: []string{"11"}, MembersKnown: true}},
	}
}

// summary lists a plan's changes as "Action Kind Name @Location field=old>new; ..." and its skips as
// "Reason Kind Name".
func summary(rp RosterPlan) (changes, skips []string) {
	for _, c := range rp.Changes {
		var fs []string
		for _, f := range c.Fields {
			fs = append(fs, f.Field+"="+f.Old+">"+f.New)
		}
		changes = append(changes, fmt.Sprintf("%s %s %s @%s %s", c.Action, c.Kind, c.Name, c.Location, strings.Join(fs, "; ")))
	}
	for _, s := range rp.Skips {
		skips = append(skips, s.Reason+" "+s.Kind+" "+s.Name)
	}
	return changes, skips
}

func TestBuildRoster(t *testing.T) {
	people := func(f func([]roster.Person) []roster.Person) []roster.Person { return f(rosterPeople()) }
	mdmWith := func(f func(*MDMRoster)) MDMRoster { m := synced(); f(&m); return m }
	pol := func(f func(*Policy)) func(testing.TB) Policy {
		return func(t testing.TB) Policy { p := rosterPolicy(t); f(&p); return p }
	}
	const (
		createdJordan = "UserCreated User jordan.lee @Lincoln username=>jordan.lee; firstName=>Jordan; lastName=>Lee; email=>jordan.lee@example.org; location=>Lincoln; groups=>LHS Teachers"
		createdAvery  = "UserCreated User avery.smith @Lincoln username=>avery.smith; firstName=>Avery; lastName=>Smith; email=>avery.smith@example.org; location=>Lincoln; groups=>LHS Students"
		createdBlake  = "UserCreated User blake.jones @Lincoln username=>blake.jones; firstName=>Blake; lastName=>Jones; email=>blake.jones@example.org; location=>Lincoln; groups=>LHS Students"
	)
	tests := []struct {
		name        string
		policy      func(testing.TB) Policy
		people      []roster.Person
		classes     []roster.Class
		mdm         MDMRoster
		wantChanges []string
		wantSkips   []string
	}{
		// Scope and who is what.
		{name: "an empty MDM gets the groups, the users and the class, in phase order",
			mdm: MDMRoster{},
			wantChanges: []string{
				"GroupCreated Group LHS Students @Lincoln name=>LHS Students",
				"GroupCreated Group LHS Teachers @Lincoln name=>LHS Teachers",
				createdAvery, createdBlake, createdJordan,
				"ClassCreated Class LHS Algebra 3 @Lincoln name=>LHS Algebra 3; description=>" + ClassMarkerPrefix + "c1; students=>avery.smith, blake.jones; teachers=>jordan.lee",
			}},
		{name: "an MDM already as the roster wants it changes nothing", mdm: synced()},
		{name: "a person of a school outside the policy is not written, skipped or put in a class",
			people: people(func(p []roster.Person) []roster.Person {
				return append(p, rperson("s9", "student", "casey.out", "org9"), rperson("s8", "student", "", "org9"))
			}),
			mdm: synced()},
		{name: "a student in two schools belongs to the first one the policy maps",
			people: people(func(p []roster.Person) []roster.Person {
				s := rperson("s3", "student", "dana.two", "org9")
				s.Orgs = []string{"org9", "org2", "org1"}
				return append(p, s)
			}),
			mdm: synced(),
			wantChanges: []string{
				"GroupCreated Group MHS Students @Madison name=>MHS Students",
				"UserCreated User dana.two @Madison username=>dana.two; firstName=>Dana; lastName=>Two; email=>dana.two@example.org; location=>Madison; groups=>MHS Students",
			}},
		{name: "a person of another role (guardian) gets no user and is not skipped",
			people: people(func(p []roster.Person) []roster.Person {
				return append(p, rperson("g1", "guardian", "gale.parent", "org1"))
			}),
			mdm: synced()},
		{name: "a school system's teacher role in Teachers.Roles makes a teacher",
			policy: pol(func(p *Policy) { p.RosterSync.Teachers.Roles = []string{"role_teacher"} }),
			people: people(func(p []roster.Person) []roster.Person {
				p[0].Role = "ROLE_TEACHER"
				return p
			}),
			classes: []roster.Class{rclass("c1", "Algebra", "3", "org1", "t1:ROLE_TEACHER", "s1:student", "s2:student")},
			mdm:     synced()},
		{name: "an SIS row (no role) whose patron type is in Teachers.PatronTypes is a teacher, other SIS rows are students",
			policy: pol(func(p *Policy) { p.RosterSync.Teachers.PatronTypes = []string{"staff"} }),
			people: people(func(p []roster.Person) []roster.Person {
				p[0].Role, p[0].PatronType = "", "Staff"
				p[1].Role, p[1].PatronType = "", "Student"
				return p
			}),
			mdm: synced()},
		{name: "an SIS row (no role) whose patron type is neither a student nor a teacher type (Parent) gets no user and is not skipped",
			policy: pol(func(p *Policy) { p.StudentPatronTypes = []string{"Student"} }),
			people: people(func(p []roster.Person) []roster.Person {
				g := rperson("g1", "", "gale.parent", "org1")
				g.PatronType = "Parent"
				return append(p, g)
			}),
			mdm: synced()},
		{name: "an SIS row (no role) with no patron type is a student",
			policy: pol(func(p *Policy) { p.StudentPatronTypes = []string{"Student"} }),
			people: people(func(p []roster.Person) []roster.Person {
				p[1].Role = ""
				return p
			}),
			mdm: synced()},
		{name: "a person whose MDM user is in a Teachers.Groups group is a teacher",
			policy: pol(func(p *Policy) { p.RosterSync.Teachers.Groups = []string{"Lehrkraefte"} }),
			people: people(func(p []roster.Person) []roster.Person { p[0].Role = "staff"; return p }),
			mdm: mdmWith(func(m *MDMRoster) {
				m.Groups = append(m.Groups, MDMGroup{Ref: "7", Name: "lehrkraefte", Location: "Lincoln"})
				m.Users[0].Groups = []string{"2", "7"}
			})},

		{name: "a teacher at two schools keeps the other school's teachers group: joined in the first school's, never taken out of the second's",
			people: people(func(p []roster.Person) []roster.Person {
				p[0].Orgs = []string{"org1", "org2"}
				return append(p, rperson("t2", "teacher", "morgan.madison", "org2"))
			}),
			mdm: mdmWith(func(m *MDMRoster) {
				m.Groups = append(m.Groups, MDMGroup{Ref: "3", Name: "MHS Teachers", Location: "Madison"})
				m.Users[0].Groups = []string{"2", "3"}
				m.Users = append(m.Users, MDMUser{Ref: "14", Username: "morgan.madison", FirstName: "Morgan", LastName: "Madison",
					Email: "morgan.madison@example.org", Location: "Madison", Groups: []string{"3"}})
			})},
		// Users.
		{name: "a person without a username is skipped NoUsername",
			people:    people(func(p []roster.Person) []roster.Person { return append(p, rperson("s3", "student", "", "org1")) }),
			mdm:       synced(),
			wantSkips: []string{"NoUsername User s3"}},
		{name: "two roster people with one username (any case) are both skipped; the class seat one of them has is kept, not taken away",
			people: people(func(p []roster.Person) []roster.Person {
				return append(p, rperson("s3", "student", "Blake.Jones", "org1"))
			}),
			mdm:       synced(),
			wantSkips: []string{"NoMDMUser Class LHS Algebra 3", "DuplicateUser User Blake.Jones", "DuplicateUser User blake.jones"}},
		{name: "a member whose user cannot be told apart keeps their seat while the class's other members change",
			people: people(func(p []roster.Person) []roster.Person {
				return append(p, rperson("s3", "student", "Blake.Jones", "org1"), rperson("s4", "student", "casey.new", "org1"))
			}),
			classes: []roster.Class{rclass("c1", "Algebra", "3", "org1", "t1:teacher", "s1:student", "s2:student", "s4:student")},
			mdm:     synced(),
			wantChanges: []string{
				"UserCreated User casey.new @Lincoln username=>casey.new; firstName=>Casey; lastName=>New; email=>casey.new@example.org; location=>Lincoln; groups=>LHS Students",
				"MembersChanged Class LHS Algebra 3 @Lincoln students=avery.smith, blake.jones>avery.smith, blake.jones, casey.new; teachers=jordan.lee>jordan.lee",
			},
			wantSkips: []string{"NoMDMUser Class LHS Algebra 3", "DuplicateUser User Blake.Jones", "DuplicateUser User blake.jones"}},
		{name: "two MDM users with the person's username: skipped DuplicateUser, the class seat one of them has is kept",
			mdm: mdmWith(func(m *MDMRoster) {
				m.Users = append(m.Users, MDMUser{Ref: "14", Username: "AVERY.SMITH", Email: "other@example.org", Location: "Madison"})
			}),
			wantSkips: []string{"NoMDMUser Class LHS Algebra 3", "DuplicateUser User avery.smith"}},
		{name: "a person whose MDM user is in the trash is skipped UserInTrash, and keeps the class seat it has",
			mdm:       mdmWith(func(m *MDMRoster) { m.Users[1].Trashed = true; m.Users[1].FirstName = "Old" }),
			wantSkips: []string{"NoMDMUser Class LHS Algebra 3", "UserInTrash User avery.smith"}},
		{name: "a new person without an email is skipped NoEmail",
			people: people(func(p []roster.Person) []roster.Person {
				s := rperson("s3", "student", "casey.new", "org1")
				s.Email = ""
				return append(p, s)
			}),
			mdm:       synced(),
			wantSkips: []string{"NoEmail User casey.new"}},
		{name: "a new person whose email an MDM user holds (any case) is skipped EmailTaken",
			people: people(func(p []roster.Person) []roster.Person {
				s := rperson("s3", "student", "casey.new", "org1")
				s.Email = "Avery.Smith@Example.org"
				return append(p, s)
			}),
			mdm:       synced(),
			wantSkips: []string{"EmailTaken User casey.new"}},
		{name: "two new people with one email are both skipped EmailTaken",
			people: people(func(p []roster.Person) []roster.Person {
				a, b := rperson("s3", "student", "casey.new", "org1"), rperson("s4", "student", "drew.new", "org1")
				a.Email, b.Email = "family@example.org", "Family@example.org"
				return append(p, a, b)
			}),
			mdm:       synced(),
			wantSkips: []string{"EmailTaken User casey.new", "EmailTaken User drew.new"}},
		{name: "an existing user whose names differ gets only the differing fields",
			mdm:         mdmWith(func(m *MDMRoster) { m.Users[1].FirstName = "Avry" }),
			wantChanges: []string{"UserUpdated User avery.smith @Lincoln firstName=Avry>Avery"}},
		{name: "an email differing only in case is in sync; an empty roster email or name is never written",
			people: people(func(p []roster.Person) []roster.Person {
				p[1].Email = "AVERY.SMITH@example.org"
				p[2].Email, p[2].GivenName = "", ""
				return p
			}),
			mdm: synced()},
		{name: "a changed email is written",
			people:      people(func(p []roster.Person) []roster.Person { p[1].Email = "avery@example.org"; return p }),
			mdm:         synced(),
			wantChanges: []string{"UserUpdated User avery.smith @Lincoln email=avery.smith@example.org>avery@example.org"}},
		{name: "a changed email another MDM user holds is left out and reported EmailTaken",
			people: people(func(p []roster.Person) []roster.Person {
				p[1].Email = "blake.jones@example.org"
				p[1].GivenName = "Ave"
				return p
			}),
			mdm:         synced(),
			wantChanges: []string{"UserUpdated User avery.smith @Lincoln firstName=Avery>Ave"},
			wantSkips:   []string{"EmailTaken User avery.smith"}},
		{name: "a user in another location is moved, and joins its new school's group (its classes keep it)",
			people: people(func(p []roster.Person) []roster.Person { p[2].Orgs = []string{"org2"}; return p }),
			mdm:    synced(),
			wantChanges: []string{
				"GroupCreated Group MHS Students @Madison name=>MHS Students",
				"UserUpdated User blake.jones @Madison location=Lincoln>Madison; groups=LHS Students>MHS Students",
			}},
		{name: "unmanaged groups are kept and a wrong managed group is dropped",
			mdm: mdmWith(func(m *MDMRoster) {
				m.Groups = append(m.Groups, MDMGroup{Ref: "5", Name: "Art Club", Location: "Lincoln"})
				m.Users[1].Groups = []string{"5", "2"}
			}),
			wantChanges: []string{"UserUpdated User avery.smith @Lincoln groups=LHS Teachers, Art Club>LHS Students, Art Club"}},
		{name: "group names match case-insensitively",
			mdm: mdmWith(func(m *MDMRoster) { m.Groups[0].Name = "lhs students" })},
		{name: "a group template rendering empty skips the person TemplateError",
			policy: pol(func(p *Policy) {
				p.RosterSync.Users.StudentsGroup = fields(t, "roster.users.studentsGroup", "{{.Grade}}", naming.PersonFields)
			}),
			people:    people(func(p []roster.Person) []roster.Person { p[1].Grade = ""; return p }),
			mdm:       mdmWith(func(m *MDMRoster) { m.Groups[0].Name = "09" }),
			wantSkips: []string{"TemplateError User avery.smith"}},
		{name: "without users sync, classes still name existing MDM users and no user is written",
			policy: pol(func(p *Policy) { p.RosterSync.Users = nil }),
			people: people(func(p []roster.Person) []roster.Person { p[1].GivenName = "Changed"; return p }),
			mdm:    synced()},
		{name: "without a students group template, students' groups are left as they are",
			policy: pol(func(p *Policy) { p.RosterSync.Users.StudentsGroup = nil }),
			mdm:    mdmWith(func(m *MDMRoster) { m.Users[1].Groups = nil; m.Groups = m.Groups[1:] })},

		// Classes.
		{name: "a class of that name in that location without the marker is adopted: its description is set",
			mdm:         mdmWith(func(m *MDMRoster) { m.Classes[0].Description = "made by hand" }),
			wantChanges: []string{"ClassUpdated Class LHS Algebra 3 @Lincoln description=made by hand>" + ClassMarkerPrefix + "c1"}},
		{name: "a class carrying the marker is renamed with the roster",
			classes:     []roster.Class{rclass("c1", "Algebra I", "3", "org1", "t1:teacher", "s1:student", "s2:student")},
			mdm:         synced(),
			wantChanges: []string{"ClassUpdated Class LHS Algebra I 3 @Lincoln name=LHS Algebra 3>LHS Algebra I 3"}},
		{name: "members that differ are set, both lists together",
			mdm:         mdmWith(func(m *MDMRoster) { m.Classes[0].Students = []string{"12"} }),
			wantChanges: []string{"MembersChanged Class LHS Algebra 3 @Lincoln students=avery.smith>avery.smith, blake.jones; teachers=jordan.lee>jordan.lee"}},
		{name: "a rename with member changes is one ClassUpdated carrying both",
			classes: []roster.Class{rclass("c1", "Algebra I", "3", "org1", "t1:teacher", "s1:student")},
			mdm:     synced(),
			wantChanges: []string{
				"ClassUpdated Class LHS Algebra I 3 @Lincoln name=LHS Algebra 3>LHS Algebra I 3; students=avery.smith, blake.jones>avery.smith; teachers=jordan.lee>jordan.lee",
			}},
		{name: "members of a class whose members were not read are never compared",
			mdm: mdmWith(func(m *MDMRoster) { m.Classes[0].Students, m.Classes[0].MembersKnown = nil, false })},
		{name: "an ASM class of that name in that location is reported and never written",
			mdm: mdmWith(func(m *MDMRoster) {
				m.Classes = []MDMClass{{Ref: "asm-1", Name: "LHS Algebra 3", Location: "Lincoln", Source: "asm", ASM: true}}
			}),
			wantSkips: []string{"ManagedByASM Class LHS Algebra 3"}},
		{name: "an ASM class no roster class renders the name of, in a policy location, is reported and never written",
			mdm: mdmWith(func(m *MDMRoster) {
				m.Classes = append(m.Classes, MDMClass{Ref: "asm-2", Name: "Biology (ASM)", Location: "Lincoln", Source: "asm", ASM: true},
					MDMClass{Ref: "asm-3", Name: "Elsewhere (ASM)", Location: "Elsewhere", Source: "asm", ASM: true})
			}),
			wantSkips: []string{"ManagedByASM Class Biology (ASM)"}},
		{name: "two roster classes rendering one name in one location are both skipped",
			classes:   append(rosterClasses(), rclass("c2", "Algebra", "3", "org1", "t1:teacher")),
			mdm:       synced(),
			wantSkips: []string{"DuplicateClass Class LHS Algebra 3", "DuplicateClass Class LHS Algebra 3"}},
		{name: "two MDM classes carrying one class's marker: skipped DuplicateClass",
			mdm: mdmWith(func(m *MDMRoster) {
				m.Classes = append(m.Classes, MDMClass{Ref: "u-2", Name: "Copy", Description: ClassMarkerPrefix + "c1", Location: "Lincoln", MembersKnown: true})
			}),
			wantSkips: []string{"DuplicateClass Class LHS Algebra 3"}},
		{name: "a class of that name carrying another roster class's marker is not adopted: skipped DuplicateClass",
			classes: []roster.Class{
				rclass("c1", "Algebra I", "3", "org1", "t1:teacher", "s1:student", "s2:student"),
				rclass("c2", "Algebra", "3", "org1", "t1:teacher", "s1:student"),
			},
			mdm:         synced(),
			wantChanges: []string{"ClassUpdated Class LHS Algebra I 3 @Lincoln name=LHS Algebra 3>LHS Algebra I 3"},
			wantSkips:   []string{"DuplicateClass Class LHS Algebra 3"}},
		{name: "a class of that name carrying a gone roster class's marker is not adopted: skipped DuplicateClass",
			classes:   []roster.Class{rclass("c2", "Algebra", "3", "org1", "t1:teacher", "s1:student")},
			mdm:       synced(),
			wantSkips: []string{"DuplicateClass Class LHS Algebra 3"}},
		{name: "a class enrolling a person the roster has no usable row for keeps its members (a bad row is not a member gone)",
			classes: []roster.Class{rclass("c1", "Algebra", "3", "org1", "t1:teacher", "s1:student", "s2:student", "x9:student")},
			people: people(func(p []roster.Person) []roster.Person {
				return slices.DeleteFunc(p, func(p roster.Person) bool { return p.ID == "s2" })
			}),
			mdm: mdmWith(func(m *MDMRoster) {
				m.Users = slices.DeleteFunc(m.Users, func(u MDMUser) bool { return u.Ref == "13" })
				m.Classes[0].Students = []string{"12", "13"}
			}),
			wantSkips: []string{"NoMDMUser Class LHS Algebra 3", "NoMDMUser Class LHS Algebra 3"}},
		{name: "a new class enrolling a person the roster has no usable row for is created without them",
			classes:     []roster.Class{rclass("c1", "Algebra", "3", "org1", "t1:teacher", "s1:student", "x9:student")},
			mdm:         mdmWith(func(m *MDMRoster) { m.Classes = nil }),
			wantChanges: []string{"ClassCreated Class LHS Algebra 3 @Lincoln name=>LHS Algebra 3; description=>" + ClassMarkerPrefix + "c1; students=>avery.smith; teachers=>jordan.lee"},
			wantSkips:   []string{"NoMDMUser Class LHS Algebra 3"}},
		{name: "two unmarked MDM classes of the name: none is adopted",
			mdm: mdmWith(func(m *MDMRoster) {
				m.Classes[0].Description = ""
				m.Classes = append(m.Classes, MDMClass{Ref: "u-2", Name: "LHS Algebra 3", Location: "Lincoln", MembersKnown: true})
			}),
			wantSkips: []string{"DuplicateClass Class LHS Algebra 3"}},
		{name: "a class with no teacher is written and reported NoTeacher",
			classes: append(rosterClasses(), rclass("c2", "Study Hall", "", "org1", "s1:student")),
			mdm:     synced(),
			wantChanges: []string{
				"ClassCreated Class LHS Study Hall @Lincoln name=>LHS Study Hall; description=>" + ClassMarkerPrefix + "c2; students=>avery.smith; teachers=>",
			},
			wantSkips: []string{"NoTeacher Class LHS Study Hall"}},
		{name: "a class member with no MDM user is reported NoMDMUser and the class written without them",
			policy: pol(func(p *Policy) { p.RosterSync.Users = nil }),
			people: people(func(p []roster.Person) []roster.Person {
				return append(p, rperson("s3", "student", "casey.new", "org1"))
			}),
			classes:   []roster.Class{rclass("c1", "Algebra", "3", "org1", "t1:teacher", "s1:student", "s2:student", "s3:student")},
			mdm:       synced(),
			wantSkips: []string{"NoMDMUser Class LHS Algebra 3"}},
		{name: "a new class names users created in the same run by username",
			people: people(func(p []roster.Person) []roster.Person {
				return append(p, rperson("s3", "student", "casey.new", "org1"))
			}),
			classes: []roster.Class{rclass("c1", "Algebra", "3", "org1", "t1:teacher", "s1:student", "s2:student", "s3:student")},
			mdm:     synced(),
			wantChanges: []string{
				"UserCreated User casey.new @Lincoln username=>casey.new; firstName=>Casey; lastName=>New; email=>casey.new@example.org; location=>Lincoln; groups=>LHS Students",
				"MembersChanged Class LHS Algebra 3 @Lincoln students=avery.smith, blake.jones>avery.smith, blake.jones, casey.new; teachers=jordan.lee>jordan.lee",
			}},
		{name: "a member from a school outside the policy is named by its MDM user, or reported without one",
			people: people(func(p []roster.Person) []roster.Person {
				return append(p, rperson("s9", "student", "zed.out", "org9"), rperson("s8", "student", "yan.out", "org9"))
			}),
			classes: []roster.Class{rclass("c1", "Algebra", "3", "org1", "t1:teacher", "s1:student", "s2:student", "s9:student", "s8:student")},
			mdm: mdmWith(func(m *MDMRoster) {
				m.Users = append(m.Users, MDMUser{Ref: "19", Username: "zed.out", Location: "Elsewhere"})
				m.Classes[0].Students = []string{"12", "13", "19"}
			}),
			wantSkips: []string{"NoMDMUser Class LHS Algebra 3"}},
		{name: "an enrollment of another role (aide) is not a member",
			classes: []roster.Class{rclass("c1", "Algebra", "3", "org1", "t1:teacher", "s1:student", "s2:student", "g1:aide")},
			mdm:     synced()},
		{name: "a class of a school outside the policy is not written or counted",
			classes: append(rosterClasses(), rclass("c9", "Art", "1", "org9", "t1:teacher")),
			mdm:     synced()},
		{name: "a class name template rendering empty skips the class TemplateError",
			policy: pol(func(p *Policy) {
				p.RosterSync.Classes.Name = fields(t, "roster.classes.name", "{{.Location}}", naming.ClassFields)
			}),
			mdm:       synced(),
			wantSkips: []string{"TemplateError Class c1"}},
		{name: "without class sync, no class is written",
			policy:  pol(func(p *Policy) { p.RosterSync.Classes = nil }),
			classes: []roster.Class{rclass("c1", "Renamed", "3", "org1")},
			mdm:     synced()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := rosterPolicy(t)
			if tt.policy != nil {
				p = tt.policy(t)
			}
			data := RosterData{People: rosterPeople(), Classes: rosterClasses()}
			if tt.people != nil {
				data.People = tt.people
			}
			if tt.classes != nil {
				data.Classes = tt.classes
			}
			rp := BuildRoster(p, data, tt.mdm)
			changes, skips := summary(rp)
			if !reflect.DeepEqual(changes, tt.wantChanges) {
				t.Errorf("changes:\n got %q\nwant %q", changes, tt.wantChanges)
			}
			if !reflect.DeepEqual(skips, tt.wantSkips) {
				t.Errorf("skips:\n got %q\nwant %q", skips, tt.wantSkips)
			}
		})
	}
}

func TestBuildRosterRemovals(t *testing.T) {
	// gone (21) is in a managed group in a policy location and no longer in the roster.
	gone := MDMUser{Ref: "21", Username: "old.student", Email: "old@example.org", Location: "Lincoln", Groups: []string{"5", "1"}}
	mdm := func(f func(*MDMRoster)) MDMRoster {
		m := synced()
		m.Groups = append(m.Groups, MDMGroup{Ref: "5", Name: "Art Club", Location: "Lincoln"})
		m.Users = append(m.Users, gone)
		if f != nil {
			f(&m)
		}
		return m
	}
	withStale := func(a StaleAction, group string, classes bool) func(testing.TB) Policy {
		return func(t testing.TB) Policy {
			p := rosterPolicy(t)
			p.RosterSync.Users.RemoveStale, p.RosterSync.Users.StaleGroup = a, group
			p.RosterSync.Classes.RemoveStale = classes
			return p
		}
	}
	tests := []struct {
		name        string
		policy      func(testing.TB) Policy
		mdm         MDMRoster
		classes     []roster.Class // nil: rosterClasses()
		wantChanges []string
		wantManaged int
	}{
		{name: "by default a user who left the roster is left alone (and counted as managed)",
			policy: withStale(StaleKeep, "", false), mdm: mdm(nil), wantManaged: 5},
		{name: "removeStale Delete trashes a user who left the roster",
			policy: withStale(StaleDelete, "", false), mdm: mdm(nil), wantManaged: 5,
			wantChanges: []string{"Removed User old.student @Lincoln username=old.student>; status=Active>Trash"}},
		{name: "removeStale MoveToGroup moves the user to the stale group (created), keeping unmanaged groups",
			policy: withStale(StaleMoveToGroup, "Former students", false), mdm: mdm(nil), wantManaged: 5,
			wantChanges: []string{
				"GroupCreated Group Former students @Lincoln name=>Former students",
				"Removed User old.student @Lincoln username=old.student>; groups=LHS Students, Art Club>Art Club, Former students",
			}},
		{name: "a user already moved to the stale group is left alone, and no longer counts as managed (maxRemovals does not grow with leavers)",
			policy: withStale(StaleMoveToGroup, "Former students", false),
			mdm: mdm(func(m *MDMRoster) {
				m.Groups = append(m.Groups, MDMGroup{Ref: "9", Name: "Former students", Location: "Lincoln"})
				m.Users[3].Groups = []string{"5", "9"}
			}),
			wantManaged: 4},
		{name: "users in the trash, outside the policy's locations or in no managed group are never removed",
			policy: withStale(StaleDelete, "", false),
			mdm: mdm(func(m *MDMRoster) {
				m.Users[3].Trashed = true
				m.Users = append(m.Users,
					MDMUser{Ref: "22", Username: "elsewhere", Location: "Elsewhere", Groups: []string{"1"}},
					MDMUser{Ref: "23", Username: "hand.made", Location: "Lincoln", Groups: []string{"5"}})
			}),
			wantManaged: 4},
		{name: "a user whose username an in-scope person has (even one skipped) is never removed",
			policy: withStale(StaleDelete, "", false),
			mdm: mdm(func(m *MDMRoster) {
				m.Users[3].Username = "OLD.student"
			}),
			wantManaged: 5},
		{name: "classes.removeStale deletes a marked class whose sourcedId the roster no longer has, and nothing else",
			policy: withStale(StaleKeep, "", true),
			mdm: mdm(func(m *MDMRoster) {
				m.Classes = append(m.Classes,
					MDMClass{Ref: "u-2", Name: "LHS Gone 1", Description: ClassMarkerPrefix + "c-gone", Location: "Lincoln", MembersKnown: true},
					MDMClass{Ref: "u-3", Name: "Hand made", Location: "Lincoln", MembersKnown: true},
					MDMClass{Ref: "u-4", Name: "Elsewhere", Description: ClassMarkerPrefix + "c-other", Location: "Elsewhere"},
					MDMClass{Ref: "asm-1", Name: "ASM", Description: ClassMarkerPrefix + "c-asm", Location: "Lincoln", ASM: true})
			}),
			wantManaged: 6,
			wantChanges: []string{"Removed Class LHS Gone 1 @Lincoln name=LHS Gone 1>"}},
		{name: "classes.removeStale deletes nothing when the roster has no class (an empty classes file is not every class gone)",
			policy:  withStale(StaleKeep, "", true),
			classes: []roster.Class{},
			mdm: mdm(func(m *MDMRoster) {
				m.Classes = append(m.Classes, MDMClass{Ref: "u-2", Name: "LHS Gone 1", Description: ClassMarkerPrefix + "c-gone", Location: "Lincoln", MembersKnown: true})
			}),
			wantManaged: 6},
		{name: "classes.removeStale deletes nothing in a policy location none of the roster's classes is in",
			policy: withStale(StaleKeep, "", true),
			mdm: mdm(func(m *MDMRoster) {
				m.Classes = append(m.Classes, MDMClass{Ref: "u-5", Name: "MHS Chemistry 2", Description: ClassMarkerPrefix + "c-mhs", Location: "Madison", MembersKnown: true})
			}),
			wantManaged: 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			people := rosterPeople()
			if strings.HasPrefix(tt.name, "a user whose username") {
				people = append(people, rperson("s9", "student", "old.student", "org1"), rperson("s8", "student", "Old.Student", "org1"))
			}
			classes := tt.classes
			if classes == nil {
				classes = rosterClasses()
			}
			rp := BuildRoster(tt.policy(t), RosterData{People: people, Classes: classes}, tt.mdm)
			changes, _ := summary(rp)
			if !reflect.DeepEqual(changes, tt.wantChanges) {
				t.Errorf("changes:\n got %q\nwant %q", changes, tt.wantChanges)
			}
			if rp.Counts.Managed != tt.wantManaged {
				t.Errorf("Managed = %d, want %d", rp.Counts.Managed, tt.wantManaged)
			}
			removals := 0
			for _, c := range rp.Changes {
				if c.Action == ActionRemoved {
					removals++
					if c.Phase != PhaseRemovals || c.Remove == nil {
						t.Errorf("removal %+v: want phase Removals and a RemoveSet", c)
					}
				}
			}
			if rp.Counts.Removals != removals {
				t.Errorf("Counts.Removals = %d, want %d", rp.Counts.Removals, removals)
			}
		})
	}
}

// applyRoster writes a plan's changes to an in-memory MDM the way a target would, refs made up as
// Jamf School makes them (integer user and group ids, class uuids).
func applyRoster(t *testing.T, m MDMRoster, rp RosterPlan) MDMRoster {
	t.Helper()
	next := 1000
	newRef := func() string { next++; return strconv.Itoa(next) }
	group := func(g GroupRef) string {
		if g.Ref != "" {
			return g.Ref
		}
		for _, x := range m.Groups {
			if x.Location == g.Location && strings.EqualFold(x.Name, g.Name) {
				return x.Ref
			}
		}
		t.Fatalf("group %+v was not created before it is used", g)
		return ""
	}
	groups := func(gs []GroupRef) []string {
		out := []string{}
		for _, g := range gs {
			out = append(out, group(g))
		}
		return out
	}
	user := func(u UserRef) string {
		if u.Ref != "" {
			return u.Ref
		}
		for _, x := range m.Users {
			if strings.EqualFold(x.Username, u.Username) {
				return x.Ref
			}
		}
		t.Fatalf("user %+v was not created before it is used", u)
		return ""
	}
	users := func(us []UserRef) []string {
		out := []string{}
		for _, u := range us {
			out = append(out, user(u))
		}
		slices.Sort(out)
		return out
	}
	userAt := func(ref string) *MDMUser {
		i := slices.IndexFunc(m.Users, func(u MDMUser) bool { return u.Ref == ref })
		if i < 0 {
			t.Fatalf("no user %s", ref)
		}
		return &m.Users[i]
	}
	classAt := func(ref string) int {
		i := slices.IndexFunc(m.Classes, func(c MDMClass) bool { return c.Ref == ref })
		if i < 0 {
			t.Fatalf("no class %s", ref)
		}
		return i
	}
	setIf := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	for _, c := range rp.Changes {
		switch {
		case c.Action == ActionGroupCreated:
			m.Groups = append(m.Groups, MDMGroup{Ref: newRef(), Name: c.Group.Name, Location: c.Location})
		case c.Action == ActionUserCreated:
			u := MDMUser{Ref: newRef(), Username: c.User.Username, Location: *c.User.Location, Groups: groups(c.User.Groups)}
			setIf(&u.FirstName, c.User.FirstName)
			setIf(&u.LastName, c.User.LastName)
			setIf(&u.Email, c.User.Email)
			m.Users = append(m.Users, u)
		case c.Action == ActionUserUpdated:
			u := userAt(c.Ref)
			setIf(&u.FirstName, c.User.FirstName)
			setIf(&u.LastName, c.User.LastName)
			setIf(&u.Email, c.User.Email)
			setIf(&u.Location, c.User.Location)
			if c.User.Groups != nil {
				u.Groups = groups(c.User.Groups)
			}
		case c.Action == ActionRemoved && c.Kind == KindUser:
			u := userAt(c.Ref)
			if c.Remove.MoveTo != nil {
				u.Groups = groups(c.Remove.Groups)
			} else {
				u.Trashed = true
			}
		case c.Action == ActionRemoved && c.Kind == KindClass:
			m.Classes = slices.Delete(m.Classes, classAt(c.Ref), classAt(c.Ref)+1)
		case c.Action == ActionClassCreated:
			mc := MDMClass{Ref: "uuid-" + newRef(), Location: c.Location, MembersKnown: true, Students: []string{}, Teachers: []string{}}
			setIf(&mc.Name, c.Class.Name)
			setIf(&mc.Description, c.Class.Description)
			if c.Class.SetMembers {
				mc.Students, mc.Teachers = users(c.Class.Students), users(c.Class.Teachers)
			}
			m.Classes = append(m.Classes, mc)
		case c.Action == ActionClassUpdated, c.Action == ActionMembersChanged:
			mc := &m.Classes[classAt(c.Ref)]
			setIf(&mc.Name, c.Class.Name)
			setIf(&mc.Description, c.Class.Description)
			if c.Class.SetMembers {
				mc.Students, mc.Teachers = users(c.Class.Students), users(c.Class.Teachers)
			}
		default:
			t.Fatalf("unknown change %+v", c)
		}
	}
	return m
}

// awkward is a roster with issue 15's awkward cases: a student in two schools, a teacher with no email,
// a class with no teacher, duplicate usernames, an ASM-managed class; and an MDM with a user and a class
// that left the roster, a user to move and a class to rename.
func awkward() (RosterData, MDMRoster) {
	people := rosterPeople()
	twoSchools := rperson("s3", "student", "dana.two", "org2")
	twoSchools.Orgs = []string{"org2", "org1"}
	noEmail := rperson("t2", "teacher", "sam.park", "org2")
	noEmail.Email = ""
	people = append(people, twoSchools, noEmail,
		rperson("s4", "student", "eli.dup", "org1"), rperson("s5", "student", "Eli.Dup", "org2"),
		rperson("t3", "teacher", "kim.mhs", "org2"), rperson("g1", "guardian", "gale.parent", "org1"))
	classes := []roster.Class{
		rclass("c1", "Algebra I", "3", "org1", "t1:teacher", "s1:student", "s2:student", "s4:student", "t2:teacher"),
		rclass("c2", "Study Hall", "", "org2", "s3:student", "s5:student"),
		rclass("c3", "Biology", "1", "org2", "t3:teacher", "s3:student", "g1:aide"),
		rclass("c4", "Chemistry", "2", "org1", "t1:teacher", "s2:student"),
	}
	m := synced()
	m.Groups = append(m.Groups, MDMGroup{Ref: "5", Name: "Art Club", Location: "Lincoln"})
	m.Users[2].Location = "Madison"
	m.Users = append(m.Users, MDMUser{Ref: "21", Username: "old.student", Email: "old@example.org", Location: "Lincoln", Groups: []string{"5", "1"}})
	m.Classes = append(m.Classes,
		MDMClass{Ref: "u-9", Name: "LHS Gone 1", Description: ClassMarkerPrefix + "c-gone", Location: "Lincoln", MembersKnown: true},
		MDMClass{Ref: "asm-1", Name: "LHS Chemistry 2", Location: "Lincoln", Source: "asm", ASM: true})
	return RosterData{People: people, Classes: classes}, m
}

func TestBuildRosterSecondPlanChangesNothing(t *testing.T) {
	for _, stale := range []StaleAction{StaleKeep, StaleDelete, StaleMoveToGroup} {
		t.Run("removeStale "+string(stale), func(t *testing.T) {
			p := rosterPolicy(t)
			p.RosterSync.Users.RemoveStale, p.RosterSync.Users.StaleGroup = stale, "Former students"
			p.RosterSync.Classes.RemoveStale = stale != StaleKeep
			data, mdm := awkward()
			first := BuildRoster(p, data, mdm)
			if len(first.Changes) == 0 {
				t.Fatal("the first plan changes nothing: the test proves nothing")
			}
			second := BuildRoster(p, data, applyRoster(t, mdm, first))
			if changes, _ := summary(second); len(changes) != 0 {
				t.Errorf("the second plan changes:\n%s", strings.Join(changes, "\n"))
			}
			_, skips1 := summary(first)
			for _, want := range []string{"DuplicateUser User Eli.Dup", "DuplicateUser User eli.dup", "NoEmail User sam.park",
				"ManagedByASM Class LHS Chemistry 2", "NoTeacher Class MHS Study Hall"} {
				if !slices.Contains(skips1, want) {
					t.Errorf("first plan skips %q: want %q among them", skips1, want)
				}
			}
		})
	}
}

func TestBuildRosterIsDeterministic(t *testing.T) {
	p := rosterPolicy(t)
	p.RosterSync.Users.RemoveStale, p.RosterSync.Classes.RemoveStale = StaleDelete, true
	data, mdm := awkward()
	want := BuildRoster(p, data, mdm)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 20 {
		d, m := awkward()
		rng.Shuffle(len(d.People), func(i, j int) { d.People[i], d.People[j] = d.People[j], d.People[i] })
		rng.Shuffle(len(d.Classes), func(i, j int) { d.Classes[i], d.Classes[j] = d.Classes[j], d.Classes[i] })
		rng.Shuffle(len(m.Users), func(i, j int) { m.Users[i], m.Users[j] = m.Users[j], m.Users[i] })
		rng.Shuffle(len(m.Groups), func(i, j int) { m.Groups[i], m.Groups[j] = m.Groups[j], m.Groups[i] })
		rng.Shuffle(len(m.Classes), func(i, j int) { m.Classes[i], m.Classes[j] = m.Classes[j], m.Classes[i] })
		if got := BuildRoster(p, d, m); !reflect.DeepEqual(got, want) {
			t.Fatalf("shuffle %d: the plan differs:\n got %+v\nwant %+v", i, got, want)
		}
	}
}

func TestBuildRosterCounts(t *testing.T) {
	p := rosterPolicy(t)
	p.RosterSync.Users.RemoveStale, p.RosterSync.Classes.RemoveStale = StaleDelete, true
	data, mdm := awkward()
	data.People = append(data.People, rperson("x1", "student", "out.of.scope", "org9"))
	data.Classes = append(data.Classes, rclass("x1", "Out", "1", "org9"))
	got := BuildRoster(p, data, mdm).Counts
	want := RosterCounts{
		// The out-of-scope person and class are not counted.
		People: 9, Classes: 4, Users: 4, MDMClasses: 3,
		// In sync: jordan.lee and avery.smith.
		InSync: 2,
		// Groups MHS Students and MHS Teachers; users dana.two, kim.mhs and blake.jones (moved); classes
		// c1 (renamed, members), c2, c3.
		Changed: 8, Removals: 2,
		// Users 11, 12, 13 and 21 (in managed groups in policy locations) and the marker classes u-1 and u-9.
		Managed:  6,
		ByAction: map[string]int{"GroupCreated": 2, "UserCreated": 2, "UserUpdated": 1, "ClassUpdated": 1, "ClassCreated": 2, "Removed": 2},
		ByReason: map[string]int{"DuplicateUser": 2, "NoEmail": 1, "ManagedByASM": 1, "NoTeacher": 1, "NoMDMUser": 3},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("counts:\n got %+v\nwant %+v", got, want)
	}
}

func TestBuildRosterWritesWhatTheTargetNeeds(t *testing.T) {
	p := rosterPolicy(t)
	p.RosterSync.Users.Password = tmpl(t, "roster.users.password", "hunter2-{{.Grade}}")
	data := RosterData{People: append(rosterPeople(), rperson("s3", "student", "casey.new", "org1")),
		Classes: []roster.Class{rclass("c1", "Algebra", "3", "org1", "t1:teacher", "s1:student", "s3:student")}}
	m := synced()
	m.Groups = m.Groups[:1] // LHS Teachers is missing
	m.Users[0].Groups = nil
	m.Classes = nil
	rp := BuildRoster(p, data, m)
	byName := map[string]RosterChange{}
	for _, c := range rp.Changes {
		byName[c.Action+" "+c.Name] = c
	}
	t.Run("the teachers group is created with the Teacher permission", func(t *testing.T) {
		g := byName["GroupCreated LHS Teachers"]
		if g.Group == nil || !g.Group.Teacher || g.Phase != PhaseGroups || g.Location != "Lincoln" {
			t.Errorf("got %+v", g)
		}
	})
	t.Run("a user joins a group created in the run by location and name", func(t *testing.T) {
		u := byName["UserUpdated jordan.lee"]
		if u.Ref != "11" || u.User == nil || !reflect.DeepEqual(u.User.Groups, []GroupRef{{Location: "Lincoln", Name: "LHS Teachers"}}) {
			t.Errorf("got %+v", u)
		}
	})
	t.Run("a new user carries its set, an existing group by ref, the password rule and the person's data", func(t *testing.T) {
		u := byName["UserCreated casey.new"]
		want := &UserSet{Username: "casey.new", FirstName: ptr("Casey"), LastName: ptr("New"), Email: ptr("casey.new@example.org"),
			Location: ptr("Lincoln"), Groups: []GroupRef{{Ref: "1"}}}
		if !reflect.DeepEqual(u.User, want) || u.Key != "s3" || u.Phase != PhaseUsers {
			t.Errorf("got %+v, want set %+v", u, want)
		}
		if u.NewUser == nil || u.NewUser.Password != p.RosterSync.Users.Password || u.NewUser.Data.Username != "casey.new" ||
			u.NewUser.Data.SchoolCode != "LHS" || u.NewUser.Data.Grade != "09" {
			t.Errorf("NewUser %+v", u.NewUser)
		}
	})
	t.Run("a new class names existing members by ref and new ones by username", func(t *testing.T) {
		c := byName["ClassCreated LHS Algebra 3"]
		want := &ClassSet{Name: ptr("LHS Algebra 3"), Description: ptr(ClassMarkerPrefix + "c1"),
			Students: []UserRef{{Ref: "12"}, {Username: "casey.new"}}, Teachers: []UserRef{{Ref: "11"}}, SetMembers: true}
		if !reflect.DeepEqual(c.Class, want) || c.Phase != PhaseClasses {
			t.Errorf("got %+v, want %+v", c.Class, want)
		}
	})
	t.Run("no password rule appears in the plan as it is encoded for status and the digest", func(t *testing.T) {
		b, err := json.Marshal(rp)
		if err != nil || strings.Contains(string(b), "hunter2") || !strings.Contains(string(b), "casey.new") {
			t.Errorf("encoded plan (error %v): %s", err, b)
		}
	})
}

// BenchmarkBuildRoster plans a district: 20,000 people in 10 schools, 4,000 classes of 26, all in sync.
func BenchmarkBuildRoster(b *testing.B) {
	p := rosterPolicy(b)
	p.Schools, p.RosterSync.Schools = map[string]School{}, map[string]string{}
	var data RosterData
	var m MDMRoster
	for s := range 10 {
		site, org, loc := "S"+strconv.Itoa(s), "org"+strconv.Itoa(s), "Loc"+strconv.Itoa(s)
		p.Schools[site] = School{Location: loc}
		p.RosterSync.Schools[org] = site
		m.Groups = append(m.Groups, MDMGroup{Ref: strconv.Itoa(2 * s), Name: site + " Students", Location: loc},
			MDMGroup{Ref: strconv.Itoa(2*s + 1), Name: site + " Teachers", Location: loc})
	}
	for i := range 20000 {
		s, role, g := i%10, "student", 0
		if i%25 == 0 {
			role, g = "teacher", 1
		}
		u := "user" + strconv.Itoa(i)
		data.People = append(data.People, roster.Person{ID: u, Role: role, Username: u, GivenName: "G", FamilyName: "F", Email: u + "@x", Orgs: []string{"org" + strconv.Itoa(s)}})
		m.Users = append(m.Users, MDMUser{Ref: strconv.Itoa(100 + i), Username: u, FirstName: "G", LastName: "F", Email: u + "@x", Location: "Loc" + strconv.Itoa(s), Groups: []string{strconv.Itoa(2*s + g)}})
	}
	for c := range 4000 {
		s := c % 10
		rc := roster.Class{ID: "c" + strconv.Itoa(c), Title: "T" + strconv.Itoa(c), Period: "1", School: "org" + strconv.Itoa(s)}
		mc := MDMClass{Ref: "u" + strconv.Itoa(c), Name: "S" + strconv.Itoa(s) + " T" + strconv.Itoa(c) + " 1", Description: ClassMarkerPrefix + rc.ID, Location: "Loc" + strconv.Itoa(s), MembersKnown: true}
		for k := range 26 {
			i := (c*26+k*10)%20000/10*10 + s
			role := "student"
			if i%25 == 0 {
				role = "teacher"
			}
			rc.Enrollments = append(rc.Enrollments, roster.Enrollment{Person: "user" + strconv.Itoa(i), Role: role})
		}
		data.Classes = append(data.Classes, rc)
		m.Classes = append(m.Classes, mc)
	}
	b.ResetTimer()
	for range b.N {
		BuildRoster(p, data, m)
	}
}
