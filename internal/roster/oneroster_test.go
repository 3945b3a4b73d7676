package roster

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
)

func TestReadOneRoster(t *testing.T) {
	modUsers := func(f func([]r) []r) fstest.MapFS { return bundle(f(baseUsers()), baseClasses(), baseEnrollments()) }
	modClasses := func(f func([]r) []r) fstest.MapFS { return bundle(baseUsers(), f(baseClasses()), baseEnrollments()) }
	modEnrol := func(f func([]r) []r) fstest.MapFS { return bundle(baseUsers(), baseClasses(), f(baseEnrollments())) }
	set := func(s Student, f func(*Student)) Student { f(&s); return s }

	tests := []struct {
		name         string
		fsys         fstest.MapFS
		opts         Options
		want         []Student
		wantProblems []string
	}{
		{
			name: "grade, homeroom title and the teachers of all classes are read, keyed by identifier",
			fsys: baseBundle(),
			want: []Student{avery(), blake()},
		},
		{
			name: "grades with several values keeps the first, as given",
			fsys: modUsers(func(u []r) []r { u[2]["grades"] = "09,10"; return u }),
			want: []Student{avery(), blake()},
		},
		{
			name: "columns are found by name in any order and extra columns, even repeated, are ignored",
			fsys: with(baseBundle(), UsersFile, []byte(csvText("metadata.house,grades,identifier,familyName,givenName,role,sourcedId,orgSourcedIds,email,username,metadata.house",
				r{"metadata.house": "Red", "grades": "09", "identifier": "S100", "familyName": "Smith", "givenName": "Avery", "role": "student", "sourcedId": "s1", "orgSourcedIds": "org1", "email": "avery@example.org", "username": "avery.smith"},
				r{"role": "teacher", "sourcedId": "t1", "givenName": "Jordan", "familyName": "Lee"},
				r{"role": "teacher", "sourcedId": "t2", "givenName": "Sam", "familyName": "Park"},
			))),
			want: []Student{avery()},
			wantProblems: []string{
				`enrollments.csv line 6: column userSourcedId: unknown user "s2"`,
			},
		},
		{
			name: "a UTF-8 byte order mark and CRLF line endings are accepted",
			fsys: with(baseBundle(), UsersFile, []byte("\ufeff"+strings.ReplaceAll(csvText(usersHeader, baseUsers()...), "\n", "\r\n"))),
			want: []Student{avery(), blake()},
		},
		{
			name: "a quoted field may hold commas",
			fsys: modUsers(func(u []r) []r { u[0]["familyName"] = "Lee, Jr."; return u }),
			want: []Student{set(avery(), func(s *Student) { s.Teachers = []string{"Jordan Lee, Jr.", "Sam Park"} }), blake()},
		},
		{
			name: "blank rows are skipped",
			fsys: with(baseBundle(), UsersFile, []byte(csvText(usersHeader, baseUsers()...)+"\n,,,,,,,,,,,,,,,,,\n")),
			want: []Student{avery(), blake()},
		},
		{
			name: "key field sourcedId keys students by users.csv sourcedId",
			fsys: baseBundle(),
			opts: Options{KeyField: KeySourcedID},
			want: []Student{set(avery(), func(s *Student) { s.Key = "s1" }), set(blake(), func(s *Student) { s.Key = "s2" })},
		},
		{
			name: "key field username keys students by username",
			fsys: baseBundle(),
			opts: Options{KeyField: KeyUsername},
			want: []Student{set(avery(), func(s *Student) { s.Key = "avery.smith" }), set(blake(), func(s *Student) { s.Key = "blake.jones" })},
		},
		{
			name: "key field email keys students by lower-cased email",
			fsys: modUsers(func(u []r) []r { u[2]["email"] = " Avery@Example.ORG"; return u }),
			opts: Options{KeyField: KeyEmail},
			want: []Student{
				set(avery(), func(s *Student) { s.Key = "avery@example.org"; s.Email = "Avery@Example.ORG" }),
				set(blake(), func(s *Student) { s.Key = "blake@example.org" }),
			},
		},
		{
			name: "homeroom field classCode shows the class code",
			fsys: baseBundle(),
			opts: Options{HomeroomField: HomeroomClassCode},
			want: []Student{set(avery(), func(s *Student) { s.Homeroom = "HR12" }), blake()},
		},
		{
			name: "homeroom field location shows the class location",
			fsys: baseBundle(),
			opts: Options{HomeroomField: HomeroomLocation},
			want: []Student{set(avery(), func(s *Student) { s.Homeroom = "B-12" }), blake()},
		},
		{
			name: "teacher scope homeroom lists only the homeroom's teachers",
			fsys: baseBundle(),
			opts: Options{Teachers: TeachersHomeroom},
			want: []Student{set(avery(), func(s *Student) { s.Teachers = []string{"Jordan Lee"} }), set(blake(), func(s *Student) { s.Teachers = nil })},
		},
		{
			name: "teachers are sorted and a teacher of two classes is listed once",
			fsys: modEnrol(func(e []r) []r {
				return append(e, enrolRow("e6", "math", "t1", "teacher"), enrolRow("e7", "math", "t1", "teacher"))
			}),
			want: []Student{avery(), set(blake(), func(s *Student) { s.Teachers = []string{"Jordan Lee", "Sam Park"} })},
		},
		{
			name: "a teacher with only a family name is shown by it",
			fsys: modUsers(func(u []r) []r { u[1]["givenName"] = ""; return u }),
			want: []Student{set(avery(), func(s *Student) { s.Teachers = []string{"Jordan Lee", "Park"} }), set(blake(), func(s *Student) { s.Teachers = []string{"Park"} })},
		},
		{
			name: "users with other roles are not students but can teach",
			fsys: modUsers(func(u []r) []r { u[1]["role"] = "administrator"; return u }),
			want: []Student{avery(), blake()},
		},
		{
			name: "a tobedeleted user is ignored and its enrollments with it",
			fsys: modUsers(func(u []r) []r { u[3]["status"] = "tobedeleted"; return u }),
			want: []Student{avery()},
		},
		{
			name: "a tobedeleted class is ignored and its enrollments with it",
			fsys: modClasses(func(c []r) []r { c[0]["status"] = "tobedeleted"; return c }),
			want: []Student{set(avery(), func(s *Student) { s.Homeroom = ""; s.Teachers = []string{"Sam Park"} }), blake()},
		},
		{
			name: "a tobedeleted enrollment is ignored",
			fsys: modEnrol(func(e []r) []r { e[2]["status"] = "tobedeleted"; return e }),
			want: []Student{set(avery(), func(s *Student) { s.Homeroom = ""; s.Teachers = []string{"Sam Park"} }), blake()},
		},
		{
			name: "an enrollment that ended before today is not active",
			fsys: modEnrol(func(e []r) []r { e[2]["endDate"] = "2026-11-19"; return e }),
			want: []Student{set(avery(), func(s *Student) { s.Homeroom = ""; s.Teachers = []string{"Sam Park"} }), blake()},
		},
		{
			name: "an enrollment that begins after today is not active",
			fsys: modEnrol(func(e []r) []r { e[2]["beginDate"] = "2026-11-21"; return e }),
			want: []Student{set(avery(), func(s *Student) { s.Homeroom = ""; s.Teachers = []string{"Sam Park"} }), blake()},
		},
		{
			name: "an enrollment whose window includes today, ends included, is active",
			fsys: modEnrol(func(e []r) []r { e[2]["beginDate"], e[2]["endDate"] = "2026-08-15", "2026-11-20"; return e }),
			want: []Student{avery(), blake()},
		},
		{
			name:         "an enrollment date that is not YYYY-MM-DD is a problem and the enrollment is not used",
			fsys:         modEnrol(func(e []r) []r { e[2]["endDate"] = "06/30/2027"; return e }),
			want:         []Student{set(avery(), func(s *Student) { s.Homeroom = ""; s.Teachers = []string{"Sam Park"} }), blake()},
			wantProblems: []string{`enrollments.csv line 4: column endDate: date "06/30/2027" is not YYYY-MM-DD`},
		},
		{
			name:         "an enrollment in an unknown class is a problem and contributes nothing",
			fsys:         modEnrol(func(e []r) []r { return append(e, enrolRow("e6", "c-99", "s2", "student")) }),
			want:         []Student{avery(), blake()},
			wantProblems: []string{`enrollments.csv line 7: column classSourcedId: unknown class "c-99"`},
		},
		{
			name:         "an enrollment of an unknown user is a problem and contributes nothing",
			fsys:         modEnrol(func(e []r) []r { return append(e, enrolRow("e6", "hr1", "t-99", "teacher")) }),
			want:         []Student{avery(), blake()},
			wantProblems: []string{`enrollments.csv line 7: column userSourcedId: unknown user "t-99"`},
		},
		{
			name:         "an enrollment without a role is a problem",
			fsys:         modEnrol(func(e []r) []r { return append(e, enrolRow("e6", "hr1", "s2", "")) }),
			want:         []Student{avery(), blake()},
			wantProblems: []string{`enrollments.csv line 7: column role: missing role`},
		},
		{
			name:         "a user row without a sourcedId is a problem and not used",
			fsys:         modUsers(func(u []r) []r { u[3]["sourcedId"] = ""; return u }),
			want:         []Student{avery()},
			wantProblems: []string{`users.csv line 5: column sourcedId: missing sourcedId`, `enrollments.csv line 6: column userSourcedId: unknown user "s2"`},
		},
		{
			name:         "a user row without a role is a problem and the user is not a student",
			fsys:         modUsers(func(u []r) []r { u[3]["role"] = ""; return u }),
			want:         []Student{avery()},
			wantProblems: []string{`users.csv line 5: column role: missing role`},
		},
		{
			name:         "a student without the key is a problem and not in the roster",
			fsys:         modUsers(func(u []r) []r { u[3]["identifier"] = " "; return u }),
			want:         []Student{avery()},
			wantProblems: []string{`users.csv line 5: column identifier: student "s2" has no identifier (the roster key): not used`},
		},
		{
			name: "two students with one key are both reported and neither is used",
			fsys: modUsers(func(u []r) []r { u[3]["identifier"] = "S100"; return u }),
			want: []Student{},
			wantProblems: []string{
				`users.csv line 4: column identifier: duplicate key "S100" (also on line 5): no row with it is used`,
				`users.csv line 5: column identifier: duplicate key "S100": no row with it is used`,
			},
		},
		{
			name: "two users with one sourcedId are both reported and neither is used",
			fsys: modUsers(func(u []r) []r { return append(u, userRow("s2", "student", "Casey", "Nguyen", "S300", "11")) }),
			want: []Student{avery()},
			wantProblems: []string{
				`users.csv line 5: column sourcedId: duplicate sourcedId "s2" (also on line 6): no row with it is used`,
				`users.csv line 6: column sourcedId: duplicate sourcedId "s2": no row with it is used`,
			},
		},
		{
			name: "two classes with one sourcedId are both reported and their enrollments are not used",
			fsys: modClasses(func(c []r) []r { return append(c, classRow("hr1", "Room 14", "HR14", "homeroom", "")) }),
			want: []Student{set(avery(), func(s *Student) { s.Homeroom = ""; s.Teachers = []string{"Sam Park"} }), blake()},
			wantProblems: []string{
				`classes.csv line 2: column sourcedId: duplicate sourcedId "hr1" (also on line 4): no row with it is used`,
				`classes.csv line 4: column sourcedId: duplicate sourcedId "hr1": no row with it is used`,
			},
		},
		{
			name: "a student in two homerooms is reported and gets no homeroom",
			fsys: bundle(baseUsers(), append(baseClasses(), classRow("hr2", "Room 14", "HR14", "homeroom", "")),
				append(baseEnrollments(), enrolRow("e6", "hr2", "s1", "student"))),
			want:         []Student{set(avery(), func(s *Student) { s.Homeroom = "" }), blake()},
			wantProblems: []string{`enrollments.csv line 7: column classSourcedId: student "S100" is in two homerooms, "hr1" (line 4) and "hr2": homeroom left empty`},
		},
		{
			name: "a student enrolled twice in the same homeroom keeps it",
			fsys: modEnrol(func(e []r) []r { return append(e, enrolRow("e6", "hr1", "s1", "student")) }),
			want: []Student{avery(), blake()},
		},
		{
			name:         "a class type that is neither homeroom nor scheduled is a problem and the class counts as scheduled",
			fsys:         modClasses(func(c []r) []r { c[0]["classType"] = "advisory"; return c }),
			want:         []Student{set(avery(), func(s *Student) { s.Homeroom = "" }), blake()},
			wantProblems: []string{`classes.csv line 2: column classType: classType "advisory" is neither homeroom nor scheduled: treated as scheduled`},
		},
		{
			name: "a row with the wrong number of fields is a problem and the next row is read",
			fsys: with(baseBundle(), UsersFile, []byte(strings.Replace(csvText(usersHeader, baseUsers()...), "\nt2,", "\nt2,extra,", 1))),
			want: []Student{set(avery(), func(s *Student) { s.Teachers = []string{"Jordan Lee"} }), set(blake(), func(s *Student) { s.Teachers = nil })},
			wantProblems: []string{
				`users.csv line 3: row not read: it has 19 fields, the header has 18`,
				`enrollments.csv line 3: column userSourcedId: unknown user "t2"`,
			},
		},
		{
			name: "a quote error on one line is a problem and the next row is read",
			fsys: with(baseBundle(), UsersFile, []byte(strings.Replace(csvText(usersHeader, baseUsers()...), "\nt2,", "\nt2\"x,", 1))),
			want: []Student{set(avery(), func(s *Student) { s.Teachers = []string{"Jordan Lee"} }), set(blake(), func(s *Student) { s.Teachers = nil })},
			wantProblems: []string{
				`users.csv line 3: row not read: bare " in non-quoted-field (position 3)`,
				`enrollments.csv line 3: column userSourcedId: unknown user "t2"`,
			},
		},
		{
			name: "without classes.csv and enrollments.csv only users.csv is read",
			fsys: with(with(baseBundle(), ClassesFile, nil), EnrollmentsFile, nil),
			want: []Student{set(avery(), func(s *Student) { s.Homeroom = ""; s.Teachers = nil }), set(blake(), func(s *Student) { s.Teachers = nil })},
		},
		{
			name: "problems beyond MaxProblems are summarised in one last problem",
			fsys: modEnrol(func(e []r) []r {
				return append(e, enrolRow("e6", "c-1", "s1", "student"), enrolRow("e7", "c-2", "s1", "student"), enrolRow("e8", "c-3", "s1", "student"))
			}),
			opts: Options{MaxProblems: 1},
			want: []Student{avery(), blake()},
			wantProblems: []string{
				`enrollments.csv line 7: column classSourcedId: unknown class "c-1"`,
				`2 more problems not listed`,
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts
			opts.Today = today
			ros, err := ReadOneRoster(tc.fsys, opts)
			if err != nil {
				t.Fatalf("ReadOneRoster: %v", err)
			}
			want := map[string]Student{}
			for _, s := range tc.want {
				want[s.Key] = s
			}
			if got := studentValues(ros.Students); !reflect.DeepEqual(got, want) {
				t.Errorf("students:\n got %+v\nwant %+v", got, want)
			}
			if got := problemStrings(ros.Problems); !reflect.DeepEqual(got, append([]string{}, tc.wantProblems...)) {
				t.Errorf("problems:\n got %q\nwant %q", got, tc.wantProblems)
			}
			if ros.Format != FormatOneRoster {
				t.Errorf("format = %q, want %q", ros.Format, FormatOneRoster)
			}
		})
	}
}

func TestReadOneRosterErrors(t *testing.T) {
	tests := []struct {
		name       string
		fsys       fstest.MapFS
		opts       Options
		wantErr    error
		wantFile   string
		wantColumn string
	}{
		{
			name:     "a bundle without users.csv is an error",
			fsys:     with(with(with(baseBundle(), UsersFile, nil), ClassesFile, nil), EnrollmentsFile, nil),
			wantErr:  ErrMissingFile,
			wantFile: UsersFile,
		},
		{
			name:     "classes.csv without enrollments.csv is an error",
			fsys:     with(baseBundle(), EnrollmentsFile, nil),
			wantErr:  ErrMissingFile,
			wantFile: EnrollmentsFile,
		},
		{
			name:     "enrollments.csv without classes.csv is an error",
			fsys:     with(baseBundle(), ClassesFile, nil),
			wantErr:  ErrMissingFile,
			wantFile: ClassesFile,
		},
		{
			name:       "users.csv without a grades column is an error",
			fsys:       with(baseBundle(), UsersFile, []byte(csvText(strings.Replace(usersHeader, ",grades", "", 1), baseUsers()...))),
			wantErr:    ErrMissingColumn,
			wantFile:   UsersFile,
			wantColumn: "grades",
		},
		{
			name:       "users.csv without the chosen key column is an error",
			fsys:       with(baseBundle(), UsersFile, []byte(csvText(strings.Replace(usersHeader, ",username", "", 1), baseUsers()...))),
			opts:       Options{KeyField: KeyUsername},
			wantErr:    ErrMissingColumn,
			wantFile:   UsersFile,
			wantColumn: "username",
		},
		{
			name:       "headers are matched exactly as the spec spells them",
			fsys:       with(baseBundle(), UsersFile, []byte(csvText(strings.Replace(usersHeader, "sourcedId", "SourcedId", 1), baseUsers()...))),
			wantErr:    ErrMissingColumn,
			wantFile:   UsersFile,
			wantColumn: "sourcedId",
		},
		{
			name:       "classes.csv without the chosen homeroom column is an error",
			fsys:       with(baseBundle(), ClassesFile, []byte(csvText(strings.Replace(classesHeader, ",classCode", "", 1), baseClasses()...))),
			opts:       Options{HomeroomField: HomeroomClassCode},
			wantErr:    ErrMissingColumn,
			wantFile:   ClassesFile,
			wantColumn: "classCode",
		},
		{
			name:       "enrollments.csv without classSourcedId is an error",
			fsys:       with(baseBundle(), EnrollmentsFile, []byte(csvText(strings.Replace(enrollmentsHeader, ",classSourcedId", "", 1), baseEnrollments()...))),
			wantErr:    ErrMissingColumn,
			wantFile:   EnrollmentsFile,
			wantColumn: "classSourcedId",
		},
		{
			name:     "an empty users.csv is not CSV",
			fsys:     with(baseBundle(), UsersFile, []byte{}),
			wantErr:  ErrNotCSV,
			wantFile: UsersFile,
		},
		{
			name:     "a header naming a column twice is not usable",
			fsys:     with(baseBundle(), UsersFile, []byte(usersHeader+",grades\n")),
			wantErr:  ErrNotCSV,
			wantFile: UsersFile,
		},
		{
			name:     "a binary file is not CSV",
			fsys:     with(baseBundle(), UsersFile, []byte("PK\x03\x04\x00\x00\xff\xfe,sourcedId\n")),
			wantErr:  ErrNotCSV,
			wantFile: UsersFile,
		},
		{
			name:     "a quoted field left open to the end of the file is an error",
			fsys:     with(baseBundle(), EnrollmentsFile, []byte(csvText(enrollmentsHeader, baseEnrollments()...)+"e6,,,\"hr1,org1,s2,student,,,\ne7,,,math,org1,s2,student,,,\n")),
			wantErr:  ErrNotCSV,
			wantFile: EnrollmentsFile,
		},
		{
			name:    "an unknown key field is an options error",
			fsys:    baseBundle(),
			opts:    Options{KeyField: KeyDistrictID},
			wantErr: ErrOptions,
		},
		{
			name:    "an unknown homeroom field is an options error",
			fsys:    baseBundle(),
			opts:    Options{HomeroomField: "room"},
			wantErr: ErrOptions,
		},
		{
			name:    "an unknown teacher scope is an options error",
			fsys:    baseBundle(),
			opts:    Options{Teachers: "scheduled"},
			wantErr: ErrOptions,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts
			opts.Today = today
			ros, err := ReadOneRoster(tc.fsys, opts)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if ros != nil {
				t.Errorf("roster = %+v, want nil with an error", ros)
			}
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("err %T is not a *FileError", err)
			}
			if fe.File != tc.wantFile || fe.Column != tc.wantColumn {
				t.Errorf("file, column = %q, %q; want %q, %q", fe.File, fe.Column, tc.wantFile, tc.wantColumn)
			}
			if tc.wantFile != "" && !strings.Contains(err.Error(), tc.wantFile) {
				t.Errorf("error %q does not name %s", err, tc.wantFile)
			}
		})
	}
}

func TestPasswordsNeverAppearInProblemsOrErrors(t *testing.T) {
	users := baseUsers()
	users[3]["identifier"] = users[2]["identifier"] // duplicate key problems on both student rows
	users = append(users, r{"sourcedId": "", "role": "student", "password": "hunter2"})
	fsys := bundle(users, baseClasses(), append(baseEnrollments(), enrolRow("e6", "c-99", "s1", "student")))
	ros, err := ReadOneRoster(fsys, Options{Today: today})
	if err != nil {
		t.Fatalf("ReadOneRoster: %v", err)
	}
	if len(ros.Problems) == 0 {
		t.Fatal("expected problems")
	}
	for _, p := range ros.Problems {
		if strings.Contains(p.Error(), "hunter2") {
			t.Errorf("problem leaks the password: %s", p.Error())
		}
	}
	_, err = ReadOneRoster(with(fsys, UsersFile, []byte(strings.Replace(usersHeader, "grades", "x", 1)+"\ns1,,,,,student,,,,,,,,,,,,hunter2\n")), Options{})
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("err = %v, want an error that does not quote the password", err)
	}
}

func TestProblemError(t *testing.T) {
	tests := []struct {
		name string
		p    Problem
		want string
	}{
		{"file, line and column", Problem{File: "enrollments.csv", Line: 42, Column: "classSourcedId", Message: `unknown class "c-99"`},
			`enrollments.csv line 42: column classSourcedId: unknown class "c-99"`},
		{"no column", Problem{File: "users.csv", Line: 3, Message: "row not read"}, "users.csv line 3: row not read"},
		{"no line", Problem{File: "users.csv", Message: "m"}, "users.csv: m"},
		{"no file", Problem{Message: "2 more problems not listed"}, "2 more problems not listed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.p.Error(); got != tc.want {
				t.Errorf("Error() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestLookupNormalisesTheKeyLikeTheReader(t *testing.T) {
	tests := []struct {
		name  string
		opts  Options
		query string
		want  string
	}{
		{"identifier keys are trimmed", Options{}, "  S100 ", "S100"},
		{"email keys are case-insensitive", Options{KeyField: KeyEmail}, "AVERY@example.org", "avery@example.org"},
		{"identifier keys are case-sensitive", Options{}, "s100", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Today = today
			ros, err := ReadOneRoster(baseBundle(), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			s, ok := ros.Lookup(tc.query)
			key := ""
			if s != nil {
				key = s.Key
			}
			if ok != (tc.want != "") || key != tc.want {
				t.Errorf("Lookup(%q) = %q, %v; want %q", tc.query, key, ok, tc.want)
			}
		})
	}
}
