package chainlink

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"floe/chainlink/account"
	"floe/chainlink/bls"
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
//
// The client signs every state-changing request (the package doc, "Who may
// change what") with a key of its Keyring: the account's key for account
// actions (the owner, staker or payer the request names), the node's BLS
// key for UpdateNode and EpochSyncDone, and the admin token for
// AdvanceEpoch. A call it holds no key for fails with a *MissingKeyError
// (ErrNoKey) and sends nothing. A request refused because the service
// restarted (ErrStaleSession: a new session) is signed again for the new
// session and sent once more, which is safe: the refused one changed
// nothing.
type Client struct {
	base  string
	hc    *http.Client
	keys  *Keyring
	admin string
	// EventWait is the long-poll duration of event streams (default 20 s).
	EventWait time.Duration
	// Validity is how long a signed request stays valid (default
	// DefaultAuthValidity, at most MaxAuthValidity).
	Validity time.Duration

	mu sync.Mutex
	// session and the offset of the service's clock from ours, learnt
	// from GET /v1/auth; zero session: not fetched yet.
	session [SessionSize]byte
	hasSess bool
	offset  time.Duration
	// nodeKeys caches registered nodes' BLS public keys (they never
	// change) to pick the key that signs for a node.
	nodeKeys map[ID]bls.PublicKey
}

var _ Chain = (*Client)(nil)

// ClientOption configures a Client.
type ClientOption func(*Client)

// ClientAccountKey adds account keys the client signs with.
func ClientAccountKey(keys ...*account.Key) ClientOption {
	return func(c *Client) { c.keys.AddAccount(keys...) }
}

// ClientNodeKey adds node BLS keys the client signs node updates and
// epoch-sync reports with.
func ClientNodeKey(keys ...*bls.SecretKey) ClientOption {
	return func(c *Client) { c.keys.AddNodeKey(keys...) }
}

// ClientKeyring makes the client sign with k (shared, keys may be added
// later). It replaces keys added by earlier options.
func ClientKeyring(k *Keyring) ClientOption { return func(c *Client) { c.keys = k } }

// ClientAdminToken gives the client the ledger's admin token (AdvanceEpoch).
func ClientAdminToken(token string) ClientOption { return func(c *Client) { c.admin = token } }

// NewClient returns a client for the service at baseURL (for example
// http://127.0.0.1:7300). hc may be nil. Without options it can read and
// use the faucet; it signs with the keys options give it.
func NewClient(baseURL string, hc *http.Client, opts ...ClientOption) *Client {
	if hc == nil {
		hc = &http.Client{}
	}
	c := &Client{base: strings.TrimRight(baseURL, "/"), hc: hc, keys: NewKeyring(), EventWait: 20 * time.Second,
		nodeKeys: map[ID]bls.PublicKey{}}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Keyring is the client's keyring; keys added to it are used from then on.
func (c *Client) Keyring() *Keyring { return c.keys }

// CloseIdleConnections drops kept-alive connections, for example after the
// service restarted.
func (c *Client) CloseIdleConnections() { c.hc.CloseIdleConnections() }

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body []byte
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrBadRequest, err)
		}
		body = b
	}
	return c.send(ctx, method, path, body, in != nil, nil, out)
}

// send makes one request; auth, if set, adds its headers.
func (c *Client) send(ctx context.Context, method, path string, body []byte, hasBody bool, auth func(*http.Request), out any) error {
	var rd io.Reader
	if hasBody {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	if hasBody {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth != nil {
		auth(req)
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

// AuthInfo fetches the service's session and clock (GET /v1/auth).
func (c *Client) AuthInfo(ctx context.Context) (AuthInfo, error) {
	var ai AuthInfo
	return ai, c.do(ctx, "GET", "/v1/auth", nil, &ai)
}

// sessionInfo returns the service's session and the clock offset,
// fetching them when stale (or not known yet).
func (c *Client) sessionInfo(ctx context.Context, refresh bool) ([SessionSize]byte, time.Duration, error) {
	c.mu.Lock()
	if c.hasSess && !refresh {
		s, o := c.session, c.offset
		c.mu.Unlock()
		return s, o, nil
	}
	c.mu.Unlock()
	t0 := time.Now()
	ai, err := c.AuthInfo(ctx)
	if err != nil {
		return [SessionSize]byte{}, 0, err
	}
	t1 := time.Now()
	var s [SessionSize]byte
	if !isLowerHex(ai.Session, 2*SessionSize) {
		return s, 0, fmt.Errorf("%w: bad session %q from ledger", ErrUnavailable, ai.Session)
	}
	hex.Decode(s[:], []byte(ai.Session))
	mid := t0.Add(t1.Sub(t0) / 2)
	off := time.UnixMilli(ai.NowMs).Sub(mid)
	c.mu.Lock()
	c.session, c.offset, c.hasSess = s, off, true
	c.mu.Unlock()
	return s, off, nil
}

// nodePublicKey returns a registered node's BLS key.
func (c *Client) nodePublicKey(ctx context.Context, id ID) (bls.PublicKey, error) {
	c.mu.Lock()
	pk, ok := c.nodeKeys[id]
	c.mu.Unlock()
	if ok {
		return pk, nil
	}
	n, err := c.Node(ctx, id)
	if err != nil {
		return pk, err
	}
	c.mu.Lock()
	c.nodeKeys[id] = n.PublicKey
	c.mu.Unlock()
	return n.PublicKey, nil
}

// signed sends a state-changing request signed by signer's key of scheme.
func (c *Client) signed(ctx context.Context, op string, scheme AuthScheme, signer ID, method, path string, in, out any) error {
	var sign func(msg []byte) []byte
	var pub []byte
	switch scheme {
	case SchemeAccount:
		k, ok := c.keys.Account(signer)
		if !ok {
			return &MissingKeyError{Op: op, Scheme: scheme, Signer: signer}
		}
		sign, pub = k.Sign, k.PublicKey()
	case SchemeNode:
		pk, err := c.nodePublicKey(ctx, signer)
		if err != nil {
			return err
		}
		k, ok := c.keys.NodeKey(pk)
		if !ok {
			return &MissingKeyError{Op: op, Scheme: scheme, Signer: signer}
		}
		sign = func(msg []byte) []byte { s := k.Sign(msg); return s[:] }
	}
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	validity := c.Validity
	if validity <= 0 || validity > MaxAuthValidity {
		validity = DefaultAuthValidity
	}
	for attempt := 0; ; attempt++ {
		session, offset, err := c.sessionInfo(ctx, attempt > 0)
		if err != nil {
			return err
		}
		e := AuthEnvelope{Scheme: scheme, Signer: signer, PublicKey: pub, Session: session,
			ExpiresMs: time.Now().Add(offset + validity).UnixMilli()}
		if _, err := rand.Read(e.Nonce[:]); err != nil {
			return err
		}
		e.Signature = sign(AuthMessage(&e, method, path, body))
		err = c.send(ctx, method, path, body, true, func(r *http.Request) { r.Header.Set(AuthHeader, e.Header()) }, out)
		if attempt == 0 && errors.Is(err, ErrStaleSession) {
			continue
		}
		return err
	}
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
	return n, c.signed(ctx, "RegisterNode", SchemeAccount, req.Owner, "POST", "/v1/nodes", req, &n)
}

// UpdateNode implements Chain.
func (c *Client) UpdateNode(ctx context.Context, req UpdateNodeRequest) (Node, error) {
	var n Node
	return n, c.signed(ctx, "UpdateNode", SchemeNode, req.NodeID, "POST", "/v1/nodes/"+req.NodeID.String()+"/update", req, &n)
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
	return n, c.signed(ctx, "Stake", SchemeAccount, staker, "POST", "/v1/stake", stakeRequest{staker, node, amount}, &n)
}

// Unstake implements Chain.
func (c *Client) Unstake(ctx context.Context, staker, node ID, amount uint64) (Node, error) {
	var n Node
	return n, c.signed(ctx, "Unstake", SchemeAccount, staker, "POST", "/v1/unstake", stakeRequest{staker, node, amount}, &n)
}

// AdvanceEpoch implements Chain.
func (c *Client) AdvanceEpoch(ctx context.Context) (EpochState, error) {
	var st EpochState
	if c.admin == "" {
		return st, &MissingKeyError{Op: "AdvanceEpoch", Admin: true}
	}
	body := []byte("{}")
	return st, c.send(ctx, "POST", "/v1/epoch/advance", body, true,
		func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+c.admin) }, &st)
}

// EpochSyncDone implements Chain.
func (c *Client) EpochSyncDone(ctx context.Context, node ID, epoch uint32) error {
	return c.signed(ctx, "EpochSyncDone", SchemeNode, node, "POST", "/v1/epoch/sync-done", syncDoneRequest{node, epoch}, nil)
}

// ReserveSpace implements Chain.
func (c *Client) ReserveSpace(ctx context.Context, owner ID, size uint64, epochsAhead uint32) (Storage, uint64, error) {
	var r reserveResponse
	err := c.signed(ctx, "ReserveSpace", SchemeAccount, owner, "POST", "/v1/storage", reserveRequest{owner, size, epochsAhead}, &r)
	return r.Storage, r.Cost, err
}

// RegisterBlob implements Chain.
func (c *Client) RegisterBlob(ctx context.Context, req RegisterBlobRequest) (RegisterBlobResult, error) {
	var r RegisterBlobResult
	return r, c.signed(ctx, "RegisterBlob", SchemeAccount, req.payer(), "POST", "/v1/blobs", req, &r)
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
	return st, c.signed(ctx, "DeleteBlob", SchemeAccount, owner, "POST", "/v1/blobs/"+blob.String()+"/delete", deleteRequest{owner}, &st)
}

// ExtendBlob implements Chain.
func (c *Client) ExtendBlob(ctx context.Context, payer, blob ID, epochs uint32) (Blob, uint64, error) {
	var r extendResponse
	err := c.signed(ctx, "ExtendBlob", SchemeAccount, payer, "POST", "/v1/blobs/"+blob.String()+"/extend", extendRequest{payer, epochs}, &r)
	return r.Blob, r.Cost, err
}

// Blob implements Chain.
func (c *Client) Blob(ctx context.Context, blob ID) (Blob, error) {
	var b Blob
	return b, c.do(ctx, "GET", "/v1/blobs/"+blob.String(), nil, &b)
}

// OwnedBlobs implements Chain.
func (c *Client) OwnedBlobs(ctx context.Context, owner ID) ([]Blob, error) {
	var bs []Blob
	return bs, c.do(ctx, "GET", "/v1/accounts/"+owner.String()+"/blobs", nil, &bs)
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
