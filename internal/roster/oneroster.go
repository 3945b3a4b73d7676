package roster

import (
	"errors"
	"io/fs"
	"slices"
	"strings"
	"time"
)

// OneRoster 1.1 CSV file names.
const (
	UsersFile       = "users.csv"
	ClassesFile     = "classes.csv"
	EnrollmentsFile = "enrollments.csv"
)

// OneRoster 1.1 CSV column names (IMS OneRoster v1.1 CSV binding), the ones this package reads.
const (
	colSourcedID      = "sourcedId"
	colStatus         = "status"
	colOrgSourcedIDs  = "orgSourcedIds"
	colRole           = "role"
	colUsername       = "username"
	colGivenName      = "givenName"
	colFamilyName     = "familyName"
	colIdentifier     = "identifier"
	colEmail          = "email"
	colGrades         = "grades"
	colTitle          = "title"
	colClassCode      = "classCode"
	colClassType      = "classType"
	colLocation       = "location"
	colClassSourcedID = "classSourcedId"
	colUserSourcedID  = "userSourcedId"
	colBeginDate      = "beginDate"
	colEndDate        = "endDate"
	colPeriods        = "periods"
	colSchoolSourced  = "schoolSourcedId"
)

var oneRosterColumns = map[string]bool{
	colSourcedID: true, colStatus: true, colOrgSourcedIDs: true, colRole: true, colUsername: true, colGivenName: true,
	colFamilyName: true, colIdentifier: true, colEmail: true, colGrades: true, colTitle: true, colClassCode: true,
	colClassType: true, colLocation: true, colClassSourcedID: true, colUserSourcedID: true, colBeginDate: true, colEndDate: true,
	colPeriods: true, colSchoolSourced: true,
}

// exact matches OneRoster headers exactly as the spec spells them; columns this package does not read are ignored
// (even when repeated).
func exact(h string) string {
	if oneRosterColumns[h] {
		return h
	}
	return ""
}

const (
	ambiguous = -1 // a sourcedId seen on two rows: neither row is used
	deleted   = -2 // a sourcedId whose row has status tobedeleted
)

type orUser struct {
	person  Person
	noRole  bool // no role: reported, and no Person (the SIS CSV's people are the ones without a role)
	line    int
	name    string // display name, "Given Family"
	student int32  // index into students, or -1
}

type orStudent struct {
	s         Student
	line      int
	excluded  bool    // missing or duplicate key: reported, contributes nothing
	classes   []int32 // active enrollments (class indexes)
	homeroom  int32   // class index of the homeroom, -1 none, -2 ambiguous
	hrLine    int
	hrClassID string
}

type orClass struct {
	line      int
	sourcedID string
	show      string // the homeroom display value (title, classCode or location)
	homeroom  bool
	teachers  []int32 // user indexes
	class     Class   // the roster sync view: columns and active enrollments
	enrolled  map[int32]bool
}

type oneRoster struct {
	opts     Options
	ros      *Roster
	today    string // YYYY-MM-DD in opts.Today's location
	users    []orUser
	userIdx  map[string]int32
	students []orStudent
	keyFirst map[string]int32 // key -> index of the first student holding it, or -1 once duplicated
	classes  []orClass
	classIdx map[string]int32
	dates    map[string]bool
}

// ReadOneRoster reads a OneRoster 1.1 CSV bundle from fsys: users.csv (required) and classes.csv with
// enrollments.csv (optional, but both or neither). Other files (orgs.csv, courses.csv, manifest.csv, ...) are ignored.
//
// Columns may come in any order and extra columns are ignored; header names are matched exactly as the spec spells
// them. Required columns: users.csv sourcedId, role, givenName, familyName, grades and the key column;
// classes.csv sourcedId, classType and the homeroom column (title by default); enrollments.csv classSourcedId,
// userSourcedId, role. status, beginDate, endDate and orgSourcedIds are read when present.
//
// Rows whose status is tobedeleted are ignored, as are enrollments that reference them and enrollments outside their
// beginDate..endDate window on Options.Today. Only users with role student become Students; any user can be a
// teacher through a role=teacher enrollment. enabledUser is not read: a disabled account's grade is still its grade.
//
// For roster sync, Roster.People holds every usable users.csv row whatever its role (a row left out only for a
// missing or duplicated sourcedId, status tobedeleted, or no role at all, which is reported; a missing or duplicated key value drops the Student, not
// the Person), and Roster.Classes every usable class (title, classCode, location, first of periods and grades,
// schoolSourcedId) with its active enrollments of any non-empty role, as given, one per person, in file order.
func ReadOneRoster(fsys fs.FS, opts Options) (*Roster, error) {
	opts, err := opts.withDefaults(FormatOneRoster)
	if err != nil {
		return nil, err
	}
	o := &oneRoster{
		opts:     opts,
		ros:      newRoster(FormatOneRoster, opts),
		today:    opts.Today.Format(time.DateOnly),
		userIdx:  map[string]int32{},
		keyFirst: map[string]int32{},
		classIdx: map[string]int32{},
		dates:    map[string]bool{},
	}
	_, cErr := fs.Stat(fsys, ClassesFile)
	_, eErr := fs.Stat(fsys, EnrollmentsFile)
	if errors.Is(cErr, fs.ErrNotExist) != errors.Is(eErr, fs.ErrNotExist) {
		missing := ClassesFile
		if errors.Is(eErr, fs.ErrNotExist) {
			missing = EnrollmentsFile
		}
		if _, uErr := fs.Stat(fsys, UsersFile); errors.Is(uErr, fs.ErrNotExist) {
			missing = UsersFile
		}
		return nil, &FileError{File: missing, Err: ErrMissingFile, Detail: "classes.csv and enrollments.csv come together"}
	}
	if err := o.readUsers(fsys); err != nil {
		return nil, err
	}
	if !errors.Is(cErr, fs.ErrNotExist) {
		if err := o.readClasses(fsys); err != nil {
			return nil, err
		}
		if err := o.readEnrollments(fsys); err != nil {
			return nil, err
		}
	}
	o.build()
	o.ros.finish()
	return o.ros, nil
}

func (o *oneRoster) keyColumn() string {
	switch o.opts.KeyField {
	case KeySourcedID:
		return colSourcedID
	case KeyUsername:
		return colUsername
	case KeyEmail:
		return colEmail
	default:
		return colIdentifier
	}
}

func tobedeleted(status string) bool { return status != "" && strings.EqualFold(status, "tobedeleted") }

func (o *oneRoster) readUsers(fsys fs.FS) error {
	keyCol := o.keyColumn()
	t, err := openTable(fsys, UsersFile, exact, []string{colSourcedID, colRole, colGivenName, colFamilyName, colGrades, keyCol})
	if err != nil {
		return err
	}
	defer t.Close()
	ros := o.ros
	iID, iStatus, iRole, iGiven, iFamily := t.index(colSourcedID), t.index(colStatus), t.index(colRole), t.index(colGivenName), t.index(colFamilyName)
	iIdent := t.index(colIdentifier)
	c := userCols{key: t.index(keyCol), grades: t.index(colGrades), orgs: t.index(colOrgSourcedIDs), email: t.index(colEmail), username: t.index(colUsername), given: iGiven, family: iFamily}
	for {
		ok, err := t.next(ros)
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
		id := t.at(iID)
		if id == "" {
			ros.problem(t.file, t.line, colSourcedID, "missing sourcedId")
			continue
		}
		if tobedeleted(t.at(iStatus)) {
			if _, seen := o.userIdx[id]; !seen {
				o.userIdx[id] = deleted
			}
			continue
		}
		if prev, seen := o.userIdx[id]; seen {
			if prev >= 0 {
				if si := o.users[prev].student; si >= 0 {
					o.excludeStudent(si)
				}
				ros.problem(t.file, o.users[prev].line, colSourcedID, "duplicate sourcedId %s (also on line %d): no row with it is used", quote(id), t.line)
			}
			if prev != deleted {
				ros.problem(t.file, t.line, colSourcedID, "duplicate sourcedId %s: no row with it is used", quote(id))
				o.userIdx[id] = ambiguous
				continue
			}
		}
		u := orUser{line: t.line, name: displayName(t.at(iGiven), t.at(iFamily)), student: -1}
		role := t.at(iRole)
		u.person = Person{
			ID: id, Identifier: t.at(iIdent), Role: role, Username: t.at(c.username),
			GivenName: t.at(iGiven), FamilyName: t.at(iFamily), Email: t.at(c.email),
			Orgs: listOf(t.at(c.orgs)), Grade: firstOf(t.at(c.grades)), Line: t.line,
		}
		if role == "" {
			ros.problem(t.file, t.line, colRole, "missing role")
			u.noRole = true
		}
		if strings.EqualFold(role, "student") {
			u.student = o.addStudent(t, c, id, keyCol)
		}
		o.userIdx[id] = int32(len(o.users))
		o.users = append(o.users, u)
	}
}

// addStudent records a student row and returns its index; a row with a missing or duplicate key is recorded as
// excluded so that its enrollments are still recognised (and not reported as unknown users).
type userCols struct{ key, grades, orgs, email, username, given, family int }

func (o *oneRoster) addStudent(t *table, c userCols, id, keyCol string) int32 {
	st := orStudent{line: t.line, homeroom: -1}
	idx := int32(len(o.students))
	var key string
	if keyCol == colSourcedID {
		key = NormalizeKey(o.opts.KeyField, id)
	} else {
		key = NormalizeKey(o.opts.KeyField, t.at(c.key))
	}
	st.s = Student{
		Key:        key,
		Grade:      firstOf(t.at(c.grades)),
		School:     firstOf(t.at(c.orgs)),
		GivenName:  t.at(c.given),
		FamilyName: t.at(c.family),
		Email:      t.at(c.email),
		Username:   t.at(c.username),
	}
	switch first, seen := o.keyFirst[key]; {
	case key == "":
		o.ros.problem(t.file, t.line, keyCol, "student %s has no %s (the roster key): not used", quote(id), keyCol)
		st.excluded = true
	case seen:
		st.excluded = true
		if first >= 0 {
			o.students[first].excluded = true
			o.ros.problem(t.file, o.students[first].line, keyCol, "duplicate key %s (also on line %d): no row with it is used", quote(key), t.line)
			o.keyFirst[key] = -1
		}
		o.ros.problem(t.file, t.line, keyCol, "duplicate key %s: no row with it is used", quote(key))
	default:
		o.keyFirst[key] = idx
	}
	o.students = append(o.students, st)
	return idx
}

func (o *oneRoster) excludeStudent(si int32) {
	st := &o.students[si]
	if st.excluded {
		return
	}
	st.excluded = true
	if first, ok := o.keyFirst[st.s.Key]; ok && first == si {
		delete(o.keyFirst, st.s.Key)
	}
}

// listOf splits a OneRoster CSV list field ("org1, org2") into its non-empty entries, in order.
func listOf(v string) []string {
	var out []string
	for _, e := range strings.Split(v, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

// firstOf returns the first entry of a OneRoster CSV list field ("09,10" -> "09").
func firstOf(v string) string {
	if i := strings.IndexByte(v, ','); i >= 0 {
		v = v[:i]
	}
	return strings.TrimSpace(v)
}

func (o *oneRoster) readClasses(fsys fs.FS) error {
	showCol := string(o.opts.HomeroomField)
	t, err := openTable(fsys, ClassesFile, exact, []string{colSourcedID, colClassType, showCol})
	if err != nil {
		return err
	}
	defer t.Close()
	ros := o.ros
	iID, iStatus, iShow, iType := t.index(colSourcedID), t.index(colStatus), t.index(showCol), t.index(colClassType)
	for {
		ok, err := t.next(ros)
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
		id := t.at(iID)
		if id == "" {
			ros.problem(t.file, t.line, colSourcedID, "missing sourcedId")
			continue
		}
		if tobedeleted(t.at(iStatus)) {
			if _, seen := o.classIdx[id]; !seen {
				o.classIdx[id] = deleted
			}
			continue
		}
		if prev, seen := o.classIdx[id]; seen && prev != deleted {
			if prev >= 0 {
				ros.problem(t.file, o.classes[prev].line, colSourcedID, "duplicate sourcedId %s (also on line %d): no row with it is used", quote(id), t.line)
			}
			ros.problem(t.file, t.line, colSourcedID, "duplicate sourcedId %s: no row with it is used", quote(id))
			o.classIdx[id] = ambiguous
			continue
		}
		c := orClass{line: t.line, sourcedID: id, show: t.at(iShow)}
		c.class = Class{
			ID: id, Title: t.get(colTitle), ClassCode: t.get(colClassCode), Location: t.get(colLocation),
			Period: firstOf(t.get(colPeriods)), School: t.get(colSchoolSourced), Grade: firstOf(t.get(colGrades)), Line: t.line,
		}
		switch ct := t.at(iType); {
		case strings.EqualFold(ct, "homeroom"):
			c.homeroom = true
		case strings.EqualFold(ct, "scheduled"):
		default:
			ros.problem(t.file, t.line, colClassType, "classType %s is neither homeroom nor scheduled: treated as scheduled", quote(ct))
		}
		if c.homeroom && c.show == "" {
			ros.problem(t.file, t.line, showCol, "homeroom class %s has no %s: it gives no homeroom", quote(id), showCol)
		}
		o.classIdx[id] = int32(len(o.classes))
		o.classes = append(o.classes, c)
	}
}

func (o *oneRoster) readEnrollments(fsys fs.FS) error {
	t, err := openTable(fsys, EnrollmentsFile, exact, []string{colClassSourcedID, colUserSourcedID, colRole})
	if err != nil {
		return err
	}
	defer t.Close()
	ros := o.ros
	iStatus, iClass, iUser, iRole := t.index(colStatus), t.index(colClassSourcedID), t.index(colUserSourcedID), t.index(colRole)
	iBegin, iEnd := t.index(colBeginDate), t.index(colEndDate)
	for {
		ok, err := t.next(ros)
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
		if tobedeleted(t.at(iStatus)) {
			continue
		}
		active, ok := o.activeOn(t, t.at(iBegin), t.at(iEnd))
		if !ok || !active {
			continue
		}
		cid, uid, role := t.at(iClass), t.at(iUser), t.at(iRole)
		ci, ok := o.lookup(t, o.classIdx, colClassSourcedID, cid, "class")
		if !ok {
			continue
		}
		ui, ok := o.lookup(t, o.userIdx, colUserSourcedID, uid, "user")
		if !ok {
			continue
		}
		if role != "" {
			o.seat(ci, ui, role)
		}
		switch {
		case strings.EqualFold(role, "student"):
			si := o.users[ui].student
			if si < 0 {
				continue // a non-student user in a student seat: nothing to record
			}
			o.enrol(si, ci, t.line)
		case strings.EqualFold(role, "teacher"):
			c := &o.classes[ci]
			c.teachers = append(c.teachers, ui)
		case role == "":
			ros.problem(t.file, t.line, colRole, "missing role")
		}
	}
}

// activeOn reports whether the enrollment is active on Options.Today; ok is false (and a problem recorded) when a date
// cannot be read.
func (o *oneRoster) activeOn(t *table, begin, end string) (active, ok bool) {
	for _, d := range [...]struct{ col, v string }{{colBeginDate, begin}, {colEndDate, end}} {
		if d.v == "" {
			continue
		}
		if !o.validDate(d.v) {
			o.ros.problem(t.file, t.line, d.col, "date %s is not YYYY-MM-DD", quote(d.v))
			return false, false
		}
	}
	// ISO dates compare as strings.
	return (begin == "" || begin <= o.today) && (end == "" || o.today <= end), true
}

// validDate reports whether v is a YYYY-MM-DD date; bundles repeat a handful of dates, so answers are cached.
func (o *oneRoster) validDate(v string) bool {
	ok, seen := o.dates[v]
	if !seen {
		_, err := time.Parse(time.DateOnly, v)
		ok = err == nil
		if len(o.dates) < 4096 {
			o.dates[v] = ok
		}
	}
	return ok
}

// lookup resolves a sourcedId reference; a missing or unknown one is a problem, a deleted or ambiguous one is skipped
// quietly (its own row was ignored or already reported).
func (o *oneRoster) lookup(t *table, idx map[string]int32, col, id, what string) (int32, bool) {
	if id == "" {
		o.ros.problem(t.file, t.line, col, "missing %s", col)
		return 0, false
	}
	i, seen := idx[id]
	if !seen {
		o.ros.problem(t.file, t.line, col, "unknown %s %s", what, quote(id))
		return 0, false
	}
	return i, i >= 0
}

// seat records a person's active enrollment in a class for roster sync: the first row per person wins,
// with its role as given.
func (o *oneRoster) seat(ci, ui int32, role string) {
	c := &o.classes[ci]
	if c.enrolled[ui] {
		return
	}
	if c.enrolled == nil {
		c.enrolled = map[int32]bool{}
	}
	c.enrolled[ui] = true
	c.class.Enrollments = append(c.class.Enrollments, Enrollment{Person: o.users[ui].person.ID, Role: role})
}

func (o *oneRoster) enrol(si, ci int32, line int) {
	st := &o.students[si]
	if slices.Contains(st.classes, ci) {
		return
	}
	st.classes = append(st.classes, ci)
	c := &o.classes[ci]
	if !c.homeroom {
		return
	}
	switch {
	case st.homeroom == -1:
		st.homeroom, st.hrLine, st.hrClassID = ci, line, c.sourcedID
	case st.homeroom >= 0:
		if !st.excluded {
			o.ros.problem(EnrollmentsFile, line, colClassSourcedID, "student %s is in two homerooms, %s (line %d) and %s: homeroom left empty",
				quote(st.s.Key), quote(st.hrClassID), st.hrLine, quote(c.sourcedID))
		}
		st.homeroom = -2
	}
}

func (o *oneRoster) build() {
	for i := range o.users {
		if !o.opts.People {
			break
		}
		if p := o.users[i].person; o.userIdx[p.ID] == int32(i) && !o.users[i].noRole {
			o.ros.People = append(o.ros.People, p.detached())
		}
	}
	for i := range o.classes {
		if !o.opts.People {
			break
		}
		if c := o.classes[i].class; o.classIdx[c.ID] == int32(i) {
			o.ros.Classes = append(o.ros.Classes, c)
		}
	}
	students := o.ros.Students
	var scratch []string
	for i := range o.students {
		st := &o.students[i]
		if st.excluded {
			continue
		}
		s := st.s
		if st.homeroom >= 0 {
			s.Homeroom = o.classes[st.homeroom].show
		}
		names := scratch[:0]
		for _, ci := range st.classes {
			c := &o.classes[ci]
			if o.opts.Teachers == TeachersHomeroom && ci != st.homeroom {
				continue
			}
			for _, ui := range c.teachers {
				if n := o.users[ui].name; n != "" {
					names = append(names, n)
				}
			}
		}
		if len(names) > 0 {
			slices.Sort(names)
			s.Teachers = slices.Clone(slices.Compact(names))
		}
		scratch = names
		d := s.detached()
		students[d.Key] = d
	}
}

func displayName(given, family string) string {
	switch {
	case given == "":
		return family
	case family == "":
		return given
	}
	return given + " " + family
}
