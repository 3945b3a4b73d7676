package httpx

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// DecodeObject reads r as exactly one JSON object, as it arrives, handing each member's key to member,
// which must read the member's value from dec (SkipValue drops it). Keys come as the server wrote them:
// match them with strings.EqualFold, as encoding/json matches struct fields. Anything but one object
// followed by white space fails, null included: an answer that says nothing is not an empty one. An
// io.EOF before the object ends is io.ErrUnexpectedEOF.
//
// No single value is held larger than MaxJSONValueBytes: the decoder holds each value it decodes whole
// (a row, a skipped member), so a longer one fails with a *ValueTooLargeError before it is read further.
// Values read token by token (the object itself, a list through DecodeList) may be of any length.
func DecodeObject(r io.Reader, member func(dec *json.Decoder, key string) error) error {
	vl := &valueLimit{r: r}
	dec := json.NewDecoder(vl)
	vl.dec = dec
	tok, err := dec.Token()
	switch {
	case err == io.EOF:
		// Nothing at all: an answer cut before its first byte as far as the reader can tell.
		return fmt.Errorf("the answer is empty: %w", io.ErrUnexpectedEOF)
	case err != nil:
		return err
	case tok != json.Delim('{'):
		return fmt.Errorf("the answer is %s, not a JSON object", jsonKind(tok))
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return unexpectedEOF(err)
		}
		key, _ := tok.(string) // a member's name: Token checks the syntax
		if err := member(dec, key); err != nil {
			return unexpectedEOF(err)
		}
	}
	if err := closing(dec, '}'); err != nil {
		return unexpectedEOF(err)
	}
	switch _, err := dec.Token(); {
	case err == io.EOF:
		return nil
	case err != nil:
		return err
	}
	return errors.New("data follows the JSON object")
}

// MaxJSONValueBytes bounds one value DecodeObject holds whole (a row of a list, a skipped member).
const MaxJSONValueBytes = 4 << 20

// ValueTooLargeError is a JSON value longer than DecodeObject holds: never decoded.
type ValueTooLargeError struct{ Max int64 }

func (e *ValueTooLargeError) Error() string {
	return fmt.Sprintf("a JSON value larger than %d bytes", e.Max)
}

// valueLimit fails a read when the decoder already holds more than MaxJSONValueBytes it has not
// consumed (the value it is decoding is that long), and never hands it enough to hold more.
type valueLimit struct {
	r   io.Reader
	dec *json.Decoder
	n   int64 // bytes handed to the decoder
}

func (v *valueLimit) Read(p []byte) (int, error) {
	held := v.n - v.dec.InputOffset()
	if held > MaxJSONValueBytes {
		return 0, &ValueTooLargeError{Max: MaxJSONValueBytes}
	}
	// Never hand over more than one byte past the cap: the next read then fails if the value is not done.
	p = p[:min(int64(len(p)), MaxJSONValueBytes-held+1)]
	n, err := v.r.Read(p)
	v.n += int64(n)
	return n, err
}

// DecodeList reads one list value from dec (what names it in errors), handing each element to elem, which must read it from dec;
// ok is false when the value is null (no list). Any other value fails; an io.EOF before the list ends
// is io.ErrUnexpectedEOF.
func DecodeList(dec *json.Decoder, what string, elem func(dec *json.Decoder) error) (ok bool, err error) {
	tok, err := dec.Token()
	switch {
	case err != nil:
		return false, unexpectedEOF(err)
	case tok == nil:
		return false, nil
	case tok != json.Delim('['):
		return false, fmt.Errorf("%q is %s, not a list", what, jsonKind(tok))
	}
	for dec.More() {
		if err := elem(dec); err != nil {
			return true, unexpectedEOF(err)
		}
	}
	return true, unexpectedEOF(closing(dec, ']'))
}

// SkipValue reads and drops one JSON value (a member the caller does not use).
func SkipValue(dec *json.Decoder) error { return dec.Decode(&skipValue{}) }

type skipValue struct{}

func (*skipValue) UnmarshalJSON([]byte) error { return nil }

// closing reads the delimiter that ends the list or object whose last element was read.
func closing(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok != want {
		return fmt.Errorf("expected %q", want)
	}
	return nil
}

func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// jsonKind names the kind of value a token starts, for messages (never the value itself).
func jsonKind(tok json.Token) string {
	switch t := tok.(type) {
	case json.Delim:
		if t == '{' {
			return "an object"
		}
		return "a list"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return "a number"
}
