package pro

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/k12dev/devicesync-operator/internal/httpx"
)

// Token endpoints, as Jamf's schema names them. /api/v1/oauth/token is the client credentials endpoint
// (the older /api/oauth/token is deprecated).
const (
	oauthTokenPath  = "/api/v1/oauth/token"
	legacyTokenPath = "/api/v1/auth/token"
	keepAlivePath   = "/api/v1/auth/keep-alive"
	invalidatePath  = "/api/v1/auth/invalidate-token"
	legacyLifetime  = 30 * time.Minute
)

// tokenSource holds the current bearer token, renews it RenewBefore its expiry (at most half its
// lifetime before), and replaces it after a 401. One renewal at a time: concurrent callers wait for it.
type tokenSource struct {
	c           *Client
	renewBefore time.Duration
	lock        chan struct{} // a mutex that honours ctx

	token   string
	issued  time.Time
	expires time.Time
}

func (t *tokenSource) acquire(ctx context.Context) error {
	select {
	case t.lock <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("jamf pro: get token: %w", ctx.Err())
	}
}

func (t *tokenSource) release() { <-t.lock }

// renewAt is when the current token should be replaced.
func (t *tokenSource) renewAt() time.Time {
	margin := min(t.renewBefore, t.expires.Sub(t.issued)/2)
	return t.expires.Add(-margin)
}

// get returns a token valid for a while yet, fetching or renewing as needed.
func (t *tokenSource) get(ctx context.Context) (string, error) {
	if err := t.acquire(ctx); err != nil {
		return "", err
	}
	defer t.release()
	now := t.c.now()
	if t.token != "" && now.Before(t.renewAt()) {
		return t.token, nil
	}
	if b, ok := t.c.auth.(Basic); ok {
		if t.token != "" && now.Before(t.expires) {
			if err := t.keepAlive(ctx); err == nil {
				return t.token, nil
			} else if ctx.Err() != nil {
				return "", err
			}
			// keep-alive refused (token revoked, ...): fall back to a new token.
		}
		if err := t.legacyToken(ctx, b); err != nil {
			return "", err
		}
		return t.token, nil
	}
	if err := t.oauthToken(ctx, t.c.auth.(OAuth)); err != nil {
		return "", err
	}
	return t.token, nil
}

// invalidate forgets tok if it is still the current token (another caller may have renewed it already).
func (t *tokenSource) invalidate(tok string) {
	t.lock <- struct{}{}
	defer t.release()
	if t.token == tok {
		t.token = ""
	}
}

func (t *tokenSource) set(tok string, lifetime time.Duration) {
	now := t.c.now()
	t.token, t.issued, t.expires = tok, now, now.Add(lifetime)
}

func (t *tokenSource) oauthToken(ctx context.Context, o OAuth) error {
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {o.ClientID}, "client_secret": {o.ClientSecret}}
	var out struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := t.post(ctx, oauthTokenPath, "application/x-www-form-urlencoded", []byte(form.Encode()), "", &out); err != nil {
		return err
	}
	if out.AccessToken == "" || out.ExpiresIn <= 0 {
		return &AuthError{Path: oauthTokenPath, StatusCode: http.StatusOK, Code: "invalid_response", Description: "no access_token or expires_in in the answer"}
	}
	t.set(out.AccessToken, time.Duration(out.ExpiresIn)*time.Second)
	return nil
}

type legacyTokenResponse struct {
	Token   string `json:"token"`
	Expires string `json:"expires"`
}

func (t *tokenSource) legacyToken(ctx context.Context, b Basic) error {
	req := &http.Request{Header: http.Header{}}
	req.SetBasicAuth(b.Username, b.Password)
	var out legacyTokenResponse
	if err := t.post(ctx, legacyTokenPath, "", nil, req.Header.Get("Authorization"), &out); err != nil {
		return err
	}
	return t.setLegacy(legacyTokenPath, out)
}

// keepAlive trades the current (still valid) legacy token for a new one; the old one stops working.
func (t *tokenSource) keepAlive(ctx context.Context) error {
	var out legacyTokenResponse
	if err := t.post(ctx, keepAlivePath, "", nil, "Bearer "+t.token, &out); err != nil {
		return err
	}
	return t.setLegacy(keepAlivePath, out)
}

func (t *tokenSource) setLegacy(path string, out legacyTokenResponse) error {
	if out.Token == "" {
		return &AuthError{Path: path, StatusCode: http.StatusOK, Code: "invalid_response", Description: "no token in the answer"}
	}
	lifetime := legacyLifetime
	if exp, err := time.Parse(time.RFC3339Nano, out.Expires); err == nil {
		if d := exp.Sub(t.c.now()); d > 0 && d < lifetime {
			lifetime = d
		}
	}
	t.set(out.Token, lifetime)
	return nil
}

// post calls a token endpoint (idempotent in effect: a second token is harmless), with retries on
// transient failures. Refusals become *AuthError without any credential in them. The caller holds a
// concurrency slot (the token is fetched on behalf of the call that holds it).
func (t *tokenSource) post(ctx context.Context, path, contentType string, body []byte, authz string, out any) error {
	cl := call{op: "get token", method: http.MethodPost, path: path, idempotent: true, secretBody: true}
	c := t.c
	for attempt := 0; ; attempt++ {
		status, hdr, respBody, err := c.send(ctx, cl, contentType, body, authz)
		if err == nil && (status == http.StatusBadRequest || status == http.StatusUnauthorized || status == http.StatusForbidden) &&
			!httpx.LooksLikeHTML(hdr.Get("Content-Type"), respBody) {
			return authError(path, status, respBody)
		}
		err = c.classify(cl, status, hdr, respBody, err, out)
		if err == nil {
			return nil
		}
		if !IsRetryable(err) || attempt >= c.maxRetries || ctx.Err() != nil {
			return err
		}
		if serr := httpx.Sleep(ctx, c.backoff.Delay(attempt)); serr != nil {
			return fmt.Errorf("jamf pro: get token: %w (after %v)", serr, err)
		}
	}
}

func authError(path string, status int, body []byte) error {
	e := &AuthError{Path: path, StatusCode: status}
	var oauth struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	var api struct {
		Errors []ErrorCause `json:"errors"`
	}
	switch {
	case json.Unmarshal(body, &oauth) == nil && oauth.Error != "":
		e.Code, e.Description = oauth.Error, oauth.Description
	case json.Unmarshal(body, &api) == nil && len(api.Errors) > 0:
		e.Code, e.Description = api.Errors[0].Code, api.Errors[0].Description
	default:
		e.Description = httpx.Snippet(body, 160)
	}
	return e
}

// Close invalidates a legacy bearer token (POST /api/v1/auth/invalidate-token); OAuth tokens simply
// expire. Safe to call more than once; later calls would fetch a new token.
func (c *Client) Close(ctx context.Context) error {
	if _, ok := c.auth.(Basic); !ok {
		return nil
	}
	cl := call{op: "invalidate token", method: http.MethodPost, path: invalidatePath}
	// Same lock order as every call: concurrency slot, then the token lock.
	return c.withSlot(ctx, cl.op, func() error {
		t := c.tokens
		if err := t.acquire(ctx); err != nil {
			return err
		}
		defer t.release()
		if t.token == "" {
			return nil
		}
		tok := t.token
		t.token = ""
		status, hdr, body, err := c.send(ctx, cl, "", nil, "Bearer "+tok)
		if err != nil {
			return err
		}
		if status < 300 || status == http.StatusUnauthorized {
			return nil // invalidated, or already invalid
		}
		return c.classify(cl, status, hdr, body, nil, nil)
	})
}
