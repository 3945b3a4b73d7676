package httpx

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"
)

// Token is a bearer token and when it stops working.
type Token struct {
	Value   string
	Expires time.Time
}

// TokenCache is the one bearer-token cache: one fetch at a time, renewal RenewBefore the expiry (at
// most half the token's lifetime before), and invalidation that only drops the token it was told about.
type TokenCache struct {
	// Fetch gets a new token. current is the token held now (zero if none or invalidated), for flows
	// that trade a live token for a new one (Jamf Pro's legacy keep-alive).
	Fetch func(ctx context.Context, current Token) (Token, error)
	// Now is the clock (default time.Now).
	Now func() time.Time
	// RenewBefore renews a token this long before it expires (default 60s).
	RenewBefore time.Duration

	lock    chan struct{} // a mutex that honours ctx; made lazily
	cur     Token
	renewAt time.Time
}

// NewTokenCache returns a cache with the given fetch, clock (nil: time.Now) and renewal margin.
func NewTokenCache(fetch func(ctx context.Context, current Token) (Token, error), now func() time.Time, renewBefore time.Duration) *TokenCache {
	return &TokenCache{Fetch: fetch, Now: now, RenewBefore: renewBefore, lock: make(chan struct{}, 1)}
}

func (c *TokenCache) now() time.Time {
	if c.Now == nil {
		return time.Now()
	}
	return c.Now()
}

func (c *TokenCache) acquire(ctx context.Context) error {
	if c.lock == nil {
		panic("httpx: TokenCache must be made with NewTokenCache")
	}
	select {
	case c.lock <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *TokenCache) release() { <-c.lock }

// Get returns a token that is good for a while yet, fetching one when there is none or it is due.
func (c *TokenCache) Get(ctx context.Context) (string, error) {
	if err := c.acquire(ctx); err != nil {
		return "", err
	}
	defer c.release()
	now := c.now()
	if c.cur.Value != "" && now.Before(c.renewAt) {
		return c.cur.Value, nil
	}
	current := c.cur
	if !now.Before(current.Expires) {
		current = Token{}
	}
	t, err := c.Fetch(ctx, current)
	if err != nil {
		return "", err
	}
	if t.Value == "" {
		return "", errors.New("httpx: token fetch returned no token")
	}
	life := t.Expires.Sub(now)
	margin := c.RenewBefore
	if margin <= 0 {
		margin = 60 * time.Second
	}
	margin = min(margin, life/2)
	c.cur, c.renewAt = t, t.Expires.Add(-margin)
	return t.Value, nil
}

// Invalidate drops stale if it is still the current token (another caller may have renewed it).
func (c *TokenCache) Invalidate(stale string) {
	c.lock <- struct{}{}
	defer c.release()
	if c.cur.Value == stale {
		c.cur = Token{}
	}
}

// Take removes and returns the current token (zero if none), for a client that revokes it on close.
func (c *TokenCache) Take(ctx context.Context) (Token, error) {
	if err := c.acquire(ctx); err != nil {
		return Token{}, err
	}
	defer c.release()
	t := c.cur
	c.cur = Token{}
	return t, nil
}

// BearerAuth sends each request with the cache's token. After a 401 it drops that token and sends the
// request once more with a new one: a 401 is a refusal before processing, so this is safe for every
// method. A request whose body cannot be replayed (no GetBody) gets the first 401 back.
func BearerAuth(base http.RoundTripper, tokens *TokenCache) http.RoundTripper {
	return &bearerAuth{base: base, tokens: tokens}
}

type bearerAuth struct {
	base   http.RoundTripper
	tokens *TokenCache
}

func (b *bearerAuth) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, tok, err := b.send(req, req.Body)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	var body io.ReadCloser
	if req.Body != nil && req.Body != http.NoBody {
		if req.GetBody == nil {
			return resp, nil
		}
		if body, err = req.GetBody(); err != nil {
			return resp, nil
		}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	b.tokens.Invalidate(tok)
	resp, _, err = b.send(req, body)
	return resp, err
}

func (b *bearerAuth) send(req *http.Request, body io.ReadCloser) (*http.Response, string, error) {
	tok, err := b.tokens.Get(req.Context())
	if err != nil {
		if body != nil {
			_ = body.Close()
		}
		return nil, "", err
	}
	r := req.Clone(req.Context())
	r.Body = body
	r.Header.Set("Authorization", "Bearer "+tok)
	resp, err := b.base.RoundTrip(r)
	return resp, tok, err
}

// BasicAuth sends each request with HTTP Basic credentials.
func BasicAuth(base http.RoundTripper, user, password string) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		r := req.Clone(req.Context())
		r.SetBasicAuth(user, password)
		return base.RoundTrip(r)
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
