package jamfschool

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Each wire fault answers one request as documented, is counted in FaultsServed, and leaves the next
// request to the real handler.
func TestWireFaultsAreServedOnceAndCounted(t *testing.T) {
	tests := []struct {
		name  string
		fault WireFault
		check func(t *testing.T, status int, h http.Header, body []byte, took time.Duration)
	}{
		{"RetryAfter: 429 with the wait in whole seconds", WireFault{RetryAfter: 24 * time.Hour}, func(t *testing.T, status int, h http.Header, body []byte, _ time.Duration) {
			if status != 429 || h.Get("Retry-After") != "86400" || !bytes.Contains(body, []byte(`"message":"TooManyRequests"`)) {
				t.Errorf("got %d Retry-After %q %s", status, h.Get("Retry-After"), body)
			}
		}},
		{"Oversize: a JSON body of the size asked", WireFault{Oversize: 1 << 20}, func(t *testing.T, status int, _ http.Header, body []byte, _ time.Duration) {
			if status != 200 || len(body) != 1<<20 || !bytes.HasPrefix(body, []byte(`{"code":200,"padding":"`)) || !bytes.HasSuffix(body, []byte(`"}`)) {
				t.Errorf("got %d, %d bytes", status, len(body))
			}
		}},
		{"Drip: the real answer, slowly", WireFault{Drip: time.Millisecond}, func(t *testing.T, status int, _ http.Header, body []byte, took time.Duration) {
			if status != 200 || !bytes.Contains(body, []byte(`"devices":[`)) || took < time.Duration(len(body))*time.Millisecond/2 {
				t.Errorf("got %d, %d bytes in %v", status, len(body), took)
			}
		}},
		{"RedirectTo: 307 to the other URL, path and query kept", WireFault{RedirectTo: "http://elsewhere.example"}, func(t *testing.T, status int, h http.Header, _ []byte, _ time.Duration) {
			if status != 307 || h.Get("Location") != "http://elsewhere.example/api/devices?serialnumber=X" {
				t.Errorf("got %d Location %q", status, h.Get("Location"))
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.sim.InjectNext(PatternDevices, 1, tt.fault)
			start := time.Now()
			status, hdr, body := getNoRedirect(t, h.srv.URL+"/api/devices?serialnumber=X")
			tt.check(t, status, hdr, body, time.Since(start))
			if n := h.sim.FaultsServed(); n != 1 {
				t.Errorf("FaultsServed %d, want 1", n)
			}
			if status, _, body := h.do(t, call{method: "GET", path: "/api/devices?serialnumber=X"}); status != 200 || !strings.Contains(string(body), `"devices":[]`) {
				t.Errorf("the next request got %d %s, want the real answer", status, body)
			}
		})
	}
}

// getNoRedirect is an authorised GET that shows a redirect instead of following it.
func getNoRedirect(t *testing.T, url string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(DefaultNetworkID, DefaultAPIKey)
	req.Header.Set("X-Server-Protocol-Version", "3")
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}
