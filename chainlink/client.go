package chainlink

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"floe/codec"
)

// maxResponseBody bounds what the client reads from the service.
const maxResponseBody = 64 << 20

// Client is a Chain backed by a `floe ledger serve` service.
//
// A request that fails in transport returns an error wrapping
// ErrUnavailable. Reads are safe to retry; for a mutation the client cannot
// tell whether the ledger applied it, so callers re-read state (Blob,
// BlobStatus, Account) before retrying.
type Client struct {
	base string
	hc   *http.Client
	// EventWait is the long-poll duration of event streams (default 20 s).
	EventWait time.Duration
}

var _ Chain = (*Client)(nil)

// NewClient returns a client for the service at baseURL (for example
// http://127.0.0.1:7300). hc may be nil.
func NewClient(baseURL string, hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{}
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), hc: hc, EventWait: 20 * time.Second}
}

// CloseIdleConnections drops kept-alive connections, for example after the
// service restarted.
func (c *Client) CloseIdleConnections() { c.hc.CloseIdleConnections() }

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrBadRequest, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%w: reading response: %v", ErrUnavailable, err)
	}
	if resp.StatusCode != http.StatusOK {
		return decodeError(resp.StatusCode, data)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%w: bad response from ledger: %v", ErrUnavailable, err)
	}
	return nil
}

// decodeError maps a service error back to its sentinel.
func decodeError(status int, data []byte) error {
	var eb errorBody
	if err := json.Unmarshal(data, &eb); err != nil || eb.Code == "" {
		msg := string(data)
		if len(msg) > 200 {
			msg = msg[:200]
		}
		if status >= 500 {
			return fmt.Errorf("%w: HTTP %d: %s", ErrUnavailable, status, msg)
		}
		return fmt.Errorf("%w: HTTP %d: %s", ErrBadRequest, status, msg)
	}
	for _, c := range errorCodes {
		if c.code == eb.Code {
			return &remoteError{sentinel: c.err, msg: eb.Error}
		}
	}
	return fmt.Errorf("chainlink: ledger error %s (HTTP %d): %s", eb.Code, status, eb.Error)
}

// remoteError carries the server's message and unwraps to the sentinel.
type remoteError struct {
	sentinel error
	msg      string
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.sentinel }

// EpochState implements Chain.
func (c *Client) EpochState(ctx context.Context) (EpochState, error) {
	var st EpochState
	return st, c.do(ctx, "GET", "/v1/epoch", nil, &st)
}

// Committee implements Chain.
func (c *Client) Committee(ctx context.Context, epoch uint32) (*Committee, error) {
	var cm Committee
	if err := c.do(ctx, "GET", "/v1/committees/"+strconv.FormatUint(uint64(epoch), 10), nil, &cm); err != nil {
		return nil, err
	}
	return &cm, nil
}

// Faucet implements Chain.
func (c *Client) Faucet(ctx context.Context, addr ID, amount uint64) (Account, error) {
	var a Account
	return a, c.do(ctx, "POST", "/v1/faucet", faucetRequest{addr, amount}, &a)
}

// Account implements Chain.
func (c *Client) Account(ctx context.Context, addr ID) (Account, error) {
	var a Account
	return a, c.do(ctx, "GET", "/v1/accounts/"+addr.String(), nil, &a)
}

// RegisterNode implements Chain.
func (c *Client) RegisterNode(ctx context.Context, req RegisterNodeRequest) (Node, error) {
	var n Node
	return n, c.do(ctx, "POST", "/v1/nodes", req, &n)
}

// UpdateNode implements Chain.
func (c *Client) UpdateNode(ctx context.Context, req UpdateNodeRequest) (Node, error) {
	var n Node
	return n, c.do(ctx, "POST", "/v1/nodes/"+req.NodeID.String()+"/update", req, &n)
}

// Node implements Chain.
func (c *Client) Node(ctx context.Context, id ID) (Node, error) {
	var n Node
	return n, c.do(ctx, "GET", "/v1/nodes/"+id.String(), nil, &n)
}

// Nodes implements Chain.
func (c *Client) Nodes(ctx context.Context) ([]Node, error) {
	var ns []Node
	return ns, c.do(ctx, "GET", "/v1/nodes", nil, &ns)
}

// Stake implements Chain.
func (c *Client) Stake(ctx context.Context, staker, node ID, amount uint64) (Node, error) {
	var n Node
	return n, c.do(ctx, "POST", "/v1/stake", stakeRequest{staker, node, amount}, &n)
}

// Unstake implements Chain.
func (c *Client) Unstake(ctx context.Context, staker, node ID, amount uint64) (Node, error) {
	var n Node
	return n, c.do(ctx, "POST", "/v1/unstake", stakeRequest{staker, node, amount}, &n)
}

// AdvanceEpoch implements Chain.
func (c *Client) AdvanceEpoch(ctx context.Context) (EpochState, error) {
	var st EpochState
	return st, c.do(ctx, "POST", "/v1/epoch/advance", struct{}{}, &st)
}

// EpochSyncDone implements Chain.
func (c *Client) EpochSyncDone(ctx context.Context, node ID, epoch uint32) error {
	return c.do(ctx, "POST", "/v1/epoch/sync-done", syncDoneRequest{node, epoch}, nil)
}

// ReserveSpace implements Chain.
func (c *Client) ReserveSpace(ctx context.Context, owner ID, size uint64, epochsAhead uint32) (Storage, uint64, error) {
	var r reserveResponse
	err := c.do(ctx, "POST", "/v1/storage", reserveRequest{owner, size, epochsAhead}, &r)
	return r.Storage, r.Cost, err
}

// RegisterBlob implements Chain.
func (c *Client) RegisterBlob(ctx context.Context, req RegisterBlobRequest) (RegisterBlobResult, error) {
	var r RegisterBlobResult
	return r, c.do(ctx, "POST", "/v1/blobs", req, &r)
}

// CertifyBlob implements Chain.
func (c *Client) CertifyBlob(ctx context.Context, blob ID, cert Certificate) (Blob, error) {
	var b Blob
	return b, c.do(ctx, "POST", "/v1/blobs/"+blob.String()+"/certify", cert, &b)
}

// InvalidateBlobID implements Chain.
func (c *Client) InvalidateBlobID(ctx context.Context, cert Certificate) (codec.BlobID, error) {
	var r invalidateResponse
	err := c.do(ctx, "POST", "/v1/invalidate", cert, &r)
	return r.BlobID, err
}

// DeleteBlob implements Chain.
func (c *Client) DeleteBlob(ctx context.Context, owner, blob ID) (Storage, error) {
	var st Storage
	return st, c.do(ctx, "POST", "/v1/blobs/"+blob.String()+"/delete", deleteRequest{owner}, &st)
}

// ExtendBlob implements Chain.
func (c *Client) ExtendBlob(ctx context.Context, payer, blob ID, epochs uint32) (Blob, uint64, error) {
	var r extendResponse
	err := c.do(ctx, "POST", "/v1/blobs/"+blob.String()+"/extend", extendRequest{payer, epochs}, &r)
	return r.Blob, r.Cost, err
}

// Blob implements Chain.
func (c *Client) Blob(ctx context.Context, blob ID) (Blob, error) {
	var b Blob
	return b, c.do(ctx, "GET", "/v1/blobs/"+blob.String(), nil, &b)
}

// BlobStatus implements Chain.
func (c *Client) BlobStatus(ctx context.Context, id codec.BlobID) (BlobStatus, error) {
	var st BlobStatus
	return st, c.do(ctx, "GET", "/v1/blob-status/"+url.PathEscape(id.String()), nil, &st)
}

// Events implements Chain. The stream long-polls the service; if the
// service goes away Next returns an error wrapping ErrUnavailable and the
// caller resumes with Events(ctx, lastCursor).
func (c *Client) Events(ctx context.Context, after uint64) (EventStream, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	wait := c.EventWait
	if wait <= 0 || wait > MaxEventWait {
		wait = 20 * time.Second
	}
	return newStream(after, func(ctx context.Context, after uint64) ([]Event, error) {
		var r eventsResponse
		q := url.Values{"after": {strconv.FormatUint(after, 10)}, "wait": {wait.String()}}
		if err := c.do(ctx, "GET", "/v1/events?"+q.Encode(), nil, &r); err != nil {
			return nil, err
		}
		return r.Events, nil
	}), nil
}
