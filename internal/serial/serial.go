// Package serial decides what a device serial number is. Destiny items and MDM devices are matched
// by serial number, and people type serials into Destiny by hand or paste them from spreadsheets:
// stray spaces, non-breaking spaces, dashes, lower case. Normalize is the one place that turns such
// a value into the key both sides are compared on.
package serial

import (
	"strings"
	"unicode"
)

// Normalize returns the comparison key of a raw serial number: surrounding and inner whitespace
// (including non-breaking and other Unicode spaces), dashes (ASCII hyphen-minus and the Unicode
// dash punctuation a spreadsheet may substitute), control characters and invisible format
// characters (zero-width space, BOM) removed; letters upper-cased. Zeros are never stripped:
// a leading zero may be part of the serial, and only a policy rule could say otherwise. An empty or
// all-separator value normalises to "".
func Normalize(raw string) string {
	clean := true
	for i := 0; i < len(raw); i++ {
		b := raw[i]
		if b >= 0x80 || b == ' ' || b == '-' || (b >= 'a' && b <= 'z') || b < 0x20 || b == 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return raw
	}
	var sb strings.Builder
	sb.Grow(len(raw))
	for _, r := range raw {
		switch {
		case unicode.IsSpace(r), unicode.Is(unicode.Pd, r), unicode.IsControl(r), unicode.Is(unicode.Cf, r):
			continue
		case r == unicode.ReplacementChar:
			continue
		}
		sb.WriteRune(unicode.ToUpper(r))
	}
	return sb.String()
}
