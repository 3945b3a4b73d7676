package school

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors, matched with errors.Is against the typed errors below.
var (
	// ErrNotFound matches a 404 answer (DeviceNotFound, UserNotFound, ...).
	ErrNotFound = errors.New("jamfschool: not found")
	// ErrUnauthorized matches a 401 answer: the network id or API key is wrong.
	ErrUnauthorized = errors.New("jamfschool: unauthorized (check network id and API key)")
	// ErrPermissionDenied matches a 403, or the documented 405 "Requested method (...) not allowed
	// using this API key": the key exists but lacks the permission for that method and path.
	ErrPermissionDenied = errors.New("jamfschool: API key lacks permission")
	// ErrUserNotFound is returned by FindUser and ResolveUser when no user has that username or email.
	ErrUserNotFound = errors.New("jamfschool: user not found")
	// ErrAmbiguousUser is returned when a username or email matches more than one user.
	ErrAmbiguousUser = errors.New("jamfschool: more than one user matches")
	// ErrUnsupportedByTarget matches an *UnsupportedError: Jamf School's API cannot do the action.
	ErrUnsupportedByTarget = errors.New("unsupported by target")
)

// ErrorShape says which of Jamf School's error bodies an APIError was decoded from.
type ErrorShape string

const (
	// ShapeFlat is {"code":404,"message":"DeviceNotFound"}.
	ShapeFlat ErrorShape = "flat"
	// ShapeWrapped is {"error":{"code":405,"message":"Requested method (GET) not allowed using this API key"}}.
	ShapeWrapped ErrorShape = "wrapped"
	// ShapePlainText is a body that is neither JSON nor HTML (for example "Unauthorized").
	ShapePlainText ErrorShape = "plain"
)

// APIError is an error answer from Jamf School: a non-2xx status, or a 2xx whose JSON "code" says
// otherwise. Op is the client method, Method and Path the request (never the credentials).
type APIError struct {
	Op      string
	Method  string
	Path    string
	Status  int // HTTP status
	Code    int // the body's "code" (0 when the body had none)
	Message string
	Shape   ErrorShape
}

func (e *APIError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = "(no message)"
	}
	code := ""
	if e.Code != 0 && e.Code != e.Status {
		code = fmt.Sprintf(" (code %d)", e.Code)
	}
	return fmt.Sprintf("jamfschool: %s: %s %s: HTTP %d%s: %s", e.Op, e.Method, e.Path, e.Status, code, msg)
}

// Is lets errors.Is match the sentinel errors by status.
func (e *APIError) Is(target error) bool {
	status := e.Status
	if e.Code >= 400 {
		status = e.Code
	}
	switch target {
	case ErrNotFound:
		return status == 404
	case ErrUnauthorized:
		return status == 401
	case ErrPermissionDenied:
		return status == 403 || (status == 405 && strings.Contains(strings.ToLower(e.Message), "api key"))
	}
	return false
}

// Temporary reports whether the answer is worth retrying (429 or a server-side 5xx).
func (e *APIError) Temporary() bool { return retryableStatus(e.Status) }

// HTMLError is an HTML page where JSON was expected: a gateway error, a maintenance or login page.
type HTMLError struct {
	Op      string
	Method  string
	Path    string
	Status  int
	Snippet string // start of the page, one line
}

func (e *HTMLError) Error() string {
	return fmt.Sprintf("jamfschool: %s: %s %s: HTTP %d: got an HTML page instead of JSON: %s", e.Op, e.Method, e.Path, e.Status, e.Snippet)
}

// DecodeError is a 2xx answer whose body is not the JSON expected (truncated, malformed, wrong shape).
type DecodeError struct {
	Op      string
	Method  string
	Path    string
	Status  int
	Snippet string
	Err     error
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("jamfschool: %s: %s %s: HTTP %d: cannot decode response: %v (body starts: %q)", e.Op, e.Method, e.Path, e.Status, e.Err, e.Snippet)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// TransportError is a request that got no HTTP answer (connection refused or reset, timeout, TLS).
type TransportError struct {
	Op      string
	Method  string
	Path    string
	Timeout bool
	Err     error
}

func (e *TransportError) Error() string {
	kind := "request failed"
	if e.Timeout {
		kind = "request timed out"
	}
	return fmt.Sprintf("jamfschool: %s: %s %s: %s: %v", e.Op, e.Method, e.Path, kind, e.Err)
}

func (e *TransportError) Unwrap() error { return e.Err }

// Field is a device field a sync policy can manage, named as in the policy's spec.fields.
type Field string

// The fields a policy can manage.
const (
	FieldName     Field = "name"
	FieldUser     Field = "user"
	FieldLocation Field = "location"
	FieldLostMode Field = "lostMode"
)

// TargetName is how this target names itself in errors and reports.
const TargetName = "Jamf School"

// unsupportedReasons: Jamf's Go SDK (jamfschool-go-sdk), Jamf's Terraform provider
// (terraform-provider-jamfschool) and the public Deno client (deno_jamf_school) show no endpoint for
// either; docs/jamf-school.md lists what they do offer.
var unsupportedReasons = map[Field]string{
	FieldName:     "Jamf School's API has no endpoint to rename a device",
	FieldLostMode: "Jamf School's API has no endpoint to enable Lost Mode",
}

// UnsupportedError says that Jamf School's API cannot perform an action; errors.Is(err,
// ErrUnsupportedByTarget) is true. The engine reports it (UnsupportedByTarget), it does not fake it.
type UnsupportedError struct {
	Field  Field
	Reason string
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("%s: %s cannot be managed on %s: %s", ErrUnsupportedByTarget, e.Field, TargetName, e.Reason)
}

// Is makes errors.Is(err, ErrUnsupportedByTarget) true.
func (e *UnsupportedError) Is(target error) bool { return target == ErrUnsupportedByTarget }

// Supports reports whether this target can manage field: user and location yes, name and lostMode
// no (Jamf School's API has no endpoint for them). Unknown fields are not supported.
func Supports(f Field) bool {
	switch f {
	case FieldUser, FieldLocation:
		return true
	}
	return false
}

// UnsupportedReason is the human-readable reason Supports(f) is false ("" when supported).
func UnsupportedReason(f Field) string {
	if Supports(f) {
		return ""
	}
	if r, ok := unsupportedReasons[f]; ok {
		return r
	}
	return fmt.Sprintf("unknown field %q", string(f))
}

// Unsupported returns the *UnsupportedError for f, or nil when f is supported.
func Unsupported(f Field) error {
	if Supports(f) {
		return nil
	}
	return &UnsupportedError{Field: f, Reason: UnsupportedReason(f)}
}

// UnsupportedFields returns one *UnsupportedError per field the target cannot manage, in the order
// given: what a policy's Ready condition should warn about when its spec.fields ask for them.
func UnsupportedFields(fields ...Field) []*UnsupportedError {
	var out []*UnsupportedError
	for _, f := range fields {
		if !Supports(f) {
			out = append(out, &UnsupportedError{Field: f, Reason: UnsupportedReason(f)})
		}
	}
	return out
}
