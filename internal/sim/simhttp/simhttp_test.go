package simhttp

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

func newTestServer(t *testing.T) (*Server, *httptest.Server) {
	t.Helper()
	s := NewServer(1)
	s.Handle("GET /items", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"value":[1,2,3,4,5,6,7,8]}`)
	})
	s.Handle("GET /other", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") })
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return s, ts
}

func get(t *testing.T, url string) (int, string, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

func TestFaultsAreServedInOrderToTheirRouteThenTheServerHeals(t *testing.T) {
	s, ts := newTestServer(t)
	s.FailNext("GET /items", 1, FaultHTML502)
	s.FailNext("GET /items", 1, FaultStatus503)
	s.FailNext("GET /items", 1, FaultTooManyRequests)

	if code, _, body := get(t, ts.URL+"/other"); code != 200 || body != "ok" {
		t.Fatalf("another route got %d %q, want its faults to stay on /items", code, body)
	}
	code, ct, body := get(t, ts.URL+"/items")
	if code != http.StatusBadGateway || !strings.Contains(ct, "text/html") || !strings.Contains(body, "502 Bad Gateway") {
		t.Fatalf("first call: %d %s %q, want an HTML 502 page", code, ct, body)
	}
	if code, _, _ := get(t, ts.URL+"/items"); code != http.StatusServiceUnavailable {
		t.Fatalf("second call: %d, want 503", code)
	}
	if code, _, _ := get(t, ts.URL+"/items"); code != http.StatusTooManyRequests {
		t.Fatalf("third call: %d, want 429", code)
	}
	if code, _, body := get(t, ts.URL+"/items"); code != 200 || !strings.HasPrefix(body, `{"value"`) {
		t.Fatalf("after the faults: %d %q, want the handler's answer", code, body)
	}
	if got := s.CallCount("GET /items"); got != 4 {
		t.Errorf("GET /items counted %d calls, want 4 (faults count too)", got)
	}
	if got := s.TotalCalls(); got != 5 {
		t.Errorf("total calls %d, want 5", got)
	}
}

func TestTruncatedFaultCutsTheHandlersBodyInHalf(t *testing.T) {
	s, ts := newTestServer(t)
	s.FailNext("", 1, FaultTruncated)
	code, _, body := get(t, ts.URL+"/items")
	full := `{"value":[1,2,3,4,5,6,7,8]}`
	if code != 200 || body != full[:len(full)/2] {
		t.Fatalf("got %d %q, want 200 with the first half of %q", code, body, full)
	}
}

func TestHangFaultHoldsTheRequestUntilTheClientGivesUp(t *testing.T) {
	s, ts := newTestServer(t)
	s.FailNext("GET /items", 1, FaultHang)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL+"/items", nil)
	errc := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			_ = resp.Body.Close()
		}
		errc <- err
	}()
	cancel()
	if err := <-errc; err == nil {
		t.Fatal("a hanging request returned an answer, want the client's cancellation")
	}
}

func TestErrorRateIsRepeatableForASeed(t *testing.T) {
	run := func() []int {
		s, ts := newTestServer(t)
		s.SetKnobs(Knobs{ErrorRate: 0.5, RateFault: FaultStatus500})
		var codes []int
		for range 20 {
			code, _, _ := get(t, ts.URL+"/other")
			codes = append(codes, code)
		}
		return codes
	}
	a, b := run(), run()
	failures := 0
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("call %d: %d then %d, want the same faults for the same seed", i, a[i], b[i])
		}
		if a[i] == http.StatusInternalServerError {
			failures++
		}
	}
	if failures == 0 || failures == len(a) {
		t.Fatalf("%d of %d calls failed at rate 0.5", failures, len(a))
	}
}

func TestConcurrencyLimitRejectsOrQueuesTheExcess(t *testing.T) {
	for _, mode := range []OverloadMode{OverloadReject, OverloadQueue} {
		s := NewServer(1)
		release := make(chan struct{})
		entered := make(chan struct{}, 10)
		s.Handle("GET /slow", func(w http.ResponseWriter, r *http.Request) {
			entered <- struct{}{}
			<-release
		})
		s.SetKnobs(Knobs{MaxConcurrent: 2, Overload: mode})
		ts := httptest.NewServer(s)

		var wg sync.WaitGroup
		codes := make(chan int, 3)
		for range 2 {
			wg.Add(1)
			go func() { defer wg.Done(); code, _, _ := get(t, ts.URL+"/slow"); codes <- code }()
		}
		<-entered
		<-entered // two requests hold both slots
		wg.Add(1)
		go func() { defer wg.Done(); code, _, _ := get(t, ts.URL+"/slow"); codes <- code }()
		if mode == OverloadReject {
			if code := <-codes; code != http.StatusServiceUnavailable {
				t.Errorf("reject mode: the third request got %d, want 503", code)
			}
			close(release)
		} else {
			close(release) // the queued third request gets a slot once the first two finish
		}
		wg.Wait()
		close(codes)
		for code := range codes {
			if code != http.StatusOK {
				t.Errorf("mode %d: a request got %d, want 200", mode, code)
			}
		}
		if peak := s.PeakInFlight(); peak != 2 {
			t.Errorf("mode %d: peak in flight %d, want the limit 2", mode, peak)
		}
		ts.Close()
	}
}
