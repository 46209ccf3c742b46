package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"floe/chainlink"
	"floe/codec"
	"floe/node"
)

// Backend is what the gateway needs of a floe client: the publisher and
// reader roles (whole blobs and byte ranges) and the chain. *node.Client
// implements it.
type Backend interface {
	Store(ctx context.Context, data []byte, opts node.StoreOptions) (*node.StoreResult, error)
	// StoreFrom stores a blob read from r with bounded memory (bodies
	// larger than Config.BodyMemory, spooled to a file).
	StoreFrom(ctx context.Context, r io.ReaderAt, size int64, opts node.StoreOptions) (*node.StoreResult, error)
	Read(ctx context.Context, id codec.BlobID, opts node.ReadOptions) (*node.ReadResult, error)
	// ReadRangeTo streams bytes [off, off+n) of a blob to w with bounded
	// memory (reads of more than a MiB but strict ones).
	ReadRangeTo(ctx context.Context, id codec.BlobID, off, n uint64, w io.Writer, opts node.ReadOptions) (*node.ReadResult, error)
	// ReadRange reads bytes [off, off+n) of a blob, fetching only what
	// holds them.
	ReadRange(ctx context.Context, id codec.BlobID, off, n uint64, opts node.ReadOptions) (*node.RangeResult, error)
	Status(ctx context.Context, id codec.BlobID) (chainlink.BlobStatus, error)
	Chain() chainlink.Chain
}

// *node.Client is the backend of a gateway on a swarm.
var _ Backend = (*node.Client)(nil)

// Defaults of Config.
const (
	DefaultMaxBlobSize      = 64 << 20
	DefaultBodyMemory       = 16 << 20
	DefaultMaxReads         = 32
	DefaultMaxReadsPerIP    = 8
	DefaultMaxStores        = 8
	DefaultMaxStoresPerIP   = 2
	DefaultMaxConnsPerIP    = 64
	DefaultBodyChunkTimeout = 10 * time.Second
	DefaultBodyMinBytes     = 64 << 10
	DefaultReadTimeout      = 2 * time.Minute
	DefaultStoreTimeout     = 10 * time.Minute
	DefaultShutdownGrace    = 10 * time.Second
)

// Config holds the gateway's limits and options. Zero values take the
// defaults above.
type Config struct {
	// MaxBlobSize is the largest blob stored (PUT body) or served (GET),
	// in bytes. The network's own maximum may be lower; the gateway then
	// answers what the backend says.
	MaxBlobSize int64
	// MaxReads bounds the reads (GET and HEAD of blobs) in progress and
	// MaxReadsPerIP those of one client (an IPv4 address or an IPv6 /64);
	// beyond either the gateway answers 429 at once. Set MaxReadsPerIP to
	// MaxReads for no per-client cap.
	MaxReads, MaxReadsPerIP int
	// MaxStores and MaxStoresPerIP do the same for stores (PUT), in a pool
	// of their own, so stores never starve reads. A store takes its slot
	// only once the first window of its body (BodyMinBytes, or all of a
	// smaller body) has arrived. With MaxBlobSize they bound the memory
	// held for bodies.
	MaxStores, MaxStoresPerIP int
	// MaxConnsPerIP bounds the connections one client holds open on the
	// listener of Serve; one more is answered 429 and closed.
	MaxConnsPerIP int
	// BodyChunkTimeout and BodyMinBytes are the minimum rate of a PUT
	// body: every BodyChunkTimeout must bring at least BodyMinBytes (or
	// the end of the body), else the store is refused (408). A stalled
	// body is cut off after one BodyChunkTimeout.
	BodyChunkTimeout time.Duration
	BodyMinBytes     int64
	// ReadTimeout bounds a read from the lookup to the last byte written.
	ReadTimeout time.Duration
	// StoreTimeout bounds a store from its last body byte to the answer
	// (encoding, distribution, certification).
	StoreTimeout time.Duration
	// AuthToken, if set, is the bearer token a PUT must carry
	// (Authorization: Bearer <token>). Reads are never authenticated.
	AuthToken string
	// DisableContentTypeParam turns off the floe extension that lets a GET
	// name the response's Content-Type with ?content_type= (a media type,
	// or sniff).
	DisableContentTypeParam bool
	// SniffContentType gives a read that names no type (no ?content_type=,
	// attribute, or Accept/Content-Type to mirror) the type
	// net/http.DetectContentType finds in its first 512 bytes, with
	// "; charset=utf-8" for valid UTF-8 text, so images and text render at
	// their plain URL. HTML and XML are never sniffed this way (they are
	// served as text/plain): a blob anyone stored would otherwise run as a
	// page of the gateway's origin. `floe gateway --sniff-content-type`.
	SniffContentType bool
	// BodyMemory is the largest PUT body held in memory (default
	// DefaultBodyMemory); a larger one is spooled to a temporary file in
	// SpillDir as it arrives and stored streamed (node.Client.StoreFrom),
	// so a store's memory stays bounded whatever MaxBlobSize allows.
	BodyMemory int64
	// SpillDir holds spooled bodies and the stores' spills (default
	// os.TempDir).
	SpillDir string
	// ShutdownGrace is how long Serve lets requests in progress finish
	// after its context ends.
	ShutdownGrace time.Duration
	// Logger receives one line per request and the errors (default
	// slog.Default()).
	Logger *slog.Logger
	// SiteDomain, if set (e.g. "localhost"; off by default), serves sites
	// by host name too: a request for {label}.{SiteDomain}[:port] is
	// answered as /sites/{site_id}/ answers, label being the site's
	// object ID in base36 (SiteHostLabel; doc.go, "Sites by host name").
	// `floe gateway --site-domain`.
	SiteDomain string
	// SiteTTL is how long the lookup of which manifest a site record names
	// is reused: a `floe site update` shows within it. 0 (the default)
	// looks it up on every request. Manifests are cached by blob ID
	// whatever it is, SiteCacheEntries of them (default 256) holding at
	// most SiteCacheBytes (default 64 MiB). `floe gateway --site-ttl`.
	SiteTTL          time.Duration
	SiteCacheEntries int
	SiteCacheBytes   int64
}

func (c *Config) defaults() error {
	for _, v := range []int64{c.MaxBlobSize, int64(c.MaxReads), int64(c.MaxReadsPerIP), int64(c.MaxStores),
		int64(c.MaxStoresPerIP), int64(c.MaxConnsPerIP), int64(c.BodyChunkTimeout), c.BodyMinBytes,
		int64(c.ReadTimeout), int64(c.StoreTimeout), int64(c.ShutdownGrace), c.BodyMemory} {
		if v < 0 {
			return errors.New("gateway: negative limit in config")
		}
	}
	if c.MaxBlobSize == 0 {
		c.MaxBlobSize = DefaultMaxBlobSize
	}
	if c.BodyMemory == 0 {
		c.BodyMemory = DefaultBodyMemory
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.MaxReads, DefaultMaxReads)
	def(&c.MaxReadsPerIP, min(DefaultMaxReadsPerIP, c.MaxReads))
	def(&c.MaxStores, DefaultMaxStores)
	def(&c.MaxStoresPerIP, min(DefaultMaxStoresPerIP, c.MaxStores))
	def(&c.MaxConnsPerIP, DefaultMaxConnsPerIP)
	c.MaxReadsPerIP = min(c.MaxReadsPerIP, c.MaxReads)
	c.MaxStoresPerIP = min(c.MaxStoresPerIP, c.MaxStores)
	if c.BodyChunkTimeout == 0 {
		c.BodyChunkTimeout = DefaultBodyChunkTimeout
	}
	if c.BodyMinBytes == 0 {
		c.BodyMinBytes = DefaultBodyMinBytes
	}
	if c.ReadTimeout == 0 {
		c.ReadTimeout = DefaultReadTimeout
	}
	if c.StoreTimeout == 0 {
		c.StoreTimeout = DefaultStoreTimeout
	}
	if c.ShutdownGrace == 0 {
		c.ShutdownGrace = DefaultShutdownGrace
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Gateway is the Walrus aggregator/publisher HTTP API over a Backend. It
// is an http.Handler.
type Gateway struct {
	b       Backend
	cfg     Config
	log     *slog.Logger
	reads   *pool
	stores  *pool
	sizes   *sizeCache
	routes  []route
	metrics *gwMetrics
	sites   *siteCache // site_cache.go
}

// New returns a gateway serving b with cfg.
func New(b Backend, cfg Config) (*Gateway, error) {
	if b == nil {
		return nil, errors.New("gateway: nil backend")
	}
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	sites, err := newSiteCache(&cfg)
	if err != nil {
		return nil, err
	}
	g := &Gateway{
		b: b, cfg: cfg, log: cfg.Logger,
		reads:  newPool("reads", cfg.MaxReads, cfg.MaxReadsPerIP),
		stores: newPool("stores", cfg.MaxStores, cfg.MaxStoresPerIP),
		sizes:  newSizeCache(4096),
		sites:  sites,
	}
	g.metrics = newGWMetrics(g)
	g.routes = g.routeTable()
	for i := range g.routes {
		g.routes[i].segs = strings.Split(strings.TrimPrefix(g.routes[i].path, "/"), "/")
	}
	return g, nil
}

// Serve answers HTTP on ln until ctx ends, then lets requests in progress
// finish for the shutdown grace period and cancels the rest. It closes ln.
func Serve(ctx context.Context, ln net.Listener, b Backend, cfg Config) error {
	g, err := New(b, cfg)
	if err != nil {
		ln.Close()
		return err
	}
	return g.Serve(ctx, ln)
}

// Serve answers HTTP on ln until ctx ends (see the package function Serve).
// It caps the connections of one client at MaxConnsPerIP.
func (g *Gateway) Serve(ctx context.Context, ln net.Listener) error {
	ln = limitConns(ln, g.cfg.MaxConnsPerIP)
	base, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBase()
	srv := &http.Server{
		Handler:           g,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(g.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return base },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("gateway: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), g.cfg.ShutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		g.log.Warn("gateway: requests still running after the grace period; cancelling them", "err", err)
		cancelBase()
		srv.Close()
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("gateway: serve: %w", err)
	}
	return nil
}

// ServeHTTP implements http.Handler.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rw := &recorder{ResponseWriter: w, status: http.StatusOK}
	// Every answer gets a write deadline (net/http clears it after each
	// request), so a client that stops reading cannot hold a connection;
	// handlers that work longer extend it.
	_ = http.NewResponseController(w).SetWriteDeadline(start.Add(g.cfg.ReadTimeout + time.Second))
	h := rw.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Expose-Headers", "Content-Length, Content-Range, ETag")
	if g.siteHostRoute(rw, r) { // sitehost.go: every path of a site's host name is the site's
		rw.route = siteHostPattern
	} else if !g.operatorRoute(rw, r) {
		rw.route = g.route(rw, r)
	} else {
		rw.route = r.URL.Path
	}
	g.metrics.observe(rw.route, rw.status, time.Since(start), rw.n)
	level := slog.LevelDebug
	if rw.status >= 500 {
		level = slog.LevelWarn
	}
	g.log.Log(r.Context(), level, "gateway request", "method", r.Method, "path", r.URL.Path,
		"status", rw.status, "bytes", rw.n, "dur", time.Since(start).Round(time.Microsecond))
}

// route dispatches r to the handler of its path and method and returns the
// route's pattern ("" when none matched).
func (g *Gateway) route(w http.ResponseWriter, r *http.Request) string {
	if p := g.prefixRoute(w, r); p != "" { // quilt.go: parameters spanning segments
		return p
	}
	segs := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	var allowed []string
	for i := range g.routes {
		rt := &g.routes[i]
		params, ok := rt.match(segs)
		if !ok {
			continue
		}
		if r.Method == http.MethodOptions {
			// CORS preflight (the Walrus daemon allows any origin).
			h := w.Header()
			h.Set("Access-Control-Allow-Methods", "GET, HEAD, PUT, OPTIONS")
			if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
				h.Set("Access-Control-Allow-Headers", req)
			}
			h.Set("Access-Control-Max-Age", "86400")
			w.WriteHeader(http.StatusNoContent)
			return rt.path
		}
		if rt.method == r.Method || (rt.method == http.MethodGet && r.Method == http.MethodHead) {
			rt.handle(w, r, params)
			return rt.path
		}
		allowed = append(allowed, rt.method)
		if rt.method == http.MethodGet {
			allowed = append(allowed, http.MethodHead)
		}
	}
	if len(allowed) > 0 {
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		writeError(w, &apiError{code: http.StatusMethodNotAllowed, status: StatusInvalidArgument, reason: "METHOD_NOT_ALLOWED",
			message: fmt.Sprintf("method %s is not allowed on %s", r.Method, r.URL.Path)})
		return ""
	}
	writeError(w, notFound("ROUTE_NOT_FOUND", fmt.Sprintf("no such endpoint: %s", r.URL.Path)))
	return ""
}

// fail answers err, unless the client is gone (then nobody would read it).
func (g *Gateway) fail(w http.ResponseWriter, r *http.Request, e *apiError) {
	if r.Context().Err() != nil {
		g.log.Debug("gateway: client gone", "path", r.URL.Path, "err", e)
		return
	}
	if e.code >= 500 {
		g.log.Warn("gateway: request failed", "method", r.Method, "path", r.URL.Path, "err", e)
	}
	writeError(w, e)
}

// recorder remembers the status and body size for the request log.
type recorder struct {
	http.ResponseWriter
	route       string
	status      int
	n           int64
	wroteHeader bool
}

func (rw *recorder) WriteHeader(code int) {
	if !rw.wroteHeader {
		rw.status, rw.wroteHeader = code, true
	}
	rw.ResponseWriter.WriteHeader(code)
}

func (rw *recorder) Write(p []byte) (int, error) {
	rw.wroteHeader = true
	n, err := rw.ResponseWriter.Write(p)
	rw.n += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (rw *recorder) Unwrap() http.ResponseWriter { return rw.ResponseWriter }

// sizeCache remembers blob sizes by blob ID. A blob ID commits to the
// blob's length (F4.5), so an entry never goes stale; the cache only saves
// the chain lookup of an object.
type sizeCache struct {
	mu    sync.Mutex
	max   int
	m     map[codec.BlobID]uint64
	order []codec.BlobID // insertion order, for eviction
}

func newSizeCache(max int) *sizeCache {
	return &sizeCache{max: max, m: make(map[codec.BlobID]uint64, max)}
}

func (c *sizeCache) get(id codec.BlobID) (uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[id]
	return v, ok
}

func (c *sizeCache) put(id codec.BlobID, size uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[id]; ok {
		return
	}
	if len(c.order) >= c.max {
		delete(c.m, c.order[0])
		c.order = c.order[1:]
	}
	c.m[id] = size
	c.order = append(c.order, id)
}
