package pro

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/k12dev/devicesync-operator/internal/httpx"
)

// pageDecoder reads one inventory page (the schema's MobileDeviceInventorySearchResults,
// {"totalCount": n, "results": [...]}) as it arrives: each row is decoded on its own into the wire form
// and converted at once with conv, so a page never exists whole, neither as bytes nor as wire rows. One
// pageDecoder serves one attempt: the rows of a failed attempt go with it.
//
// The answer is read as encoding/json reads it into {TotalCount int64; Results []inventoryDevice}: keys
// match case-insensitively, the last of a repeated key wins (a repeated results replaces the rows),
// unknown keys are skipped, null leaves totalCount as it is and makes results empty; keys come in any
// order (totalCount may follow the rows). It must be exactly one JSON object: anything else, or
// anything after it, is malformed. A row that does not convert, and a row past the size asked for, fail
// the page at once with a *DecodeError; nothing is sized by what the server sent.
type pageDecoder[T any] struct {
	off, size int // the rows asked for: size rows from row off
	conv      func(*MobileDevice) T
	total     int64
	rows      rows[T]
	wire      inventoryDevice // the row being decoded, reused
	dev       MobileDevice    // the row handed to conv, reused (conv must not keep it)
}

// maxServedPage is the largest page Jamf Pro serves (larger sizes are clamped).
const maxServedPage = 2000

func newPageDecoder[T any](off, size int, conv func(*MobileDevice) T) *pageDecoder[T] {
	// Room for the rows asked for (a size this client chose, never a count the server sent), at most
	// what Jamf serves.
	n := min(size, maxServedPage)
	return &pageDecoder[T]{off: off, size: size, conv: conv, rows: rows[T]{ids: make([]int, 0, n), v: make([]T, 0, n)}}
}

// decode reads the page from r; an io.EOF before the object ends is io.ErrUnexpectedEOF.
func (p *pageDecoder[T]) decode(r io.Reader) error {
	return httpx.DecodeObject(r, func(dec *json.Decoder, key string) error {
		switch {
		case strings.EqualFold(key, "totalCount"):
			return dec.Decode(&p.total)
		case strings.EqualFold(key, "results"):
			return p.results(dec)
		}
		return httpx.SkipValue(dec)
	})
}

// results reads the rows, each converted as soon as it is decoded.
func (p *pageDecoder[T]) results(dec *json.Decoder) error {
	clear(p.rows.v) // a repeated results key replaces the rows read so far
	p.rows.ids, p.rows.v = p.rows.ids[:0], p.rows.v[:0]
	_, err := httpx.DecodeList(dec, "results", func(dec *json.Decoder) error {
		if len(p.rows.v) == p.size {
			return pageError("list inventory", inventoryPath, fmt.Errorf("asked for %d rows from row %d, got more", p.size, p.off))
		}
		p.wire = inventoryDevice{} // absent keys must not keep the previous row's values
		if err := dec.Decode(&p.wire); err != nil {
			return err
		}
		var err error
		if p.dev, err = p.wire.toDevice(); err != nil {
			return pageError("list inventory", inventoryPath, err)
		}
		p.rows.ids, p.rows.v = append(p.rows.ids, p.dev.ID), append(p.rows.v, p.conv(&p.dev))
		return nil
	})
	p.wire, p.dev = inventoryDevice{}, MobileDevice{}
	return err
}

// page returns the rows, in slices of their exact size when the page held fewer rows than asked for.
func (p *pageDecoder[T]) page() rows[T] {
	if len(p.rows.v) == cap(p.rows.v) {
		return p.rows
	}
	return rows[T]{ids: slices.Clone(p.rows.ids), v: slices.Clone(p.rows.v)}
}
