package engine_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/k12dev/devicesync-operator/internal/destiny"
	"github.com/k12dev/devicesync-operator/internal/httpx"
	destinysim "github.com/k12dev/devicesync-operator/internal/sim/destiny"
	"github.com/k12dev/devicesync-operator/internal/sim/district"
	"github.com/k12dev/devicesync-operator/internal/sim/simhttp"
	"github.com/k12dev/devicesync-operator/internal/sync/engine"
)

// destinyOverHTTPX is destinySide with the client on the shared HTTP layer (httpx.NewClient: the
// redirect policy and the limits), over TLS when tls is set, with cfg applied.
func destinyOverHTTPX(tb testing.TB, d *district.District, tls bool, cfg func(*destiny.Config)) (*destinysim.Server, *engine.DestinySource) {
	tb.Helper()
	sim := destinysim.New(d, destinysim.Options{ClientID: "sync", ClientSecret: "destiny-secret"})
	srv := httptest.NewUnstartedServer(sim)
	if tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	tb.Cleanup(srv.Close)
	c := destiny.Config{
		BaseURL:     srv.URL + sim.BasePath(),
		Credentials: destiny.Credentials{ClientID: "sync", ClientSecret: "destiny-secret"},
		HTTPClient:  httpx.NewClient(httpx.ClientOptions{Base: srv.Client().Transport, Limits: httpx.NewHostLimits(), Limit: 8}),
		Backoff:     fastBackoff, Concurrency: 8, Timeout: 5 * time.Second,
	}
	if cfg != nil {
		cfg(&c)
	}
	cl, err := destiny.New(c)
	if err != nil {
		tb.Fatal(err)
	}
	return sim, destinySourceOf(tb, d, cl)
}

// TestDestinyFaults runs whole syncs against a Destiny that misbehaves at the HTTP layer. A fault the
// client can ride out must not change the outcome (every Jamf device as the oracle says); one it cannot
// must fail the run before any write, and no credential may reach a host the policy did not name.
func TestDestinyFaults(t *testing.T) {
	cases := []struct {
		name string
		tls  bool
		cfg  func(*destiny.Config)
		// inject arms the faults; other is the foreign host, for redirects.
		inject      func(d *destinysim.Server, other *elsewhere)
		wantOutcome engine.Outcome
		wantErr     string
		wantFaults  int
		// check asserts more about the simulator after the run.
		check func(t *testing.T, d *destinysim.Server)
	}{
		{
			name: "429 with Retry-After: 1 on item pages: waited for, every device as expected",
			inject: func(d *destinysim.Server, _ *elsewhere) {
				d.InjectNext(d.RouteTypeItems(), 2, destinysim.WireFault{Kind: destinysim.WireRetryAfter, RetryAfter: "1"})
			},
			wantOutcome: engine.Succeeded, wantFaults: 2,
		},
		{
			name: "429 asking to wait a day: the run fails at once, before any write, naming the wait",
			inject: func(d *destinysim.Server, _ *elsewhere) {
				d.InjectNext(d.RouteTypeItems(), 1, destinysim.WireFault{Kind: destinysim.WireRetryAfter, RetryAfter: "86400"})
			},
			wantOutcome: engine.Failed, wantErr: "Retry-After 24h0m0s is longer than", wantFaults: 1,
		},
		{
			name: "connections reset during the patron lookups: retried, every device as expected",
			inject: func(d *destinysim.Server, _ *elsewhere) {
				d.Sim().FailNext(d.RoutePatron(), 3, simhttp.FaultResetConnection)
			},
			wantOutcome: engine.Succeeded, wantFaults: 3,
		},
		{
			name: "an item page redirected to another host: refused, the other host sees nothing, no write",
			inject: func(d *destinysim.Server, o *elsewhere) {
				d.InjectNext(d.RouteTypeItems(), 1, destinysim.WireFault{Kind: destinysim.WireRedirect, Location: o.srv.URL})
			},
			wantOutcome: engine.Failed, wantErr: "redirect refused", wantFaults: 1,
		},
		{
			name: "the token request redirected from https to http: refused, the client secret never crosses",
			tls:  true,
			inject: func(d *destinysim.Server, o *elsewhere) {
				d.InjectNext(d.RouteToken(), 1, destinysim.WireFault{Kind: destinysim.WireRedirect, Location: o.srv.URL})
			},
			wantOutcome: engine.Failed, wantErr: "redirect refused", wantFaults: 1,
		},
		{
			name: "an item page larger than the size cap: the run fails before any write",
			cfg:  func(c *destiny.Config) { c.MaxBodyBytes = 1 << 20 },
			inject: func(d *destinysim.Server, _ *elsewhere) {
				d.InjectNext(d.RouteTypeItems(), 1, destinysim.WireFault{Kind: destinysim.WireHugeBody, Size: 2 << 20})
			},
			wantOutcome: engine.Failed, wantErr: "larger than 1048576 bytes", wantFaults: 1,
		},
		{
			name: "a slow-drip site list: the attempt times out and is retried, every device as expected",
			cfg:  func(c *destiny.Config) { c.Timeout = 400 * time.Millisecond },
			inject: func(d *destinysim.Server, _ *elsewhere) {
				d.InjectNext(d.RouteSites(), 1, destinysim.WireFault{Kind: destinysim.WireSlowDrip, Drip: 50 * time.Millisecond})
			},
			wantOutcome: engine.Succeeded, wantFaults: 1,
		},
		{
			name: "an absurd $count (9e18): the run fails before any write",
			inject: func(d *destinysim.Server, _ *elsewhere) {
				d.InjectNext(d.RouteTypeItems(), 1, destinysim.WireFault{Kind: destinysim.WireCount, Body: "9000000000000000000"})
			},
			wantOutcome: engine.Failed, wantErr: "outside 0..10000000", wantFaults: 1,
		},
		{
			name: "a $count larger than the rows that follow: the run fails before any write",
			inject: func(d *destinysim.Server, _ *elsewhere) {
				d.InjectNext(d.RouteTypeItems(), 1, destinysim.WireFault{Kind: destinysim.WireCount, Body: "100000"})
			},
			wantOutcome: engine.Failed, wantErr: "$count is 100000", wantFaults: 1,
		},
		{
			name: "a server returning fewer items than $top: paged in its length, every device as expected",
			cfg:  func(c *destiny.Config) { c.PageSize = 50 },
			inject: func(d *destinysim.Server, _ *elsewhere) {
				d.SetMaxPageSize(9)
			},
			wantOutcome: engine.Succeeded,
			check: func(t *testing.T, d *destinysim.Server) {
				// 4 schools x 2 types, about 500 items: pages of 9 mean far more than one page per listing.
				if n := d.Sim().CallCount(d.RouteTypeItems()); n < 40 {
					t.Errorf("%d item requests: the capped pages were not exercised", n)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := newDistrict(t, 500)
			dsim, src := destinyOverHTTPX(t, d, tc.tls, tc.cfg)
			jsim, tgt := jamfProSide(t, d, 5)
			other := newElsewhere(t)
			tc.inject(dsim, other)
			rep, err := engine.Execute(context.Background(), engine.Run{Policy: defaultPolicy(t, d), Source: src, Target: tgt, Retry: 1})
			if served := dsim.FaultsServed(); served < tc.wantFaults {
				t.Errorf("%d faulty answers served, want at least %d: the test did not exercise its fault", served, tc.wantFaults)
			}
			if reqs, creds := other.seen(); reqs != 0 || creds != 0 {
				t.Errorf("the host the policy did not name saw %d requests, %d with a credential", reqs, creds)
			}
			if tc.check != nil {
				tc.check(t, dsim)
			}
			if rep.Outcome != tc.wantOutcome {
				t.Fatalf("outcome %s (%v), want %s", rep.Outcome, err, tc.wantOutcome)
			}
			if tc.wantOutcome == engine.Failed {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "reading Destiny") {
					t.Errorf("error %v, want one reading Destiny and naming %q", err, tc.wantErr)
				}
				if w := writes(jsim); w != 0 {
					t.Fatalf("a run whose source failed wrote %d times", w)
				}
				return
			}
			if wrong := jsim.Differences(d); len(wrong) > 0 {
				t.Fatalf("%d devices not as expected, first: %s", len(wrong), wrong[0])
			}
		})
	}
}
