package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"floe/chainlink"
	"floe/node"
)

// ErrorDomain is the domain of every error the gateway answers (the Walrus
// daemon's domain, so clients that match reason and domain work unchanged).
const ErrorDomain = "daemon.walrus.space"

// Status strings of F7.7 and the HTTP codes they travel with.
const (
	StatusInvalidArgument   = "INVALID_ARGUMENT"      // 400
	StatusNotFound          = "NOT_FOUND"             // 404
	StatusSizeExceeded      = "SIZE_EXCEEDED"         // 403 (413 on a PUT body)
	StatusUnauthenticated   = "UNAUTHENTICATED"       // 401
	StatusRangeNotSatisfied = "RANGE_NOT_SATISFIABLE" // 416
	StatusResourceExhausted = "RESOURCE_EXHAUSTED"    // 429
	StatusUnavailable       = "UNAVAILABLE"           // 503
	StatusDeadlineExceeded  = "DEADLINE_EXCEEDED"     // 504
	StatusInternal          = "INTERNAL"              // 500
)

// ErrorResponse is the JSON error object of F7.7 (AIP-193).
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

// apiError is an error the handlers answer with: HTTP code, F7.7 status,
// reason and message.
type apiError struct {
	code     int
	status   string
	reason   string
	message  string
	metadata map[string]any
	cause    error
}

func (e *apiError) Error() string {
	if e.cause != nil {
		return fmt.Sprintf("%s (%s): %v", e.message, e.reason, e.cause)
	}
	return fmt.Sprintf("%s (%s)", e.message, e.reason)
}

func (e *apiError) Unwrap() error { return e.cause }

func badRequest(reason, format string, args ...any) *apiError {
	return &apiError{code: http.StatusBadRequest, status: StatusInvalidArgument, reason: reason, message: fmt.Sprintf(format, args...)}
}

func notFound(reason, message string) *apiError {
	return &apiError{code: http.StatusNotFound, status: StatusNotFound, reason: reason, message: message}
}

func rangeNotSatisfiable(format string, args ...any) *apiError {
	return &apiError{code: http.StatusRequestedRangeNotSatisfiable, status: StatusRangeNotSatisfied,
		reason: "INVALID_BYTE_RANGE", message: fmt.Sprintf(format, args...)}
}

// writeError answers e as a JSON error object.
func writeError(w http.ResponseWriter, e *apiError) {
	md := e.metadata
	if md == nil {
		md = map[string]any{}
	}
	body := ErrorResponse{Error: ErrorBody{
		Code: e.code, Status: e.status, Message: e.message,
		Details: []ErrorDetail{{Type: "ErrorInfo", Reason: e.reason, Domain: ErrorDomain, Metadata: md}},
	}}
	h := w.Header()
	// Headers set for a successful answer do not describe an error.
	for _, k := range []string{"Etag", "Cache-Control", "Accept-Ranges", "Content-Length"} {
		h.Del(k)
	}
	if e.code != http.StatusRequestedRangeNotSatisfiable {
		h.Del("Content-Range") // a 416 keeps "bytes */size" (RFC 9110 §15.5.17)
	}
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(e.code)
	_ = json.NewEncoder(w).Encode(body)
}

// readError maps an error of a read (or a chain lookup made for one) to
// the answer of F11.1.
func readError(err error) *apiError {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, node.ErrBlobNotFound), errors.Is(err, chainlink.ErrNotFound):
		return &apiError{code: http.StatusNotFound, status: StatusNotFound, reason: "BLOB_NOT_FOUND",
			message: "the requested blob ID does not exist on the network, ensure that it was entered correctly", cause: err}
	case errors.Is(err, node.ErrBlobInvalid), errors.Is(err, node.ErrInconsistent):
		return &apiError{code: http.StatusNotFound, status: StatusNotFound, reason: "BLOB_INVALID",
			message: "the blob ID was proven inconsistently encoded: no data can be returned for it", cause: err}
	case errors.Is(err, node.ErrTooLarge):
		return &apiError{code: http.StatusForbidden, status: StatusSizeExceeded, reason: "BLOB_TOO_LARGE",
			message: "the blob size exceeds the maximum allowed size", cause: err}
	}
	return commonError(err, "BLOB_UNAVAILABLE")
}

// storeError maps an error of a store to its answer.
func storeError(err error) *apiError {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, node.ErrTooLarge), errors.Is(err, chainlink.ErrBlobTooLarge):
		return &apiError{code: http.StatusRequestEntityTooLarge, status: StatusSizeExceeded, reason: "BLOB_TOO_LARGE",
			message: "the blob exceeds the maximum size of the network", cause: err}
	case errors.Is(err, chainlink.ErrTooFarAhead):
		return &apiError{code: http.StatusBadRequest, status: StatusInvalidArgument, reason: "INVALID_EPOCHS",
			message: "the storage period exceeds the maximum number of epochs ahead", cause: err}
	case errors.Is(err, chainlink.ErrInsufficientFunds):
		return &apiError{code: http.StatusServiceUnavailable, status: StatusUnavailable, reason: "INSUFFICIENT_FUNDS",
			message: "the publisher's account cannot pay for the storage", cause: err}
	case errors.Is(err, node.ErrNoSpace):
		return &apiError{code: http.StatusInsufficientStorage, status: StatusResourceExhausted, reason: "NO_SPACE",
			message: "storage nodes holding too many shards have no room for the blob; retrying will not help until they free space", cause: err}
	case errors.Is(err, node.ErrUnavailable):
		return &apiError{code: http.StatusGatewayTimeout, status: StatusDeadlineExceeded, reason: "INSUFFICIENT_CONFIRMATIONS",
			message: "the service could not gather enough storage confirmations, please try again", cause: err}
	case errors.Is(err, node.ErrBlobInvalid):
		return &apiError{code: http.StatusInternalServerError, status: StatusInternal, reason: "BLOB_MARKED_INVALID",
			message: "the blob was marked invalid, which is likely a system error", cause: err}
	}
	return commonError(err, "STORE_FAILED")
}

// commonError maps what reads and stores share: the swarm or chain being
// unreachable, deadlines, and everything else as internal.
func commonError(err error, unavailableReason string) *apiError {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return &apiError{code: http.StatusGatewayTimeout, status: StatusDeadlineExceeded, reason: "TIMEOUT",
			message: "the request did not complete within the gateway's time limit", cause: err}
	case errors.Is(err, node.ErrUnavailable):
		return &apiError{code: http.StatusServiceUnavailable, status: StatusUnavailable, reason: unavailableReason,
			message: "not enough storage nodes answered, please try again", cause: err}
	case errors.Is(err, node.ErrNoCommittee), errors.Is(err, chainlink.ErrNoCommittee):
		return &apiError{code: http.StatusServiceUnavailable, status: StatusUnavailable, reason: "NO_COMMITTEE",
			message: "the current epoch has no committee of storage nodes", cause: err}
	case errors.Is(err, node.ErrChain), errors.Is(err, chainlink.ErrUnavailable), errors.Is(err, chainlink.ErrClosed):
		return &apiError{code: http.StatusServiceUnavailable, status: StatusUnavailable, reason: "CHAIN_UNAVAILABLE",
			message: "the chain could not be reached, please try again", cause: err}
	}
	return &apiError{code: http.StatusInternalServerError, status: StatusInternal, reason: "INTERNAL",
		message: "internal error: " + err.Error(), cause: err}
}
