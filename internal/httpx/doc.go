// Package httpx is the one HTTP layer every vendor client in this project (internal/destiny,
// internal/jamf/pro, internal/jamf/school) stands on. A client keeps only what is its own: endpoints,
// decoding, and classifying its vendor's answers as done, retryable or final. Everything else lives here
// once:
//
//   - Retrier: the one retry loop. Each attempt reports an Outcome (done, retry, fail); backoff is
//     exponential with full jitter; a server's Retry-After is honoured up to MaxRetryAfter, and a wait
//     longer than that ends the call at once instead of hanging a run.
//   - TokenCache: the one bearer-token cache. Get returns the current token or fetches a new one shortly
//     before expiry; Invalidate drops a token only if it is still the current one, so a burst of 401s
//     renews once.
//   - BearerAuth and BasicAuth: authentication as an http.RoundTripper. BearerAuth resends a request
//     once, with a new token, after any 401 (refused before processing, so safe for every method).
//   - NewClient: one *http.Client per target with verified TLS (an optional private CA pool), a redirect
//     policy that follows redirects only to the same scheme and host (a credential, an Authorization
//     header or a form body with a client secret is never re-sent to another host, nor over plain http),
//     and the manager-wide in-flight limit per host (HostLimits), held until the body is closed.
//   - ReadBody: one response-size cap.
//   - Guard: the operator's --allowed-hosts list and the https-only rule for the URLs a policy names.
//   - Unrecognized: how an error describes an answer that is not the vendor's (an HTML page, a proxy's
//     text): by status, type and size, never by quoting it, so a hostile URL cannot read a foreign
//     service's answer back through a condition message.
//
// Layering of one authorised request: BearerAuth -> HostLimits -> http.Transport. The token request
// itself goes through the same client without BearerAuth, so it takes its own slot and no slot is held
// while waiting for a token.
package httpx
