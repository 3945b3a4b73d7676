package pro

import (
	"slices"
	"testing"
)

// The listing's pages are joined by row offset into one list sorted by id, each device once (its first
// row): a device that moved between pages while Jamf was listed must not be written twice, and a server
// that does not sort must not make the engine see devices in page order.
func TestAssembleJoinsPagesByIDEachDeviceOnce(t *testing.T) {
	type row struct{ id, v int } // v tells which row of an id was kept
	for _, tc := range []struct {
		name  string
		pages map[int][]row // by offset
		want  []row
	}{
		{"pages in row order are joined as they are",
			map[int][]row{0: {{1, 0}, {2, 0}}, 2: {{3, 0}, {4, 0}}, 4: {{5, 0}}},
			[]row{{1, 0}, {2, 0}, {3, 0}, {4, 0}, {5, 0}}},
		{"pages stored out of order are joined by offset",
			map[int][]row{4: {{5, 0}}, 0: {{1, 0}, {2, 0}}, 2: {{3, 0}, {4, 0}}},
			[]row{{1, 0}, {2, 0}, {3, 0}, {4, 0}, {5, 0}}},
		{"a device listed again at the start of the next page keeps its first row",
			map[int][]row{0: {{1, 0}, {2, 0}}, 2: {{2, 1}, {3, 0}}},
			[]row{{1, 0}, {2, 0}, {3, 0}}},
		{"rows a server did not sort are sorted by id, a repeated device keeping its first row",
			map[int][]row{0: {{3, 0}, {1, 0}}, 2: {{2, 0}, {3, 1}}},
			[]row{{1, 0}, {2, 0}, {3, 0}}},
		{"no pages, no devices", map[int][]row{}, []row{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := &lister[row]{pages: map[int]rows[row]{}}
			for off, rs := range tc.pages {
				var p rows[row]
				for _, r := range rs {
					p.ids, p.v = append(p.ids, r.id), append(p.v, r)
				}
				l.pages[off] = p
			}
			got := l.assemble()
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			if len(l.pages) != 0 {
				t.Errorf("%d pages still held after the join: they must be released as consumed", len(l.pages))
			}
		})
	}
}
