package destiny

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/k12dev/devicesync-operator/internal/httpx"
	simdestiny "github.com/k12dev/devicesync-operator/internal/sim/destiny"
	"github.com/k12dev/devicesync-operator/internal/sim/district"
	"github.com/k12dev/devicesync-operator/internal/sim/simhttp"
)

// pageAnswer rewrites the simulator's answer to an item page request (not a $count); times says for how
// many such requests (0: every one).
type pageAnswer struct {
	times   int
	rewrite func(w http.ResponseWriter, status int, header http.Header, body []byte)
}

// pageServer counts the item page requests that reach it and answers the first times of them with rewrite.
type pageServer struct {
	next  http.Handler
	pages atomic.Int32
	fault *pageAnswer
}

func (s *pageServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasSuffix(r.URL.Path, "/items") || strings.EqualFold(r.URL.Query().Get("$count"), "true") {
		s.next.ServeHTTP(w, r)
		return
	}
	n := int(s.pages.Add(1))
	if s.fault == nil || s.fault.rewrite == nil || (s.fault.times > 0 && n > s.fault.times) {
		s.next.ServeHTTP(w, r)
		return
	}
	rec := httptest.NewRecorder()
	s.next.ServeHTTP(rec, r)
	s.fault.rewrite(w, rec.Code, rec.Header(), rec.Body.Bytes())
}

// breakOff announces the whole page (its Content-Length), sends the first half, then drops the connection.
func breakOff(w http.ResponseWriter, status int, header http.Header, body []byte) {
	for k, v := range header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body[:len(body)/2])
	w.(http.Flusher).Flush()
	if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
		_ = conn.Close()
	}
}

// endEarly sends the first half of the page as the whole answer: the connection ends cleanly, the JSON does not.
func endEarly(w http.ResponseWriter, status int, header http.Header, body []byte) {
	w.Header().Set("Content-Type", header.Get("Content-Type"))
	w.WriteHeader(status)
	_, _ = w.Write(body[:len(body)/2])
}

// badByteAtTheEnd replaces the page's closing brace with a byte that is not JSON, after every item.
func badByteAtTheEnd(w http.ResponseWriter, status int, header http.Header, body []byte) {
	w.Header().Set("Content-Type", header.Get("Content-Type"))
	w.WriteHeader(status)
	trimmed := strings.TrimRight(string(body), " \r\n")
	_, _ = w.Write([]byte(trimmed[:len(trimmed)-1] + "x"))
}

func serve(contentType string, status int, answer string) func(http.ResponseWriter, int, http.Header, []byte) {
	return func(w http.ResponseWriter, _ int, _ http.Header, _ []byte) {
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		_, _ = w.Write([]byte(answer))
	}
}

// An item page is decoded as it arrives, never read whole first, and still answers every failure as
// an answer read whole would: a body that breaks off is asked again (and the page then holds each item
// once), a page that is too large, HTML, or JSON that goes wrong after some items fails the page
// (keeping none of it) and is not asked again.
func TestItemPageDecodedAsItArrives(t *testing.T) {
	const pageSize, retries = 40, 3
	gatewayPage := "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>\n"
	for _, tc := range []struct {
		name     string
		fault    *pageAnswer
		wire     *simdestiny.WireFault // queued wireN times (default once) on the item route instead
		wireN    int
		sim      simhttp.Fault // queued once on the item route instead
		cfg      func(*Config)
		kind     Kind // "" when the page is read
		contains string
		requests int // item page requests made
	}{
		{name: "a connection broken after half a page is asked again, and the page holds each item once",
			fault: &pageAnswer{times: 1, rewrite: breakOff}, requests: 2},
		{name: "a connection broken on every attempt is a network error after every retry",
			fault: &pageAnswer{rewrite: breakOff}, kind: KindNetwork, contains: "connection closed mid-answer", requests: retries + 1},
		{name: "a page that outlives the attempt's timeout while it arrives is asked again",
			wire: &simdestiny.WireFault{Kind: simdestiny.WireSlowDrip, Drip: 2 * time.Millisecond},
			cfg:  func(c *Config) { c.Timeout = 100 * time.Millisecond }, requests: 2},
		{name: "a page that outlives the attempt's timeout on every attempt is a timeout after every retry",
			wire: &simdestiny.WireFault{Kind: simdestiny.WireSlowDrip, Drip: 2 * time.Millisecond}, wireN: retries + 1,
			cfg: func(c *Config) { c.Timeout = 100 * time.Millisecond }, kind: KindTimeout, contains: "timeout", requests: retries + 1},
		{name: "an error answer is read whole and retried as before",
			sim: simhttp.FaultStatus503, requests: 2},
		{name: "a page larger than the size cap is refused and not asked again",
			wire: &simdestiny.WireFault{Kind: simdestiny.WireHugeBody, Size: 256 << 10},
			cfg:  func(c *Config) { c.MaxBodyBytes = 64 << 10 }, kind: KindMalformed, contains: "answer larger than 65536 bytes: refused", requests: 1},
		{name: "an HTML page served with 200 is refused, described and not quoted, and not asked again",
			fault: &pageAnswer{rewrite: serve("text/html", http.StatusOK, gatewayPage)},
			kind:  KindMalformed, contains: "an HTML page (HTTP 200, text/html, " + strconv.Itoa(len(gatewayPage)) + " bytes), not the vendor's JSON", requests: 1},
		{name: "an HTML page announced as JSON is refused by its first bytes",
			fault: &pageAnswer{rewrite: serve("application/json", http.StatusOK, gatewayPage)},
			kind:  KindMalformed, contains: "a non-JSON answer (HTTP 200, application/json, " + strconv.Itoa(len(gatewayPage)) + " bytes)", requests: 1},
		{name: "JSON that ends after half the items fails the page, keeps none of it, and is not asked again",
			fault: &pageAnswer{rewrite: endEarly}, kind: KindMalformed, contains: "item page is not valid JSON", requests: 1},
		{name: "a byte that is not JSON after every item fails the page and is not asked again",
			fault: &pageAnswer{rewrite: badByteAtTheEnd}, kind: KindMalformed, contains: "item page is not valid JSON", requests: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := district.Generate(district.Options{Seed: 21, Schools: 3, Devices: 300})
			sim := simdestiny.New(d, simdestiny.Options{ClientID: "devicesync", ClientSecret: "secret"})
			h := &pageServer{next: sim, fault: tc.fault}
			srv := httptest.NewServer(h)
			t.Cleanup(srv.Close)
			if tc.wire != nil {
				sim.InjectNext(sim.RouteTypeItems(), max(tc.wireN, 1), *tc.wire)
			}
			if tc.sim != simhttp.FaultNone {
				sim.Sim().FailNext(sim.RouteTypeItems(), 1, tc.sim)
			}
			cfg := Config{BaseURL: srv.URL + sim.BasePath(), Credentials: Credentials{ClientID: "devicesync", ClientSecret: "secret"},
				HTTPClient: srv.Client(), PageSize: pageSize, MaxRetries: retries, Timeout: 5 * time.Second,
				Backoff: httpx.Backoff{Base: time.Millisecond, Max: 2 * time.Millisecond}}
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			c, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			types, err := c.ResolveResourceTypes(ctx, []string{district.ResourceTypeIPad})
			if err != nil {
				t.Fatal(err)
			}
			sites, err := c.siteIndex(ctx)
			if err != nil {
				t.Fatal(err)
			}
			handedOut := 0
			l := &lister[int]{c: c, field: DefaultSerialField, sites: sites, sem: make(chan struct{}, 1), cancel: func() {},
				conv: func(it *Item) int { handedOut++; return it.ID }}

			p, err := l.page(ctx, itemSource{name: district.ResourceTypeIPad, rt: types[0]}, 0)

			if got := int(h.pages.Load()); got != tc.requests {
				t.Errorf("%d item page requests, want %d", got, tc.requests)
			}
			if tc.kind != "" {
				if err == nil || !strings.Contains(err.Error(), tc.contains) {
					t.Fatalf("error %v, want one saying %q", err, tc.contains)
				}
				if e, ok := err.(*Error); !ok || e.Kind != tc.kind || e.Op != "list items" {
					t.Fatalf("error %#v, want a list items *Error of kind %s", err, tc.kind)
				}
				if len(p.ids) != 0 || len(p.items) != 0 {
					t.Fatalf("a failed page kept %d items", len(p.items))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var want []int
			for _, it := range d.Items {
				if it.ResourceType == district.ResourceTypeIPad {
					want = append(want, it.ID)
				}
			}
			slices.Sort(want)
			want = want[:pageSize]
			if !slices.Equal(p.ids, want) || !slices.Equal(p.items, want) {
				t.Fatalf("page ids %v\nitems %v\nwant each of the first %d items once: %v", p.ids, p.items, pageSize, want)
			}
			if tc.fault != nil && handedOut <= pageSize {
				t.Errorf("%d items handed out: the broken attempt decoded none, so the test proves nothing", handedOut)
			}
		})
	}
}
