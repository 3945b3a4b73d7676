package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/k12dev/devicesync-operator/internal/httpx"
)

// DefaultTimeout bounds one delivery attempt; a chat webhook answers in well under a second.
const DefaultTimeout = 10 * time.Second

// Sender posts a message to a webhook URL.
//
// A POST to a chat webhook is retried (twice by default) after a 5xx, a 429 or a network error: the
// worst case of a retry is the same chat message shown twice, which is better than none, and most such
// failures happen before the receiver processed anything. A 4xx other than 429 is final.
type Sender struct {
	// Client carries the POST; NewSender builds one with httpx.NewClient.
	Client *http.Client
	// Guard is the manager's --allowed-hosts list; webhook URLs must also be https.
	Guard httpx.Guard
	// Retrier is the retry loop (zero MaxRetries: NewSender sets 2).
	Retrier httpx.Retrier
}

// NewSender returns a Sender over httpx.NewClient (verified TLS, same-host redirects only, the manager's
// per-host limits) with a short timeout and two retries. base replaces the transport in tests (nil: the
// default).
func NewSender(base http.RoundTripper, guard httpx.Guard, limits *httpx.HostLimits) *Sender {
	return &Sender{
		Client:  httpx.NewClient(httpx.ClientOptions{Timeout: DefaultTimeout, MaxConns: 2, Limits: limits, Base: base}),
		Guard:   guard,
		Retrier: httpx.Retrier{MaxRetries: 2, Backoff: httpx.Backoff{Base: 500 * time.Millisecond, Max: 5 * time.Second}, MaxRetryAfter: 30 * time.Second},
	}
}

// DeliveryError is a failed delivery. It names the webhook's host and the HTTP status, never the URL,
// whose path or query carries the webhook's token.
type DeliveryError struct {
	Host string
	// Status is the last HTTP status (0: no answer).
	Status int
	// Problem says what went wrong when there was no answer (or the URL was refused).
	Problem string
}

func (e *DeliveryError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("webhook at host %s answered HTTP %d", e.Host, e.Status)
	}
	return fmt.Sprintf("webhook at host %s: %s", e.Host, e.Problem)
}

// Host returns the host of a webhook URL, for logs, or "(invalid URL)".
func Host(rawURL string) string {
	u, err := url.Parse(strings.TrimSpace(rawURL))
	if err != nil || u.Host == "" {
		return "(invalid URL)"
	}
	return u.Host
}

// Send posts body (JSON) to rawURL.
func (s *Sender) Send(ctx context.Context, rawURL string, body []byte) error {
	u, err := url.Parse(strings.TrimSpace(rawURL))
	if err != nil || u.Host == "" {
		return &DeliveryError{Host: "(invalid URL)", Problem: "the webhook URL in the Secret is not an absolute URL"}
	}
	host := u.Host
	if !strings.EqualFold(u.Scheme, "https") {
		return &DeliveryError{Host: host, Problem: "the webhook URL must use https:// (it carries a token)"}
	}
	if err := s.Guard.Check(u, false); err != nil {
		return &DeliveryError{Host: host, Problem: "the host is not in the manager's --allowed-hosts"}
	}
	var last *DeliveryError
	err = s.Retrier.Do(ctx, func(ctx context.Context, _ int) httpx.Outcome {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
		if err != nil {
			last = &DeliveryError{Host: host, Problem: "the request could not be built"}
			return httpx.Fail(last)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := s.Client.Do(req)
		if err != nil {
			problem, again := networkProblem(ctx, err)
			last = &DeliveryError{Host: host, Problem: problem}
			if !again {
				return httpx.Fail(last)
			}
			return httpx.Again(last, 0)
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		_ = resp.Body.Close()
		switch {
		case resp.StatusCode >= 200 && resp.StatusCode < 300:
			return httpx.Done()
		case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
			last = &DeliveryError{Host: host, Status: resp.StatusCode}
			return httpx.Again(last, httpx.RetryAfter(resp.Header, time.Now()))
		}
		last = &DeliveryError{Host: host, Status: resp.StatusCode}
		return httpx.Fail(last)
	})
	if err == nil {
		return nil
	}
	if last == nil {
		last = &DeliveryError{Host: host, Problem: "not sent: " + err.Error()}
	} else if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		last = &DeliveryError{Host: host, Status: last.Status, Problem: "gave up: " + last.Problem}
	}
	return last
}

// networkProblem describes a transport error without the URL that *url.Error would quote, and says
// whether it is worth another attempt (a refused redirect is not).
func networkProblem(ctx context.Context, err error) (string, bool) {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var re *httpx.RedirectError
	switch {
	case errors.As(err, &re):
		return "it redirected to another host or scheme, which is not followed", false
	case httpx.IsTimeout(ctx, err):
		return "no answer within the timeout", true
	}
	return "no answer: " + scrub(err.Error()), true
}

// scrub drops anything that looks like a URL from a transport error's text.
func scrub(s string) string {
	f := strings.Fields(s)
	for i, w := range f {
		if strings.Contains(w, "://") || strings.Contains(w, "/") {
			f[i] = "(url)"
		}
	}
	return strings.Join(f, " ")
}
