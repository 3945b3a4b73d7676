package roster

import (
	"encoding/csv"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

// checkRoster holds for every roster a reader returns: students are keyed by their non-empty Key, teachers are
// sorted and unique, and every problem names its file.
func checkRoster(t *testing.T, ros *Roster, err error) {
	t.Helper()
	if (err == nil) == (ros == nil) {
		t.Fatalf("roster %v and error %v: want exactly one", ros != nil, err)
	}
	if err != nil {
		var fe *FileError
		if !errors.As(err, &fe) {
			t.Fatalf("error %T %v is not a *FileError", err, err)
		}
		return
	}
	for k, s := range ros.Students {
		if k == "" || s.Key != k {
			t.Errorf("student keyed %q has Key %q", k, s.Key)
		}
		if !slices.IsSorted(s.Teachers) || len(slices.Compact(slices.Clone(s.Teachers))) != len(s.Teachers) {
			t.Errorf("teachers of %q not sorted and unique: %q", k, s.Teachers)
		}
	}
	ids := map[string]bool{}
	for _, p := range ros.People {
		if p.ID == "" || ids[p.ID] {
			t.Errorf("person ID %q empty or repeated", p.ID)
		}
		ids[p.ID] = true
	}
	for _, c := range ros.Classes {
		seated := map[string]bool{}
		for _, e := range c.Enrollments {
			if !ids[e.Person] || seated[e.Person] || e.Role == "" {
				t.Errorf("class %q: enrollment %+v names no person, repeats one or has no role", c.ID, e)
			}
			seated[e.Person] = true
		}
	}
	for _, p := range ros.Problems {
		if p.File == "" && !strings.HasSuffix(p.Message, "more problems not listed") {
			t.Errorf("problem without a file: %+v", p)
		}
	}
}

func FuzzReadOneRoster(f *testing.F) {
	b := baseBundle()
	f.Add(string(b[UsersFile].Data), string(b[ClassesFile].Data), string(b[EnrollmentsFile].Data))
	f.Add("\ufeff"+usersHeader+"\r\ns1,,,,,student,,,A,\"B, C\",,S1,,,,,\"09,10\",\r\n", classesHeader+"\nc1,,,T,,,,homeroom,,,,,,\n", enrollmentsHeader+"\ne1,,,c1,,s1,student,,2026-01-01,2027-01-01\n")
	f.Add(usersHeader+"\ns1,,,,,student,,,A,B,,S1\n\"open", classesHeader+"\n", enrollmentsHeader+"\ne1,,,c9,,s9,teacher,,x,\n")
	f.Fuzz(func(t *testing.T, users, classes, enrollments string) {
		fsys := fstest.MapFS{
			UsersFile:       {Data: []byte(users)},
			ClassesFile:     {Data: []byte(classes)},
			EnrollmentsFile: {Data: []byte(enrollments)},
		}
		ros, err := ReadOneRoster(fsys, Options{Today: today, MaxProblems: 1 << 20, People: true})
		checkRoster(t, ros, err)
	})
}

// FuzzReadSISPatrons feeds rows under a fixed header without Status or PatronType, so every row must either become
// a student or be reported: students + rows named by a problem >= the records a plain CSV reader sees.
func FuzzReadSISPatrons(f *testing.F) {
	f.Add("LHS,P1,S1,Smith,Avery,09,Room 12\nLHS,P2,S2,Jones,Blake,10,\"Lee, 14\"\n")
	f.Add("a,b\n\"x\"y,1\nLHS,P1,S1\nLHS,P1,S1,,,,\n,,,,,,\n")
	f.Add("LHS,P1,S1,Smith,Avery,09,Room 12\r\nLHS,\"P2")
	const header = "SiteShortName,Barcode,DistrictID,LastName,FirstName,GradeLevel,Homeroom\n"
	f.Fuzz(func(t *testing.T, body string) {
		data := header + body
		fsys := fstest.MapFS{"p.csv": {Data: []byte(data)}}
		ros, err := ReadSISPatrons(fsys, "p.csv", Options{MaxProblems: 1 << 20, People: true})
		checkRoster(t, ros, err)
		if err != nil {
			return
		}
		records := 0
		cr := csv.NewReader(strings.NewReader(data))
		cr.FieldsPerRecord = -1
		for first := true; ; first = false {
			rec, err := cr.Read()
			if err == io.EOF {
				break
			}
			if first {
				continue
			}
			if err != nil || !blank(rec) {
				records++
			}
		}
		lines := map[int]bool{}
		for _, p := range ros.Problems {
			lines[p.Line] = true
		}
		if got := len(ros.Students) + len(lines); got < records {
			t.Errorf("%d records, but %d students and %d problem lines: a row was dropped silently\n%q", records, len(ros.Students), len(lines), data)
		}
	})
}
