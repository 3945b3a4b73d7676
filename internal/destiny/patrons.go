package destiny

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Destiny API account services (Destiny Setup > API) this client needs.
const (
	ServiceResources  = "Resources"
	ServicePatronInfo = "Patron Info"
)

// PatronState is a patron's status at a site, normalised from the patron import's letter or the word.
type PatronState string

const (
	PatronActive     PatronState = "Active"
	PatronInactive   PatronState = "Inactive"
	PatronRestricted PatronState = "Restricted"
)

// ParsePatronState accepts A/Active, I/Inactive, R/Restricted in any case.
func ParsePatronState(s string) (PatronState, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "a", "active":
		return PatronActive, true
	case "i", "inactive":
		return PatronInactive, true
	case "r", "restricted":
		return PatronRestricted, true
	}
	return "", false
}

// Patron is the answer of GET /circulation/patrons/{districtId}/status, reduced to what a run uses.
// Type, TypeID, Status and SiteID are those of the patron's primary site.
type Patron struct {
	DistrictID string
	InternalID int
	FirstName  string
	LastName   string
	Type       string
	TypeID     int
	Status     PatronState
	SiteID     int
	Sites      []PatronSite
}

// PatronSite is one of a patron's sites. RawStatus is the value as Destiny sent it.
type PatronSite struct {
	InternalID int
	Primary    bool
	Status     PatronState
	RawStatus  string
	Type       string
	TypeID     int
}

type wirePatron struct {
	DistrictID string      `json:"districtId"`
	InternalID json.Number `json:"internalId"`
	FirstName  string      `json:"firstName"`
	LastName   string      `json:"lastName"`
	Sites      []struct {
		InternalID  json.Number `json:"internalId"`
		PrimarySite bool        `json:"primarySite"`
		Status      flexName    `json:"status"`
		PatronType  flexName    `json:"patronType"`
	} `json:"sites"`
}

// flexName is a value whose exact shape the public material does not settle: a plain string ("A",
// "Student") or an object with an id and a name, code or value ({"id":1,"name":"Student"}).
type flexName struct {
	ID   int
	Name string
}

func (f *flexName) UnmarshalJSON(b []byte) error {
	*f = flexName{}
	var s string
	if json.Unmarshal(b, &s) == nil {
		f.Name = s
		return nil
	}
	var o struct {
		ID    json.Number `json:"id"`
		Name  string      `json:"name"`
		Code  string      `json:"code"`
		Value string      `json:"value"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&o); err != nil {
		return fmt.Errorf("want a string or an object with a name: %w", err)
	}
	f.ID = atoi(o.ID)
	f.Name = cmp.Or(o.Name, o.Code, o.Value)
	return nil
}

// BorrowerKey identifies the borrower of a checkout for lookups, caching and errors: the district id
// when the checkout has one, else "guid:" and the patron GUID, else "id:" and the patron id; "" when the
// checkout names no patron at all.
func BorrowerKey(co *Checkout) string {
	switch {
	case co == nil:
		return ""
	case strings.TrimSpace(co.DistrictID) != "":
		return strings.TrimSpace(co.DistrictID)
	case co.PatronGUID != "":
		return "guid:" + co.PatronGUID
	case co.PatronID > 0:
		return "id:" + strconv.Itoa(co.PatronID)
	}
	return ""
}

// PatronStatus looks one patron up: GET /circulation/patrons/{id}/status with id the district id (or
// another identifier the server accepts there).
func (c *Client) PatronStatus(ctx context.Context, districtID string) (*Patron, error) {
	if strings.TrimSpace(districtID) == "" {
		return nil, &Error{Op: "patron status", Kind: KindBadRequest, Message: "empty district id"}
	}
	return c.patronStatus(ctx, districtID, districtID, districtID)
}

// BorrowerStatus looks up the borrower of a checkout with the identifiers the checkout carries. Which
// identifier the path takes is not settled in the public material (clients use the district id; other
// {id} paths of the API take the database id or GUID), so it asks by district id first and, on a 404,
// by the patron GUID and then the patron id. A patron no identifier finds is KindNotFound naming every
// identifier tried; the error's Subject is BorrowerKey(co).
func (c *Client) BorrowerStatus(ctx context.Context, co *Checkout) (*Patron, error) {
	key := BorrowerKey(co)
	if key == "" {
		return nil, &Error{Op: "patron status", Kind: KindInvalidData, Message: "the checkout names no patron (no district id, GUID or id)"}
	}
	var tried []string
	var ids []string
	if d := strings.TrimSpace(co.DistrictID); d != "" {
		ids = append(ids, d)
		tried = append(tried, "district id "+d)
	}
	if co.PatronGUID != "" {
		ids = append(ids, co.PatronGUID)
		tried = append(tried, "GUID "+co.PatronGUID)
	}
	if co.PatronID > 0 {
		ids = append(ids, strconv.Itoa(co.PatronID))
		tried = append(tried, "patron id "+strconv.Itoa(co.PatronID))
	}
	var last error
	for _, id := range ids {
		p, err := c.patronStatus(ctx, key, id, strings.TrimSpace(co.DistrictID))
		if err == nil {
			return p, nil
		}
		if !errors.Is(err, KindNotFound) {
			return nil, err
		}
		last = err
	}
	e := &Error{Op: "patron status", Subject: key, Kind: KindNotFound, StatusCode: http.StatusNotFound,
		Message: "Destiny has no patron status for the borrower (asked by " + strings.Join(tried, ", ") + ")"}
	var le *Error
	if errors.As(last, &le) {
		e.Code, e.LogID = le.Code, le.LogID
	}
	return nil, e
}

// patronStatus asks for the status of the patron with path id id; districtID fills an answer without one.
func (c *Client) patronStatus(ctx context.Context, subject, id, districtID string) (*Patron, error) {
	const op = "patron status"
	body, _, err := c.get(ctx, op, subject, "/circulation/patrons/"+url.PathEscape(id)+"/status", nil, ServicePatronInfo)
	if err != nil {
		return nil, err
	}
	p, err := decodePatron(body, districtID)
	if err != nil {
		err.(*Error).Subject = subject
		return nil, err
	}
	return p, nil
}

// decodePatron decodes a patron status answer; districtID is used when the answer has none. It fails on
// invalid JSON, a patron without sites, and an unknown status at the primary site.
func decodePatron(body []byte, districtID string) (*Patron, error) {
	const op = "patron status"
	var w wirePatron
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, &Error{Op: op, Subject: districtID, Kind: KindMalformed, StatusCode: http.StatusOK, Message: "patron status is not valid JSON", Err: err}
	}
	if len(w.Sites) == 0 {
		return nil, &Error{Op: op, Subject: districtID, Kind: KindInvalidData, StatusCode: http.StatusOK, Message: "patron has no sites, so no type or status"}
	}
	p := &Patron{DistrictID: w.DistrictID, InternalID: atoi(w.InternalID), FirstName: w.FirstName, LastName: w.LastName}
	if p.DistrictID == "" {
		p.DistrictID = districtID
	}
	primary := 0
	for i, s := range w.Sites {
		st, _ := ParsePatronState(s.Status.Name)
		p.Sites = append(p.Sites, PatronSite{InternalID: atoi(s.InternalID), Primary: s.PrimarySite, Status: st,
			RawStatus: s.Status.Name, Type: strings.TrimSpace(s.PatronType.Name), TypeID: s.PatronType.ID})
		if s.PrimarySite && !w.Sites[primary].PrimarySite {
			primary = i
		}
	}
	ps := p.Sites[primary]
	if ps.Status == "" {
		return nil, &Error{Op: op, Subject: districtID, Kind: KindInvalidData, StatusCode: http.StatusOK,
			Message: fmt.Sprintf("unknown patron status %q at site %d (want A/Active, I/Inactive or R/Restricted)", ps.RawStatus, ps.InternalID)}
	}
	if ps.Type == "" {
		return nil, &Error{Op: op, Subject: districtID, Kind: KindInvalidData, StatusCode: http.StatusOK,
			Message: fmt.Sprintf("no patron type at site %d", ps.InternalID)}
	}
	p.Type, p.TypeID, p.Status, p.SiteID = ps.Type, ps.TypeID, ps.Status, ps.InternalID
	return p, nil
}

// PatronCache keeps patron lookups between runs, keyed by district id. An entry is reused while the
// borrower's set of checkouts (item id and dateOut) is unchanged and the entry is younger than
// MaxAge. It is safe for concurrent use.
//
// It is compact, since a district's cache holds one entry per borrower for a day: an entry keeps only
// what a run uses (the patron type, type id, status and site of the primary site, the type interned)
// and a 64-bit digest of the checkout key, never the decoded answer (names, other sites). Lookup
// returns a Patron with those fields and the district id.
type PatronCache struct {
	maxAge time.Duration
	now    func() time.Time

	mu      sync.Mutex
	entries map[string]patronEntry
	types   map[string]string // interned patron types
	hits    int
	misses  int
}

type patronEntry struct {
	sum     uint64 // checkoutSum of the borrower's checkout key
	fetched int64  // Unix nanoseconds
	PatronSummary
}

// CacheStats are a cache's counters since the last ResetStats.
type CacheStats struct {
	Hits, Misses, Entries int
}

// NewPatronCache returns an empty cache whose entries live at most maxAge (default 24h).
func NewPatronCache(maxAge time.Duration) *PatronCache {
	if maxAge <= 0 {
		maxAge = 24 * time.Hour
	}
	return &PatronCache{maxAge: maxAge, now: time.Now, entries: map[string]patronEntry{}, types: map[string]string{}}
}

// SetClock replaces the cache's clock (tests).
func (pc *PatronCache) SetClock(now func() time.Time) {
	pc.mu.Lock()
	pc.now = now
	pc.mu.Unlock()
}

// Lookup returns the cached patron when its checkout key matches and it is fresh, counting a hit or a miss.
func (pc *PatronCache) Lookup(districtID, checkoutKey string) (*Patron, bool) {
	s, ok := pc.lookup(districtID, checkoutKey)
	if !ok {
		return nil, false
	}
	return &Patron{DistrictID: districtID, Type: s.Type, TypeID: int(s.TypeID), Status: s.Status, SiteID: int(s.SiteID)}, true
}

func (pc *PatronCache) lookup(districtID, checkoutKey string) (PatronSummary, bool) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	e, ok := pc.entries[districtID]
	if ok && e.sum == checkoutSum(checkoutKey) && pc.now().Sub(time.Unix(0, e.fetched)) < pc.maxAge {
		pc.hits++
		return e.PatronSummary, true
	}
	pc.misses++
	return PatronSummary{}, false
}

// Store records a lookup (only what Lookup returns is kept).
func (pc *PatronCache) Store(districtID, checkoutKey string, p *Patron) {
	pc.store(districtID, checkoutKey, PatronSummary{Type: p.Type, Status: p.Status, TypeID: int32(p.TypeID), SiteID: int32(p.SiteID)})
}

func (pc *PatronCache) store(districtID, checkoutKey string, s PatronSummary) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	typ, ok := pc.types[s.Type]
	if !ok {
		typ = strings.Clone(s.Type)
		pc.types[typ] = typ
	}
	s.Type = typ
	pc.entries[strings.Clone(districtID)] = patronEntry{sum: checkoutSum(checkoutKey), fetched: pc.now().UnixNano(), PatronSummary: s}
}

// checkoutSum is the FNV-1a digest of a checkout key: two keys of one borrower that differ (an item
// returned or checked out again) differ here but for a 2^-64 chance, which would only reuse a patron's
// type and status for one more run.
func checkoutSum(key string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(key))
	return h.Sum64()
}

// Forget drops one entry.
func (pc *PatronCache) Forget(districtID string) {
	pc.mu.Lock()
	delete(pc.entries, districtID)
	pc.mu.Unlock()
}

// Prune drops entries older than MaxAge.
func (pc *PatronCache) Prune() {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	now := pc.now()
	for id, e := range pc.entries {
		if now.Sub(time.Unix(0, e.fetched)) >= pc.maxAge {
			delete(pc.entries, id)
		}
	}
}

// Stats returns the counters.
func (pc *PatronCache) Stats() CacheStats {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	return CacheStats{Hits: pc.hits, Misses: pc.misses, Entries: len(pc.entries)}
}

// ResetStats zeroes the hit and miss counters (at the start of a run).
func (pc *PatronCache) ResetStats() {
	pc.mu.Lock()
	pc.hits, pc.misses = 0, 0
	pc.mu.Unlock()
}

// CheckoutKey is the cache key of a borrower's checkouts: sorted item id and dateOut pairs.
func CheckoutKey(items []*Item) string {
	return checkoutKey(len(items), func(i int) (int, *Checkout) { return items[i].ID, items[i].Checkout })
}

func checkoutKey(n int, at func(i int) (int, *Checkout)) string {
	parts := make([]string, 0, n)
	for i := range n {
		id, co := at(i)
		out := ""
		if co != nil {
			out = strconv.FormatInt(co.DateOut.Unix(), 10)
		}
		parts = append(parts, strconv.Itoa(id)+"@"+out)
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// PatronSummary is what a run needs of a borrower's patron status, that of the primary site: what
// PatronsOf returns and PatronCache keeps.
type PatronSummary struct {
	// Type is interned: a district's borrowers share a handful of patron types.
	Type           string
	Status         PatronState
	TypeID, SiteID int32
}

func summarize(p *Patron) PatronSummary {
	return PatronSummary{Type: intern(p.Type), Status: p.Status, TypeID: int32(p.TypeID), SiteID: int32(p.SiteID)}
}

// Patrons looks up every distinct borrower of items once (BorrowerStatus), keyed by BorrowerKey (cache permitting; cache may be nil), with
// at most Concurrency requests in flight. A failure for one patron (not found, unknown status,
// malformed answer, a server error after retries) is returned in the error list and leaves that
// patron out of the map; the others are still looked up. A failure that would repeat for every
// patron (authentication, a missing Patron Info service, cancellation) stops the lookups and is
// patron is looked up, counting a miss, and returned once.
//
// A patron in the map holds only what PatronCache keeps: the type, type id, status and site of the
// primary site, and the borrower key as DistrictID (PatronStatus and BorrowerStatus return the whole
// answer).
func (c *Client) Patrons(ctx context.Context, cache *PatronCache, items []Item) (map[string]*Patron, []error) {
	sums, errs := c.PatronsOf(ctx, cache, len(items), func(i int, co *Checkout) (int, bool) {
		if items[i].Checkout == nil {
			return items[i].ID, false
		}
		*co = *items[i].Checkout
		return items[i].ID, true
	})
	out := make(map[string]*Patron, len(sums))
	for key, s := range sums {
		out[key] = &Patron{DistrictID: key, Type: s.Type, TypeID: int(s.TypeID), Status: s.Status, SiteID: int(s.SiteID)}
	}
	return out, errs
}

// PatronsOf is Patrons for n items held in the caller's own form, returning each borrower's
// PatronSummary by BorrowerKey: at(i, co) returns item i's id and whether it is checked out, and then
// sets *co to its checkout (all of it: co is reused). It is called from one goroutine, more than once
// for an item; co is never kept.
func (c *Client) PatronsOf(ctx context.Context, cache *PatronCache, n int, at func(i int, co *Checkout) (itemID int, ok bool)) (map[string]PatronSummary, []error) {
	borrowers := map[string][]int{} // borrower key -> indexes of its items
	var order []string
	var errs []error
	co := new(Checkout) // scratch
	for i := range n {
		itemID, ok := at(i, co)
		if !ok {
			continue
		}
		id := BorrowerKey(co)
		if id == "" {
			errs = append(errs, &Error{Op: "patron status", Subject: fmt.Sprintf("item %d", itemID), Kind: KindInvalidData,
				Message: "the checkout names no patron (no district id, GUID or id)"})
			continue
		}
		if _, seen := borrowers[id]; !seen {
			order = append(order, id)
		}
		borrowers[id] = append(borrowers[id], i)
	}
	if cache != nil {
		cache.Prune()
	}
	out := make(map[string]PatronSummary, len(order))
	// What a lookup needs of its borrower, so that the map of items by borrower is not held through
	// the lookups (a first run's take minutes).
	type lookup struct {
		id, key string
		first   int // the index of its first item
	}
	var todo []lookup
	for _, id := range order {
		idx := borrowers[id]
		key := checkoutKey(len(idx), func(k int) (int, *Checkout) {
			itemID, _ := at(idx[k], co)
			return itemID, co
		})
		if cache != nil {
			if p, ok := cache.lookup(id, key); ok {
				out[id] = p
				continue
			}
		}
		todo = append(todo, lookup{id: id, key: key, first: idx[0]})
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	var fatal error
	sem := make(chan struct{}, c.cfg.Concurrency)
	var wg sync.WaitGroup
	for _, t := range todo {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		co := new(Checkout) // at is called here, not in the goroutines
		at(t.first, co)
		wg.Go(func() {
			defer func() { <-sem }()
			p, err := c.BorrowerStatus(ctx, co)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if errors.Is(err, KindAuth) || errors.Is(err, KindPermission) || errors.Is(err, KindCanceled) {
					if fatal == nil {
						fatal = err
						cancel()
					}
					return
				}
				errs = append(errs, err)
				return
			}
			sum := summarize(p)
			out[t.id] = sum
			if cache != nil {
				cache.store(t.id, t.key, sum)
			}
		})
	}
	wg.Wait()
	if fatal != nil {
		errs = append(errs, fatal)
	} else if err := ctx.Err(); err != nil {
		errs = append(errs, &Error{Op: "patron status", Kind: KindCanceled, Err: err})
	}
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	return out, errs
}

// TestConnection checks what a policy's Ready condition needs: the credentials (a fresh token), the
// Resources service (one item) and the Patron Info service (a patron lookup by an id that does not
// exist: 404 means the service is granted, 403 names it as missing).
func (c *Client) TestConnection(ctx context.Context) error {
	if err := c.authenticate(ctx); err != nil {
		return err
	}
	if _, _, err := c.get(ctx, "test connection", "Resources service", "/materials/resources/items",
		url.Values{"$top": {"1"}, "excludeFields": {"itemNotes,historicalNotes,itemFields"}}, ServiceResources); err != nil {
		return err
	}
	_, _, err := c.get(ctx, "test connection", "Patron Info service", "/circulation/patrons/"+url.PathEscape(connectionProbeID)+"/status", nil, ServicePatronInfo)
	if err != nil && !errors.Is(err, KindNotFound) {
		return err
	}
	return nil
}

// connectionProbeID is a district id no district uses.
const connectionProbeID = "devicesync-connection-test"
