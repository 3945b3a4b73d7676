package roster

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
)

const sisHeader = "SiteShortName,Barcode,DistrictID,LastName,FirstName,MiddleName,PatronType,Status,GradeLevel,Homeroom,Email,Username"

func sisRow(site, barcode, districtID, last, first, typ, status, grade, homeroom string) r {
	return r{"SiteShortName": site, "Barcode": barcode, "DistrictID": districtID, "LastName": last, "FirstName": first,
		"PatronType": typ, "Status": status, "GradeLevel": grade, "Homeroom": homeroom,
		"Email": strings.ToLower(first) + "@example.org", "Username": strings.ToLower(first + "." + last)}
}

func sisRows() []r {
	return []r{
		sisRow("LHS", "P100", "S100", "Smith", "Avery", "Student", "A", "09", "Room 12"),
		sisRow("LHS", "P200", "S200", "Jones", "Blake", "Student", "", "10", ""),
		sisRow("LHS", "P900", "T900", "Lee", "Jordan", "Teacher", "A", "", ""),
	}
}

func sisFS(header string, rows ...r) fstest.MapFS {
	return fstest.MapFS{"patrons.csv": {Data: []byte(csvText(header, rows...))}}
}

func sisAvery() Student {
	return Student{Key: "S100", Grade: "09", Homeroom: "Room 12", School: "LHS", GivenName: "Avery", FamilyName: "Smith", Email: "avery@example.org", Username: "avery.smith"}
}

func sisBlake() Student {
	return Student{Key: "S200", Grade: "10", School: "LHS", GivenName: "Blake", FamilyName: "Jones", Email: "blake@example.org", Username: "blake.jones"}
}

func sisJordan() Student {
	return Student{Key: "T900", School: "LHS", GivenName: "Jordan", FamilyName: "Lee", Email: "jordan@example.org", Username: "jordan.lee"}
}

func TestReadSISPatrons(t *testing.T) {
	set := func(s Student, f func(*Student)) Student { f(&s); return s }
	mod := func(f func([]r) []r) fstest.MapFS { return sisFS(sisHeader, f(sisRows())...) }
	tests := []struct {
		name         string
		fsys         fstest.MapFS
		opts         Options
		want         []Student
		wantProblems []string
	}{
		{
			name: "every row is read, keyed by DistrictID, when no student patron types are given",
			fsys: sisFS(sisHeader, sisRows()...),
			want: []Student{sisAvery(), sisBlake(), sisJordan()},
		},
		{
			name: "student patron types keep only those rows, case-insensitively",
			fsys: sisFS(sisHeader, sisRows()...),
			opts: Options{StudentPatronTypes: []string{"student"}},
			want: []Student{sisAvery(), sisBlake()},
		},
		{
			name: "key field Barcode keys students by barcode",
			fsys: sisFS(sisHeader, sisRows()[:2]...),
			opts: Options{KeyField: KeyBarcode},
			want: []Student{set(sisAvery(), func(s *Student) { s.Key = "P100" }), set(sisBlake(), func(s *Student) { s.Key = "P200" })},
		},
		{
			name: "Destiny field names and configuration file names are read as the same columns",
			fsys: sisFS("Site Short Name,field_barcode,District ID,Last Name,First Name,Patron Type,Status,Grade Level,field_homeroom,Email 1,User Name",
				r{"Site Short Name": "LHS", "field_barcode": "P100", "District ID": "S100", "Last Name": "Smith", "First Name": "Avery", "Grade Level": "09",
					"field_homeroom": "Room 12", "Email 1": "avery@example.org", "User Name": "avery.smith"}),
			want: []Student{sisAvery()},
		},
		{
			name: "columns are found by name in any order and unknown columns are ignored",
			fsys: sisFS("Gender,Homeroom,GradeLevel,DistrictID,Nickname", r{"Gender": "U", "Homeroom": "Room 12", "GradeLevel": "09", "DistrictID": "S100", "Nickname": "Ave"}),
			want: []Student{{Key: "S100", Grade: "09", Homeroom: "Room 12"}},
		},
		{
			name: "a UTF-8 byte order mark and CRLF line endings are accepted",
			fsys: fstest.MapFS{"patrons.csv": {Data: []byte("\ufeff" + strings.ReplaceAll(csvText(sisHeader, sisRows()[:1]...), "\n", "\r\n"))}},
			want: []Student{sisAvery()},
		},
		{
			name: "a quoted homeroom may hold commas",
			fsys: mod(func(rs []r) []r { rs[0]["Homeroom"] = "Lee, Room 12"; return rs[:1] }),
			want: []Student{set(sisAvery(), func(s *Student) { s.Homeroom = "Lee, Room 12" })},
		},
		{
			name: "inactive rows are ignored",
			fsys: mod(func(rs []r) []r { rs[1]["Status"] = "I"; rs[2]["Status"] = "inactive"; return rs }),
			want: []Student{sisAvery()},
		},
		{
			name: "restricted rows are read",
			fsys: mod(func(rs []r) []r { rs[1]["Status"] = "R"; return rs[:2] }),
			want: []Student{sisAvery(), sisBlake()},
		},
		{
			name: "a student inactive at one site and active at another is read from the active row",
			fsys: mod(func(rs []r) []r {
				old := sisRow("MS", "P100", "S100", "Smith", "Avery", "Student", "I", "08", "Room 3")
				return append([]r{old}, rs[:2]...)
			}),
			want: []Student{sisAvery(), sisBlake()},
		},
		{
			name:         "a status other than A, I or R is a problem and the row is not used",
			fsys:         mod(func(rs []r) []r { rs[1]["Status"] = "X"; return rs[:2] }),
			want:         []Student{sisAvery()},
			wantProblems: []string{`patrons.csv line 3: column Status: status "X" is not A, I or R: row not used`},
		},
		{
			name:         "a row without the key is a problem",
			fsys:         mod(func(rs []r) []r { rs[1]["DistrictID"] = ""; return rs[:2] }),
			want:         []Student{sisAvery()},
			wantProblems: []string{`patrons.csv line 3: column DistrictID: missing DistrictID (the roster key): row not used`},
		},
		{
			name: "two active rows with one key are both reported and neither is used",
			fsys: mod(func(rs []r) []r { rs[1]["DistrictID"] = "S100"; rs[2]["DistrictID"] = "S100"; return rs }),
			want: []Student{},
			wantProblems: []string{
				`patrons.csv line 2: column DistrictID: duplicate key "S100" (also on line 3): no row with it is used`,
				`patrons.csv line 3: column DistrictID: duplicate key "S100": no row with it is used`,
				`patrons.csv line 4: column DistrictID: duplicate key "S100": no row with it is used`,
			},
		},
		{
			name:         "a quote error on one line is a problem and the next row is read",
			fsys:         fstest.MapFS{"patrons.csv": {Data: []byte(strings.Replace(csvText(sisHeader, sisRows()[:2]...), "\nLHS,P100", "\nL\"HS,P100", 1))}},
			want:         []Student{sisBlake()},
			wantProblems: []string{`patrons.csv line 2: row not read: bare " in non-quoted-field (position 2)`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ros, err := ReadSISPatrons(tc.fsys, "patrons.csv", tc.opts)
			if err != nil {
				t.Fatalf("ReadSISPatrons: %v", err)
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
			if ros.Format != FormatSISPatrons {
				t.Errorf("format = %q, want %q", ros.Format, FormatSISPatrons)
			}
		})
	}
}

func TestReadSISPatronsErrors(t *testing.T) {
	tests := []struct {
		name       string
		fsys       fstest.MapFS
		opts       Options
		wantErr    error
		wantColumn string
	}{
		{"a missing file is an error", fstest.MapFS{}, Options{}, ErrMissingFile, ""},
		{"a file without the DistrictID column is an error", sisFS("Barcode,GradeLevel", r{"Barcode": "P1"}), Options{}, ErrMissingColumn, "DistrictID"},
		{"a file without the Barcode column is an error when keyed by barcode", sisFS("DistrictID,GradeLevel", r{"DistrictID": "S1"}), Options{KeyField: KeyBarcode}, ErrMissingColumn, "Barcode"},
		{"student patron types need a PatronType column", sisFS("DistrictID,GradeLevel", r{"DistrictID": "S1"}), Options{StudentPatronTypes: []string{"Student"}}, ErrMissingColumn, "PatronType"},
		{"an empty file is not CSV", fstest.MapFS{"patrons.csv": {Data: nil}}, Options{}, ErrNotCSV, ""},
		{"a OneRoster key field is an options error", sisFS(sisHeader), Options{KeyField: KeyIdentifier}, ErrOptions, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ros, err := ReadSISPatrons(tc.fsys, "patrons.csv", tc.opts)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if ros != nil {
				t.Errorf("roster = %+v, want nil with an error", ros)
			}
			var fe *FileError
			if !errors.As(err, &fe) || fe.Column != tc.wantColumn {
				t.Errorf("err = %#v, want a *FileError for column %q", err, tc.wantColumn)
			}
		})
	}
}

func TestDetect(t *testing.T) {
	sis := []byte(csvText(sisHeader, sisRows()...))
	tests := []struct {
		name    string
		fsys    fstest.MapFS
		want    Format
		wantErr error
	}{
		{"users.csv means a OneRoster bundle", baseBundle(), FormatOneRoster, nil},
		{"one CSV with a DistrictID column means a SIS patron file", fstest.MapFS{"students.csv": {Data: sis}}, FormatSISPatrons, nil},
		{"a Barcode column is enough for a SIS patron file", fstest.MapFS{"p.CSV": {Data: []byte("Barcode,Grade Level\nP1,09\n")}}, FormatSISPatrons, nil},
		{"a mounted ConfigMap's dot entries are skipped", fstest.MapFS{
			"students.csv":                  {Data: sis},
			"..data/students.csv":           {Data: sis},
			"..2026_11_20_09_00_00.1/x.csv": {Data: sis},
			".hidden.csv":                   {Data: sis},
		}, FormatSISPatrons, nil},
		{"other CSV and non-CSV files are ignored", fstest.MapFS{"students.csv": {Data: sis}, "notes.csv": {Data: []byte("a,b\n")}, "README": {Data: sis}}, FormatSISPatrons, nil},
		{"no roster file is an error", fstest.MapFS{"notes.csv": {Data: []byte("a,b\n")}}, "", ErrUnknownFormat},
		{"an empty directory is an error", fstest.MapFS{}, "", ErrUnknownFormat},
		{"two SIS patron files are ambiguous", fstest.MapFS{"a.csv": {Data: sis}, "b.csv": {Data: sis}}, "", ErrUnknownFormat},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Detect(tc.fsys)
			if !errors.Is(err, tc.wantErr) || got != tc.want {
				t.Errorf("Detect = %q, %v; want %q, %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestReadDispatchesOnTheDetectedFormat(t *testing.T) {
	tests := []struct {
		name string
		fsys fstest.MapFS
		want Format
		key  string
	}{
		{"a OneRoster bundle is read as OneRoster", baseBundle(), FormatOneRoster, "S100"},
		{"a SIS patron file is read by its detected name", fstest.MapFS{"export 2026.csv": {Data: []byte(csvText(sisHeader, sisRows()...))}}, FormatSISPatrons, "S100"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ros, err := Read(tc.fsys, Options{Today: today})
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := ros.Lookup(tc.key); ros.Format != tc.want || !ok {
				t.Errorf("format %q, has %s = %v; want %q and the student", ros.Format, tc.key, ok, tc.want)
			}
		})
	}
	if _, err := Read(fstest.MapFS{}, Options{}); !errors.Is(err, ErrUnknownFormat) {
		t.Errorf("Read(empty) err = %v, want ErrUnknownFormat", err)
	}
}

// A ConfigMap or Secret volume holds each key as a symlink through ..data to a timestamped directory.
func TestReadFromAMountedConfigMapDirectory(t *testing.T) {
	dir := t.TempDir()
	ts := filepath.Join(dir, "..2026_11_20_09_00_00.123")
	if err := os.Mkdir(ts, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ts, "students.csv"), []byte(csvText(sisHeader, sisRows()...)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Base(ts), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join("..data", "students.csv"), filepath.Join(dir, "students.csv")); err != nil {
		t.Fatal(err)
	}
	ros, err := Read(os.DirFS(dir), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := ros.Lookup("S100"); ros.Format != FormatSISPatrons || !ok || s.Grade != "09" {
		t.Errorf("format %q, S100 = %+v, %v; want the SIS student with grade 09", ros.Format, s, ok)
	}
}
