package engine_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/k12dev/devicesync-operator/internal/httpx"
	"github.com/k12dev/devicesync-operator/internal/jamf/pro"
	jamfprosim "github.com/k12dev/devicesync-operator/internal/sim/jamfpro"
	"github.com/k12dev/devicesync-operator/internal/sim/simhttp"
	"github.com/k12dev/devicesync-operator/internal/sync/engine"
)

const (
	routeJamfToken    = "POST /api/v1/oauth/token"
	routeJamfDetail   = "GET /api/v2/mobile-devices/detail"
	routeJamfPatch    = "PATCH /api/v2/mobile-devices/{id}"
	routeJamfCommands = "POST /api/v2/mdm/commands"
)

// otherHost is a server that must never be reached: it counts requests and the credentials they carry.
type otherHost struct {
	srv         *httptest.Server
	requests    atomic.Int32
	credentials atomic.Int32
}

func newOtherHost(t *testing.T) *otherHost {
	o := &otherHost{}
	o.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.requests.Add(1)
		_ = r.ParseForm()
		if r.Header.Get("Authorization") != "" || r.PostForm.Get("client_secret") != "" {
			o.credentials.Add(1)
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(o.srv.Close)
	return o
}

// redirectTo answers a 307 to base + the request's path: a 307 keeps the method and the body.
func redirectTo(base func() string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, base()+r.URL.RequestURI(), http.StatusTemporaryRedirect)
	}
}

// jamfFaultSide is jamfProSide with the client options a fault needs: TLS, a per-attempt timeout, a
// smaller body cap.
type jamfFaultSide struct {
	tls     bool
	timeout time.Duration
	maxBody int64
}

func (o jamfFaultSide) start(tb testing.TB, sim *jamfprosim.Server) (*httptest.Server, *engine.JamfPro) {
	tb.Helper()
	var srv *httptest.Server
	if o.tls {
		srv = httptest.NewTLSServer(sim)
	} else {
		srv = httptest.NewServer(sim)
	}
	tb.Cleanup(srv.Close)
	hc := httpx.NewClient(httpx.ClientOptions{Timeout: o.timeout, MaxConns: 5, Base: srv.Client().Transport})
	cl, err := pro.New(pro.Config{BaseURL: srv.URL, Auth: pro.OAuth{ClientID: "sync", ClientSecret: "jamf-secret"},
		MaxConcurrency: 5, HTTPClient: hc, MaxBodyBytes: o.maxBody, Backoff: fastBackoff, PaceStep: time.Microsecond, PaceMax: time.Millisecond})
	if err != nil {
		tb.Fatal(err)
	}
	return srv, &engine.JamfPro{Client: cl, MaxConcurrency: 5, PendingLostMode: true}
}

// TestJamfProFaults runs whole syncs against a Jamf Pro that misbehaves as real servers, gateways and
// proxies do. Each case proves the simulator served its fault and checks the devices Jamf ends with.
func TestJamfProFaults(t *testing.T) {
	type env struct {
		sim   *jamfprosim.Server
		srv   *httptest.Server
		other *otherHost
	}
	cases := []struct {
		name string
		side jamfFaultSide
		opts func(o *jamfprosim.Options)
		// inject arms the faults before the run.
		inject      func(t *testing.T, e *env)
		wantOutcome engine.Outcome
		wantErr     string // in the run's error (Failed) or in the failed changes' errors
		wantFaults  int
		maxDuration time.Duration // 0: not checked
		// converges: a second, healthy run fixes what the faulty one left (PartiallyFailed cases).
		converges bool
	}{
		{
			name: "429 with Retry-After on some writes: waited for, every device as expected",
			inject: func(t *testing.T, e *env) {
				e.sim.Intercept(routeJamfPatch, 2, func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Retry-After", "1")
					w.WriteHeader(http.StatusTooManyRequests)
				})
			},
			wantOutcome: engine.Succeeded, wantFaults: 2,
		},
		{
			name: "a Retry-After of a day on the inventory: capped, the run fails at once before any write",
			inject: func(t *testing.T, e *env) {
				e.sim.Intercept(routeJamfDetail, 1, func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Retry-After", "86400")
					w.WriteHeader(http.StatusTooManyRequests)
				})
			},
			wantOutcome: engine.Failed, wantErr: "longer than", wantFaults: 1, maxDuration: 10 * time.Second,
		},
		{
			name: "a Retry-After of a day on one write: that change fails at once, the others are applied",
			inject: func(t *testing.T, e *env) {
				e.sim.Intercept(routeJamfPatch, 1, func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Retry-After", "86400")
					w.WriteHeader(http.StatusServiceUnavailable)
				})
			},
			wantOutcome: engine.PartiallyFailed, wantErr: "longer than", wantFaults: 1, maxDuration: 10 * time.Second, converges: true,
		},
		{
			name: "connections reset on writes: PATCH is repeated, every device as expected",
			inject: func(t *testing.T, e *env) {
				e.sim.HTTP().FailNext(routeJamfPatch, 3, simhttp.FaultResetConnection)
			},
			wantOutcome: engine.Succeeded, wantFaults: 3,
		},
		{
			name: "a connection reset on a Lost Mode command: never repeated (it may have been sent); the next run sends it",
			inject: func(t *testing.T, e *env) {
				e.sim.HTTP().FailNext(routeJamfCommands, 1, simhttp.FaultResetConnection)
			},
			wantOutcome: engine.PartiallyFailed, wantFaults: 1, converges: true,
		},
		{
			name: "the token endpoint redirecting to another host: refused, the client secret never leaves, no write",
			inject: func(t *testing.T, e *env) {
				e.sim.Intercept(routeJamfToken, 1, redirectTo(func() string { return e.other.srv.URL }))
			},
			wantOutcome: engine.Failed, wantErr: "redirect from", wantFaults: 1,
		},
		{
			name: "a write redirected to another host: refused, the bearer token never leaves",
			inject: func(t *testing.T, e *env) {
				e.sim.Intercept(routeJamfPatch, 1, redirectTo(func() string { return e.other.srv.URL }))
			},
			wantOutcome: engine.PartiallyFailed, wantErr: "redirect from", wantFaults: 1, converges: true,
		},
		{
			name: "an https read redirected to http on the same host: refused, nothing goes out in clear",
			side: jamfFaultSide{tls: true},
			inject: func(t *testing.T, e *env) {
				e.sim.Intercept(routeJamfDetail, 1, redirectTo(func() string { return "http://" + e.srv.Listener.Addr().String() }))
			},
			wantOutcome: engine.Failed, wantErr: "to http://", wantFaults: 1,
		},
		{
			name: "an inventory page over the body cap: the page is halved and the run succeeds",
			side: jamfFaultSide{maxBody: 1 << 20},
			inject: func(t *testing.T, e *env) {
				e.sim.Intercept(routeJamfDetail, 1, func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "application/json")
					_, _ = fmt.Fprintf(w, `{"totalCount":1,"results":[],"padding":"%s"}`, strings.Repeat("x", 2<<20))
				})
			},
			wantOutcome: engine.Succeeded, wantFaults: 1,
		},
		{
			name: "every inventory page over the body cap: the run fails before any write",
			side: jamfFaultSide{maxBody: 1 << 20},
			inject: func(t *testing.T, e *env) {
				e.sim.Intercept(routeJamfDetail, 50, func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "application/json")
					_, _ = fmt.Fprintf(w, `{"padding":"%s"}`, strings.Repeat("x", 2<<20))
				})
			},
			wantOutcome: engine.Failed, wantErr: "larger than", wantFaults: 1,
		},
		{
			name: "a slow-drip inventory page: the attempt times out, the page is asked again, every device as expected",
			side: jamfFaultSide{timeout: 500 * time.Millisecond},
			inject: func(t *testing.T, e *env) {
				e.sim.Intercept(routeJamfDetail, 1, func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusOK)
					for range 50 {
						if _, err := w.Write([]byte(" ")); err != nil {
							return
						}
						w.(http.Flusher).Flush()
						select {
						case <-time.After(50 * time.Millisecond):
						case <-r.Context().Done():
							return
						}
					}
				})
			},
			wantOutcome: engine.Succeeded, wantFaults: 1,
		},
		{
			name:        "gateway timeouts on pages over 120 devices: the pages shrink, every device as expected",
			opts:        func(o *jamfprosim.Options) { o.MaxHealthyPageSize = 120 },
			wantOutcome: engine.Succeeded, wantFaults: 3,
		},
		{
			name: "an inventory totalCount of 9e18: the read fails cleanly before any write",
			inject: func(t *testing.T, e *env) {
				e.sim.ReportTotals(9e18, 0)
			},
			wantOutcome: engine.Failed, wantErr: "not a plausible count",
		},
		{
			name: "an inventory totalCount larger than the rows: the read fails before any write",
			inject: func(t *testing.T, e *env) {
				e.sim.ReportTotals(5000, 0)
			},
			wantOutcome: engine.Failed, wantErr: "the listing is incomplete",
		},
		{
			name: "a pending-command totalCount larger than the rows: the read fails before any write",
			inject: func(t *testing.T, e *env) {
				e.sim.ReportTotals(0, 7)
			},
			wantOutcome: engine.Failed, wantErr: "the listing ended after",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := newDistrict(t, 500)
			_, src := destinySide(t, d)
			so := jamfprosim.Options{ClientID: "sync", ClientSecret: "jamf-secret"}
			if tc.opts != nil {
				tc.opts(&so)
			}
			e := &env{sim: jamfprosim.New(d, so), other: newOtherHost(t)}
			srv, tgt := tc.side.start(t, e.sim)
			e.srv = srv
			if tc.inject != nil {
				tc.inject(t, e)
			}
			run := engine.Run{Policy: defaultPolicy(t, d), Source: src, Target: tgt, Retry: 1}
			start := time.Now()
			rep, err := engine.Execute(context.Background(), run)
			took := time.Since(start)
			if served := e.sim.FaultsServed(); served < tc.wantFaults {
				t.Errorf("%d faulty answers served, want at least %d: the test did not exercise its fault", served, tc.wantFaults)
			}
			if n, c := e.other.requests.Load(), e.other.credentials.Load(); n != 0 || c != 0 {
				t.Fatalf("the other host saw %d requests, %d with credentials", n, c)
			}
			if tc.maxDuration > 0 && took > tc.maxDuration {
				t.Errorf("the run took %v, want under %v", took, tc.maxDuration)
			}
			if rep.Outcome != tc.wantOutcome {
				t.Fatalf("outcome %s (%v), want %s; first failure %v", rep.Outcome, err, tc.wantOutcome, firstErr(rep))
			}
			switch tc.wantOutcome {
			case engine.Failed:
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("error %v, want one saying %q", err, tc.wantErr)
				}
				if w := writes(e.sim); w != 0 {
					t.Fatalf("a run whose read failed wrote %d times", w)
				}
				return
			case engine.PartiallyFailed:
				if rep.FailedChanges != 1 {
					t.Errorf("%d changes failed, want 1", rep.FailedChanges)
				}
				if fe := firstErr(rep); fe == nil || !strings.Contains(fe.Error(), tc.wantErr) {
					t.Errorf("failed change: %v, want an error saying %q", fe, tc.wantErr)
				}
			}
			if tc.converges {
				again, err := engine.Execute(context.Background(), run)
				if err != nil || again.Outcome != engine.Succeeded || again.Applied != 1 {
					t.Fatalf("second run: %v, %s, %d applied; want the one change left over applied", err, again.Outcome, again.Applied)
				}
			}
			if wrong := e.sim.Differences(d); len(wrong) > 0 {
				t.Fatalf("%d devices not as expected, first: %s", len(wrong), wrong[0])
			}
		})
	}
}
