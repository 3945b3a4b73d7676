package roster

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"unicode/utf8"
)

// table streams the data rows of one CSV file, turning bad rows into Problems and unusable files into errors.
type table struct {
	file    string
	f       fs.File
	r       *csv.Reader
	cols    map[string]int // canonical column name -> index
	rec     []string
	line    int // line the current record starts on
	pending *csv.ParseError
}

// openTable opens name and reads its header. canon maps a header cell to a canonical column name ("" to ignore it);
// required lists canonical names that must be present. A missing file is ErrMissingFile.
func openTable(fsys fs.FS, name string, canon func(string) string, required []string) (*table, error) {
	f, err := fsys.Open(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &FileError{File: name, Err: ErrMissingFile}
		}
		return nil, &FileError{File: name, Err: ErrNotCSV, Detail: "cannot open: " + err.Error()}
	}
	t := &table{file: name, f: f}
	if err := t.readHeader(canon, required); err != nil {
		f.Close()
		return nil, err
	}
	return t, nil
}

func (t *table) Close() error { return t.f.Close() }

func (t *table) readHeader(canon func(string) string, required []string) error {
	r := csv.NewReader(bufio.NewReaderSize(t.f, 64<<10))
	r.ReuseRecord = true
	t.r = r
	hdr, err := r.Read()
	if err == io.EOF {
		return &FileError{File: t.file, Err: ErrNotCSV, Detail: "empty file, no header row"}
	}
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return &FileError{File: t.file, Line: pe.Line, Err: ErrNotCSV, Detail: "header row: " + pe.Err.Error()}
		}
		return &FileError{File: t.file, Err: ErrNotCSV, Detail: "cannot read: " + err.Error()}
	}
	t.cols = make(map[string]int, len(hdr))
	for i, h := range hdr {
		if i == 0 {
			h = strings.TrimPrefix(h, "\ufeff") // UTF-8 byte order mark written by Excel
		}
		if !utf8.ValidString(h) || strings.ContainsRune(h, 0) {
			return &FileError{File: t.file, Line: 1, Err: ErrNotCSV, Detail: fmt.Sprintf("header cell %d is not UTF-8 text", i+1)}
		}
		c := canon(h)
		if c == "" {
			continue
		}
		if _, dup := t.cols[c]; dup {
			return &FileError{File: t.file, Line: 1, Err: ErrNotCSV, Detail: fmt.Sprintf("column %s appears twice in the header", quote(c))}
		}
		t.cols[c] = i
	}
	for _, c := range required {
		if _, ok := t.cols[c]; !ok {
			return &FileError{File: t.file, Line: 1, Err: ErrMissingColumn, Column: c}
		}
	}
	return nil
}

// has reports whether the header holds the canonical column c.
func (t *table) has(c string) bool { _, ok := t.cols[c]; return ok }

// index returns the position of the canonical column c, -1 when the header lacks it.
func (t *table) index(c string) int {
	if i, ok := t.cols[c]; ok {
		return i
	}
	return -1
}

// at returns the trimmed value at position i (from index) in the current row, "" for -1.
func (t *table) at(i int) string {
	if i < 0 || i >= len(t.rec) {
		return ""
	}
	return strings.TrimSpace(t.rec[i])
}

// get returns the trimmed value of column c in the current row, "" when the column is absent.
func (t *table) get(c string) string { return t.at(t.index(c)) }

// next advances to the next usable data row. Rows the CSV reader rejects (a quote error, a wrong number of fields)
// become Problems; rows with only empty cells are skipped. A quoted field left open to the end of the file is an
// error: the rest of the file was swallowed by it.
func (t *table) next(ros *Roster) (bool, error) {
	for {
		rec, err := t.r.Read()
		if t.pending != nil {
			pe := t.pending
			t.pending = nil
			if err == io.EOF {
				return false, &FileError{File: t.file, Line: pe.StartLine, Err: ErrNotCSV,
					Detail: fmt.Sprintf("quoted field opened on line %d is never closed (read to line %d)", pe.StartLine, pe.Line)}
			}
			ros.problem(t.file, pe.StartLine, "", "row not read: %v (line %d, position %d)", pe.Err, pe.Line, pe.Column)
		}
		if err == io.EOF {
			return false, nil
		}
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				return false, &FileError{File: t.file, Err: ErrNotCSV, Detail: "cannot read: " + err.Error()}
			}
			switch {
			case errors.Is(pe.Err, csv.ErrFieldCount):
				ros.problem(t.file, pe.StartLine, "", "row not read: it has %d fields, the header has %d", len(rec), t.r.FieldsPerRecord)
			case errors.Is(pe.Err, csv.ErrQuote) && pe.Line > pe.StartLine:
				t.pending = pe // decided on the next read: EOF means the open quote swallowed the file
			default:
				ros.problem(t.file, pe.StartLine, "", "row not read: %v (position %d)", pe.Err, pe.Column)
			}
			continue
		}
		line, _ := t.r.FieldPos(0)
		t.line = line
		t.rec = rec
		if blank(rec) {
			continue
		}
		return true, nil
	}
}

func blank(rec []string) bool {
	for _, v := range rec {
		if strings.TrimSpace(v) != "" {
			return false
		}
	}
	return true
}
