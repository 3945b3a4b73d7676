package pro

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/k12dev/devicesync-operator/internal/sim/jamfpro"
	"github.com/k12dev/devicesync-operator/internal/sim/simhttp"
)

// pageSizes records the page-size of every inventory request, in order.
type pageSizes struct {
	mu    sync.Mutex
	sizes []int
}

func (p *pageSizes) hook(e *env, also func(r *http.Request, n int)) {
	e.hook(func(r *http.Request) {
		if r.URL.Path != inventoryPath {
			return
		}
		size, _ := strconv.Atoi(r.URL.Query().Get("page-size"))
		p.mu.Lock()
		p.sizes = append(p.sizes, size)
		n := len(p.sizes)
		p.mu.Unlock()
		if also != nil {
			also(r, n)
		}
	})
}

func (p *pageSizes) get() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]int(nil), p.sizes...)
}

// wantEveryDeviceOnce checks that the listing holds ids 1..n, each once, in order.
func wantEveryDeviceOnce(t *testing.T, devs []MobileDevice, n int) {
	t.Helper()
	if len(devs) != n {
		t.Fatalf("%d devices listed, want %d", len(devs), n)
	}
	for i, d := range devs {
		if d.ID != i+1 {
			t.Fatalf("position %d holds device %d: rows were skipped or repeated", i, d.ID)
		}
	}
}

func TestInventoryPaging(t *testing.T) {
	cases := []struct {
		name    string
		devices int
		opts    envOpts
		// arm runs before each inventory request (n counts them from 1).
		arm        func(e *env, r *http.Request, n int)
		wantSizes  []int // the page sizes asked, in order (nil: not checked)
		wantFaults int
	}{
		{
			name: "the default page is 500 devices", devices: 1200,
			opts:      envOpts{cfg: func(c *Config) { c.MaxConcurrency = 1 }},
			wantSizes: []int{500, 500, 500},
		},
		{
			name: "a page the gateway cannot serve is halved until it passes, and the smaller size is kept",
			// 500, 250 and 125 are over the gateway's 120; 62 passes; the rest of the listing asks for 62.
			devices: 300,
			opts: envOpts{cfg: func(c *Config) { c.MaxConcurrency = 1; c.MaxRetries = 5 },
				simOpts: func(o *jamfpro.Options) { o.MaxHealthyPageSize = 120 }},
			wantSizes:  []int{500, 250, 125, 62, 62, 62, 62, 62},
			wantFaults: 3,
		},
		{
			name: "a 503 in the middle of the listing halves that page; its second half is fetched on its own",
			// Rows 0-99 at 100; the page of rows 100-199 fails and is asked as rows 100-149 at 50; rows
			// 150-199 and the rest follow at 50.
			devices: 400,
			opts:    envOpts{cfg: func(c *Config) { c.PageSize = 100; c.MinPageSize = 25; c.MaxConcurrency = 1 }},
			arm: func(e *env, r *http.Request, n int) {
				if n == 2 { // armed just before the second request is served
					e.sim.HTTP().FailNext(routeDetail, 1, simhttp.FaultStatus503)
				}
			},
			wantSizes:  []int{100, 100, 50, 50, 50, 50, 50, 50},
			wantFaults: 1,
		},
		{
			name:    "a timeout shrinks the page too",
			devices: 40,
			opts:    envOpts{timeout: 200 * time.Millisecond, cfg: func(c *Config) { c.PageSize = 20; c.MinPageSize = 5; c.MaxConcurrency = 1 }},
			arm: func(e *env, r *http.Request, n int) {
				if n == 1 {
					e.sim.HTTP().FailNext(routeDetail, 1, simhttp.FaultHang)
				}
			},
			wantSizes:  []int{20, 10, 10, 10, 10},
			wantFaults: 1,
		},
		{
			name:    "sizes never shrink below the floor: at the floor a failure is retried at the same size",
			devices: 30,
			opts:    envOpts{cfg: func(c *Config) { c.PageSize = 10; c.MinPageSize = 10; c.MaxConcurrency = 1 }},
			arm: func(e *env, r *http.Request, n int) {
				if n == 1 {
					e.sim.HTTP().FailNext(routeDetail, 1, simhttp.FaultHTML502)
				}
			},
			wantSizes:  []int{10, 10, 10, 10},
			wantFaults: 1,
		},
		{
			name:    "concurrent pages with a shrink mid-listing still list every row once",
			devices: 1000,
			opts:    envOpts{cfg: func(c *Config) { c.PageSize = 64; c.MinPageSize = 8; c.MaxConcurrency = 5 }},
			arm: func(e *env, r *http.Request, n int) {
				if n == 3 || n == 7 {
					e.sim.HTTP().FailNext(routeDetail, 2, simhttp.FaultStatus500)
				}
			},
			wantFaults: 4,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.devices = tc.devices
			e := newEnv(t, tc.opts)
			var ps pageSizes
			ps.hook(e, func(r *http.Request, n int) {
				if tc.arm != nil {
					tc.arm(e, r, n)
				}
			})
			devs, err := e.client.Inventory(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			wantEveryDeviceOnce(t, devs, tc.devices)
			if got := e.sim.FaultsServed(); got < tc.wantFaults {
				t.Fatalf("%d faults served, want %d: the case did not exercise its fault", got, tc.wantFaults)
			}
			if tc.wantSizes != nil && !equalInts(ps.get(), tc.wantSizes) {
				t.Fatalf("page sizes %v, want %v", ps.get(), tc.wantSizes)
			}
		})
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestListingCountsAreChecked(t *testing.T) {
	cases := []struct {
		name            string
		inventoryTotal  int64
		commandsTotal   int64
		read            func(c *Client) error
		wantErr         string
		maxInventoryGET int
	}{
		{"an absurd inventory totalCount fails the read, nothing is sized by it", 9e18, 0,
			func(c *Client) error { _, err := c.Inventory(context.Background()); return err },
			"totalCount 9000000000000000000 is not a plausible count", 1},
		{"a negative inventory totalCount fails the read", -1, 0,
			func(c *Client) error { _, err := c.Inventory(context.Background()); return err },
			"totalCount -1 is not a plausible count", 1},
		{"an inventory totalCount larger than the rows that follow fails the read", 100, 0,
			func(c *Client) error { _, err := c.Inventory(context.Background()); return err },
			"the listing is incomplete", 10},
		{"an absurd command totalCount fails the read", 0, 9e18,
			func(c *Client) error { _, err := c.PendingLostMode(context.Background()); return err },
			"totalCount 9000000000000000000 is not a plausible count", 0},
		{"a command totalCount larger than the rows fails the read", 0, 40,
			func(c *Client) error { _, err := c.PendingLostMode(context.Background()); return err },
			"the listing ended after", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOpts{devices: 30, cfg: func(c *Config) { c.PageSize = 10; c.MinPageSize = 10 }})
			e.sim.ReportTotals(tc.inventoryTotal, tc.commandsTotal)
			err := tc.read(e.client)
			var de *DecodeError
			if !errors.As(err, &de) || !strings.Contains(err.Error(), tc.wantErr) || IsRetryable(err) {
				t.Fatalf("err %v, want a final *DecodeError saying %q", err, tc.wantErr)
			}
			if n := e.calls(routeDetail); n > tc.maxInventoryGET {
				t.Fatalf("%d inventory pages asked for", n)
			}
		})
	}
}

func TestPendingCommandsFollowTheRowsWhenJamfClampsThePageSize(t *testing.T) {
	e := newEnv(t, envOpts{devices: 20, simOpts: func(o *jamfpro.Options) { o.MaxCommandPageSize = 2 }})
	want := map[string]bool{}
	for id := 1; id <= 13; id += 2 { // supervised devices, offline: their commands stay pending
		e.sim.SetOffline(id, true)
		mid := "mgmt-" + leftPad(id)
		if _, err := e.client.EnableLostMode(context.Background(), mid, LostMode{Message: "Return to the library"}); err != nil {
			t.Fatal(err)
		}
		want[mid] = true
	}
	got, err := e.client.PendingLostMode(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d pending commands read, want %d: %v", len(got), len(want), got)
	}
	for mid := range want {
		if !got[mid] {
			t.Fatalf("pending ENABLE_LOST_MODE for %s missed", mid)
		}
	}
	// 7 pending ENABLE_LOST_MODE commands in pages of 2 make 4 pages; no DISABLE_LOST_MODE makes 1.
	if n := e.calls(routeListCmds); n != 5 {
		t.Fatalf("%d command listing pages, want 5", n)
	}
}

func leftPad(id int) string {
	s := strconv.Itoa(id)
	return strings.Repeat("0", 4-len(s)) + s
}

func TestBuildingListingCountsAreChecked(t *testing.T) {
	cases := []struct {
		name    string
		total   int64
		wantErr string
	}{
		{"an absurd totalCount", 9e18, "not a plausible count"},
		{"a totalCount larger than the rows", 50, "the listing ended after"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOpts{devices: 3})
			e.sim.Intercept(routeBuildings, 5, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				page := r.URL.Query().Get("page")
				if page == "0" {
					_, _ = w.Write([]byte(`{"totalCount":` + strconv.FormatInt(tc.total, 10) + `,"results":[{"id":"1","name":"Lincoln High"}]}`))
					return
				}
				_, _ = w.Write([]byte(`{"totalCount":` + strconv.FormatInt(tc.total, 10) + `,"results":[]}`))
			})
			_, err := e.client.Buildings(context.Background())
			var de *DecodeError
			if !errors.As(err, &de) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err %v, want a *DecodeError saying %q", err, tc.wantErr)
			}
		})
	}
}
