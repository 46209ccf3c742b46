package gateway

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"floe/chainlink"
	"floe/codec"
	"floe/node"
)

// storeQuery is the parsed query of PUT /v1/blobs (F11.2).
type storeQuery struct {
	epochs       uint32
	permanent    bool
	deletable    bool // deprecated no-op in Walrus; conflicts with permanent
	force        bool
	sendObjectTo chainlink.ID
}

// parseStoreQuery parses the publisher's query. Every F11.2 parameter is
// known; share, reuse_resources and encoding_type are accepted only with the
// values floe can honour (share=false, reuse_resources=false,
// encoding_type=RS2) and refused otherwise, so nobody believes a request
// did what it did not.
func parseStoreQuery(raw string) (storeQuery, error) {
	q := storeQuery{epochs: 1}
	vals, err := parseQuery(raw)
	if err != nil {
		return q, err
	}
	var share bool
	for k, v := range vals {
		switch k {
		case "epochs":
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil || n == 0 || !isDigits(v) {
				return q, badRequest("INVALID_EPOCHS", "epochs=%q: want a positive number of epochs", v)
			}
			q.epochs = uint32(n)
		case "permanent":
			q.permanent, err = parseBool(k, v)
		case "deletable":
			q.deletable, err = parseBool(k, v)
		case "force":
			q.force, err = parseBool(k, v)
		case "send_object_to":
			if !strings.HasPrefix(v, "0x") {
				return q, badRequest("INVALID_ADDRESS", "send_object_to=%q: want a 0x-prefixed address of 64 hex digits", v)
			}
			q.sendObjectTo, err = chainlink.ParseID(v)
			if err != nil {
				return q, badRequest("INVALID_ADDRESS", "send_object_to=%q: want a 0x-prefixed address of 64 hex digits", v)
			}
		case "share":
			if share, err = parseBool(k, v); err == nil && share {
				return q, badRequest("UNSUPPORTED_PARAMETER", "share=true: floe has no shared blob objects")
			}
		case "reuse_resources":
			var reuse bool
			if reuse, err = parseBool(k, v); err == nil && reuse {
				return q, badRequest("UNSUPPORTED_PARAMETER", "reuse_resources=true: the floe publisher always buys new storage")
			}
		case "encoding_type":
			if v != "RS2" {
				return q, badRequest("UNSUPPORTED_PARAMETER", "encoding_type=%q: floe encodes with RS2 only", v)
			}
		default:
			return q, badRequest("INVALID_QUERY", "unknown query parameter %q", k)
		}
		if err != nil {
			return q, err
		}
	}
	if q.permanent && q.deletable {
		return q, badRequest("INVALID_BLOB_PERSISTENCE", "a blob cannot be both permanent and deletable")
	}
	return q, nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// encode formats q as a query string (tests and the OpenAPI examples).
func (q storeQuery) encode() string {
	var parts []string
	if q.epochs != 1 {
		parts = append(parts, "epochs="+strconv.FormatUint(uint64(q.epochs), 10))
	}
	if q.permanent {
		parts = append(parts, "permanent=true")
	}
	if q.deletable {
		parts = append(parts, "deletable=true")
	}
	if q.force {
		parts = append(parts, "force=true")
	}
	if !q.sendObjectTo.IsZero() {
		parts = append(parts, "send_object_to="+q.sendObjectTo.String())
	}
	return strings.Join(parts, "&")
}

// StoreResponse is the publisher's answer (F11.2 BlobStoreResult): exactly
// one of the fields is set.
type StoreResponse struct {
	NewlyCreated     *NewlyCreated     `json:"newlyCreated,omitempty"`
	AlreadyCertified *AlreadyCertified `json:"alreadyCertified,omitempty"`
}

// NewlyCreated describes a blob object created by the store.
type NewlyCreated struct {
	BlobObject        BlobObject        `json:"blobObject"`
	ResourceOperation ResourceOperation `json:"resourceOperation"`
	Cost              uint64            `json:"cost"`
}

// BlobObject is the on-chain Blob object (F9.1) in the Walrus JSON form.
type BlobObject struct {
	ID              chainlink.ID  `json:"id"`
	RegisteredEpoch uint32        `json:"registeredEpoch"`
	BlobID          codec.BlobID  `json:"blobId"`
	Size            uint64        `json:"size"`
	EncodingType    string        `json:"encodingType"`
	CertifiedEpoch  *uint32       `json:"certifiedEpoch"`
	Storage         StorageObject `json:"storage"`
	Deletable       bool          `json:"deletable"`
}

// StorageObject is the blob object's storage resource.
type StorageObject struct {
	ID          chainlink.ID `json:"id"`
	StartEpoch  uint32       `json:"startEpoch"`
	EndEpoch    uint32       `json:"endEpoch"`
	StorageSize uint64       `json:"storageSize"`
}

// ResourceOperation says how the storage was obtained; floe always buys it.
type ResourceOperation struct {
	RegisterFromScratch *RegisterFromScratch `json:"registerFromScratch,omitempty"`
}

// RegisterFromScratch is storage bought for the encoded length.
type RegisterFromScratch struct {
	EncodedLength uint64 `json:"encodedLength"`
	EpochsAhead   uint32 `json:"epochsAhead"`
}

// AlreadyCertified answers a store of a blob certified long enough.
type AlreadyCertified struct {
	BlobID codec.BlobID `json:"blobId"`
	// Object is a live certified blob object of the blob ID (floe has no
	// Sui event IDs, so the "event" form is never used).
	Object   *chainlink.ID `json:"object,omitempty"`
	EndEpoch uint32        `json:"endEpoch"`
}

func encodingName(t byte) string {
	if t == codec.EncodingTypeRS2 {
		return "RS2"
	}
	return strconv.Itoa(int(t))
}

// putBlob serves PUT /v1/blobs.
func (g *Gateway) putBlob(w http.ResponseWriter, r *http.Request, _ []string) {
	if g.cfg.AuthToken != "" && !g.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="floe gateway"`)
		writeError(w, &apiError{code: http.StatusUnauthorized, status: StatusUnauthenticated, reason: "UNAUTHENTICATED",
			message: "this publisher requires Authorization: Bearer <token>"})
		return
	}
	q, err := parseStoreQuery(r.URL.RawQuery)
	if err != nil {
		writeError(w, storeError(err))
		return
	}
	if r.ContentLength > g.cfg.MaxBlobSize {
		w.Header().Set("Connection", "close")
		writeError(w, g.tooLarge(r.ContentLength))
		return
	}

	// The body's first window arrives before the store takes a slot: a
	// client that sends headers and then stalls or trickles holds only its
	// connection (capped per client by MaxConnsPerIP) and is cut off after
	// BodyChunkTimeout. The buffer grows with the bytes that arrived, never
	// from the declared Content-Length.
	body := http.MaxBytesReader(w, r.Body, g.cfg.MaxBlobSize)
	defer body.Close()
	br := newBodyReader(w, body, g.cfg.BodyChunkTimeout, g.cfg.BodyMinBytes)
	var buf bytes.Buffer
	firstWindow := g.cfg.BodyMinBytes
	if r.ContentLength >= 0 {
		firstWindow = min(firstWindow, r.ContentLength)
	}
	if _, err := buf.ReadFrom(io.LimitReader(br, firstWindow)); err != nil {
		g.failBody(w, r, err)
		return
	}
	w.Header().Set("Connection", "close") // on a 429 the rest of the body is not read
	release, ok := g.acquire(w, r, g.stores)
	if !ok {
		return
	}
	defer release()
	w.Header().Del("Connection")

	// A body that has all arrived makes net/http watch the connection; the
	// window's deadline must not expire there during the chain lookup.
	_ = br.rc.SetReadDeadline(time.Now().Add(g.cfg.StoreTimeout))
	ectx, ecancel := context.WithTimeout(r.Context(), g.cfg.StoreTimeout)
	es, err := g.b.Chain().EpochState(ectx)
	ecancel()
	if err != nil {
		g.fail(w, r, storeError(fmt.Errorf("%w: epoch state: %w", node.ErrChain, err)))
		return
	}
	if es.MaxEpochsAhead > 0 && q.epochs > es.MaxEpochsAhead {
		w.Header().Set("Connection", "close")
		g.fail(w, r, badRequest("INVALID_EPOCHS", "epochs=%d exceeds the network's maximum of %d epochs ahead",
			q.epochs, es.MaxEpochsAhead))
		return
	}
	br.newWindow() // the chain lookup's time is not the client's
	// Up to BodyMemory bytes stay in memory; a larger body goes to a
	// spool file as it arrives.
	if _, err := buf.ReadFrom(io.LimitReader(br, g.cfg.BodyMemory-int64(buf.Len())+1)); err != nil {
		g.failBody(w, r, err)
		return
	}
	data := buf.Bytes()
	size := int64(len(data))
	var spool *os.File
	if size > g.cfg.BodyMemory {
		var err error
		var bodyErr bool
		spool, size, bodyErr, err = g.spoolBody(data, br)
		if err != nil {
			if bodyErr {
				g.failBody(w, r, err)
			} else {
				g.fail(w, r, storeError(err))
			}
			return
		}
		defer spool.Close()
		data = nil
		buf = bytes.Buffer{}
	}

	// The store has its own bound, from the last body byte. The read
	// deadline moves with it: net/http watches the connection for a client
	// going away while the handler runs, and an expired deadline there
	// would cancel the request.
	deadline := time.Now().Add(g.cfg.StoreTimeout)
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(deadline.Add(time.Second))
	_ = rc.SetWriteDeadline(deadline.Add(time.Second))
	ctx, cancel := context.WithDeadline(r.Context(), deadline)
	defer cancel()

	opts := node.StoreOptions{
		Epochs: q.epochs, Deletable: !q.permanent, Force: q.force, SendObjectTo: q.sendObjectTo,
		SpillDir: g.cfg.SpillDir,
	}
	var res *node.StoreResult
	if spool != nil {
		res, err = g.b.StoreFrom(ctx, spool, size, opts)
	} else {
		res, err = g.b.Store(ctx, data, opts)
	}
	if err != nil {
		g.fail(w, r, storeError(err))
		return
	}
	out := g.storeResponse(ctx, res, !q.permanent)
	if nc := out.NewlyCreated; nc != nil {
		g.sizes.put(nc.BlobObject.BlobID, nc.BlobObject.Size)
	}
	g.log.Info("gateway: stored", "blob_id", res.BlobID, "size", size, "spooled", spool != nil,
		"already_certified", res.AlreadyCertified, "end_epoch", res.EndEpoch)
	writeJSON(w, http.StatusOK, out)
}

// spoolBody writes the body's first bytes (head) and the rest of it to a
// temporary file in SpillDir, unlinked at once (on Unix), so nothing is
// left behind however the store ends; closing it frees the space. bodyErr
// tells a failure of the client's body (its rate, its size) from one of
// the file (no space: node.ErrNoSpace).
func (g *Gateway) spoolBody(head []byte, body io.Reader) (f *os.File, size int64, bodyErr bool, err error) {
	f, err = os.CreateTemp(g.cfg.SpillDir, "floe-body-*")
	if err != nil {
		return nil, 0, false, fmt.Errorf("spooling the body: %w", err)
	}
	_ = os.Remove(f.Name()) // the open file keeps its data
	fileErr := func(e error) (*os.File, int64, bool, error) {
		f.Close()
		if errors.Is(e, syscall.ENOSPC) {
			return nil, 0, false, fmt.Errorf("%w: spooling the body: %w", node.ErrNoSpace, e)
		}
		return nil, 0, false, fmt.Errorf("spooling the body: %w", e)
	}
	if _, err := f.Write(head); err != nil {
		return fileErr(err)
	}
	size = int64(len(head))
	buf := make([]byte, 1<<20)
	for {
		n, rerr := body.Read(buf)
		if n > 0 {
			if _, err := f.Write(buf[:n]); err != nil {
				return fileErr(err)
			}
			size += int64(n)
		}
		if rerr == io.EOF {
			return f, size, false, nil
		}
		if rerr != nil {
			f.Close()
			return nil, 0, true, rerr
		}
	}
}

// authorized compares the bearer token in constant time.
func (g *Gateway) authorized(r *http.Request) bool {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), []byte(g.cfg.AuthToken)) == 1
}

func (g *Gateway) tooLarge(size int64) *apiError {
	md := map[string]any{"max_size": g.cfg.MaxBlobSize}
	msg := fmt.Sprintf("the blob exceeds this publisher's maximum size of %d bytes", g.cfg.MaxBlobSize)
	if size >= 0 {
		md["size"] = size
		msg = fmt.Sprintf("the blob of %d bytes exceeds this publisher's maximum size of %d bytes", size, g.cfg.MaxBlobSize)
	}
	return &apiError{code: http.StatusRequestEntityTooLarge, status: StatusSizeExceeded, reason: "BLOB_TOO_LARGE",
		message: msg, metadata: md}
}

// failBody answers a failed body read: 413 past the maximum size, 408 for
// a body slower than the minimum rate, 400 otherwise. The connection is
// closed after the answer.
func (g *Gateway) failBody(w http.ResponseWriter, r *http.Request, err error) {
	w.Header().Set("Connection", "close")
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		g.fail(w, r, g.tooLarge(-1))
	case errors.Is(err, errBodyTooSlow):
		// Answered even though the request's context is cancelled (net/http
		// cancels it on the read timeout): the client may be there.
		g.log.Info("gateway: store body too slow", "remote", r.RemoteAddr, "err", err)
		writeError(w, &apiError{code: http.StatusRequestTimeout, status: StatusDeadlineExceeded, reason: "BODY_TOO_SLOW",
			message:  fmt.Sprintf("the body must arrive at %d bytes per %v or faster", g.cfg.BodyMinBytes, g.cfg.BodyChunkTimeout),
			metadata: map[string]any{"min_bytes": g.cfg.BodyMinBytes, "window_seconds": g.cfg.BodyChunkTimeout.Seconds()}})
	default:
		g.fail(w, r, badRequest("MALFORMED_REQUEST", "reading the body: %v", err))
	}
}

// certifiedObject finds a live certified object of id for an
// alreadyCertified answer, preferring one of the requested persistence
// whose storage ends at endEpoch, then one of the requested persistence,
// then any.
func (g *Gateway) certifiedObject(ctx context.Context, id codec.BlobID, endEpoch uint32, deletable bool) (chainlink.ID, bool) {
	st, err := g.b.Status(ctx, id)
	if err != nil {
		g.log.Debug("gateway: status for alreadyCertified", "blob_id", id, "err", err)
		return chainlink.ID{}, false
	}
	best, bestScore := chainlink.ID{}, -1
	for i, oid := range st.Objects {
		if i == 16 {
			break // enough lookups for one answer
		}
		b, err := g.b.Chain().Blob(ctx, oid)
		if err != nil || b.CertifiedEpoch == nil {
			continue
		}
		score := 0
		if b.Deletable == deletable {
			score += 2
		}
		if b.Storage.EndEpoch == endEpoch {
			score++
		}
		if score > bestScore {
			best, bestScore = oid, score
		}
	}
	return best, bestScore >= 0
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, &apiError{code: http.StatusInternalServerError, status: StatusInternal, reason: "INTERNAL",
			message: "encoding the answer: " + err.Error()})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}
