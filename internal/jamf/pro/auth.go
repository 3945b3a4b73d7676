package pro

import (
	"context"
	"encoding/json"
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

// fetchToken is the token cache's Fetch: a new OAuth token, or for the legacy flow a keep-alive of the
// current token while it lives (falling back to a new token when Jamf refuses it). Failures come wrapped
// in *tokenError so they pass BearerAuth's RoundTrip unchanged.
func (c *Client) fetchToken(ctx context.Context, current httpx.Token) (httpx.Token, error) {
	var (
		t   httpx.Token
		err error
	)
	switch a := c.auth.(type) {
	case Basic:
		if current.Value != "" {
			if t, err = c.keepAlive(ctx, current.Value); err == nil || ctx.Err() != nil {
				break
			}
			// keep-alive refused (token revoked, ...): fall back to a new token.
		}
		t, err = c.legacyToken(ctx, a)
	case OAuth:
		t, err = c.oauthToken(ctx, a)
	}
	if err != nil {
		return httpx.Token{}, &tokenError{err: err}
	}
	return t, nil
}

func (c *Client) oauthToken(ctx context.Context, o OAuth) (httpx.Token, error) {
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {o.ClientID}, "client_secret": {o.ClientSecret}}
	var out struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := c.post(ctx, oauthTokenPath, "application/x-www-form-urlencoded", []byte(form.Encode()), "", &out); err != nil {
		return httpx.Token{}, err
	}
	if out.AccessToken == "" || out.ExpiresIn <= 0 {
		return httpx.Token{}, &AuthError{Path: oauthTokenPath, StatusCode: http.StatusOK, Code: "invalid_response", Description: "no access_token or expires_in in the answer"}
	}
	return httpx.Token{Value: out.AccessToken, Expires: c.now().Add(time.Duration(out.ExpiresIn) * time.Second)}, nil
}

type legacyTokenResponse struct {
	Token   string `json:"token"`
	Expires string `json:"expires"`
}

func (c *Client) legacyToken(ctx context.Context, b Basic) (httpx.Token, error) {
	req := &http.Request{Header: http.Header{}}
	req.SetBasicAuth(b.Username, b.Password)
	var out legacyTokenResponse
	if err := c.post(ctx, legacyTokenPath, "", nil, req.Header.Get("Authorization"), &out); err != nil {
		return httpx.Token{}, err
	}
	return c.legacy(legacyTokenPath, out)
}

// keepAlive trades a live legacy token for a new one; the old one stops working.
func (c *Client) keepAlive(ctx context.Context, tok string) (httpx.Token, error) {
	var out legacyTokenResponse
	if err := c.post(ctx, keepAlivePath, "", nil, "Bearer "+tok, &out); err != nil {
		return httpx.Token{}, err
	}
	return c.legacy(keepAlivePath, out)
}

func (c *Client) legacy(path string, out legacyTokenResponse) (httpx.Token, error) {
	if out.Token == "" {
		return httpx.Token{}, &AuthError{Path: path, StatusCode: http.StatusOK, Code: "invalid_response", Description: "no token in the answer"}
	}
	now := c.now()
	lifetime := legacyLifetime
	if exp, err := time.Parse(time.RFC3339Nano, out.Expires); err == nil {
		if d := exp.Sub(now); d > 0 && d < lifetime {
			lifetime = d
		}
	}
	return httpx.Token{Value: out.Token, Expires: now.Add(lifetime)}, nil
}

// post calls a token endpoint (idempotent in effect: a second token is harmless) through the shared
// retry loop, without a bearer token and without a concurrency slot (the call that needs the token holds
// one). Refusals become *AuthError without any credential in them.
func (c *Client) post(ctx context.Context, path, contentType string, body []byte, authz string, out any) error {
	cl := call{op: "get token", method: http.MethodPost, path: path, idempotent: true, secretBody: true}
	return c.retry(ctx, cl.op, func(ctx context.Context, _ int) httpx.Outcome {
		status, hdr, respBody, err := c.send(ctx, c.plain, cl, contentType, body, authz)
		if err == nil && (status == http.StatusBadRequest || status == http.StatusUnauthorized || status == http.StatusForbidden) &&
			!httpx.LooksLikeHTML(hdr.Get("Content-Type"), respBody) {
			return httpx.Fail(authError(path, status, respBody))
		}
		return c.outcome(cl, status, hdr, c.classify(cl, status, hdr, respBody, err, out))
	})
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
		if e.Description = httpx.PlainWords(body); e.Description == "" && len(body) > 0 {
			e.Description = httpx.Unrecognized(status, "", len(body))
		}
	}
	return e
}

// Close invalidates a legacy bearer token (POST /api/v1/auth/invalidate-token); OAuth tokens simply
// expire. Safe to call more than once; later calls would fetch a new token.
func (c *Client) Close(ctx context.Context) error {
	if _, ok := c.auth.(Basic); !ok {
		return nil
	}
	tok, err := c.tokens.Take(ctx)
	if err != nil || tok.Value == "" {
		return err
	}
	cl := call{op: "invalidate token", method: http.MethodPost, path: invalidatePath}
	status, hdr, body, err := c.send(ctx, c.plain, cl, "", nil, "Bearer "+tok.Value)
	if err != nil {
		return err
	}
	if status < 300 || status == http.StatusUnauthorized {
		return nil // invalidated, or already invalid
	}
	return c.classify(cl, status, hdr, body, nil, nil)
}
