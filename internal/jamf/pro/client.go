// Package pro is a small client for the slice of the Jamf Pro API (11.30.1) the sync engine needs:
// token auth (API client credentials, or the legacy bearer-token flow), the bulk mobile-device
// inventory, PATCH of name / user / location, and Lost Mode through MDM commands.
//
// It stands on the project's one HTTP layer (internal/httpx): one retry loop (httpx.Retrier, which caps
// a server's Retry-After), one token cache (httpx.TokenCache) with bearer authentication as a
// RoundTripper (a 401 drops the token and resends once), same-host redirects only, and one response-size
// cap. What stays here is Jamf's: endpoints, decoding, and the classification of Jamf's answers.
// Idempotent calls (GET, PATCH, token requests) are retried on 5xx, 429, HTML error pages, malformed
// bodies, timeouts and connection failures; PATCH also on 409 OPTIMISTIC_LOCK_FAILED. MDM command POSTs
// are not idempotent: they are retried only when the request certainly never reached the server (the
// connection could not be opened).
//
// Every call shares one semaphore of MaxConcurrency (Jamf's guidance: 5) and an adaptive pacer that adds
// a delay between requests when response times grow well beyond their recent baseline or gateway errors
// appear, and relaxes when the server is healthy again.
package pro

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/k12dev/devicesync-operator/internal/httpx"
)

// Defaults.
const (
	DefaultMaxConcurrency = 5
	// DefaultPageSize of the inventory listing. 2000 is an undocumented server maximum (larger sizes are
	// clamped): a page of 2000 devices with four sections is several MiB that Jamf Pro assembles for many
	// seconds, which Jamf Cloud's gateways have been seen to cut off (60 s timeouts, 502s) on large
	// tenants. 500 keeps a page around a MiB and a few seconds of server work, and still lists a district of
	// 10,000 iPads in 20 pages spread over MaxConcurrency connections.
	DefaultPageSize = 500
	// DefaultMinPageSize is the floor a page shrinks to after 5xx answers or timeouts.
	DefaultMinPageSize = 50
	DefaultMaxRetries  = 4
	DefaultRenewBefore = 60 * time.Second
	DefaultTimeout     = 90 * time.Second
	// MaxListCount is the largest totalCount a listing believes: Jamf Pro's largest tenants hold a few
	// hundred thousand devices. A count beyond it (or a negative one) fails the read instead of sizing
	// anything by it.
	MaxListCount = 1_000_000
)

// Auth selects how the client gets its bearer token: OAuth (API client credentials, preferred) or
// Basic (the legacy /api/v1/auth/token flow with keep-alive).
type Auth interface {
	isAuth()
	String() string
	principal() string
}

// OAuth is a Jamf Pro API client's credentials (client credentials grant on /api/v1/oauth/token).
type OAuth struct {
	ClientID     string
	ClientSecret string
}

func (OAuth) isAuth()             {}
func (o OAuth) principal() string { return "client " + o.ClientID }

// String redacts the secret.
func (o OAuth) String() string {
	return fmt.Sprintf("OAuth{ClientID: %q, ClientSecret: [redacted]}", o.ClientID)
}

// GoString redacts the secret in %#v too.
func (o OAuth) GoString() string { return o.String() }

// Basic is a Jamf Pro user account for the legacy bearer-token flow (/api/v1/auth/token).
type Basic struct {
	Username string
	Password string
}

func (Basic) isAuth()             {}
func (b Basic) principal() string { return "user " + b.Username }

// String redacts the password.
func (b Basic) String() string {
	return fmt.Sprintf("Basic{Username: %q, Password: [redacted]}", b.Username)
}

// GoString redacts the password in %#v too.
func (b Basic) GoString() string { return b.String() }

// Config configures a Client. Zero values take the defaults above.
type Config struct {
	// BaseURL is the Jamf Pro server, e.g. https://district.jamfcloud.com (without /api).
	BaseURL string
	Auth    Auth
	// MaxConcurrency bounds requests in flight across all calls of this client (default 5).
	MaxConcurrency int
	// HTTPClient defaults to httpx.NewClient with Timeout, MaxConcurrency connections, RootCAs and Limits.
	// A client given here gets the same-host redirect policy when it has none.
	HTTPClient *http.Client
	// Timeout bounds one attempt, the body included (default 90s; ignored with HTTPClient).
	Timeout time.Duration
	// RootCAs verifies the server (nil: the system's roots); Limits is the manager-wide in-flight limit
	// per host. Both are ignored with HTTPClient.
	RootCAs *x509.CertPool
	Limits  *httpx.HostLimits
	// MaxBodyBytes caps any answer (default httpx.MaxBodyBytes).
	MaxBodyBytes int64
	// Backoff between retries (default httpx.DefaultBackoff).
	Backoff httpx.Backoff
	// MaxRetries is the number of retries after the first attempt (default 4; negative: none).
	MaxRetries int
	// MaxRetryAfter caps a server's Retry-After (default httpx.DefaultMaxRetryAfter): a longer wish ends
	// the call instead of hanging a run.
	MaxRetryAfter time.Duration
	// Sleep waits between attempts (default httpx.Sleep); tests record the waits.
	Sleep func(ctx context.Context, d time.Duration) error
	// RenewBefore is how long before expiry a token is renewed (default 60s, at most half its lifetime).
	RenewBefore time.Duration
	// PageSize of the inventory listing (default 500); MinPageSize is the floor it shrinks to after 5xx
	// answers and timeouts (default 50, at most PageSize).
	PageSize, MinPageSize int
	// Pacing bounds the adaptive delay between requests (defaults: 50ms step, 5s maximum).
	PaceStep, PaceMax time.Duration
	// Now is the clock for token expiry (default time.Now).
	Now func() time.Time
}

// Client talks to one Jamf Pro server. It is safe for concurrent use.
type Client struct {
	base     *url.URL
	auth     Auth
	plain    *http.Client // token requests (no bearer token)
	authed   *http.Client // every other call: plain + httpx.BearerAuth
	tokens   *httpx.TokenCache
	retrier  httpx.Retrier
	maxBody  int64
	pageSize int
	minPage  int
	now      func() time.Time

	sem   chan struct{}
	pacer *pacer

	lookupMu sync.Mutex
	// loadMu makes concurrent first users of the lookups wait for one load instead of each loading them.
	loadMu      sync.Mutex
	buildings   *lookup
	departments *lookup
}

// New validates cfg and returns a client. No call is made.
func New(cfg Config) (*Client, error) {
	u, err := httpx.ParseBaseURL(cfg.BaseURL, "https://district.jamfcloud.com")
	if err != nil {
		return nil, fmt.Errorf("jamf pro: %w", err)
	}
	u.Path = strings.TrimSuffix(u.Path, "/api")
	switch a := cfg.Auth.(type) {
	case OAuth:
		if a.ClientID == "" || a.ClientSecret == "" {
			return nil, errors.New("jamf pro: OAuth needs a client id and a client secret")
		}
	case Basic:
		if a.Username == "" || a.Password == "" {
			return nil, errors.New("jamf pro: Basic needs a username and a password")
		}
	default:
		return nil, errors.New("jamf pro: Auth must be OAuth or Basic")
	}
	if cfg.MaxConcurrency <= 0 {
		cfg.MaxConcurrency = DefaultMaxConcurrency
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	plain := cfg.HTTPClient
	if plain == nil {
		plain = httpx.NewClient(httpx.ClientOptions{Timeout: cfg.Timeout, MaxConns: cfg.MaxConcurrency, RootCAs: cfg.RootCAs,
			Limits: cfg.Limits, Limit: cfg.MaxConcurrency})
	} else if plain.CheckRedirect == nil {
		cp := *plain
		cp.CheckRedirect = httpx.SameHostRedirects
		plain = &cp
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = httpx.MaxBodyBytes
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = DefaultMaxRetries
	}
	if cfg.RenewBefore <= 0 {
		cfg.RenewBefore = DefaultRenewBefore
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = DefaultPageSize
	}
	if cfg.MinPageSize <= 0 {
		cfg.MinPageSize = DefaultMinPageSize
	}
	cfg.MinPageSize = min(cfg.MinPageSize, cfg.PageSize)
	if cfg.PaceStep <= 0 {
		cfg.PaceStep = 50 * time.Millisecond
	}
	if cfg.PaceMax <= 0 {
		cfg.PaceMax = 5 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := &Client{
		base: u, auth: cfg.Auth, plain: plain, maxBody: cfg.MaxBodyBytes,
		retrier:  httpx.Retrier{Backoff: cfg.Backoff, MaxRetries: cfg.MaxRetries, MaxRetryAfter: cfg.MaxRetryAfter, Sleep: cfg.Sleep},
		pageSize: cfg.PageSize, minPage: cfg.MinPageSize, now: cfg.Now,
		sem:   make(chan struct{}, cfg.MaxConcurrency),
		pacer: newPacer(cfg.PaceStep, cfg.PaceMax),
	}
	c.tokens = httpx.NewTokenCache(c.fetchToken, cfg.Now, cfg.RenewBefore)
	c.authed = httpx.WithTransport(plain, func(rt http.RoundTripper) http.RoundTripper { return httpx.BearerAuth(rt, c.tokens) })
	return c, nil
}

// String describes the client without secrets.
func (c *Client) String() string {
	return fmt.Sprintf("jamfpro.Client{BaseURL: %s, Auth: %s}", c.base.String(), c.auth.String())
}

// call is one API operation.
type call struct {
	op     string
	method string
	path   string // from the server root, e.g. /api/v2/mobile-devices/detail
	query  url.Values
	body   any // JSON-encoded when non-nil
	// idempotent calls are retried on transient failures; retryConflict adds 409 OPTIMISTIC_LOCK_FAILED.
	idempotent    bool
	retryConflict bool
	// secretBody marks answers that may carry a token: no snippet of them goes into an error.
	secretBody bool
	// stream, when set, decodes a 2xx JSON answer as it arrives (an inventory page) instead of the body
	// being read whole: it gets the body up to the cap and returns nil, a *DecodeError for an answer it
	// judged wrong (final, whatever else the body holds), or the decoder's error on malformed JSON.
	stream func(body io.Reader) error
}

// do runs cl through the retrier (auth, concurrency limit and pacing on every attempt) and decodes a
// 2xx JSON body into out.
func (c *Client) do(ctx context.Context, cl call, out any) error {
	body, err := encodeBody(cl)
	if err != nil {
		return err
	}
	return c.retry(ctx, cl.op, func(ctx context.Context, _ int) httpx.Outcome {
		return c.attempt(ctx, cl, body, out)
	})
}

func encodeBody(cl call) ([]byte, error) {
	if cl.body == nil {
		return nil, nil
	}
	b, err := json.Marshal(cl.body)
	if err != nil {
		return nil, fmt.Errorf("jamf pro: %s: encode body: %w", cl.op, err)
	}
	return b, nil
}

// retry runs attempt through the shared retry loop; an error without the operation in it (the context
// ended between attempts) gets it.
func (c *Client) retry(ctx context.Context, op string, attempt func(ctx context.Context, n int) httpx.Outcome) error {
	err := c.retrier.Do(ctx, attempt)
	if err != nil && (err == context.Canceled || err == context.DeadlineExceeded) {
		return fmt.Errorf("jamf pro: %s: %w", op, err)
	}
	return err
}

// attempt makes one authorised attempt of cl and classifies it for the retrier.
func (c *Client) attempt(ctx context.Context, cl call, body []byte, out any) httpx.Outcome {
	status, hdr, respBody, err := c.sendSlot(ctx, cl, body)
	return c.outcome(cl, status, hdr, c.classify(cl, status, hdr, respBody, err, out))
}

// outcome maps a classified error onto the retrier's vocabulary, with the server's Retry-After.
func (c *Client) outcome(cl call, status int, hdr http.Header, err error) httpx.Outcome {
	switch {
	case err == nil:
		return httpx.Done()
	case IsRetryable(err):
		var after time.Duration
		if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
			after = httpx.RetryAfter(hdr, time.Now())
		}
		return httpx.Again(err, after)
	}
	return httpx.Fail(err)
}

// sendSlot waits the pacer's delay, then sends cl holding one of the MaxConcurrency slots.
func (c *Client) sendSlot(ctx context.Context, cl call, body []byte) (int, http.Header, []byte, error) {
	if err := httpx.Sleep(ctx, c.pacer.delay()); err != nil {
		return 0, nil, nil, fmt.Errorf("jamf pro: %s: %w", cl.op, err)
	}
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return 0, nil, nil, fmt.Errorf("jamf pro: %s: %w", cl.op, ctx.Err())
	}
	defer func() { <-c.sem }()
	return c.send(ctx, c.authed, cl, "application/json", body, "")
}

// tokenError carries a token request's failure through BearerAuth's RoundTrip, so a call that could not
// get a token returns that failure (an *AuthError for bad credentials) instead of a transport error.
type tokenError struct{ err error }

func (e *tokenError) Error() string { return e.err.Error() }
func (e *tokenError) Unwrap() error { return e.err }

// send makes one HTTP attempt with hc. authz, when set, is the Authorization header (token requests).
// A failure to get an answer, or to read all of it, is a *TransportError. The body is read within the
// attempt (and its concurrency slot), whole or, with cl.stream, decoded as it arrives (see httpx.ReadAnswer).
func (c *Client) send(ctx context.Context, hc *http.Client, cl call, contentType string, body []byte, authz string) (int, http.Header, []byte, error) {
	u := *c.base
	u.Path = strings.TrimRight(u.Path, "/") + cl.path
	u.RawQuery = cl.query.Encode()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body) // sets GetBody: BearerAuth can replay it after a 401
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, u.String(), rd)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("jamf pro: %s: build request: %w", cl.op, err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	start := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		var te *tokenError
		if errors.As(err, &te) {
			return 0, nil, nil, te.err
		}
		if ctx.Err() != nil {
			return 0, nil, nil, fmt.Errorf("jamf pro: %s (%s %s): %w", cl.op, cl.method, cl.path, ctx.Err())
		}
		var re *httpx.RedirectError
		if errors.As(err, &re) {
			return 0, nil, nil, &TransportError{Op: cl.op, Method: cl.method, Path: cl.path, MaybeSent: false, Err: re}
		}
		timeout := httpx.IsTimeout(ctx, err)
		c.pacer.observe(time.Since(start), timeout)
		sent := !isDialError(err)
		return 0, nil, nil, &TransportError{Op: cl.op, Method: cl.method, Path: cl.path, MaybeSent: sent, Timeout: timeout,
			Err: scrubURL(err), Retryable: cl.idempotent || !sent}
	}
	b, n, _, derr, rerr := httpx.ReadAnswer(resp, c.maxBody, c.maxBody, cl.stream)
	elapsed := time.Since(start)
	overloaded := resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests
	c.pacer.observe(elapsed, overloaded)
	var judged *DecodeError
	if errors.As(derr, &judged) {
		return resp.StatusCode, resp.Header, nil, derr // the rows that arrived are wrong: final, whatever followed
	}
	if rerr != nil {
		if ctx.Err() != nil {
			return 0, nil, nil, fmt.Errorf("jamf pro: %s (%s %s): %w", cl.op, cl.method, cl.path, ctx.Err())
		}
		var big *httpx.BodyTooLargeError
		if errors.As(rerr, &big) {
			// The same request gets the same answer: not retried (an inventory listing shrinks its page).
			return resp.StatusCode, resp.Header, nil, &TransportError{Op: cl.op, Method: cl.method, Path: cl.path, MaybeSent: true,
				Err: big}
		}
		timeout := httpx.IsTimeout(ctx, rerr)
		return resp.StatusCode, resp.Header, nil, &TransportError{Op: cl.op, Method: cl.method, Path: cl.path, MaybeSent: true,
			Timeout: timeout, Err: fmt.Errorf("read body: %w", rerr), Retryable: cl.idempotent}
	}
	if derr != nil {
		return resp.StatusCode, resp.Header, nil, malformed(cl, resp.StatusCode, resp.Header.Get("Content-Type"), n, derr)
	}
	return resp.StatusCode, resp.Header, b, nil
}

// malformed is the error for a 2xx answer whose JSON could not be decoded (n bytes of it read).
func malformed(cl call, status int, contentType string, n int64, derr error) error {
	snippet := httpx.Unrecognized(status, contentType, int(n))
	retry := cl.idempotent
	var big *httpx.ValueTooLargeError
	if errors.As(derr, &big) {
		retry = false // the same answer again would hold the same value, and a smaller page may too
	}
	if cl.secretBody {
		snippet = "[withheld: the body may hold a token]"
		derr = errors.New("malformed JSON") // json's messages can quote the input
	}
	return &DecodeError{Op: cl.op, Method: cl.method, Path: cl.path, StatusCode: status, Snippet: snippet, Err: derr,
		Retryable: retry}
}

// classify turns one attempt's outcome into nil (decoded into out) or a typed error.
func (c *Client) classify(cl call, status int, hdr http.Header, body []byte, err error, out any) error {
	if err != nil {
		return err
	}
	ct := hdr.Get("Content-Type")
	if httpx.LooksLikeHTML(ct, body) {
		return &HTMLError{Op: cl.op, Method: cl.method, Path: cl.path, StatusCode: status, Snippet: httpx.Unrecognized(status, ct, len(body)),
			Retryable: cl.idempotent && (status >= 500 || status == http.StatusTooManyRequests)}
	}
	if status >= 200 && status < 300 {
		if out == nil || len(bytes.TrimSpace(body)) == 0 && status == http.StatusNoContent {
			return nil
		}
		if derr := json.Unmarshal(body, out); derr != nil {
			return malformed(cl, status, ct, int64(len(body)), derr)
		}
		return nil
	}
	ae := &APIError{Op: cl.op, Method: cl.method, Path: cl.path, StatusCode: status}
	var parsed struct {
		HTTPStatus int          `json:"httpStatus"`
		Errors     []ErrorCause `json:"errors"`
	}
	if json.Unmarshal(body, &parsed) == nil && len(parsed.Errors) > 0 {
		ae.Causes = parsed.Errors
		first := parsed.Errors[0]
		ae.Code, ae.Description = first.Code, first.Description
		if first.Field != nil {
			ae.Field = *first.Field
		}
		if first.ID != nil {
			ae.ID = *first.ID
		}
	} else {
		if ae.Description = httpx.PlainWords(body); ae.Description == "" && len(bytes.TrimSpace(body)) > 0 {
			ae.Description = httpx.Unrecognized(status, ct, len(body))
		}
	}
	switch {
	case status >= 500 || status == http.StatusTooManyRequests || status == http.StatusRequestTimeout:
		ae.Retryable = cl.idempotent
	case status == http.StatusConflict && ae.Code == "OPTIMISTIC_LOCK_FAILED":
		ae.Retryable = cl.retryConflict
	}
	return ae
}

func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// scrubURL drops the URL from a *url.Error (it carries the query, never a secret here, but keep errors short).
func scrubURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
