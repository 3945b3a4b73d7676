package pro

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/k12dev/devicesync-operator/internal/httpx"
)

// Inventory pages are decoded as they arrive (pageDecoder): these tests serve the simulator's pages
// changed on their way to the client, as gateways, proxies and broken servers change them.

// simPage is a simulator inventory answer taken apart: its totalCount and its rows, as sent.
type simPage struct {
	total json.RawMessage
	rows  []json.RawMessage
}

func readSimPage(t testing.TB, rec *httptest.ResponseRecorder) simPage {
	var p struct {
		TotalCount json.RawMessage   `json:"totalCount"`
		Results    []json.RawMessage `json:"results"`
	}
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &p) != nil {
		t.Errorf("the simulator answered HTTP %d %q", rec.Code, rec.Body.String())
	}
	return simPage{p.TotalCount, p.Results}
}

// joined is the rows as the inside of the results array.
func (p simPage) joined() string {
	parts := make([]string, len(p.rows))
	for i, r := range p.rows {
		parts[i] = string(r)
	}
	return strings.Join(parts, ",")
}

// serveJSON answers 200 with body as Jamf's JSON.
func serveJSON(w http.ResponseWriter, body string) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	_, _ = w.Write([]byte(body))
}

// breakMidBody sends the headers of the simulator's answer (its full Content-Length included) and the
// first half of its body, then drops the connection: a gateway or a server failing mid-answer.
func breakMidBody(w http.ResponseWriter, _ *http.Request, sim *httptest.ResponseRecorder) {
	for k, v := range sim.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(sim.Code)
	body := sim.Body.Bytes()
	_, _ = w.Write(body[:len(body)/2])
	w.(http.Flusher).Flush()
	panic(http.ErrAbortHandler) // net/http closes the connection without a word
}

// countingConv is a conv that counts the rows it converted.
func countingConv(n *atomic.Int64) func(*MobileDevice) MobileDevice {
	return func(m *MobileDevice) MobileDevice { n.Add(1); return *m }
}

func TestInventoryPageBrokenMidBodyIsAskedAgainWithoutItsRows(t *testing.T) {
	cases := []struct {
		name      string
		cfg       func(c *Config)
		brokenReq int // the inventory request (from 1) whose answer breaks
		breaks    int // how many answers in a row break
		wantSizes []int
		wantErr   bool
	}{
		{
			name: "broken after half a page: the page is asked again at half its size, every device once",
			cfg:  func(c *Config) { c.PageSize = 10; c.MinPageSize = 5 }, brokenReq: 2, breaks: 1,
			// Rows 10-19 break; rows 10-14 and 15-19 follow at 5, then the rest at 5.
			wantSizes: []int{10, 10, 5, 5, 5, 5, 5, 5},
		},
		{
			name: "broken after half a page at the floor size: asked again at the same size, every device once",
			cfg:  func(c *Config) { c.PageSize = 10; c.MinPageSize = 10 }, brokenReq: 2, breaks: 1,
			wantSizes: []int{10, 10, 10, 10, 10},
		},
		{
			name: "broken every time: a retryable *TransportError once the retries are spent, no devices",
			cfg:  func(c *Config) { c.PageSize = 10; c.MinPageSize = 10; c.MaxRetries = 2 }, brokenReq: 1, breaks: 3,
			wantSizes: []int{10, 10, 10}, wantErr: true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			const devices = 40
			e := newEnv(t, envOpts{devices: devices, cfg: func(c *Config) { c.MaxConcurrency = 1; tc.cfg(c) }})
			var ps pageSizes
			ps.hook(e, func(r *http.Request, n int) {
				if n == tc.brokenReq {
					e.rewriteInventory(tc.breaks, breakMidBody)
				}
			})
			var converted atomic.Int64
			devs, err := InventoryAs(context.Background(), e.client, countingConv(&converted))
			if tc.wantErr {
				var te *TransportError
				if !errors.As(err, &te) || !te.Retryable || !te.MaybeSent || devs != nil {
					t.Fatalf("err %v, %d devices: want a retryable *TransportError and no devices", err, len(devs))
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				wantEveryDeviceOnce(t, devs, devices)
				if converted.Load() <= devices {
					t.Fatalf("%d rows converted: the answer broke before any row arrived, the case proves nothing", converted.Load())
				}
			}
			if !equalInts(ps.get(), tc.wantSizes) {
				t.Fatalf("page sizes %v, want %v", ps.get(), tc.wantSizes)
			}
		})
	}
}

// pageBytes is the length of the simulator's longest answer for pages of size rows out of devices.
func pageBytes(t *testing.T, devices, size int) int {
	e := newEnv(t, envOpts{devices: devices, cfg: func(c *Config) { c.PageSize = size; c.MaxConcurrency = 1 }})
	var longest atomic.Int64
	e.rewriteInventory(devices/size+1, func(w http.ResponseWriter, r *http.Request, sim *httptest.ResponseRecorder) {
		longest.Store(max(longest.Load(), int64(sim.Body.Len())))
		serveJSON(w, sim.Body.String())
	})
	if _, err := e.client.Inventory(context.Background()); err != nil {
		t.Fatal(err)
	}
	return int(longest.Load())
}

func TestInventoryPageOverTheBodyCap(t *testing.T) {
	const devices = 40
	// The cap lets the longest page of 10 rows through and stops every page of 20.
	limit := int64(pageBytes(t, devices, 10) + 16)
	cases := []struct {
		name      string
		minPage   int
		wantSizes []int
		wantErr   bool
	}{
		{"a page over the cap is asked again at half its size, and the listing goes on at that size", 5,
			[]int{20, 10, 10, 10, 10}, false},
		{"a page over the cap at the floor size fails the read, not asked again (the same page is as long)", 20,
			[]int{20}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOpts{devices: devices, cfg: func(c *Config) {
				c.PageSize, c.MinPageSize, c.MaxConcurrency, c.MaxBodyBytes = 20, tc.minPage, 1, limit
			}})
			var ps pageSizes
			ps.hook(e, nil)
			devs, err := e.client.Inventory(context.Background())
			if tc.wantErr {
				var big *httpx.BodyTooLargeError
				if !errors.As(err, &big) || big.Max != limit || IsRetryable(err) || devs != nil {
					t.Fatalf("err %v, %d devices: want a final error naming the cap of %d bytes", err, len(devs), limit)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				wantEveryDeviceOnce(t, devs, devices)
			}
			if !equalInts(ps.get(), tc.wantSizes) {
				t.Fatalf("page sizes %v, want %v", ps.get(), tc.wantSizes)
			}
		})
	}
}

func TestInventoryPageReadAsEncodingJSONReadsIt(t *testing.T) {
	cases := []struct {
		name string
		page func(p simPage) string
	}{
		{"totalCount after the rows (the simulator's own order)", func(p simPage) string {
			return `{"results":[` + p.joined() + `],"totalCount":` + string(p.total) + `}`
		}},
		{"totalCount before the rows", func(p simPage) string {
			return `{"totalCount":` + string(p.total) + `,"results":[` + p.joined() + `]}`
		}},
		{"keys in another case", func(p simPage) string {
			return `{"TotalCount":` + string(p.total) + `,"RESULTS":[` + p.joined() + `]}`
		}},
		{"unknown keys before, between and after, of every kind, skipped", func(p simPage) string {
			return `{"links":{"next":[1,2,{"x":null}]},"totalCount":` + string(p.total) + `,"note":"results",` +
				`"results":[` + p.joined() + `],"took":12.5,"more":false,"extra":null}`
		}},
		{"whitespace around everything", func(p simPage) string {
			return "\n\t{ \"totalCount\" : " + string(p.total) + " ,\r\n \"results\" : [ " + p.joined() + " ] }\n\n"
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			const devices = 25
			e := newEnv(t, envOpts{devices: devices, cfg: func(c *Config) { c.PageSize = 10 }})
			e.rewriteInventory(100, func(w http.ResponseWriter, r *http.Request, sim *httptest.ResponseRecorder) {
				serveJSON(w, tc.page(readSimPage(t, sim)))
			})
			devs, err := e.client.Inventory(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			wantEveryDeviceOnce(t, devs, devices)
			if d := devs[0]; d.Username != "jdoe" || d.Building != "Lincoln High" || d.Serial != "SER0001" || !d.Supervised {
				t.Fatalf("device 1 read as %+v", d)
			}
			if e.calls(routeDetail) != 3 {
				t.Fatalf("%d pages asked for, want 3", e.calls(routeDetail))
			}
		})
	}
}

func TestInventoryPageThatIsNotOneGoodPageFailsTheRead(t *testing.T) {
	type want struct {
		err       string // in the error
		retryable bool   // a malformed answer is asked again (as any GET); a page judged wrong is final
	}
	cases := []struct {
		name   string
		answer func(w http.ResponseWriter, p simPage)
		want   want
	}{
		{"malformed JSON after some rows", func(w http.ResponseWriter, p simPage) {
			serveJSON(w, `{"totalCount":`+string(p.total)+`,"results":[`+string(p.rows[0])+`,`+string(p.rows[1])+`,{"mobileDeviceId":]}`)
		}, want{"cannot decode body: invalid character", true}},
		{"an answer that ends after some rows", func(w http.ResponseWriter, p simPage) {
			serveJSON(w, `{"totalCount":`+string(p.total)+`,"results":[`+string(p.rows[0])+`,`)
		}, want{"unexpected EOF", true}},
		{"data after the page", func(w http.ResponseWriter, p simPage) {
			serveJSON(w, `{"totalCount":`+string(p.total)+`,"results":[`+p.joined()+`]} {}`)
		}, want{"data follows the JSON object", true}},
		{"null instead of a page: not an empty inventory", func(w http.ResponseWriter, p simPage) {
			serveJSON(w, `null`)
		}, want{"not a JSON object", true}},
		{"an empty 200: not an empty inventory", func(w http.ResponseWriter, p simPage) {
			serveJSON(w, ``)
		}, want{"the answer is empty", true}},
		{"results that are not an array", func(w http.ResponseWriter, p simPage) {
			serveJSON(w, `{"totalCount":`+string(p.total)+`,"results":{"0":`+string(p.rows[0])+`}}`)
		}, want{`"results" is an object, not a list`, true}},
		{"a row whose id is not a number: the page is final", func(w http.ResponseWriter, p simPage) {
			serveJSON(w, `{"totalCount":`+string(p.total)+`,"results":[`+string(p.rows[0])+`,{"mobileDeviceId":"x"}]}`)
		}, want{`mobileDeviceId "x" is not a number`, false}},
		{"a member over the cap on one value: final, never held", func(w http.ResponseWriter, p simPage) {
			serveJSON(w, `{"totalCount":`+string(p.total)+`,"pad":"`+strings.Repeat("x", httpx.MaxJSONValueBytes+1)+`","results":[`+p.joined()+`]}`)
		}, want{"a JSON value larger than", false}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOpts{devices: 30, cfg: func(c *Config) { c.PageSize, c.MinPageSize, c.MaxRetries = 10, 5, 2 }})
			var ps pageSizes
			ps.hook(e, nil)
			e.rewriteInventory(100, func(w http.ResponseWriter, r *http.Request, sim *httptest.ResponseRecorder) {
				tc.answer(w, readSimPage(t, sim))
			})
			devs, err := e.client.Inventory(context.Background())
			var de *DecodeError
			if !errors.As(err, &de) || de.StatusCode != http.StatusOK || !strings.Contains(err.Error(), tc.want.err) ||
				IsRetryable(err) != tc.want.retryable || devs != nil {
				t.Fatalf("err %v, %d devices: want a *DecodeError saying %q, retryable %v, and no devices", err, len(devs), tc.want.err, tc.want.retryable)
			}
			wantSizes := []int{10} // neither shrunk (the answer came whole) nor asked again when judged final
			if tc.want.retryable {
				wantSizes = []int{10, 10, 10}
			}
			if !equalInts(ps.get(), wantSizes) {
				t.Fatalf("page sizes %v, want %v", ps.get(), wantSizes)
			}
		})
	}
}

func TestInventoryPageHTMLOn200IsRefused(t *testing.T) {
	cases := []struct {
		name        string
		contentType string
	}{
		{"an HTML page said to be HTML", "text/html; charset=utf-8"},
		{"an HTML page said to be JSON", "application/json"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOpts{devices: 30, cfg: func(c *Config) { c.PageSize, c.MinPageSize = 10, 5 }})
			e.rewriteInventory(100, func(w http.ResponseWriter, r *http.Request, sim *httptest.ResponseRecorder) {
				w.Header().Set("Content-Type", tc.contentType)
				_, _ = w.Write([]byte("\n<!DOCTYPE html><html><head><title>Sign in</title></head><body>Jamf Pro login</body></html>"))
			})
			devs, err := e.client.Inventory(context.Background())
			var he *HTMLError
			if !errors.As(err, &he) || he.StatusCode != http.StatusOK || he.Retryable || strings.Contains(err.Error(), "Sign in") || devs != nil {
				t.Fatalf("err %v, %d devices: want a final *HTMLError for HTTP 200 that does not quote the page", err, len(devs))
			}
			if n := e.calls(routeDetail); n != 1 {
				t.Fatalf("%d pages asked for, want 1", n)
			}
		})
	}
}

func TestInventoryPageWithMoreRowsThanAskedFailsAtOnce(t *testing.T) {
	// The answer holds one row more than asked for, then stalls without ending: the read must fail on
	// that row, not wait for the rest (the attempt would time out after 10s).
	e := newEnv(t, envOpts{devices: 30, timeout: 10 * time.Second, cfg: func(c *Config) { c.PageSize = 10 }})
	e.rewriteInventory(1, func(w http.ResponseWriter, r *http.Request, sim *httptest.ResponseRecorder) {
		p := readSimPage(t, sim)
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		_, _ = fmt.Fprintf(w, `{"results":[%s,%s`, p.joined(), p.rows[len(p.rows)-1])
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done(): // the client hung up
		case <-time.After(20 * time.Second):
		}
	})
	start := time.Now()
	devs, err := e.client.Inventory(context.Background())
	var de *DecodeError
	if !errors.As(err, &de) || IsRetryable(err) || !strings.Contains(err.Error(), "asked for 10 rows from row 0, got more") || devs != nil {
		t.Fatalf("err %v, %d devices: want a final *DecodeError for the row past the page", err, len(devs))
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("the read failed after %v: it waited for the answer to end", took)
	}
	if n := e.calls(routeDetail); n != 1 {
		t.Fatalf("%d pages asked for, want 1", n)
	}
}
