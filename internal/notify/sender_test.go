package notify_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/k12dev/devicesync-operator/internal/httpx"
	"github.com/k12dev/devicesync-operator/internal/notify"
)

const token = "T000/B000/XXXXSECRETTOKEN"

// receiver answers each POST with the next status of its script (then 200) and records the bodies.
type receiver struct {
	mu       sync.Mutex
	statuses []int
	bodies   []string
	types    []string
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	if req.Method != http.MethodPost || req.URL.Path != "/services/"+token {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	r.bodies = append(r.bodies, string(b))
	r.types = append(r.types, req.Header.Get("Content-Type"))
	status := http.StatusOK
	if len(r.statuses) > 0 {
		status, r.statuses = r.statuses[0], r.statuses[1:]
	}
	w.WriteHeader(status)
}

func newSender(srv *httptest.Server, guard httpx.Guard) *notify.Sender {
	s := notify.NewSender(srv.Client().Transport, guard, nil)
	s.Retrier.Sleep = func(context.Context, time.Duration) error { return nil }
	return s
}

func TestDelivery(t *testing.T) {
	cases := []struct {
		name      string
		statuses  []int
		guard     httpx.Guard
		url       func(base string) string
		attempts  int
		errStatus int    // 0: no *DeliveryError status expected
		errText   string // "" : success
	}{
		{name: "a 200 delivers the JSON body once", attempts: 1},
		{name: "a 503 is retried and the retry delivers", statuses: []int{503}, attempts: 2},
		{name: "a 429 is retried", statuses: []int{429, 429}, attempts: 3},
		{name: "503 on every attempt gives up after two retries, naming the status", statuses: []int{503, 503, 503, 503}, attempts: 3, errStatus: 503, errText: "answered HTTP 503"},
		{name: "a 400 is final: no retry", statuses: []int{400}, attempts: 1, errStatus: 400, errText: "answered HTTP 400"},
		{name: "a 404 is final: no retry", statuses: []int{404}, attempts: 1, errStatus: 404, errText: "answered HTTP 404"},
		{name: "http:// is refused before any request", url: func(b string) string { return strings.Replace(b, "https://", "http://", 1) },
			errText: "must use https://"},
		{name: "a host outside --allowed-hosts is refused before any request", guard: httpx.Guard{AllowedHosts: []string{"hooks.slack.com"}},
			errText: "not in the manager's --allowed-hosts"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &receiver{statuses: tc.statuses}
			srv := httptest.NewTLSServer(rec)
			defer srv.Close()
			url := srv.URL + "/services/" + token
			if tc.url != nil {
				url = tc.url(url)
			}
			err := newSender(srv, tc.guard).Send(context.Background(), url, []byte(`{"text":"run nightly-7 failed"}`))
			if len(rec.bodies) != tc.attempts {
				t.Errorf("%d attempts, want %d", len(rec.bodies), tc.attempts)
			}
			for i, b := range rec.bodies {
				if b != `{"text":"run nightly-7 failed"}` || rec.types[i] != "application/json" {
					t.Errorf("attempt %d received %q (%s)", i, b, rec.types[i])
				}
			}
			if tc.errText == "" {
				if err != nil {
					t.Fatalf("Send: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.errText) {
				t.Fatalf("err = %v, want %q", err, tc.errText)
			}
			var de *notify.DeliveryError
			if !errors.As(err, &de) || de.Status != tc.errStatus || de.Host != strings.TrimPrefix(srv.URL, "https://") {
				t.Errorf("err = %#v, want a DeliveryError naming host %s and status %d", err, srv.URL, tc.errStatus)
			}
			if strings.Contains(err.Error(), token) || strings.Contains(err.Error(), "/services") || strings.Contains(err.Error(), "SECRET") {
				t.Errorf("the error quotes the URL: %v", err)
			}
		})
	}
}

func TestANetworkFailureNamesTheHostNotTheURL(t *testing.T) {
	srv := httptest.NewTLSServer(&receiver{})
	s := newSender(srv, httpx.Guard{})
	srv.Close() // nothing listens any more
	err := s.Send(context.Background(), srv.URL+"/services/"+token, []byte(`{}`))
	var de *notify.DeliveryError
	if !errors.As(err, &de) || de.Status != 0 || !strings.Contains(err.Error(), strings.TrimPrefix(srv.URL, "https://")) {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), token) || strings.Contains(err.Error(), "/services") {
		t.Fatalf("the error quotes the URL: %v", err)
	}
}

func TestARedirectToAnotherHostIsNotFollowed(t *testing.T) {
	other := &receiver{}
	otherSrv := httptest.NewTLSServer(other)
	defer otherSrv.Close()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, otherSrv.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	err := newSender(srv, httpx.Guard{}).Send(context.Background(), srv.URL+"/services/"+token, []byte(`{}`))
	if err == nil || !strings.Contains(err.Error(), "redirected") || strings.Contains(err.Error(), token) {
		t.Fatalf("err = %v", err)
	}
	if len(other.bodies) != 0 {
		t.Fatalf("the other host received %d posts", len(other.bodies))
	}
}

func TestHostIsAllALogShows(t *testing.T) {
	for raw, want := range map[string]string{
		"https://hooks.slack.com/services/" + token: "hooks.slack.com",
		"https://x.example:8443/a?sig=SECRET":       "x.example:8443",
		"not a url":                                 "(invalid URL)",
	} {
		if got := notify.Host(raw); got != want {
			t.Errorf("Host(%q) = %q, want %q", raw, got, want)
		}
	}
}
