package district

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"sort"
)

// Section is one class of the roster (issue 15): a OneRoster class with its enrollments.
type Section struct {
	SourcedID string
	Title     string
	// SchoolShortName is the school the class belongs to.
	SchoolShortName string
	// Teachers and Students are patron DistrictIDs (OneRoster user sourcedIds).
	Teachers []string
	Students []string
	// ASMSource is non-empty for a class Apple School Manager manages in Jamf School. The value is a
	// stand-in ("sim-asm", the Jamf School simulator's SourceASM): the real strings are not public.
	ASMSource string
	// Case names the awkward case the section exists for ("" for an ordinary one).
	Case string
}

// Roster sections' awkward cases (issue 15).
const (
	RosterCaseTwoSchools      = "StudentInTwoSchools"
	RosterCaseTeacherNoEmail  = "TeacherWithoutEmail"
	RosterCaseNoTeacher       = "ClassWithoutTeacher"
	RosterCaseDuplicateUser   = "DuplicateUsername"
	RosterCaseASMManagedClass = "ASMManagedClass"
	// ASMSourceStandIn is the source the generator gives ASM-managed classes.
	ASMSourceStandIn = "sim-asm"
)

// Roster is the class data of a district: extra teachers (beyond d.Patrons) and sections.
type Roster struct {
	// Teachers are teacher patrons added for the roster's awkward cases (a teacher with no email, a
	// teacher whose username duplicates another user's). They are not Destiny patrons.
	Teachers []Patron
	Sections []Section
}

// GenerateRoster builds sections from d's schools, students and teachers: one class per teacher
// with the students of that school, plus one section per awkward case. Deterministic for a given d.
func GenerateRoster(d *District) *Roster {
	r := &Roster{}
	bySchool := map[string][]Patron{}
	var teachers, students []Patron
	for _, p := range d.Patrons {
		switch p.Type {
		case PatronTeacher:
			teachers = append(teachers, p)
		case PatronStudent:
			students = append(students, p)
			bySchool[p.SiteShortName] = append(bySchool[p.SiteShortName], p)
		}
	}
	for i, t := range teachers {
		s := Section{SourcedID: fmt.Sprintf("class-%d", i+1), Title: "Class of " + t.LastName, SchoolShortName: t.SiteShortName, Teachers: []string{t.DistrictID}}
		for _, st := range bySchool[t.SiteShortName] {
			s.Students = append(s.Students, st.DistrictID)
		}
		r.Sections = append(r.Sections, s)
	}
	if len(d.Schools) == 0 || len(students) == 0 {
		return r
	}
	home := d.Schools[0].ShortName
	other := home
	if len(d.Schools) > 1 {
		other = d.Schools[1].ShortName
	}
	st := students[0]
	noEmail := Patron{DistrictID: "T-NOEMAIL", FirstName: "Nora", LastName: "Nomail", Username: "nnomail", Type: PatronTeacher, Status: StatusActive, SiteShortName: home}
	dupUser := Patron{DistrictID: "T-DUPUSER", FirstName: "Dup", LastName: "Licate", Email: "dup.licate@example.org", Username: st.Username, Type: PatronTeacher, Status: StatusActive, SiteShortName: home}
	r.Teachers = append(r.Teachers, noEmail, dupUser)
	r.Sections = append(r.Sections,
		Section{SourcedID: "class-two-schools", Title: "Band (other school)", SchoolShortName: other, Teachers: []string{noEmail.DistrictID}, Students: []string{st.DistrictID}, Case: RosterCaseTwoSchools},
		Section{SourcedID: "class-no-email-teacher", Title: "Art", SchoolShortName: home, Teachers: []string{noEmail.DistrictID}, Students: []string{st.DistrictID}, Case: RosterCaseTeacherNoEmail},
		Section{SourcedID: "class-no-teacher", Title: "Study Hall", SchoolShortName: home, Students: []string{st.DistrictID}, Case: RosterCaseNoTeacher},
		Section{SourcedID: "class-dup-username", Title: "Drama", SchoolShortName: home, Teachers: []string{dupUser.DistrictID}, Students: []string{st.DistrictID}, Case: RosterCaseDuplicateUser},
		Section{SourcedID: "class-asm", Title: "ASM Biology", SchoolShortName: home, Teachers: []string{noEmail.DistrictID}, Students: []string{st.DistrictID}, ASMSource: ASMSourceStandIn, Case: RosterCaseASMManagedClass},
	)
	return r
}

// OneRoster emits the roster as a OneRoster 1.1 CSV bundle: users.csv (d's students and teachers and
// r's teachers), classes.csv (all scheduled) and enrollments.csv.
func (r *Roster) OneRoster(d *District) map[string][]byte {
	users := [][]string{{"sourcedId", "status", "orgSourcedIds", "role", "username", "givenName", "familyName", "identifier", "email", "grades"}}
	add := func(p Patron, role string) {
		users = append(users, []string{p.DistrictID, "active", p.SiteShortName, role, p.Username, p.FirstName, p.LastName, p.DistrictID, p.Email, p.Grade})
	}
	for _, p := range d.Patrons {
		switch p.Type {
		case PatronStudent:
			add(p, "student")
		case PatronTeacher:
			add(p, "teacher")
		}
	}
	for _, p := range r.Teachers {
		add(p, "teacher")
	}
	classes := [][]string{{"sourcedId", "status", "title", "classCode", "classType", "location", "schoolSourcedId"}}
	enrol := [][]string{{"sourcedId", "status", "classSourcedId", "schoolSourcedId", "userSourcedId", "role"}}
	for _, s := range r.Sections {
		classes = append(classes, []string{s.SourcedID, "active", s.Title, s.SourcedID, "scheduled", "", s.SchoolShortName})
		ids := append([]string{}, s.Teachers...)
		sort.Strings(ids)
		for _, t := range ids {
			enrol = append(enrol, []string{s.SourcedID + "-" + t, "active", s.SourcedID, s.SchoolShortName, t, "teacher"})
		}
		for _, st := range s.Students {
			enrol = append(enrol, []string{s.SourcedID + "-" + st, "active", s.SourcedID, s.SchoolShortName, st, "student"})
		}
	}
	return map[string][]byte{"users.csv": writeCSV(users), "classes.csv": writeCSV(classes), "enrollments.csv": writeCSV(enrol)}
}

func writeCSV(rows [][]string) []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	_ = w.WriteAll(rows) // a bytes.Buffer does not fail
	return b.Bytes()
}
