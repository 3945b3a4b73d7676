package destiny_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/k12dev/devicesync-operator/internal/destiny"
	"github.com/k12dev/devicesync-operator/internal/httpx"
	"github.com/k12dev/devicesync-operator/internal/serial"
	simdestiny "github.com/k12dev/devicesync-operator/internal/sim/destiny"
	"github.com/k12dev/devicesync-operator/internal/sim/district"
	"github.com/k12dev/devicesync-operator/internal/sim/simhttp"
)

const secret = "s3cr3t-client-secret"

type fixture struct {
	d   *district.District
	sim *simdestiny.Server
	srv *httptest.Server
	c   *destiny.Client
}

// setup starts a simulator (optionally behind wrap) and a client with fast retries.
func setup(t *testing.T, d *district.District, opts simdestiny.Options, wrap func(http.Handler) http.Handler, cfg func(*destiny.Config)) *fixture {
	t.Helper()
	if d == nil {
		d = district.Generate(district.Options{Seed: 21, Schools: 3, Devices: 300})
	}
	opts.ClientID, opts.ClientSecret = "devicesync", secret
	sim := simdestiny.New(d, opts)
	var h http.Handler = sim
	if wrap != nil {
		h = wrap(sim)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c := destiny.Config{
		BaseURL:     srv.URL + sim.BasePath(),
		Credentials: destiny.Credentials{ClientID: "devicesync", ClientSecret: secret},
		HTTPClient:  srv.Client(),
		Concurrency: 3,
		PageSize:    40,
		Backoff:     httpx.Backoff{Base: time.Millisecond, Max: 2 * time.Millisecond},
		MaxRetries:  3,
		Timeout:     5 * time.Second,
	}
	if cfg != nil {
		cfg(&c)
	}
	client, err := destiny.New(c)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{d: d, sim: sim, srv: srv, c: client}
}

func ipadQuery() destiny.ItemQuery {
	return destiny.ItemQuery{ResourceTypes: []string{district.ResourceTypeIPad}}
}

// wantItems are the district's items of the given type and sites, by id.
func wantItems(d *district.District, typ string, sites ...string) map[int]district.Item {
	out := map[int]district.Item{}
	for _, it := range d.Items {
		if it.ResourceType != typ {
			continue
		}
		if len(sites) > 0 && !contains(sites, it.SiteShortName) {
			continue
		}
		out[it.ID] = it
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func ids(items []destiny.Item) []int {
	out := make([]int, len(items))
	for i, it := range items {
		out[i] = it.ID
	}
	return out
}

func checkAllListed(t *testing.T, got []destiny.Item, want map[int]district.Item) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("listed %d items, want %d", len(got), len(want))
	}
	if !sort.IntsAreSorted(ids(got)) {
		t.Fatal("items are not sorted by id")
	}
	for _, it := range got {
		if _, ok := want[it.ID]; !ok {
			t.Fatalf("item %d listed but not expected", it.ID)
		}
	}
}

func mustErr(t *testing.T, err error, kind destiny.Kind) *destiny.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %s", kind)
	}
	var e *destiny.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %T %v is not a *destiny.Error", err, err)
	}
	if !errors.Is(err, kind) {
		t.Fatalf("error kind %q, want %q: %v", e.Kind, kind, err)
	}
	if strings.Contains(err.Error(), secret) {
		t.Fatalf("error leaks the client secret: %v", err)
	}
	return e
}

// ---- listing ----

func TestListItemsReadsEveryFieldTheEngineUses(t *testing.T) {
	f := setup(t, nil, simdestiny.Options{}, nil, nil)
	items, err := f.c.ListItems(context.Background(), ipadQuery())
	if err != nil {
		t.Fatal(err)
	}
	want := wantItems(f.d, district.ResourceTypeIPad)
	checkAllListed(t, items, want)
	patrons := map[string]*district.Patron{}
	for i := range f.d.Patrons {
		patrons[f.d.Patrons[i].DistrictID] = &f.d.Patrons[i]
	}
	for _, it := range items {
		src := want[it.ID]
		raw := src.SerialNumber
		wantSource := "serialNumber"
		if serial.Normalize(raw) == "" {
			raw, wantSource = src.SerialField, destiny.DefaultSerialField
		}
		if serial.Normalize(raw) == "" {
			raw, wantSource = "", ""
		}
		if it.RawSerial != raw || it.Serial != serial.Normalize(raw) || it.SerialSource != wantSource {
			t.Errorf("item %d (%s): serial raw %q norm %q from %q, want raw %q from %q", it.ID, src.Case, it.RawSerial, it.Serial, it.SerialSource, raw, wantSource)
		}
		if it.Status != src.Status || it.Barcode != src.Barcode || it.GUID != src.GUID || it.ResourceType != src.ResourceType || it.ResourceName != src.ResourceName {
			t.Errorf("item %d: got %+v, want %+v", it.ID, it, src)
		}
		if it.SiteShortName != src.SiteShortName || it.SiteID != f.d.School(src.SiteShortName).InternalID {
			t.Errorf("item %d: site %d %q, want %q", it.ID, it.SiteID, it.SiteShortName, src.SiteShortName)
		}
		if (it.Checkout != nil) != (src.Borrower != "") {
			t.Fatalf("item %d: checkout %+v, borrower %q", it.ID, it.Checkout, src.Borrower)
		}
		if co := it.Checkout; co != nil {
			p := patrons[src.Borrower]
			if co.DistrictID != p.DistrictID || co.PatronID != p.InternalID || co.PatronGUID != p.GUID || co.FirstName != p.FirstName ||
				co.LastName != p.LastName || co.MiddleName != p.MiddleName || co.Email != p.Email || !co.DateOut.Equal(src.DateOut) || !co.DateDue.Equal(src.DateDue) {
				t.Errorf("item %d: checkout %+v, patron %+v, out %v", it.ID, co, p, src.DateOut)
			}
		}
	}
}

func TestListItemsPaging(t *testing.T) {
	tests := []struct {
		name     string
		nextLink simdestiny.NextLinkMode
		pageSize int
	}{
		{"many pages with the quirky links real servers send", simdestiny.NextLinkQuirky, 7},
		{"many pages with clean links", simdestiny.NextLinkClean, 7},
		{"a @nextLink that loops back to the first page is not followed", simdestiny.NextLinkLoop, 7},
		{"no @nextLink at all", simdestiny.NextLinkNone, 7},
		{"a page size that divides the total exactly", simdestiny.NextLinkQuirky, 0},
		{"one page holds everything", simdestiny.NextLinkQuirky, 5000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := district.Generate(district.Options{Seed: 21, Schools: 3, Devices: 300})
			want := wantItems(d, district.ResourceTypeIPad)
			size := tt.pageSize
			if size == 0 {
				size = len(want) / 4
				for len(want)%size != 0 {
					size--
				}
			}
			f := setup(t, d, simdestiny.Options{NextLink: tt.nextLink}, nil, func(c *destiny.Config) { c.PageSize = size })
			items, err := f.c.ListItems(context.Background(), ipadQuery())
			if err != nil {
				t.Fatal(err)
			}
			checkAllListed(t, items, want)
			// The first page and $count together; a full last page asks once more.
			pages := (len(want) + size - 1) / size
			count, extra := 1, 0
			if len(want)%size == 0 {
				extra = 1 // the last counted page was full: one more request proves there is nothing after it
			}
			if got, wantCalls := f.sim.Sim().CallCount(f.sim.RouteTypeItems()), count+pages+extra; got != wantCalls {
				t.Errorf("%d item requests, want %d (%d $count + %d pages + %d)", got, wantCalls, count, pages, extra)
			}
		})
	}
}

func TestListItemsBySiteAndType(t *testing.T) {
	f := setup(t, nil, simdestiny.Options{}, nil, nil)
	sites := []string{f.d.Schools[0].ShortName, f.d.Schools[2].ShortName}
	items, err := f.c.ListItems(context.Background(), destiny.ItemQuery{
		ResourceTypes:  []string{district.ResourceTypeIPad, district.ResourceTypeStaffIPad},
		SiteShortNames: sites,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := wantItems(f.d, district.ResourceTypeIPad, sites...)
	for id, it := range wantItems(f.d, district.ResourceTypeStaffIPad, sites...) {
		want[id] = it
	}
	checkAllListed(t, items, want)
	for _, it := range items {
		if it.SiteShortName != want[it.ID].SiteShortName {
			t.Errorf("item %d site %q, want %q", it.ID, it.SiteShortName, want[it.ID].SiteShortName)
		}
	}
	if n := f.sim.Sim().CallCount(f.sim.RouteSites()); n != 1 {
		t.Errorf("listing by site called /sites %d times, want once (an item's site is named from its body)", n)
	}
}

func TestListItemsKeepsConcurrencyBounded(t *testing.T) {
	f := setup(t, nil, simdestiny.Options{}, nil, func(c *destiny.Config) { c.PageSize = 5; c.Concurrency = 2 })
	f.sim.Sim().SetKnobs(simhttp.Knobs{Latency: 2 * time.Millisecond})
	if _, err := f.c.ListItems(context.Background(), ipadQuery()); err != nil {
		t.Fatal(err)
	}
	if peak := f.sim.Sim().PeakInFlight(); peak > 2 {
		t.Fatalf("peak %d requests in flight, Concurrency is 2", peak)
	}
}

// countOverride answers $count requests with fn(real count request).
func countOverride(answer func(w http.ResponseWriter)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Get("$count") == "true" {
				answer(w)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

func TestListItemsDefendsAgainstCountAndSkipQuirks(t *testing.T) {
	tests := []struct {
		name string
		wrap func(http.Handler) http.Handler
		kind destiny.Kind // "" means every item is listed
	}{
		{"a refused $count fails the read: a short page cannot be trusted as the end", countOverride(func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(400)
			fmt.Fprint(w, `{"error":{"code":"CODE_BAD_REQUEST","message":"$count not supported"}}`)
		}), destiny.KindBadRequest},
		{"an unreadable $count fails the read", countOverride(func(w http.ResponseWriter) {
			fmt.Fprint(w, `{"count": "many"}`)
		}), destiny.KindMalformed},
		{"a stale $count smaller than the listing still yields every item", countOverride(func(w http.ResponseWriter) {
			fmt.Fprint(w, "40")
		}), ""},
		{"a $count of zero still reads the first page", countOverride(func(w http.ResponseWriter) {
			fmt.Fprint(w, "0")
		}), ""},
		{"a server that ignores $skip is an error, not a loop", func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				q := r.URL.Query()
				q.Del("$skip")
				r.URL.RawQuery = q.Encode()
				next.ServeHTTP(w, r)
			})
		}, destiny.KindMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := setup(t, nil, simdestiny.Options{}, tt.wrap, nil)
			items, err := f.c.ListItems(context.Background(), ipadQuery())
			if tt.kind != "" {
				mustErr(t, err, tt.kind)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			checkAllListed(t, items, wantItems(f.d, district.ResourceTypeIPad))
		})
	}
}

// ---- authentication ----

func TestAuthentication(t *testing.T) {
	for _, codes := range []struct {
		style simdestiny.TokenCodes
		code  string
	}{
		{simdestiny.TokenCodesAsDocumented, "CODE_MISSING_INVALID_ACCESS_TOKEN"},
		{simdestiny.TokenCodesEnum, "CODE_EXPIRED_TOKEN"},
	} {
		t.Run("a token expiring mid-listing, refused with "+codes.code+", is renewed once and the listing completes", func(t *testing.T) {
			f := setup(t, nil, simdestiny.Options{TokenCodes: codes.style}, nil, func(c *destiny.Config) { c.PageSize = 10 })
			f.sim.ExpireTokensAfter(6)
			items, err := f.c.ListItems(context.Background(), ipadQuery())
			if err != nil {
				t.Fatal(err)
			}
			checkAllListed(t, items, wantItems(f.d, district.ResourceTypeIPad))
			if got := f.sim.Rejections()[codes.code]; got == 0 {
				t.Fatalf("the simulator never refused a token with %s (%v): the test did not test renewal", codes.code, f.sim.Rejections())
			}
			if got := f.sim.Sim().CallCount(f.sim.RouteToken()); got != 2 {
				t.Errorf("%d token requests, want 2 (one renewal shared by every worker)", got)
			}
		})
	}
	t.Run("a token is renewed before it expires, without a 401", func(t *testing.T) {
		var mu sync.Mutex
		now := time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC)
		clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
		f := setup(t, nil, simdestiny.Options{TokenLifetime: time.Hour, Now: clock}, nil, func(c *destiny.Config) { c.Now = clock })
		if _, err := f.c.Sites(context.Background()); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		now = now.Add(59*time.Minute + 30*time.Second) // inside RenewBefore (60s) of expiry
		mu.Unlock()
		if _, err := f.c.PatronStatus(context.Background(), f.d.Patrons[0].DistrictID); err != nil {
			t.Fatal(err)
		}
		if got := f.sim.Sim().CallCount(f.sim.RouteToken()); got != 2 {
			t.Errorf("%d token requests, want 2", got)
		}
		if r := f.sim.Rejections(); len(r) != 0 {
			t.Errorf("rejections %v, want none", r)
		}
	})
	t.Run("a token refused again after renewal is an auth error, not a loop", func(t *testing.T) {
		var mu sync.Mutex
		now := time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC)
		jumpy := func() time.Time { mu.Lock(); defer mu.Unlock(); now = now.Add(2 * time.Hour); return now }
		f := setup(t, nil, simdestiny.Options{TokenLifetime: time.Hour, Now: jumpy, TokenCodes: simdestiny.TokenCodesEnum}, nil, nil)
		_, err := f.c.PatronStatus(context.Background(), "anyone")
		e := mustErr(t, err, destiny.KindAuth)
		if e.Code != "CODE_EXPIRED_TOKEN" || e.StatusCode != 401 {
			t.Errorf("error %+v", e)
		}
		if got := f.sim.Sim().CallCount(f.sim.RouteToken()); got != 2 {
			t.Errorf("%d token requests, want 2", got)
		}
	})
	t.Run("a wrong secret is an auth error with the OAuth code, never retried, never printed", func(t *testing.T) {
		f := setup(t, nil, simdestiny.Options{}, nil, func(c *destiny.Config) { c.ClientSecret = "wrong-" + secret })
		_, err := f.c.ListItems(context.Background(), ipadQuery())
		e := mustErr(t, err, destiny.KindAuth)
		if e.Code != "invalid_client" || e.Op != "authenticate" {
			t.Errorf("error %+v", e)
		}
		if got := f.sim.Sim().CallCount(f.sim.RouteToken()); got != 1 {
			t.Errorf("%d token requests, want 1", got)
		}
	})
	t.Run("auth is retried on 503 like any call", func(t *testing.T) {
		f := setup(t, nil, simdestiny.Options{}, nil, nil)
		f.sim.Sim().FailNext(f.sim.RouteToken(), 2, simhttp.FaultStatus503)
		if _, err := f.c.Sites(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

func TestSecretsNeverPrinted(t *testing.T) {
	cfg := destiny.Config{BaseURL: "https://destiny.example.org/api/v1/rest/context/destiny",
		Credentials: destiny.Credentials{ClientID: "id", ClientSecret: secret}}
	c, err := destiny.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), fmt.Sprint(cfg.Credentials), fmt.Sprint(c), fmt.Sprintf("%+v", c)} {
		if strings.Contains(s, secret) {
			t.Errorf("secret printed: %s", s)
		}
	}
}

func TestNewValidatesConfig(t *testing.T) {
	good := destiny.Credentials{ClientID: "id", ClientSecret: "secret"}
	tests := []struct {
		name string
		cfg  destiny.Config
	}{
		{"a base URL is required", destiny.Config{Credentials: good}},
		{"the base URL must be absolute", destiny.Config{BaseURL: "destiny.example.org/api", Credentials: good}},
		{"the base URL must not carry a query", destiny.Config{BaseURL: "https://d.example.org/api?x=1", Credentials: good}},
		{"a client id is required", destiny.Config{BaseURL: "https://d.example.org/api", Credentials: destiny.Credentials{ClientSecret: "s"}}},
		{"a client secret is required", destiny.Config{BaseURL: "https://d.example.org/api", Credentials: destiny.Credentials{ClientID: "id"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := destiny.New(tt.cfg); err == nil {
				t.Fatal("New accepted the config")
			}
		})
	}
}

// ---- errors and retries ----

func TestRetries(t *testing.T) {
	tests := []struct {
		name  string
		fault simhttp.Fault
		n     int
		kind  destiny.Kind // "" when the call succeeds after the faults
	}{
		{"503 then success", simhttp.FaultStatus503, 2, ""},
		{"500 then success", simhttp.FaultStatus500, 1, ""},
		{"an HTML 502 gateway page then success", simhttp.FaultHTML502, 1, ""},
		{"an HTML 504 gateway page then success", simhttp.FaultHTML504, 3, ""},
		{"429 then success, Retry-After capped by the backoff maximum", simhttp.FaultTooManyRequests, 2, ""},
		{"a reset connection then success", simhttp.FaultResetConnection, 2, ""},
		{"a timeout then success", simhttp.FaultHang, 1, ""},
		{"503 on every attempt is a server error", simhttp.FaultStatus503, 4, destiny.KindServer},
		{"an HTML 502 on every attempt is a server error", simhttp.FaultHTML502, 4, destiny.KindServer},
		{"429 on every attempt is rate limiting", simhttp.FaultTooManyRequests, 4, destiny.KindRateLimited},
		// net/http itself retries a GET once on a reset reused connection, so queue plenty.
		{"a reset on every attempt is a network error", simhttp.FaultResetConnection, 100, destiny.KindNetwork},
		{"a timeout on every attempt is a timeout", simhttp.FaultHang, 4, destiny.KindTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := setup(t, nil, simdestiny.Options{}, nil, func(c *destiny.Config) { c.Timeout = 300 * time.Millisecond })
			f.sim.Sim().FailNext(f.sim.RoutePatron(), tt.n, tt.fault)
			p, err := f.c.PatronStatus(context.Background(), f.d.Patrons[0].DistrictID)
			calls := f.sim.Sim().CallCount(f.sim.RoutePatron())
			if tt.kind == "" {
				if err != nil || p == nil {
					t.Fatalf("err %v", err)
				}
				if calls != tt.n+1 {
					t.Errorf("%d calls, want %d", calls, tt.n+1)
				}
				return
			}
			e := mustErr(t, err, tt.kind)
			if (calls != 4 && tt.fault != simhttp.FaultResetConnection) || e.Attempts != 4 {
				t.Errorf("%d calls, %d attempts, want 4 (MaxRetries 3)", calls, e.Attempts)
			}
		})
	}
}

func TestClientErrorsAreNotRetried(t *testing.T) {
	tests := []struct {
		name     string
		opts     simdestiny.Options
		call     func(*destiny.Client) error
		route    func(*simdestiny.Server) string
		kind     destiny.Kind
		code     string
		service  string
		target   string
		contains string
	}{
		{name: "a missing Resources service names the service", opts: simdestiny.Options{Services: []string{simdestiny.ServicePatronInfo}},
			call: func(c *destiny.Client) error {
				_, err := c.ListItems(context.Background(), ipadQuery())
				return err
			}, route: (*simdestiny.Server).RouteTypes, kind: destiny.KindPermission, code: "CODE_INSUFFICIENT_RIGHTS_TO_API",
			service: "Resources", target: "CatAssetSearchAssets", contains: `lacks the "Resources" service`},
		{name: "a missing Patron Info service names the service", opts: simdestiny.Options{Services: []string{simdestiny.ServiceResources}},
			call: func(c *destiny.Client) error {
				_, err := c.PatronStatus(context.Background(), "S001000")
				return err
			}, route: (*simdestiny.Server).RoutePatron, kind: destiny.KindPermission, code: "CODE_INSUFFICIENT_RIGHTS_TO_API",
			service: "Patron Info", contains: `lacks the "Patron Info" service`},
		{name: "an unknown resource type is not found", call: func(c *destiny.Client) error {
			_, err := c.ListItems(context.Background(), destiny.ItemQuery{ResourceTypes: []string{"Toasters"}})
			return err
		}, route: (*simdestiny.Server).RouteTypes, kind: destiny.KindNotFound, contains: `resolve resource type ("Toasters"): not found`},
		{name: "an unknown patron is not found", call: func(c *destiny.Client) error {
			_, err := c.PatronStatus(context.Background(), "nobody")
			return err
		}, route: (*simdestiny.Server).RoutePatron, kind: destiny.KindNotFound, code: "CODE_NOT_FOUND", contains: "(nobody)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := setup(t, nil, tt.opts, nil, nil)
			err := tt.call(f.c)
			e := mustErr(t, err, tt.kind)
			if e.Code != tt.code || e.Service != tt.service || (tt.target != "" && e.Target != tt.target) {
				t.Errorf("error %+v", e)
			}
			if !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("message %q does not contain %q", err, tt.contains)
			}
			if calls := f.sim.Sim().CallCount(tt.route(f.sim)); calls != 1 {
				t.Errorf("%d calls, want 1: a 4xx is not retried", calls)
			}
		})
	}
}

func TestMalformedAnswersAreClearErrors(t *testing.T) {
	serve := func(contentType, body string) func(http.Handler) http.Handler {
		return func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.Contains(r.URL.Path, "/items") && r.URL.Query().Get("$count") != "true" {
					w.Header().Set("Content-Type", contentType)
					fmt.Fprint(w, body)
					return
				}
				next.ServeHTTP(w, r)
			})
		}
	}
	tests := []struct {
		name     string
		wrap     func(http.Handler) http.Handler
		contains string
	}{
		{"truncated JSON", serve("application/json", `{"value":[{"id":5,"guid":"49E7`), "not valid JSON"},
		{"a login page served with 200", serve("text/html", `<html><head><title>Destiny Login</title></head></html>`), "an HTML page (HTTP 200, text/html, 54 bytes), not the vendor's JSON"}, // described, never quoted
		{"value of the wrong type", serve("application/json", `{"value":"none"}`), "not valid JSON"},
		{"an object without value", serve("application/json", `{"items":[]}`), `no "value" list`},
		{"an item without an id", serve("application/json", `{"value":[{"barcode":"1","status":"available"}]}`), "is not a positive integer"},
		{"an item without a status", serve("application/json", `{"value":[{"id":5,"barcode":"1"}]}`), "has no status"},
		{"a null value list", serve("application/json", `{"value":null}`), `no "value" list`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := setup(t, nil, simdestiny.Options{}, tt.wrap, nil)
			_, err := f.c.ListItems(context.Background(), ipadQuery())
			mustErr(t, err, destiny.KindMalformed)
			if !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("error %q does not say %q", err, tt.contains)
			}
		})
	}
	t.Run("a body cut in half by the network is a clear error", func(t *testing.T) {
		f := setup(t, nil, simdestiny.Options{}, nil, nil)
		f.sim.Sim().FailNext(f.sim.RoutePatron(), 1, simhttp.FaultTruncated)
		_, err := f.c.PatronStatus(context.Background(), f.d.Patrons[0].DistrictID)
		mustErr(t, err, destiny.KindMalformed)
	})
}

func TestCancellation(t *testing.T) {
	t.Run("a context canceled while a request is in flight stops the listing", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var once sync.Once
		wrap := func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.Contains(r.URL.Path, "/items") && r.URL.Query().Get("$skip") == "40" {
					once.Do(cancel)
					<-r.Context().Done()
					return
				}
				next.ServeHTTP(w, r)
			})
		}
		f := setup(t, nil, simdestiny.Options{}, wrap, nil)
		_, err := f.c.ListItems(ctx, ipadQuery())
		mustErr(t, err, destiny.KindCanceled)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("errors.Is(err, context.Canceled) is false: %v", err)
		}
	})
	t.Run("a context canceled before the call makes no request", func(t *testing.T) {
		f := setup(t, nil, simdestiny.Options{}, nil, nil)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := f.c.ListItems(ctx, ipadQuery())
		mustErr(t, err, destiny.KindCanceled)
		if n := f.sim.Sim().TotalCalls(); n != 0 {
			t.Errorf("%d requests after cancellation", n)
		}
	})
	t.Run("cancellation during a retry backoff returns at once", func(t *testing.T) {
		f := setup(t, nil, simdestiny.Options{}, nil, func(c *destiny.Config) {
			c.Backoff = httpx.Backoff{Base: time.Hour, Max: time.Hour}
		})
		f.sim.Sim().FailNext(f.sim.RoutePatron(), 1, simhttp.FaultStatus503)
		ctx, cancel := context.WithCancel(context.Background())
		wrapDone := make(chan error, 1)
		go func() {
			_, err := f.c.PatronStatus(ctx, f.d.Patrons[0].DistrictID)
			wrapDone <- err
		}()
		for f.sim.Sim().CallCount(f.sim.RoutePatron()) == 0 {
			time.Sleep(time.Millisecond) // waiting for the first attempt, not asserting time
		}
		cancel()
		mustErr(t, <-wrapDone, destiny.KindCanceled)
	})
}

// ---- sites ----

func TestSites(t *testing.T) {
	f := setup(t, nil, simdestiny.Options{}, nil, nil)
	sites, err := f.c.Sites(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(sites) != len(f.d.Schools) {
		t.Fatalf("%d sites, want %d", len(sites), len(f.d.Schools))
	}
	for _, s := range sites {
		sc := f.d.School(s.ShortName)
		if sc == nil || sc.InternalID != s.InternalID || sc.GUID != s.GUID || sc.Name != s.Name || !contains(s.Aliases, sc.ShortName) {
			t.Errorf("site %+v does not match the district's %+v", s, sc)
		}
	}
	if _, err := f.c.Sites(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := f.sim.Sim().CallCount(f.sim.RouteSites()); n != 1 {
		t.Errorf("GET /sites called %d times, want 1 (cached)", n)
	}
}

func TestSitesAcceptsTheSpecExampleSiteName(t *testing.T) {
	// sites-api.yaml's getAllSites example says "siteName" where the schema says "name".
	wrap := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch {
			case strings.HasSuffix(r.URL.Path, "/sites"):
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprint(w, `{"district":{"name":"McHenry School District","guid":"C1AE"},"value":[{"guid":"507a74f7-1025-4141-b2fb-4d06b6bc43ee","siteName":"Lincoln Elementary School"}],"durationMillis":267}`)
			case strings.Contains(r.URL.Path, "/sites/"):
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprint(w, `{"guid":"507a74f7-1025-4141-b2fb-4d06b6bc43ee","internalId":267,"shortName":"ELM","shortNameAliases":["ELM","S21"]}`)
			default:
				next.ServeHTTP(w, r)
			}
		})
	}
	f := setup(t, nil, simdestiny.Options{}, wrap, nil)
	sites, err := f.c.Sites(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(sites) != 1 || sites[0].Name != "Lincoln Elementary School" || sites[0].ShortName != "ELM" || sites[0].InternalID != 267 {
		t.Fatalf("sites %+v", sites)
	}
}

// ---- test connection ----

func TestTestConnection(t *testing.T) {
	tests := []struct {
		name    string
		opts    simdestiny.Options
		secret  string
		outage  simdestiny.Outage
		kind    destiny.Kind
		service string
	}{
		{name: "credentials and both services present", kind: ""},
		{name: "a wrong secret fails authentication", secret: "nope", kind: destiny.KindAuth},
		{name: "a missing Resources service is named", opts: simdestiny.Options{Services: []string{simdestiny.ServicePatronInfo}}, kind: destiny.KindPermission, service: "Resources"},
		{name: "a missing Patron Info service is named", opts: simdestiny.Options{Services: []string{simdestiny.ServiceResources}}, kind: destiny.KindPermission, service: "Patron Info"},
		{name: "an outage is a server error", outage: simdestiny.Outage503, kind: destiny.KindServer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := setup(t, nil, tt.opts, nil, func(c *destiny.Config) {
				if tt.secret != "" {
					c.ClientSecret = tt.secret
				}
			})
			f.sim.SetOutage(tt.outage)
			err := f.c.TestConnection(context.Background())
			if tt.kind == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if e := mustErr(t, err, tt.kind); e.Service != tt.service {
				t.Errorf("service %q, want %q", e.Service, tt.service)
			}
		})
	}
	t.Run("it authenticates afresh even with a cached token", func(t *testing.T) {
		f := setup(t, nil, simdestiny.Options{}, nil, nil)
		for range 2 {
			if err := f.c.TestConnection(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		if n := f.sim.Sim().CallCount(f.sim.RouteToken()); n != 2 {
			t.Errorf("%d token requests, want 2", n)
		}
	})
}

func TestOutageEmptyListsNothingWithoutError(t *testing.T) {
	// The engine, not the client, decides that an empty answer blocks the run; the client reports it faithfully.
	f := setup(t, nil, simdestiny.Options{}, nil, nil)
	f.sim.SetOutage(simdestiny.OutageEmpty)
	items, err := f.c.ListItems(context.Background(), destiny.ItemQuery{ResourceTypes: []string{district.ResourceTypeIPad}, SiteShortNames: []string{f.d.Schools[0].ShortName}})
	if err != nil || len(items) != 0 {
		t.Fatalf("items %d, err %v", len(items), err)
	}
}
