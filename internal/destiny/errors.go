package destiny

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/k12dev/devicesync-operator/internal/httpx"
)

// Kind classifies a failure. A Kind is itself an error, so errors.Is(err, destiny.KindPermission) works.
type Kind string

// The kinds of failure a caller can act on.
const (
	// KindAuth: the credentials were refused, or a token was refused and renewing it did not help.
	KindAuth Kind = "authentication failed"
	// KindPermission: the API account lacks a service (403 CODE_INSUFFICIENT_RIGHTS_TO_API); Error.Service names it.
	KindPermission Kind = "permission denied"
	// KindNotFound: the resource type, site or patron does not exist.
	KindNotFound Kind = "not found"
	// KindBadRequest: Destiny refused a parameter (400); retrying will not help.
	KindBadRequest Kind = "bad request"
	// KindRateLimited: 429 after every retry.
	KindRateLimited Kind = "rate limited"
	// KindServer: 5xx (or a gateway's HTML page) after every retry.
	KindServer Kind = "server error"
	// KindMalformed: a 2xx answer that is not the documented JSON (truncated, HTML, wrong shape).
	KindMalformed Kind = "malformed response"
	// KindTimeout: the request timed out after every retry.
	KindTimeout Kind = "timeout"
	// KindNetwork: the connection failed after every retry.
	KindNetwork Kind = "network error"
	// KindRedirect: the server redirected to another host or from https to http; the client never
	// follows such a redirect (a credential or a request would reach a host the policy did not name).
	KindRedirect Kind = "redirect refused"
	// KindCanceled: the caller's context ended.
	KindCanceled Kind = "canceled"
	// KindAmbiguous: a name (a resource type) matches more than one thing; Error.Message lists them.
	KindAmbiguous Kind = "ambiguous"
	// KindInvalidData: an answer was well formed but a value in it is not one this client understands
	// (for example an unknown patron site status).
	KindInvalidData Kind = "invalid data"
)

func (k Kind) Error() string { return string(k) }

// Error is every failure this package returns. It never contains the client secret or a token.
type Error struct {
	// Op is what the client was doing: "authenticate", "list items", "count items", "get site",
	// "list sites", "patron status", "test connection".
	Op string
	// Subject is what Op was about: a resource type and site, a site id, a patron district id.
	Subject string
	Kind    Kind
	// StatusCode is the HTTP status (0 when there was no answer).
	StatusCode int
	// Code is Destiny's error code (CODE_NOT_FOUND, CODE_INSUFFICIENT_RIGHTS_TO_API, invalid_client, ...).
	Code string
	// Message is Destiny's message, or a description of what was wrong with the answer.
	Message string
	// Target is Destiny's error target (a parameter, a path, or for a 403 the API right that was missing).
	Target string
	// Service is the Destiny API account service the call needs, set for KindPermission
	// ("Resources", "Patron Info").
	Service string
	// LogID is Destiny's log id, to quote to the Destiny administrator.
	LogID string
	// Attempts is how many requests were made.
	Attempts int
	// Err is the underlying error (a network error, context.Canceled, a JSON syntax error).
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("destiny: ")
	b.WriteString(e.Op)
	if e.Subject != "" {
		b.WriteString(" (" + e.Subject + ")")
	}
	b.WriteString(": ")
	b.WriteString(string(e.Kind))
	if e.Kind == KindPermission && e.Service != "" {
		fmt.Fprintf(&b, ": the Destiny API account lacks the %q service", e.Service)
	}
	var detail []string
	if e.StatusCode != 0 {
		detail = append(detail, fmt.Sprintf("HTTP %d", e.StatusCode))
	}
	if e.Code != "" {
		detail = append(detail, e.Code)
	}
	if e.Message != "" {
		detail = append(detail, e.Message)
	}
	if e.Target != "" {
		detail = append(detail, "target "+e.Target)
	}
	if e.LogID != "" {
		detail = append(detail, "logId "+e.LogID)
	}
	if e.Attempts > 1 {
		detail = append(detail, fmt.Sprintf("after %d attempts", e.Attempts))
	}
	if len(detail) > 0 {
		b.WriteString(" (" + strings.Join(detail, ", ") + ")")
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Is matches a Kind: errors.Is(err, destiny.KindNotFound).
func (e *Error) Is(target error) bool {
	k, ok := target.(Kind)
	return ok && k == e.Kind
}

// apiError is the union of Destiny's documented error bodies:
//
//	{"error":{"code":..,"message":..,"target":..,"logId":..}}   (resources, circulation, auth 500)
//	{"code":..,"message":..,"target":..,"logId":..}             (sites)
//	{"error":"invalid_client","error_description":..}           (OAuth errors of /auth/accessToken)
type apiError struct {
	Error            json.RawMessage `json:"error"`
	ErrorDescription string          `json:"error_description"`
	apiErrorBody
}

type apiErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Target  string `json:"target"`
	LogID   string `json:"logId"`
}

// decodeError fills e's Code, Message, Target and LogID from a response body, whichever shape it has.
func decodeError(e *Error, resp *http.Response, body []byte) {
	ct := resp.Header.Get("Content-Type")
	if httpx.LooksLikeHTML(ct, body) {
		e.Message = httpx.Unrecognized(resp.StatusCode, ct, len(body))
		return
	}
	var a apiError
	if err := json.Unmarshal(body, &a); err != nil {
		if len(bytes.TrimSpace(body)) == 0 {
			e.Message = http.StatusText(resp.StatusCode)
		} else if e.Message = httpx.PlainWords(body); e.Message == "" {
			e.Message = httpx.Unrecognized(resp.StatusCode, ct, len(body))
		}
		return
	}
	if len(a.Error) > 0 {
		var s string
		if json.Unmarshal(a.Error, &s) == nil {
			e.Code, e.Message = s, a.ErrorDescription
			return
		}
		var inner apiErrorBody
		if json.Unmarshal(a.Error, &inner) == nil && (inner.Code != "" || inner.Message != "") {
			e.Code, e.Message, e.Target, e.LogID = inner.Code, inner.Message, inner.Target, inner.LogID
			return
		}
	}
	e.Code, e.Message, e.Target, e.LogID = a.Code, a.Message, a.Target, a.LogID
	if e.Code == "" && e.Message == "" {
		e.Message = httpx.Unrecognized(resp.StatusCode, ct, len(body))
	}
}
