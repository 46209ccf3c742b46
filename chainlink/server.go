package chainlink

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"floe/chainlink/account"
	"floe/chainlink/bls"
	"floe/codec"
)

// HTTP service limits.
const (
	maxRequestBody = 64 << 10
	// MaxEventWait is the longest long-poll the service holds.
	MaxEventWait = 60 * time.Second
)

// Server serves a Ledger over HTTP/JSON (the `floe ledger serve` service).
// Every state-changing request is authenticated before the ledger sees it
// (the package doc, "Who may change what"); the settings come from the
// ledger's Config (Faucet, FaucetLimits, AdminToken, MaxNonces).
type Server struct {
	l       *Ledger
	log     *slog.Logger
	mux     *http.ServeMux
	session [SessionSize]byte
	nonces  *nonceCache
	faucetA *limiters // per account
	faucetI *limiters // per client IP
	now     func() time.Time
	metrics *serverMetrics
}

// NewServer returns the HTTP handler of a ledger. Each Server has its own
// session: signatures made for another one (an earlier start of the
// service) are refused with ErrStaleSession.
func NewServer(l *Ledger) *Server {
	cfg := l.cfg
	s := &Server{
		l: l, log: l.log, mux: http.NewServeMux(), session: newSession(),
		nonces:  newNonceCache(cfg.MaxNonces),
		faucetA: newLimiters(cfg.FaucetLimits.AccountEvery, cfg.FaucetLimits.AccountBurst),
		faucetI: newLimiters(cfg.FaucetLimits.IPEvery, cfg.FaucetLimits.IPBurst),
		now:     time.Now,
	}
	s.metrics = newServerMetrics(l)
	h := s.mux.HandleFunc
	h("GET /v1/auth", s.authInfo)
	h("GET /v1/epoch", s.epoch)
	h("POST /v1/epoch/advance", s.advance)
	h("POST /v1/epoch/sync-done", s.syncDone)
	h("GET /v1/committees/{epoch}", s.committee)
	h("POST /v1/faucet", s.faucet)
	h("GET /v1/accounts/{addr}", s.account)
	h("GET /v1/accounts/{addr}/blobs", s.ownedBlobs)
	h("GET /v1/nodes", s.nodesList)
	h("POST /v1/nodes", s.registerNode)
	h("GET /v1/nodes/{id}", s.node)
	h("POST /v1/nodes/{id}/update", s.updateNode)
	h("POST /v1/stake", s.stake)
	h("POST /v1/unstake", s.unstake)
	h("POST /v1/storage", s.reserve)
	h("POST /v1/blobs", s.registerBlob)
	h("GET /v1/blobs/{obj}", s.blob)
	h("POST /v1/blobs/{obj}/certify", s.certify)
	h("POST /v1/blobs/{obj}/delete", s.deleteBlob)
	h("POST /v1/blobs/{obj}/extend", s.extend)
	h("GET /v1/blobs/{obj}/attributes", s.blobAttributes)
	h("POST /v1/blobs/{obj}/attributes", s.setBlobAttributes)
	h("POST /v1/blobs/{obj}/attributes/remove", s.removeBlobAttributes)
	h("POST /v1/invalidate", s.invalidate)
	h("GET /v1/blob-status/{blobid}", s.blobStatus)
	h("GET /v1/events", s.events)
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w}
	route := r.URL.Path
	if r.Method == http.MethodGet && s.operator(rec, r) {
		// route stays the path: /metrics, /health, /ready
	} else {
		s.mux.ServeHTTP(rec, r)
		route = r.Pattern
		if route == "" {
			route = "none"
		}
	}
	if rec.code == 0 {
		rec.code = http.StatusOK
	}
	s.metrics.requests.WithLabelValues(route, http.StatusText(rec.code)).Inc()
	s.metrics.duration.WithLabelValues(route).Observe(time.Since(start).Seconds())
}

type errorBody struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, code := http.StatusInternalServerError, "internal"
	for _, c := range errorCodes {
		if errors.Is(err, c.err) {
			status, code = c.status, c.code
			break
		}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		status, code = http.StatusServiceUnavailable, "unavailable"
	}
	if status >= 500 {
		s.log.Warn("ledger request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	} else {
		s.log.Debug("ledger request refused", "method", r.Method, "path", r.URL.Path, "code", code, "err", err)
	}
	writeJSON(w, status, errorBody{Error: err.Error(), Code: code})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// decode reads one JSON object of at most maxRequestBody bytes with no
// unknown fields and nothing after it.
func decode(r *http.Request, v any) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	return decodeBody(body, v)
}

func readBody(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
	if err != nil {
		return nil, fmt.Errorf("%w: reading body: %v", ErrBadRequest, err)
	}
	if len(body) > maxRequestBody {
		return nil, fmt.Errorf("%w: body larger than %d bytes", ErrBadRequest, maxRequestBody)
	}
	return body, nil
}

// signed reads the body, verifies the request's envelope (of scheme),
// and decodes the body into v. It returns the signer: the caller checks
// that the signer is who the request acts for.
func (s *Server) signed(r *http.Request, scheme AuthScheme, v any) (ID, error) {
	body, err := readBody(r)
	if err != nil {
		return ID{}, err
	}
	signer, err := s.verify(r, scheme, body)
	if err != nil {
		return ID{}, err
	}
	return signer, decodeBody(body, v)
}

// actsFor refuses a request whose signer is not the account or node it
// acts for.
func actsFor(signer, actor ID, role string) error {
	if signer != actor {
		return fmt.Errorf("%w: signed by %s, but the %s is %s", ErrUnauthorized, signer, role, actor)
	}
	return nil
}

// verify checks a request's Floe-Auth envelope: the scheme the endpoint
// needs, this server's session, the expiry window, the signature over
// AuthMessage (an account's key must derive the signer; a node's is the
// one registered), and a nonce not seen before.
func (s *Server) verify(r *http.Request, scheme AuthScheme, body []byte) (ID, error) {
	what := r.Method + " " + r.URL.Path
	hs := r.Header.Values(AuthHeader)
	switch {
	case len(hs) == 0:
		return ID{}, fmt.Errorf("%w: %s must be signed by the acting %s key (%s header)", ErrUnauthorized, what, schemeRole(scheme), AuthHeader)
	case len(hs) > 1:
		return ID{}, fmt.Errorf("%w: %d %s headers", ErrUnauthorized, len(hs), AuthHeader)
	}
	e, err := ParseAuthHeader(hs[0])
	if err != nil {
		return ID{}, err
	}
	if e.Scheme != scheme {
		return ID{}, fmt.Errorf("%w: %s must be signed by the acting %s key, not %s", ErrUnauthorized, what, schemeRole(scheme), e.Scheme)
	}
	if e.Session != s.session {
		return ID{}, ErrStaleSession
	}
	now := s.now().UnixMilli()
	switch {
	case e.ExpiresMs <= now:
		return ID{}, fmt.Errorf("%w: the signed request expired %d ms ago", ErrUnauthorized, now-e.ExpiresMs)
	case e.ExpiresMs > now+MaxAuthValidity.Milliseconds():
		return ID{}, fmt.Errorf("%w: the signed request expires more than %s ahead", ErrUnauthorized, MaxAuthValidity)
	}
	msg := AuthMessage(&e, r.Method, r.URL.RequestURI(), body)
	switch scheme {
	case SchemeAccount:
		if ID(account.AddressOf(e.PublicKey)) != e.Signer {
			return ID{}, fmt.Errorf("%w: key %x is not the key of account %s", ErrUnauthorized, e.PublicKey, e.Signer)
		}
		if !account.Verify(e.PublicKey, msg, e.Signature) {
			return ID{}, fmt.Errorf("%w: bad signature of account %s", ErrUnauthorized, e.Signer)
		}
	case SchemeNode:
		n, err := s.l.Node(r.Context(), e.Signer)
		if errors.Is(err, ErrNotFound) {
			return ID{}, fmt.Errorf("%w: signed by %s, which is no registered node", ErrUnauthorized, e.Signer)
		}
		if err != nil {
			return ID{}, err
		}
		var sig bls.Signature
		copy(sig[:], e.Signature)
		if err := bls.Verify(n.PublicKey, msg, sig); err != nil {
			return ID{}, fmt.Errorf("%w: bad signature of node %s: %v", ErrUnauthorized, e.Signer, err)
		}
	}
	fresh, err := s.nonces.add(nonceKey{e.Scheme, e.Signer, e.Nonce}, e.ExpiresMs, now)
	if err != nil {
		return ID{}, err
	}
	if !fresh {
		return ID{}, fmt.Errorf("%w: replayed request (nonce %x of %s seen before)", ErrUnauthorized, e.Nonce, e.Signer)
	}
	return e.Signer, nil
}

func schemeRole(s AuthScheme) string {
	if s == SchemeNode {
		return "node's BLS"
	}
	return "account's ed25519"
}

// AuthInfo is the answer of GET /v1/auth: what a client needs to sign.
type AuthInfo struct {
	// Session is this service's session (hex); it changes at every start.
	Session string `json:"session"`
	// NowMs is the service's clock (Unix ms), so a client with a skewed
	// clock still picks a valid expiry.
	NowMs int64 `json:"now_ms"`
	// MaxValidityMs is MaxAuthValidity.
	MaxValidityMs int64 `json:"max_validity_ms"`
	// Faucet says whether the service serves its faucet.
	Faucet bool `json:"faucet"`
}

func (s *Server) authInfo(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, AuthInfo{
		Session: hex.EncodeToString(s.session[:]), NowMs: s.now().UnixMilli(),
		MaxValidityMs: MaxAuthValidity.Milliseconds(), Faucet: s.l.cfg.Faucet,
	})
}

func decodeBody(body []byte, v any) error {
	if len(body) > maxRequestBody {
		return fmt.Errorf("%w: body larger than %d bytes", ErrBadRequest, maxRequestBody)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: trailing data after the JSON object", ErrBadRequest)
	}
	return nil
}

func pathID(r *http.Request, name string) (ID, error) {
	id, err := ParseID(r.PathValue(name))
	if err != nil {
		return id, fmt.Errorf("%s: %w", name, err)
	}
	return id, nil
}

func (s *Server) epoch(w http.ResponseWriter, r *http.Request) {
	st, err := s.l.EpochState(r.Context())
	s.reply(w, r, st, err)
}

func (s *Server) reply(w http.ResponseWriter, r *http.Request, v any, err error) {
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) advance(w http.ResponseWriter, r *http.Request) {
	if s.l.cfg.AdminToken == "" {
		s.fail(w, r, fmt.Errorf("%w: advancing the epoch over HTTP is disabled (the service has no admin token)", ErrUnauthorized))
		return
	}
	if !checkBearer(r.Header.Get("Authorization"), s.l.cfg.AdminToken) {
		s.fail(w, r, fmt.Errorf("%w: advancing the epoch needs the ledger's admin token (Authorization: Bearer)", ErrUnauthorized))
		return
	}
	st, err := s.l.AdvanceEpoch(r.Context())
	s.reply(w, r, st, err)
}

type syncDoneRequest struct {
	Node  ID     `json:"node"`
	Epoch uint32 `json:"epoch"`
}

func (s *Server) syncDone(w http.ResponseWriter, r *http.Request) {
	var req syncDoneRequest
	signer, err := s.signed(r, SchemeNode, &req)
	if err == nil {
		err = actsFor(signer, req.Node, "reporting node")
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.reply(w, r, struct{}{}, s.l.EpochSyncDone(r.Context(), req.Node, req.Epoch))
}

func (s *Server) committee(w http.ResponseWriter, r *http.Request) {
	e, err := strconv.ParseUint(r.PathValue("epoch"), 10, 32)
	if err != nil {
		s.fail(w, r, fmt.Errorf("%w: epoch: %v", ErrBadRequest, err))
		return
	}
	c, err := s.l.Committee(r.Context(), uint32(e))
	s.reply(w, r, c, err)
}

type faucetRequest struct {
	Address ID     `json:"address"`
	Amount  uint64 `json:"amount"`
}

func (s *Server) faucet(w http.ResponseWriter, r *http.Request) {
	if !s.l.cfg.Faucet {
		s.fail(w, r, fmt.Errorf("%w: start the ledger with --faucet (devnets) to serve it", ErrFaucetDisabled))
		return
	}
	var req faucetRequest
	if err := decode(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	// The faucet stays unsigned (anyone may fund a devnet account) but is
	// rate-limited per client address and per account.
	ip := clientIP(r)
	now := s.now()
	if !s.faucetI.allow(ip, now) {
		s.fail(w, r, fmt.Errorf("%w: faucet: too many payments to %s", ErrRateLimited, ip))
		return
	}
	if !s.faucetA.allow(req.Address.String(), now) {
		s.fail(w, r, fmt.Errorf("%w: faucet: too many payments to account %s", ErrRateLimited, req.Address))
		return
	}
	a, err := s.l.Faucet(r.Context(), req.Address, req.Amount)
	s.reply(w, r, a, err)
}

func (s *Server) account(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "addr")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	a, err := s.l.Account(r.Context(), id)
	s.reply(w, r, a, err)
}

func (s *Server) ownedBlobs(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "addr")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	bs, err := s.l.OwnedBlobs(r.Context(), id)
	s.reply(w, r, bs, err)
}

func (s *Server) nodesList(w http.ResponseWriter, r *http.Request) {
	ns, err := s.l.Nodes(r.Context())
	s.reply(w, r, ns, err)
}

func (s *Server) registerNode(w http.ResponseWriter, r *http.Request) {
	var req RegisterNodeRequest
	signer, err := s.signed(r, SchemeAccount, &req)
	if err == nil {
		err = actsFor(signer, req.Owner, "owner")
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	n, err := s.l.RegisterNode(r.Context(), req)
	s.reply(w, r, n, err)
}

func (s *Server) node(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	n, err := s.l.Node(r.Context(), id)
	s.reply(w, r, n, err)
}

func (s *Server) updateNode(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var req UpdateNodeRequest
	signer, err := s.signed(r, SchemeNode, &req)
	if err == nil {
		err = actsFor(signer, id, "node")
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if req.NodeID != id {
		s.fail(w, r, fmt.Errorf("%w: node ID in path and body differ", ErrBadRequest))
		return
	}
	n, err := s.l.UpdateNode(r.Context(), req)
	s.reply(w, r, n, err)
}

type stakeRequest struct {
	Staker ID     `json:"staker"`
	Node   ID     `json:"node"`
	Amount uint64 `json:"amount"`
}

func (s *Server) stake(w http.ResponseWriter, r *http.Request) {
	var req stakeRequest
	signer, err := s.signed(r, SchemeAccount, &req)
	if err == nil {
		err = actsFor(signer, req.Staker, "staker")
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	n, err := s.l.Stake(r.Context(), req.Staker, req.Node, req.Amount)
	s.reply(w, r, n, err)
}

func (s *Server) unstake(w http.ResponseWriter, r *http.Request) {
	var req stakeRequest
	signer, err := s.signed(r, SchemeAccount, &req)
	if err == nil {
		err = actsFor(signer, req.Staker, "staker")
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	n, err := s.l.Unstake(r.Context(), req.Staker, req.Node, req.Amount)
	s.reply(w, r, n, err)
}

type reserveRequest struct {
	Owner       ID     `json:"owner"`
	Size        uint64 `json:"size"`
	EpochsAhead uint32 `json:"epochs_ahead"`
}

type reserveResponse struct {
	Storage Storage `json:"storage"`
	Cost    uint64  `json:"cost"`
}

func (s *Server) reserve(w http.ResponseWriter, r *http.Request) {
	var req reserveRequest
	signer, err := s.signed(r, SchemeAccount, &req)
	if err == nil {
		err = actsFor(signer, req.Owner, "owner")
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	st, cost, err := s.l.ReserveSpace(r.Context(), req.Owner, req.Size, req.EpochsAhead)
	s.reply(w, r, reserveResponse{st, cost}, err)
}

func (s *Server) registerBlob(w http.ResponseWriter, r *http.Request) {
	var req RegisterBlobRequest
	signer, err := s.signed(r, SchemeAccount, &req)
	if err == nil {
		err = actsFor(signer, req.payer(), "payer")
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	res, err := s.l.RegisterBlob(r.Context(), req)
	s.reply(w, r, res, err)
}

func (s *Server) blob(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "obj")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	b, err := s.l.Blob(r.Context(), id)
	s.reply(w, r, b, err)
}

func (s *Server) certify(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "obj")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var cert Certificate
	if err := decode(r, &cert); err != nil {
		s.fail(w, r, err)
		return
	}
	b, err := s.l.CertifyBlob(r.Context(), id, cert)
	s.reply(w, r, b, err)
}

type invalidateResponse struct {
	BlobID codec.BlobID `json:"blob_id"`
}

func (s *Server) invalidate(w http.ResponseWriter, r *http.Request) {
	var cert Certificate
	if err := decode(r, &cert); err != nil {
		s.fail(w, r, err)
		return
	}
	id, err := s.l.InvalidateBlobID(r.Context(), cert)
	s.reply(w, r, invalidateResponse{id}, err)
}

type deleteRequest struct {
	Owner ID `json:"owner"`
}

// objectRequest reads what a request on the blob object of the path says:
// the object's ID, and the body into req, signed by the account at
// *actor (which the body names; role says what it acts as). A failure has
// been answered when ok is false.
func (s *Server) objectRequest(w http.ResponseWriter, r *http.Request, req any, actor *ID, role string) (id ID, ok bool) {
	id, err := pathID(r, "obj")
	if err == nil {
		var signer ID
		if signer, err = s.signed(r, SchemeAccount, req); err == nil {
			err = actsFor(signer, *actor, role)
		}
	}
	if err != nil {
		s.fail(w, r, err)
		return ID{}, false
	}
	return id, true
}

func (s *Server) deleteBlob(w http.ResponseWriter, r *http.Request) {
	var req deleteRequest
	id, ok := s.objectRequest(w, r, &req, &req.Owner, "owner")
	if !ok {
		return
	}
	st, err := s.l.DeleteBlob(r.Context(), req.Owner, id)
	s.reply(w, r, st, err)
}

type extendRequest struct {
	Payer  ID     `json:"payer"`
	Epochs uint32 `json:"epochs"`
}

type extendResponse struct {
	Blob Blob   `json:"blob"`
	Cost uint64 `json:"cost"`
}

func (s *Server) extend(w http.ResponseWriter, r *http.Request) {
	var req extendRequest
	id, ok := s.objectRequest(w, r, &req, &req.Payer, "payer")
	if !ok {
		return
	}
	b, cost, err := s.l.ExtendBlob(r.Context(), req.Payer, id, req.Epochs)
	s.reply(w, r, extendResponse{b, cost}, err)
}

func (s *Server) blobStatus(w http.ResponseWriter, r *http.Request) {
	id, err := codec.ParseBlobID(r.PathValue("blobid"))
	if err != nil {
		s.fail(w, r, fmt.Errorf("%w: blob ID: %v", ErrBadRequest, err))
		return
	}
	st, err := s.l.BlobStatus(r.Context(), id)
	s.reply(w, r, st, err)
}

type eventsResponse struct {
	Events []Event `json:"events"`
	// Last is the ledger's last cursor when the reply was made.
	Last uint64 `json:"last"`
}

// events serves GET /v1/events?after=C&wait=D&limit=N: the events after
// cursor C, waiting up to D (a Go duration, at most MaxEventWait) for one.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var after uint64
	var err error
	if v := q.Get("after"); v != "" {
		if after, err = strconv.ParseUint(v, 10, 64); err != nil {
			s.fail(w, r, fmt.Errorf("%w: after: %v", ErrBadRequest, err))
			return
		}
	}
	limit := MaxEventBatch
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || n > MaxEventBatch {
			s.fail(w, r, fmt.Errorf("%w: limit must be 1..%d", ErrBadRequest, MaxEventBatch))
			return
		}
		limit = n
	}
	var wait time.Duration
	if v := q.Get("wait"); v != "" {
		if wait, err = time.ParseDuration(v); err != nil || wait < 0 || wait > MaxEventWait {
			s.fail(w, r, fmt.Errorf("%w: wait must be a duration in [0, %s]", ErrBadRequest, MaxEventWait))
			return
		}
	}
	var evs []Event
	var last uint64
	if wait > 0 {
		ctx, cancel := context.WithTimeout(r.Context(), wait)
		evs, last, err = s.l.WaitEvents(ctx, after, limit)
		cancel()
	} else {
		evs, last, err = s.l.EventsAfter(r.Context(), after, limit)
	}
	if evs == nil {
		evs = []Event{}
	}
	s.reply(w, r, eventsResponse{evs, last}, err)
}

// Serve runs the ledger stored under dataDir as an HTTP/JSON service on
// listenAddr until ctx ends: the `floe ledger serve` command. listenAddr
// must be a loopback address (127.0.0.1:port, [::1]:port, localhost:port)
// unless AllowRemote is given: requests are signed, but the service speaks
// plain HTTP, so beyond loopback put it behind TLS.
func Serve(ctx context.Context, listenAddr, dataDir string, opts ...Option) error {
	var cfg Config
	for _, o := range opts {
		o(&cfg)
	}
	if !cfg.AllowRemote {
		if err := checkLoopback(listenAddr); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", listenAddr)
	if err != nil {
		return fmt.Errorf("chainlink: listen: %w", err)
	}
	l, err := OpenDir(ctx, dataDir, opts...)
	if err != nil {
		ln.Close()
		return err
	}
	defer l.Close()
	return ServeListener(ctx, ln, l)
}

// ServeListener serves l on ln until ctx ends, then shuts down gracefully.
// It closes ln but not l.
func ServeListener(ctx context.Context, ln net.Listener, l *Ledger) error {
	srv := &http.Server{
		Handler:           NewServer(l),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      MaxEventWait + 30*time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	l.log.Info("ledger serving", "addr", ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("chainlink: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		// Connections that never sent a request (or a client that does
		// not let go) must not keep the ledger from stopping.
		l.log.Warn("ledger: closing connections that did not finish in time")
		err = srv.Close()
	}
	if errors.Is(<-errc, http.ErrServerClosed) && err == nil {
		return nil
	}
	return err
}

func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("chainlink: listen address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("chainlink: listen address %q is not loopback; the ledger service speaks plain HTTP (WithAllowRemote to serve it beyond this host)", addr)
	}
	return nil
}
