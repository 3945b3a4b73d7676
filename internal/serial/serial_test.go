package serial

import (
	"strings"
	"testing"
	"unicode"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want string
	}{
		{"a clean Apple serial is returned unchanged", "DMPXK2ABCD12", "DMPXK2ABCD12"},
		{"surrounding spaces are trimmed", "  DMPXK2ABCD12 ", "DMPXK2ABCD12"},
		{"inner spaces are dropped", "DMPX K2AB CD12", "DMPXK2ABCD12"},
		{"tabs and newlines are dropped", "\tDMPXK2ABCD12\r\n", "DMPXK2ABCD12"},
		{"lower case is upper-cased", "dmpxk2abcd12", "DMPXK2ABCD12"},
		{"dashes are dropped", "WKJA-0123-ACDE", "WKJA0123ACDE"},
		{"unicode en and em dashes are dropped", "WKJA\u20130123\u2014ACDE", "WKJA0123ACDE"},
		{"non-breaking spaces are dropped", "\u00a0DMPXK2ABCD12\u00a0", "DMPXK2ABCD12"},
		{"narrow no-break and ideographic spaces are dropped", "DMPX\u202fK2AB\u3000CD12", "DMPXK2ABCD12"},
		{"zero-width space and byte order mark are dropped", "\ufeffDMPX\u200bK2ABCD12", "DMPXK2ABCD12"},
		{"leading zeros are kept", "000DMPXK2ABCD12", "000DMPXK2ABCD12"},
		{"a serial that is all zeros is kept", "0000", "0000"},
		{"empty stays empty", "", ""},
		{"only separators becomes empty", " - \u00a0-", ""},
		{"other punctuation is kept, so different serials never collide by accident", "AB.CD/12", "AB.CD/12"},
		{"mixed mess from a spreadsheet", " f9fx-k2ab cd12\u00a0", "F9FXK2ABCD12"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Normalize(tt.raw); got != tt.want {
				t.Errorf("Normalize(%q) = %q, want %q", tt.raw, got, tt.want)
			}
		})
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"DMPXK2ABCD12", " dmpx-k2ab cd12 ", "\u00a0WKJA\u20130123", "", "0001", "\ufeff\u200b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got := Normalize(raw)
		if again := Normalize(got); again != got {
			t.Fatalf("not idempotent: Normalize(%q) = %q, Normalize(%q) = %q", raw, got, got, again)
		}
		for _, r := range got {
			if unicode.IsSpace(r) || unicode.Is(unicode.Pd, r) {
				t.Fatalf("Normalize(%q) = %q keeps separator %U", raw, got, r)
			}
			if unicode.IsLower(r) && unicode.ToUpper(r) != r {
				t.Fatalf("Normalize(%q) = %q keeps lower case %q", raw, got, r)
			}
		}
		if strings.Count(got, "0") < strings.Count(strings.ToUpper(raw), "0") {
			t.Fatalf("Normalize(%q) = %q dropped a zero", raw, got)
		}
	})
}
