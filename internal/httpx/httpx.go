package httpx

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// MaxBodyBytes bounds any response body a client reads (a Jamf inventory page of 2000 devices with
// four sections is a few MiB).
const MaxBodyBytes = 32 << 20

// ParseBaseURL checks that raw is an absolute http(s) URL without query, fragment or user info (so no
// credential hides in it) and returns it without trailing slashes. example is shown in the error.
func ParseBaseURL(raw, example string) (*url.URL, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, fmt.Errorf("base URL is required (%s)", example)
	}
	u, err := url.Parse(strings.TrimRight(raw, "/"))
	if err != nil {
		return nil, fmt.Errorf("base URL is not an absolute http(s) URL such as %s", example)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("base URL %q is not an absolute http(s) URL such as %s", u.Redacted(), example)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("base URL must not carry a query, fragment or user info (%s)", example)
	}
	return u, nil
}

// Backoff is exponential backoff with full jitter: attempt n (from 0) waits a random duration in
// [0, min(Max, Base*2^n)].
type Backoff struct {
	Base time.Duration
	Max  time.Duration
}

// DefaultBackoff suits interactive APIs: 200ms, 400ms, ... capped at 10s.
var DefaultBackoff = Backoff{Base: 200 * time.Millisecond, Max: 10 * time.Second}

// Delay returns the wait before retry attempt n (n starts at 0).
func (b Backoff) Delay(n int) time.Duration {
	ceiling := b.Base
	for i := 0; i < n && ceiling < b.Max; i++ {
		ceiling *= 2
	}
	if ceiling > b.Max {
		ceiling = b.Max
	}
	if ceiling <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(ceiling) + 1))
}

// Sleep waits d or until ctx ends, returning ctx's error in the latter case.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// RetryAfter parses a Retry-After header (seconds or HTTP date); zero when absent or invalid.
func RetryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// ReadBody reads at most MaxBodyBytes of r and closes it; a longer body is an error, not a silent cut.
func ReadBody(r io.ReadCloser) ([]byte, error) { return ReadBodyMax(r, MaxBodyBytes) }

// BodyTooLargeError is an answer longer than the cap: never decoded, never cut silently.
type BodyTooLargeError struct{ Max int64 }

func (e *BodyTooLargeError) Error() string {
	return fmt.Sprintf("response body larger than %d bytes", e.Max)
}

// ReadBodyMax reads at most max bytes of r and closes it; a longer body is a *BodyTooLargeError.
func ReadBodyMax(r io.ReadCloser, max int64) ([]byte, error) {
	defer func() { _ = r.Close() }()
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return b, err
	}
	if int64(len(b)) > max {
		return nil, &BodyTooLargeError{Max: max}
	}
	return b, nil
}

// ReadAnswer reads resp's body and closes it. With stream set, a 2xx answer that is not an HTML page is
// handed to stream as it arrives, up to streamMax bytes (streamed; raw nil, derr stream's verdict); any
// other answer is read whole, up to wholeMax. n is the number of bytes read; rerr is the body's own
// failure (a broken connection, a cap: *BodyTooLargeError), kept apart from what stream made of the
// bytes that did arrive.
func ReadAnswer(resp *http.Response, wholeMax, streamMax int64, stream func(io.Reader) error) (raw []byte, n int64, streamed bool, derr, rerr error) {
	if stream == nil {
		raw, rerr = ReadBodyMax(resp.Body, wholeMax)
		return raw, int64(len(raw)), false, nil, rerr
	}
	defer func() { _ = resp.Body.Close() }()
	br := NewBodyReader(resp.Body, max(wholeMax, streamMax))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 && !br.LooksLikeHTML(resp.Header.Get("Content-Type")) {
		derr = stream(br)
		return nil, br.N(), true, derr, br.Err()
	}
	// An error answer or an HTML page: read whole, as any other.
	raw, rerr = ReadBodyMax(io.NopCloser(br), wholeMax)
	if rerr == nil {
		rerr = br.Err()
	}
	return raw, br.N(), false, nil, rerr
}

// BodyReader reads a response body as it arrives, up to a cap, for a caller that decodes straight
// from the stream instead of holding the whole answer (a page of thousands of rows). It keeps the first
// failure of the body itself, a broken connection or the cap (*BodyTooLargeError), apart from whatever
// the decoder makes of the bytes: Err tells a broken answer (the transport's, retried like one) from a
// malformed one (the decoder's error, final). It does not close the body.
type BodyReader struct {
	r   *bufio.Reader
	max int64
	n   int64
	err error
}

// NewBodyReader reads body up to max bytes.
func NewBodyReader(body io.Reader, max int64) *BodyReader {
	b := &BodyReader{max: max}
	b.r = bufio.NewReaderSize(readerFunc(b.read(io.LimitReader(body, max+1))), 4096)
	return b
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

func (b *BodyReader) read(r io.Reader) readerFunc {
	return func(p []byte) (int, error) {
		if b.err != nil {
			return 0, b.err
		}
		n, err := r.Read(p)
		b.n += int64(n)
		if b.n > b.max {
			b.err = &BodyTooLargeError{Max: b.max}
			return 0, b.err
		}
		if err != nil && err != io.EOF {
			b.err = err
		}
		return n, err
	}
}

// Read reads the body.
func (b *BodyReader) Read(p []byte) (int, error) { return b.r.Read(p) }

// LooksLikeHTML is LooksLikeHTML for the start of the body, read ahead without consuming it.
func (b *BodyReader) LooksLikeHTML(contentType string) bool {
	head, _ := b.r.Peek(512)
	return LooksLikeHTML(contentType, head)
}

// Err is the first failure of the body itself: the transport's read error, or a *BodyTooLargeError
// once the body passed the cap; nil when every read so far succeeded (io.EOF is not a failure).
func (b *BodyReader) Err() error { return b.err }

// N is the number of bytes of the body read so far (read ahead included).
func (b *BodyReader) N() int64 { return b.n }

// LooksLikeHTML reports whether a response is an HTML page (a gateway error, a login page) rather
// than the JSON the API promises, by content type or by its first bytes.
func LooksLikeHTML(contentType string, body []byte) bool {
	if strings.Contains(strings.ToLower(contentType), "text/html") {
		return true
	}
	trimmed := bytes.TrimLeft(body, " \t\r\n\ufeff")
	if len(trimmed) == 0 || trimmed[0] != '<' {
		return false
	}
	head := strings.ToLower(string(trimmed[:min(len(trimmed), 64)]))
	return strings.HasPrefix(head, "<!doctype html") || strings.HasPrefix(head, "<html") || strings.HasPrefix(head, "<head") || strings.HasPrefix(head, "<body")
}

// Snippet returns the start of a body for an error message: one line, at most n runes, so a
// vendor's HTML page or stack trace never floods a condition message.
func Snippet(body []byte, n int) string {
	s := strings.Join(strings.Fields(string(body)), " ")
	r := []rune(s)
	if len(r) > n {
		return string(r[:n]) + "..."
	}
	return s
}

// IsTimeout reports whether err is a network or deadline timeout the caller did not ask for.
func IsTimeout(ctx context.Context, err error) bool {
	if err == nil || ctx.Err() != nil {
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	return false
}
