package destiny

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/k12dev/devicesync-operator/internal/httpx"
)

// The listings' pages (one listing per resource type and site, fetched concurrently) are joined into one
// list sorted by id in which an item listed twice keeps its first listing, and every page is released.
func TestAssembleJoinsListingsByIDEachItemOnce(t *testing.T) {
	type row struct{ id, v int } // v tells which listing of an id was kept
	page := func(rs ...row) itemPage[row] {
		var p itemPage[row]
		for _, r := range rs {
			p.ids, p.items = append(p.ids, r.id), append(p.items, r)
		}
		return p
	}
	for _, tc := range []struct {
		name  string
		pages []itemPage[row] // in the order the listings added them
		want  []row
	}{
		{"pages of one listing, added out of order, are joined by id",
			[]itemPage[row]{page(row{4, 0}, row{5, 0}), page(row{1, 0}, row{2, 0})},
			[]row{{1, 0}, {2, 0}, {4, 0}, {5, 0}}},
		{"an item under two resource types keeps the listing added first",
			[]itemPage[row]{page(row{1, 0}, row{2, 0}), page(row{2, 1}, row{3, 1})},
			[]row{{1, 0}, {2, 0}, {3, 1}}},
		{"listings whose ids interleave are sorted by id, stably",
			[]itemPage[row]{page(row{1, 0}, row{5, 0}), page(row{2, 1}, row{5, 1}, row{6, 1})},
			[]row{{1, 0}, {2, 1}, {5, 0}, {6, 1}}},
		{"empty pages add nothing", []itemPage[row]{page(), page(row{7, 0}), page()}, []row{{7, 0}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := &lister[row]{pages: tc.pages}
			if got := l.assemble(); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			if l.pages != nil {
				t.Error("the pages are still held after the join")
			}
		})
	}
}

// An item page is decoded one item at a time, and still refused whole when any part of it is wrong.
func TestDecodeItemsRefusesWhatDecodeItemPageRefuses(t *testing.T) {
	refused := errors.New("refused by the caller")
	for _, tc := range []struct {
		name    string
		body    string
		each    func(*Item) error
		wantErr string
		wantN   int // items handed to each
	}{
		{name: "a page of two items hands out both, in order", body: `{"value":[{"id":1,"status":"lost"},{"id":2,"status":"lost"}]}`, wantN: 2},
		{name: "two value lists are malformed", body: `{"value":[{"id":1,"status":"lost"}],"value":[{"id":2,"status":"lost"}]}`,
			wantErr: `more than one "value" list`, wantN: 1},
		{name: "a value that is not a list is malformed", body: `{"value":{"id":1}}`, wantErr: "not valid JSON"},
		{name: "a null value is no list", body: `{"value":null}`, wantErr: `no "value" list`},
		{name: "an item without a status names its place in the page", body: `{"value":[{"id":1,"status":"lost"},{"id":2}]}`,
			wantErr: "item 1 of the page: item 2 has no status", wantN: 1},
		{name: "invalid JSON after the list fails the page (the caller drops what it was handed)", body: `{"value":[{"id":1,"status":"lost"}],}`,
			wantErr: "not valid JSON", wantN: 1},
		{name: "a second JSON value after the page fails it", body: `{"value":[]} {}`, wantErr: "not valid JSON"},
		{name: "keys match case-insensitively, as encoding/json matches fields", body: `{"Value":[{"id":1,"status":"lost"}],"@NEXTLINK":"x"}`, wantN: 1},
		{name: "a page that is a list is not valid", body: `[1,2,3]`, wantErr: "not valid JSON"},
		{name: "the caller's refusal stops the page", body: `{"value":[{"id":1,"status":"lost"},{"id":2,"status":"lost"}]}`,
			each: func(*Item) error { return refused }, wantErr: "refused by the caller"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ids []int
			each := func(it *Item) error {
				ids = append(ids, it.ID)
				if tc.each != nil {
					return tc.each(it)
				}
				return nil
			}
			_, err := decodeItems(httpx.NewBodyReader(strings.NewReader(tc.body), int64(len(tc.body))), DefaultSerialField, "test", each)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatal(err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			case tc.wantErr != "" && !errors.Is(err, KindMalformed) && !errors.Is(err, refused):
				t.Errorf("error %v is not KindMalformed", err)
			}
			if tc.each == nil && len(ids) != tc.wantN {
				t.Errorf("%d items handed out (%v), want %d", len(ids), ids, tc.wantN)
			}
		})
	}
}
