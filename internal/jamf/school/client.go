// Package school is the Jamf School API client the sync engine uses as a target: devices, users and
// locations to read; owner, location and notes/asset tag to write. Jamf School's API has no public
// endpoint to rename a device or enable Lost Mode: the client reports those as *UnsupportedError
// (errors.Is(err, ErrUnsupportedByTarget)) instead of pretending.
//
// Auth is HTTP Basic with the network id and API key, and every request carries
// X-Server-Protocol-Version. Requests are bounded by MaxConcurrency; idempotent requests (every GET,
// PUT owner, PUT migrate, POST details, which set absolute values) are retried on 429, 5xx, HTML
// gateway pages and timeouts; POST /users is retried only on 429 (the request was not processed).
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
	// HTTPClient defaults to httpx.NewHTTPClient(DefaultTimeout, MaxConcurrency, nil).
	HTTPClient *http.Client
	// Backoff between retries (default httpx.DefaultBackoff); a Retry-After is honoured up to Backoff.Max.
	Backoff httpx.Backoff
	// MaxRetries is the number of retries after the first attempt: 0 means DefaultMaxRetries, a
	// negative value disables retries.
	MaxRetries int
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
	retries int

	usersMu sync.Mutex
	users   *userIndex
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
	retries := cfg.MaxRetries
	switch {
	case retries == 0:
		retries = DefaultMaxRetries
	case retries < 0:
		retries = 0
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = httpx.NewHTTPClient(DefaultTimeout, cfg.MaxConcurrency, nil)
	}
	return &Client{cfg: cfg, base: u, hc: hc, sem: make(chan struct{}, cfg.MaxConcurrency), retries: retries}, nil
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
}

// do runs req with retries and decodes a 2xx JSON answer into out (which must embed envelope or be nil).
func (c *Client) do(ctx context.Context, req request, out any) error {
	var payload []byte
	if req.body != nil {
		b, err := json.Marshal(req.body)
		if err != nil {
			return fmt.Errorf("jamfschool: %s: encode request: %w", req.op, err)
		}
		payload = b
	}
	var lastErr error
	for attempt := 0; ; attempt++ {
		wait, err := c.once(ctx, req, payload, out)
		if err == nil {
			return nil
		}
		lastErr = err
		if ctx.Err() != nil || wait < 0 || attempt >= c.retries {
			return lastErr
		}
		d := c.cfg.Backoff.Delay(attempt)
		if wait > d {
			d = min(wait, max(c.cfg.Backoff.Max, d))
		}
		if serr := httpx.Sleep(ctx, d); serr != nil {
			return lastErr
		}
	}
}

// once performs one attempt. wait < 0 means "do not retry"; wait >= 0 is a minimum delay before the
// next attempt (a Retry-After).
func (c *Client) once(ctx context.Context, req request, payload []byte, out any) (time.Duration, error) {
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return -1, ctx.Err()
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
		return -1, fmt.Errorf("jamfschool: %s: build request %s %s: %w", req.op, req.method, req.path, err)
	}
	hreq.SetBasicAuth(c.cfg.NetworkID, c.cfg.APIKey)
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
			return -1, ctx.Err()
		}
		te := &TransportError{Op: req.op, Method: req.method, Path: req.path, Timeout: httpx.IsTimeout(ctx, err), Err: redactURLError(err)}
		if req.idempotent {
			return 0, te
		}
		return -1, te
	}
	raw, rerr := httpx.ReadBody(resp.Body)
	if rerr != nil {
		if ctx.Err() != nil {
			return -1, ctx.Err()
		}
		te := &TransportError{Op: req.op, Method: req.method, Path: req.path, Timeout: httpx.IsTimeout(ctx, rerr), Err: fmt.Errorf("reading body: %w", rerr)}
		if req.idempotent {
			return 0, te
		}
		return -1, te
	}

	retryWait := time.Duration(-1)
	if resp.StatusCode == http.StatusTooManyRequests || (req.idempotent && retryableStatus(resp.StatusCode)) {
		retryWait = httpx.RetryAfter(resp.Header, time.Now())
	}
	ctype := resp.Header.Get("Content-Type")
	if httpx.LooksLikeHTML(ctype, raw) {
		return retryWait, &HTMLError{Op: req.op, Method: req.method, Path: req.path, Status: resp.StatusCode, Snippet: httpx.Snippet(raw, 120)}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return retryWait, parseError(req, resp.StatusCode, raw)
	}
	// A 2xx answer: decode. A truncated body on an idempotent request is worth one more try.
	decodeWait := time.Duration(-1)
	if req.idempotent {
		decodeWait = 0
	}
	var env envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return decodeWait, &DecodeError{Op: req.op, Method: req.method, Path: req.path, Status: resp.StatusCode, Snippet: httpx.Snippet(raw, 80), Err: err}
	}
	if env.Code >= 400 {
		return -1, &APIError{Op: req.op, Method: req.method, Path: req.path, Status: resp.StatusCode, Code: int(env.Code), Message: string(env.Message), Shape: ShapeFlat}
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return -1, &DecodeError{Op: req.op, Method: req.method, Path: req.path, Status: resp.StatusCode, Snippet: httpx.Snippet(raw, 80), Err: err}
		}
	}
	return 0, nil
}

// parseError turns a non-2xx, non-HTML body into an *APIError of the shape it came in.
func parseError(req request, status int, raw []byte) error {
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
	e.Message = httpx.Snippet(raw, 200)
	if e.Message == "" {
		e.Message = http.StatusText(status)
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
