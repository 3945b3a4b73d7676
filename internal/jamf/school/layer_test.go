package school

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/k12dev/devicesync-operator/internal/httpx"
)

// A 429's Retry-After is waited for, up to the cap; a longer one ends the call at once instead of
// hanging the run.
func TestRetryAfterIsHonouredUpToTheCap(t *testing.T) {
	tests := []struct {
		name       string
		retryAfter string
		wantErr    bool
		wantWait   time.Duration
		wantCalls  int32
	}{
		{"30 seconds: waited, then retried", "30", false, 30 * time.Second, 2},
		{"a day: the call ends without waiting", "86400", true, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				if calls.Add(1) == 1 {
					w.Header().Set("Retry-After", tt.retryAfter)
					w.WriteHeader(http.StatusTooManyRequests)
					_, _ = io.WriteString(w, `{"code":429,"message":"TooManyRequests"}`)
					return
				}
				_, _ = io.WriteString(w, `{"code":200,"count":0,"devices":[]}`)
			}))
			defer srv.Close()
			var mu sync.Mutex
			var waits []time.Duration
			c := newTestClient(t, srv.URL+"/api", func(c *Config) {
				c.Sleep = func(ctx context.Context, d time.Duration) error {
					mu.Lock()
					waits = append(waits, d)
					mu.Unlock()
					return ctx.Err()
				}
			})
			_, err := c.Devices(context.Background())
			var tooLong *httpx.RetryAfterTooLongError
			if tt.wantErr != (err != nil) || tt.wantErr && !errors.As(err, &tooLong) {
				t.Fatalf("got %v, want error %v (a RetryAfterTooLongError)", err, tt.wantErr)
			}
			if calls.Load() != tt.wantCalls {
				t.Errorf("%d calls, want %d", calls.Load(), tt.wantCalls)
			}
			if tt.wantWait > 0 && (len(waits) != 1 || waits[0] < tt.wantWait) {
				t.Errorf("waits %v, want one of at least %v", waits, tt.wantWait)
			}
			if tt.wantWait == 0 && len(waits) != 0 {
				t.Errorf("waits %v, want none", waits)
			}
		})
	}
}

// A redirect to another host, or from https to http, is refused: the network id and API key never
// reach the other server, and the refusal is not retried.
func TestRedirectsElsewhereAreRefusedWithoutCredentials(t *testing.T) {
	var otherCalls, otherAuth atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		otherCalls.Add(1)
		if r.Header.Get("Authorization") != "" {
			otherAuth.Add(1)
		}
		_, _ = io.WriteString(w, `{"code":200,"count":0,"devices":[]}`)
	}))
	defer other.Close()
	tests := []struct {
		name string
		tls  bool
	}{
		{"http to another host", false},
		{"https to http", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			otherCalls.Store(0)
			otherAuth.Store(0)
			var calls atomic.Int32
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
			})
			var srv *httptest.Server
			if tt.tls {
				srv = httptest.NewTLSServer(h)
			} else {
				srv = httptest.NewServer(h)
			}
			defer srv.Close()
			c := newTestClient(t, srv.URL+"/api", func(c *Config) { c.HTTPClient = httpx.NewClient(httpx.ClientOptions{Base: srv.Client().Transport}) })
			_, err := c.Devices(context.Background())
			var re *httpx.RedirectError
			if !errors.As(err, &re) {
				t.Fatalf("got %v, want a refused redirect", err)
			}
			if otherCalls.Load() != 0 || otherAuth.Load() != 0 {
				t.Errorf("the other server got %d requests, %d with credentials; want none", otherCalls.Load(), otherAuth.Load())
			}
			if calls.Load() != 1 {
				t.Errorf("%d calls, want 1 (a refused redirect is final)", calls.Load())
			}
		})
	}
}
