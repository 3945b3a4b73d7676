package pro

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/k12dev/devicesync-operator/internal/sim/jamfpro"
	"github.com/k12dev/devicesync-operator/internal/sim/simhttp"
)

func TestInventoryMapsTheFourSections(t *testing.T) {
	e := newEnv(t, envOpts{devices: 5})
	devs, err := e.client.Inventory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) != 5 {
		t.Fatalf("%d devices", len(devs))
	}
	cases := []struct {
		name string
		got  any
		want any
	}{
		{"id", devs[0].ID, 1},
		{"managementId", devs[0].ManagementID, "mgmt-0001"},
		{"serial from hardware.serialNumber", devs[0].Serial, "SER0001"},
		{"name from general.displayName", devs[0].Name, "iPad 0001"},
		{"managed", devs[0].Managed, true},
		{"supervised", devs[0].Supervised, true},
		{"unsupervised", devs[1].Supervised, false},
		{"unmanaged", devs[4].Managed, false},
		{"username", devs[0].Username, "jdoe"},
		{"real name", devs[0].RealName, "Jane Doe"},
		{"email", devs[0].Email, "jdoe@example.org"},
		{"position", devs[0].Position, "Grade 9"},
		{"phone", devs[0].Phone, "555-0100"},
		{"building id", devs[0].BuildingID, "1"},
		{"building name", devs[0].Building, "Lincoln High"},
		{"department name", devs[0].Department, "Grade 9"},
		{"room", devs[0].Room, "101"},
		{"no building maps -1 to empty id", devs[1].BuildingID, ""},
		{"no department maps -1 to empty id", devs[1].DepartmentID, ""},
		{"lost mode from security", devs[1].LostModeEnabled, true},
		{"lost mode off", devs[0].LostModeEnabled, false},
		{"readable", devs[0].Unreadable, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Fatalf("got %v, want %v", tc.got, tc.want)
			}
		})
	}
}

func TestInventoryListsAnAppleTVAsTvOSNotUnreadable(t *testing.T) {
	e := newEnv(t, envOpts{devices: 3})
	e.sim.SetModel(3, "Apple TV 4K (3rd generation)")
	devs, err := e.client.Inventory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		got  any
		want any
	}{
		{"an iPad is iOS", devs[0].DeviceType, DeviceTypeIOS},
		{"an Apple TV is tvOS", devs[2].DeviceType, "tvOS"},
		{"an Apple TV without a security section is not unreadable", devs[2].Unreadable, false},
		{"an Apple TV keeps its serial", devs[2].Serial, "SER0003"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Fatalf("got %v, want %v", tc.got, tc.want)
			}
		})
	}
}

func TestInventoryCalls(t *testing.T) {
	cases := []struct {
		name      string
		devices   int
		pageSize  int
		maxPage   int // simulator clamp
		wantPages int
	}{
		{"one page when everything fits", 30, 2000, 0, 1},
		{"a 20-page listing makes 20 page calls", 200, 10, 0, 20},
		{"a clamped page size is detected from the first page", 30, 2000, 7, 5},
		{"an exact multiple makes no empty trailing call", 30, 10, 0, 3},
		{"an empty inventory is one call", 0, 2000, 0, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOpts{devices: tc.devices, simOpts: func(o *jamfpro.Options) { o.MaxPageSize = tc.maxPage },
				cfg: func(c *Config) { c.PageSize = tc.pageSize }})
			devs, err := e.client.Inventory(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(devs) != tc.devices {
				t.Fatalf("%d devices, want %d", len(devs), tc.devices)
			}
			for i, d := range devs {
				if d.ID != i+1 {
					t.Fatalf("devices not sorted by id / not complete: position %d has id %d", i, d.ID)
				}
			}
			calls := e.sim.HTTP().Calls()
			if calls[routeDetail] != tc.wantPages || calls[routeOAuth] != 1 || len(calls) != 2 {
				t.Fatalf("calls:\n%s", simhttp.FormatCalls(calls))
			}
		})
	}
}

func TestInventoryTokenExpiresMidListing(t *testing.T) {
	cases := []struct {
		name        string
		concurrency int
		// clientSeesTime: the client's clock moves with the server's, so it renews before expiry;
		// otherwise the server rejects the token with 401 INVALID_TOKEN and the client renews once.
		clientSeesTime  bool
		wantDetailCalls func(int) bool
		wantTokenCalls  func(int) bool
	}{
		{"renewed before expiry: no page is refused", 1, true,
			func(n int) bool { return n == 20 }, func(n int) bool { return n >= 4 }},
		{"expired server side: the refused page is retried after one new token", 1, false,
			func(n int) bool { return n == 21 }, func(n int) bool { return n == 2 }},
		{"expired server side with 5 pages in flight: still one new token", 5, false,
			func(n int) bool { return n >= 21 && n <= 25 }, func(n int) bool { return n == 2 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOpts{devices: 200, ownClock: !tc.clientSeesTime,
				simOpts: func(o *jamfpro.Options) { o.TokenLifetime = 5 * time.Minute },
				cfg:     func(c *Config) { c.PageSize = 10; c.MaxConcurrency = tc.concurrency; c.RenewBefore = time.Minute }})
			var pages atomic.Int32
			e.hook(func(r *http.Request) {
				if r.URL.Path != "/api/v2/mobile-devices/detail" {
					return
				}
				if tc.clientSeesTime {
					e.serverClock.Step(time.Minute) // each page takes a minute
				} else if pages.Add(1) == 10 {
					e.sim.ExpireTokens()
				}
			})
			devs, err := e.client.Inventory(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(devs) != 200 {
				t.Fatalf("%d devices", len(devs))
			}
			if d, tk := e.calls(routeDetail), e.calls(routeOAuth); !tc.wantDetailCalls(d) || !tc.wantTokenCalls(tk) {
				t.Fatalf("detail calls %d, token calls %d", d, tk)
			}
		})
	}
}

func TestInventoryRetriesTransientFailures(t *testing.T) {
	cases := []struct {
		name      string
		fault     simhttp.Fault
		n         int
		wantCalls int
	}{
		{"HTML 502 then success", simhttp.FaultHTML502, 1, 2},
		{"HTML 504 twice then success", simhttp.FaultHTML504, 2, 3},
		{"503 then success", simhttp.FaultStatus503, 1, 2},
		{"500 then success", simhttp.FaultStatus500, 1, 2},
		{"truncated JSON then success", simhttp.FaultTruncated, 1, 2},
		{"connection reset then success", simhttp.FaultResetConnection, 1, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOpts{devices: 3})
			e.sim.HTTP().FailNext(routeDetail, tc.n, tc.fault)
			devs, err := e.client.Inventory(context.Background())
			if err != nil || len(devs) != 3 {
				t.Fatalf("err %v, %d devices", err, len(devs))
			}
			if got := e.calls(routeDetail); got != tc.wantCalls {
				t.Fatalf("detail calls %d, want %d", got, tc.wantCalls)
			}
		})
	}
}

func TestInventoryGivesUpWithATypedError(t *testing.T) {
	cases := []struct {
		name  string
		fault simhttp.Fault
		check func(t *testing.T, err error)
	}{
		{"HTML pages every time: *HTMLError describing the page without quoting it", simhttp.FaultHTML502, func(t *testing.T, err error) {
			var he *HTMLError
			if !errors.As(err, &he) || he.StatusCode != 502 || !strings.Contains(he.Snippet, "an HTML page (HTTP 502") || strings.Contains(he.Snippet, "Bad Gateway") || !he.Retryable {
				t.Fatalf("%#v", err)
			}
		}},
		{"plain 503 every time: *APIError 503, retryable", simhttp.FaultStatus503, func(t *testing.T, err error) {
			var ae *APIError
			if !errors.As(err, &ae) || ae.StatusCode != 503 || !ae.Retryable || !strings.Contains(ae.Description, "Service Unavailable") {
				t.Fatalf("%#v", err)
			}
		}},
		{"truncated JSON every time: *DecodeError", simhttp.FaultTruncated, func(t *testing.T, err error) {
			var de *DecodeError
			if !errors.As(err, &de) || de.StatusCode != 200 {
				t.Fatalf("%#v", err)
			}
		}},
		{"connection reset every time: *TransportError", simhttp.FaultResetConnection, func(t *testing.T, err error) {
			var te *TransportError
			if !errors.As(err, &te) || !te.Retryable {
				t.Fatalf("%#v", err)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOpts{devices: 3, cfg: func(c *Config) { c.MaxRetries = 2 }})
			e.sim.HTTP().FailNext(routeDetail, 10, tc.fault)
			_, err := e.client.Inventory(context.Background())
			tc.check(t, err)
			// 1 + MaxRetries; Go's transport itself may repeat a GET once on a reset reused connection.
			if got := e.calls(routeDetail); got < 3 || (got > 3 && tc.fault != simhttp.FaultResetConnection) || got > 6 {
				t.Fatalf("detail calls %d, want 3 (1 + MaxRetries)", got)
			}
		})
	}
}

func TestInventoryLenientAndStrict(t *testing.T) {
	t.Run("LENIENT: an unreadable section marks only that device", func(t *testing.T) {
		e := newEnv(t, envOpts{devices: 3})
		e.sim.SetUnreadable(2, "SECURITY")
		devs, err := e.client.Inventory(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !devs[1].Unreadable || devs[0].Unreadable || devs[2].Unreadable || devs[1].Serial != "SER0002" {
			t.Fatalf("%+v", devs)
		}
	})
	t.Run("a server without LENIENT fails the listing with the 500 ApiError", func(t *testing.T) {
		e := newEnv(t, envOpts{devices: 3, noException: true, cfg: func(c *Config) { c.MaxRetries = 1 }})
		e.sim.SetUnreadable(2, "SECURITY")
		_, err := e.client.Inventory(context.Background())
		var ae *APIError
		if !errors.As(err, &ae) || ae.StatusCode != 500 || ae.Code != "UNEXPECTED_ERROR" {
			t.Fatalf("%v", err)
		}
	})
}

func TestInventoryHonoursCancellation(t *testing.T) {
	e := newEnv(t, envOpts{devices: 3})
	e.sim.HTTP().FailNext(routeDetail, 1, simhttp.FaultHang)
	ctx, cancel := context.WithCancel(context.Background())
	arrived := make(chan struct{}, 1)
	e.hook(func(r *http.Request) {
		if r.URL.Path == "/api/v2/mobile-devices/detail" {
			arrived <- struct{}{}
		}
	})
	go func() { <-arrived; cancel() }()
	_, err := e.client.Inventory(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if got := e.calls(routeDetail); got != 1 {
		t.Fatalf("detail calls %d: a cancelled call must not be retried", got)
	}
}

func TestConcurrencyStaysWithinTheLimit(t *testing.T) {
	cases := []struct {
		name  string
		limit int
	}{
		{"default of 5", 0},
		{"configured 2", 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOpts{devices: 60, cfg: func(c *Config) { c.PageSize = 2; c.MaxConcurrency = tc.limit }})
			e.sim.HTTP().SetKnobs(simhttp.Knobs{Latency: 2 * time.Millisecond})
			if _, err := e.client.Inventory(context.Background()); err != nil {
				t.Fatal(err)
			}
			want := tc.limit
			if want == 0 {
				want = DefaultMaxConcurrency
			}
			if peak := e.sim.HTTP().PeakInFlight(); peak > want || peak < 1 {
				t.Fatalf("peak in flight %d, limit %d", peak, want)
			}
			if got := e.calls(routeDetail); got != 30 {
				t.Fatalf("detail calls %d", got)
			}
		})
	}
}

func TestOverloadRejectionsAreRetriedForReads(t *testing.T) {
	// The simulator answers 503 past 1 request in flight; the client (5 in flight) retries until done.
	e := newEnv(t, envOpts{devices: 20, cfg: func(c *Config) { c.PageSize = 2; c.MaxRetries = 50 }})
	e.sim.HTTP().SetKnobs(simhttp.Knobs{MaxConcurrent: 1, Overload: simhttp.OverloadReject, Latency: time.Millisecond})
	devs, err := e.client.Inventory(context.Background())
	if err != nil || len(devs) != 20 {
		t.Fatalf("%v, %d devices", err, len(devs))
	}
}

func TestTimeoutsAreRetriedForReads(t *testing.T) {
	t.Run("a hung request times out and the retry succeeds", func(t *testing.T) {
		e := newEnv(t, envOpts{devices: 3, timeout: 100 * time.Millisecond})
		e.sim.HTTP().FailNext(routeDetail, 1, simhttp.FaultHang)
		devs, err := e.client.Inventory(context.Background())
		if err != nil || len(devs) != 3 || e.calls(routeDetail) != 2 {
			t.Fatalf("err %v, %d devices, %d calls", err, len(devs), e.calls(routeDetail))
		}
	})
	t.Run("timeouts past the retries are a TransportError marked Timeout", func(t *testing.T) {
		e := newEnv(t, envOpts{devices: 3, timeout: 100 * time.Millisecond, cfg: func(c *Config) { c.MaxRetries = 1 }})
		e.sim.HTTP().FailNext(routeDetail, 2, simhttp.FaultHang)
		_, err := e.client.Inventory(context.Background())
		var te *TransportError
		if !errors.As(err, &te) || !te.Timeout || e.calls(routeDetail) != 2 {
			t.Fatalf("err %v, %d calls", err, e.calls(routeDetail))
		}
	})
}

// wirePage is an inventory page as encoding/json reads it whole: the reading the page decoder must agree
// with. Its rows are converted as each results array is read (so a row that fails fails the page even
// when a repeated results key replaces it), each into a fresh wire row (encoding/json alone would decode
// a repeated key's rows over the earlier rows' fields), at most 2000 of them.
type wirePage struct {
	TotalCount int64    `json:"totalCount"`
	Results    wireRows `json:"results"`
}

type wireRows []MobileDevice

func (w *wireRows) UnmarshalJSON(b []byte) error {
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	if len(raw) > 2000 {
		return errors.New("more rows than asked")
	}
	rows := wireRows{}
	if raw == nil {
		rows = nil
	}
	for _, r := range raw {
		var wire inventoryDevice
		if err := json.Unmarshal(r, &wire); err != nil {
			return err
		}
		m, err := wire.toDevice()
		if err != nil {
			return err
		}
		rows = append(rows, m)
	}
	*w = rows
	return nil
}

// FuzzDecodeInventoryPage feeds arbitrary bodies to the page decoder and to encoding/json: never a
// panic; the decoder accepts exactly the single JSON objects that encoding/json reads into a page (every
// row converted), with the same totalCount and the same rows; and a 200 that is not an inventory page
// is an error, not an empty inventory.
func FuzzDecodeInventoryPage(f *testing.F) {
	for _, seed := range []string{
		`{"totalCount":1,"results":[{"mobileDeviceId":"1","deviceType":"iOS","general":null}]}`,
		`{"results":[{"mobileDeviceId":"1"},{"mobileDeviceId":"2"}],"totalCount":2}`,
		`{"TOTALCOUNT":1,"Results":[{"MobileDeviceID":"7"}],"padding":{"a":[1,"x",null]}}`,
		`{"results":[{"mobileDeviceId":"1"}],"results":[{"mobileDeviceId":"2"}],"totalCount":1,"totalCount":null}`,
		`{"results":[{"mobileDeviceId":"0","general":{}}],"results":[{}],"totalCount":1}`,
		`{"results":[{}],"results":null}`,
		`{"totalCount":1,"results":null}`,
		`{"totalCount":1,"results":[{"mobileDeviceId":"x"}]}`,
		`{"totalCount":1,"results":[{"mobileDeviceId":"1"}]} {}`,
		`{"totalCount":1,"results":[{"mobileDeviceId":"1"},`,
		`{"totalCount":"1","results":[]}`,
		`{"totalCount":1,"results":{}}`,
		`<html><body>502</body></html>`,
		`{"totalCount":`,
		`null`, `[]`, ``, ` {} `,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p := newPageDecoder(0, 2000, func(m *MobileDevice) MobileDevice { return *m })
		err := p.decode(bytes.NewReader(body))

		var ref wirePage
		refErr := json.Unmarshal(body, &ref)
		if refErr == nil && !bytes.HasPrefix(bytes.TrimLeft(body, " \t\r\n"), []byte("{")) {
			refErr = errors.New("not an object")
		}
		switch {
		case (err == nil) != (refErr == nil):
			t.Fatalf("page decoder: %v; encoding/json: %v", err, refErr)
		case err != nil:
			return
		case p.total != ref.TotalCount || !slices.Equal(p.rows.v, ref.Results):
			t.Fatalf("page decoder read totalCount %d and rows %+v; encoding/json %d and %+v", p.total, p.rows.v, ref.TotalCount, ref.Results)
		}
		for i, d := range p.rows.v {
			if p.rows.ids[i] != d.ID {
				t.Fatalf("row %d: id %d kept for device %d", i, p.rows.ids[i], d.ID)
			}
		}
	})
}

// BenchmarkInventory lists 2000 devices in pages of 100 from a simulator with 5ms latency, and reports
// the calls made and the lower bound (page calls x latency / concurrency) next to the wall time.
func BenchmarkInventory(b *testing.B) {
	const latency = 5 * time.Millisecond
	e := newEnv(b, envOpts{devices: 2000, cfg: func(c *Config) { c.PageSize = 100 }})
	e.sim.HTTP().SetKnobs(simhttp.Knobs{Latency: latency})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := e.client.Inventory(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	pages := float64(e.calls(routeDetail)) / float64(b.N)
	b.ReportMetric(pages, "pages/op")
	b.ReportMetric(float64(e.sim.HTTP().PeakInFlight()), "peak-in-flight")
	b.ReportMetric(pages*float64(latency.Milliseconds())/DefaultMaxConcurrency, "lower-bound-ms/op")
}
