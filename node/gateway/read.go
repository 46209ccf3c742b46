package gateway

import (
	"context"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"floe/chainlink"
	"floe/codec"
	"floe/node"
)

// cacheControl is the Walrus aggregator's: a blob ID's bytes never change,
// revalidation (by ETag) lets caches drop blobs that expired or were
// deleted.
const cacheControl = "public, max-age=86400, stale-while-revalidate=3600"

// maxQuery bounds the raw query string of any request.
const maxQuery = 2048

// readQuery is the parsed query of a blob read.
type readQuery struct {
	check       codec.ConsistencyCheck
	contentType string // floe extension: ?content_type=<media type>
	sniff       bool   // ?content_type=sniff
	// byte-range endpoint only
	start, length uint64
}

// parseReadQuery parses the query of GET /v1/blobs/{id} (and by-object-id)
// or, with byteRange, of GET /v1/blobs/{id}/byte-range. Unknown and
// repeated parameters are rejected, as the Walrus aggregator does.
func parseReadQuery(raw string, byteRange, allowContentType bool) (readQuery, error) {
	var q readQuery
	vals, err := parseQuery(raw)
	if err != nil {
		return q, err
	}
	var strict, skip bool
	var haveStart, haveLength bool
	for k, v := range vals {
		switch {
		case k == "strict_consistency_check":
			strict, err = parseBool(k, v)
		case k == "skip_consistency_check":
			skip, err = parseBool(k, v)
		case k == "content_type" && allowContentType && v == contentTypeSniff:
			q.sniff = true
		case k == "content_type" && allowContentType:
			q.contentType, err = parseContentType(v)
		case k == "start" && byteRange:
			q.start, err = parseUint(k, v)
			haveStart = true
		case k == "length" && byteRange:
			q.length, err = parseUint(k, v)
			haveLength = true
		default:
			return q, badRequest("INVALID_QUERY", "unknown query parameter %q", k)
		}
		if err != nil {
			return q, err
		}
	}
	switch {
	case strict && skip:
		return q, badRequest("INVALID_CONSISTENCY_CHECK",
			"strict_consistency_check and skip_consistency_check cannot both be true")
	case strict:
		q.check = codec.CheckStrict
	case skip:
		q.check = codec.CheckSkip
	}
	if byteRange {
		switch {
		case !haveStart || !haveLength:
			return q, badRequest("INVALID_BYTE_RANGE", "start and length are required")
		case q.length == 0:
			return q, badRequest("INVALID_BYTE_RANGE", "length must be greater than 0")
		case q.start+q.length < q.start:
			return q, badRequest("INVALID_BYTE_RANGE", "start + length overflows")
		}
	}
	return q, nil
}

// parseQuery splits a raw query into single values; a parameter given
// twice is an error.
func parseQuery(raw string) (map[string]string, error) {
	if len(raw) > maxQuery {
		return nil, badRequest("INVALID_QUERY", "query string longer than %d bytes", maxQuery)
	}
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return nil, badRequest("INVALID_QUERY", "malformed query string: %v", err)
	}
	out := make(map[string]string, len(vals))
	for k, v := range vals {
		if len(v) != 1 {
			return nil, badRequest("INVALID_QUERY", "query parameter %q given %d times", k, len(v))
		}
		out[k] = v[0]
	}
	return out, nil
}

func parseBool(k, v string) (bool, error) {
	switch v {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, badRequest("INVALID_QUERY", "%s=%q: want true or false", k, v)
}

func parseUint(k, v string) (uint64, error) {
	n, err := parseDigits(v)
	if err != nil {
		return 0, badRequest("INVALID_QUERY", "%s=%q: want a non-negative integer", k, v)
	}
	return n, nil
}

func parseContentType(v string) (string, error) {
	if _, _, err := mime.ParseMediaType(v); err != nil || len(v) > 200 || strings.ContainsAny(v, "\r\n") {
		return "", badRequest("INVALID_QUERY", "content_type=%q is not a media type", v)
	}
	return v, nil
}

// blobInfo is what the chain says about a blob before it is read.
type blobInfo struct {
	id          codec.BlobID
	size        uint64
	contentType string // the blob object's content-type attribute (BlobAttributes)
}

// lookup checks that id is certified and live and returns its size.
func (g *Gateway) lookup(ctx context.Context, id codec.BlobID) (blobInfo, error) {
	st, err := g.b.Status(ctx, id)
	if err != nil {
		return blobInfo{}, fmt.Errorf("blob status: %w", err)
	}
	switch {
	case st.Invalid:
		return blobInfo{}, node.ErrBlobInvalid
	case !st.Exists || !st.Certified() || len(st.Objects) == 0:
		return blobInfo{}, node.ErrBlobNotFound
	}
	if size, ok := g.sizes.get(id); ok {
		return blobInfo{id: id, size: size}, nil
	}
	var lastErr error
	for _, oid := range st.Objects {
		b, err := g.b.Chain().Blob(ctx, oid)
		if err != nil {
			lastErr = err
			continue // expired or deleted since the status
		}
		g.sizes.put(id, b.Size)
		return blobInfo{id: id, size: b.Size}, nil
	}
	return blobInfo{}, fmt.Errorf("blob object: %w", lastErr)
}

// getBlob serves GET/HEAD /v1/blobs/{blob_id}.
func (g *Gateway) getBlob(w http.ResponseWriter, r *http.Request, p []string) {
	g.readByID(w, r, p[0], false, func(ctx context.Context, info blobInfo, q readQuery) {
		g.serveRange(ctx, w, r, info, q)
	})
}

// readByID is read for a blob named by its ID.
func (g *Gateway) readByID(w http.ResponseWriter, r *http.Request, rawID string, byteRange bool,
	serve func(context.Context, blobInfo, readQuery)) {
	id, err := codec.ParseBlobID(rawID)
	if err != nil {
		writeError(w, badRequest("INVALID_BLOB_ID", "%v", err))
		return
	}
	g.read(w, r, byteRange, func(ctx context.Context) (blobInfo, error) { return g.lookup(ctx, id) }, serve)
}

// read does what every read does first: parse the query, take a
// concurrency slot, bound the work by the read timeout and find the blob;
// then it calls serve. Failures are answered here.
func (g *Gateway) read(w http.ResponseWriter, r *http.Request, byteRange bool,
	find func(context.Context) (blobInfo, error), serve func(context.Context, blobInfo, readQuery)) {
	q, err := parseReadQuery(r.URL.RawQuery, byteRange, !g.cfg.DisableContentTypeParam)
	if err != nil {
		writeError(w, readError(err))
		return
	}
	release, ok := g.acquire(w, r, g.reads)
	if !ok {
		return
	}
	defer release()
	ctx, cancel := g.readContext(w, r)
	defer cancel()
	info, err := find(ctx)
	if err != nil {
		g.fail(w, r, readError(err))
		return
	}
	serve(ctx, info, q)
}

// getBlobByObjectID serves GET/HEAD /v1/blobs/by-object-id/{object_id}.
func (g *Gateway) getBlobByObjectID(w http.ResponseWriter, r *http.Request, p []string) {
	oid, err := chainlink.ParseID(p[0])
	if err != nil {
		writeError(w, badRequest("INVALID_OBJECT_ID", "object ID %q: want 64 hex digits, 0x-prefixed", p[0]))
		return
	}
	find := func(ctx context.Context) (blobInfo, error) {
		b, err := g.b.Chain().Blob(ctx, oid)
		if err != nil {
			return blobInfo{}, fmt.Errorf("blob object %s: %w", oid, err)
		}
		if b.CertifiedEpoch == nil {
			return blobInfo{}, notFound("BLOB_NOT_FOUND", "the blob object is registered but not certified")
		}
		// The chain may answer an expired object too: its storage, and so
		// the slivers, ended with its end epoch.
		es, err := g.b.Chain().EpochState(ctx)
		if err != nil {
			return blobInfo{}, fmt.Errorf("%w: %w", node.ErrChain, err)
		}
		if b.Storage.EndEpoch <= es.Epoch {
			return blobInfo{}, notFound("BLOB_NOT_FOUND",
				fmt.Sprintf("the blob object expired: its storage ended at epoch %d", b.Storage.EndEpoch))
		}
		g.sizes.put(b.BlobID, b.Size)
		ct, err := g.attributeContentType(ctx, oid)
		if err != nil {
			return blobInfo{}, fmt.Errorf("%w: blob object %s attributes: %w", node.ErrChain, oid, err)
		}
		return blobInfo{id: b.BlobID, size: b.Size, contentType: ct}, nil
	}
	g.read(w, r, false, find, func(ctx context.Context, info blobInfo, q readQuery) {
		g.serveRange(ctx, w, r, info, q)
	})
}

// getByteRange serves GET/HEAD /v1/blobs/{blob_id}/byte-range?start=&length=.
// As the Walrus aggregator, it answers 200 (cacheable by CDNs) with an ETag
// naming the blob and the range.
func (g *Gateway) getByteRange(w http.ResponseWriter, r *http.Request, p []string) {
	g.readByID(w, r, p[0], true, func(ctx context.Context, info blobInfo, q readQuery) {
		if q.start+q.length > info.size {
			g.fail(w, r, badRequest("INVALID_BYTE_RANGE", "byte range [%d, %d) is not within the blob's %d bytes",
				q.start, q.start+q.length, info.size))
			return
		}
		etag := fmt.Sprintf("%s-%d-%d", info.id, q.start, q.length)
		g.serve(ctx, w, r, info, q, etag, q.start, q.length, http.StatusOK)
	})
}

// serveRange answers a read of info honouring Range, If-Range and
// If-None-Match.
func (g *Gateway) serveRange(ctx context.Context, w http.ResponseWriter, r *http.Request, info blobInfo, q readQuery) {
	etag := info.id.String()
	start, length, status := uint64(0), info.size, http.StatusOK
	if h := r.Header.Get("Range"); h != "" && ifRangeMatches(r.Header.Get("If-Range"), etag) {
		br, err := parseRange(h)
		var ok bool
		if err == nil {
			start, length, ok = br.resolve(info.size)
		}
		if !ok {
			w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", info.size))
			msg := fmt.Sprintf("range %q is not satisfiable for a blob of %d bytes", h, info.size)
			if err != nil {
				msg = err.Error()
			}
			e := rangeNotSatisfiable("%s", msg)
			e.metadata = map[string]any{"size": info.size}
			g.fail(w, r, e)
			return
		}
		status = http.StatusPartialContent
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, start+length-1, info.size))
	}
	g.serve(ctx, w, r, info, q, etag, start, length, status)
}

// serve checks the size limit and conditional headers, then reads the blob
// and writes bytes [start, start+length) of it.
func (g *Gateway) serve(ctx context.Context, w http.ResponseWriter, r *http.Request, info blobInfo, q readQuery,
	etag string, start, length uint64, status int) {
	if info.size > uint64(g.cfg.MaxBlobSize) {
		g.fail(w, r, &apiError{code: http.StatusForbidden, status: StatusSizeExceeded, reason: "BLOB_TOO_LARGE",
			message:  fmt.Sprintf("the blob size %d exceeds the maximum allowed size: %d", info.size, g.cfg.MaxBlobSize),
			metadata: map[string]any{"size": info.size, "max_size": g.cfg.MaxBlobSize}})
		return
	}
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", cacheControl)
	h.Set("ETag", etag)
	if etagMatches(r.Header.Get("If-None-Match"), etag) {
		h.Del("Content-Range")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Accept-Ranges", "bytes")
	ct, sniff := g.chooseContentType(r, q, info)
	setType := func(ct string) {
		if ct != "" {
			h.Set("Content-Type", ct)
		} else {
			h["Content-Type"] = nil // no sniffing by net/http either
		}
	}
	h.Set("Content-Length", strconv.FormatUint(length, 10))
	if r.Method == http.MethodHead {
		if sniff != noSniff {
			head, err := g.readHead(ctx, info, q)
			if err != nil {
				g.fail(w, r, readError(err))
				return
			}
			ct = sniffContentType(head, uint64(len(head)) == info.size, sniff)
		}
		setType(ct)
		w.WriteHeader(status)
		return
	}
	if length > streamedReadMin && q.check != codec.CheckStrict {
		g.serveStreamed(ctx, w, r, info, q, start, length, status, ct, sniff, setType)
		return
	}
	var out []byte
	var liars int
	if start == 0 && length == info.size {
		res, err := g.b.Read(ctx, info.id, node.ReadOptions{Check: q.check})
		if err != nil {
			g.fail(w, r, readError(err))
			return
		}
		if uint64(len(res.Data)) != info.size {
			g.fail(w, r, sizeMismatch(uint64(len(res.Data)), info.size))
			return
		}
		out, liars = res.Data, len(res.Liars)
	} else {
		// Only the slivers holding the range are fetched (node.ReadRange).
		res, err := g.b.ReadRange(ctx, info.id, start, length, node.ReadOptions{Check: q.check})
		if err != nil {
			g.fail(w, r, readError(err))
			return
		}
		if res.Size != info.size || uint64(len(res.Data)) != length {
			g.fail(w, r, sizeMismatch(res.Size, info.size))
			return
		}
		out, liars = res.Data, len(res.Liars)
	}
	if liars > 0 {
		g.log.Info("gateway: nodes served invalid data", "blob_id", info.id, "nodes", liars)
	}
	if sniff != noSniff {
		head := out
		if start != 0 || (length < sniffLen && length < info.size) {
			// The range does not hold the sniff window: read it (at most
			// sniffLen bytes, one primary sliver).
			var err error
			if head, err = g.readHead(ctx, info, q); err != nil {
				g.fail(w, r, readError(err))
				return
			}
		}
		ct = sniffContentType(head, uint64(len(head)) == info.size, sniff)
	}
	setType(ct)
	w.WriteHeader(status)
	if _, err := w.Write(out); err != nil {
		g.log.Debug("gateway: write body", "blob_id", info.id, "err", err)
	}
}

// streamedReadMin is the read length from which the gateway streams the
// bytes to the client as their rows arrive (node.Client.ReadRangeTo)
// rather than reading them into memory first: its memory then stays
// bounded whatever the blob's size.
const streamedReadMin = 1 << 20

// serveStreamed writes bytes [start, start+length) of the blob as they
// arrive. The status and headers go out once the blob's metadata verified;
// a failure after that can only cut the body short (the client sees fewer
// bytes than Content-Length says).
func (g *Gateway) serveStreamed(ctx context.Context, w http.ResponseWriter, r *http.Request, info blobInfo, q readQuery,
	start, length uint64, status int, ct string, sniff sniffMode, setType func(string)) {
	if sniff != noSniff {
		head, err := g.readHead(ctx, info, q)
		if err != nil {
			g.fail(w, r, readError(err))
			return
		}
		ct = sniffContentType(head, uint64(len(head)) == info.size, sniff)
	}
	started := false
	res, err := g.b.ReadRangeTo(ctx, info.id, start, length, w, node.ReadOptions{Check: q.check, SpillDir: g.cfg.SpillDir,
		Size: func(size uint64) error {
			if size != info.size {
				return sizeMismatch(size, info.size)
			}
			setType(ct)
			w.WriteHeader(status)
			started = true
			return nil
		}})
	if err != nil {
		if !started {
			g.fail(w, r, readError(err))
			return
		}
		g.log.Warn("gateway: a streamed read failed after its headers were sent; cutting the body short",
			"blob_id", info.id, "err", err)
		panic(http.ErrAbortHandler) // net/http closes the connection without logging
	}
	if len(res.Liars) > 0 {
		g.log.Info("gateway: nodes served invalid data", "blob_id", info.id, "nodes", len(res.Liars))
	}
}

// readHead reads the first bytes of a blob (up to sniffLen) to sniff its
// type.
func (g *Gateway) readHead(ctx context.Context, info blobInfo, q readQuery) ([]byte, error) {
	n := min(info.size, sniffLen)
	if n == 0 {
		return nil, nil
	}
	res, err := g.b.ReadRange(ctx, info.id, 0, n, node.ReadOptions{Check: q.check})
	if err != nil {
		return nil, err
	}
	if res.Size != info.size || uint64(len(res.Data)) != n {
		return nil, sizeMismatch(res.Size, info.size)
	}
	return res.Data, nil
}

func sizeMismatch(got, want uint64) *apiError {
	return &apiError{code: http.StatusInternalServerError, status: StatusInternal, reason: "SIZE_MISMATCH",
		message: fmt.Sprintf("read a blob of %d bytes, the chain says %d", got, want)}
}

// readContext bounds a read by the read timeout, also on the connection's
// write side so a stalled client cannot hold a slot forever.
func (g *Gateway) readContext(w http.ResponseWriter, r *http.Request) (context.Context, context.CancelFunc) {
	deadline := time.Now().Add(g.cfg.ReadTimeout)
	_ = http.NewResponseController(w).SetWriteDeadline(deadline.Add(time.Second))
	return context.WithDeadline(r.Context(), deadline)
}

// responseContentType mirrors the request as the Walrus aggregator does
// (F11.1): the Accept header if it names no wildcard, else the request's
// Content-Type; the floe extension ?content_type= wins over both.
func responseContentType(r *http.Request, param string) string {
	if param != "" {
		return param
	}
	if a := r.Header.Get("Accept"); a != "" && !strings.Contains(a, "*") {
		return a
	}
	return r.Header.Get("Content-Type")
}

// etagMatches reports whether an If-None-Match value names etag (weak
// comparison, quoted or not, or *).
func etagMatches(inm, etag string) bool {
	if inm == "" {
		return false
	}
	for _, t := range strings.Split(inm, ",") {
		t = strings.TrimSpace(t)
		if t == "*" {
			return true
		}
		t = strings.TrimPrefix(t, "W/")
		if strings.Trim(t, `"`) == etag {
			return true
		}
	}
	return false
}

// ifRangeMatches reports whether Range applies under If-Range: no If-Range,
// or one naming the blob's ETag (a date never matches: blobs carry none).
func ifRangeMatches(ifRange, etag string) bool {
	if ifRange == "" {
		return true
	}
	t := strings.TrimSpace(ifRange)
	if strings.HasPrefix(t, "W/") {
		return false // If-Range requires a strong validator
	}
	return strings.Trim(t, `"`) == etag
}
