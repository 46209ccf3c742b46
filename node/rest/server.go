package rest

import (
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"

	"floe/codec"
	"floe/p2p"
)

// Config configures a Server. DefaultConfig fills every limit from the
// stream protocols' defaults, so both transports refuse the same inputs.
type Config struct {
	// Params are the committee's encoding parameters: every body limit is
	// p2p.LimitsFor(Params).
	Params codec.Params
	// Key is the node's network key: the certificate is self-signed for it.
	Key *ecdsa.PrivateKey
	// PublicHost is the host (name or IP) clients reach the node at; the
	// certificate names it beside ServerName(key). Empty: the listener's.
	PublicHost string
	// Timeouts are the stream protocols' (p2p.DefaultTimeouts): Request
	// bounds the request headers, Idle + size/MinRate each body and
	// answer, Handler the work on a request.
	Timeouts p2p.Timeouts
	// RateLimit is a token bucket per client IP and route (the node passes
	// the one its stream server uses per peer and protocol).
	RateLimit p2p.RateLimit
	// MaxConnsPerIP, MaxInFlightPerIP and MaxInFlight cap connections per
	// address and requests in flight per address and in all (p2p's
	// admission: 64 streams per IP).
	MaxConnsPerIP    int
	MaxInFlightPerIP int
	MaxInFlight      int
	// MaxStreamsPerConn is HTTP/2's concurrent streams per connection
	// (p2p's 16 inbound streams per peer). Each stream may buffer
	// streamWindow bytes and the connection MaxStreamsPerConn times that,
	// so streams whose handlers wait (for memory, or on the node) can
	// never use up the connection's window and stall the ones reading.
	MaxStreamsPerConn int
	// MemoryPerIP and Memory bound the request bodies and answers held at
	// once, per address (p2p.PerPeerMemory, as a peer's streams) and in
	// all; a request waits up to MemoryWait for room, then gets 429.
	MemoryPerIP int64
	Memory      int64
	// MemoryWait bounds that wait (0: Timeouts.Idle). The default is half
	// the handler timeout: Walrus's SDK sends every sliver of a node's
	// shards at once over one HTTP/2 connection and does not retry a 429,
	// so uploads queue for memory (their bodies held back by flow
	// control) rather than fail.
	MemoryWait time.Duration
	// MaxRecoveryRequests bounds the recoverySymbols requests served at
	// once; more get 503 UNAVAILABLE (Walrus's recovery-symbol limiter).
	MaxRecoveryRequests int
	// ConfirmationWaitMax bounds ?wait_for_registration (Walrus's
	// confirmation_long_poll_max, 5 s).
	ConfirmationWaitMax time.Duration
	// GateAfter offence points (invalid requests 1, data failing
	// verification 0.5, refusals 0.05, halving every minute) refuse an
	// address for GatePeriod; 0 never gates. Trusted addresses are never
	// gated.
	GateAfter  float64
	GatePeriod time.Duration
	Trusted    func(netip.Addr) bool
	// Logger and Registerer (nil: no metrics).
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// DefaultConfig returns the defaults for a committee's parameters.
func DefaultConfig(p codec.Params, key *ecdsa.PrivateKey) Config {
	return Config{
		Params: p, Key: key,
		Timeouts:  p2p.DefaultTimeouts(),
		RateLimit: p2p.DefaultRateLimit(),
		// p2p.DefaultAdmission: 64 streams per address.
		MaxConnsPerIP: 64, MaxInFlightPerIP: 64, MaxInFlight: 1024, MaxStreamsPerConn: 16,
		MemoryPerIP: p2p.PerPeerMemory(p), Memory: 128<<20 + 4*p2p.PerPeerMemory(p),
		MemoryWait:          p2p.DefaultTimeouts().Handler / 2,
		MaxRecoveryRequests: 64,
		ConfirmationWaitMax: 5 * time.Second,
		GateAfter:           20, GatePeriod: 10 * time.Minute,
	}
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	if _, err := codec.NewParams(c.Params.NShards); err != nil {
		return fmt.Errorf("rest: %w", err)
	}
	if c.Key == nil {
		return errors.New("rest: no network key")
	}
	if err := c.Timeouts.Validate(); err != nil {
		return err
	}
	if err := c.RateLimit.Validate(); err != nil {
		return err
	}
	if c.MaxConnsPerIP < 1 || c.MaxInFlightPerIP < 1 || c.MaxInFlight < 1 || c.MaxStreamsPerConn < 1 ||
		c.MemoryPerIP < 1 || c.Memory < 1 || c.MaxRecoveryRequests < 1 || c.ConfirmationWaitMax < 0 || c.MemoryWait < 0 {
		return fmt.Errorf("rest: limits must be positive: %+v", *c)
	}
	return nil
}

// routeKind names a route for rate limits and metrics.
type routeKind int

const (
	routeGetMetadata routeKind = iota
	routePutMetadata
	routeMetadataStatus
	routeGetSliver
	routePutSliver
	routeSliverStatus
	routeConfirmation
	routeRecoverySymbols
	routeDecodingSymbols
	routeInconsistencyProof
	routeBlobStatus
	routeHealth
	routeSyncShard
	routeAPI
	numRoutes
)

var routeNames = [numRoutes]string{
	"get_metadata", "put_metadata", "metadata_status", "get_sliver", "put_sliver", "sliver_status",
	"confirmation", "recovery_symbols", "decoding_symbols", "inconsistency_proof", "blob_status",
	"health", "sync_shard", "api",
}

// Paths of the v1 API (F7.2), as Go ServeMux patterns.
const (
	PathMetadata           = "/v1/blobs/{blob_id}/metadata"
	PathMetadataStatus     = "/v1/blobs/{blob_id}/metadata/status"
	PathSliver             = "/v1/blobs/{blob_id}/slivers/{sliver_pair_index}/{sliver_type}"
	PathSliverStatus       = "/v1/blobs/{blob_id}/slivers/{sliver_pair_index}/{sliver_type}/status"
	PathPermanentConfirm   = "/v1/blobs/{blob_id}/confirmation/permanent"
	PathDeletableConfirm   = "/v1/blobs/{blob_id}/confirmation/deletable/{object_id}"
	PathRecoverySymbols    = "/v1/blobs/{blob_id}/recoverySymbols"
	PathDecodingSymbols    = "/v1/blobs/{blob_id}/decodingSymbols"
	PathInconsistencyProof = "/v1/blobs/{blob_id}/inconsistencyProof/{sliver_type}"
	PathBlobStatus         = "/v1/blobs/{blob_id}/status"
	PathHealth             = "/v1/health"
	PathSyncShard          = "/v1/migrate/sync_shard"
	PathAPI                = "/v1/api"
)

//go:embed openapi.yaml
var openAPI []byte

// Server serves the Walrus storage-node REST API of one node over HTTPS
// (HTTP/2 by ALPN, and HTTP/1.1) from a Backend.
type Server struct {
	b       Backend
	cfg     Config
	limits  p2p.Limits
	log     *slog.Logger
	clients *clients
	metrics *metrics
	recSem  chan struct{}
	cert    tls.Certificate
	mux     *http.ServeMux
	start   time.Time

	mu     sync.Mutex
	srv    *http.Server
	ln     net.Listener
	served chan error
}

// New returns a server; Serve or Listen starts it.
func New(b Backend, cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	s := &Server{
		b: b, cfg: cfg, limits: p2p.LimitsFor(cfg.Params), log: cfg.Logger.With("component", "rest"),
		metrics: m, recSem: make(chan struct{}, cfg.MaxRecoveryRequests), start: time.Now(),
	}
	s.clients = newClients(&s.cfg)
	s.mux = http.NewServeMux()
	s.routes()
	return s, nil
}

type handlerFunc func(*call) *apiError

type method struct {
	name string
	kind routeKind
	fn   handlerFunc
	// body is the largest request body (0: none read).
	body int64
}

func (s *Server) routes() {
	l := s.limits
	maxSliver := int64(max(l.MaxSliver[0], l.MaxSliver[1]))
	maxProof := int64(2+5) + int64(l.Params.Secondary())*int64(l.MaxRecoverySymbol)
	s.handle(PathMetadata,
		method{http.MethodGet, routeGetMetadata, s.getMetadata, 0},
		method{http.MethodPut, routePutMetadata, s.putMetadata, int64(l.MaxMetadata - 32)})
	s.handle(PathMetadataStatus, method{http.MethodGet, routeMetadataStatus, s.metadataStatus, 0})
	s.handle(PathSliver,
		method{http.MethodGet, routeGetSliver, s.getSliver, 0},
		method{http.MethodPut, routePutSliver, s.putSliver, maxSliver})
	s.handle(PathSliverStatus, method{http.MethodGet, routeSliverStatus, s.sliverStatus, 0})
	s.handle(PathPermanentConfirm, method{http.MethodGet, routeConfirmation, s.confirmation, 0})
	s.handle(PathDeletableConfirm, method{http.MethodGet, routeConfirmation, s.confirmation, 0})
	s.handle(PathRecoverySymbols, method{http.MethodGet, routeRecoverySymbols, s.recoverySymbols, 0})
	s.handle(PathDecodingSymbols, method{http.MethodGet, routeDecodingSymbols, s.decodingSymbols, 0})
	s.handle(PathInconsistencyProof, method{http.MethodPost, routeInconsistencyProof, s.inconsistencyProof, maxProof})
	s.handle(PathBlobStatus, method{http.MethodGet, routeBlobStatus, s.blobStatus, 0})
	s.handle(PathHealth, method{http.MethodGet, routeHealth, s.health, 0})
	s.handle(PathSyncShard, method{http.MethodPost, routeSyncShard, s.syncShard, syncBodySize})
	s.handle(PathAPI, method{http.MethodGet, routeAPI, s.api, 0})
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		cors(w)
		if r.Method == http.MethodOptions {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		writeError(w, notFound("ROUTE_NOT_FOUND", "no route %s %s", r.Method, truncate(r.URL.Path)))
	})
}

func cors(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Methods", "*")
	h.Set("Access-Control-Allow-Headers", "*")
}

// handle registers one path with its methods; other methods get 405.
func (s *Server) handle(path string, ms ...method) {
	allow := make([]string, 0, len(ms))
	for _, m := range ms {
		allow = append(allow, m.name)
	}
	s.mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
		cors(w)
		if r.Method == http.MethodOptions {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		for _, m := range ms {
			if m.name == r.Method || (m.name == http.MethodGet && r.Method == http.MethodHead) {
				s.serve(w, r, m)
				return
			}
		}
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(w, newError(http.StatusMethodNotAllowed, StatusMethodNotAllowed, "METHOD_NOT_ALLOWED",
			"%s is not allowed on %s; allowed: %s", r.Method, path, strings.Join(allow, ", ")))
	})
}

// call is one request being served.
type call struct {
	s    *Server
	w    *countingWriter
	r    *http.Request
	ctx  context.Context
	ip   netip.Addr
	from peer.ID
	m    method
	in   int64
	// releases run when the answer is written.
	releases []func()
}

// serve admits a request (gate, rate, in-flight slots), runs its route
// under the handler timeout, recovers a panic and records metrics.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, m method) {
	start := time.Now()
	cw := &countingWriter{ResponseWriter: w}
	ip := addrIP(parseRemote(r.RemoteAddr))
	defer func() {
		s.metrics.served(routeNames[m.kind], cw.status(), time.Since(start), cw.in, cw.n)
	}()
	done, why, retry := s.clients.admit(ip, m.kind, start)
	if done == nil {
		s.metrics.refuse(why)
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(retry.Round(time.Second)/time.Second))))
		switch why {
		case "gated":
			writeError(cw, newError(http.StatusForbidden, StatusPermissionDenied, "CLIENT_GATED",
				"this address sent too many invalid requests and is refused for %s", retry.Round(time.Second)))
		case "rate":
			writeError(cw, exhausted("RATE_LIMITED", "per-address rate limit on %s", routeNames[m.kind]))
		default:
			writeError(cw, exhausted("TOO_MANY_REQUESTS", "too many requests in flight from this address or in all"))
		}
		return
	}
	defer done()
	budget := s.cfg.Timeouts.Handler
	if m.body > 0 {
		budget += allowance(s.cfg.Timeouts, m.body)
	}
	ctx, cancel := context.WithTimeout(r.Context(), budget)
	defer cancel()
	c := &call{s: s, w: cw, r: r, ctx: ctx, ip: ip, from: CallerID(ip), m: m}
	defer func() {
		for _, f := range c.releases {
			f()
		}
	}()
	var e *apiError
	func() {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.Error("REST handler panicked; the request is answered with an internal error",
					"route", routeNames[m.kind], "panic", p, "stack", string(debug.Stack()))
				e = internal(fmt.Errorf("panic: %v", p))
			}
		}()
		e = m.fn(c)
	}()
	if e == nil {
		return
	}
	if e.code >= 500 {
		s.log.Warn("REST request failed", "route", routeNames[m.kind], "client", ip, "err", e)
	} else {
		s.log.Debug("REST request refused", "route", routeNames[m.kind], "client", ip, "err", e)
	}
	if cw.wrote {
		return // the answer was cut short; the client sees a broken stream
	}
	writeError(cw, e)
	if s.clients.offend(ip, e.offence) {
		s.metrics.gate()
		s.log.Info("client address gated after repeated offences", "client", ip, "period", s.cfg.GatePeriod, "last", e.reason)
	}
}

// requestTimeout bounds the request headers: p2p's Timeouts.Request (a
// request must arrive within it of the stream opening), else Idle.
func requestTimeout(t p2p.Timeouts) time.Duration {
	if t.Request > 0 {
		return min(t.Request, t.Idle)
	}
	return t.Idle
}

func parseRemote(s string) net.Addr {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return &net.TCPAddr{}
	}
	return net.TCPAddrFromAddrPort(ap)
}

// countingWriter counts what is written and keeps the status.
type countingWriter struct {
	http.ResponseWriter
	code   int
	n, in  int64
	wrote  bool
	header bool
}

func (w *countingWriter) WriteHeader(code int) {
	if !w.header {
		w.code, w.header = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *countingWriter) Write(b []byte) (int, error) {
	if !w.header {
		w.WriteHeader(http.StatusOK)
	}
	w.wrote = w.wrote || len(b) > 0
	n, err := w.ResponseWriter.Write(b)
	w.n += int64(n)
	return n, err
}

func (w *countingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *countingWriter) status() int {
	if !w.header {
		return http.StatusOK
	}
	return w.code
}

// Listen listens on addr (host:port) and serves.
func (s *Server) Listen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("rest: listen %s: %w", addr, err)
	}
	return s.Serve(ln)
}

// Serve serves HTTPS on ln in the background until Close.
func (s *Server) Serve(ln net.Listener) error {
	host := s.cfg.PublicHost
	if host == "" {
		host, _, _ = net.SplitHostPort(ln.Addr().String())
	}
	cert, err := SelfSignedCertificate(s.cfg.Key, host)
	if err != nil {
		ln.Close()
		return err
	}
	s.cert = cert
	srv := &http.Server{
		Handler:           s.mux,
		ReadHeaderTimeout: requestTimeout(s.cfg.Timeouts),
		IdleTimeout:       time.Minute,
		MaxHeaderBytes:    16 << 10,
		TLSConfig: &tls.Config{
			MinVersion:   tls.VersionTLS12,
			Certificates: []tls.Certificate{cert},
			NextProtos:   []string{"h2", "http/1.1"},
		},
		HTTP2: &http.HTTP2Config{
			MaxConcurrentStreams:          s.cfg.MaxStreamsPerConn,
			MaxReceiveBufferPerConnection: min(s.cfg.MaxStreamsPerConn*streamWindow, 1<<31-1),
			MaxReceiveBufferPerStream:     streamWindow,
			MaxReadFrameSize:              1 << 20,
		},
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	lim := &limitListener{Listener: ln, cs: s.clients, refused: func() { s.metrics.refuse("conns") }}
	s.mu.Lock()
	s.srv, s.ln, s.served = srv, ln, make(chan error, 1)
	s.mu.Unlock()
	go func() {
		err := srv.ServeTLS(lim, "", "")
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.served <- err
	}()
	return nil
}

// streamWindow is an HTTP/2 stream's receive window (Go's default).
const streamWindow = 1 << 20

// Addr is the listener's address (nil before Serve).
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// URL is https://ADDR of the listener, ADDR the public host when set.
func (s *Server) URL() string {
	a := s.Addr()
	if a == nil {
		return ""
	}
	_, port, _ := net.SplitHostPort(a.String())
	host := s.cfg.PublicHost
	if host == "" {
		host, _, _ = net.SplitHostPort(a.String())
	}
	return "https://" + net.JoinHostPort(host, port)
}

// Certificate is the certificate the server presents.
func (s *Server) Certificate() tls.Certificate { return s.cert }

// Close stops the server: it stops accepting, lets requests in flight end
// until ctx, then closes every connection.
func (s *Server) Close(ctx context.Context) error {
	s.mu.Lock()
	srv, served := s.srv, s.served
	s.srv = nil
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	err := srv.Shutdown(ctx)
	if err != nil {
		_ = srv.Close()
	}
	return errors.Join(err, <-served)
}

// Handler is the server's HTTP handler (tests serve it on their own
// listeners).
func (s *Server) Handler() http.Handler { return s.mux }

// ---- request helpers ----

func (c *call) blobID() (codec.BlobID, *apiError) {
	id, err := codec.ParseBlobID(c.r.PathValue("blob_id"))
	if err != nil {
		return id, invalid("INVALID_BLOB_ID", "blob ID %q is not 43 characters of URL-safe base64", truncate(c.r.PathValue("blob_id")))
	}
	return id, nil
}

func (c *call) sliverType() (codec.SliverType, *apiError) {
	t, err := codec.ParseSliverType(c.r.PathValue("sliver_type"))
	if err != nil {
		return 0, invalid("INVALID_SLIVER_TYPE", "sliver type %q is not primary or secondary", truncate(c.r.PathValue("sliver_type")))
	}
	return t, nil
}

// sliver parses the blob ID, pair index and type of a sliver path.
func (c *call) sliver() (codec.BlobID, p2p.SliverRef, *apiError) {
	id, e := c.blobID()
	if e != nil {
		return id, p2p.SliverRef{}, e
	}
	pair, err := parsePairIndex(c.r.PathValue("sliver_pair_index"))
	if err != nil {
		return id, p2p.SliverRef{}, invalid("INVALID_SLIVER_PAIR_INDEX", "%v", err)
	}
	t, e := c.sliverType()
	if e != nil {
		return id, p2p.SliverRef{}, e
	}
	if n := c.s.limits.Params.NShards; int(pair) >= n {
		return id, p2p.SliverRef{}, invalid("INDEX_OUT_OF_RANGE", "requires 0 <= index (%d) < %d", pair, n)
	}
	return id, p2p.SliverRef{Pair: pair, Type: t}, nil
}

// body reads the request body (F7.3 content type, at most max bytes),
// with its memory reserved until the answer is written and its read
// deadline Idle + size/MinRate.
func (c *call) body(max int64) ([]byte, *apiError) {
	if !contentTypeOK(c.r.Header.Get("Content-Type")) {
		return nil, invalid("INVALID_CONTENT_TYPE", "Expected request with `Content-Type: application/octet-stream`")
	}
	n := c.r.ContentLength
	if n > max {
		return nil, tooLarge("a body of %d bytes exceeds the limit of %d for this route", n, max)
	}
	if n < 0 {
		n = max
	}
	if err := c.reserve(n); err != nil {
		return nil, err
	}
	rc := http.NewResponseController(c.w)
	_ = rc.SetReadDeadline(time.Now().Add(allowance(c.s.cfg.Timeouts, n)))
	var b []byte
	var err error
	if c.r.ContentLength >= 0 {
		b = make([]byte, n)
		_, err = io.ReadFull(c.r.Body, b)
	} else {
		b, err = io.ReadAll(io.LimitReader(c.r.Body, max+1))
		if err == nil && int64(len(b)) > max {
			return nil, tooLarge("the body exceeds the limit of %d bytes for this route", max)
		}
	}
	c.in, c.w.in = int64(len(b)), int64(len(b))
	if err != nil {
		return nil, invalid("INCOMPLETE_BODY", "reading the request body: %v", err)
	}
	return b, nil
}

// reserve takes n bytes of the memory budget until the answer is written,
// waiting up to MemoryWait (else Timeouts.Idle) for room.
func (c *call) reserve(n int64) *apiError {
	wait := c.s.cfg.MemoryWait
	if wait <= 0 {
		wait = c.s.cfg.Timeouts.Idle
	}
	ctx, cancel := context.WithTimeout(c.ctx, wait)
	defer cancel()
	release, err := c.s.clients.reserve(ctx, c.ip, n)
	if err != nil {
		c.s.metrics.refuse("memory")
		return exhausted("MEMORY_BUSY", "no memory for %d bytes now (this address holds its share, or the node is busy); retry later", n)
	}
	c.releases = append(c.releases, release)
	return nil
}

func (c *call) writeBody(contentType string, b []byte) *apiError {
	h := c.w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	_ = http.NewResponseController(c.w).SetWriteDeadline(time.Now().Add(allowance(c.s.cfg.Timeouts, int64(len(b)))))
	c.w.WriteHeader(http.StatusOK)
	if c.r.Method == http.MethodHead {
		return nil
	}
	_, _ = c.w.Write(b)
	return nil
}

func (c *call) writeBCS(b []byte) *apiError { return c.writeBody("application/octet-stream", b) }

func writeSuccess[T any](c *call, code int, data T) *apiError {
	b, err := encodeSuccess(code, data)
	if err != nil {
		return internal(err)
	}
	h := c.w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	c.w.WriteHeader(code)
	if c.r.Method != http.MethodHead {
		_, _ = c.w.Write(b)
	}
	return nil
}

// ---- routes ----

func (s *Server) getMetadata(c *call) *apiError {
	id, e := c.blobID()
	if e != nil {
		return e
	}
	raw, err := s.b.GetMetadata(c.ctx, c.from, id)
	if err != nil {
		return fromBackend(err, reasons{notFound: "METADATA_NOT_FOUND", invalid: "METADATA_NOT_FOUND"})
	}
	return c.writeBCS(raw)
}

func storedAnswer(c *call, st Stored, what string) *apiError {
	switch st {
	case StoredBuffered:
		return writeSuccess(c, http.StatusAccepted, what+" buffered pending registration")
	case StoredAlready:
		return writeSuccess(c, http.StatusOK, what+" already stored")
	}
	if what == "sliver" {
		return writeSuccess(c, http.StatusCreated, "sliver stored successfully")
	}
	return writeSuccess(c, http.StatusCreated, what+" successfully stored")
}

func (s *Server) putMetadata(c *call) *apiError {
	id, e := c.blobID()
	if e != nil {
		return e
	}
	pending, err := parseUploadQuery(c.r.URL.Query())
	if err != nil {
		return invalid("INVALID_QUERY", "%v", err)
	}
	body, e := c.body(c.m.body)
	if e != nil {
		return e
	}
	raw, err := decodeMetadataBody(id, body)
	if err != nil {
		return invalid("INVALID_CONTENT_TYPE", "unable to decode request body as BCS BlobMetadata: %v", err)
	}
	st, err := s.b.StoreMetadata(c.ctx, c.from, id, raw, pending)
	if err != nil {
		return fromBackend(err, reasons{notFound: "NOT_REGISTERED", invalid: "INVALID_METADATA", badData: "INVALID_METADATA"})
	}
	return storedAnswer(c, st, "metadata")
}

func (s *Server) metadataStatus(c *call) *apiError {
	id, e := c.blobID()
	if e != nil {
		return e
	}
	st, err := s.b.MetadataStatus(c.ctx, id)
	if err != nil {
		return fromBackend(err, reasons{notFound: "METADATA_NOT_FOUND", invalid: "METADATA_NOT_FOUND"})
	}
	return writeSuccess(c, http.StatusOK, st)
}

// checkShard answers SHARD_NOT_ASSIGNED for a sliver this node does not
// serve (Walrus's ShardNotAssigned).
func (c *call) checkShard(id codec.BlobID, ref p2p.SliverRef) *apiError {
	shard := c.s.limits.Params.ShardOfPair(id, int(ref.Pair))
	if !c.s.b.ServesShard(shard) {
		return precondition("SHARD_NOT_ASSIGNED", "shard %d is not assigned to this node in epoch %d", shard, c.s.b.Epoch())
	}
	return nil
}

func (s *Server) getSliver(c *call) *apiError {
	id, ref, e := c.sliver()
	if e != nil {
		return e
	}
	if e := c.checkShard(id, ref); e != nil {
		return e
	}
	var res p2p.Result
	got := false
	err := s.b.GetSlivers(c.ctx, c.from, id, []p2p.SliverRef{ref}, func(r p2p.Result) error {
		if got {
			return fmt.Errorf("%w: handler sent more than one result", p2p.ErrInternal)
		}
		res, got = r, true
		return nil
	})
	if err == nil && !got {
		err = fmt.Errorf("%w: handler sent no result", p2p.ErrInternal)
	}
	if err == nil {
		err = res.Err
	}
	if err == nil && len(res.Data) > s.limits.MaxSliver[ref.Type] {
		err = fmt.Errorf("%w: sliver of %d bytes exceeds the limit", p2p.ErrInternal, len(res.Data))
	}
	if err != nil {
		return fromBackend(err, reasons{notFound: "SLIVER_NOT_FOUND", invalid: "SLIVER_NOT_FOUND"})
	}
	if e := c.reserve(int64(len(res.Data))); e != nil {
		return e
	}
	return c.writeBCS(res.Data)
}

func (s *Server) putSliver(c *call) *apiError {
	id, ref, e := c.sliver()
	if e != nil {
		return e
	}
	pending, err := parseUploadQuery(c.r.URL.Query())
	if err != nil {
		return invalid("INVALID_QUERY", "%v", err)
	}
	body, e := c.body(int64(s.limits.MaxSliver[ref.Type]))
	if e != nil {
		return e
	}
	sl, err := codec.UnmarshalSliver(body, ref.Type)
	if err != nil {
		return invalid("INVALID_CONTENT_TYPE", "unable to decode request body as BCS SliverData: %v", err)
	}
	if want := s.limits.Params.SliverIndex(ref.Type, int(ref.Pair)); sl.Index != want {
		return invalid("SLIVER_INDEX_MISMATCH", "sliver index %d is inconsistent with sliver pair index %d (a %s sliver of that pair has index %d)",
			sl.Index, ref.Pair, ref.Type, want)
	}
	st, err := s.b.StoreSliver(c.ctx, c.from, id, p2p.Sliver{SliverRef: ref, Data: body}, pending)
	if err != nil {
		return fromBackend(err, reasons{notFound: "METADATA_NOT_FOUND", invalid: "INVALID_SLIVER", badData: "INVALID_SLIVER"})
	}
	return storedAnswer(c, st, "sliver")
}

func (s *Server) sliverStatus(c *call) *apiError {
	id, ref, e := c.sliver()
	if e != nil {
		return e
	}
	if e := c.checkShard(id, ref); e != nil {
		return e
	}
	st, err := s.b.SliverStatus(c.ctx, id, ref)
	if err != nil {
		return fromBackend(err, reasons{notFound: "SLIVER_NOT_FOUND", invalid: "SLIVER_NOT_FOUND"})
	}
	return writeSuccess(c, http.StatusOK, st)
}

func (s *Server) confirmation(c *call) *apiError {
	id, e := c.blobID()
	if e != nil {
		return e
	}
	req := p2p.ConfirmationRequest{ID: id}
	if raw := c.r.PathValue("object_id"); raw != "" {
		obj, err := parseObjectID(raw)
		if err != nil {
			return invalid("INVALID_OBJECT_ID", "%v", err)
		}
		req.Persistence = codec.BlobPersistence{Deletable: true, ObjectID: obj}
	}
	q, err := parseConfirmationQuery(c.r.URL.Query())
	if err != nil {
		return invalid("INVALID_QUERY", "%v", err)
	}
	var wait time.Duration
	if q.waitForRegistration {
		wait = s.cfg.ConfirmationWaitMax
		if q.waitMillis != nil && time.Duration(*q.waitMillis) < wait/time.Millisecond {
			wait = time.Duration(*q.waitMillis) * time.Millisecond
		}
	}
	sm, err := s.b.Confirm(c.ctx, c.from, req, wait)
	if err != nil {
		return fromBackend(err, reasons{notFound: "NOT_REGISTERED", invalid: "NOT_REGISTERED"})
	}
	j := SignedJSON(sm)
	return writeSuccess(c, http.StatusOK, StorageConfirmation{Signed: &j})
}

// symbolTry is one way to serve a recovery symbol: towards a target sliver
// of type target, from the held source sliver at sourcePair.
type symbolTry struct {
	target      codec.SliverType
	targetPair  uint16
	targetIndex int
	sourcePair  uint16
}

func (s *Server) recoverySymbols(c *call) *apiError {
	id, e := c.blobID()
	if e != nil {
		return e
	}
	select {
	case s.recSem <- struct{}{}:
		defer func() { <-s.recSem }()
	default:
		s.metrics.refuse("recovery_busy")
		return unavailable("the service is currently unavailable: too many recovery-symbol requests at once")
	}
	p := s.limits.Params
	n := p.NShards
	q, err := parseRecoveryQuery(c.r.URL.Query(), n, n)
	switch {
	case errors.Is(err, errNoSymbols):
		return precondition("NO_SYMBOLS_SPECIFIED", "%v", err)
	case errors.Is(err, errOutOfRange):
		return invalid("INDEX_OUT_OF_RANGE", "%v", err)
	case err != nil:
		return invalid("INVALID_FILTER", "the filter is invalid: %v", err)
	}
	// The symbols asked for, each with the ways this node can serve it.
	type want struct {
		tries []symbolTry
	}
	var wants []want
	tryFor := func(sym symbolID, target codec.SliverType) (symbolTry, bool) {
		if q.hasProofAxis && q.proofAxis.Orthogonal() != target {
			return symbolTry{}, false
		}
		var t symbolTry
		t.target = target
		if target == codec.Primary {
			t.targetIndex = int(sym.primary)
			t.targetPair = uint16(p.PairOfSliver(codec.Primary, int(sym.primary)))
			t.sourcePair = uint16(p.PairOfSliver(codec.Secondary, int(sym.secondary)))
		} else {
			t.targetIndex = int(sym.secondary)
			t.targetPair = uint16(p.PairOfSliver(codec.Secondary, int(sym.secondary)))
			t.sourcePair = uint16(p.PairOfSliver(codec.Primary, int(sym.primary)))
		}
		return t, s.b.ServesShard(p.ShardOfPair(id, int(t.sourcePair)))
	}
	if q.target < 0 {
		for _, sym := range q.ids {
			var w want
			// Walrus's order: a secondary target first, then a primary one.
			for _, target := range []codec.SliverType{codec.Secondary, codec.Primary} {
				if t, ok := tryFor(sym, target); ok {
					w.tries = append(w.tries, t)
				}
			}
			wants = append(wants, w)
		}
	} else {
		// Every held shard's sliver of the other type gives one symbol
		// towards the target.
		for _, shard := range s.b.Shards() {
			pair := p.PairOfShard(id, shard)
			var sym symbolID
			if q.targetType == codec.Primary {
				sym = symbolID{uint16(q.target), uint16(p.SliverIndex(codec.Secondary, pair))}
			} else {
				sym = symbolID{uint16(pair), uint16(q.target)}
			}
			var w want
			if t, ok := tryFor(sym, q.targetType); ok {
				w.tries = append(w.tries, t)
			}
			wants = append(wants, w)
		}
	}
	out := make([]codec.GeneralRecoverySymbol, 0, len(wants))
	var lastErr error
	served := 0
	for _, w := range wants {
		for _, t := range w.tries {
			served++
			res, err := s.b.GetRecoverySymbols(c.ctx, c.from, p2p.RecoveryRequest{
				ID: id, Target: p2p.SliverRef{Pair: t.targetPair, Type: t.target}, Sources: []uint16{t.sourcePair},
			})
			if err == nil && len(res) != 1 {
				err = fmt.Errorf("%w: handler returned %d results for 1 symbol", p2p.ErrInternal, len(res))
			}
			if err == nil {
				err = res[0].Err
			}
			var rs codec.RecoverySymbol
			if err == nil {
				rs, err = codec.UnmarshalRecoverySymbol(res[0].Data, t.target)
				if err != nil {
					err = fmt.Errorf("%w: stored symbol: %v", p2p.ErrInternal, err)
				}
			}
			if err != nil {
				lastErr = err
				if c.ctx.Err() != nil {
					return fromBackend(c.ctx.Err(), reasons{})
				}
				continue
			}
			out = append(out, codec.GeneralRecoverySymbol{RecoverySymbol: rs, TargetIndex: t.targetIndex})
			break
		}
	}
	if len(out) == 0 {
		if served == 0 {
			return precondition("SYMBOL_NOT_PRESENT_AT_SHARDS", "the requested recovery symbols are not the responsibility of this node's shards")
		}
		return fromBackend(lastErr, reasons{notFound: "SLIVER_NOT_FOUND", invalid: "INVALID_FILTER"})
	}
	b := codec.MarshalGeneralRecoverySymbols(out)
	if e := c.reserve(int64(len(b))); e != nil {
		return e
	}
	return c.writeBCS(b)
}

func (s *Server) decodingSymbols(c *call) *apiError {
	id, e := c.blobID()
	if e != nil {
		return e
	}
	targets, t, err := parseDecodingQuery(c.r.URL.Query(), s.limits.Params)
	switch {
	case errors.Is(err, errNoTargets):
		return precondition("NO_TARGET_SLIVERS_SPECIFIED", "%v", err)
	case errors.Is(err, errOutOfRange):
		return invalid("RECOVERY_SYMBOL_OUT_OF_RANGE", "the requested recovery symbol is out of range: %v", err)
	case err != nil:
		return invalid("INVALID_FILTER", "the filter is invalid: %v", err)
	}
	m, err := s.b.DecodingSymbols(c.ctx, id, t, targets, s.limits.MaxSyncBytes)
	if err != nil {
		if errors.Is(err, ErrAnswerTooLarge) {
			return newError(http.StatusForbidden, StatusSizeExceeded, "RESPONSE_TOO_LARGE", "%v", err)
		}
		return fromBackend(err, reasons{notFound: "SLIVER_NOT_FOUND", invalid: "INVALID_FILTER"})
	}
	b := EncodeDecodingSymbols(m)
	if e := c.reserve(int64(len(b))); e != nil {
		return e
	}
	return c.writeBCS(b)
}

// ErrAnswerTooLarge: a decodingSymbols answer would exceed the bound.
var ErrAnswerTooLarge = errors.New("rest: the answer exceeds the size limit; ask for fewer target slivers")

func (s *Server) inconsistencyProof(c *call) *apiError {
	id, e := c.blobID()
	if e != nil {
		return e
	}
	t, e := c.sliverType()
	if e != nil {
		return e
	}
	body, e := c.body(c.m.body)
	if e != nil {
		return e
	}
	proof, err := codec.UnmarshalInconsistencyProof(body, t)
	if err != nil {
		return invalid("INVALID_CONTENT_TYPE", "unable to decode request body as BCS InconsistencyProof: %v", err)
	}
	sm, err := s.b.AttestInconsistency(c.ctx, id, &proof)
	if err != nil {
		return fromBackend(err, reasons{notFound: "METADATA_NOT_FOUND", invalid: "INVALID_PROOF", badData: "INVALID_PROOF"})
	}
	return writeSuccess(c, http.StatusOK, SignedJSON(sm))
}

func (s *Server) blobStatus(c *call) *apiError {
	id, e := c.blobID()
	if e != nil {
		return e
	}
	st, err := s.b.WalrusBlobStatus(c.ctx, id)
	if err != nil {
		return fromBackend(err, reasons{notFound: "BLOB_NOT_FOUND", invalid: "BLOB_STATUS"})
	}
	return writeSuccess(c, http.StatusOK, st)
}

func (s *Server) health(c *call) *apiError {
	detailed := false
	if v := c.r.URL.Query()["detailed"]; len(v) > 0 {
		b, err := parseBool(v[0])
		if err != nil || len(v) > 1 {
			return invalid("INVALID_QUERY", "detailed: %q is not true or false", truncate(v[0]))
		}
		detailed = b
	}
	h, err := s.b.Health(c.ctx, detailed)
	if err != nil {
		return fromBackend(err, reasons{})
	}
	return writeSuccess(c, http.StatusOK, h)
}

func (s *Server) syncShard(c *call) *apiError {
	auth := c.r.Header.Get("Authorization")
	if auth == "" {
		return newError(http.StatusUnauthorized, StatusUnauthenticated, "MISSING_AUTHORIZATION", "Missing Authorization header")
	}
	pk, err := parseAuthorization(auth)
	if err != nil {
		return invalid("INVALID_AUTHORIZATION", "Invalid Authorization header: %v", err)
	}
	body, e := c.body(syncBodySize)
	if e != nil {
		return e
	}
	req, err := decodeSyncShardBody(body, pk, s.limits)
	switch {
	case errors.Is(err, errOutOfRange):
		return invalid("INDEX_OUT_OF_RANGE", "%v", err)
	case err != nil:
		return invalid("INVALID_CONTENT_TYPE", "unable to decode request body as BCS SignedMessage<SyncShardMsg>: %v", err)
	}
	if r := req.Request; r.Count == 0 || r.Count > uint64(s.limits.MaxSyncItems) {
		return invalid("SLIVER_COUNT_EXCEEDS_LIMIT", "the requested sliver count %d exceeds the limit of %d", r.Count, s.limits.MaxSyncItems)
	}
	if ep := s.b.Epoch(); req.Request.Epoch != ep {
		return invalid("INVALID_EPOCH", "the request's epoch (%d) is invalid, server epoch %d", req.Request.Epoch, ep)
	}
	batch, err := s.b.SyncShard(c.ctx, c.from, req)
	if err == nil {
		err = s.checkSyncBatch(req, batch)
	}
	switch {
	case errors.Is(err, p2p.ErrInvalidRequest):
		// Not a committee member, a signature that does not verify, or a
		// shard that is not the requester's in this epoch.
		e := newError(http.StatusForbidden, StatusPermissionDenied, "REQUEST_UNAUTHORIZED",
			"the client is not authorized to perform the sync shard operation: %v", err)
		e.offence = offenceInvalid
		return e
	case errors.Is(err, p2p.ErrNotFound):
		return precondition("SHARD_NOT_ASSIGNED", "%v", err)
	case err != nil:
		return fromBackend(err, reasons{})
	}
	total := 0
	for _, it := range batch.Items {
		total += len(it.Data)
	}
	if e := c.reserve(int64(total)); e != nil {
		return e
	}
	return c.writeBCS(EncodeSyncResponse(batch.Items, req.Request.Type))
}

// checkSyncBatch is the stream server's check of a handler's batch.
func (s *Server) checkSyncBatch(req p2p.SyncRequest, b p2p.SyncBatch) error {
	r := req.Request
	if uint64(len(b.Items)) > r.Count {
		return fmt.Errorf("%w: handler returned %d slivers, asked for %d", p2p.ErrInternal, len(b.Items), r.Count)
	}
	total := 0
	for i, it := range b.Items {
		if len(it.Data) > s.limits.MaxSliver[r.Type] {
			return fmt.Errorf("%w: sliver of %d bytes exceeds the limit", p2p.ErrInternal, len(it.Data))
		}
		total += len(it.Data)
		if i > 0 && string(it.ID[:]) <= string(b.Items[i-1].ID[:]) {
			return fmt.Errorf("%w: sync batch not in blob-ID order", p2p.ErrInternal)
		}
	}
	if total > s.limits.MaxSyncBytes {
		return fmt.Errorf("%w: sync batch of %d bytes exceeds the limit", p2p.ErrInternal, total)
	}
	return nil
}

func (s *Server) api(c *call) *apiError {
	return c.writeBody("application/yaml", openAPI)
}

// EncodeAuthorization is the Authorization header of a sync_shard request
// for a BLS public key.
func EncodeAuthorization(pk [codec.BLSPublicKeySize]byte) string {
	return base64.StdEncoding.EncodeToString(pk[:])
}
