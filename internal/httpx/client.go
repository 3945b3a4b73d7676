package httpx

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
)

// ClientOptions configure NewClient.
type ClientOptions struct {
	// Timeout bounds one attempt, the body included, so a slow-drip answer ends (default 60s).
	Timeout time.Duration
	// MaxConns sizes the connection pool to one host (default 10).
	MaxConns int
	// RootCAs verifies the server; nil means the system's roots. TLS verification is never off.
	RootCAs *x509.CertPool
	// Limits, when set, caps requests in flight per host across every client that shares it (the
	// manager has one); Limit is this client's cap (default MaxConns).
	Limits *HostLimits
	Limit  int
	// Base replaces the default transport (tests pass one); the redirect policy and limits still apply.
	Base http.RoundTripper
}

// NewClient returns the *http.Client of one target: verified TLS, the same-host redirect policy, the
// per-host in-flight limit and a per-attempt timeout.
func NewClient(o ClientOptions) *http.Client {
	if o.Timeout <= 0 {
		o.Timeout = 60 * time.Second
	}
	if o.MaxConns <= 0 {
		o.MaxConns = 10
	}
	base := o.Base
	if base == nil {
		base = &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: o.RootCAs},
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: o.Timeout,
			ExpectContinueTimeout: time.Second,
			MaxIdleConns:          o.MaxConns * 2,
			MaxIdleConnsPerHost:   o.MaxConns,
			MaxConnsPerHost:       o.MaxConns,
			IdleConnTimeout:       90 * time.Second,
			ForceAttemptHTTP2:     true,
			// HTTP/2 flow control: how far a server may write ahead of the decoder. Go's default (4 MiB a
			// stream, 1 GiB a connection) lets every page in flight sit whole in memory when the decoder
			// is short of CPU (dozens of districts on two cores); 2 MiB a connection still fills a
			// 40 MB/s link at 50 ms.
			HTTP2: &http.HTTP2Config{MaxReceiveBufferPerStream: 1 << 20, MaxReceiveBufferPerConnection: 2 << 20},
		}
	}
	if o.Limits != nil {
		limit := o.Limit
		if limit <= 0 {
			limit = o.MaxConns
		}
		base = o.Limits.Transport(base, limit)
	}
	return &http.Client{Transport: base, Timeout: o.Timeout, CheckRedirect: SameHostRedirects}
}

// WithTransport returns a copy of c whose transport is wrap(c's transport): how a client adds
// authentication on top of the shared client (and its limits) it fetches tokens with.
func WithTransport(c *http.Client, wrap func(http.RoundTripper) http.RoundTripper) *http.Client {
	cp := *c
	base := c.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	cp.Transport = wrap(base)
	if cp.CheckRedirect == nil {
		cp.CheckRedirect = SameHostRedirects
	}
	return &cp
}

// RedirectError is a redirect the client refused to follow.
type RedirectError struct {
	From, To string // scheme://host of each side; never the path or query
}

func (e *RedirectError) Error() string {
	return fmt.Sprintf("redirect from %s to %s refused: credentials and requests go only to the host the policy names, over the scheme it names", e.From, e.To)
}

// SameHostRedirects is the redirect policy: follow at most 5 redirects, each to the scheme and host of
// the original request; anything else is a *RedirectError (so a 307 cannot re-post a client secret to
// another host, and https never falls back to http).
func SameHostRedirects(req *http.Request, via []*http.Request) error {
	first := via[0].URL
	if !strings.EqualFold(req.URL.Scheme, first.Scheme) || !strings.EqualFold(canonicalHost(req.URL.Scheme, req.URL.Host), canonicalHost(first.Scheme, first.Host)) {
		return &RedirectError{From: first.Scheme + "://" + first.Host, To: req.URL.Scheme + "://" + req.URL.Host}
	}
	if len(via) >= 5 {
		return errors.New("stopped after 5 redirects")
	}
	return nil
}

func canonicalHost(scheme, host string) string {
	h, port, err := net.SplitHostPort(host)
	if err != nil {
		h, port = host, ""
	}
	if port == "" {
		port = map[string]string{"https": "443", "http": "80"}[strings.ToLower(scheme)]
	}
	return strings.ToLower(h) + ":" + port
}

// CertPool returns the system's roots plus the PEM certificates in bundle (a district's private CA);
// an error when bundle holds no certificate.
func CertPool(bundle []byte) (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(bundle) {
		return nil, errors.New("the CA bundle holds no PEM certificate")
	}
	return pool, nil
}

// Unrecognized describes an answer that is not the vendor's JSON (a gateway's HTML page, a proxy's text,
// another service altogether) without quoting it: status, content type and size only. Errors that end in
// conditions and events use it, so a policy pointed at an internal service cannot read that service's
// answers back.
func Unrecognized(status int, contentType string, size int) string {
	kind := "a non-JSON answer"
	if strings.Contains(strings.ToLower(contentType), "html") {
		kind = "an HTML page"
	}
	ct := contentType
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	if ct == "" {
		ct = "no content type"
	}
	return fmt.Sprintf("%s (HTTP %d, %s, %d bytes), not the vendor's JSON", kind, status, strings.TrimSpace(ct), size)
}

// PlainWords returns a short plain-text answer that is only words (a vendor's plain-text error such as
// "Unauthorized" or "DeviceNotFound"), and "" for anything else: such a phrase carries no data worth
// hiding, anything longer or richer is described with Unrecognized instead.
func PlainWords(body []byte) string {
	s := strings.TrimSpace(string(body))
	if s == "" || len(s) > 48 {
		return ""
	}
	for _, r := range s {
		if !(r == ' ' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return ""
		}
	}
	return s
}
