// Package school is the Jamf School API client the sync engine uses as a target: devices, users and
// locations to read; owner, location and notes/asset tag to write. Jamf School's API has no public
// endpoint to rename a device or enable Lost Mode: the client reports those as *UnsupportedError
// (errors.Is(err, ErrUnsupportedByTarget)) instead of pretending.
//
// It stands on the shared HTTP layer (internal/httpx): HTTP Basic with the network id and API key is an
// httpx.BasicAuth RoundTripper, the *http.Client (TLS, same-host redirects only, the manager-wide
// in-flight limit per host) comes from httpx.NewClient, and retries go through one httpx.Retrier. What
// stays here is Jamf School's own: the endpoints, X-Server-Protocol-Version, decoding, and classify,
// which says per attempt whether an answer is done, worth another try or final. Idempotent requests
// (every GET, PUT owner, PUT migrate, POST details, which set absolute values) are retried on 429, 5xx,
// HTML gateway pages, truncated bodies, resets and timeouts; POST /users only on 429 (the request was
// not processed). A redirect to another host or from https to http, or a body over the size cap, is
// final. MaxConcurrency bounds this client's requests in flight.
package school

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/k12dev/devicesync-operator/internal/httpx"
)

// Defaults for Config fields left zero.
const (
	DefaultProtocolVersion = "3"
	DefaultMaxConcurrency  = 5
	DefaultMaxRetries      = 4
	DefaultTimeout         = 60 * time.Second
)

// Config configures a Client. NetworkID and APIKey come from a Secret; String() redacts the key.
type Config struct {
	// BaseURL is https://{school}.jamfcloud.com/api (the /api suffix included).
	BaseURL   string
	NetworkID string
	APIKey    string
	// ProtocolVersion is sent as X-Server-Protocol-Version (default "3").
	ProtocolVersion string
	// MaxConcurrency bounds requests in flight from this client (default 5).
	MaxConcurrency int
	// HTTPClient is the target's client from httpx.NewClient (the manager passes one sharing its
	// per-host limits); default httpx.NewClient with DefaultTimeout and MaxConcurrency connections. The
	// client adds Basic authentication on top of it.
	HTTPClient *http.Client
	// Backoff between retries (default httpx.DefaultBackoff).
	Backoff httpx.Backoff
	// MaxRetries is the number of retries after the first attempt: 0 means DefaultMaxRetries, a
	// negative value disables retries.
	MaxRetries int
	// MaxRetryAfter caps a server's Retry-After (default httpx.DefaultMaxRetryAfter); a longer one
	// ends the call.
	MaxRetryAfter time.Duration
	// Sleep waits between attempts (default httpx.Sleep); tests inject a recorder.
	Sleep func(ctx context.Context, d time.Duration) error
	// CreateMissingUsers lets ResolveUser create a user that does not exist (policy option, off by default).
	CreateMissingUsers bool
	// UserAgent is sent as User-Agent when set.
	UserAgent string
}

// String shows the configuration with the API key redacted.
func (c Config) String() string {
	key := ""
	if c.APIKey != "" {
		key = "[redacted]"
	}
	return fmt.Sprintf("jamfschool.Config{BaseURL:%q NetworkID:%q APIKey:%s ProtocolVersion:%q MaxConcurrency:%d MaxRetries:%d CreateMissingUsers:%t}",
		c.BaseURL, c.NetworkID, key, c.ProtocolVersion, c.MaxConcurrency, c.MaxRetries, c.CreateMissingUsers)
}

// GoString redacts too, so %#v never prints the key.
func (c Config) GoString() string { return c.String() }

// Client talks to one Jamf School instance. It is safe for concurrent use.
type Client struct {
	cfg     Config
	base    *url.URL
	hc      *http.Client
	sem     chan struct{}
	retrier httpx.Retrier
	retries int

	usersMu sync.Mutex
	users   *userIndex
	keep    []User // added to the next listing when it lacks them (ResetUserCache)
}

// New validates cfg and returns a client.
func New(cfg Config) (*Client, error) {
	u, err := httpx.ParseBaseURL(cfg.BaseURL, "https://{school}.jamfcloud.com/api")
	if err != nil {
		return nil, fmt.Errorf("jamfschool: %w", err)
	}
	if cfg.NetworkID == "" {
		return nil, errors.New("jamfschool: NetworkID is required")
	}
	if cfg.APIKey == "" {
		return nil, errors.New("jamfschool: APIKey is required")
	}
	if cfg.ProtocolVersion == "" {
		cfg.ProtocolVersion = DefaultProtocolVersion
	}
	if cfg.MaxConcurrency <= 0 {
		cfg.MaxConcurrency = DefaultMaxConcurrency
	}
	if cfg.Backoff == (httpx.Backoff{}) {
		cfg.Backoff = httpx.DefaultBackoff
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = DefaultMaxRetries
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = httpx.NewClient(httpx.ClientOptions{Timeout: DefaultTimeout, MaxConns: cfg.MaxConcurrency})
	}
	networkID, apiKey := cfg.NetworkID, cfg.APIKey
	hc = httpx.WithTransport(hc, func(rt http.RoundTripper) http.RoundTripper { return httpx.BasicAuth(rt, networkID, apiKey) })
	r := httpx.Retrier{Backoff: cfg.Backoff, MaxRetries: cfg.MaxRetries, MaxRetryAfter: cfg.MaxRetryAfter, Sleep: cfg.Sleep}
	return &Client{cfg: cfg, base: u, hc: hc, sem: make(chan struct{}, cfg.MaxConcurrency), retrier: r, retries: r.Retries()}, nil
}

// String describes the client without its API key (fmt would otherwise print the unexported
// config, key included, for %v of a *Client).
func (c *Client) String() string { return "jamfschool.Client{" + c.cfg.String() + "}" }

// GoString redacts too.
func (c *Client) GoString() string { return c.String() }

// Config returns the effective configuration (defaults applied).
func (c *Client) Config() Config { return c.cfg }

// Supports reports whether this target can manage field (see the package function Supports).
func (c *Client) Supports(f Field) bool { return Supports(f) }

// request describes one API call.
type request struct {
	op         string
	method     string
	path       string // relative to BaseURL, already escaped
	query      url.Values
	body       any
	idempotent bool
	// list, when set, reads a 2xx answer as a list as it arrives (GET /devices, GET /users).
	list *listSpec
}

// do runs req through the retrier and decodes a 2xx JSON answer into out (which must embed envelope or
// be nil).
func (c *Client) do(ctx context.Context, req request, out any) error {
	var payload []byte
	if req.body != nil {
		b, err := json.Marshal(req.body)
		if err != nil {
			return fmt.Errorf("jamfschool: %s: encode request: %w", req.op, err)
		}
		payload = b
	}
	return c.retrier.Do(ctx, func(ctx context.Context, _ int) httpx.Outcome { return c.once(ctx, req, payload, out) })
}

// once performs one attempt and classifies it (see the package doc).
func (c *Client) once(ctx context.Context, req request, payload []byte, out any) httpx.Outcome {
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return httpx.Fail(ctx.Err())
	}
	defer func() { <-c.sem }()

	u := c.base.String() + req.path
	if len(req.query) > 0 {
		u += "?" + req.query.Encode()
	}
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	hreq, err := http.NewRequestWithContext(ctx, req.method, u, body)
	if err != nil {
		return httpx.Fail(fmt.Errorf("jamfschool: %s: build request %s %s: %w", req.op, req.method, req.path, err))
	}
	hreq.Header.Set("X-Server-Protocol-Version", c.cfg.ProtocolVersion)
	hreq.Header.Set("Accept", "application/json")
	if payload != nil {
		hreq.Header.Set("Content-Type", "application/json")
	}
	if c.cfg.UserAgent != "" {
		hreq.Header.Set("User-Agent", c.cfg.UserAgent)
	}

	resp, err := c.hc.Do(hreq)
	if err != nil {
		if ctx.Err() != nil {
			return httpx.Fail(ctx.Err())
		}
		te := &TransportError{Op: req.op, Method: req.method, Path: req.path, Timeout: httpx.IsTimeout(ctx, err), Err: redactURLError(err)}
		var re *httpx.RedirectError
		if errors.As(err, &re) {
			return httpx.Fail(te) // the same redirect again would be refused again
		}
		return c.transient(req, te, 0)
	}
	// A list's 2xx answer is decoded as it arrives (list.go); any other is read whole.
	var env envelope
	var stream func(io.Reader) error
	if req.list != nil {
		stream = func(r io.Reader) error { return req.list.decode(r, &env) }
	}
	raw, n, streamed, derr, rerr := httpx.ReadAnswer(resp, httpx.MaxBodyBytes, MaxListBodyBytes, stream)
	if rerr != nil {
		if ctx.Err() != nil {
			return httpx.Fail(ctx.Err())
		}
		te := &TransportError{Op: req.op, Method: req.method, Path: req.path, Timeout: httpx.IsTimeout(ctx, rerr), Err: fmt.Errorf("reading body: %w", rerr)}
		var big *httpx.BodyTooLargeError
		if errors.As(rerr, &big) {
			return httpx.Fail(te) // the same answer again would be as large
		}
		return c.transient(req, te, 0)
	}

	// 429 means the request was not processed, so even POST /users may be repeated; the other
	// temporary statuses only for idempotent requests.
	retry := resp.StatusCode == http.StatusTooManyRequests || (req.idempotent && retryableStatus(resp.StatusCode))
	classify := func(err error) httpx.Outcome {
		if retry {
			return httpx.Again(err, httpx.RetryAfter(resp.Header, time.Now()))
		}
		return httpx.Fail(err)
	}
	ctype := resp.Header.Get("Content-Type")
	if streamed {
		switch {
		case derr != nil:
			de := &DecodeError{Op: req.op, Method: req.method, Path: req.path, Status: resp.StatusCode, Snippet: httpx.Unrecognized(resp.StatusCode, ctype, int(n)), Err: derr}
			if !cutShort(derr) {
				return httpx.Fail(de) // the same answer again would be as wrong (a row of the wrong type, no list, a value over the cap)
			}
			// A truncated answer on an idempotent request is worth one more try, as below.
			return c.transient(req, de, 0)
		case env.Code >= 400:
			return httpx.Fail(&APIError{Op: req.op, Method: req.method, Path: req.path, Status: resp.StatusCode, Code: int(env.Code), Message: string(env.Message), Shape: ShapeFlat})
		}
		return httpx.Done()
	}
	if httpx.LooksLikeHTML(ctype, raw) {
		return classify(&HTMLError{Op: req.op, Method: req.method, Path: req.path, Status: resp.StatusCode, Snippet: httpx.Unrecognized(resp.StatusCode, ctype, len(raw))})
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return classify(parseError(req, resp.StatusCode, ctype, raw))
	}
	// A 2xx answer: decode. A truncated body on an idempotent request is worth one more try.
	if err := json.Unmarshal(raw, &env); err != nil {
		return c.transient(req, &DecodeError{Op: req.op, Method: req.method, Path: req.path, Status: resp.StatusCode, Snippet: httpx.Unrecognized(resp.StatusCode, ctype, len(raw)), Err: err}, 0)
	}
	if env.Code >= 400 {
		return httpx.Fail(&APIError{Op: req.op, Method: req.method, Path: req.path, Status: resp.StatusCode, Code: int(env.Code), Message: string(env.Message), Shape: ShapeFlat})
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return httpx.Fail(&DecodeError{Op: req.op, Method: req.method, Path: req.path, Status: resp.StatusCode, Snippet: httpx.Unrecognized(resp.StatusCode, ctype, len(raw)), Err: err})
		}
	}
	return httpx.Done()
}

// transient is a failure that may have reached the server (a reset, a timeout, a truncated answer):
// repeated only when the request is idempotent.
func (c *Client) transient(req request, err error, retryAfter time.Duration) httpx.Outcome {
	if req.idempotent {
		return httpx.Again(err, retryAfter)
	}
	return httpx.Fail(err)
}

// parseError turns a non-2xx, non-HTML body into an *APIError of the shape it came in.
func parseError(req request, status int, ctype string, raw []byte) error {
	e := &APIError{Op: req.op, Method: req.method, Path: req.path, Status: status}
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) > 0 && trimmed[0] == '{' {
		var we wireError
		if err := json.Unmarshal(trimmed, &we); err == nil {
			switch {
			case we.Error != nil:
				e.Shape, e.Code, e.Message = ShapeWrapped, int(we.Error.Code), string(we.Error.Message)
				return e
			case we.Code != nil || we.Message != "":
				e.Shape, e.Message = ShapeFlat, string(we.Message)
				if we.Code != nil {
					e.Code = int(*we.Code)
				}
				return e
			}
		}
	}
	e.Shape = ShapePlainText
	switch e.Message = httpx.PlainWords(raw); {
	case e.Message != "":
	case len(trimmed) == 0:
		e.Message = http.StatusText(status)
	default:
		e.Message = httpx.Unrecognized(status, ctype, len(raw))
	}
	return e
}

func retryableStatus(status int) bool {
	switch status {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// redactURLError drops the URL from a *url.Error (it never holds credentials here, as Basic auth
// travels in a header, but the path is already in the TransportError).
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
