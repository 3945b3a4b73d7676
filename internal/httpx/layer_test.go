package httpx

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// recordSleep is a Retrier.Sleep that waits nothing and remembers what it was asked to wait.
type recordSleep struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (r *recordSleep) sleep(ctx context.Context, d time.Duration) error {
	r.mu.Lock()
	r.waits = append(r.waits, d)
	r.mu.Unlock()
	return ctx.Err()
}

var errTransient = errors.New("503 from the gateway")

func TestRetrier(t *testing.T) {
	final := errors.New("400 bad request")
	cases := []struct {
		name         string
		outcomes     []Outcome // per attempt; the last repeats
		maxRetries   int
		wantErr      error
		wantAttempts int
		wantTooLong  bool
		wantMinWait  time.Duration
	}{
		{name: "a success ends the call at once", outcomes: []Outcome{Done()}, wantAttempts: 1},
		{name: "a final failure is never repeated", outcomes: []Outcome{Fail(final)}, wantErr: final, wantAttempts: 1},
		{name: "a transient failure is retried until it succeeds", outcomes: []Outcome{Again(errTransient, 0), Again(errTransient, 0), Done()}, wantAttempts: 3},
		{name: "retries run out and the last error is returned", outcomes: []Outcome{Again(errTransient, 0)}, maxRetries: 2, wantErr: errTransient, wantAttempts: 3},
		{name: "negative MaxRetries means no retry", outcomes: []Outcome{Again(errTransient, 0)}, maxRetries: -1, wantErr: errTransient, wantAttempts: 1},
		{name: "a Retry-After longer than the backoff is waited for", outcomes: []Outcome{Again(errTransient, 30*time.Second), Done()}, wantAttempts: 2, wantMinWait: 30 * time.Second},
		{name: "a Retry-After beyond the cap ends the call instead of hanging the run", outcomes: []Outcome{Again(errTransient, 24*time.Hour)}, wantErr: errTransient, wantAttempts: 1, wantTooLong: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rs := &recordSleep{}
			r := Retrier{MaxRetries: tc.maxRetries, Sleep: rs.sleep, Backoff: Backoff{Base: time.Millisecond, Max: 10 * time.Millisecond}}
			attempts := 0
			err := r.Do(context.Background(), func(_ context.Context, n int) Outcome {
				if n != attempts {
					t.Fatalf("attempt numbered %d, want %d", n, attempts)
				}
				attempts++
				return tc.outcomes[min(n, len(tc.outcomes)-1)]
			})
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("Do() = %v, want %v", err, tc.wantErr)
			}
			if attempts != tc.wantAttempts {
				t.Errorf("attempts = %d, want %d", attempts, tc.wantAttempts)
			}
			var tooLong *RetryAfterTooLongError
			if errors.As(err, &tooLong) != tc.wantTooLong {
				t.Errorf("RetryAfterTooLongError = %v, want %v (err %v)", tooLong != nil, tc.wantTooLong, err)
			}
			if tc.wantMinWait > 0 && (len(rs.waits) == 0 || rs.waits[0] < tc.wantMinWait) {
				t.Errorf("waits = %v, want the first at least %v", rs.waits, tc.wantMinWait)
			}
		})
	}
}

func TestRetrierStoppedByTheContextKeepsBothErrors(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	r := Retrier{Sleep: func(ctx context.Context, d time.Duration) error { cancel(); return Sleep(ctx, time.Hour) }}
	err := r.Do(ctx, func(context.Context, int) Outcome { return Again(errTransient, 0) })
	if !errors.Is(err, context.Canceled) || !errors.Is(err, errTransient) {
		t.Fatalf("Do() = %v, want both context.Canceled and the last attempt's error", err)
	}
}

func TestTokenCache(t *testing.T) {
	now := time.Date(2026, 11, 28, 8, 0, 0, 0, time.UTC)
	var clock atomic.Pointer[time.Time]
	clock.Store(&now)
	var fetches atomic.Int32
	var lastCurrent atomic.Value
	c := NewTokenCache(func(_ context.Context, current Token) (Token, error) {
		n := fetches.Add(1)
		lastCurrent.Store(current.Value)
		time.Sleep(5 * time.Millisecond) // let concurrent callers pile up
		return Token{Value: fmt.Sprintf("tok-%d", n), Expires: clock.Load().Add(30 * time.Minute)}, nil
	}, func() time.Time { return *clock.Load() }, time.Minute)
	ctx := context.Background()

	t.Run("concurrent callers share one fetch", func(t *testing.T) {
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				if tok, err := c.Get(ctx); err != nil || tok != "tok-1" {
					t.Errorf("Get() = %q, %v; want tok-1", tok, err)
				}
			})
		}
		wg.Wait()
		if fetches.Load() != 1 {
			t.Fatalf("fetches = %d, want 1", fetches.Load())
		}
	})
	t.Run("a stale token is dropped only while it is the current one", func(t *testing.T) {
		c.Invalidate("tok-0")
		if tok, _ := c.Get(ctx); tok != "tok-1" {
			t.Fatalf("after invalidating an older token, Get() = %q, want tok-1 kept", tok)
		}
		c.Invalidate("tok-1")
		if tok, _ := c.Get(ctx); tok != "tok-2" {
			t.Fatalf("after invalidating the current token, Get() = %q, want a new tok-2", tok)
		}
		if got := lastCurrent.Load(); got != "" {
			t.Errorf("an invalidated token was handed to Fetch as current: %q", got)
		}
	})
	t.Run("a token is renewed shortly before it expires, and Fetch sees the live one", func(t *testing.T) {
		later := now.Add(29*time.Minute + 30*time.Second)
		clock.Store(&later)
		if tok, _ := c.Get(ctx); tok != "tok-3" {
			t.Fatalf("30s before expiry Get() = %q, want a renewed tok-3", tok)
		}
		if got := lastCurrent.Load(); got != "tok-2" {
			t.Errorf("Fetch saw current %q, want the still-valid tok-2 (for keep-alive flows)", got)
		}
	})
}

// authServer answers 401 to any token but want, and records what it saw.
type authServer struct {
	mu     sync.Mutex
	want   string
	bodies []string
	auths  []string
}

func (a *authServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.bodies = append(a.bodies, string(b))
	a.auths = append(a.auths, r.Header.Get("Authorization"))
	if r.Header.Get("Authorization") != "Bearer "+a.want {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	_, _ = w.Write([]byte(`{"ok":true}`))
}

func TestBearerAuthResendsOnceAfterA401WithANewTokenAndTheSameBody(t *testing.T) {
	srv := &authServer{want: "tok-2"}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	n := 0
	tokens := NewTokenCache(func(context.Context, Token) (Token, error) {
		n++
		return Token{Value: fmt.Sprintf("tok-%d", n), Expires: time.Now().Add(time.Hour)}, nil
	}, nil, 0)
	hc := WithTransport(NewClient(ClientOptions{}), func(rt http.RoundTripper) http.RoundTripper { return BearerAuth(rt, tokens) })

	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/commands", strings.NewReader(`{"commandType":"ENABLE_LOST_MODE"}`))
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, want 200 after one re-authentication", resp.StatusCode)
	}
	if len(srv.bodies) != 2 || srv.bodies[1] != srv.bodies[0] || srv.auths[0] != "Bearer tok-1" || srv.auths[1] != "Bearer tok-2" {
		t.Fatalf("server saw bodies %q with %q; want the same body twice, with tok-1 then tok-2", srv.bodies, srv.auths)
	}

	srv.want = "never"
	resp, err = hc.Get(ts.URL + "/again")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || len(srv.auths) != 4 {
		t.Fatalf("a second 401 answered %d after %d requests; want the 401 returned after one resend (4 requests)", resp.StatusCode, len(srv.auths))
	}
}

func TestBasicAuthSendsTheCredentials(t *testing.T) {
	var got string
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, _ := r.BasicAuth()
		got = u + ":" + p
	}))
	defer ts.Close()
	hc := WithTransport(NewClient(ClientOptions{}), func(rt http.RoundTripper) http.RoundTripper { return BasicAuth(rt, "net-1", "key-1") })
	resp, err := hc.Get(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if got != "net-1:key-1" {
		t.Fatalf("server saw %q", got)
	}
}

func TestRedirectPolicy(t *testing.T) {
	var otherHits atomic.Int32
	var otherSawSecret atomic.Bool
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		otherHits.Add(1)
		b, _ := io.ReadAll(r.Body)
		if strings.Contains(string(b), "s3cret") || r.Header.Get("Authorization") != "" {
			otherSawSecret.Store(true)
		}
	}))
	defer other.Close()
	tlsOther := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { otherHits.Add(1) }))
	defer tlsOther.Close()

	var origin *httptest.Server
	origin = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/token-elsewhere":
			http.Redirect(w, r, other.URL+"/steal", http.StatusTemporaryRedirect)
		case "/moved":
			http.Redirect(w, r, origin.URL+"/here", http.StatusTemporaryRedirect)
		case "/here":
			_, _ = w.Write([]byte("here"))
		}
	}))
	defer origin.Close()
	var tlsOrigin *httptest.Server
	tlsOrigin = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, strings.Replace(tlsOrigin.URL, "https://", "http://", 1)+"/plain", http.StatusFound)
	}))
	defer tlsOrigin.Close()

	cases := []struct {
		name     string
		client   *http.Client
		url      string
		wantBody string // "" means the redirect must be refused
	}{
		{"a redirect on the same host is followed", NewClient(ClientOptions{}), origin.URL + "/moved", "here"},
		{"a 307 to another host is refused and re-posts nothing there", NewClient(ClientOptions{}), origin.URL + "/token-elsewhere", ""},
		{"https never falls back to http", NewClient(ClientOptions{Base: tlsOrigin.Client().Transport}), tlsOrigin.URL + "/x", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := tc.client.Post(tc.url, "application/x-www-form-urlencoded", strings.NewReader("client_id=a&client_secret=s3cret"))
			if tc.wantBody != "" {
				if err != nil {
					t.Fatal(err)
				}
				b, _ := ReadBody(resp.Body)
				if string(b) != tc.wantBody {
					t.Fatalf("body %q, want %q", b, tc.wantBody)
				}
				return
			}
			var re *RedirectError
			if !errors.As(err, &re) {
				t.Fatalf("err = %v, want a *RedirectError", err)
			}
			if strings.Contains(err.Error(), "s3cret") || strings.Contains(re.Error(), "/steal") {
				t.Errorf("the error quotes the body or the path: %v", err)
			}
		})
	}
	if otherHits.Load() != 0 || otherSawSecret.Load() {
		t.Fatalf("the other hosts were called %d times (secret seen: %v); want never", otherHits.Load(), otherSawSecret.Load())
	}
}

func TestHostLimitsHoldAcrossClientsUntilTheBodyIsClosed(t *testing.T) {
	var inFlight, peak atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(2 * time.Millisecond)
		inFlight.Add(-1)
		_, _ = w.Write([]byte(strings.Repeat("x", 10)))
	}))
	defer ts.Close()
	limits := NewHostLimits()
	// Two policies' clients for the same Jamf server, each allowed 3 (as if maxConcurrency: 3).
	clients := []*http.Client{
		NewClient(ClientOptions{Limits: limits, Limit: 3, MaxConns: 20}),
		NewClient(ClientOptions{Limits: limits, Limit: 3, MaxConns: 20}),
	}
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			resp, err := clients[i%2].Get(ts.URL)
			if err != nil {
				t.Error(err)
				return
			}
			time.Sleep(time.Millisecond) // reading the body still holds the slot
			_, _ = ReadBody(resp.Body)
		})
	}
	wg.Wait()
	host := strings.TrimPrefix(ts.URL, "http://")
	if got := limits.Peak(host); got != 3 {
		t.Errorf("peak in flight per the limiter = %d, want exactly 3 (the limit, reached under load)", got)
	}
	if peak.Load() > 3 {
		t.Errorf("the server saw %d requests at once, want at most 3", peak.Load())
	}
}

func TestHostLimitsWaitEndsWithTheContext(t *testing.T) {
	limits := NewHostLimits()
	release, err := limits.Acquire(context.Background(), "jamf.example:443", 1)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := limits.Acquire(ctx, "JAMF.example:443", 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second Acquire on a full host = %v, want the context's deadline (host names are case-insensitive)", err)
	}
}

func TestGuard(t *testing.T) {
	allowed, err := ParseAllowedHosts(" destiny.lincoln.k12.us , *.jamfcloud.com,lab.local:8443 ")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		g        Guard
		url      string
		insecure bool
		wantErr  string
	}{
		{"any https host when no list is set", Guard{}, "https://anything.example", false, ""},
		{"http is refused without the insecure flag", Guard{}, "http://destiny.lincoln.k12.us", false, "use https://"},
		{"http is allowed with the insecure flag", Guard{}, "http://destiny.lincoln.k12.us", true, ""},
		{"a listed host", Guard{allowed}, "https://destiny.lincoln.k12.us/api/v1/rest/context/destiny", false, ""},
		{"a subdomain of a wildcard", Guard{allowed}, "https://lincoln.jamfcloud.com", false, ""},
		{"the wildcard's own domain is not its subdomain", Guard{allowed}, "https://jamfcloud.com", false, "--allowed-hosts"},
		{"a look-alike suffix is not a subdomain", Guard{allowed}, "https://evil-jamfcloud.com", false, "--allowed-hosts"},
		{"a pattern with a port needs that port", Guard{allowed}, "https://lab.local:9443", false, "--allowed-hosts"},
		{"a pattern with a port matches it", Guard{allowed}, "https://lab.local:8443", false, ""},
		{"an internal address not listed", Guard{allowed}, "https://169.254.169.254", false, "--allowed-hosts"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u, _ := url.Parse(tc.url)
			err := tc.g.Check(u, tc.insecure)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("Check(%s) = %v, want %q", tc.url, err, tc.wantErr)
			}
		})
	}
	for _, bad := range []string{"https://x.example", "a.*.example", "user@host"} {
		if _, err := ParseAllowedHosts(bad); err == nil {
			t.Errorf("ParseAllowedHosts(%q) accepted a pattern that is not a host", bad)
		}
	}
}

func TestUnrecognizedNeverQuotesTheAnswer(t *testing.T) {
	got := Unrecognized(200, "text/html; charset=utf-8", 5120)
	want := "an HTML page (HTTP 200, text/html, 5120 bytes), not the vendor's JSON"
	if got != want {
		t.Fatalf("Unrecognized() = %q, want %q", got, want)
	}
}

func TestPlainWordsQuotesOnlyAVendorsStatusPhrase(t *testing.T) {
	cases := []struct{ body, want string }{
		{"Unauthorized", "Unauthorized"},
		{"  Not Found\n", "Not Found"},
		{"DeviceNotFound", "DeviceNotFound"},
		{`{"secret":"db-password-1"}`, ""},
		{"token=abc123", ""},
		{"root:x:0:0:root:/root:/bin/bash", ""},
		{strings.Repeat("word ", 20), ""},
		{"", ""},
	}
	for _, tc := range cases {
		if got := PlainWords([]byte(tc.body)); got != tc.want {
			t.Errorf("PlainWords(%q) = %q, want %q", tc.body, got, tc.want)
		}
	}
}

func TestCertPoolNeedsACertificate(t *testing.T) {
	if _, err := CertPool([]byte("not a certificate")); err == nil {
		t.Fatal("CertPool accepted a bundle with no certificate")
	}
	ts := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer ts.Close()
	if _, err := NewClient(ClientOptions{}).Get(ts.URL); err == nil {
		t.Fatal("a server with a private CA was trusted without its bundle: TLS must be verified")
	}
	pool, err := CertPool(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw}))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := NewClient(ClientOptions{RootCAs: pool}).Get(ts.URL)
	if err != nil {
		t.Fatalf("with the district's CA bundle the server is not trusted: %v", err)
	}
	_ = resp.Body.Close()
}

// A page the client has not read yet is buffered by HTTP/2 up to the flow-control window. Go's default
// lets the server run 4 MiB ahead per stream (and 1 GiB per connection): with a decoder starved of CPU,
// every page in flight would sit whole in memory. The client's window is 1 MiB per stream and 2 MiB per
// connection, so a server that writes ahead of a reader that stalls is held near that.
func TestHTTP2BuffersAtMostTheClientsWindowAheadOfTheReader(t *testing.T) {
	const body = 8 << 20
	var written atomic.Int64
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := make([]byte, 16<<10)
		for written.Load() < body {
			if _, err := w.Write(chunk); err != nil {
				return
			}
			written.Add(int64(len(chunk)))
			w.(http.Flusher).Flush()
		}
	}))
	ts.EnableHTTP2 = true
	ts.StartTLS()
	defer ts.Close()
	pool, err := CertPool(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw}))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := NewClient(ClientOptions{RootCAs: pool}).Get(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.ProtoMajor != 2 {
		t.Fatalf("the answer came over %s, want HTTP/2", resp.Proto)
	}
	// The reader reads nothing: wait until the server can write no more (the count holds still).
	last := int64(-1)
	for n := written.Load(); (n != last || n == 0) && n < body; n = written.Load() {
		last = n
		time.Sleep(200 * time.Millisecond)
	}
	// The client's 2 MiB window, plus what the server's own write buffers hold.
	if n := written.Load(); n > 3<<20 {
		t.Fatalf("the server wrote %d KiB ahead of a reader that read nothing, want at most about the client's 2 MiB window", n>>10)
	}
	if n, err := io.Copy(io.Discard, resp.Body); err != nil || n != body {
		t.Fatalf("the whole body after the stall: %d bytes, %v; want %d", n, err, body)
	}
}
