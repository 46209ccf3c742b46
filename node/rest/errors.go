package rest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"floe/p2p"
)

// Error domains: the storage node's (every reason of this API), and the
// global one Walrus uses for internal errors and the service being
// unavailable.
const (
	ErrorDomain       = "storage.walrus.space"
	GlobalErrorDomain = "global"
)

// Status strings of F7.7 (AIP-193) and the HTTP codes they travel with.
const (
	StatusInvalidArgument    = "INVALID_ARGUMENT"    // 400
	StatusFailedPrecondition = "FAILED_PRECONDITION" // 400
	StatusNotFound           = "NOT_FOUND"           // 404
	StatusPermissionDenied   = "PERMISSION_DENIED"   // 403
	StatusSizeExceeded       = "SIZE_EXCEEDED"       // 403 (413 on a request body, as the gateway)
	StatusUnauthenticated    = "UNAUTHENTICATED"     // 401
	StatusResourceExhausted  = "RESOURCE_EXHAUSTED"  // 429 (507 when out of storage space)
	StatusUnavailable        = "UNAVAILABLE"         // 503
	StatusDeadlineExceeded   = "DEADLINE_EXCEEDED"   // 504
	StatusInternal           = "INTERNAL"            // 500
	StatusMethodNotAllowed   = "METHOD_NOT_ALLOWED"  // 405 (no Walrus status; the router's)
)

// ErrorResponse is the JSON error object of F7.7.
type ErrorResponse struct {
	Error ErrorBody `json:"error"`
}

// ErrorBody is the inner object of an ErrorResponse.
type ErrorBody struct {
	Code    int           `json:"code"`
	Status  string        `json:"status"`
	Message string        `json:"message"`
	Details []ErrorDetail `json:"details"`
}

// ErrorDetail is an ErrorInfo entry: the machine-readable reason.
type ErrorDetail struct {
	Type     string         `json:"@type"`
	Reason   string         `json:"reason"`
	Domain   string         `json:"domain"`
	Metadata map[string]any `json:"metadata"`
}

// apiError is what a route answers with when it fails.
type apiError struct {
	code    int
	status  string
	reason  string
	domain  string
	message string
	// offence is the points the answer costs the caller (invalid
	// requests, data failing verification).
	offence float64
	cause   error
}

func (e *apiError) Error() string {
	if e.cause != nil {
		return fmt.Sprintf("%d %s %s: %s: %v", e.code, e.status, e.reason, e.message, e.cause)
	}
	return fmt.Sprintf("%d %s %s: %s", e.code, e.status, e.reason, e.message)
}

func (e *apiError) Unwrap() error { return e.cause }

func newError(code int, status, reason, format string, args ...any) *apiError {
	return &apiError{code: code, status: status, reason: reason, domain: ErrorDomain, message: fmt.Sprintf(format, args...)}
}

// invalid is a malformed request: 400 INVALID_ARGUMENT, one offence point.
func invalid(reason, format string, args ...any) *apiError {
	e := newError(http.StatusBadRequest, StatusInvalidArgument, reason, format, args...)
	e.offence = offenceInvalid
	return e
}

func precondition(reason, format string, args ...any) *apiError {
	return newError(http.StatusBadRequest, StatusFailedPrecondition, reason, format, args...)
}

func notFound(reason, format string, args ...any) *apiError {
	return newError(http.StatusNotFound, StatusNotFound, reason, format, args...)
}

func tooLarge(format string, args ...any) *apiError {
	e := newError(http.StatusRequestEntityTooLarge, StatusSizeExceeded, "BODY_TOO_LARGE", format, args...)
	e.offence = offenceInvalid
	return e
}

func exhausted(reason, format string, args ...any) *apiError {
	return newError(http.StatusTooManyRequests, StatusResourceExhausted, reason, format, args...)
}

func unavailable(format string, args ...any) *apiError {
	e := newError(http.StatusServiceUnavailable, StatusUnavailable, "UNAVAILABLE", format, args...)
	e.domain = GlobalErrorDomain
	return e
}

func internal(cause error) *apiError {
	return &apiError{code: http.StatusInternalServerError, status: StatusInternal, reason: "INTERNAL_ERROR",
		domain: GlobalErrorDomain, message: "an internal error has occurred, please report it", cause: cause}
}

// reasons are a route's reasons for the p2p sentinels.
type reasons struct {
	notFound string // p2p.ErrNotFound
	invalid  string // p2p.ErrInvalidRequest
	badData  string // p2p.ErrFailedVerification
}

// fromBackend maps a Backend (or p2p.Handler) error to its answer.
func fromBackend(err error, rs reasons) *apiError {
	var ae *apiError
	msg := err.Error()
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, ErrNotRegistered):
		return wrap(precondition("NOT_REGISTERED", "the blob has not been registered or has already expired"), err)
	case errors.Is(err, ErrMissingSlivers):
		return wrap(precondition("MISSING_SLIVERS", "the required slivers are not all stored"), err)
	case errors.Is(err, ErrMetadataMissing):
		return wrap(precondition("METADATA_NOT_FOUND", "blob metadata is required but missing"), err)
	case errors.Is(err, ErrBlobInvalid):
		return wrap(precondition("INVALID_BLOB", "the blob for this metadata is invalid"), err)
	case errors.Is(err, ErrShardNotAssigned):
		return wrap(precondition("SHARD_NOT_ASSIGNED", "%s", msg), err)
	case errors.Is(err, ErrIndexMismatch):
		return wrap(invalid("SLIVER_INDEX_MISMATCH", "%s", msg), err)
	case errors.Is(err, ErrInvalidProof):
		return wrap(invalid("INVALID_PROOF", "%s", msg), err)
	case errors.Is(err, errOutOfRange):
		return wrap(invalid("INDEX_OUT_OF_RANGE", "%s", msg), err)
	case errors.Is(err, p2p.ErrFailedVerification):
		e := invalid(rs.badData, "%s", msg)
		e.offence = offenceBadData
		return wrap(e, err)
	case errors.Is(err, p2p.ErrNotFound):
		return wrap(notFound(rs.notFound, "%s", msg), err)
	case errors.Is(err, p2p.ErrInvalidRequest):
		// An answer of the handler, not a malformed request: no offence
		// (a shard not held here may be an honest race).
		e := newError(http.StatusBadRequest, StatusInvalidArgument, rs.invalid, "%s", msg)
		return wrap(e, err)
	case errors.Is(err, p2p.ErrRateLimited):
		return wrap(exhausted("RATE_LIMITED", "%s", msg), err)
	case errors.Is(err, p2p.ErrNoSpace):
		return wrap(newError(http.StatusInsufficientStorage, StatusResourceExhausted, "NO_SPACE",
			"this node is out of storage space; retrying it will not help until its operator frees or adds space"), err)
	case errors.Is(err, context.DeadlineExceeded):
		return wrap(newError(http.StatusGatewayTimeout, StatusDeadlineExceeded, "TIMEOUT",
			"the request did not complete within the node's time limit"), err)
	}
	return internal(err)
}

func wrap(e *apiError, cause error) *apiError {
	e.cause = cause
	return e
}

// writeError answers e as JSON.
func writeError(w http.ResponseWriter, e *apiError) int {
	body := ErrorResponse{Error: ErrorBody{
		Code: e.code, Status: e.status, Message: e.message,
		Details: []ErrorDetail{{Type: "ErrorInfo", Reason: e.reason, Domain: e.domain, Metadata: map[string]any{}}},
	}}
	b, _ := json.Marshal(body)
	h := w.Header()
	h.Del("Content-Length")
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(e.code)
	n, _ := w.Write(b)
	return n
}

// APIError is an error answer as a client sees it. It unwraps to the p2p
// sentinel of its class, so callers of both transports decide alike:
// 404 → ErrNotFound, 429 → ErrRateLimited, 507 → ErrNoSpace, other 4xx →
// ErrInvalidRequest, 5xx → ErrInternal.
type APIError struct {
	Code    int
	Status  string
	Reason  string
	Domain  string
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("rest: %d %s (%s): %s", e.Code, e.Status, e.Reason, e.Message)
}

func (e *APIError) Unwrap() error {
	switch {
	case e.Code == http.StatusNotFound:
		return p2p.ErrNotFound
	case e.Code == http.StatusTooManyRequests || e.Code == http.StatusServiceUnavailable:
		return p2p.ErrRateLimited
	case e.Code == http.StatusInsufficientStorage:
		return p2p.ErrNoSpace
	case e.Code == http.StatusGatewayTimeout:
		return p2p.ErrTimeout
	case e.Code >= 400 && e.Code < 500:
		return p2p.ErrInvalidRequest
	}
	return p2p.ErrInternal
}

// parseAPIError reads an error answer.
func parseAPIError(code int, body []byte) *APIError {
	e := &APIError{Code: code}
	var r ErrorResponse
	if json.Unmarshal(body, &r) == nil && r.Error.Status != "" {
		e.Status, e.Message = r.Error.Status, r.Error.Message
		if len(r.Error.Details) > 0 {
			e.Reason, e.Domain = r.Error.Details[0].Reason, r.Error.Details[0].Domain
		}
		return e
	}
	e.Message = string(body)
	if len(e.Message) > 256 {
		e.Message = e.Message[:256]
	}
	return e
}
