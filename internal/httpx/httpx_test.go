package httpx

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

func TestBackoffDelayStaysWithinTheDoublingCeiling(t *testing.T) {
	b := Backoff{Base: 100 * time.Millisecond, Max: time.Second}
	ceilings := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, time.Second, time.Second}
	for n, ceiling := range ceilings {
		for range 200 {
			if d := b.Delay(n); d < 0 || d > ceiling {
				t.Fatalf("attempt %d waited %v, want within [0, %v]", n, d, ceiling)
			}
		}
	}
	if d := (Backoff{}).Delay(3); d != 0 {
		t.Errorf("a zero backoff waits %v, want no wait", d)
	}
}

func TestSleepEndsWithTheContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Sleep(ctx, time.Hour); err != context.Canceled {
		t.Fatalf("Sleep on a cancelled context = %v, want context.Canceled", err)
	}
	if err := Sleep(context.Background(), 0); err != nil {
		t.Fatalf("Sleep(0) = %v", err)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	cases := []struct {
		name  string
		value string
		want  time.Duration
	}{
		{"seconds", "7", 7 * time.Second},
		{"an HTTP date in the future", now.Add(30 * time.Second).Format(http.TimeFormat), 30 * time.Second},
		{"an HTTP date in the past means no wait", now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{"absent", "", 0},
		{"garbage", "soon", 0},
		{"negative seconds", "-3", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.value != "" {
				h.Set("Retry-After", tc.value)
			}
			if got := RetryAfter(h, now); got != tc.want {
				t.Errorf("RetryAfter(%q) = %v, want %v", tc.value, got, tc.want)
			}
		})
	}
}

func TestLooksLikeHTML(t *testing.T) {
	cases := []struct {
		name        string
		contentType string
		body        string
		want        bool
	}{
		{"a gateway page by content type", "text/html; charset=utf-8", "whatever", true},
		{"a page served as JSON", "application/json", "\r\n<!DOCTYPE html><html>", true},
		{"a bare html element", "", "<html><body>502</body></html>", true},
		{"JSON", "application/json", `{"httpStatus":401}`, false},
		{"XML is not HTML", "application/xml", `<?xml version="1.0"?><a/>`, false},
		{"empty", "", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := LooksLikeHTML(tc.contentType, []byte(tc.body)); got != tc.want {
				t.Errorf("LooksLikeHTML(%q, %q) = %v, want %v", tc.contentType, tc.body, got, tc.want)
			}
		})
	}
}

func TestReadBodyRefusesOversizedBodies(t *testing.T) {
	if _, err := ReadBody(io.NopCloser(strings.NewReader(strings.Repeat("x", MaxBodyBytes+1)))); err == nil {
		t.Fatal("a body over MaxBodyBytes was read without error")
	}
	b, err := ReadBody(io.NopCloser(strings.NewReader(`{"ok":true}`)))
	if err != nil || string(b) != `{"ok":true}` {
		t.Fatalf("ReadBody = %q, %v", b, err)
	}
}

func TestBodyReaderTellsABrokenOrOversizedBodyFromTheBytesItRead(t *testing.T) {
	reset := errors.New("connection reset by peer")
	cases := []struct {
		name    string
		body    io.Reader
		max     int64
		want    string
		wantErr func(error) bool
	}{
		{"a body within the cap is read whole, with no failure", strings.NewReader(`{"a":1}`), 7, `{"a":1}`, func(err error) bool { return err == nil }},
		{"a body over the cap fails with BodyTooLargeError, never cut silently", strings.NewReader(`{"a":12}`), 7, "",
			func(err error) bool { var big *BodyTooLargeError; return errors.As(err, &big) && big.Max == 7 }},
		{"a connection that breaks mid-body is the transport's error, kept", io.MultiReader(strings.NewReader(`{"a":`), iotest.ErrReader(reset)), 100, `{"a":`,
			func(err error) bool { return errors.Is(err, reset) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			br := NewBodyReader(tc.body, tc.max)
			got, _ := io.ReadAll(br)
			if tc.want != "" && string(got) != tc.want {
				t.Errorf("read %q, want %q", got, tc.want)
			}
			if !tc.wantErr(br.Err()) {
				t.Errorf("Err() = %v", br.Err())
			}
		})
	}
	t.Run("a decoder's own error on well-read bytes is not the body's", func(t *testing.T) {
		br := NewBodyReader(strings.NewReader(`{"a":]`), 100)
		var v any
		if err := json.NewDecoder(br).Decode(&v); err == nil {
			t.Fatal("decoded a malformed body")
		}
		if br.Err() != nil {
			t.Errorf("Err() = %v, want nil: the bytes arrived, they are malformed", br.Err())
		}
	})
	t.Run("an HTML page is recognised from its first bytes, which stay to be read", func(t *testing.T) {
		br := NewBodyReader(strings.NewReader("\n<!DOCTYPE html><html>gateway</html>"), 1000)
		if !br.LooksLikeHTML("application/json") {
			t.Error("not recognised as HTML")
		}
		if got, _ := io.ReadAll(br); !strings.HasPrefix(string(got), "\n<!DOCTYPE") {
			t.Errorf("peeking consumed the body: %q", got)
		}
		if NewBodyReader(strings.NewReader(`{"value":[]}`), 1000).LooksLikeHTML("application/json") {
			t.Error("JSON taken for HTML")
		}
	})
}

func TestSnippetIsOneShortLine(t *testing.T) {
	got := Snippet([]byte("<html>\r\n  <head><title>502 Bad Gateway</title></head>\n<body>long body</body></html>"), 30)
	if strings.ContainsAny(got, "\r\n") || len([]rune(got)) > 33 {
		t.Fatalf("Snippet = %q, want one line of at most 30 runes plus ...", got)
	}
	if !strings.HasPrefix(got, "<html> <head><title>502") {
		t.Fatalf("Snippet = %q, want whitespace folded", got)
	}
}

func TestParseBaseURL(t *testing.T) {
	cases := []struct {
		name, raw, want, wantErr string
	}{
		{"trailing slashes are dropped", "https://destiny.example.org/api/v1/rest/context/destiny//", "https://destiny.example.org/api/v1/rest/context/destiny", ""},
		{"surrounding spaces are ignored", "  http://127.0.0.1:8080 ", "http://127.0.0.1:8080", ""},
		{"empty is required", "", "", "base URL is required"},
		{"another scheme is refused", "ftp://example.org", "", "is not an absolute http(s) URL"},
		{"a relative URL is refused", "example.org/api", "", "is not an absolute http(s) URL"},
		{"user info is refused, so no password hides in it", "https://admin:secret@example.org", "", "must not carry a query, fragment or user info"},
		{"a password in a refused URL is not repeated", "ftp://admin:secret@example.org", "", "is not an absolute http(s) URL"},
		{"a query is refused", "https://example.org/api?x=1", "", "must not carry a query"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u, err := ParseBaseURL(tc.raw, "https://example.org")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseBaseURL(%q) error = %v, want %q", tc.raw, err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "secret") {
					t.Fatalf("the error repeats the password: %v", err)
				}
				return
			}
			if err != nil || u.String() != tc.want {
				t.Fatalf("ParseBaseURL(%q) = %v, %v; want %s", tc.raw, u, err, tc.want)
			}
		})
	}
}
