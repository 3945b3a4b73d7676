// Package destiny is a read-only client of the Follett Destiny REST API ("Destiny Open APIs"), the
// source of truth for which student has which device. It authenticates with client credentials,
// lists the items of resource types with their current checkouts (paging defensively), maps sites
// to short names, and looks borrowers up once each, with a cache later runs reuse.
//
// It never writes to Destiny. Every failure is an *Error whose Kind says what went wrong.
package destiny

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/k12dev/devicesync-operator/internal/httpx"
)

// Credentials are the Destiny API account's client id and secret (Destiny Setup > API), read by the
// caller from a Kubernetes Secret.
type Credentials struct {
	ClientID     string
	ClientSecret string
}

// String never prints the secret.
func (c Credentials) String() string {
	secret := "<empty>"
	if c.ClientSecret != "" {
		secret = "<redacted>"
	}
	return fmt.Sprintf("Credentials{ClientID: %q, ClientSecret: %s}", c.ClientID, secret)
}

// GoString never prints the secret either (%#v).
func (c Credentials) GoString() string { return c.String() }

// Config configures a Client.
type Config struct {
	// BaseURL is https://{host}/api/v1/rest/context/{context}.
	BaseURL string
	Credentials
	// HTTPClient defaults to httpx.NewHTTPClient(Timeout, Concurrency+2, nil).
	HTTPClient *http.Client
	// Concurrency bounds requests in flight per call (default 4).
	Concurrency int
	// PageSize is the $top of item pages (default 1000).
	PageSize int
	// Backoff between retries (default httpx.DefaultBackoff); a Retry-After is honoured up to Backoff.Max.
	Backoff httpx.Backoff
	// MaxRetries is how many times a request is retried after a 429, a 5xx, a timeout or a network
	// error (default 4; negative means none).
	MaxRetries int
	// RenewBefore renews a token this long before it expires (default 60s, at most half its lifetime).
	RenewBefore time.Duration
	// Timeout bounds each attempt (default 60s).
	Timeout time.Duration
	// Now is the client's clock (default time.Now), for token expiry.
	Now func() time.Time
}

// Client is safe for concurrent use.
type Client struct {
	base  *url.URL
	creds Credentials
	hc    *http.Client
	cfg   Config

	tokMu    sync.Mutex
	token    string
	tokenExp time.Time

	sitesMu sync.Mutex
	sites   *siteIndex
}

// New validates cfg and returns a client. It makes no request.
func New(cfg Config) (*Client, error) {
	u, err := httpx.ParseBaseURL(cfg.BaseURL, "https://host/api/v1/rest/context/{context}")
	if err != nil {
		return nil, fmt.Errorf("destiny: %w", err)
	}
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		return nil, errors.New("destiny: client id and client secret are required")
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 4
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = 1000
	}
	if cfg.Backoff == (httpx.Backoff{}) {
		cfg.Backoff = httpx.DefaultBackoff
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = 4
	} else if cfg.MaxRetries < 0 {
		cfg.MaxRetries = 0
	}
	if cfg.RenewBefore <= 0 {
		cfg.RenewBefore = 60 * time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 60 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = httpx.NewHTTPClient(cfg.Timeout, cfg.Concurrency+2, nil)
	}
	return &Client{base: u, creds: cfg.Credentials, hc: hc, cfg: cfg}, nil
}

// String describes the client without its secret.
func (c *Client) String() string {
	return fmt.Sprintf("destiny.Client{%s, %s}", c.base.Redacted(), c.creds)
}

// ---- authentication ----

type accessToken struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
}

// bearer returns a valid token, authenticating when there is none or it is about to expire.
func (c *Client) bearer(ctx context.Context) (string, error) {
	c.tokMu.Lock()
	defer c.tokMu.Unlock()
	if c.token != "" && c.cfg.Now().Before(c.tokenExp) {
		return c.token, nil
	}
	return c.authenticateLocked(ctx)
}

// invalidate drops tok if it is still the current token (another worker may have renewed it).
func (c *Client) invalidate(tok string) {
	c.tokMu.Lock()
	defer c.tokMu.Unlock()
	if c.token == tok {
		c.token = ""
	}
}

func (c *Client) authenticateLocked(ctx context.Context) (string, error) {
	form := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {c.creds.ClientID},
		"client_secret": {c.creds.ClientSecret},
	}.Encode()
	body, _, err := c.send(ctx, "authenticate", "", func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint("/auth/accessToken", nil), strings.NewReader(form))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "application/json")
		return req, nil
	}, "")
	if err != nil {
		return "", err
	}
	var t accessToken
	if err := json.Unmarshal(body, &t); err != nil || t.AccessToken == "" {
		e := &Error{Op: "authenticate", Kind: KindMalformed, StatusCode: http.StatusOK,
			Message: "access token answer lacks access_token: " + httpx.Snippet(redactTokens(body), 80)}
		if err != nil {
			e.Err = err
		}
		return "", e
	}
	if t.TokenType != "" && !strings.EqualFold(t.TokenType, "bearer") {
		return "", &Error{Op: "authenticate", Kind: KindMalformed, StatusCode: http.StatusOK,
			Message: fmt.Sprintf("token_type %q is not Bearer", t.TokenType)}
	}
	life := time.Duration(t.ExpiresIn) * time.Second
	if life <= 0 {
		life = time.Hour // documented default lifetime; a missing expires_in must not mean "never renew"
	}
	margin := min(c.cfg.RenewBefore, life/2)
	c.token = t.AccessToken
	c.tokenExp = c.cfg.Now().Add(life - margin)
	return c.token, nil
}

// redactTokens keeps an access token out of an error message.
func redactTokens(body []byte) []byte {
	var m map[string]any
	if json.Unmarshal(body, &m) == nil {
		if _, ok := m["access_token"]; ok {
			m["access_token"] = "<redacted>"
			b, _ := json.Marshal(m)
			return b
		}
	}
	return body
}

// ---- requests ----

func (c *Client) endpoint(path string, q url.Values) string {
	u := *c.base
	u.Path = c.base.Path + path
	u.RawPath = ""
	if c.base.RawPath != "" || strings.Contains(path, "%") {
		u.RawPath = c.base.EscapedPath() + path
		if p, err := url.PathUnescape(u.RawPath); err == nil {
			u.Path = p
		}
	}
	if len(q) > 0 {
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// get performs an authenticated GET of path (already escaped) with retries; service names the
// Destiny API account service a 403 means is missing.
func (c *Client) get(ctx context.Context, op, subject, path string, q url.Values, service string) ([]byte, http.Header, error) {
	renewed := false
	for {
		tok, err := c.bearer(ctx)
		if err != nil {
			return nil, nil, err
		}
		body, hdr, err := c.send(ctx, op, subject, func(ctx context.Context) (*http.Request, error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.endpoint(path, q), nil)
			if err != nil {
				return nil, err
			}
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set("Accept", "application/json")
			return req, nil
		}, service)
		var e *Error
		if err != nil && errors.As(err, &e) && e.StatusCode == http.StatusUnauthorized && !renewed {
			// Any 401 means the token is no longer good: Destiny's own examples answer an expired or
			// revoked token with CODE_MISSING_INVALID_ACCESS_TOKEN or CODE_INVALID_TOKEN as often as with
			// CODE_EXPIRED_TOKEN. Drop it, log in again, and resend once per request.
			c.invalidate(tok)
			renewed = true
			continue
		}
		return body, hdr, err
	}
}

// send runs one logical request: attempts with a per-attempt timeout, retrying 429, 5xx, timeouts
// and network errors with backoff, never other 4xx.
func (c *Client) send(ctx context.Context, op, subject string, build func(context.Context) (*http.Request, error), service string) ([]byte, http.Header, error) {
	var last *Error
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, nil, &Error{Op: op, Subject: subject, Kind: KindCanceled, Attempts: attempt, Err: err}
		}
		body, hdr, e, retryAfter := c.attempt(ctx, op, subject, build, service)
		if e == nil {
			return body, hdr, nil
		}
		e.Attempts = attempt + 1
		last = e
		if !retryable(e) || attempt >= c.cfg.MaxRetries {
			return nil, nil, last
		}
		d := c.cfg.Backoff.Delay(attempt)
		if retryAfter > d {
			d = min(retryAfter, c.cfg.Backoff.Max)
		}
		if err := httpx.Sleep(ctx, d); err != nil {
			return nil, nil, &Error{Op: op, Subject: subject, Kind: KindCanceled, Attempts: attempt + 1, Err: err}
		}
	}
}

func retryable(e *Error) bool {
	switch e.Kind {
	case KindRateLimited, KindServer, KindTimeout, KindNetwork:
		return true
	}
	return false
}

func (c *Client) attempt(ctx context.Context, op, subject string, build func(context.Context) (*http.Request, error), service string) ([]byte, http.Header, *Error, time.Duration) {
	actx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := build(actx)
	if err != nil {
		return nil, nil, &Error{Op: op, Subject: subject, Kind: KindBadRequest, Err: err}, 0
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, nil, c.transportError(ctx, op, subject, err), 0
	}
	body, err := httpx.ReadBody(resp.Body)
	if err != nil {
		e := c.transportError(ctx, op, subject, err)
		e.StatusCode = resp.StatusCode
		return nil, nil, e, 0
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if httpx.LooksLikeHTML(resp.Header.Get("Content-Type"), body) {
			return nil, nil, &Error{Op: op, Subject: subject, Kind: KindMalformed, StatusCode: resp.StatusCode,
				Message: "HTML page instead of JSON: " + httpx.Snippet(htmlTitle(body), 120)}, 0
		}
		return body, resp.Header, nil, 0
	}
	e := &Error{Op: op, Subject: subject, StatusCode: resp.StatusCode}
	decodeError(e, resp, body)
	e.Message = c.redact(e.Message)
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		e.Kind = KindAuth
	case resp.StatusCode == http.StatusBadRequest && op == "authenticate":
		e.Kind = KindAuth
	case resp.StatusCode == http.StatusForbidden:
		e.Kind = KindPermission
		e.Service = service
	case resp.StatusCode == http.StatusNotFound:
		e.Kind = KindNotFound
	case resp.StatusCode == http.StatusTooManyRequests:
		e.Kind = KindRateLimited
		return nil, nil, e, httpx.RetryAfter(resp.Header, c.cfg.Now())
	case resp.StatusCode >= 500:
		e.Kind = KindServer
		return nil, nil, e, httpx.RetryAfter(resp.Header, c.cfg.Now())
	default:
		e.Kind = KindBadRequest
	}
	return nil, nil, e, 0
}

func (c *Client) transportError(ctx context.Context, op, subject string, err error) *Error {
	switch {
	case ctx.Err() != nil:
		return &Error{Op: op, Subject: subject, Kind: KindCanceled, Err: ctx.Err()}
	case httpx.IsTimeout(ctx, err) || errors.Is(err, context.DeadlineExceeded):
		return &Error{Op: op, Subject: subject, Kind: KindTimeout, Err: c.redactErr(err)}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &Error{Op: op, Subject: subject, Kind: KindNetwork, Message: "connection closed mid-answer", Err: c.redactErr(err)}
	}
	return &Error{Op: op, Subject: subject, Kind: KindNetwork, Err: c.redactErr(err)}
}

// redact removes the client secret from a server-supplied message, in case a server echoes it.
func (c *Client) redact(s string) string {
	if c.creds.ClientSecret != "" && len(c.creds.ClientSecret) >= 4 {
		s = strings.ReplaceAll(s, c.creds.ClientSecret, "<redacted>")
	}
	return s
}

type redactedError struct {
	msg string
	err error
}

func (r *redactedError) Error() string { return r.msg }
func (r *redactedError) Unwrap() error { return r.err }

func (c *Client) redactErr(err error) error {
	msg := err.Error()
	if red := c.redact(msg); red != msg {
		return &redactedError{msg: red, err: err}
	}
	return err
}
