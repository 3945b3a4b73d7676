package pro

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"sync"

	"github.com/k12dev/devicesync-operator/internal/httpx"
)

// The inventory listing counts rows, not pages. Jamf Pro pages with page / page-size: page p of size s
// holds rows [p*s, p*s+s) of the sorted list. The listing hands out spans of rows (offset, length) and
// fetches each as page offset/size with page-size size, which names exactly those rows as long as size
// divides offset. Sizes only ever shrink, each to a divisor of the previous one (a half, or the greatest
// common divisor with the offset), so every offset handed out stays a multiple of every later size: a
// change of size in the middle of a listing neither skips nor repeats a row.
//
//   - Page 0 comes first and alone: it gives totalCount, and Jamf's silent clamp of the page size (fewer
//     rows than asked while more exist); the clamped size is used from then on. Only page 0 can tell a
//     clamp, since a clamped page p > 0 would hold other rows than asked for.
//   - Then a fixed pool of MaxConcurrency workers takes spans from a shared cursor: no goroutine per
//     page, and nothing is ever allocated by a count the server sent.
//   - A page answered with a 5xx, a gateway page, a timeout, a reset connection or a body over the size
//     cap is asked again at half the size (down to MinPageSize), for the first half of its span; the rest
//     goes back to the queue. The smaller size is kept for the rest of the listing.
//   - Every page is checked against its totalCount: a count that is negative or absurd (over
//     MaxListCount), or a page holding fewer rows than the count says must follow, fails the read. A later
//     page reporting a larger count (devices enrolled meanwhile) extends the listing.
//
// Devices deleted during the listing shift later rows down: a device at a page boundary can then be
// missed, and the engine sees it as absent from Jamf for this run (a skip, never a write).
//
// Each page is decoded as it arrives, row by row, each row converted at once with conv (to MobileDevice,
// or straight to the caller's own form) and checked when the answer ends: only what conv returns is kept,
// with the row's id. Neither the page's bytes nor its wire rows are ever held whole.
type lister[T any] struct {
	c      *Client
	filter string
	min    int
	conv   func(*MobileDevice) T

	mu    sync.Mutex
	cond  *sync.Cond
	size  int // current page size
	next  int // first row not yet handed out
	total int // rows the listing must cover
	queue []span
	busy  int
	err   error
	pages map[int]rows[T] // rows by offset, converted as each page arrives
}

// rows are a page's converted rows and their mobile device ids.
type rows[T any] struct {
	ids []int
	v   []T
}

func (r rows[T]) limit(n int) rows[T] {
	n = min(n, len(r.v))
	return rows[T]{ids: r.ids[:n], v: r.v[:n]}
}

type span struct{ off, n int }

// listInventory lists the inventory, each row converted by conv, sorted by id; a device listed twice
// (it moved between pages) keeps its first row.
func listInventory[T any](ctx context.Context, c *Client, filter string, conv func(*MobileDevice) T) ([]T, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	l := &lister[T]{c: c, filter: filter, min: c.minPage, size: c.pageSize, conv: conv, pages: map[int]rows[T]{}}
	l.cond = sync.NewCond(&l.mu)

	first, size, total, err := l.fetch(ctx, span{0, c.pageSize}, true)
	if err != nil {
		return nil, err
	}
	// The cursor continues after page 0's rows, at page 0's size (smaller when Jamf clamped it or when
	// page 0 had to shrink).
	l.pages[0], l.size, l.total, l.next = first, size, total, len(first.v)
	l.min = min(l.min, size)

	workers := min(cap(c.sem), max(1, (total-l.next+size-1)/size))
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				sp, ok := l.take()
				if !ok {
					return
				}
				got, _, total, err := l.fetch(ctx, sp, false)
				l.done(sp, got, total, err, cancel)
			}
		})
	}
	wg.Wait()
	if l.err != nil {
		return nil, l.err
	}
	return l.assemble(), nil
}

// assemble joins the pages in row order into one exactly sized list, each page dropped once copied.
// Rows come sorted by id, so a device listed twice is the row after its first: it is left out. Only
// when the ids are out of order (a server not sorting) are the rows sorted by id, stably.
func (l *lister[T]) assemble() []T {
	offs := make([]int, 0, len(l.pages))
	n := 0
	for off, p := range l.pages {
		offs = append(offs, off)
		n += len(p.v)
	}
	sort.Ints(offs)
	sorted, last := true, -1
	for _, off := range offs {
		for _, id := range l.pages[off].ids {
			sorted = sorted && id >= last
			last = id
		}
	}
	if !sorted {
		return l.assembleUnsorted(offs, n)
	}
	out := make([]T, 0, n)
	last = -1
	for _, off := range offs {
		p := l.pages[off]
		for i, id := range p.ids {
			if len(out) == 0 || id != last {
				out = append(out, p.v[i])
			}
			last = id
		}
		delete(l.pages, off)
	}
	return slices.Clip(out)
}

// assembleUnsorted is assemble for rows whose ids are not in order: sorted by id, stably, each id kept
// once (its first row).
func (l *lister[T]) assembleUnsorted(offs []int, n int) []T {
	type ref struct{ id, off, i int }
	refs := make([]ref, 0, n)
	for _, off := range offs {
		for i, id := range l.pages[off].ids {
			refs = append(refs, ref{id, off, i})
		}
	}
	sort.SliceStable(refs, func(a, b int) bool { return refs[a].id < refs[b].id })
	out := make([]T, 0, n)
	for k, r := range refs {
		if k == 0 || r.id != refs[k-1].id {
			out = append(out, l.pages[r.off].v[r.i])
		}
	}
	clear(l.pages)
	return slices.Clip(out)
}

// take hands out the next span: a queued remainder first, then the cursor's next page. It waits while
// other workers may still queue work, and reports false when the listing is complete or failed.
func (l *lister[T]) take() (span, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for {
		switch {
		case l.err != nil:
			return span{}, false
		case len(l.queue) > 0:
			sp := l.queue[0]
			l.queue = l.queue[1:]
			l.busy++
			return sp, true
		case l.next < l.total:
			sp := span{l.next, l.size}
			l.next += sp.n
			l.busy++
			return sp, true
		case l.busy == 0:
			return span{}, false
		}
		l.cond.Wait()
	}
}

// done records a fetched span: its rows, the rest of it when a smaller page covered only its start, and
// a larger totalCount.
func (l *lister[T]) done(sp span, got rows[T], total int, err error, cancel func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	defer l.cond.Broadcast()
	l.busy--
	if err != nil {
		if l.err == nil {
			l.err = err
			cancel()
		}
		return
	}
	l.total = max(l.total, total)
	got = got.limit(sp.n) // rows past the span belong to another span
	n := len(got.v)
	if n > 0 {
		l.pages[sp.off] = got
	}
	if rest := (span{sp.off + n, sp.n - n}); rest.n > 0 && rest.off < l.total && n > 0 {
		l.queue = append(l.queue, rest)
	}
}

func (l *lister[T]) curSize() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.size
}

// shrinkTo lowers the listing's page size (never raises it).
func (l *lister[T]) shrinkTo(size int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.size = min(l.size, size)
}

// pageSizeFor is the page size that fetches rows from off: at most want, and a divisor of off.
func pageSizeFor(off, want int) int {
	if off == 0 {
		return want
	}
	return gcd(off, want)
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// fetch gets the rows of sp from its start: one page through the retry loop, shrinking the page after a
// failure that a smaller page may avoid. Each attempt decodes its answer as it arrives (pageDecoder),
// every row converted by conv at once, and starts empty: the rows of a failed attempt are dropped. It
// returns the rows (a prefix of the span when the page was smaller), the page size used and the page's
// totalCount. first marks page 0, the only page that may reveal a clamped page size.
func (l *lister[T]) fetch(ctx context.Context, sp span, first bool) (rows[T], int, int, error) {
	c := l.c
	size := pageSizeFor(sp.off, l.curSize())
	var out *pageDecoder[T]
	err := c.retry(ctx, "list inventory", func(ctx context.Context, n int) httpx.Outcome {
		page := sp.off / size
		out = newPageDecoder(sp.off, size, l.conv)
		cl := call{op: fmt.Sprintf("list inventory rows %d-%d (page %d of size %d)", sp.off, sp.off+size-1, page, size),
			method: http.MethodGet, path: inventoryPath, query: inventoryQuery(l.filter, page, size), idempotent: true,
			stream: out.decode}
		o := c.attempt(ctx, cl, nil, nil)
		if o.Err != nil {
			out = nil // the rows of a failed attempt are garbage now
			if shrinkable(o.Err) {
				if half := pageSizeFor(sp.off, size/2); half >= l.min && half < size {
					size = half
					l.shrinkTo(size)
					if !o.Retry { // a body over the cap is not retried at the same size, but is at a smaller one
						o = httpx.Again(o.Err, 0)
					}
				}
			}
		}
		return o
	})
	if err != nil {
		return rows[T]{}, 0, 0, err
	}
	// The rows are counted as they came (more than size failed at once); totalCount may have come
	// after them, so the page is checked against it only now.
	total, err := checkCount("list inventory", inventoryPath, out.total)
	if err != nil {
		return rows[T]{}, 0, 0, err
	}
	got := len(out.rows.v)
	want := min(size, max(total-sp.off, 0))
	if first && got < want && got > 0 {
		size, want = got, got // Jamf clamped the page size: use its size from now on
	}
	if got < want {
		return rows[T]{}, 0, 0, pageError("list inventory", inventoryPath, fmt.Errorf("totalCount is %d, but the page from row %d holds %d rows instead of %d: the listing is incomplete", total, sp.off, got, want))
	}
	return out.page(), size, total, nil
}

// shrinkable reports whether a smaller page may succeed where this one failed: a server error, a gateway
// page, a timeout, a reset connection or a body over the cap.
func shrinkable(err error) bool {
	var a *APIError
	var h *HTMLError
	var t *TransportError
	switch {
	case errors.As(err, &a):
		return a.StatusCode >= 500
	case errors.As(err, &h):
		return h.StatusCode >= 500
	case errors.As(err, &t):
		return t.MaybeSent
	}
	return false
}

// checkCount rejects a totalCount no listing should believe.
func checkCount(op, path string, n int64) (int, error) {
	if n < 0 || n > MaxListCount {
		return 0, pageError(op, path, fmt.Errorf("totalCount %d is not a plausible count (0 to %d)", n, MaxListCount))
	}
	return int(n), nil
}

func pageError(op, path string, err error) error {
	return &DecodeError{Op: op, Method: http.MethodGet, Path: path, StatusCode: http.StatusOK, Err: err}
}
