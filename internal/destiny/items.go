package destiny

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

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
	// SiteShortName is the owning site's short name when known (from the query or from Sites).
	SiteShortName string
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

// Wire form (resources-api.yaml ItemCollection example).
type itemCollection struct {
	Value    []wireItem `json:"value"`
	NextLink string     `json:"@nextLink"`
}

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
	if f, err := n.Float64(); err == nil {
		return int(f)
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

func (w *wireItem) item(serialField string) Item {
	it := Item{
		ID:               atoi(w.ID),
		GUID:             w.GUID,
		Barcode:          w.Barcode,
		Status:           strings.ToLower(strings.TrimSpace(w.Status)),
		ResourceTypeID:   atoi(w.ResourceType.ID),
		ResourceTypeGUID: w.ResourceType.GUID,
		ResourceType:     w.ResourceType.Name,
		ResourceID:       atoi(w.Resource.ID),
		ResourceName:     w.Resource.Name,
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
		it.SiteID, it.SiteGUID = atoi(w.Site.InternalID), w.Site.GUID
	}
	if co := w.Checkout; co != nil && (co.DistrictID != "" || co.PatronID != "" || co.PatronGUID != "") {
		it.Checkout = &Checkout{
			PatronID: atoi(co.PatronID), PatronGUID: co.PatronGUID, DistrictID: co.DistrictID,
			FirstName: co.FirstName, MiddleName: co.MiddleName, LastName: co.LastName, Email: co.EmailAddress1,
			DateOut: parseTime(co.DateOut), DateDue: parseTime(co.DateDue),
		}
	}
	return it
}

// itemSource is one (resource type, site) listing.
type itemSource struct {
	resourceType string
	site         string
}

func (s itemSource) subject() string {
	if s.site == "" {
		return "resource type " + s.resourceType
	}
	return "resource type " + s.resourceType + ", site " + s.site
}

// maxPagesSlack bounds a sequential listing beyond the counted total, so a server that ignores
// $skip cannot keep the client paging forever.
const maxPagesSlack = 1000

// ListItems lists the items of q.ResourceTypes (per site when q.SiteShortNames is set) with their
// current checkouts, deduplicated by item id and sorted by id.
//
// Paging: each (type, site) listing first asks $count=true (a plain-text integer), then fetches the
// ceil(count/PageSize) pages concurrently (at most Concurrency requests in flight for the whole call),
// each built from $top/$skip. @nextLink is never followed as given: real servers return it relative,
// without the /materials prefix, with an empty $orderby and without includeCurrentCheckout. If the
// last counted page comes back full (items were added while listing), pages continue sequentially
// until a short or empty page. If $count is refused or unreadable, the listing is sequential from
// $skip=0 until a short or empty page. A page that repeats the previous page's first id (a server
// ignoring $skip, or a looping link) is a KindMalformed error rather than an endless loop.
func (c *Client) ListItems(ctx context.Context, q ItemQuery) ([]Item, error) {
	if len(q.ResourceTypes) == 0 {
		return nil, &Error{Op: "list items", Kind: KindBadRequest, Message: "no resource types given"}
	}
	field := strings.TrimSpace(q.SerialField)
	if field == "" {
		field = DefaultSerialField
	}
	var sources []itemSource
	for _, rt := range q.ResourceTypes {
		if len(q.SiteShortNames) == 0 {
			sources = append(sources, itemSource{resourceType: rt})
		}
		for _, site := range q.SiteShortNames {
			sources = append(sources, itemSource{resourceType: rt, site: site})
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	l := &lister{c: c, field: field, sem: make(chan struct{}, c.cfg.Concurrency), cancel: cancel}
	var wg sync.WaitGroup
	for _, src := range sources {
		wg.Go(func() { l.listSource(ctx, src) })
	}
	wg.Wait()
	if l.err != nil {
		return nil, l.err
	}

	var siteNames map[int]string
	if len(q.SiteShortNames) == 0 {
		idx, err := c.siteIndex(ctx)
		if err != nil {
			return nil, err
		}
		siteNames = idx.byID
	}
	byID := make(map[int]int, len(l.items))
	out := make([]Item, 0, len(l.items))
	for _, it := range l.items {
		if _, dup := byID[it.ID]; dup {
			continue
		}
		if it.SiteShortName == "" && siteNames != nil {
			it.SiteShortName = siteNames[it.SiteID]
		}
		byID[it.ID] = len(out)
		out = append(out, it)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

type lister struct {
	c      *Client
	field  string
	sem    chan struct{}
	cancel context.CancelFunc

	mu    sync.Mutex
	items []Item
	err   error
}

func (l *lister) fail(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err == nil {
		l.err = err
		l.cancel()
	}
}

func (l *lister) add(items []Item) {
	l.mu.Lock()
	l.items = append(l.items, items...)
	l.mu.Unlock()
}

func (l *lister) acquire(ctx context.Context) bool {
	select {
	case l.sem <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

func (l *lister) release() { <-l.sem }

func (l *lister) path(src itemSource) string {
	segs := strings.Split(strings.Trim(src.resourceType, "/"), "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return "/materials/resourcetypes/" + strings.Join(segs, "/") + "/items"
}

func (l *lister) query(src itemSource) url.Values {
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

func (l *lister) listSource(ctx context.Context, src itemSource) {
	// The first page first: most sources (one resource type at one site) fit in one page, which then
	// answers everything in one call. Only a full first page asks for the count, to fetch the rest at once.
	size := l.c.cfg.PageSize
	first, _, err := l.page(ctx, src, 0)
	if err != nil {
		l.fail(err)
		return
	}
	if len(first) < size {
		l.add(first)
		return
	}
	total, err := l.count(ctx, src)
	if err != nil {
		if e, ok := err.(*Error); ok && (e.Kind == KindBadRequest || e.Kind == KindMalformed) {
			l.add(first)
			l.sequential(ctx, src, len(first), -1, first[0].ID)
			return
		}
		l.fail(err)
		return
	}
	pages := max((total+size-1)/size, 1)
	var wg sync.WaitGroup
	results := make([][]Item, pages)
	results[0] = first
	for p := 1; p < pages; p++ {
		wg.Go(func() {
			items, _, err := l.page(ctx, src, p*size)
			if err != nil {
				l.fail(err)
				return
			}
			results[p] = items
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return
	}
	// Pages are ordered by id: a page that does not start after the previous page's start means the
	// server ignored $skip (a deletion while listing shifts a page by a few items, never back to the start).
	for p := 1; p < pages; p++ {
		prev, cur := results[p-1], results[p]
		if len(prev) > 0 && len(cur) > 0 && cur[0].ID <= prev[0].ID {
			l.fail(&Error{Op: "list items", Subject: src.subject(), Kind: KindMalformed, StatusCode: http.StatusOK,
				Message: fmt.Sprintf("page at $skip=%d does not follow the page before it (the server ignores $skip or $orderby)", p*size)})
			return
		}
	}
	for _, items := range results {
		l.add(items)
	}
	if last := results[pages-1]; len(last) == size {
		// More items than counted (added while listing): continue until a short page.
		l.sequential(ctx, src, pages*size, total, last[0].ID)
	}
}

// sequential pages from skip until a short or empty page; prevFirst is the first id of the page before
// (-1: none), to notice a server that ignores $skip.
func (l *lister) sequential(ctx context.Context, src itemSource, skip, total, prevFirst int) {
	size := l.c.cfg.PageSize
	limit := maxPagesSlack
	if total >= 0 {
		limit += total / size
	}
	for n := 0; n < limit; n++ {
		items, _, err := l.page(ctx, src, skip)
		if err != nil {
			l.fail(err)
			return
		}
		if len(items) > 0 && prevFirst >= 0 && items[0].ID <= prevFirst {
			l.fail(&Error{Op: "list items", Subject: src.subject(), Kind: KindMalformed, StatusCode: http.StatusOK,
				Message: fmt.Sprintf("page at $skip=%d repeats the previous page (the server ignores $skip)", skip)})
			return
		}
		l.add(items)
		if len(items) < size {
			return
		}
		prevFirst = items[0].ID
		skip += len(items)
	}
	l.fail(&Error{Op: "list items", Subject: src.subject(), Kind: KindMalformed,
		Message: fmt.Sprintf("more than %d pages of %d items: giving up", limit, size)})
}

func (l *lister) count(ctx context.Context, src itemSource) (int, error) {
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
	s := strings.TrimSpace(string(body))
	n, perr := strconv.Atoi(s)
	if perr != nil || n < 0 {
		return 0, &Error{Op: "count items", Subject: src.subject(), Kind: KindMalformed, StatusCode: http.StatusOK,
			Message: "$count answer is not an integer: " + httpx.Snippet(body, 60)}
	}
	return n, nil
}

func (l *lister) page(ctx context.Context, src itemSource, skip int) ([]Item, string, error) {
	if !l.acquire(ctx) {
		return nil, "", &Error{Op: "list items", Subject: src.subject(), Kind: KindCanceled, Err: ctx.Err()}
	}
	defer l.release()
	q := l.query(src)
	q.Set("$top", strconv.Itoa(l.c.cfg.PageSize))
	q.Set("$skip", strconv.Itoa(skip))
	body, _, err := l.c.get(ctx, "list items", src.subject(), l.path(src), q, ServiceResources)
	if err != nil {
		return nil, "", err
	}
	var coll itemCollection
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&coll); err != nil {
		return nil, "", &Error{Op: "list items", Subject: fmt.Sprintf("%s, $skip=%d", src.subject(), skip), Kind: KindMalformed,
			StatusCode: http.StatusOK, Message: "item page is not valid JSON", Err: err}
	}
	if coll.Value == nil && !bytes.Contains(body, []byte(`"value"`)) {
		return nil, "", &Error{Op: "list items", Subject: fmt.Sprintf("%s, $skip=%d", src.subject(), skip), Kind: KindMalformed,
			StatusCode: http.StatusOK, Message: "item page has no \"value\" list: " + httpx.Snippet(body, 80)}
	}
	items := make([]Item, 0, len(coll.Value))
	for i := range coll.Value {
		it := coll.Value[i].item(l.field)
		if it.ID == 0 && it.GUID == "" {
			return nil, "", &Error{Op: "list items", Subject: fmt.Sprintf("%s, $skip=%d", src.subject(), skip), Kind: KindMalformed,
				StatusCode: http.StatusOK, Message: fmt.Sprintf("item %d of the page has neither id nor guid", i)}
		}
		it.SiteShortName = src.site
		items = append(items, it)
	}
	return items, coll.NextLink, nil
}
