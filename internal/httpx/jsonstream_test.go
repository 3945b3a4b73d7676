package httpx

import (
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
)

// countingReader counts the bytes read from it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// decodeRows reads {"rows": [...], other members skipped} and returns the rows.
func decodeRows(r io.Reader) ([]string, error) {
	var rows []string
	err := DecodeObject(r, func(dec *json.Decoder, key string) error {
		if !strings.EqualFold(key, "rows") {
			return SkipValue(dec)
		}
		_, err := DecodeList(dec, "rows", func(dec *json.Decoder) error {
			var s string
			if err := dec.Decode(&s); err != nil {
				return err
			}
			rows = append(rows, s)
			return nil
		})
		return err
	})
	return rows, err
}

func TestDecodeObjectReadsOneObjectAsItArrives(t *testing.T) {
	tests := []struct {
		name, in string
		want     int
		inError  string
	}{
		{"members in any order, unknown ones skipped", `{"a":{"b":[1,2]},"ROWS":["x","y"],"c":null}`, 2, ""},
		{"white space after the object", "{\"rows\":[]}\n\t ", 0, ""},
		{"an empty answer (cut before its first byte)", ``, 0, "the answer is empty: unexpected EOF"},
		{"null", `null`, 0, "null, not a JSON object"},
		{"a list", `["x"]`, 0, "a list, not a JSON object"},
		{"a string", `"x"`, 0, "a string, not a JSON object"},
		{"data after the object", `{"rows":[]}{}`, 0, "data follows the JSON object"},
		{"cut short in a list", `{"rows":["x",`, 0, "unexpected EOF"},
		{"cut short between members", `{"rows":["x"],`, 0, "unexpected EOF"},
		{"a list that is an object", `{"rows":{}}`, 0, `"rows" is an object, not a list`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, err := decodeRows(strings.NewReader(tt.in))
			switch {
			case tt.inError == "" && (err != nil || len(rows) != tt.want):
				t.Fatalf("got %d rows, %v; want %d rows", len(rows), err, tt.want)
			case tt.inError != "" && (err == nil || !strings.Contains(err.Error(), tt.inError)):
				t.Fatalf("got %v, want an error saying %q", err, tt.inError)
			}
		})
	}
}

// chunkReader hands out at most chunk bytes a read.
type chunkReader struct {
	r     io.Reader
	chunk int
}

func (c *chunkReader) Read(p []byte) (int, error) { return c.r.Read(p[:min(len(p), c.chunk)]) }

// The cap holds at its edge, however the answer arrives: a value just under it decodes, one just over
// it does not.
func TestDecodeObjectValueCapIsExact(t *testing.T) {
	member := func(size int) string { return `{"pad":"` + strings.Repeat("x", size-2) + `","rows":["a"]}` } // size: the value, quotes included
	for _, chunk := range []int{1 << 30, 64 << 10, 4 << 10} {
		for _, tt := range []struct {
			size int
			ok   bool
		}{{MaxJSONValueBytes - 1024, true}, {MaxJSONValueBytes + 1024, false}, {2*MaxJSONValueBytes - 1024, false}} {
			rows, err := decodeRows(&chunkReader{r: strings.NewReader(member(tt.size)), chunk: chunk})
			var big *ValueTooLargeError
			switch {
			case tt.ok && (err != nil || len(rows) != 1):
				t.Errorf("reads of %d bytes, a value of %d bytes (cap %d): %v, %d rows; want it decoded", chunk, tt.size, MaxJSONValueBytes, err, len(rows))
			case !tt.ok && !errors.As(err, &big):
				t.Errorf("reads of %d bytes, a value of %d bytes (cap %d): %v; want a *ValueTooLargeError", chunk, tt.size, MaxJSONValueBytes, err)
			}
		}
	}
}

// A list may be of any length (it is read row by row); one value the decoder must hold whole may not.
func TestDecodeObjectHoldsNoValueOverTheCap(t *testing.T) {
	row := `"` + strings.Repeat("r", 1000) + `",`
	n := 2 * MaxJSONValueBytes / len(row)
	list := `{"rows":[` + strings.Repeat(row, n) + `"last"]}`
	rows, err := decodeRows(strings.NewReader(list))
	if err != nil || len(rows) != n+1 {
		t.Fatalf("a list of %d bytes: %d rows, %v; want %d rows", len(list), len(rows), err, n+1)
	}

	for _, tt := range []struct{ name, in string }{
		{"a skipped member", `{"padding":"` + strings.Repeat("x", 3*MaxJSONValueBytes) + `","rows":[]}`},
		{"a row", `{"rows":["` + strings.Repeat("x", 3*MaxJSONValueBytes) + `"]}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			src := &countingReader{r: strings.NewReader(tt.in)}
			_, err := decodeRows(src)
			var big *ValueTooLargeError
			if !errors.As(err, &big) {
				t.Fatalf("got %v, want a *ValueTooLargeError", err)
			}
			if src.n > 2*MaxJSONValueBytes+64<<10 {
				t.Errorf("read %d bytes of a value over the cap of %d, want the read stopped near the cap", src.n, MaxJSONValueBytes)
			}
		})
	}
}
