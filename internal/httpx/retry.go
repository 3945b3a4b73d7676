package httpx

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// DefaultMaxRetryAfter is the longest Retry-After a Retrier waits for. A server that asks for more (Jamf
// Pro has been seen answering 86400) ends the call: a run must not hang for a day.
const DefaultMaxRetryAfter = 2 * time.Minute

// Outcome is what a client's classify hook makes of one attempt.
type Outcome struct {
	// Err is nil when the attempt succeeded.
	Err error
	// Retry says Err is transient and the request may be repeated (it was idempotent, or certainly
	// never processed).
	Retry bool
	// RetryAfter is the server's Retry-After, if it sent one (see RetryAfter).
	RetryAfter time.Duration
}

// Done is the Outcome of a successful attempt.
func Done() Outcome { return Outcome{} }

// Fail is the Outcome of an attempt that must not be repeated.
func Fail(err error) Outcome { return Outcome{Err: err} }

// Again is the Outcome of a transient failure; retryAfter is the server's wish (0 if none).
func Again(err error, retryAfter time.Duration) Outcome {
	return Outcome{Err: err, Retry: true, RetryAfter: retryAfter}
}

// Retrier is the one retry loop. The zero value retries 4 times with DefaultBackoff.
type Retrier struct {
	Backoff Backoff
	// MaxRetries is the number of retries after the first attempt: 0 means 4, negative means none.
	MaxRetries int
	// MaxRetryAfter caps a server's Retry-After (default DefaultMaxRetryAfter).
	MaxRetryAfter time.Duration
	// Sleep waits between attempts (default Sleep); tests inject a recorder.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Retries returns the effective number of retries after the first attempt.
func (r Retrier) Retries() int {
	switch {
	case r.MaxRetries == 0:
		return 4
	case r.MaxRetries < 0:
		return 0
	}
	return r.MaxRetries
}

// RetryAfterTooLongError ends a call whose server asked to wait longer than the Retrier's cap.
type RetryAfterTooLongError struct {
	Wait, Max time.Duration
	Err       error // the attempt's error
}

func (e *RetryAfterTooLongError) Error() string {
	return fmt.Sprintf("%v (the server asked to retry after %v, longer than the %v a run waits)", e.Err, e.Wait, e.Max)
}

func (e *RetryAfterTooLongError) Unwrap() error { return e.Err }

// StoppedError is returned when the context ends while a call waits to retry: it wraps both the
// context's error and the last attempt's.
type StoppedError struct {
	Ctx  error
	Last error
}

func (e *StoppedError) Error() string { return fmt.Sprintf("%v (after %v)", e.Ctx, e.Last) }

// Unwrap exposes both, so errors.Is(err, context.Canceled) and errors.As(err, &vendorErr) work.
func (e *StoppedError) Unwrap() []error { return []error{e.Ctx, e.Last} }

// Do runs attempt (n counts from 0) until it succeeds, fails for good, or the retries run out, and
// returns the last error. Between attempts it waits the backoff, or the server's Retry-After when that is
// longer; a Retry-After beyond MaxRetryAfter ends the call with *RetryAfterTooLongError.
func (r Retrier) Do(ctx context.Context, attempt func(ctx context.Context, n int) Outcome) error {
	backoff := r.Backoff
	if backoff == (Backoff{}) {
		backoff = DefaultBackoff
	}
	maxAfter := r.MaxRetryAfter
	if maxAfter <= 0 {
		maxAfter = DefaultMaxRetryAfter
	}
	sleep := r.Sleep
	if sleep == nil {
		sleep = Sleep
	}
	retries := r.Retries()
	for n := 0; ; n++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		o := attempt(ctx, n)
		if o.Err == nil {
			return nil
		}
		if !o.Retry || n >= retries || ctx.Err() != nil {
			return o.Err
		}
		if o.RetryAfter > maxAfter {
			return &RetryAfterTooLongError{Wait: o.RetryAfter, Max: maxAfter, Err: o.Err}
		}
		wait := max(backoff.Delay(n), o.RetryAfter)
		if err := sleep(ctx, wait); err != nil {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return &StoppedError{Ctx: err, Last: o.Err}
			}
			return err
		}
	}
}
