// Package roster reads the student facts Destiny's API does not return (grade, homeroom, teachers) from the files a
// district already has: a OneRoster 1.1 CSV bundle (users.csv, classes.csv, enrollments.csv) or the SIS patron CSV
// that districts feed to Destiny's Patron Import Converter.
//
// A roster is keyed by the value the engine can read off a Destiny checkout: by default the patron district id. For
// OneRoster that is users.csv `identifier` (where districts put the SIS / district id); `sourcedId`, `username` and
// `email` can be chosen instead. For the SIS patron CSV it is `DistrictID` (default) or `Barcode`.
//
// Errors and problems: a file that cannot be used at all (users.csv missing, a required column missing, a header that
// is not CSV, a quoted field left open to the end of the file) makes the reader return an error, so a run fails before
// any write. A bad row (unknown class, duplicate or missing key, a quote error on one line, a bad date, ...) becomes a
// Problem naming file, line and column; the row then contributes nothing, and an ambiguous student (duplicate key, two
// homerooms) gets nothing from the ambiguous data: the reader never guesses.
//
// The password column of users.csv is never read, and problem messages never quote it.
package roster

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Student is what a roster knows about one student.
type Student struct {
	// Key is the join key (see KeyField), normalised as NormalizeKey does.
	Key string
	// Grade is users.csv `grades` (the first one if several, kept as given, e.g. "09") or the SIS GradeLevel.
	Grade string
	// Homeroom is the title (or class code / location, see HomeroomField) of the student's active homeroom class,
	// or the SIS Homeroom column.
	Homeroom string
	// Teachers are the display names ("Given Family") of the teachers of the student's active classes, sorted and
	// deduplicated. Always empty for the SIS patron CSV, which has no teachers.
	Teachers []string
	// School is the first of users.csv `orgSourcedIds` (a OneRoster org sourcedId) or the SIS SiteShortName.
	School string

	GivenName, FamilyName, Email, Username string
}

// Person is one user row of a roster, whatever its role: what roster sync (spec.roster) makes MDM users
// from. Rows that could not be used (missing or duplicate sourcedId, status tobedeleted, and for OneRoster no
// role) are left out.
type Person struct {
	// ID is what enrollments name the person by: users.csv sourcedId, or the SIS CSV's DistrictID.
	ID string
	// Identifier is users.csv identifier (the district id), or the SIS DistrictID.
	Identifier string
	// Role is users.csv role as given (student, teacher, or a school system's own such as ROLE_TEACHER);
	// "" for the SIS CSV (and only there: a users.csv row without a role is not a Person).
	Role string
	// PatronType is the SIS CSV's PatronType ("" for OneRoster).
	PatronType                             string
	Username, GivenName, FamilyName, Email string
	// Orgs are users.csv orgSourcedIds in file order, or the SIS SiteShortName.
	Orgs []string
	// Grade is the first of users.csv grades, or the SIS GradeLevel.
	Grade string
	// Line is the person's row in its file, for messages.
	Line int
}

// Class is one classes.csv row with its active enrollments (OneRoster only).
type Class struct {
	// ID is classes.csv sourcedId.
	ID string
	// Title, ClassCode, Location are the classes.csv columns; Period is the first of periods; School is
	// schoolSourcedId; Grade the first of grades.
	Title, ClassCode, Location, Period, School, Grade string
	// Enrollments are the class's active enrollments (Options.Today within their dates), in file order,
	// one per person (the first row wins).
	Enrollments []Enrollment
	Line        int
}

// Enrollment is one person's seat in a class.
type Enrollment struct {
	// Person is the Person.ID.
	Person string
	// Role is enrollments.csv role as given (student, teacher, or a school system's own).
	Role string
}

// Roster is the result of reading one roster source.
type Roster struct {
	// Format is the format that was read.
	Format Format
	// KeyField is the field the Students map is keyed by.
	KeyField KeyField
	// Students by Key.
	Students map[string]*Student
	// People are every usable user row (any role), in file order; Classes every usable class with its
	// active enrollments (OneRoster with classes.csv only). Roster sync reads them; device sync does not.
	People  []Person
	Classes []Class
	// Problems are the rows that could not be used, in file order (users, classes, enrollments for OneRoster).
	// When there are more than Options.MaxProblems, the last entry says how many were left out.
	Problems []Problem

	maxProblems int
	omitted     int
}

// Lookup finds a student by key, normalising the key the way the roster was keyed (trimmed; lower case for
// email). The student is the roster's own (shared, not a copy: a run joins it to every item its student
// borrowed): do not modify it.
func (r *Roster) Lookup(key string) (*Student, bool) {
	if r == nil {
		return nil, false
	}
	s, ok := r.Students[NormalizeKey(r.KeyField, key)]
	return s, ok
}

// Problem is one row (or one value) that could not be used.
type Problem struct {
	File    string
	Line    int
	Column  string
	Message string
}

// Error formats the problem as `enrollments.csv line 42: column classSourcedId: unknown class "c-99"`.
func (p Problem) Error() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		if p.Line > 0 {
			b.WriteString(" line ")
			b.WriteString(strconv.Itoa(p.Line))
		}
		b.WriteString(": ")
	}
	if p.Column != "" {
		b.WriteString("column ")
		b.WriteString(p.Column)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

func (r *Roster) problem(file string, line int, column, format string, args ...any) {
	if len(r.Problems) >= r.maxProblems {
		r.omitted++
		return
	}
	r.Problems = append(r.Problems, Problem{File: file, Line: line, Column: column, Message: fmt.Sprintf(format, args...)})
}

func (r *Roster) finish() {
	if r.omitted > 0 {
		r.Problems = append(r.Problems, Problem{Message: fmt.Sprintf("%d more problems not listed", r.omitted)})
		r.omitted = 0
	}
}

// Format is a roster file format.
type Format string

const (
	// FormatOneRoster is a OneRoster 1.1 CSV bundle: users.csv, and optionally classes.csv with enrollments.csv.
	FormatOneRoster Format = "OneRoster"
	// FormatSISPatrons is the SIS patron CSV sent to Destiny's patron import.
	FormatSISPatrons Format = "SISPatrons"
)

// KeyField names the field a roster is keyed by.
type KeyField string

const (
	// OneRoster users.csv columns.
	KeyIdentifier KeyField = "identifier" // default for OneRoster
	KeySourcedID  KeyField = "sourcedId"
	KeyUsername   KeyField = "username"
	KeyEmail      KeyField = "email"
	// SIS patron CSV columns.
	KeyDistrictID KeyField = "DistrictID" // default for the SIS patron CSV
	KeyBarcode    KeyField = "Barcode"
)

// NormalizeKey is the key normalisation both the readers and Lookup apply: surrounding space is trimmed, and email
// keys are lower-cased (Destiny and SIS exports disagree on e-mail case).
func NormalizeKey(field KeyField, v string) string {
	v = strings.TrimSpace(v)
	if field == KeyEmail {
		v = strings.ToLower(v)
	}
	return v
}

// HomeroomField names the classes.csv column a homeroom class is shown by.
type HomeroomField string

const (
	HomeroomTitle     HomeroomField = "title" // default
	HomeroomClassCode HomeroomField = "classCode"
	HomeroomLocation  HomeroomField = "location"
)

// TeacherScope says which classes' teachers a student's Teachers list holds.
type TeacherScope string

const (
	// TeachersAllClasses: teachers of every active class the student is enrolled in, homeroom and scheduled (default:
	// secondary students have no single homeroom teacher, and a template can still pick one).
	TeachersAllClasses TeacherScope = "all"
	// TeachersHomeroom: teachers of the student's homeroom class only (typical for elementary schools).
	TeachersHomeroom TeacherScope = "homeroom"
)

// DefaultMaxProblems is the number of problems a roster lists before summarising the rest.
const DefaultMaxProblems = 1000

// Options tune the readers. The zero value is valid.
type Options struct {
	// KeyField is the join key. Empty: KeyIdentifier for OneRoster, KeyDistrictID for the SIS patron CSV.
	KeyField KeyField
	// HomeroomField is the classes.csv column shown as Homeroom. Empty: HomeroomTitle.
	HomeroomField HomeroomField
	// Teachers is the scope of Student.Teachers. Empty: TeachersAllClasses.
	Teachers TeacherScope
	// Today decides which enrollments are active (beginDate <= Today <= endDate, when given). Zero: the current date.
	Today time.Time
	// StudentPatronTypes, for the SIS patron CSV, keeps only rows whose PatronType is one of these (case-insensitive).
	// Empty: every row is a student (the usual students-only SIS export).
	StudentPatronTypes []string
	// MaxProblems bounds Roster.Problems. Zero: DefaultMaxProblems.
	MaxProblems int
	// People fills Roster.People and Roster.Classes, which only a roster sync (spec.roster) reads: a
	// policy that syncs devices only does not hold a second copy of every row.
	People bool
}

// Sentinel errors, matched with errors.Is against the *FileError a reader returns.
var (
	ErrMissingFile   = errors.New("missing file")
	ErrMissingColumn = errors.New("missing required column")
	ErrNotCSV        = errors.New("not a CSV file")
	ErrUnknownFormat = errors.New("no roster found")
	ErrOptions       = errors.New("invalid roster options")
)

// FileError is a roster that cannot be used at all.
type FileError struct {
	File   string
	Line   int
	Column string
	Err    error
	Detail string
}

func (e *FileError) Error() string {
	var b strings.Builder
	b.WriteString("roster: ")
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			b.WriteString(" line ")
			b.WriteString(strconv.Itoa(e.Line))
		}
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	if e.Column != "" {
		b.WriteString(" ")
		b.WriteString(strconv.Quote(e.Column))
	}
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	return b.String()
}

func (e *FileError) Unwrap() error { return e.Err }

func (o Options) withDefaults(f Format) (Options, error) {
	switch f {
	case FormatOneRoster:
		switch o.KeyField {
		case "":
			o.KeyField = KeyIdentifier
		case KeyIdentifier, KeySourcedID, KeyUsername, KeyEmail:
		default:
			return o, &FileError{Err: ErrOptions, Detail: fmt.Sprintf("key field %q is not one of identifier, sourcedId, username, email", o.KeyField)}
		}
	case FormatSISPatrons:
		switch o.KeyField {
		case "":
			o.KeyField = KeyDistrictID
		case KeyDistrictID, KeyBarcode:
		default:
			return o, &FileError{Err: ErrOptions, Detail: fmt.Sprintf("key field %q is not one of DistrictID, Barcode", o.KeyField)}
		}
	}
	switch o.HomeroomField {
	case "":
		o.HomeroomField = HomeroomTitle
	case HomeroomTitle, HomeroomClassCode, HomeroomLocation:
	default:
		return o, &FileError{Err: ErrOptions, Detail: fmt.Sprintf("homeroom field %q is not one of title, classCode, location", o.HomeroomField)}
	}
	switch o.Teachers {
	case "":
		o.Teachers = TeachersAllClasses
	case TeachersAllClasses, TeachersHomeroom:
	default:
		return o, &FileError{Err: ErrOptions, Detail: fmt.Sprintf("teacher scope %q is not one of all, homeroom", o.Teachers)}
	}
	if o.Today.IsZero() {
		o.Today = time.Now()
	}
	if o.MaxProblems <= 0 {
		o.MaxProblems = DefaultMaxProblems
	}
	return o, nil
}

func newRoster(f Format, o Options) *Roster {
	return &Roster{Format: f, KeyField: o.KeyField, Students: map[string]*Student{}, maxProblems: o.MaxProblems}
}

// quote quotes a value for a problem message, bounded so a huge cell cannot flood a status.
func quote(s string) string {
	const max = 64
	if utf8.RuneCountInString(s) > max {
		r := []rune(s)
		s = string(r[:max]) + "..."
	}
	return strconv.Quote(s)
}

// The CSV reader slices every field of a row out of one string, so a kept field would pin its whole row:
// what a Roster keeps is copied out (detached) when it is stored, all of a row's kept fields into one new
// string (one allocation a row, not one a field). A map of them must be keyed by the detached Key.

func (s Student) detached() *Student {
	detach(&s.Key, &s.Grade, &s.Homeroom, &s.School, &s.GivenName, &s.FamilyName, &s.Email, &s.Username)
	return &s
}

// detach copies the strings fields point at into one new string and points each at its part of it.
func detach(fields ...*string) {
	n := 0
	for _, f := range fields {
		n += len(*f)
	}
	var b strings.Builder
	b.Grow(n)
	for _, f := range fields {
		b.WriteString(*f)
	}
	all, off := b.String(), 0
	for _, f := range fields {
		*f, off = all[off:off+len(*f)], off+len(*f)
	}
}

func (p Person) detached() Person {
	detach(&p.ID, &p.Identifier, &p.Role, &p.PatronType, &p.Username, &p.GivenName, &p.FamilyName, &p.Email, &p.Grade)
	if p.Orgs != nil {
		orgs := make([]string, len(p.Orgs))
		for i, o := range p.Orgs {
			orgs[i] = strings.Clone(o)
		}
		p.Orgs = orgs
	}
	return p
}
