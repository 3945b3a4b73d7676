package roster

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
)

func person(id, ident, role, given, family, grade string, line int) Person {
	return Person{ID: id, Identifier: ident, Role: role, Username: strings.ToLower(given) + "." + strings.ToLower(family),
		GivenName: given, FamilyName: family, Email: strings.ToLower(given) + "@example.org", Orgs: []string{"org1"}, Grade: grade, Line: line}
}

func basePeople() []Person {
	return []Person{
		person("t1", "T1", "teacher", "Jordan", "Lee", "", 2),
		person("t2", "T2", "teacher", "Sam", "Park", "", 3),
		person("s1", "S100", "student", "Avery", "Smith", "09", 4),
		person("s2", "S200", "student", "Blake", "Jones", "10", 5),
	}
}

func TestReadOneRosterPeople(t *testing.T) {
	modUsers := func(f func([]r) []r) fstest.MapFS { return bundle(f(baseUsers()), baseClasses(), baseEnrollments()) }
	set := func(ps []Person, i int, f func(*Person)) []Person { f(&ps[i]); return ps }
	tests := []struct {
		name         string
		fsys         fstest.MapFS
		want         []Person
		wantStudents int
	}{
		{name: "every user row becomes a person, teachers and students, in file order", fsys: baseBundle(), want: basePeople(), wantStudents: 2},
		{name: "orgSourcedIds are all kept, in order, and grades keep the first",
			fsys: modUsers(func(u []r) []r { u[2]["orgSourcedIds"] = "org2, org1"; u[2]["grades"] = "09,10"; return u }),
			want: set(basePeople(), 2, func(p *Person) { p.Orgs = []string{"org2", "org1"} }), wantStudents: 2},
		{name: "a role other than student or teacher still makes a person",
			fsys: modUsers(func(u []r) []r { return append(u, userRow("g1", "guardian", "Casey", "Smith", "G1", "")) }),
			want: append(basePeople(), person("g1", "G1", "guardian", "Casey", "Smith", "", 6)), wantStudents: 2},
		{name: "a school system's own role is kept as given",
			fsys: modUsers(func(u []r) []r { u[0]["role"] = "ROLE_TEACHER"; return u }),
			want: set(basePeople(), 0, func(p *Person) { p.Role = "ROLE_TEACHER" }), wantStudents: 2},
		{name: "a student without the key column value is a person but not a student",
			fsys: modUsers(func(u []r) []r { u[2]["identifier"] = ""; return u }),
			want: set(basePeople(), 2, func(p *Person) { p.Identifier = "" }), wantStudents: 1},
		{name: "two students with one key are both persons but neither is a student",
			fsys: modUsers(func(u []r) []r { u[3]["identifier"] = "S100"; return u }),
			want: set(basePeople(), 3, func(p *Person) { p.Identifier = "S100" }), wantStudents: 0},
		{name: "a duplicated sourcedId makes no person of either row",
			fsys: modUsers(func(u []r) []r { u[3]["sourcedId"] = "s1"; return u }),
			want: basePeople()[:2], wantStudents: 0},
		{name: "a row with status tobedeleted makes no person",
			fsys: modUsers(func(u []r) []r { u[1]["status"] = "tobedeleted"; return u }),
			want: []Person{basePeople()[0], basePeople()[2], basePeople()[3]}, wantStudents: 2},
		{name: "a row without a role makes no person (it is reported)",
			fsys: modUsers(func(u []r) []r { u[1]["role"] = ""; return u }),
			want: []Person{basePeople()[0], basePeople()[2], basePeople()[3]}, wantStudents: 2},
		{name: "a row without sourcedId makes no person",
			fsys: modUsers(func(u []r) []r { u[1]["sourcedId"] = ""; return u }),
			want: []Person{basePeople()[0], basePeople()[2], basePeople()[3]}, wantStudents: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ros, err := ReadOneRoster(tt.fsys, Options{Today: today, People: true})
			if err != nil {
				t.Fatalf("ReadOneRoster: %v", err)
			}
			if !reflect.DeepEqual(ros.People, tt.want) {
				t.Errorf("people:\n got %+v\nwant %+v", ros.People, tt.want)
			}
			if len(ros.Students) != tt.wantStudents {
				t.Errorf("%d students, want %d", len(ros.Students), tt.wantStudents)
			}
		})
	}
}

// A policy that syncs devices only reads its roster without People: the same students, no second copy
// of every row, no classes.
func TestReadOneRosterWithoutPeopleKeepsNoPersonOrClass(t *testing.T) {
	ros, err := ReadOneRoster(baseBundle(), Options{Today: today})
	if err != nil {
		t.Fatalf("ReadOneRoster: %v", err)
	}
	if len(ros.People) != 0 || len(ros.Classes) != 0 || len(ros.Students) != 2 {
		t.Errorf("%d people, %d classes, %d students; want 0, 0, 2", len(ros.People), len(ros.Classes), len(ros.Students))
	}
}

func TestReadOneRosterPeopleNeverHoldThePassword(t *testing.T) {
	ros, err := ReadOneRoster(baseBundle(), Options{Today: today, People: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(ros.People) == 0 || strings.Contains(fmt.Sprintf("%+v", ros.People), "hunter2") {
		t.Errorf("people %+v: want them read, without the users.csv password", ros.People)
	}
}

func TestReadOneRosterClasses(t *testing.T) {
	modClasses := func(f func([]r) []r) fstest.MapFS { return bundle(baseUsers(), f(baseClasses()), baseEnrollments()) }
	modEnrol := func(f func([]r) []r) fstest.MapFS { return bundle(baseUsers(), baseClasses(), f(baseEnrollments())) }
	hr := func() Class {
		return Class{ID: "hr1", Title: "Room 12", ClassCode: "HR12", Location: "B-12", School: "org1", Line: 2,
			Enrollments: []Enrollment{{"t1", "teacher"}, {"s1", "student"}}}
	}
	math := func() Class {
		return Class{ID: "math", Title: "Algebra 1", ClassCode: "ALG1-3", Location: "B-20", School: "org1", Line: 3,
			Enrollments: []Enrollment{{"t2", "teacher"}, {"s1", "student"}, {"s2", "student"}}}
	}
	set := func(c Class, f func(*Class)) Class { f(&c); return c }
	tests := []struct {
		name string
		fsys fstest.MapFS
		want []Class
	}{
		{name: "every class with its active enrollments in file order", fsys: baseBundle(), want: []Class{hr(), math()}},
		{name: "periods and grades keep the first value of the list",
			fsys: modClasses(func(c []r) []r { c[1]["periods"] = "3, 4"; c[1]["grades"] = "09,10"; return c }),
			want: []Class{hr(), set(math(), func(c *Class) { c.Period = "3"; c.Grade = "09" })}},
		{name: "an enrollment role is kept as given, whatever it is",
			fsys: modEnrol(func(e []r) []r { e[1]["role"] = "ROLE_TEACHER"; e[4]["role"] = "aide"; return e }),
			want: []Class{hr(), set(math(), func(c *Class) {
				c.Enrollments = []Enrollment{{"t2", "ROLE_TEACHER"}, {"s1", "student"}, {"s2", "aide"}}
			})}},
		{name: "an enrollment outside its dates is left out",
			fsys: modEnrol(func(e []r) []r { e[4]["endDate"] = "2026-06-30"; e[3]["beginDate"] = "2027-01-01"; return e }),
			want: []Class{hr(), set(math(), func(c *Class) { c.Enrollments = c.Enrollments[:1] })}},
		{name: "an enrollment with status tobedeleted is left out",
			fsys: modEnrol(func(e []r) []r { e[0]["status"] = "tobedeleted"; return e }),
			want: []Class{set(hr(), func(c *Class) { c.Enrollments = c.Enrollments[1:] }), math()}},
		{name: "a person enrolled twice in a class keeps the first row",
			fsys: modEnrol(func(e []r) []r { return append(e, enrolRow("e6", "math", "s2", "teacher")) }),
			want: []Class{hr(), math()}},
		{name: "an enrollment of a user with status tobedeleted is left out",
			fsys: bundle(func() []r { u := baseUsers(); u[3]["status"] = "tobedeleted"; return u }(), baseClasses(), baseEnrollments()),
			want: []Class{hr(), set(math(), func(c *Class) { c.Enrollments = c.Enrollments[:2] })}},
		{name: "an enrollment with no role is left out",
			fsys: modEnrol(func(e []r) []r { e[4]["role"] = ""; return e }),
			want: []Class{hr(), set(math(), func(c *Class) { c.Enrollments = c.Enrollments[:2] })}},
		{name: "a duplicated class sourcedId makes no class",
			fsys: modClasses(func(c []r) []r { c[0]["sourcedId"] = "math"; return c }),
			want: nil},
		{name: "a class with status tobedeleted makes no class",
			fsys: modClasses(func(c []r) []r { c[0]["status"] = "tobedeleted"; return c }),
			want: []Class{math()}},
		{name: "a bundle without classes.csv has no classes",
			fsys: with(with(baseBundle(), ClassesFile, nil), EnrollmentsFile, nil),
			want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ros, err := ReadOneRoster(tt.fsys, Options{Today: today, People: true})
			if err != nil {
				t.Fatalf("ReadOneRoster: %v", err)
			}
			if !reflect.DeepEqual(ros.Classes, tt.want) {
				t.Errorf("classes:\n got %+v\nwant %+v", ros.Classes, tt.want)
			}
		})
	}
}

func TestReadSISPatronsPeople(t *testing.T) {
	sisPerson := func(site, id, typ, first, last, grade string, line int) Person {
		return Person{ID: id, Identifier: id, PatronType: typ, Username: strings.ToLower(first + "." + last), GivenName: first, FamilyName: last,
			Email: strings.ToLower(first) + "@example.org", Orgs: []string{site}, Grade: grade, Line: line}
	}
	base := func() []Person {
		return []Person{
			sisPerson("LHS", "S100", "Student", "Avery", "Smith", "09", 2),
			sisPerson("LHS", "S200", "Student", "Blake", "Jones", "10", 3),
			sisPerson("LHS", "T900", "Teacher", "Jordan", "Lee", "", 4),
		}
	}
	mod := func(f func([]r) []r) fstest.MapFS { return sisFS(sisHeader, f(sisRows())...) }
	tests := []struct {
		name         string
		fsys         fstest.MapFS
		opts         Options
		want         []Person
		wantStudents int
		wantProblems []string
	}{
		{name: "every row becomes a person", fsys: sisFS(sisHeader, sisRows()...), opts: Options{People: true}, want: base(), wantStudents: 3},
		{name: "without People (a policy that syncs devices only) no person is kept", fsys: sisFS(sisHeader, sisRows()...), want: nil, wantStudents: 3},
		{name: "rows that student patron types filter out of Students are still persons",
			fsys: sisFS(sisHeader, sisRows()...), opts: Options{StudentPatronTypes: []string{"student"}, People: true}, want: base(), wantStudents: 2},
		{name: "inactive rows make no person",
			fsys: mod(func(rs []r) []r { rs[2]["Status"] = "I"; return rs }), opts: Options{People: true}, want: base()[:2], wantStudents: 2},
		{name: "a student and a teacher row sharing a DistrictID make no person, reported",
			fsys: mod(func(rs []r) []r { rs[2]["DistrictID"] = "S100"; return rs }), opts: Options{StudentPatronTypes: []string{"student"}, People: true},
			want: base()[1:2], wantStudents: 2,
			wantProblems: []string{
				`patrons.csv line 2: column DistrictID: duplicate DistrictID "S100" (also on line 4): no roster user`,
				`patrons.csv line 4: column DistrictID: duplicate DistrictID "S100": no roster user`,
			}},
		{name: "a row without DistrictID keyed by Barcode is a student but no person, reported",
			fsys: mod(func(rs []r) []r { rs[1]["DistrictID"] = ""; return rs }), opts: Options{KeyField: KeyBarcode, People: true},
			want: []Person{base()[0], base()[2]}, wantStudents: 3,
			wantProblems: []string{`patrons.csv line 3: column DistrictID: missing DistrictID: no roster user`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ros, err := ReadSISPatrons(tt.fsys, "patrons.csv", tt.opts)
			if err != nil {
				t.Fatalf("ReadSISPatrons: %v", err)
			}
			if !reflect.DeepEqual(ros.People, tt.want) {
				t.Errorf("people:\n got %+v\nwant %+v", ros.People, tt.want)
			}
			if len(ros.Students) != tt.wantStudents {
				t.Errorf("%d students, want %d", len(ros.Students), tt.wantStudents)
			}
			if got := problemStrings(ros.Problems); !reflect.DeepEqual(got, tt.wantProblems) && (len(got) > 0 || len(tt.wantProblems) > 0) {
				t.Errorf("problems:\n got %q\nwant %q", got, tt.wantProblems)
			}
		})
	}
}
