package pro

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/k12dev/devicesync-operator/internal/clock"
	"github.com/k12dev/devicesync-operator/internal/httpx"
	"github.com/k12dev/devicesync-operator/internal/sim/district"
	"github.com/k12dev/devicesync-operator/internal/sim/jamfpro"
)

const (
	clientID     = "api-client-7"
	clientSecret = "TOP-SECRET-client-secret"
	userName     = "svc-devicesync"
	userPassword = "TOP-SECRET-password"
)

// Route patterns as the simulator counts them.
const (
	routeOAuth      = "POST /api/v1/oauth/token"
	routeLegacy     = "POST /api/v1/auth/token"
	routeKeepAlive  = "POST /api/v1/auth/keep-alive"
	routeInvalidate = "POST /api/v1/auth/invalidate-token"
	routeDetail     = "GET /api/v2/mobile-devices/detail"
	routePatch      = "PATCH /api/v2/mobile-devices/{id}"
	routeCommands   = "POST /api/v2/mdm/commands"
	routeListCmds   = "GET /api/v2/mdm/commands"
	routeBuildings  = "GET /api/v1/buildings"
	routeDepts      = "GET /api/v1/departments"
)

func newClock() *clock.Fake { return clock.NewFake(time.Date(2026, 1, 5, 7, 0, 0, 0, time.UTC)) }

// district of n devices: odd ids supervised (even unsupervised), every 5th unmanaged; device 1 assigned
// to a student at Lincoln High; device 2 in Lost Mode.
func testDistrict(n int) *district.District {
	d := &district.District{Schools: []district.School{
		{InternalID: 1, ShortName: "LHS", Name: "Lincoln High School", Building: "Lincoln High"},
		{InternalID: 2, ShortName: "WMS", Name: "Washington Middle School", Building: "Washington Middle"},
	}}
	for i := 1; i <= n; i++ {
		dv := district.Device{ID: i, UDID: fmt.Sprintf("udid-%04d", i), ManagementID: fmt.Sprintf("mgmt-%04d", i),
			Serial: fmt.Sprintf("SER%04d", i), Name: fmt.Sprintf("iPad %04d", i), Managed: i%5 != 0, Supervised: i%2 == 1}
		if i == 1 {
			dv.Username, dv.RealName, dv.Email, dv.Position, dv.Phone = "jdoe", "Jane Doe", "jdoe@example.org", "Grade 9", "555-0100"
			dv.Building, dv.Department, dv.Room = "Lincoln High", "Grade 9", "101"
		}
		if i == 2 {
			dv.LostMode = true
		}
		d.Devices = append(d.Devices, dv)
	}
	return d
}

type env struct {
	t      testing.TB
	sim    *jamfpro.Server
	ts     *httptest.Server
	client *Client
	// serverClock is the simulator's clock; the client's clock is the same unless options say otherwise.
	serverClock *clock.Fake
	// before runs before the simulator serves each request (tests hook faults and clock moves here).
	mu     sync.Mutex
	before func(r *http.Request)
	// rewrites, when queued, make the next inventory answers pass through them (see rewriteInventory).
	rewrites []rewrite
}

// rewrite writes what the client receives for an inventory request, given the simulator's answer.
type rewrite func(w http.ResponseWriter, r *http.Request, sim *httptest.ResponseRecorder)

type envOpts struct {
	devices     int
	simOpts     func(*jamfpro.Options)
	cfg         func(*Config)
	legacy      bool
	ownClock    bool // the client keeps its own clock (does not see the server's time move)
	noException bool
	// timeout, when set, bounds each attempt (the client's HTTP client times out).
	timeout time.Duration
}

func newEnv(t testing.TB, o envOpts) *env {
	t.Helper()
	e := &env{t: t, serverClock: newClock()}
	so := jamfpro.Options{ClientID: clientID, ClientSecret: clientSecret, Username: userName, Password: userPassword,
		Now: e.serverClock.Now, ExceptionHandling: !o.noException, Departments: []string{"Library"}}
	if o.simOpts != nil {
		o.simOpts(&so)
	}
	e.sim = jamfpro.New(testDistrict(o.devices), so)
	e.ts = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		hook := e.before
		e.mu.Unlock()
		if hook != nil {
			hook(r)
		}
		if rw := e.nextRewrite(r); rw != nil {
			rec := httptest.NewRecorder()
			e.sim.ServeHTTP(rec, r)
			rw(w, r, rec)
			return
		}
		e.sim.ServeHTTP(w, r)
	}))
	t.Cleanup(e.ts.Close)
	cfg := Config{
		BaseURL:    e.ts.URL,
		Auth:       OAuth{ClientID: clientID, ClientSecret: clientSecret},
		HTTPClient: e.ts.Client(),
		Backoff:    httpx.Backoff{Base: time.Millisecond, Max: 2 * time.Millisecond},
		MaxRetries: 3,
		PaceStep:   time.Microsecond,
		PaceMax:    10 * time.Microsecond,
		Now:        e.serverClock.Now,
	}
	if o.timeout > 0 {
		cfg.HTTPClient = &http.Client{Transport: e.ts.Client().Transport, Timeout: o.timeout}
	}
	if o.legacy {
		cfg.Auth = Basic{Username: userName, Password: userPassword}
	}
	if o.ownClock {
		cfg.Now = newClock().Now
	}
	if o.cfg != nil {
		o.cfg(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.client = c
	return e
}

func (e *env) hook(f func(r *http.Request)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.before = f
}

// rewriteInventory makes the simulator's next n answers to inventory requests pass through f on their
// way to the client: f gets the answer the simulator made and writes what the client receives (a page
// cut short, reordered, padded, ...). The simulator counts each request as usual.
func (e *env) rewriteInventory(n int, f rewrite) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for range n {
		e.rewrites = append(e.rewrites, f)
	}
}

func (e *env) nextRewrite(r *http.Request) rewrite {
	e.mu.Lock()
	defer e.mu.Unlock()
	if r.URL.Path != inventoryPath || len(e.rewrites) == 0 {
		return nil
	}
	f := e.rewrites[0]
	e.rewrites = e.rewrites[1:]
	return f
}

func (e *env) calls(route string) int { return e.sim.HTTP().CallCount(route) }

func ptr[T any](v T) *T { return &v }
