package destiny

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unique"

	"github.com/k12dev/devicesync-operator/internal/httpx"
	"github.com/k12dev/devicesync-operator/internal/serial"
)

// DefaultSerialField is the item field districts keep serial numbers in when the top-level
// serialNumber is empty.
const DefaultSerialField = "Serial Number"

// ItemQuery says which items to list.
type ItemQuery struct {
	// ResourceTypes are resource type names (a hierarchical name is "Parent/Child"), ids or GUIDs.
	ResourceTypes []string
	// SiteShortNames limits the listing to these sites; empty lists every site.
	SiteShortNames []string
	// SerialField is the item field holding the serial when serialNumber is empty (default "Serial Number").
	SerialField string
}

// Item is one Destiny copy (one physical device).
type Item struct {
	ID      int
	GUID    string
	Barcode string
	// RawSerial is the serial as Destiny holds it, for reports; Serial is serial.Normalize(RawSerial),
	// "" when the item has none. SerialSource is "serialNumber", the item field name, or "".
	RawSerial    string
	Serial       string
	SerialSource string
	// Status is lower case: "available", "checked out", "lost", "stolen", "in transit", ...
	Status           string
	ResourceTypeID   int
	ResourceTypeGUID string
	ResourceType     string
	ResourceID       int
	ResourceName     string
	SiteID           int
	SiteGUID         string
	// SiteShortName is the short name of the site the item's body names (site.internalId or site.guid,
	// looked up in Sites); "" when the item names no site or one Sites does not know.
	SiteShortName string
	// QueryResourceType is the ItemQuery.ResourceTypes entry the item was listed under, as the policy
	// wrote it ("iPad" or "Resources/Technology/iPad").
	QueryResourceType string
	// Checkout is the current checkout; nil when the item is not checked out.
	Checkout *Checkout
}

// Checkout is the current checkout of an item as Destiny reports it (no patron type or status:
// those come from PatronStatus).
type Checkout struct {
	PatronID   int
	PatronGUID string
	DistrictID string
	FirstName  string
	MiddleName string
	LastName   string
	Email      string
	DateOut    time.Time
	DateDue    time.Time
}

// Wire form (resources-api.yaml ItemCollection example): {"value": [item, ...], "@nextLink": "..."}, decoded
// one item at a time by decodeItems.

type wireRef struct {
	ID   json.Number `json:"id"`
	GUID string      `json:"guid"`
	Name string      `json:"name"`
}

type wireItem struct {
	ID           json.Number `json:"id"`
	GUID         string      `json:"guid"`
	Barcode      string      `json:"barcode"`
	SerialNumber string      `json:"serialNumber"`
	Status       string      `json:"status"`
	ResourceType wireRef     `json:"resourceType"`
	Resource     wireRef     `json:"resource"`
	Site         *struct {
		InternalID json.Number `json:"internalId"`
		GUID       string      `json:"guid"`
	} `json:"site"`
	Checkout *struct {
		PatronID      json.Number `json:"patronId"`
		PatronGUID    string      `json:"patronGUID"`
		DistrictID    string      `json:"districtId"`
		LastName      string      `json:"lastName"`
		FirstName     string      `json:"firstName"`
		MiddleName    string      `json:"middleName"`
		EmailAddress1 string      `json:"emailAddress1"`
		DateOut       string      `json:"dateOut"`
		DateDue       string      `json:"dateDue"`
	} `json:"checkout"`
	ItemFields []struct {
		ID    json.Number `json:"id"`
		Name  string      `json:"name"`
		Value any         `json:"value"`
	} `json:"itemFields"`
}

func atoi(n json.Number) int {
	if n == "" {
		return 0
	}
	if i, err := strconv.Atoi(string(n)); err == nil {
		return i
	}
	return 0
}

// parseTime accepts the spec's '2020-10-21T13:00:00.0Z', RFC 3339, and a bare date.
func parseTime(s string) time.Time {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

// intern returns the canonical copy of a value many items share (a status, a resource type, a site):
// a district's 50,000 items then hold a handful of such strings instead of 50,000 copies of each.
func intern(s string) string {
	if s == "" {
		return ""
	}
	return unique.Make(s).Value()
}

// item converts one wire item; an item without a positive integer id or without a status is an error.
func (w *wireItem) item(serialField string) (Item, error) {
	id, err := strconv.Atoi(string(w.ID))
	if err != nil || id <= 0 {
		return Item{}, fmt.Errorf("id %q is not a positive integer", string(w.ID))
	}
	if strings.TrimSpace(w.Status) == "" {
		return Item{}, fmt.Errorf("item %d has no status", id)
	}
	it := Item{
		ID:               id,
		GUID:             w.GUID,
		Barcode:          w.Barcode,
		Status:           intern(strings.ToLower(strings.TrimSpace(w.Status))),
		ResourceTypeID:   atoi(w.ResourceType.ID),
		ResourceTypeGUID: intern(w.ResourceType.GUID),
		ResourceType:     intern(w.ResourceType.Name),
		ResourceID:       atoi(w.Resource.ID),
		ResourceName:     intern(w.Resource.Name),
	}
	if s := serial.Normalize(w.SerialNumber); s != "" {
		it.RawSerial, it.Serial, it.SerialSource = w.SerialNumber, s, "serialNumber"
	} else {
		for _, f := range w.ItemFields {
			if !strings.EqualFold(strings.TrimSpace(f.Name), serialField) {
				continue
			}
			var raw string
			switch v := f.Value.(type) {
			case string:
				raw = v
			case float64:
				raw = strconv.FormatFloat(v, 'f', -1, 64)
			}
			if s := serial.Normalize(raw); s != "" {
				it.RawSerial, it.Serial, it.SerialSource = raw, s, f.Name
				break
			}
		}
	}
	if w.Site != nil {
		it.SiteID, it.SiteGUID = atoi(w.Site.InternalID), intern(w.Site.GUID)
	}
	if co := w.Checkout; co != nil && (co.DistrictID != "" || co.PatronID != "" || co.PatronGUID != "") {
		it.Checkout = &Checkout{
			PatronID: atoi(co.PatronID), PatronGUID: co.PatronGUID, DistrictID: co.DistrictID,
			FirstName: co.FirstName, MiddleName: co.MiddleName, LastName: co.LastName, Email: co.EmailAddress1,
			DateOut: parseTime(co.DateOut), DateDue: parseTime(co.DateDue),
		}
	}
	return it, nil
}

// itemSource is one (resource type, site) listing.
type itemSource struct {
	// name is the ItemQuery.ResourceTypes entry, rt what it resolved to.
	name string
	rt   ResourceType
	// site is the requested site's short name ("" for every site).
	site string
}

func (s itemSource) subject() string {
	sub := fmt.Sprintf("resource type %s (id %d)", s.rt.Path, s.rt.ID)
	if s.site != "" {
		sub += ", site " + s.site
	}
	return sub
}

// MaxItemCount is the largest $count the client believes: a district has tens of thousands of devices,
// and a count beyond this is a broken answer, never a reason to page for ever or to allocate.
const MaxItemCount = 10_000_000

// maxPagesPerSource bounds the pages one listing may take (a server capping pages at a handful of
// items must not turn one listing into millions of requests).
const maxPagesPerSource = 100_000

// maxPagesSlack bounds a sequential listing beyond the counted total, so a server that ignores
// $skip cannot keep the client paging forever.
const maxPagesSlack = 1000

// ListItems lists the items of q.ResourceTypes (per site when q.SiteShortNames is set) with their
// current checkouts, deduplicated by item id and sorted by id.
//
// Resource types are resolved once per call from the hierarchy (ResolveResourceTypes) and listed by
// id: a real server wants a full hierarchical path for a name. Sites are read once per client (Sites):
// an item's site is the one in its body (site.internalId / site.guid), never the filter that was sent,
// and an answer with an item of another site than the one asked for fails the read.
//
// Paging: each (type, site) listing asks its first page and $count=true (a plain-text integer) at the
// same time. A short page ends a listing only when the count agrees: a server may return fewer than
// $top (it has its own cap), and the next pages then use the server's page length. The rest of the
// counted pages are fetched by a pool of at most Concurrency workers (one semaphore bounds the whole
// call), each built from $top/$skip; a page that comes back shorter than expected is completed from
// where it stopped. After the counted pages, a full last page or an @nextLink continues the listing
// sequentially, taking $skip from the link (real links are relative, lack the /materials prefix, and
// drop includeCurrentCheckout and $orderby, so only their $skip is used). A $count that is not an
// integer, negative, or above MaxItemCount, and a listing that ends short of its $count, fail the
// read with KindMalformed: nothing is written on a partial answer. A page that does not follow the
// page before it (a server ignoring $skip, or a looping link) is KindMalformed rather than a loop.
func (c *Client) ListItems(ctx context.Context, q ItemQuery) ([]Item, error) {
	return ListItemsAs(ctx, c, q, func(it *Item) Item { return *it })
}

// ListItemsAs is ListItems with each item converted by conv as its page is decoded: only conv's results
// are kept (with the item's id), never the page's wire form nor an Item, so a caller holding its own
// compact form of an item never holds the listing twice. The checks are ListItems': an item conv has
// seen may still belong to a listing that fails. conv must not keep it.
func ListItemsAs[T any](ctx context.Context, c *Client, q ItemQuery, conv func(it *Item) T) ([]T, error) {
	if len(q.ResourceTypes) == 0 {
		return nil, &Error{Op: "list items", Kind: KindBadRequest, Message: "no resource types given"}
	}
	field := strings.TrimSpace(q.SerialField)
	if field == "" {
		field = DefaultSerialField
	}
	types, err := c.ResolveResourceTypes(ctx, q.ResourceTypes)
	if err != nil {
		return nil, err
	}
	idx, err := c.siteIndex(ctx)
	if err != nil {
		return nil, err
	}
	var sites []string
	for _, name := range q.SiteShortNames {
		s, ok := idx.lookup(name)
		if !ok {
			return nil, &Error{Op: "list items", Subject: "site " + name, Kind: KindNotFound,
				Message: "no Destiny resource site has this short name or alias"}
		}
		sites = append(sites, s.ShortName)
	}
	var sources []itemSource
	seen := map[string]bool{}
	add := func(src itemSource) {
		key := strconv.Itoa(src.rt.ID) + "\x00" + strings.ToLower(src.site)
		if !seen[key] {
			seen[key] = true
			sources = append(sources, src)
		}
	}
	for i, rt := range types {
		if len(sites) == 0 {
			add(itemSource{name: q.ResourceTypes[i], rt: rt})
		}
		for _, site := range sites {
			add(itemSource{name: q.ResourceTypes[i], rt: rt, site: site})
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	l := &lister[T]{c: c, field: field, sites: idx, sem: make(chan struct{}, c.cfg.Concurrency), cancel: cancel, conv: conv}
	var wg sync.WaitGroup
	for _, src := range sources {
		wg.Go(func() { l.listSource(ctx, src) })
	}
	wg.Wait()
	if l.err != nil {
		return nil, l.err
	}
	return l.assemble(), nil
}

// assemble joins the pages into one exactly sized list sorted by id, in which an item listed twice
// (under two types or sites) keeps its first listing. Pages whose ids follow one another (the usual
// case: each listing is ordered by id) are copied in turn, each dropped once copied; otherwise the items
// are sorted by id, stably.
func (l *lister[T]) assemble() []T {
	pages := l.pages[:0]
	n := 0
	for _, p := range l.pages {
		if len(p.ids) > 0 {
			pages = append(pages, p)
			n += len(p.ids)
		}
	}
	clear(l.pages[len(pages):])
	l.pages = nil
	sort.SliceStable(pages, func(i, j int) bool { return pages[i].ids[0] < pages[j].ids[0] })
	inOrder, last := true, 0
	for _, p := range pages {
		for _, id := range p.ids {
			inOrder = inOrder && id >= last
			last = id
		}
	}
	out := make([]T, 0, n)
	if inOrder {
		last = 0
		for k := range pages {
			for i, id := range pages[k].ids {
				if id != last {
					out = append(out, pages[k].items[i])
				}
				last = id
			}
			pages[k] = itemPage[T]{}
		}
		return slices.Clip(out)
	}
	type ref struct{ id, page, i int }
	refs := make([]ref, 0, n)
	for k, p := range pages {
		for i, id := range p.ids {
			refs = append(refs, ref{id, k, i})
		}
	}
	sort.SliceStable(refs, func(a, b int) bool { return refs[a].id < refs[b].id })
	for k, r := range refs {
		if k == 0 || r.id != refs[k-1].id {
			out = append(out, pages[r.page].items[r.i])
		}
	}
	return slices.Clip(out)
}

type lister[T any] struct {
	c      *Client
	field  string
	sites  *siteIndex
	sem    chan struct{}
	cancel context.CancelFunc
	conv   func(*Item) T

	mu    sync.Mutex
	pages []itemPage[T] // each page's items, converted as decoded
	err   error
}

func (l *lister[T]) fail(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err == nil {
		l.err = err
		l.cancel()
	}
}

func (l *lister[T]) failed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err != nil
}

func (l *lister[T]) add(p itemPage[T]) {
	l.mu.Lock()
	l.pages = append(l.pages, itemPage[T]{ids: p.ids, items: p.items})
	l.mu.Unlock()
}

func (l *lister[T]) acquire(ctx context.Context) bool {
	select {
	case l.sem <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

func (l *lister[T]) release() { <-l.sem }

func (l *lister[T]) path(src itemSource) string {
	return "/materials/resourcetypes/" + strconv.Itoa(src.rt.ID) + "/items"
}

func (l *lister[T]) query(src itemSource) url.Values {
	q := url.Values{
		"includeCurrentCheckout": {"true"},
		"excludeFields":          {"itemNotes,historicalNotes"},
		"$orderby":               {"id"},
	}
	if src.site != "" {
		q.Set("siteShortName", src.site)
	}
	return q
}

// itemPage is one answer of the listing: its items, converted, and their ids.
type itemPage[T any] struct {
	skip  int
	ids   []int
	items []T
	next  string
}

func (l *lister[T]) malformed(src itemSource, format string, args ...any) {
	l.fail(&Error{Op: "list items", Subject: src.subject(), Kind: KindMalformed, StatusCode: http.StatusOK,
		Message: fmt.Sprintf(format, args...)})
}

func (l *lister[T]) listSource(ctx context.Context, src itemSource) {
	size := l.c.cfg.PageSize
	var first itemPage[T]
	var total int
	var ferr, cerr error
	var wg sync.WaitGroup
	wg.Go(func() { first, ferr = l.page(ctx, src, 0) })
	wg.Go(func() { total, cerr = l.count(ctx, src) })
	wg.Wait()
	if ferr != nil {
		l.fail(ferr)
		return
	}
	if cerr != nil {
		l.fail(cerr)
		return
	}
	pages := []itemPage[T]{first}
	// The server's page length: $top, or fewer when it caps pages itself.
	stride := size
	if n := len(first.ids); n < size && n < total {
		if n == 0 {
			l.malformed(src, "the first page is empty but $count is %d", total)
			return
		}
		stride = n
	}
	if total > len(first.ids) {
		n := (total - 1) / stride // pages after the first
		if n > maxPagesPerSource {
			l.malformed(src, "$count %d in pages of %d items would take %d requests: refusing", total, stride, n)
			return
		}
		rest, ok := l.counted(ctx, src, stride, total)
		if !ok {
			return
		}
		pages = append(pages, rest...)
	}
	sort.Slice(pages, func(i, j int) bool { return pages[i].skip < pages[j].skip })
	// Pages are ordered by id: a page that does not start after the previous page's start means the
	// server ignored $skip (a deletion while listing shifts a page by a few items, never back to the start).
	for p := 1; p < len(pages); p++ {
		prev, cur := pages[p-1].ids, pages[p].ids
		if len(prev) > 0 && len(cur) > 0 && cur[0] <= prev[0] {
			l.malformed(src, "page at $skip=%d does not follow the page before it (the server ignores $skip or $orderby)", pages[p].skip)
			return
		}
	}
	last := pages[len(pages)-1]
	if len(last.ids) >= stride || nextSkip(last.next) > last.skip {
		more, ok := l.sequential(ctx, src, last, stride, total)
		if !ok {
			return
		}
		pages = append(pages, more...)
	}
	ids := map[int]struct{}{}
	for _, p := range pages {
		for _, id := range p.ids {
			ids[id] = struct{}{}
		}
	}
	if len(ids) < total {
		l.malformed(src, "the listing ended at %d items but $count is %d: refusing a partial answer", len(ids), total)
		return
	}
	for _, p := range pages {
		l.add(p)
	}
}

// counted fetches the pages after the first that $count promises, stride items apart, with a fixed
// pool of workers. A page shorter than expected is completed from where it stopped.
func (l *lister[T]) counted(ctx context.Context, src itemSource, stride, total int) ([]itemPage[T], bool) {
	skips := make(chan int)
	go func() {
		defer close(skips)
		for skip := stride; skip < total; skip += stride {
			select {
			case skips <- skip:
			case <-ctx.Done():
				return
			}
		}
	}()
	var mu sync.Mutex
	var out []itemPage[T]
	var wg sync.WaitGroup
	for range min(l.c.cfg.Concurrency, (total-1)/stride) {
		wg.Go(func() {
			for skip := range skips {
				if ctx.Err() != nil {
					continue
				}
				want := min(stride, total-skip)
				p, err := l.page(ctx, src, skip)
				for err == nil && len(p.ids) < want {
					// Completed from where it stopped: a server may end a page early.
					var more itemPage[T]
					more, err = l.page(ctx, src, skip+len(p.ids))
					if err != nil || len(more.ids) == 0 {
						break
					}
					p.ids, p.items = append(p.ids, more.ids...), append(p.items, more.items...)
					p.next = more.next
				}
				if err != nil {
					l.fail(err)
					continue
				}
				if len(p.ids) == 0 {
					// Nothing where the count promised items: the listing cannot reach its count.
					l.malformed(src, "page at $skip=%d is empty but $count is %d: refusing a partial answer", skip, total)
					continue
				}
				mu.Lock()
				out = append(out, p)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return out, ctx.Err() == nil && !l.failed()
}

// sequential continues after the page last while pages come back full or the server links onward.
func (l *lister[T]) sequential(ctx context.Context, src itemSource, last itemPage[T], stride, total int) ([]itemPage[T], bool) {
	limit := maxPagesSlack + total/stride
	var out []itemPage[T]
	for range limit {
		skip := last.skip + len(last.ids)
		if s := nextSkip(last.next); s > last.skip {
			skip = s
		} else if len(last.ids) < stride {
			return out, true
		}
		p, err := l.page(ctx, src, skip)
		if err != nil {
			l.fail(err)
			return nil, false
		}
		if len(p.ids) == 0 {
			return out, true
		}
		if len(last.ids) > 0 && p.ids[0] <= last.ids[0] {
			l.malformed(src, "page at $skip=%d repeats the previous page (the server ignores $skip)", skip)
			return nil, false
		}
		out = append(out, p)
		last = p
	}
	l.malformed(src, "more than %d pages of %d items: giving up", limit, stride)
	return nil, false
}

// nextSkip is the $skip of an @nextLink, or -1.
func nextSkip(link string) int {
	if link == "" {
		return -1
	}
	u, err := url.Parse(link)
	if err != nil {
		return -1
	}
	n, err := strconv.Atoi(u.Query().Get("$skip"))
	if err != nil || n < 0 {
		return -1
	}
	return n
}

func (l *lister[T]) count(ctx context.Context, src itemSource) (int, error) {
	if !l.acquire(ctx) {
		return 0, &Error{Op: "count items", Subject: src.subject(), Kind: KindCanceled, Err: ctx.Err()}
	}
	defer l.release()
	q := l.query(src)
	q.Del("$orderby")
	q.Del("excludeFields")
	q.Set("$count", "true")
	body, _, err := l.c.get(ctx, "count items", src.subject(), l.path(src), q, ServiceResources)
	if err != nil {
		return 0, err
	}
	return parseCount(body, src.subject())
}

// parseCount reads a $count answer: a plain-text integer from 0 to MaxItemCount.
func parseCount(body []byte, subject string) (int, error) {
	s := strings.TrimSpace(string(body))
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, &Error{Op: "count items", Subject: subject, Kind: KindMalformed, StatusCode: http.StatusOK,
			Message: "$count answer is not an integer: " + httpx.Unrecognized(http.StatusOK, "", len(body))}
	}
	if n < 0 || n > MaxItemCount {
		return 0, &Error{Op: "count items", Subject: subject, Kind: KindMalformed, StatusCode: http.StatusOK,
			Message: fmt.Sprintf("$count answer %d is outside 0..%d: refusing it", n, MaxItemCount)}
	}
	return int(n), nil
}

func (l *lister[T]) page(ctx context.Context, src itemSource, skip int) (itemPage[T], error) {
	if !l.acquire(ctx) {
		return itemPage[T]{}, &Error{Op: "list items", Subject: src.subject(), Kind: KindCanceled, Err: ctx.Err()}
	}
	defer l.release()
	q := l.query(src)
	q.Set("$top", strconv.Itoa(l.c.cfg.PageSize))
	q.Set("$skip", strconv.Itoa(skip))
	subject := fmt.Sprintf("%s, $skip=%d", src.subject(), skip)
	// Sized by the page we asked for ($top), never by anything the server sent.
	p := itemPage[T]{skip: skip, ids: make([]int, 0, l.c.cfg.PageSize), items: make([]T, 0, l.c.cfg.PageSize)}
	each := func(it *Item) error {
		it.QueryResourceType = src.name
		it.SiteShortName = l.sites.shortName(it.SiteID, it.SiteGUID)
		if src.site != "" && (it.SiteID != 0 || it.SiteGUID != "") && !strings.EqualFold(it.SiteShortName, src.site) {
			return &Error{Op: "list items", Subject: subject, Kind: KindMalformed, StatusCode: http.StatusOK,
				Message: fmt.Sprintf("item %d belongs to site %s (internalId %d), not to the site %s asked for: refusing the answer",
					it.ID, orUnknown(it.SiteShortName), it.SiteID, src.site)}
		}
		p.ids, p.items = append(p.ids, it.ID), append(p.items, l.conv(it))
		return nil
	}
	// The page is decoded as it arrives; an attempt that breaks off is asked again from the start, so
	// each attempt starts from an empty page: what a broken attempt handed out is dropped, never kept twice.
	err := l.c.getStream(ctx, "list items", src.subject(), l.path(src), q, ServiceResources, func(br *httpx.BodyReader) error {
		clear(p.items)
		p.ids, p.items, p.next = p.ids[:0], p.items[:0], ""
		var err error
		p.next, err = decodeItems(br, l.field, subject, each)
		return err
	})
	if err != nil {
		return itemPage[T]{}, err
	}
	if len(p.ids) < cap(p.ids)/2 { // a short page (the last one, or a server's own cap) keeps no spare room
		p.ids, p.items = slices.Clone(p.ids), slices.Clone(p.items)
	}
	return p, nil
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return strconv.Quote(s)
}

// decodeItemPage decodes one ItemCollection into Items (see decodeItems).
func decodeItemPage(body []byte, serialField, subject string) ([]Item, string, error) {
	var items []Item
	next, err := decodeItems(httpx.NewBodyReader(bytes.NewReader(body), int64(len(body))), serialField, subject, func(it *Item) error {
		items = append(items, *it)
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	if items == nil {
		items = []Item{}
	}
	return items, next, nil
}

// decodeItems decodes one ItemCollection from body as it is read, handing each item to each as soon as
// it is decoded: the page is never held whole, neither as bytes nor as a list of wire items, only one
// wire item at a time. Every item has an id (a positive integer) and a known status; an answer without a
// "value" list, or with two, is malformed. An error from each stops the decoding: an *Error is returned
// as it is, another names the item. A body that is not one valid JSON object fails too, even after items
// were handed out: the caller drops the page. A failed read of body ends the decoding with an error
// wrapping the read's (body.Err tells a broken body from bad JSON).
func decodeItems(body *httpx.BodyReader, serialField, subject string, each func(*Item) error) (string, error) {
	malformed := func(msg string, err error) error {
		return &Error{Op: "list items", Subject: subject, Kind: KindMalformed, StatusCode: http.StatusOK, Message: msg, Err: err}
	}
	invalid := func(err error) error { return malformed("item page is not valid JSON", err) }
	var next string
	lists := 0
	err := httpx.DecodeObject(body, func(dec *json.Decoder, key string) error {
		// Keys match as encoding/json matches struct fields: case-insensitively.
		switch {
		case strings.EqualFold(key, "value"):
			if lists > 0 {
				return malformed(fmt.Sprintf("item page has more than one \"value\" list (the second within its first %d bytes)", body.N()), nil)
			}
			n, err := decodeItemList(dec, serialField, each)
			var e *Error
			var ni *notItemError
			switch {
			case errors.As(err, &e):
				return err
			case errors.As(err, &ni):
				return malformed(fmt.Sprintf("item %d of the page: %v", n, ni.err), nil)
			case err != nil:
				return invalid(err)
			}
			if n >= 0 {
				lists++
			}
			return nil
		case strings.EqualFold(key, "@nextLink"):
			var link *string
			if err := dec.Decode(&link); err != nil {
				return invalid(err)
			}
			if link != nil {
				next = *link
			}
			return nil
		}
		return httpx.SkipValue(dec)
	})
	var e *Error
	switch {
	case errors.As(err, &e):
		return "", err
	case err != nil:
		return "", invalid(err)
	case lists == 0:
		return "", malformed("item page has no \"value\" list: "+httpx.Unrecognized(http.StatusOK, "application/json", int(body.N())), nil)
	}
	return next, nil
}

// notItemError is an item the client refuses (no id, no status) or the caller refused: decodeItems
// names its place in the page.
type notItemError struct{ err error }

func (e *notItemError) Error() string { return e.err.Error() }

// decodeItemList decodes the value of "value": a list of items, each handed to each as it is decoded,
// or null (n is then -1: no list). n is the number of items handed out.
func decodeItemList(dec *json.Decoder, serialField string, each func(*Item) error) (n int, err error) {
	ok, err := httpx.DecodeList(dec, "value", func(dec *json.Decoder) error {
		var w wireItem
		if err := dec.Decode(&w); err != nil {
			return err
		}
		it, err := w.item(serialField)
		if err != nil {
			return &notItemError{err}
		}
		if err := each(&it); err != nil {
			var e *Error
			if errors.As(err, &e) {
				return err
			}
			return &notItemError{err}
		}
		n++
		return nil
	})
	if !ok && err == nil {
		return -1, nil
	}
	return n, err
}
