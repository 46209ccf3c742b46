package rest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"floe/chainlink"
	"floe/codec"
	"floe/p2p"
)

// Client talks to one storage node's REST API over HTTPS, accepting only
// the node's pinned network key (as Walrus's storage-node client does), on
// HTTP/2 when the server offers it. Errors are *APIError (unwrapping to
// the p2p sentinel of their class) or transport errors.
type Client struct {
	base   string
	hc     *http.Client
	limits p2p.Limits
}

// NewClient returns a client of the node at baseURL (https://host:port)
// whose network key is pub.
func NewClient(baseURL string, pub *ecdsa.PublicKey, p codec.Params) *Client {
	tr := &http.Transport{
		TLSClientConfig:     PinnedTLSConfig(pub),
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     90 * time.Second,
		HTTP2: &http.HTTP2Config{
			MaxReceiveBufferPerConnection: 4<<20 - 1,
			MaxReceiveBufferPerStream:     4<<20 - 1,
			MaxReadFrameSize:              1 << 20,
		},
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), hc: &http.Client{Transport: tr}, limits: p2p.LimitsFor(p)}
}

// ErrNoREST: the node's chain record publishes no REST API (network
// address and network public key).
var ErrNoREST = errors.New("rest: the node's chain record names no REST API")

// NewMemberClient returns a client of a committee member's REST API as its
// chain record publishes it: the URL of NetworkAddress, pinned to
// NetworkPublicKey (F7.1), so a server presenting a certificate for any
// other key is refused. ErrNoREST when the record names none.
func NewMemberClient(m chainlink.Member, p codec.Params) (*Client, error) {
	return newRecordClient(m.NodeID, m.NetworkAddress, m.NetworkPublicKey, p)
}

// NewNodeClient is NewMemberClient for a registered node's record.
func NewNodeClient(n chainlink.Node, p codec.Params) (*Client, error) {
	return newRecordClient(n.ID, n.NetworkAddress, n.NetworkPublicKey, p)
}

func newRecordClient(id chainlink.ID, addr string, key []byte, p codec.Params) (*Client, error) {
	if addr == "" || len(key) == 0 {
		return nil, fmt.Errorf("%w: node %s", ErrNoREST, id)
	}
	if err := chainlink.CheckNetworkInfo(addr, key); err != nil {
		return nil, fmt.Errorf("rest: node %s: %w", id, err)
	}
	pub, err := ParseNetworkKey(key)
	if err != nil {
		return nil, fmt.Errorf("rest: node %s: %w", id, err)
	}
	return NewClient(addr, pub, p), nil
}

// NewClientWith uses hc (tests: another TLS configuration).
func NewClientWith(baseURL string, hc *http.Client, p codec.Params) *Client {
	return &Client{base: strings.TrimRight(baseURL, "/"), hc: hc, limits: p2p.LimitsFor(p)}
}

// Close closes idle connections.
func (c *Client) Close() { c.hc.CloseIdleConnections() }

// do sends a request and returns the answer body of a 2xx (at most max
// bytes) and its code.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, hdr http.Header, body []byte, max int) ([]byte, int, error) {
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, 0, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/octet-stream")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return nil, resp.StatusCode, parseAPIError(resp.StatusCode, b)
	}
	if resp.ContentLength > int64(max) {
		return nil, resp.StatusCode, fmt.Errorf("%w: answer of %d bytes exceeds %d", p2p.ErrProtocol, resp.ContentLength, max)
	}
	var b []byte
	if resp.ContentLength >= 0 {
		b = make([]byte, resp.ContentLength)
		_, err = io.ReadFull(resp.Body, b)
	} else {
		b, err = io.ReadAll(io.LimitReader(resp.Body, int64(max)+1))
		if err == nil && len(b) > max {
			err = fmt.Errorf("%w: answer exceeds %d bytes", p2p.ErrProtocol, max)
		}
	}
	return b, resp.StatusCode, err
}

func blobPath(id codec.BlobID, rest string) string { return "/v1/blobs/" + id.String() + rest }

func sliverPath(id codec.BlobID, ref p2p.SliverRef) string {
	return blobPath(id, "/slivers/"+strconv.Itoa(int(ref.Pair))+"/"+ref.Type.String())
}

func pendingQuery(pending bool) url.Values {
	if !pending {
		return nil
	}
	return url.Values{"pending": {"true"}}
}

// GetMetadata returns the BCS BlobMetadataWithId (unverified).
func (c *Client) GetMetadata(ctx context.Context, id codec.BlobID) ([]byte, error) {
	b, _, err := c.do(ctx, http.MethodGet, blobPath(id, "/metadata"), nil, nil, nil, c.limits.MaxMetadata)
	return b, err
}

// PutMetadata sends BCS BlobMetadata (without the ID) and returns the
// success code (201 stored, 202 buffered, 200 already stored).
func (c *Client) PutMetadata(ctx context.Context, id codec.BlobID, metadata []byte, pending bool) (int, error) {
	b, _, err := c.do(ctx, http.MethodPut, blobPath(id, "/metadata"), pendingQuery(pending), nil, metadata, 4096)
	if err != nil {
		return 0, err
	}
	_, code, err := decodeSuccess[string](b)
	return code, err
}

// MetadataStatus asks whether the node stores the metadata.
func (c *Client) MetadataStatus(ctx context.Context, id codec.BlobID) (StoredStatus, error) {
	return getJSON[StoredStatus](ctx, c, blobPath(id, "/metadata/status"), nil)
}

// GetSliver returns a BCS SliverData.
func (c *Client) GetSliver(ctx context.Context, id codec.BlobID, ref p2p.SliverRef) ([]byte, error) {
	b, _, err := c.do(ctx, http.MethodGet, sliverPath(id, ref), nil, nil, nil, c.limits.MaxSliver[ref.Type])
	return b, err
}

// PutSliver sends a BCS SliverData and returns the success code.
func (c *Client) PutSliver(ctx context.Context, id codec.BlobID, ref p2p.SliverRef, sliver []byte, pending bool) (int, error) {
	b, _, err := c.do(ctx, http.MethodPut, sliverPath(id, ref), pendingQuery(pending), nil, sliver, 4096)
	if err != nil {
		return 0, err
	}
	_, code, err := decodeSuccess[string](b)
	return code, err
}

// SliverStatus asks whether the node stores the sliver.
func (c *Client) SliverStatus(ctx context.Context, id codec.BlobID, ref p2p.SliverRef) (StoredStatus, error) {
	return getJSON[StoredStatus](ctx, c, sliverPath(id, ref)+"/status", nil)
}

// Confirmation asks for a storage confirmation; with wait > 0 the node
// waits up to it for the blob's registration.
func (c *Client) Confirmation(ctx context.Context, id codec.BlobID, pers codec.BlobPersistence, wait time.Duration) (codec.SignedMessage, error) {
	path := blobPath(id, "/confirmation/permanent")
	if pers.Deletable {
		path = blobPath(id, fmt.Sprintf("/confirmation/deletable/0x%x", pers.ObjectID[:]))
	}
	var q url.Values
	if wait > 0 {
		q = url.Values{"wait_for_registration": {"true"}, "wait_millis": {strconv.FormatInt(wait.Milliseconds(), 10)}}
	}
	sc, err := getJSON[StorageConfirmation](ctx, c, path, q)
	if err != nil {
		return codec.SignedMessage{}, err
	}
	if sc.Signed == nil {
		return codec.SignedMessage{}, fmt.Errorf("%w: confirmation without a signed message", p2p.ErrProtocol)
	}
	return sc.Signed.Decode()
}

// RecoverySymbols asks for recovery symbols by symbol ID ("P-S"), or
// towards target sliver index (of targetType) when ids is empty.
func (c *Client) RecoverySymbols(ctx context.Context, id codec.BlobID, ids []string, target int, targetType codec.SliverType, proofAxis *codec.SliverType) ([]codec.GeneralRecoverySymbol, error) {
	q := url.Values{}
	if len(ids) > 0 {
		q["id"] = ids
	} else {
		q.Set("targetSliver", strconv.Itoa(target))
		q.Set("targetType", targetType.String())
	}
	if proofAxis != nil {
		q.Set("proofAxis", proofAxis.String())
	}
	n := c.limits.Params.NShards
	b, _, err := c.do(ctx, http.MethodGet, blobPath(id, "/recoverySymbols"), q, nil, nil, n*c.limits.MaxRecoverySymbol+8)
	if err != nil {
		return nil, err
	}
	return codec.UnmarshalGeneralRecoverySymbols(b, n)
}

// DecodingSymbols asks for decoding symbols towards source slivers.
func (c *Client) DecodingSymbols(ctx context.Context, id codec.BlobID, targets []int, t codec.SliverType) (map[int][]DecodingSymbol, error) {
	q := url.Values{"targetType": {t.String()}}
	for _, i := range targets {
		q.Add("targetSlivers", strconv.Itoa(i))
	}
	b, _, err := c.do(ctx, http.MethodGet, blobPath(id, "/decodingSymbols"), q, nil, nil, c.limits.MaxSyncBytes+(1<<20))
	if err != nil {
		return nil, err
	}
	return DecodeDecodingSymbols(b, len(targets)*c.limits.Params.NShards)
}

// InconsistencyProof sends a proof and returns the node's signed
// InvalidBlobId attestation.
func (c *Client) InconsistencyProof(ctx context.Context, id codec.BlobID, proof *codec.InconsistencyProof) (codec.SignedMessage, error) {
	b, _, err := c.do(ctx, http.MethodPost, blobPath(id, "/inconsistencyProof/"+proof.Target.String()), nil, nil, proof.MarshalBCS(), 4096)
	if err != nil {
		return codec.SignedMessage{}, err
	}
	sm, _, err := decodeSuccess[SignedMessage](b)
	if err != nil {
		return codec.SignedMessage{}, err
	}
	return sm.Decode()
}

// BlobStatus asks for the blob's status.
func (c *Client) BlobStatus(ctx context.Context, id codec.BlobID) (BlobStatus, error) {
	return getJSON[BlobStatus](ctx, c, blobPath(id, "/status"), nil)
}

// Health asks for the node's health report.
func (c *Client) Health(ctx context.Context, detailed bool) (Health, error) {
	var q url.Values
	if detailed {
		q = url.Values{"detailed": {"true"}}
	}
	return getJSON[Health](ctx, c, PathHealth, q)
}

// SyncShard sends a signed sync-shard request (p2p.NewSyncRequest builds
// one) and returns the blob IDs and slivers of the answer.
func (c *Client) SyncShard(ctx context.Context, req p2p.SyncRequest) ([]codec.BlobID, []codec.Sliver, error) {
	hdr := http.Header{"Authorization": {EncodeAuthorization(req.PublicKey)}}
	b, _, err := c.do(ctx, http.MethodPost, PathSyncShard, nil, hdr, req.Signed.MarshalBCS(), c.limits.MaxSyncBytes+c.limits.MaxSyncItems*64+16)
	if err != nil {
		return nil, nil, err
	}
	return DecodeSyncResponse(b, c.limits.MaxSyncItems)
}

func getJSON[T any](ctx context.Context, c *Client, path string, q url.Values) (T, error) {
	var zero T
	b, _, err := c.do(ctx, http.MethodGet, path, q, nil, nil, 1<<20)
	if err != nil {
		return zero, err
	}
	v, _, err := decodeSuccess[T](b)
	if err != nil {
		return zero, fmt.Errorf("%w: %s: %v", p2p.ErrProtocol, path, err)
	}
	return v, nil
}
