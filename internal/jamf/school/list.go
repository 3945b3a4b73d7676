package school

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/k12dev/devicesync-operator/internal/httpx"
)

// Jamf School does not page its lists: GET /devices and GET /users return the whole district in one
// answer (about 1.3 KB a device, 0.4 KB a user). Such an answer is read as it arrives, each element
// decoded and converted at once, so neither its bytes nor its wire rows are ever held whole and a large
// district is not refused by the cap on a buffered body (httpx.MaxBodyBytes).
const (
	// MaxListBodyBytes caps a list answer read as it arrives: its bytes are not kept, so the cap only
	// ends an answer that never ends (about 800,000 devices).
	MaxListBodyBytes = 1 << 30
	// MaxListRows caps the rows of one list answer, which are kept: more fails the read.
	MaxListRows = 1_000_000
)

// listSpec is a list request's answer, {"code": 200, "count": n, "<key>": [...]}.
type listSpec struct {
	// key is the member that holds the list ("devices", "users").
	key string
	// start is called before each attempt is decoded: the rows of a failed attempt are dropped.
	start func()
	// elem decodes one element from dec and keeps what the caller needs of it.
	elem func(dec *json.Decoder) error
	// maxRows caps the rows (0: MaxListRows).
	maxRows int
}

// decode reads one answer: the envelope's code and message into env, each element of the list through
// elem. An answer without the list, or with two, is malformed, unless its code says it failed (env.Code
// 400 or more: the caller reports that). count is neither checked nor used: nothing is sized by what
// the server sent.
func (l *listSpec) decode(r io.Reader, env *envelope) error {
	l.start()
	lists, rows, maxRows := 0, 0, cmp.Or(l.maxRows, MaxListRows)
	err := httpx.DecodeObject(r, func(dec *json.Decoder, key string) error {
		switch {
		case strings.EqualFold(key, "code"):
			return dec.Decode(&env.Code)
		case strings.EqualFold(key, "message"):
			return dec.Decode(&env.Message)
		case strings.EqualFold(key, l.key):
			if lists++; lists > 1 {
				return fmt.Errorf("the answer has more than one %q list", l.key)
			}
			ok, err := httpx.DecodeList(dec, l.key, func(dec *json.Decoder) error {
				if rows++; rows > maxRows {
					return fmt.Errorf("the %q list has more than %d rows", l.key, maxRows)
				}
				return l.elem(dec)
			})
			if err != nil {
				return err
			}
			if !ok {
				lists-- // null: no list
			}
			return nil
		}
		return httpx.SkipValue(dec)
	})
	if err == nil && lists == 0 && env.Code < 400 {
		err = fmt.Errorf("the answer has no %q list", l.key)
	}
	return err
}

// listRows runs req, whose 2xx answer lists its rows under key: each row is decoded into a W (one, reset
// for every row) and kept as conv makes it (ok). The rows of a failed attempt are dropped.
func listRows[W, T any](ctx context.Context, c *Client, req request, key string, conv func(w *W) (T, bool)) ([]T, error) {
	var out []T
	var w W
	req.list = &listSpec{key: key, start: func() { out = []T{} }, elem: func(dec *json.Decoder) error {
		var zero W
		w = zero // absent keys must not keep the previous row's values
		if err := dec.Decode(&w); err != nil {
			return err
		}
		if v, ok := conv(&w); ok {
			out = append(out, v)
		}
		return nil
	}}
	if err := c.do(ctx, req, nil); err != nil {
		return nil, err
	}
	return slices.Clip(out), nil
}

// cutShort reports whether a list answer failed as a cut answer does (it ended early, or its JSON broke
// off): worth asking again, unlike one whose rows or shape are wrong, which the same answer repeats.
func cutShort(err error) bool {
	var syn *json.SyntaxError
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &syn)
}
