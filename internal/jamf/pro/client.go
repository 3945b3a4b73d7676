// Package pro is a small client for the slice of the Jamf Pro API (11.30.1) the sync engine needs:
// token auth (API client credentials, or the legacy bearer-token flow), the bulk mobile-device
// inventory, PATCH of name / user / location, and Lost Mode through MDM commands.
//
// Every call shares one semaphore of MaxConcurrency (Jamf's guidance: 5) and an adaptive pacer that adds
// a delay between requests when response times grow well beyond their recent baseline or gateway errors
// appear, and relaxes when the server is healthy again. Idempotent calls (GET, PATCH, token requests) are
// retried on 5xx, 429, HTML error pages, malformed bodies, timeouts and connection failures, with
// exponential backoff; PATCH also on 409 OPTIMISTIC_LOCK_FAILED. MDM command POSTs are not idempotent:
// they are retried only when the request certainly never reached the server (the connection could not be
// opened) or was refused with 401 INVALID_TOKEN (refused before processing; retried once with a new token).
package pro

import (
	"bytes"
	"context"
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
	DefaultPageSize       = 2000
	DefaultMaxRetries     = 4
	DefaultRenewBefore    = 60 * time.Second
	DefaultTimeout        = 90 * time.Second
)

// Auth selects how the client gets its bearer token: OAuth (API client credentials, preferred) or
// Basic (the legacy /api/v1/auth/token flow with keep-alive).
type Auth interface {
	isAuth()
	String() string
}

// OAuth is a Jamf Pro API client's credentials (client credentials grant on /api/v1/oauth/token).
type OAuth struct {
	ClientID     string
	ClientSecret string
}

func (OAuth) isAuth() {}

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

func (Basic) isAuth() {}

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
	// HTTPClient defaults to httpx.NewHTTPClient(DefaultTimeout, MaxConcurrency, nil).
	HTTPClient *http.Client
	// Backoff between retries (default httpx.DefaultBackoff).
	Backoff httpx.Backoff
	// MaxRetries is the number of retries after the first attempt (default 4; negative: none).
	MaxRetries int
	// RenewBefore is how long before expiry a token is renewed (default 60s, at most half its lifetime).
	RenewBefore time.Duration
	// PageSize of the inventory listing (default 2000, Jamf's maximum; larger values are clamped by Jamf).
	PageSize int
	// Pacing bounds the adaptive delay between requests (defaults: 50ms step, 5s maximum).
	PaceStep, PaceMax time.Duration
	// Now is the clock for token expiry (default time.Now).
	Now func() time.Time
}

// Client talks to one Jamf Pro server. It is safe for concurrent use.
type Client struct {
	base       *url.URL
	auth       Auth
	hc         *http.Client
	backoff    httpx.Backoff
	maxRetries int
	pageSize   int
	now        func() time.Time

	sem    chan struct{}
	pacer  *pacer
	tokens *tokenSource

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
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = httpx.NewHTTPClient(DefaultTimeout, cfg.MaxConcurrency, nil)
	}
	if cfg.Backoff == (httpx.Backoff{}) {
		cfg.Backoff = httpx.DefaultBackoff
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = DefaultMaxRetries
	}
	if cfg.MaxRetries < 0 {
		cfg.MaxRetries = 0
	}
	if cfg.RenewBefore <= 0 {
		cfg.RenewBefore = DefaultRenewBefore
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = DefaultPageSize
	}
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
		base: u, auth: cfg.Auth, hc: cfg.HTTPClient, backoff: cfg.Backoff, maxRetries: cfg.MaxRetries,
		pageSize: cfg.PageSize, now: cfg.Now,
		sem:   make(chan struct{}, cfg.MaxConcurrency),
		pacer: newPacer(cfg.PaceStep, cfg.PaceMax),
	}
	c.tokens = &tokenSource{c: c, renewBefore: cfg.RenewBefore, lock: make(chan struct{}, 1)}
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
}

// do runs c with auth, concurrency limit, pacing and retries, and decodes a 2xx JSON body into out.
func (c *Client) do(ctx context.Context, cl call, out any) error {
	var body []byte
	if cl.body != nil {
		b, err := json.Marshal(cl.body)
		if err != nil {
			return fmt.Errorf("jamf pro: %s: encode body: %w", cl.op, err)
		}
		body = b
	}
	reauthed := false
	for attempt := 0; ; attempt++ {
		var (
			tok      string
			status   int
			hdr      http.Header
			respBody []byte
			err      error // the attempt's outcome; withSlot's own error means no attempt was made
		)
		// The token is taken inside the concurrency slot, right before sending: a token taken earlier
		// could expire while the call waits for a slot.
		if serr := c.withSlot(ctx, cl.op, func() error {
			var terr error
			if tok, terr = c.tokens.get(ctx); terr != nil {
				return terr
			}
			status, hdr, respBody, err = c.send(ctx, cl, "application/json", body, "Bearer "+tok)
			return nil
		}); serr != nil {
			return serr
		}
		if err == nil && status == http.StatusUnauthorized && !reauthed {
			// Expired or revoked token: refused before processing, so safe to repeat once for any method.
			reauthed = true
			c.tokens.invalidate(tok)
			attempt--
			continue
		}
		err = c.classify(cl, status, hdr, respBody, err, out)
		if err == nil {
			return nil
		}
		if !IsRetryable(err) || attempt >= c.maxRetries || ctx.Err() != nil {
			return err
		}
		wait := c.backoff.Delay(attempt)
		if status == http.StatusTooManyRequests {
			wait = max(wait, httpx.RetryAfter(hdr, time.Now()))
		}
		if serr := httpx.Sleep(ctx, wait); serr != nil {
			return fmt.Errorf("jamf pro: %s: %w (after %v)", cl.op, serr, err)
		}
	}
}

// withSlot waits the pacer's delay, then runs f holding one of the MaxConcurrency slots.
func (c *Client) withSlot(ctx context.Context, op string, f func() error) error {
	if err := httpx.Sleep(ctx, c.pacer.delay()); err != nil {
		return fmt.Errorf("jamf pro: %s: %w", op, err)
	}
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("jamf pro: %s: %w", op, ctx.Err())
	}
	defer func() { <-c.sem }()
	return f()
}

// send makes one HTTP attempt; the caller holds a concurrency slot. A transport error is returned as
// *TransportError.
func (c *Client) send(ctx context.Context, cl call, contentType string, body []byte, authz string) (int, http.Header, []byte, error) {
	u := *c.base
	u.Path = strings.TrimRight(u.Path, "/") + cl.path
	u.RawQuery = cl.query.Encode()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
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
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return 0, nil, nil, fmt.Errorf("jamf pro: %s (%s %s): %w", cl.op, cl.method, cl.path, ctx.Err())
		}
		timeout := httpx.IsTimeout(ctx, err)
		c.pacer.observe(time.Since(start), timeout)
		sent := !isDialError(err)
		return 0, nil, nil, &TransportError{Op: cl.op, Method: cl.method, Path: cl.path, MaybeSent: sent, Timeout: timeout,
			Err: scrubURL(err), Retryable: cl.idempotent || !sent}
	}
	b, rerr := httpx.ReadBody(resp.Body)
	elapsed := time.Since(start)
	overloaded := resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests
	c.pacer.observe(elapsed, overloaded)
	if rerr != nil {
		if ctx.Err() != nil {
			return 0, nil, nil, fmt.Errorf("jamf pro: %s (%s %s): %w", cl.op, cl.method, cl.path, ctx.Err())
		}
		return resp.StatusCode, resp.Header, nil, &TransportError{Op: cl.op, Method: cl.method, Path: cl.path, MaybeSent: true,
			Err: fmt.Errorf("read body: %w", rerr), Retryable: cl.idempotent}
	}
	return resp.StatusCode, resp.Header, b, nil
}

// classify turns one attempt's outcome into nil (decoded into out) or a typed error.
func (c *Client) classify(cl call, status int, hdr http.Header, body []byte, err error, out any) error {
	if err != nil {
		return err
	}
	ct := hdr.Get("Content-Type")
	if httpx.LooksLikeHTML(ct, body) {
		return &HTMLError{Op: cl.op, Method: cl.method, Path: cl.path, StatusCode: status, Snippet: httpx.Snippet(body, 160),
			Retryable: cl.idempotent && (status >= 500 || status == http.StatusTooManyRequests)}
	}
	if status >= 200 && status < 300 {
		if out == nil || len(bytes.TrimSpace(body)) == 0 && status == http.StatusNoContent {
			return nil
		}
		if derr := json.Unmarshal(body, out); derr != nil {
			snippet := httpx.Snippet(body, 120)
			if cl.secretBody {
				snippet = "[withheld: the body may hold a token]"
				derr = errors.New("malformed JSON") // json's messages can quote the input
			}
			return &DecodeError{Op: cl.op, Method: cl.method, Path: cl.path, StatusCode: status, Snippet: snippet, Err: derr,
				Retryable: cl.idempotent}
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
		ae.Description = httpx.Snippet(body, 160)
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
