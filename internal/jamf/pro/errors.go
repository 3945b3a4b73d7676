package pro

import (
	"errors"
	"fmt"
	"strings"

	"github.com/k12dev/devicesync-operator/internal/httpx"
)

// APIError is an answer from Jamf Pro other than success, decoded from its ApiError shape
// ({"httpStatus", "errors":[{code, description, id, field}]}) when the body has it; otherwise Code is
// empty and Description holds a snippet of the body.
type APIError struct {
	// Op is what the client was doing ("list inventory", "update device 12", ...).
	Op string
	// Method and Path locate the call (no query string, never a token).
	Method, Path string
	StatusCode   int
	// Code, Description, Field and ID come from the first error cause.
	Code        string
	Description string
	Field       string
	ID          string
	// Causes holds every cause the body listed.
	Causes []ErrorCause
	// Retryable reports whether repeating this call is safe and may succeed (idempotent call, transient status).
	Retryable bool
}

// ErrorCause is one entry of ApiError.errors.
type ErrorCause struct {
	Code        string  `json:"code"`
	Description string  `json:"description"`
	ID          *string `json:"id"`
	Field       *string `json:"field"`
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "jamf pro: %s (%s %s): HTTP %d", e.Op, e.Method, e.Path, e.StatusCode)
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.Description != "" {
		b.WriteString(": " + e.Description)
	}
	if e.Field != "" {
		b.WriteString(" (field " + e.Field + ")")
	}
	return b.String()
}

// Is lets errors.Is(err, ErrInvalidToken) and friends match on the code.
func (e *APIError) Is(target error) bool {
	var c codeErr
	if errors.As(target, &c) {
		return e.Code == string(c)
	}
	return false
}

type codeErr string

func (c codeErr) Error() string { return "jamf pro: " + string(c) }

// Sentinels matching APIError codes with errors.Is.
var (
	ErrInvalidToken         error = codeErr("INVALID_TOKEN")
	ErrOptimisticLockFailed error = codeErr("OPTIMISTIC_LOCK_FAILED")
	ErrInvalidPrivilege     error = codeErr("INVALID_PRIVILEGE")
)

// HTMLError is an HTML page where JSON was expected: a gateway error (502/504 from Jamf Cloud's load
// balancer), a timeout page or a login page.
type HTMLError struct {
	Op           string
	Method, Path string
	StatusCode   int
	Snippet      string
	Retryable    bool
}

func (e *HTMLError) Error() string {
	return fmt.Sprintf("jamf pro: %s (%s %s): HTTP %d with an HTML page instead of JSON: %s", e.Op, e.Method, e.Path, e.StatusCode, e.Snippet)
}

// DecodeError is a response body that is not the JSON expected (malformed, truncated, wrong shape).
type DecodeError struct {
	Op           string
	Method, Path string
	StatusCode   int
	Snippet      string
	Err          error
	Retryable    bool
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("jamf pro: %s (%s %s): HTTP %d, cannot decode body: %v (body starts %q)", e.Op, e.Method, e.Path, e.StatusCode, e.Err, e.Snippet)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// TransportError is a failure to get any answer: connection refused or reset, timeout.
type TransportError struct {
	Op           string
	Method, Path string
	// MaybeSent is false only when the request certainly never reached the server (dial failed).
	MaybeSent bool
	Timeout   bool
	Err       error
	// Retryable is true for idempotent calls, and for others only when the request was never sent.
	Retryable bool
}

func (e *TransportError) Error() string {
	what := "request failed"
	if e.Timeout {
		what = "timed out"
	}
	return fmt.Sprintf("jamf pro: %s (%s %s): %s: %v", e.Op, e.Method, e.Path, what, e.Err)
}

func (e *TransportError) Unwrap() error { return e.Err }

// AuthError is a refusal from a token endpoint: OAuth's {"error","error_description"} (invalid_client, ...)
// or an ApiError from the legacy endpoint. It never carries the credentials.
type AuthError struct {
	Path        string
	StatusCode  int
	Code        string
	Description string
}

func (e *AuthError) Error() string {
	return fmt.Sprintf("jamf pro: get token (POST %s): HTTP %d %s: %s", e.Path, e.StatusCode, e.Code, e.Description)
}

// UnknownNameError says a building or department name given to UpdateDevice does not exist in Jamf Pro
// (as of the last lookup refresh). Nothing was written.
type UnknownNameError struct {
	Kind string // "building" or "department"
	Name string
}

func (e *UnknownNameError) Error() string {
	return fmt.Sprintf("jamf pro: %s %q does not exist in Jamf Pro (Settings > Network > %ss)", e.Kind, e.Name, strings.ToUpper(e.Kind[:1])+e.Kind[1:])
}

// NameNotAppliedError says a PATCH succeeded but Jamf Pro kept the old name: Jamf renames supervised
// devices only (it sends an MDM Settings command). The other fields of the update were applied.
type NameNotAppliedError struct {
	ID         int
	Want, Got  string
	Supervised bool
}

func (e *NameNotAppliedError) Error() string {
	why := ""
	if !e.Supervised {
		why = " (device not supervised)"
	}
	return fmt.Sprintf("jamf pro: device %d kept name %q instead of %q%s", e.ID, e.Got, e.Want, why)
}

// MissingPrivilegesError names the privileges the API client lacks: reads TestConnection saw refused,
// and writes Jamf refused (see TestConnection). Err, when set, is Jamf's refusal.
type MissingPrivilegesError struct {
	Privileges []string
	// Notes says, per privilege, which write Jamf refused ("" for a read TestConnection checked).
	Notes map[string]string
	Err   error
}

func (e *MissingPrivilegesError) add(priv, note string) {
	e.Privileges = append(e.Privileges, priv)
	if note != "" {
		if e.Notes == nil {
			e.Notes = map[string]string{}
		}
		e.Notes[priv] = note
	}
}

func (e *MissingPrivilegesError) Error() string {
	parts := make([]string, len(e.Privileges))
	for i, p := range e.Privileges {
		parts[i] = fmt.Sprintf("%q", p)
		if n := e.Notes[p]; n != "" {
			parts[i] += " (" + n + ")"
		}
	}
	return "jamf pro: the API client lacks the privileges " + strings.Join(parts, ", ") + ": add them to its API role"
}

func (e *MissingPrivilegesError) Unwrap() error { return e.Err }

// OnlyRefusedWrites reports whether every privilege named was learned from a refused write (none from a
// read TestConnection made): such a finding lapses after RefusalMemory, so it is worth testing again.
func (e *MissingPrivilegesError) OnlyRefusedWrites() bool {
	for _, p := range e.Privileges {
		if e.Notes[p] == "" {
			return false
		}
	}
	return len(e.Privileges) > 0
}

// ErrLostModeNeedsMessageOrPhone is returned (before any call) by EnableLostMode without message and phone.
var ErrLostModeNeedsMessageOrPhone = errors.New("jamf pro: enable Lost Mode needs a message or a phone number")

// IsRetryable reports whether err says the same call may be retried later (the client already retried
// up to MaxRetries times).
func IsRetryable(err error) bool {
	var a *APIError
	var h *HTMLError
	var d *DecodeError
	var t *TransportError
	var long *httpx.RetryAfterTooLongError
	switch {
	case errors.As(err, &long):
		return false // the server asked for a longer pause than a run waits
	case errors.As(err, &a):
		return a.Retryable
	case errors.As(err, &h):
		return h.Retryable
	case errors.As(err, &d):
		return d.Retryable
	case errors.As(err, &t):
		return t.Retryable
	}
	return false
}
