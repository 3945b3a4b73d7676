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
	// HTTPClient carries every request: the manager passes one from httpx.NewClient (verified TLS, the
	// same-host redirect policy, the manager-wide in-flight limit per host). Default: httpx.NewClient
	// with Timeout and Concurrency+2 connections. Bearer authentication is added on top of it.
	HTTPClient *http.Client
	// Concurrency bounds requests in flight per call (default 4).
	Concurrency int
	// PageSize is the $top of item pages (default 1000).
	PageSize int
	// Backoff between retries (default httpx.DefaultBackoff).
	Backoff httpx.Backoff
	// MaxRetries is how many times a request is retried after a 429, a 5xx, a timeout or a network
	// error (default 4; negative means none).
	MaxRetries int
	// MaxRetryAfter is the longest Retry-After the client waits for (default httpx.DefaultMaxRetryAfter);
	// a server asking for more ends the call.
	MaxRetryAfter time.Duration
	// RenewBefore renews a token this long before it expires (default 60s, at most half its lifetime).
	RenewBefore time.Duration
	// Timeout bounds each attempt, the body included (default 60s).
	Timeout time.Duration
	// MaxBodyBytes caps an answer's size (default httpx.MaxBodyBytes); a longer answer is malformed.
	MaxBodyBytes int64
	// Now is the client's clock (default time.Now), for token expiry.
	Now func() time.Time
}

// Client is safe for concurrent use.
type Client struct {
	base  *url.URL
	creds Credentials
	cfg   Config
	// plain carries the token request; hc carries API calls, with the bearer token (httpx.BearerAuth).
	plain  *http.Client
	hc     *http.Client
	tokens *httpx.TokenCache
	retry  httpx.Retrier

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
	if cfg.RenewBefore <= 0 {
		cfg.RenewBefore = 60 * time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 60 * time.Second
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = httpx.MaxBodyBytes
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	plain := cfg.HTTPClient
	if plain == nil {
		plain = httpx.NewClient(httpx.ClientOptions{Timeout: cfg.Timeout, MaxConns: cfg.Concurrency + 2})
	} else if plain.CheckRedirect == nil {
		cp := *plain
		cp.CheckRedirect = httpx.SameHostRedirects
		plain = &cp
	}
	c := &Client{base: u, creds: cfg.Credentials, cfg: cfg, plain: plain,
		retry: httpx.Retrier{Backoff: cfg.Backoff, MaxRetries: cfg.MaxRetries, MaxRetryAfter: cfg.MaxRetryAfter}}
	c.tokens = httpx.NewTokenCache(c.fetchToken, cfg.Now, cfg.RenewBefore)
	c.hc = httpx.WithTransport(plain, func(rt http.RoundTripper) http.RoundTripper { return httpx.BearerAuth(rt, c.tokens) })
	return c, nil
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

// fetchToken is the token cache's Fetch: POST /auth/accessToken with the client credentials (no
// refresh token exists; a new token is requested shortly before expiry and after any 401).
func (c *Client) fetchToken(ctx context.Context, _ httpx.Token) (httpx.Token, error) {
	form := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {c.creds.ClientID},
		"client_secret": {c.creds.ClientSecret},
	}.Encode()
	body, _, err := c.send(ctx, c.plain, "authenticate", "", func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint("/auth/accessToken", nil), strings.NewReader(form))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "application/json")
		return req, nil
	}, "", nil)
	if err != nil {
		return httpx.Token{}, err
	}
	var t accessToken
	if err := json.Unmarshal(body, &t); err != nil || t.AccessToken == "" {
		e := &Error{Op: "authenticate", Kind: KindMalformed, StatusCode: http.StatusOK,
			Message: "access token answer lacks access_token: " + httpx.Unrecognized(http.StatusOK, "", len(body))}
		if err != nil {
			e.Err = err
		}
		return httpx.Token{}, e
	}
	if t.TokenType != "" && !strings.EqualFold(t.TokenType, "bearer") {
		return httpx.Token{}, &Error{Op: "authenticate", Kind: KindMalformed, StatusCode: http.StatusOK,
			Message: fmt.Sprintf("token_type %q is not Bearer", t.TokenType)}
	}
	life := time.Duration(t.ExpiresIn) * time.Second
	if life <= 0 {
		life = time.Hour // documented default lifetime; a missing expires_in must not mean "never renew"
	}
	return httpx.Token{Value: t.AccessToken, Expires: c.cfg.Now().Add(life)}, nil
}

// authenticate drops the current token and logs in afresh (a connection test proves the credentials).
func (c *Client) authenticate(ctx context.Context) error {
	if _, err := c.tokens.Take(ctx); err != nil {
		return &Error{Op: "authenticate", Kind: KindCanceled, Err: err}
	}
	if _, err := c.tokens.Get(ctx); err != nil {
		var e *Error
		if errors.As(err, &e) {
			return e
		}
		return &Error{Op: "authenticate", Kind: KindCanceled, Err: err}
	}
	return nil
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
// Destiny API account service a 403 means is missing. The bearer token, its renewal and the one resend
// after any 401 are httpx.BearerAuth's.
func (c *Client) get(ctx context.Context, op, subject, path string, q url.Values, service string) ([]byte, http.Header, error) {
	return c.send(ctx, c.hc, op, subject, c.getRequest(path, q), service, nil)
}

// getStream is get for a large answer (an item page): decode reads each 2xx body as it arrives, and
// the answer is never held whole. decode runs once per attempt, so whatever it keeps must start afresh
// each time: a retried request hands out its answer again from the start.
func (c *Client) getStream(ctx context.Context, op, subject, path string, q url.Values, service string, decode func(*httpx.BodyReader) error) error {
	_, _, err := c.send(ctx, c.hc, op, subject, c.getRequest(path, q), service, decode)
	return err
}

func (c *Client) getRequest(path string, q url.Values) func(context.Context) (*http.Request, error) {
	return func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.endpoint(path, q), nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", "application/json")
		return req, nil
	}
}

// send runs one logical request through the one retry loop (httpx.Retrier): classify says per attempt
// whether it is done, retryable (429, 5xx, timeouts, network errors, with the server's Retry-After) or
// final (every other 4xx, a malformed or oversized answer, a refused redirect). Every failure is an *Error.
// With decode, a 2xx answer is handed to decode as it arrives (see decodeBody) and no body is returned.
func (c *Client) send(ctx context.Context, hc *http.Client, op, subject string, build func(context.Context) (*http.Request, error), service string, decode func(*httpx.BodyReader) error) ([]byte, http.Header, error) {
	var body []byte
	var hdr http.Header
	var last *Error
	err := c.retry.Do(ctx, func(ctx context.Context, n int) httpx.Outcome {
		b, h, e, retryAfter := c.attempt(ctx, hc, op, subject, build, service, decode)
		if e == nil {
			body, hdr = b, h
			return httpx.Done()
		}
		e.Attempts = n + 1
		last = e
		if retryable(e) {
			return httpx.Again(e, retryAfter)
		}
		return httpx.Fail(e)
	})
	if err == nil {
		return body, hdr, nil
	}
	var tooLong *httpx.RetryAfterTooLongError
	switch {
	case last == nil:
		return nil, nil, &Error{Op: op, Subject: subject, Kind: KindCanceled, Err: err}
	case errors.As(err, &tooLong):
		e := *last
		e.Message = strings.TrimSpace(e.Message + fmt.Sprintf(" (Retry-After %v is longer than the %v a run waits)", tooLong.Wait, tooLong.Max))
		return nil, nil, &e
	case ctx.Err() != nil && last.Kind != KindCanceled:
		return nil, nil, &Error{Op: op, Subject: subject, Kind: KindCanceled, Attempts: last.Attempts, Err: ctx.Err()}
	}
	return nil, nil, last
}

func retryable(e *Error) bool {
	switch e.Kind {
	case KindRateLimited, KindServer, KindTimeout, KindNetwork:
		return true
	}
	return false
}

// attempt makes one request and classifies its answer; with decode, a 2xx answer is decoded as it
// arrives (decodeBody). Every other answer is read whole: error answers are small.
func (c *Client) attempt(ctx context.Context, hc *http.Client, op, subject string, build func(context.Context) (*http.Request, error), service string, decode func(*httpx.BodyReader) error) ([]byte, http.Header, *Error, time.Duration) {
	actx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := build(actx)
	if err != nil {
		return nil, nil, &Error{Op: op, Subject: subject, Kind: KindBadRequest, Err: err}, 0
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, nil, c.transportError(ctx, op, subject, err), 0
	}
	if decode != nil && resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if e := c.decodeBody(ctx, op, subject, resp, decode); e != nil {
			return nil, nil, e, 0
		}
		return nil, resp.Header, nil, 0
	}
	body, err := httpx.ReadBodyMax(resp.Body, c.cfg.MaxBodyBytes)
	if err != nil {
		e := c.transportError(ctx, op, subject, err)
		e.StatusCode = resp.StatusCode
		return nil, nil, e, 0
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if httpx.LooksLikeHTML(resp.Header.Get("Content-Type"), body) {
			return nil, nil, &Error{Op: op, Subject: subject, Kind: KindMalformed, StatusCode: resp.StatusCode,
				Message: httpx.Unrecognized(resp.StatusCode, resp.Header.Get("Content-Type"), len(body))}, 0
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
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		e.Kind = KindRedirect
		e.Message = "a redirect without a location the client may follow"
	default:
		e.Kind = KindBadRequest
	}
	return nil, nil, e, 0
}

// decodeBody hands a 2xx answer to decode as it arrives, up to MaxBodyBytes, and classifies the
// outcome as attempt classifies an answer read whole: an HTML page (by content type or first bytes) is
// malformed; a body that breaks off or times out is the transport's failure (retried: the whole answer
// is asked again), one longer than the cap is refused; decode's error on bytes that did arrive (a JSON
// error, a refused item) is final. The body is closed; it was read to its end only when decoded whole.
func (c *Client) decodeBody(ctx context.Context, op, subject string, resp *http.Response, decode func(*httpx.BodyReader) error) *Error {
	defer func() { _ = resp.Body.Close() }()
	br := httpx.NewBodyReader(resp.Body, c.cfg.MaxBodyBytes)
	ct := resp.Header.Get("Content-Type")
	html := br.LooksLikeHTML(ct)
	var err error
	if html {
		_, err = io.Copy(io.Discard, br) // its size for the message, within the cap; a gateway page is small
	} else {
		err = decode(br)
	}
	// The body's own failure explains decode's error only when decode failed on it (or read no further).
	if berr := br.Err(); berr != nil && (err == nil || errors.Is(err, berr)) {
		e := c.transportError(ctx, op, subject, berr)
		e.StatusCode = resp.StatusCode
		return e
	}
	var e *Error
	switch {
	case html:
		return &Error{Op: op, Subject: subject, Kind: KindMalformed, StatusCode: resp.StatusCode,
			Message: httpx.Unrecognized(resp.StatusCode, ct, int(br.N()))}
	case err == nil:
		return nil
	case errors.As(err, &e):
		return e
	}
	return &Error{Op: op, Subject: subject, Kind: KindMalformed, StatusCode: resp.StatusCode, Err: err}
}

func (c *Client) transportError(ctx context.Context, op, subject string, err error) *Error {
	var own *Error
	var redirect *httpx.RedirectError
	var tooLarge *httpx.BodyTooLargeError
	switch {
	case errors.As(err, &own):
		// The token request under BearerAuth failed (after its own retries): that is the answer.
		cp := *own
		return &cp
	case errors.As(err, &redirect):
		return &Error{Op: op, Subject: subject, Kind: KindRedirect, Message: redirect.Error()}
	case errors.As(err, &tooLarge):
		return &Error{Op: op, Subject: subject, Kind: KindMalformed, Message: fmt.Sprintf("answer larger than %d bytes: refused", tooLarge.Max)}
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
