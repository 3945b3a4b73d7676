package roster

import (
	"fmt"
	"io/fs"
	"strings"
)

// SIS patron CSV columns, by their canonical names. Destiny's Patron Import Converter documents each field three
// ways: the Destiny field ("Site Short Name"), the configuration file field ("field_siteShortName") and, in SIS
// exports and this project's docs, the compact form ("SiteShortName"). A header cell is matched after dropping a
// "field_" prefix, spaces, underscores, hyphens and dots, case-insensitively, so all three spellings are read.
const (
	SISSiteShortName = "SiteShortName"
	SISBarcode       = "Barcode"
	SISDistrictID    = "DistrictID"
	SISLastName      = "LastName"
	SISFirstName     = "FirstName"
	SISMiddleName    = "MiddleName"
	SISPatronType    = "PatronType"
	SISStatus        = "Status"
	SISGradeLevel    = "GradeLevel"
	SISHomeroom      = "Homeroom"
	SISEmail         = "Email"
	SISUsername      = "Username"
)

var sisAliases = map[string]string{
	"siteshortname": SISSiteShortName,
	"barcode":       SISBarcode,
	"districtid":    SISDistrictID,
	"lastname":      SISLastName,
	"firstname":     SISFirstName,
	"middlename":    SISMiddleName,
	"patrontype":    SISPatronType,
	"status":        SISStatus,
	"gradelevel":    SISGradeLevel,
	"grade":         SISGradeLevel, // Destiny's SIF agent calls it "Grade"
	"homeroom":      SISHomeroom,
	"email":         SISEmail,
	"email1":        SISEmail, // Destiny "Email 1", the API's emailAddress1
	"emailaddress":  SISEmail,
	"emailaddress1": SISEmail,
	"username":      SISUsername,
}

func sisCanon(h string) string {
	n := strings.ToLower(strings.TrimSpace(h))
	n = strings.TrimPrefix(n, "field_")
	n = strings.Map(func(r rune) rune {
		switch r {
		case ' ', '_', '-', '.':
			return -1
		}
		return r
	}, n)
	return sisAliases[n]
}

// ReadSISPatrons reads the SIS patron CSV named name in fsys (see the SIS* constants for the columns read; others are
// ignored). The key column (DistrictID, or Barcode with KeyBarcode) is required; every other column is optional.
//
// Status follows Destiny's patron import: A / Active and R / Restricted rows are read, blank means A, I / Inactive
// rows are ignored (a student who left; Destiny's own patron status decides what happens to the device), and any
// other value is a problem. With Options.StudentPatronTypes set, rows of other patron types are ignored and the
// PatronType column is required. Teachers are never set: the patron CSV has none.
//
// Roster.People (roster sync) holds every active row with a DistrictID, whatever its patron type (so
// teachers are users even when StudentPatronTypes filters Students): ID and Identifier are the
// DistrictID, Orgs the SiteShortName. Rows sharing a DistrictID are all left out (a problem). Classes
// is always empty: the patron CSV has none.
func ReadSISPatrons(fsys fs.FS, name string, opts Options) (*Roster, error) {
	opts, err := opts.withDefaults(FormatSISPatrons)
	if err != nil {
		return nil, err
	}
	keyCol := string(opts.KeyField)
	required := []string{keyCol}
	if len(opts.StudentPatronTypes) > 0 {
		required = append(required, SISPatronType)
	}
	t, err := openTable(fsys, name, sisCanon, required)
	if err != nil {
		return nil, err
	}
	defer t.Close()
	ros := newRoster(FormatSISPatrons, opts)
	first := map[string]int{} // key -> line of the first row holding it, -1 once duplicated
	people := sisPeople{first: map[string]int{}, allKeyed: map[string]bool{}}
	for {
		ok, err := t.next(ros)
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		switch st := t.get(SISStatus); strings.ToUpper(st) {
		case "", "A", "ACTIVE", "R", "RESTRICTED":
		case "I", "INACTIVE":
			continue
		default:
			ros.problem(t.file, t.line, SISStatus, "status %s is not A, I or R: row not used", quote(st))
			continue
		}
		student := len(opts.StudentPatronTypes) == 0 || containsFold(opts.StudentPatronTypes, t.get(SISPatronType))
		if opts.People {
			people.add(t, ros, student && opts.KeyField == KeyDistrictID)
		}
		if !student {
			continue
		}
		key := NormalizeKey(opts.KeyField, t.get(keyCol))
		if key == "" {
			ros.problem(t.file, t.line, keyCol, "missing %s (the roster key): row not used", keyCol)
			continue
		}
		if prev, seen := first[key]; seen {
			if prev >= 0 {
				ros.problem(t.file, prev, keyCol, "duplicate key %s (also on line %d): no row with it is used", quote(key), t.line)
				delete(ros.Students, key)
				first[key] = -1
			}
			ros.problem(t.file, t.line, keyCol, "duplicate key %s: no row with it is used", quote(key))
			continue
		}
		first[key] = t.line
		s := Student{
			Key:        key,
			Grade:      t.get(SISGradeLevel),
			Homeroom:   t.get(SISHomeroom),
			School:     t.get(SISSiteShortName),
			GivenName:  t.get(SISFirstName),
			FamilyName: t.get(SISLastName),
			Email:      t.get(SISEmail),
			Username:   t.get(SISUsername),
		}.detached()
		ros.Students[s.Key] = s
	}
	ros.People = people.list()
	ros.finish()
	return ros, nil
}

// sisPeople collects the roster sync view of the SIS CSV: every active row with a DistrictID becomes a
// Person, whatever its patron type; rows sharing a DistrictID are all left out.
type sisPeople struct {
	people  []Person
	dropped []bool
	// keyed[i] is true when the row is a student row keyed by DistrictID: the student reader already
	// reports its missing or duplicate DistrictID, so the person reader does not repeat it.
	keyed []bool
	first map[string]int // DistrictID -> index into people, -1 once duplicated
	// allKeyed[id] is true while every row of a duplicated DistrictID was keyed (reported already).
	allKeyed map[string]bool
}

func (sp *sisPeople) add(t *table, ros *Roster, keyed bool) {
	id := t.get(SISDistrictID)
	if id == "" {
		if !keyed {
			ros.problem(t.file, t.line, SISDistrictID, "missing %s: no roster user", SISDistrictID)
		}
		return
	}
	if prev, seen := sp.first[id]; seen {
		if prev >= 0 {
			sp.dropped[prev] = true
			sp.allKeyed[id] = sp.keyed[prev]
			sp.first[id] = -1
		}
		quiet := keyed && sp.allKeyed[id]
		if prev >= 0 && !quiet {
			ros.problem(t.file, sp.people[prev].Line, SISDistrictID, "duplicate %s %s (also on line %d): no roster user", SISDistrictID, quote(id), t.line)
		}
		if !quiet {
			ros.problem(t.file, t.line, SISDistrictID, "duplicate %s %s: no roster user", SISDistrictID, quote(id))
		}
		sp.allKeyed[id] = quiet
		return
	}
	sp.first[id] = len(sp.people)
	var orgs []string
	if site := t.get(SISSiteShortName); site != "" {
		orgs = []string{site}
	}
	sp.people = append(sp.people, Person{
		ID: id, Identifier: id, PatronType: t.get(SISPatronType), Username: t.get(SISUsername),
		GivenName: t.get(SISFirstName), FamilyName: t.get(SISLastName), Email: t.get(SISEmail),
		Orgs: orgs, Grade: t.get(SISGradeLevel), Line: t.line,
	}.detached())
	sp.dropped = append(sp.dropped, false)
	sp.keyed = append(sp.keyed, keyed)
}

func (sp *sisPeople) list() []Person {
	var out []Person
	for i, p := range sp.people {
		if !sp.dropped[i] {
			out = append(out, p)
		}
	}
	return out
}

func containsFold(list []string, v string) bool {
	for _, s := range list {
		if strings.EqualFold(strings.TrimSpace(s), v) {
			return true
		}
	}
	return false
}

// Detect tells which roster format fsys holds: users.csv means a OneRoster bundle; otherwise exactly one *.csv file
// at the top level whose header has a DistrictID or Barcode column means the SIS patron CSV. Dot files (the ..data
// links of a mounted ConfigMap or Secret) are skipped.
func Detect(fsys fs.FS) (Format, error) {
	f, _, err := detect(fsys)
	return f, err
}

// Read detects the format of fsys and reads it.
func Read(fsys fs.FS, opts Options) (*Roster, error) {
	f, name, err := detect(fsys)
	if err != nil {
		return nil, err
	}
	if f == FormatOneRoster {
		return ReadOneRoster(fsys, opts)
	}
	return ReadSISPatrons(fsys, name, opts)
}

func detect(fsys fs.FS) (Format, string, error) {
	if _, err := fs.Stat(fsys, UsersFile); err == nil {
		return FormatOneRoster, UsersFile, nil
	}
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return "", "", &FileError{Err: ErrUnknownFormat, Detail: "cannot list the roster directory: " + err.Error()}
	}
	var found []string
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, ".") || !strings.EqualFold(pathExt(n), ".csv") || e.IsDir() {
			continue
		}
		t, err := openTable(fsys, n, sisCanon, nil)
		if err != nil {
			continue
		}
		if t.has(SISDistrictID) || t.has(SISBarcode) {
			found = append(found, n)
		}
		t.Close()
	}
	switch len(found) {
	case 1:
		return FormatSISPatrons, found[0], nil
	case 0:
		return "", "", &FileError{Err: ErrUnknownFormat, Detail: "expected users.csv (OneRoster 1.1) or one CSV file with a DistrictID or Barcode column (SIS patron file)"}
	}
	return "", "", &FileError{Err: ErrUnknownFormat, Detail: fmt.Sprintf("several CSV files look like SIS patron files: %s", strings.Join(found, ", "))}
}

func pathExt(n string) string {
	if i := strings.LastIndexByte(n, '.'); i >= 0 {
		return n[i:]
	}
	return ""
}
