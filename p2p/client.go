package p2p

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	msmux "github.com/multiformats/go-multistream"

	"floe/codec"
)

// ClientConfig configures a Client.
type ClientConfig struct {
	// Network names the swarm; it is part of every protocol ID.
	Network string
	// Params are the committee's encoding parameters; the client refuses
	// answers larger than the limits derived from them.
	Params codec.Params
	// Timeouts bound every read and write, and each whole request when the
	// caller's context has no deadline.
	Timeouts Timeouts
	// Metrics, if set, counts requests by outcome and times them.
	Metrics *Metrics
}

// DefaultClientConfig returns the defaults for a network and parameters.
func DefaultClientConfig(network string, p codec.Params) ClientConfig {
	return ClientConfig{Network: network, Params: p, Timeouts: DefaultTimeouts()}
}

// Client sends stream-protocol requests to peers. It is safe for concurrent
// use; each request opens its own stream.
type Client struct {
	h      host.Host
	cfg    ClientConfig
	limits Limits
}

// NewClient returns a client that opens streams from h.
func NewClient(h host.Host, cfg ClientConfig) (*Client, error) {
	if err := ValidateNetwork(cfg.Network); err != nil {
		return nil, err
	}
	if _, err := codec.NewParams(cfg.Params.NShards); err != nil {
		return nil, fmt.Errorf("p2p: %w", err)
	}
	if err := cfg.Timeouts.Validate(); err != nil {
		return nil, err
	}
	return &Client{h: h, cfg: cfg, limits: LimitsFor(cfg.Params)}, nil
}

// Limits returns the size limits the client enforces.
func (c *Client) Limits() Limits { return c.limits }

// exchange opens a stream of the given request type to p, lets send write
// the request, half-closes, reads the status and lets recv read the payload.
// The stream is reset when ctx ends. Errors: the peer's status as
// ErrNotFound/ErrInvalidRequest/ErrRateLimited/ErrInternal, ErrTimeout,
// ErrProtocol, or a transport error.
func (c *Client) exchange(ctx context.Context, p peer.ID, name string, send func(frameConn) error, recv func(frameConn) error) (err error) {
	return c.exchangeWait(ctx, p, name, 0, send, recv)
}

// exchangeWait is exchange with a longer wait for the answer's status when
// statusWait is more than Timeouts.Idle: for requests the server processes
// after the last byte arrives.
func (c *Client) exchangeWait(ctx context.Context, p peer.ID, name string, statusWait time.Duration, send func(frameConn) error, recv func(frameConn) error) (err error) {
	if m := c.cfg.Metrics; m != nil {
		start := time.Now()
		defer func() { m.requested(name, err, time.Since(start)) }()
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.cfg.Timeouts.Handler)
		defer cancel()
	}
	s, err := c.h.NewStream(ctx, p, ProtocolID(c.cfg.Network, name))
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%w: opening %s stream: %v", ErrTimeout, name, err)
		}
		if errors.Is(err, msmux.ErrNotSupported[protocol.ID]{}) {
			return fmt.Errorf("%w: %s to %s: %v", ErrUnsupported, name, p, err)
		}
		return fmt.Errorf("p2p: opening %s stream to %s: %w", name, p, err)
	}
	stop := context.AfterFunc(ctx, func() { _ = s.Reset() })
	defer func() {
		if !stop() {
			// ctx ended and reset the stream: report that, not the
			// resulting I/O error.
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				err = fmt.Errorf("%w: %s from %s: %v", ErrTimeout, name, p, ctx.Err())
			} else if err != nil {
				err = fmt.Errorf("p2p: %s from %s: %w", name, p, ctx.Err())
			}
			return
		}
		if err != nil {
			_ = s.Reset()
		} else {
			_ = s.Close()
		}
	}()
	fc := frameConn{s: s, t: c.cfg.Timeouts}
	sendErr := send(fc)
	if sendErr == nil {
		sendErr = s.CloseWrite()
	}
	// Read the status even when sending failed: the server may have refused
	// early (rate limit, oversized request) and said why.
	sc := fc
	sc.t.Idle = max(sc.t.Idle, statusWait)
	peerErr, err := sc.readStatus(maxStatusMessage)
	if err != nil {
		if sendErr != nil {
			return wireError(sendErr)
		}
		return wireError(err)
	}
	if peerErr != nil {
		return peerErr
	}
	if sendErr != nil {
		return wireError(sendErr)
	}
	if recv != nil {
		if err := recv(fc); err != nil {
			return wireError(err)
		}
	}
	// The server closes after its answer; anything more is a violation.
	if err := fc.expectEOF(); err != nil {
		if errors.Is(err, errTrailing) {
			return fmt.Errorf("%w: %v", ErrProtocol, err)
		}
		// A reset after a complete answer is harmless.
		if isTimeout(err) {
			return wireError(err)
		}
	}
	return nil
}

func protoErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrProtocol}, args...)...)
}

func sendFrame(b []byte) func(frameConn) error {
	return func(c frameConn) error { return c.writeFrame(b) }
}

// GetMetadata fetches a blob's BCS metadata (with blob ID) from p. The
// bytes are not verified here.
func (c *Client) GetMetadata(ctx context.Context, p peer.ID, id codec.BlobID) ([]byte, error) {
	var out []byte
	err := c.exchange(ctx, p, NameGetMetadata, sendFrame(encodeBlobID(id)), func(fc frameConn) (err error) {
		out, err = fc.readFrame(c.limits.MaxMetadata)
		return err
	})
	return out, err
}

// PutMetadata sends a blob's BCS metadata to p.
func (c *Client) PutMetadata(ctx context.Context, p peer.ID, id codec.BlobID, metadata []byte) error {
	if len(metadata) > c.limits.MaxMetadata {
		return fmt.Errorf("%w: metadata of %d bytes, limit %d", ErrInvalidRequest, len(metadata), c.limits.MaxMetadata)
	}
	return c.exchange(ctx, p, NamePutMetadata, func(fc frameConn) error {
		if err := fc.writeFrame(id[:]); err != nil {
			return err
		}
		return fc.writeFrame(metadata)
	}, nil)
}

// BlobStatus fetches p's opaque view of a blob's status.
func (c *Client) BlobStatus(ctx context.Context, p peer.ID, id codec.BlobID) ([]byte, error) {
	var out []byte
	err := c.exchange(ctx, p, NameBlobStatus, sendFrame(encodeBlobID(id)), func(fc frameConn) (err error) {
		out, err = fc.readFrame(c.limits.MaxBlobStatus)
		return err
	})
	return out, err
}

// NodeStatus fetches p's opaque view of its own status.
func (c *Client) NodeStatus(ctx context.Context, p peer.ID) ([]byte, error) {
	var out []byte
	err := c.exchange(ctx, p, NameNodeStatus, sendFrame(nodeStatusRequest), func(fc frameConn) (err error) {
		out, err = fc.readFrame(c.limits.MaxNodeStatus)
		return err
	})
	return out, err
}

// GetConfirmation fetches p's signed storage confirmation. The signature is
// not verified here.
func (c *Client) GetConfirmation(ctx context.Context, p peer.ID, req ConfirmationRequest) (codec.SignedMessage, error) {
	var out codec.SignedMessage
	err := c.exchange(ctx, p, NameGetConfirmation, sendFrame(req.encode()), func(fc frameConn) error {
		b, err := fc.readFrame(c.limits.MaxConfirmation)
		if err != nil {
			return err
		}
		out, err = codec.UnmarshalSignedMessage(b, maxSignedMessage)
		if err != nil {
			return protoErr("confirmation: %v", err)
		}
		return nil
	})
	return out, err
}

// readResults reads n per-item answers with data of at most max(i) bytes.
func readResults(fc frameConn, n int, max func(i int) int) ([]Result, error) {
	return readResultsInto(fc, n, max, nil)
}

// readResultsInto is readResults that reads item i's answer of m bytes
// into the buffers into(i, m) returns, when it returns any (into may be
// nil).
func readResultsInto(fc frameConn, n int, max func(i int) int, into func(i, m int) [][]byte) ([]Result, error) {
	res := make([]Result, n)
	for i := range res {
		peerErr, err := fc.readStatusItem()
		if err != nil {
			return nil, err
		}
		if peerErr != nil {
			res[i].Err = peerErr
			continue
		}
		var bufs [][]byte
		if into != nil {
			_ = fc.s.SetReadDeadline(time.Now().Add(fc.t.Idle))
			m, err := readFrameHeader(fc.s, max(i))
			if err != nil {
				return nil, err
			}
			if bufs = into(i, m); bufs == nil {
				_ = fc.s.SetReadDeadline(time.Now().Add(fc.t.allowance(m)))
				if res[i].Data, err = readFrameBody(fc.s, m); err != nil {
					return nil, err
				}
				continue
			}
			total := 0
			for _, b := range bufs {
				total += len(b)
			}
			if total != m {
				return nil, fmt.Errorf("%w: buffers of %d bytes for an answer of %d", ErrInvalidRequest, total, m)
			}
			_ = fc.s.SetReadDeadline(time.Now().Add(fc.t.allowance(m)))
			for _, b := range bufs {
				if _, err := io.ReadFull(fc.s, b); err != nil {
					return nil, unexpectedEOF(err)
				}
			}
			res[i].Placed = true
			continue
		}
		res[i].Data, err = fc.readFrame(max(i))
		if err != nil {
			return nil, err
		}
	}
	return res, nil
}

func (c frameConn) readStatusItem() (error, error) { return c.readStatus(maxItemMessage) }

// GetSlivers fetches slivers of one blob from p over one stream. The result
// has one entry per item, in order; an entry's Err is the peer's answer for
// that sliver. The slivers are not verified here.
func (c *Client) GetSlivers(ctx context.Context, p peer.ID, id codec.BlobID, items []SliverRef) ([]Result, error) {
	return c.GetSliversInto(ctx, p, id, items, nil)
}

// GetSliversInto is GetSlivers that reads answers where the caller says:
// for item i answered with n bytes, into(i, n) returns buffers whose
// lengths add up to n and the bytes are read into them in order (the
// Result is Placed and has no Data), or nil for a new slice, as GetSlivers
// does. A reader that knows the shape of what it asks for puts the symbols
// of a sliver straight where they belong. The buffers are written only
// during the call, and hold part of an answer when it fails.
func (c *Client) GetSliversInto(ctx context.Context, p peer.ID, id codec.BlobID, items []SliverRef, into func(i, n int) [][]byte) ([]Result, error) {
	req := SliversRequest{ID: id, Items: items}
	if len(items) == 0 || len(items) > c.limits.MaxItems {
		return nil, fmt.Errorf("%w: %d slivers, want 1..%d", ErrInvalidRequest, len(items), c.limits.MaxItems)
	}
	for _, it := range items {
		if err := c.limits.checkRef(it); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalidRequest, err)
		}
	}
	var out []Result
	err := c.exchange(ctx, p, NameGetSlivers, sendFrame(req.encode()), func(fc frameConn) (err error) {
		out, err = readResultsInto(fc, len(items), func(i int) int { return c.limits.MaxSliver[items[i].Type] }, into)
		return err
	})
	return out, err
}

// PutSlivers sends slivers of one blob to p over one stream and returns p's
// answer for each, in order.
func (c *Client) PutSlivers(ctx context.Context, p peer.ID, id codec.BlobID, slivers []Sliver) ([]error, error) {
	if len(slivers) == 0 || len(slivers) > c.limits.MaxItems {
		return nil, fmt.Errorf("%w: %d slivers, want 1..%d", ErrInvalidRequest, len(slivers), c.limits.MaxItems)
	}
	for _, s := range slivers {
		if err := c.limits.checkRef(s.SliverRef); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalidRequest, err)
		}
		if len(s.Data) > c.limits.MaxSliver[s.Type] {
			return nil, fmt.Errorf("%w: sliver of %d bytes, limit %d", ErrInvalidRequest, len(s.Data), c.limits.MaxSliver[s.Type])
		}
	}
	var out []error
	// The server verifies and stores its last batch after the last byte:
	// wait for the answer as long as that batch may take at MinRate.
	total := 0
	for _, s := range slivers {
		total += len(s.Data)
	}
	wait := c.cfg.Timeouts.allowance(min(total, PutBatchFor(c.limits.Params)))
	// A write returns once its bytes are in the transport's buffers (the
	// stream's window and the kernel's socket buffer, megabytes on a slow
	// link), not once they are delivered: after the last write, all of
	// them may still be on their way, so the answer is awaited as long as
	// the whole part takes at MinRate on top. The server's own deadlines
	// still cut off a peer below the floor.
	statusWait := wait + c.cfg.Timeouts.allowance(total) - c.cfg.Timeouts.Idle
	err := c.exchangeWait(ctx, p, NamePutSlivers, statusWait, func(fc frameConn) error {
		// The server stops reading while it verifies and stores a batch,
		// so a write may wait that long for flow-control credit.
		fc.t.Idle = wait
		if err := fc.writeFrame(putSliversHeader{ID: id, Count: len(slivers)}.encode()); err != nil {
			return err
		}
		for _, s := range slivers {
			var h [frameHeaderSize + 3]byte
			putFrameLen(h[:], 3+len(s.Data))
			ih := encodeSliverItemHeader(s.SliverRef)
			copy(h[frameHeaderSize:], ih[:])
			if err := fc.write(h[:]); err != nil {
				return err
			}
			if err := fc.writeChunked(s.Data); err != nil {
				return err
			}
		}
		return nil
	}, func(fc frameConn) error {
		res, err := readResults(fc, len(slivers), func(int) int { return 0 })
		if err != nil {
			return err
		}
		out = make([]error, len(res))
		for i, r := range res {
			out[i] = r.Err
		}
		return nil
	})
	return out, err
}

// GetRecoverySymbols fetches recovery symbols towards req.Target from p:
// one Result per source pair, in order. The symbols are not verified here.
func (c *Client) GetRecoverySymbols(ctx context.Context, p peer.ID, req RecoveryRequest) ([]Result, error) {
	if len(req.Sources) == 0 || len(req.Sources) > c.limits.Params.NShards {
		return nil, fmt.Errorf("%w: %d sources, want 1..%d", ErrInvalidRequest, len(req.Sources), c.limits.Params.NShards)
	}
	if err := c.limits.checkRef(req.Target); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidRequest, err)
	}
	var out []Result
	err := c.exchange(ctx, p, NameGetRecoverySymbols, sendFrame(req.encode()), func(fc frameConn) (err error) {
		out, err = readResults(fc, len(req.Sources), func(int) int { return c.limits.MaxRecoverySymbol })
		return err
	})
	return out, err
}

// GetRecoveryBatch fetches recovery symbols towards several slivers of one
// type from p: req.Symbols() Results, source-major. The symbols are not
// verified here. A peer that does not speak the protocol (an older node)
// fails with ErrUnsupported; GetRecoverySymbols asks it one target at a
// time.
func (c *Client) GetRecoveryBatch(ctx context.Context, p peer.ID, req RecoveryBatchRequest) ([]Result, error) {
	if err := req.Check(c.limits); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidRequest, err)
	}
	var out []Result
	err := c.exchange(ctx, p, NameGetRecoveryBatch, sendFrame(req.encode()), func(fc frameConn) (err error) {
		out, err = readResults(fc, req.Symbols(), func(int) int { return c.limits.MaxRecoverySymbol })
		return err
	})
	return out, err
}

// SyncShard fetches one batch of a shard's slivers from req.Request.Start
// on (build req with NewSyncRequest). To continue, ask again from the blob
// ID after the last item's, until Done.
func (c *Client) SyncShard(ctx context.Context, p peer.ID, req SyncRequest) (SyncBatch, error) {
	if _, err := decodeSyncRequest(req.encode(), c.limits); err != nil {
		return SyncBatch{}, fmt.Errorf("%w: %v", ErrInvalidRequest, err)
	}
	r := req.Request
	var out SyncBatch
	err := c.exchange(ctx, p, NameSyncShard, sendFrame(req.encode()), func(fc frameConn) error {
		h, err := fc.readFrame(5)
		if err != nil {
			return err
		}
		n, done, err := decodeSyncHeader(h, int(r.Count))
		if err != nil {
			return protoErr("%v", err)
		}
		out.Done = done
		out.Items = make([]SyncItem, 0, n)
		total := 0
		for i := range n {
			b, err := fc.readFrame(32 + c.limits.MaxSliver[r.Type])
			if err != nil {
				return err
			}
			it, err := decodeSyncItem(b, c.limits.MaxSliver[r.Type])
			if err != nil {
				return protoErr("%v", err)
			}
			if i == 0 && string(it.ID[:]) < string(r.Start[:]) ||
				i > 0 && string(it.ID[:]) <= string(out.Items[i-1].ID[:]) {
				return protoErr("sync items out of order")
			}
			if total += len(it.Data); total > c.limits.MaxSyncBytes {
				return protoErr("sync batch over %d bytes", c.limits.MaxSyncBytes)
			}
			out.Items = append(out.Items, it)
		}
		return nil
	})
	return out, err
}

// ensure the stream type is what frameConn expects.
var _ = network.Stream(nil)

// clientDeadline is unused; per-frame deadlines come from Timeouts.
var _ = time.Second
