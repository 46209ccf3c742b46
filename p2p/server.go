package p2p

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"floe/codec"
)

// ServerConfig configures a Server.
type ServerConfig struct {
	// Network names the swarm; it is part of every protocol ID.
	Network string
	// Params are the committee's encoding parameters; every size limit is
	// derived from them.
	Params codec.Params
	// Timeouts bound reads, writes and handler calls.
	Timeouts Timeouts
	// RateLimit is the per-peer, per-request-type token bucket.
	RateLimit RateLimit
	// PutBatchBytes is the most sliver bytes buffered before PutSlivers is
	// called; a put-slivers stream with more is handed over in batches.
	// Zero (the default) derives it from Params (PutBatchFor); larger
	// values are capped there, since the resource-manager limits of
	// AddProtocolLimits are sized for it.
	PutBatchBytes int
	// Logger receives debug logs about refused and failed streams.
	Logger *slog.Logger
	// Admission caps streams per address and keeps slots for preferred
	// peers (DefaultAdmission; set Admission.Preferred to the committee).
	Admission AdmissionConfig
	// Gate, if set, cuts off a peer whose offences (invalid requests,
	// slivers failing verification) pass GateAfter points: the host closes
	// its connections and refuses it for GatePeriod. It reports whether it
	// did (committee peers are not gated).
	Gate       func(p peer.ID, d time.Duration, reason string) bool
	GateAfter  float64
	GatePeriod time.Duration
	// Metrics, if set, counts requests, bytes, refusals and gating.
	Metrics *Metrics
}

// DefaultServerConfig returns the defaults for a network and parameters.
func DefaultServerConfig(network string, p codec.Params) ServerConfig {
	return ServerConfig{
		Network:    network,
		Params:     p,
		Timeouts:   DefaultTimeouts(),
		RateLimit:  DefaultRateLimit(),
		Logger:     slog.Default(),
		Admission:  DefaultAdmission(),
		GateAfter:  20,
		GatePeriod: 10 * time.Minute,
	}
}

// Validate checks the configuration.
func (c ServerConfig) Validate() error {
	if err := ValidateNetwork(c.Network); err != nil {
		return err
	}
	if _, err := codec.NewParams(c.Params.NShards); err != nil {
		return fmt.Errorf("p2p: %w", err)
	}
	if err := c.Timeouts.Validate(); err != nil {
		return err
	}
	if err := c.RateLimit.Validate(); err != nil {
		return err
	}
	if c.PutBatchBytes < 0 {
		return errors.New("p2p: negative PutBatchBytes")
	}
	return nil
}

// ValidateNetwork checks a network name: 1 to 64 characters of lowercase
// letters, digits, '.', '_' and '-', starting with a letter or digit, so it
// can sit in protocol IDs, DHT keys and topic names. It is the one rule of
// every layer (stream protocols, discovery, gossip, node and client
// configs): a name it accepts is accepted everywhere.
func ValidateNetwork(n string) error {
	if n == "" || len(n) > 64 {
		return fmt.Errorf("p2p: network name %q must have 1 to 64 characters", n)
	}
	for i, r := range n {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || i > 0 && (r == '-' || r == '_' || r == '.')) {
			return fmt.Errorf("p2p: network name %q: only lowercase letters, digits, '.', '_' and '-', starting with a letter or digit", n)
		}
	}
	return nil
}

// Server serves the stream protocols of one network on a host, answering
// from a Handler.
type Server struct {
	h        host.Host
	handler  Handler
	cfg      ServerConfig
	limits   Limits
	limiter  *peerLimiter
	adm      *admission
	offences *offences
	log      *slog.Logger

	mu      sync.Mutex
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	stopped bool
}

// NewServer returns a server; Start registers its protocols.
func NewServer(h host.Host, handler Handler, cfg ServerConfig) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if handler == nil {
		return nil, errors.New("p2p: nil handler")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	if cfg.Admission.Outsiders <= 0 {
		pref := cfg.Admission.Preferred
		cfg.Admission = DefaultAdmission()
		cfg.Admission.Preferred = pref
	}
	if b := PutBatchFor(cfg.Params); cfg.PutBatchBytes == 0 || cfg.PutBatchBytes > b {
		cfg.PutBatchBytes = b
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv := &Server{
		h: h, handler: handler, cfg: cfg,
		limits:   LimitsFor(cfg.Params),
		limiter:  newPeerLimiter(cfg.RateLimit),
		adm:      newAdmission(cfg.Admission, len(requestNames)),
		offences: newOffences(cfg.GateAfter),
		log:      log.With("component", "p2p/server"),
		ctx:      ctx, cancel: cancel,
	}
	srv.adm.onShed = cfg.Metrics.shedStream
	return srv, nil
}

// Limits returns the size limits the server enforces.
func (s *Server) Limits() Limits { return s.limits }

type serveFunc func(ctx context.Context, c frameConn) error

// Start registers a stream handler per request type. Streams are served
// until Stop; ctx is not retained.
func (s *Server) Start(context.Context) error {
	fns := map[string]serveFunc{
		NameGetMetadata:        s.getMetadata,
		NamePutMetadata:        s.putMetadata,
		NameGetSlivers:         s.getSlivers,
		NamePutSlivers:         s.putSlivers,
		NameGetConfirmation:    s.getConfirmation,
		NameGetRecoverySymbols: s.getRecoverySymbols,
		NameGetRecoveryBatch:   s.getRecoveryBatch,
		NameSyncShard:          s.syncShard,
		NameBlobStatus:         s.blobStatus,
		NameNodeStatus:         s.nodeStatus,
	}
	for kind, name := range requestNames {
		s.h.SetStreamHandler(ProtocolID(s.cfg.Network, name), s.wrap(kind, name, fns[name]))
	}
	return nil
}

// Stop unregisters the protocols, cancels running handlers (resetting their
// streams) and waits for them, or for ctx.
func (s *Server) Stop(ctx context.Context) error {
	for _, name := range requestNames {
		s.h.RemoveStreamHandler(ProtocolID(s.cfg.Network, name))
	}
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
	s.cancel()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// errRequest marks a malformed request: answered with StatusInvalidRequest
// and the stream is reset.
type errRequest struct{ err error }

func (e errRequest) Error() string { return e.err.Error() }
func (e errRequest) Unwrap() error { return ErrInvalidRequest }

func badRequest(format string, args ...any) error {
	return errRequest{fmt.Errorf(format, args...)}
}

func (s *Server) wrap(kind int, name string, fn serveFunc) network.StreamHandler {
	return func(st network.Stream) {
		s.mu.Lock()
		if s.stopped {
			s.mu.Unlock()
			_ = st.Reset()
			return
		}
		s.wg.Add(1)
		s.mu.Unlock()
		defer s.wg.Done()
		remote := st.Conn().RemotePeer()
		c := frameConn{s: st, t: s.cfg.Timeouts}
		if m := s.cfg.Metrics; m != nil {
			cs := newCountingStream(st)
			c.s = cs
			start := time.Now()
			defer func() { m.served(name, int(cs.status.Load()), time.Since(start), cs.in.Load(), cs.out.Load()) }()
		}
		sl, why := s.adm.admit(kind, st, remote)
		if sl == nil {
			s.log.Debug("stream refused", "proto", name, "peer", remote, "why", why)
			reason := "address_cap"
			if why == "protocol busy" {
				reason = "protocol_busy"
			}
			s.cfg.Metrics.refusedStream(reason)
			s.offend(remote, offenceRefused, why)
			s.refuse(c, StatusRateLimited, why)
			return
		}
		defer sl.release()
		c.slot = sl
		if err := st.Scope().SetService(ServiceName); err != nil {
			s.cfg.Metrics.refusedStream("resource_manager")
			s.log.Debug("resource manager refused stream", "proto", name, "peer", remote, "err", err)
			s.refuse(c, StatusRateLimited, "resource limit: "+err.Error())
			return
		}
		if !s.limiter.allow(remote, kind, time.Now()) {
			s.cfg.Metrics.refusedStream("rate_limit")
			s.log.Debug("rate limited", "proto", name, "peer", remote)
			s.refuse(c, StatusRateLimited, "per-peer rate limit on "+name)
			return
		}
		ctx, cancel := context.WithTimeout(s.ctx, s.cfg.Timeouts.Handler)
		defer cancel()
		stop := context.AfterFunc(ctx, func() { _ = st.Reset() })
		defer stop()
		err := s.serve(fn, ctx, c, name)
		switch {
		case errors.Is(err, errPanicked):
			// Answered and closed already.
		case err == nil:
			_ = st.Close()
		case errors.As(err, new(errRequest)):
			// The request broke the protocol: say so if the peer still
			// listens, then cut the stream.
			s.log.Debug("invalid request", "proto", name, "peer", remote, "err", err)
			s.refuse(c, StatusInvalidRequest, err.Error())
			s.offend(remote, offenceInvalidRequest, name+": "+err.Error())
		default:
			// Transport failure or deadline: the peer stalled or left.
			s.log.Debug("stream failed", "proto", name, "peer", remote, "err", err)
			_ = st.Reset()
		}
	}
}

// offend counts points against p and cuts it off past the threshold.
func (s *Server) offend(p peer.ID, points float64, reason string) {
	if s.cfg.Gate == nil {
		return
	}
	if over, why := s.offences.add(p, points, reason); over {
		if s.cfg.Gate(p, s.cfg.GatePeriod, why) {
			s.cfg.Metrics.gatedPeer()
			s.log.Info("peer gated after repeated offences", "peer", p, "last", why)
		}
	}
}

// Offences returns p's current offence points (tests and status).
func (s *Server) Offences(p peer.ID) float64 { return s.offences.points(p) }

// AdmissionStats reports the streams held and shed.
func (s *Server) AdmissionStats() AdmissionStats { return s.adm.stats() }

// errPanicked marks a request whose handler panicked.
var errPanicked = errors.New("p2p: handler panicked")

// serve runs fn, turning a panic (a decoder or handler bug that some
// request triggers) into an internal-error answer and a logged stack, so no
// request can end the node.
func (s *Server) serve(fn serveFunc, ctx context.Context, c frameConn, name string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("stream handler panicked; the request is answered with an internal error",
				"proto", name, "peer", c.s.Conn().RemotePeer(), "panic", r, "stack", string(debug.Stack()))
			s.refuse(c, StatusInternal, "internal error")
			err = errPanicked
		}
	}()
	return fn(ctx, c)
}

// refuse answers with a status and closes the stream without reading
// further: the write side ends with a FIN so the status arrives intact
// (a reset could discard it), and the read side is closed so whatever the
// peer still sends is dropped.
func (s *Server) refuse(c frameConn, st Status, msg string) {
	c.t.Idle = min(c.t.Idle, time.Second)
	if err := c.write(appendStatus(nil, st, msg, maxStatusMessage)); err != nil {
		_ = c.s.Reset()
		return
	}
	_ = c.s.Close()
}

// readRequest reads the single request frame and then the end of the
// request, under the request deadline.
func (s *Server) readRequest(c frameConn, max int) ([]byte, error) {
	rc := c.request()
	b, err := rc.readFrame(max)
	if err != nil {
		return nil, requestError(err)
	}
	if err := rc.expectEOF(); err != nil {
		return nil, requestError(err)
	}
	c.requested()
	return b, nil
}

// requestError turns framing violations into invalid-request errors and
// leaves transport failures (deadline, reset, EOF) as they are.
func requestError(err error) error {
	if errors.Is(err, errFrameTooLarge) || errors.Is(err, errTrailing) {
		return errRequest{err}
	}
	return err
}

var errTrailing = errors.New("trailing bytes after the request")

// reserve reserves n bytes of memory in the stream's scope. The error maps
// to StatusRateLimited.
func reserve(c frameConn, n int) (release func(), err error) {
	if err := c.s.Scope().ReserveMemory(n, network.ReservationPriorityMedium); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRateLimited, err)
	}
	return func() { c.s.Scope().ReleaseMemory(n) }, nil
}

// answer writes the status for err, or OK followed by payload frames.
func answer(c frameConn, err error, payloads ...[]byte) error {
	if err != nil {
		return c.write(appendError(nil, err, maxStatusMessage))
	}
	if len(payloads) == 1 && len(payloads[0]) <= 4096 {
		return c.write(appendFrame([]byte{byte(StatusOK)}, payloads[0]))
	}
	if err := c.write([]byte{byte(StatusOK)}); err != nil {
		return err
	}
	for _, p := range payloads {
		if err := c.writeFrame(p); err != nil {
			return err
		}
	}
	return nil
}

// tooLarge is the error for a handler answer over the limit.
func tooLarge(what string, n, max int) error {
	return fmt.Errorf("%w: %s of %d bytes exceeds the limit of %d", ErrInternal, what, n, max)
}

func (s *Server) readBlobID(c frameConn) (codec.BlobID, error) {
	b, err := s.readRequest(c, 32)
	if err != nil {
		return codec.BlobID{}, err
	}
	id, err := decodeBlobID(b)
	if err != nil {
		return id, errRequest{err}
	}
	return id, nil
}

func (s *Server) getMetadata(ctx context.Context, c frameConn) error {
	id, err := s.readBlobID(c)
	if err != nil {
		return err
	}
	m, err := s.handler.GetMetadata(ctx, c.s.Conn().RemotePeer(), id)
	if err == nil && len(m) > s.limits.MaxMetadata {
		err = tooLarge("metadata", len(m), s.limits.MaxMetadata)
	}
	return answer(c, err, m)
}

func (s *Server) blobStatus(ctx context.Context, c frameConn) error {
	id, err := s.readBlobID(c)
	if err != nil {
		return err
	}
	st, err := s.handler.BlobStatus(ctx, c.s.Conn().RemotePeer(), id)
	if err == nil && len(st) > s.limits.MaxBlobStatus {
		err = tooLarge("blob status", len(st), s.limits.MaxBlobStatus)
	}
	return answer(c, err, st)
}

// nodeStatusRequest is the node-status request: one version byte.
var nodeStatusRequest = []byte{1}

func (s *Server) nodeStatus(ctx context.Context, c frameConn) error {
	b, err := s.readRequest(c, len(nodeStatusRequest))
	if err != nil {
		return err
	}
	if string(b) != string(nodeStatusRequest) {
		return badRequest("node-status request %x", b)
	}
	st, err := s.handler.NodeStatus(ctx, c.s.Conn().RemotePeer())
	if err == nil && len(st) > s.limits.MaxNodeStatus {
		err = tooLarge("node status", len(st), s.limits.MaxNodeStatus)
	}
	return answer(c, err, st)
}

func (s *Server) putMetadata(ctx context.Context, c frameConn) error {
	b, err := c.request().readFrame(32)
	if err != nil {
		return requestError(err)
	}
	id, err := decodeBlobID(b)
	if err != nil {
		return errRequest{err}
	}
	release, err := reserve(c, s.limits.MaxMetadata)
	if err != nil {
		return answer(c, err)
	}
	defer release()
	m, err := s.readRequest(c, s.limits.MaxMetadata)
	if err != nil {
		return err
	}
	return answer(c, s.handler.PutMetadata(ctx, c.s.Conn().RemotePeer(), id, m))
}

func (s *Server) getConfirmation(ctx context.Context, c frameConn) error {
	b, err := s.readRequest(c, 65)
	if err != nil {
		return err
	}
	req, err := decodeConfirmationRequest(b)
	if err != nil {
		return errRequest{err}
	}
	sm, err := s.handler.GetConfirmation(ctx, c.s.Conn().RemotePeer(), req)
	var out []byte
	if err == nil {
		if len(sm.Message) > maxSignedMessage {
			err = tooLarge("confirmation message", len(sm.Message), maxSignedMessage)
		} else {
			out = sm.MarshalBCS()
		}
	}
	return answer(c, err, out)
}

// writeResults writes OK and then one status (+ frame when OK) per result.
// Small items are coalesced into one write.
func writeResults(c frameConn, res []Result, max int) error {
	small := []byte{byte(StatusOK)}
	for _, r := range res {
		err := r.Err
		if err == nil && len(r.Data) > max {
			err = tooLarge("item", len(r.Data), max)
		}
		if err != nil {
			small = appendError(small, err, maxItemMessage)
			continue
		}
		small = append(small, byte(StatusOK))
		if len(r.Data) <= 4096 {
			small = appendFrame(small, r.Data)
			continue
		}
		if err := c.write(small); err != nil {
			return err
		}
		small = small[:0]
		if err := c.writeFrame(r.Data); err != nil {
			return err
		}
	}
	if len(small) > 0 {
		return c.write(small)
	}
	return nil
}

func (s *Server) getSlivers(ctx context.Context, c frameConn) error {
	b, err := s.readRequest(c, 36+3*s.limits.MaxItems)
	if err != nil {
		return err
	}
	req, err := decodeSliversRequest(b, s.limits)
	if err != nil {
		return errRequest{err}
	}
	// Each item goes out as soon as it is loaded, its memory reserved in
	// the stream's scope while it is written: a request for many slivers
	// that is never read holds one sliver, not all of them.
	sent := 0
	var sendErr error
	err = s.handler.GetSlivers(ctx, c.s.Conn().RemotePeer(), req.ID, req.Items, func(r Result) error {
		if sent == len(req.Items) {
			sendErr = fmt.Errorf("%w: handler sent more than %d results", ErrInternal, len(req.Items))
			return sendErr
		}
		it := req.Items[sent]
		if lim := s.limits.MaxSliver[it.Type]; r.Err == nil && len(r.Data) > lim {
			r = Result{Err: tooLarge("sliver", len(r.Data), lim)}
		}
		var b []byte
		if sent == 0 {
			b = append(b, byte(StatusOK))
		}
		sent++
		if r.Err != nil {
			sendErr = c.write(appendError(b, r.Err, maxItemMessage))
			return sendErr
		}
		if err := c.s.Scope().ReserveMemory(len(r.Data), network.ReservationPriorityMedium); err != nil {
			sendErr = c.write(appendError(b, fmt.Errorf("%w: no memory to send this sliver now: %v", ErrRateLimited, err), maxItemMessage))
			return sendErr
		}
		defer c.s.Scope().ReleaseMemory(len(r.Data))
		if sendErr = c.write(append(b, byte(StatusOK))); sendErr != nil {
			return sendErr
		}
		sendErr = c.writeFrame(r.Data)
		return sendErr
	})
	switch {
	case sendErr != nil:
		return sendErr
	case err != nil && sent == 0:
		return answer(c, err)
	case err != nil:
		return err // the answer is cut short: the client sees a broken stream
	case sent != len(req.Items):
		if sent == 0 {
			return answer(c, fmt.Errorf("%w: handler sent %d results for %d slivers", ErrInternal, sent, len(req.Items)))
		}
		return fmt.Errorf("%w: handler sent %d results for %d slivers", ErrInternal, sent, len(req.Items))
	}
	return nil
}

func (s *Server) getRecoverySymbols(ctx context.Context, c frameConn) error {
	b, err := s.readRequest(c, 39+2*s.limits.Params.NShards)
	if err != nil {
		return err
	}
	req, err := decodeRecoveryRequest(b, s.limits)
	if err != nil {
		return errRequest{err}
	}
	res, err := s.handler.GetRecoverySymbols(ctx, c.s.Conn().RemotePeer(), req)
	if err == nil && len(res) != len(req.Sources) {
		err = fmt.Errorf("%w: handler returned %d results for %d symbols", ErrInternal, len(res), len(req.Sources))
	}
	if err != nil {
		return answer(c, err)
	}
	return writeResults(c, res, s.limits.MaxRecoverySymbol)
}

func (s *Server) getRecoveryBatch(ctx context.Context, c frameConn) error {
	b, err := s.readRequest(c, maxRecoveryBatchRequest(s.limits.Params.NShards))
	if err != nil {
		return err
	}
	req, err := decodeRecoveryBatchRequest(b, s.limits)
	if err != nil {
		return errRequest{err}
	}
	res, err := s.handler.GetRecoveryBatch(ctx, c.s.Conn().RemotePeer(), req)
	if err == nil && len(res) != req.Symbols() {
		err = fmt.Errorf("%w: handler returned %d results for %d symbols", ErrInternal, len(res), req.Symbols())
	}
	if err != nil {
		return answer(c, err)
	}
	return writeResults(c, res, s.limits.MaxRecoverySymbol)
}

func (s *Server) syncShard(ctx context.Context, c frameConn) error {
	b, err := s.readRequest(c, syncRequestSize)
	if err != nil {
		return err
	}
	req, err := decodeSyncRequest(b, s.limits)
	if err != nil {
		return errRequest{err}
	}
	batch, err := s.handler.SyncShard(ctx, c.s.Conn().RemotePeer(), req)
	if err == nil {
		err = s.checkSyncBatch(req, batch)
	}
	if err != nil {
		return answer(c, err)
	}
	if err := answer(c, nil, encodeSyncHeader(len(batch.Items), batch.Done)); err != nil {
		return err
	}
	for _, it := range batch.Items {
		hdr := make([]byte, frameHeaderSize, frameHeaderSize+32)
		putFrameLen(hdr, 32+len(it.Data))
		hdr = append(hdr, it.ID[:]...)
		if err := c.write(hdr); err != nil {
			return err
		}
		if err := c.write(it.Data); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) checkSyncBatch(req SyncRequest, b SyncBatch) error {
	r := req.Request
	if uint64(len(b.Items)) > r.Count {
		return fmt.Errorf("%w: handler returned %d slivers, asked for %d", ErrInternal, len(b.Items), r.Count)
	}
	total := 0
	for i, it := range b.Items {
		if len(it.Data) > s.limits.MaxSliver[r.Type] {
			return tooLarge("sliver", len(it.Data), s.limits.MaxSliver[r.Type])
		}
		total += len(it.Data)
		if i > 0 && string(it.ID[:]) <= string(b.Items[i-1].ID[:]) {
			return fmt.Errorf("%w: sync batch not in blob-ID order", ErrInternal)
		}
		if i == 0 && string(it.ID[:]) < string(r.Start[:]) {
			return fmt.Errorf("%w: sync batch starts before the requested blob ID", ErrInternal)
		}
	}
	if total > s.limits.MaxSyncBytes {
		return tooLarge("sync batch", total, s.limits.MaxSyncBytes)
	}
	return nil
}

func putFrameLen(b []byte, n int) {
	b[0], b[1], b[2], b[3] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
}

// putSlivers reads the header, then items in batches of up to PutBatchBytes,
// hands each batch to the handler, and answers OK with one result per item
// once the client has half-closed. Nothing is written before the last item
// is read, so a client that writes everything before reading never
// deadlocks on flow control.
func (s *Server) putSlivers(ctx context.Context, c frameConn) error {
	b, err := c.request().readFrame(36)
	if err != nil {
		return requestError(err)
	}
	c.requested()
	hdr, err := decodePutSliversHeader(b, s.limits)
	if err != nil {
		return errRequest{err}
	}
	from := c.s.Conn().RemotePeer()
	results := make([]error, 0, hdr.Count)
	var (
		batch    []Sliver
		reserved int
	)
	defer func() { c.s.Scope().ReleaseMemory(reserved) }()
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		errs, err := s.handler.PutSlivers(ctx, from, hdr.ID, batch)
		if err == nil && len(errs) != len(batch) {
			err = fmt.Errorf("%w: handler returned %d results for %d slivers", ErrInternal, len(errs), len(batch))
		}
		if err != nil {
			return err
		}
		results = append(results, errs...)
		batch = nil
		c.s.Scope().ReleaseMemory(reserved)
		reserved = 0
		return nil
	}
	seen := make(map[SliverRef]bool, hdr.Count)
	for range hdr.Count {
		_ = c.s.SetReadDeadline(time.Now().Add(c.t.Idle))
		n, err := readFrameHeader(c.s, s.limits.maxSliverItem())
		if err != nil {
			return requestError(err)
		}
		if reserved+n > s.cfg.PutBatchBytes && len(batch) > 0 {
			if err := flush(); err != nil {
				return answer(c, err)
			}
		}
		// Memory is reserved, and the buffer grown, as the bytes arrive,
		// each MiB under its own deadline: a peer that declares a large
		// frame and stalls holds one step, not the declared size. High
		// priority: the per-peer limits leave room for a writer's batch;
		// what is refused is contention with other streams, which a retry
		// later can get past.
		var refused error
		body, err := readFrameBodyReserving(c.s, n, func(step int) error {
			if err := c.s.Scope().ReserveMemory(step, network.ReservationPriorityHigh); err != nil {
				refused = fmt.Errorf("%w: this node's resource manager refused %d bytes for a put-slivers batch (%d held by this stream; the per-peer limit is %d): it is busy with other streams; retry later: %v",
					ErrRateLimited, step, reserved, PerPeerMemory(s.cfg.Params), err)
				return refused
			}
			reserved += step
			return nil
		}, func(step int) { _ = c.s.SetReadDeadline(time.Now().Add(c.t.allowance(step))) })
		if refused != nil {
			return answer(c, refused)
		}
		if err != nil {
			return err
		}
		it, err := decodeSliverItem(body, s.limits)
		if err != nil {
			return errRequest{err}
		}
		if seen[it.SliverRef] {
			return badRequest("sliver %d/%s sent twice", it.Pair, it.Type)
		}
		seen[it.SliverRef] = true
		batch = append(batch, it)
	}
	if err := c.expectEOF(); err != nil {
		return requestError(err)
	}
	if err := flush(); err != nil {
		return answer(c, err)
	}
	res := make([]Result, len(results))
	bad := 0
	for i, e := range results {
		res[i].Err = e
		if errors.Is(e, ErrFailedVerification) {
			bad++
		}
	}
	if bad > 0 {
		s.offend(from, offenceBadItem*float64(min(bad, 4)), fmt.Sprintf("put-slivers: %d slivers refused", bad))
	}
	return writeResults(c, res, 0)
}
