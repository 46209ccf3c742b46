package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"floe/codec"
	"floe/node"
)

// Quilt routes (F11.1, F11.3): PUT /v1/quilts stores the parts of a
// multipart/form-data body as one quilt, each under its field name; the
// reads answer one file of a quilt, by quilt patch ID or by quilt ID and
// identifier, fetching only the secondary slivers of its patch (and of the
// index); GET /v1/quilts/{quilt_id}/patches lists the index.

// QuiltBackend is the optional part of a Backend that stores and reads
// quilts; a backend without it answers 501 on the quilt routes.
type QuiltBackend interface {
	StoreQuilt(ctx context.Context, files []codec.QuiltFile, opts node.StoreOptions) (*node.QuiltStoreResult, error)
	ReadQuiltPatch(ctx context.Context, id codec.QuiltPatchID, opts node.ReadOptions) (*node.QuiltReadResult, error)
	ReadQuiltFile(ctx context.Context, quiltID codec.BlobID, identifier string, opts node.ReadOptions) (*node.QuiltReadResult, error)
	ListQuiltPatches(ctx context.Context, quiltID codec.BlobID, opts node.ReadOptions) (*node.QuiltReadResult, error)
}

// *node.Client stores and reads quilts.
var _ QuiltBackend = (*node.Client)(nil)

// QuiltPatchIdentifierHeader names the file a quilt read answers. An
// identifier that is not printable ASCII is sent percent-encoded
// (url.PathEscape), as a header value must be.
const QuiltPatchIdentifierHeader = "X-Quilt-Patch-Identifier"

// quiltMetadataField is the optional multipart field of PUT /v1/quilts
// with the files' tags: a JSON array of {"identifier", "tags"}.
const quiltMetadataField = "_metadata"

// maxQuiltMetadata bounds the _metadata field; maxQuiltParts the parts
// of a body (a quilt holds fewer files than shards).
const (
	maxQuiltMetadata = 1 << 20
	maxQuiltParts    = 1 << 16
)

// QuiltStoreResponse is the answer of PUT /v1/quilts (F11.3).
type QuiltStoreResponse struct {
	BlobStoreResult  StoreResponse     `json:"blobStoreResult"`
	StoredQuiltBlobs []StoredQuiltBlob `json:"storedQuiltBlobs"`
}

// StoredQuiltBlob is one stored file and its quilt patch ID.
type StoredQuiltBlob struct {
	Identifier   string `json:"identifier"`
	QuiltPatchID string `json:"quiltPatchId"`
}

// QuiltPatchItem is one entry of GET /v1/quilts/{quilt_id}/patches.
type QuiltPatchItem struct {
	Identifier string            `json:"identifier"`
	PatchID    string            `json:"patchId"`
	Tags       map[string]string `json:"tags"`
}

func (g *Gateway) quiltBackend(w http.ResponseWriter) (QuiltBackend, bool) {
	qb, ok := g.b.(QuiltBackend)
	if !ok {
		writeError(w, &apiError{code: http.StatusNotImplemented, status: StatusInternal, reason: "QUILTS_UNSUPPORTED",
			message: "this gateway's backend does not store quilts"})
	}
	return qb, ok
}

// quiltError maps an error of a quilt read or store to its answer.
func quiltError(err error, store bool) *apiError {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, codec.ErrInvalidQuiltPatchID):
		return &apiError{code: http.StatusBadRequest, status: StatusInvalidArgument, reason: "INVALID_QUILT_PATCH_ID",
			message: err.Error(), cause: err}
	case errors.Is(err, codec.ErrQuiltPatchNotFound):
		return &apiError{code: http.StatusNotFound, status: StatusNotFound, reason: "QUILT_PATCH_NOT_FOUND",
			message: "the quilt has no file with this identifier", cause: err}
	case errors.Is(err, codec.ErrMalformedQuilt):
		return &apiError{code: http.StatusNotFound, status: StatusNotFound, reason: "NOT_A_QUILT",
			message: "the blob is not a well-formed QuiltV1 quilt", cause: err}
	case errors.Is(err, codec.ErrQuiltTooLarge):
		return &apiError{code: http.StatusRequestEntityTooLarge, status: StatusSizeExceeded, reason: "QUILT_TOO_LARGE",
			message: err.Error(), cause: err}
	case errors.Is(err, codec.ErrQuiltDuplicateIdentifier), errors.Is(err, codec.ErrInvalidQuiltIdentifier),
		errors.Is(err, codec.ErrQuiltIdentifierTooLarge), errors.Is(err, codec.ErrInvalidQuiltTags),
		errors.Is(err, codec.ErrQuiltTagsTooLarge), errors.Is(err, codec.ErrQuiltTooManyFiles):
		return &apiError{code: http.StatusBadRequest, status: StatusInvalidArgument, reason: "INVALID_QUILT",
			message: err.Error(), cause: err}
	}
	if store {
		return storeError(err)
	}
	return readError(err)
}

// readQuiltBody parses a PUT /v1/quilts body: each part a file named by
// its field name, the _metadata part the files' tags. Bounded by limit
// bytes of parts in all.
func readQuiltBody(r *http.Request, body io.Reader, limit int64) ([]codec.QuiltFile, error) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return nil, badRequest("INVALID_CONTENT_TYPE", "PUT /v1/quilts takes multipart/form-data with a boundary")
	}
	mr := multipart.NewReader(body, params["boundary"])
	var files []codec.QuiltFile
	index := map[string]int{}
	var meta []struct {
		Identifier string            `json:"identifier"`
		Tags       map[string]string `json:"tags"`
	}
	seenMeta := false
	left := limit
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("multipart body: %w", err)
		}
		name := part.FormName()
		if name == "" {
			return nil, badRequest("INVALID_QUILT", "a part has no form field name (the file's identifier)")
		}
		if name == quiltMetadataField {
			if seenMeta {
				return nil, badRequest("INVALID_QUILT", "two %s parts", quiltMetadataField)
			}
			seenMeta = true
			b, err := io.ReadAll(io.LimitReader(part, maxQuiltMetadata+1))
			if err != nil {
				return nil, fmt.Errorf("multipart body: %w", err)
			}
			if len(b) > maxQuiltMetadata {
				return nil, badRequest("INVALID_QUILT", "%s larger than %d bytes", quiltMetadataField, maxQuiltMetadata)
			}
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&meta); err != nil {
				return nil, badRequest("INVALID_QUILT", "%s: want a JSON array of {\"identifier\", \"tags\"}: %v", quiltMetadataField, err)
			}
			continue
		}
		if len(files) == maxQuiltParts {
			return nil, badRequest("INVALID_QUILT", "more than %d parts", maxQuiltParts)
		}
		if _, dup := index[name]; dup {
			return nil, &apiError{code: http.StatusBadRequest, status: StatusInvalidArgument, reason: "INVALID_QUILT",
				message: fmt.Sprintf("two parts named %q", name), cause: codec.ErrQuiltDuplicateIdentifier}
		}
		data, err := io.ReadAll(io.LimitReader(part, left+1))
		if err != nil {
			return nil, fmt.Errorf("multipart body: %w", err)
		}
		if left -= int64(len(data)); left < 0 {
			return nil, &http.MaxBytesError{Limit: limit}
		}
		index[name] = len(files)
		files = append(files, codec.QuiltFile{Identifier: name, Data: data})
	}
	if len(files) == 0 {
		return nil, badRequest("INVALID_QUILT", "the body has no file part")
	}
	for _, m := range meta {
		i, ok := index[m.Identifier]
		if !ok {
			return nil, badRequest("INVALID_QUILT", "%s names %q, which is no part of the body", quiltMetadataField, m.Identifier)
		}
		if files[i].Tags != nil {
			return nil, badRequest("INVALID_QUILT", "%s names %q twice", quiltMetadataField, m.Identifier)
		}
		files[i].Tags = m.Tags
		if files[i].Tags == nil {
			files[i].Tags = map[string]string{}
		}
	}
	return files, nil
}

// putQuilt serves PUT /v1/quilts.
func (g *Gateway) putQuilt(w http.ResponseWriter, r *http.Request, _ []string) {
	if g.cfg.AuthToken != "" && !g.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="floe gateway"`)
		writeError(w, &apiError{code: http.StatusUnauthorized, status: StatusUnauthenticated, reason: "UNAUTHENTICATED",
			message: "this publisher requires Authorization: Bearer <token>"})
		return
	}
	qb, ok := g.quiltBackend(w)
	if !ok {
		return
	}
	q, err := parseStoreQuery(r.URL.RawQuery)
	if err != nil {
		writeError(w, storeError(err))
		return
	}
	// A quilt is one blob, built in memory from its parts: at most
	// MaxBlobSize of them, and of the body (boundaries, headers).
	limit := g.cfg.MaxBlobSize
	if r.ContentLength > limit+1<<20 {
		w.Header().Set("Connection", "close")
		writeError(w, g.tooLarge(r.ContentLength))
		return
	}
	w.Header().Set("Connection", "close") // on a 429 the body is not read
	release, ok := g.acquire(w, r, g.stores)
	if !ok {
		return
	}
	defer release()
	w.Header().Del("Connection")
	body := http.MaxBytesReader(w, r.Body, limit+1<<20)
	defer body.Close()
	br := newBodyReader(w, body, g.cfg.BodyChunkTimeout, g.cfg.BodyMinBytes)
	files, err := readQuiltBody(r, br, limit)
	if err != nil {
		var ae *apiError
		if errors.As(err, &ae) {
			g.fail(w, r, ae)
		} else {
			g.failBody(w, r, err)
		}
		return
	}
	ectx, ecancel := context.WithTimeout(r.Context(), g.cfg.StoreTimeout)
	es, err := g.b.Chain().EpochState(ectx)
	ecancel()
	if err != nil {
		g.fail(w, r, storeError(fmt.Errorf("%w: epoch state: %w", node.ErrChain, err)))
		return
	}
	if es.MaxEpochsAhead > 0 && q.epochs > es.MaxEpochsAhead {
		g.fail(w, r, badRequest("INVALID_EPOCHS", "epochs=%d exceeds the network's maximum of %d epochs ahead",
			q.epochs, es.MaxEpochsAhead))
		return
	}
	deadline := time.Now().Add(g.cfg.StoreTimeout)
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(deadline.Add(time.Second))
	_ = rc.SetWriteDeadline(deadline.Add(time.Second))
	ctx, cancel := context.WithDeadline(r.Context(), deadline)
	defer cancel()
	res, err := qb.StoreQuilt(ctx, files, node.StoreOptions{
		Epochs: q.epochs, Deletable: !q.permanent, Force: q.force, SendObjectTo: q.sendObjectTo, SpillDir: g.cfg.SpillDir,
	})
	if err != nil {
		g.fail(w, r, quiltError(err, true))
		return
	}
	out := QuiltStoreResponse{BlobStoreResult: g.storeResponse(ctx, res.StoreResult, !q.permanent),
		StoredQuiltBlobs: make([]StoredQuiltBlob, len(res.Patches))}
	for i, p := range res.Patches {
		out.StoredQuiltBlobs[i] = StoredQuiltBlob{Identifier: p.Identifier, QuiltPatchID: p.PatchID.String()}
	}
	g.log.Info("gateway: stored quilt", "quilt_id", res.BlobID, "files", len(files),
		"already_certified", res.AlreadyCertified, "end_epoch", res.EndEpoch)
	writeJSON(w, http.StatusOK, out)
}

// storeResponse is the BlobStoreResult of a store (as PUT /v1/blobs
// answers it).
func (g *Gateway) storeResponse(ctx context.Context, res *node.StoreResult, deletable bool) StoreResponse {
	var out StoreResponse
	if res.AlreadyCertified {
		ac := &AlreadyCertified{BlobID: res.BlobID, EndEpoch: res.EndEpoch}
		if oid, ok := g.certifiedObject(ctx, res.BlobID, res.EndEpoch, deletable); ok {
			ac.Object = &oid
		}
		out.AlreadyCertified = ac
		return out
	}
	b := res.Blob
	out.NewlyCreated = &NewlyCreated{
		BlobObject: BlobObject{
			ID: b.ObjectID, RegisteredEpoch: b.RegisteredEpoch, BlobID: b.BlobID, Size: b.Size,
			EncodingType: encodingName(b.EncodingType), CertifiedEpoch: b.CertifiedEpoch,
			Storage: StorageObject{ID: b.Storage.ID, StartEpoch: b.Storage.StartEpoch,
				EndEpoch: b.Storage.EndEpoch, StorageSize: b.Storage.Size},
			Deletable: b.Deletable,
		},
		ResourceOperation: ResourceOperation{RegisterFromScratch: &RegisterFromScratch{
			EncodedLength: res.EncodedLength, EpochsAhead: res.EpochsAhead}},
		Cost: res.Cost,
	}
	return out
}

// quiltRead does what every quilt read does first: parse the query, take
// a read slot, bound the work by the read timeout; then read answers.
func (g *Gateway) quiltRead(w http.ResponseWriter, r *http.Request,
	read func(ctx context.Context, qb QuiltBackend, opts node.ReadOptions) (*node.QuiltReadResult, error)) {
	qb, ok := g.quiltBackend(w)
	if !ok {
		return
	}
	q, err := parseReadQuery(r.URL.RawQuery, false, !g.cfg.DisableContentTypeParam)
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
	res, err := read(ctx, qb, node.ReadOptions{Check: q.check})
	if err != nil {
		g.fail(w, r, quiltError(err, false))
		return
	}
	g.servePatch(w, r, q, res)
}

// servePatch answers a file read from a quilt: its bytes, ETag the patch
// ID, X-Quilt-Patch-Identifier, and the Content-Type of a blob read with
// the file's content-type tag in the place of the object's attribute.
func (g *Gateway) servePatch(w http.ResponseWriter, r *http.Request, q readQuery, res *node.QuiltReadResult) {
	f := res.File
	if len(res.Liars) > 0 {
		g.log.Info("gateway: nodes served invalid data", "quilt_id", res.PatchID.QuiltID, "nodes", len(res.Liars))
	}
	etag := res.PatchID.String()
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", cacheControl)
	h.Set("ETag", etag)
	h.Set(QuiltPatchIdentifierHeader, headerSafe(f.Identifier))
	h.Add("Access-Control-Expose-Headers", QuiltPatchIdentifierHeader)
	if etagMatches(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	info := blobInfo{id: res.PatchID.QuiltID, size: uint64(len(f.Data)), contentType: tagContentType(f.Tags)}
	ct, sniff := g.chooseContentType(r, q, info)
	if sniff != noSniff {
		ct = sniffContentType(f.Data, true, sniff)
	}
	if ct != "" {
		h.Set("Content-Type", ct)
	} else {
		h["Content-Type"] = nil
	}
	h.Set("Content-Length", strconv.Itoa(len(f.Data)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		if _, err := w.Write(f.Data); err != nil {
			g.log.Debug("gateway: write body", "patch_id", etag, "err", err)
		}
	}
}

// tagContentType is a file's content-type tag, if it is a media type.
func tagContentType(tags map[string]string) string {
	v, ok := headerAttributes(tags)["Content-Type"]
	if !ok {
		return ""
	}
	if _, err := parseContentType(v); err != nil {
		return ""
	}
	return v
}

// headerSafe returns s if it is printable ASCII, else s percent-encoded.
func headerSafe(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] >= 0x7f {
			return url.PathEscape(s)
		}
	}
	return s
}

// getByQuiltPatchID serves GET/HEAD /v1/blobs/by-quilt-patch-id/{patch_id}.
func (g *Gateway) getByQuiltPatchID(w http.ResponseWriter, r *http.Request, p []string) {
	id, err := codec.ParseQuiltPatchID(p[0])
	if err != nil {
		writeError(w, quiltError(err, false))
		return
	}
	g.quiltRead(w, r, func(ctx context.Context, qb QuiltBackend, opts node.ReadOptions) (*node.QuiltReadResult, error) {
		return qb.ReadQuiltPatch(ctx, id, opts)
	})
}

// quiltIDPrefix is the path of the by-quilt-id route before its quilt ID.
const quiltIDPrefix = "/v1/blobs/by-quilt-id/"

// getByQuiltID serves GET/HEAD /v1/blobs/by-quilt-id/{quilt_id}/{identifier}.
// The identifier is the rest of the (escaped) path, percent-decoded, so
// one with slashes is named either with them or with %2F.
func (g *Gateway) getByQuiltID(w http.ResponseWriter, r *http.Request, _ []string) {
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), quiltIDPrefix)
	rawID, rawName, ok2 := strings.Cut(rest, "/")
	if !ok || !ok2 || rawName == "" {
		writeError(w, badRequest("INVALID_IDENTIFIER", "want %s{quilt_id}/{identifier}", quiltIDPrefix))
		return
	}
	quiltID, err := codec.ParseBlobID(rawID)
	if err != nil {
		writeError(w, badRequest("INVALID_BLOB_ID", "%v", err))
		return
	}
	name, err := url.PathUnescape(rawName)
	if err != nil {
		writeError(w, badRequest("INVALID_IDENTIFIER", "identifier %q: %v", rawName, err))
		return
	}
	g.quiltRead(w, r, func(ctx context.Context, qb QuiltBackend, opts node.ReadOptions) (*node.QuiltReadResult, error) {
		return qb.ReadQuiltFile(ctx, quiltID, name, opts)
	})
}

// getQuiltPatches serves GET/HEAD /v1/quilts/{quilt_id}/patches.
func (g *Gateway) getQuiltPatches(w http.ResponseWriter, r *http.Request, p []string) {
	quiltID, err := codec.ParseBlobID(p[0])
	if err != nil {
		writeError(w, badRequest("INVALID_BLOB_ID", "%v", err))
		return
	}
	qb, ok := g.quiltBackend(w)
	if !ok {
		return
	}
	q, err := parseReadQuery(r.URL.RawQuery, false, false)
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
	res, err := qb.ListQuiltPatches(ctx, quiltID, node.ReadOptions{Check: q.check})
	if err != nil {
		g.fail(w, r, quiltError(err, false))
		return
	}
	items := make([]QuiltPatchItem, len(res.Index.Patches))
	for i, pt := range res.Index.Patches {
		tags := pt.Tags
		if tags == nil {
			tags = map[string]string{}
		}
		items[i] = QuiltPatchItem{Identifier: pt.Identifier, PatchID: pt.ID(quiltID).String(), Tags: tags}
	}
	w.Header().Set("Cache-Control", cacheControl)
	w.Header().Set("ETag", quiltID.String()+"-patches")
	if etagMatches(r.Header.Get("If-None-Match"), quiltID.String()+"-patches") {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	writeJSON(w, http.StatusOK, items)
}

// prefixRoute dispatches the routes whose last parameter spans several
// path segments (a quilt identifier with slashes), which the route table
// matches segment by segment; it returns the route's pattern, "" when it
// is none of them.
func (g *Gateway) prefixRoute(w http.ResponseWriter, r *http.Request) string {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return ""
	}
	if g.siteRoute(w, r) {
		return sitePrefix + "{site_id}/{path}"
	}
	rest, ok := strings.CutPrefix(r.URL.Path, quiltIDPrefix)
	if !ok || strings.Count(rest, "/") < 2 {
		return "" // one identifier segment: the table's route
	}
	g.getByQuiltID(w, r, nil)
	return quiltIDPrefix + "{quilt_id}/{identifier}"
}

// ---- the route table's entries (routes.go) ----

func quiltReadOp(id, summary string, params []any, octets map[string]any) map[string]any {
	headers := map[string]any{
		"ETag":                     hdr("The quilt patch ID."),
		"Cache-Control":            hdr(cacheControl),
		"X-Content-Type-Options":   hdr("nosniff"),
		QuiltPatchIdentifierHeader: hdr("The file's identifier (percent-encoded unless printable ASCII)."),
		"Content-Type": hdr("The content_type parameter, else the file's content-type tag, else Accept when it " +
			"names no wildcard, else the request's Content-Type, else the sniffed type if the gateway sniffs, else absent."),
	}
	return map[string]any{
		"operationId": id,
		"summary":     summary,
		"description": "Reads the file from the secondary slivers that hold its patch (and, by identifier, the " +
			"quilt's index), each verified against the quilt's metadata; the whole quilt when they cannot be had.",
		"parameters": params,
		"responses": map[string]any{
			"200": map[string]any{"description": "The file.", "headers": headers, "content": octets},
			"304": map[string]any{"description": "If-None-Match matched the ETag."},
			"400": errResp("Malformed ID, identifier or query (INVALID_QUILT_PATCH_ID, INVALID_BLOB_ID)."),
			"404": errResp("No certified quilt (BLOB_NOT_FOUND), not a quilt (NOT_A_QUILT), no such file (QUILT_PATCH_NOT_FOUND)."),
			"429": errResp("Too many requests in progress (RESOURCE_EXHAUSTED)."),
			"501": errResp("The backend stores no quilts (QUILTS_UNSUPPORTED)."),
			"503": errResp("Not enough storage nodes answered (UNAVAILABLE)."),
			"504": errResp("The read timed out (DEADLINE_EXCEEDED)."),
		},
	}
}

func (g *Gateway) quiltPatchRoute(readParams, readHeaders []any, octets map[string]any) route {
	id := param("patch_id", "path", true, "The quilt patch ID, URL-safe base64 without padding (50 characters).",
		map[string]any{"type": "string", "pattern": "^[A-Za-z0-9_-]{50}$"})
	return route{method: http.MethodGet, path: "/v1/blobs/by-quilt-patch-id/{patch_id}", handle: g.getByQuiltPatchID,
		op: quiltReadOp("getBlobByQuiltPatchId", "Read one file of a quilt by its quilt patch ID (F11.1).",
			append(append([]any{id}, readParams...), readHeaders[1:]...), octets)}
}

func (g *Gateway) quiltFileRoute(readParams, readHeaders []any, octets map[string]any) route {
	params := []any{
		param("quilt_id", "path", true, "The quilt ID (a blob ID).", map[string]any{"type": "string", "pattern": "^[A-Za-z0-9_-]{43}$"}),
		param("identifier", "path", true, "The file's identifier, percent-encoded; slashes may stay.", map[string]any{"type": "string"}),
	}
	return route{method: http.MethodGet, path: quiltIDPrefix + "{quilt_id}/{identifier}", handle: g.getByQuiltID,
		op: quiltReadOp("getBlobByQuiltId", "Read one file of a quilt by its identifier (F11.1).",
			append(append(params, readParams...), readHeaders[1:]...), octets)}
}

func (g *Gateway) quiltPatchesRoute() route {
	item := map[string]any{"type": "object", "properties": map[string]any{
		"identifier": map[string]any{"type": "string"}, "patchId": map[string]any{"type": "string"},
		"tags": map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "string"}},
	}}
	return route{method: http.MethodGet, path: "/v1/quilts/{quilt_id}/patches", handle: g.getQuiltPatches,
		op: map[string]any{
			"operationId": "listQuiltPatches",
			"summary":     "List the files of a quilt, read from the secondary slivers of its index (F11.1).",
			"parameters": []any{param("quilt_id", "path", true, "The quilt ID.",
				map[string]any{"type": "string", "pattern": "^[A-Za-z0-9_-]{43}$"})},
			"responses": map[string]any{
				"200": jsonResp("The patches in index order.", map[string]any{"type": "array", "items": item}),
				"400": errResp("Malformed quilt ID (INVALID_BLOB_ID)."),
				"404": errResp("No certified quilt (BLOB_NOT_FOUND) or not a quilt (NOT_A_QUILT)."),
				"501": errResp("The backend stores no quilts (QUILTS_UNSUPPORTED)."),
				"503": errResp("Not enough storage nodes answered (UNAVAILABLE)."),
			},
		}}
}

func (g *Gateway) putQuiltRoute() route {
	return route{method: http.MethodPut, path: "/v1/quilts", handle: g.putQuilt,
		op: map[string]any{
			"operationId": "putQuilt",
			"summary":     "Store the files of a multipart/form-data body as one quilt (publisher, F11.3).",
			"description": "Each part is a file whose identifier is its form field name; an optional _metadata part " +
				"holds a JSON array of {\"identifier\", \"tags\"}. Takes the query parameters of PUT /v1/blobs. " +
				"The blob object gets the attribute _walrusBlobType=quilt.",
			"security": []any{map[string]any{"bearer": []any{}}},
			"requestBody": map[string]any{"required": true, "content": map[string]any{
				"multipart/form-data": map[string]any{"schema": map[string]any{"type": "object"}}}},
			"responses": map[string]any{
				"200": jsonResp("The quilt is stored: blobStoreResult (as PUT /v1/blobs) and storedQuiltBlobs "+
					"[{identifier, quiltPatchId}].", map[string]any{"type": "object"}),
				"400": errResp("Not multipart, a bad query, duplicate or invalid identifiers, bad _metadata (INVALID_QUILT)."),
				"401": errResp("Missing or wrong bearer token (UNAUTHENTICATED)."),
				"413": errResp("The files exceed the maximum blob size or one quilt (BLOB_TOO_LARGE, QUILT_TOO_LARGE)."),
				"429": errResp("Too many stores in progress (RESOURCE_EXHAUSTED)."),
				"501": errResp("The backend stores no quilts (QUILTS_UNSUPPORTED)."),
				"503": errResp("The chain or too many storage nodes are unreachable (UNAVAILABLE)."),
			},
		}}
}
