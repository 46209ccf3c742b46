package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"floe/chainlink"
	"floe/codec"
)

type quiltPart struct {
	name string
	data []byte
}

// multipartBody builds a PUT /v1/quilts body; meta, if set, is the
// _metadata field.
func multipartBody(t testing.TB, parts []quiltPart, meta string) ([]byte, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for _, p := range parts {
		w, err := mw.CreateFormFile(p.name, "ignored-file-name")
		if err != nil {
			t.Fatal(err)
		}
		w.Write(p.data)
	}
	if meta != "" {
		mw.WriteField(quiltMetadataField, meta)
	}
	mw.Close()
	return b.Bytes(), mw.FormDataContentType()
}

func putQuiltReq(t testing.TB, base, query string, parts []quiltPart, meta string) (*http.Response, []byte) {
	t.Helper()
	body, ct := multipartBody(t, parts, meta)
	u := base + "/v1/quilts"
	if query != "" {
		u += "?" + query
	}
	return do(t, http.MethodPut, u, body, map[string]string{"Content-Type": ct})
}

var quiltTestParts = []quiltPart{
	{"index.html", []byte("<!doctype html><title>quilt</title><p>hello")},
	{"css/site.css", []byte("body { color: #123 }")},
	{"données/été.txt", []byte("non-ASCII identifier")},
	{"big.bin", bytes.Repeat([]byte{7}, 3000)},
}

// checkQuilt runs the quilt routes against a gateway at base and checks
// every answer; the same checks run on the fake backend and on a devnet.
func checkQuilt(t *testing.T, base string, p codec.Params, attrs func(chainlink.ID) map[string]string) {
	meta := `[{"identifier":"index.html","tags":{"content-type":"text/html; charset=utf-8","lang":"en"}},
		{"identifier":"big.bin","tags":{}}]`
	resp, body := putQuiltReq(t, base, "epochs=2", quiltTestParts, meta)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT /v1/quilts: %d %s", resp.StatusCode, body)
	}
	// The F11.3 shape, key by key.
	var shape map[string]json.RawMessage
	json.Unmarshal(body, &shape)
	if len(shape) != 2 || shape["blobStoreResult"] == nil || shape["storedQuiltBlobs"] == nil {
		t.Fatalf("PUT /v1/quilts answer: %s", body)
	}
	checkStoreShape(t, shape["blobStoreResult"])
	var out QuiltStoreResponse
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatal(err)
	}
	nc := out.BlobStoreResult.NewlyCreated
	if nc == nil || nc.BlobObject.Storage.EndEpoch-nc.BlobObject.RegisteredEpoch != 2 {
		t.Fatalf("not newly created for 2 epochs: %s", body)
	}
	// The same quilt as codec lays out (whose IDs match the SDK's).
	files := make([]codec.QuiltFile, len(quiltTestParts))
	for i, qp := range quiltTestParts {
		files[i] = codec.QuiltFile{Identifier: qp.name, Data: qp.data}
	}
	files[0].Tags = map[string]string{"content-type": "text/html; charset=utf-8", "lang": "en"}
	q, err := codec.EncodeQuilt(p, files)
	if err != nil {
		t.Fatal(err)
	}
	_, quiltID, err := codec.ComputeMetadata(p, q.Blob)
	if err != nil {
		t.Fatal(err)
	}
	if nc.BlobObject.BlobID != quiltID || len(out.StoredQuiltBlobs) != len(files) {
		t.Fatalf("quilt ID %s, codec's %s", nc.BlobObject.BlobID, quiltID)
	}
	byName := map[string][]byte{}
	for _, qp := range quiltTestParts {
		byName[qp.name] = qp.data
	}
	for i, sb := range out.StoredQuiltBlobs {
		if sb.Identifier != q.Index.Patches[i].Identifier || sb.QuiltPatchID != q.Index.Patches[i].ID(quiltID).String() {
			t.Fatalf("stored %d: %+v", i, sb)
		}
	}
	if a := attrs(nc.BlobObject.ID); a[chainlink.AttrBlobType] != chainlink.AttrBlobTypeQuilt {
		t.Errorf("quilt object attributes %v", a)
	}

	// Each file by patch ID: bytes, identifier, ETag, type from its tag.
	for _, sb := range out.StoredQuiltBlobs {
		u := base + "/v1/blobs/by-quilt-patch-id/" + sb.QuiltPatchID
		resp, body := do(t, http.MethodGet, u, nil, nil)
		if resp.StatusCode != http.StatusOK || !bytes.Equal(body, byName[sb.Identifier]) {
			t.Fatalf("GET %s (%s): %d, %d bytes", u, sb.Identifier, resp.StatusCode, len(body))
		}
		id, _ := url.PathUnescape(resp.Header.Get(QuiltPatchIdentifierHeader))
		if id != sb.Identifier || resp.Header.Get("ETag") != sb.QuiltPatchID || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: headers %v", sb.Identifier, resp.Header)
		}
		wantCT := ""
		if sb.Identifier == "index.html" {
			wantCT = "text/html; charset=utf-8"
		}
		if got, set := resp.Header["Content-Type"]; (wantCT == "" && set) || (wantCT != "" && (len(got) != 1 || got[0] != wantCT)) {
			t.Errorf("%s: Content-Type %q, want %q", sb.Identifier, got, wantCT)
		}
		resp, _ = do(t, http.MethodGet, u, nil, map[string]string{"If-None-Match": sb.QuiltPatchID})
		if resp.StatusCode != http.StatusNotModified {
			t.Errorf("%s: If-None-Match: %d", sb.Identifier, resp.StatusCode)
		}
	}
	if got := do2(t, base+"/v1/blobs/by-quilt-patch-id/"+out.StoredQuiltBlobs[0].QuiltPatchID+"?content_type=text/plain", "Content-Type"); got != "text/plain" {
		t.Errorf("content_type= on a patch read: %q", got)
	}

	// By quilt ID and identifier: slashes as they are or as %2F,
	// non-ASCII percent-encoded.
	qid := quiltID.String()
	for _, tc := range []struct{ path, name string }{
		{"index.html", "index.html"},
		{"css/site.css", "css/site.css"},
		{"css%2Fsite.css", "css/site.css"},
		{url.PathEscape("données") + "/" + url.PathEscape("été.txt"), "données/été.txt"},
	} {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			resp, body := do(t, method, base+quiltIDPrefix+qid+"/"+tc.path, nil, nil)
			id, _ := url.PathUnescape(resp.Header.Get(QuiltPatchIdentifierHeader))
			if resp.StatusCode != http.StatusOK || id != tc.name || resp.Header.Get("Content-Length") != fmt.Sprint(len(byName[tc.name])) {
				t.Fatalf("%s %s: %d %s, identifier %q", method, tc.path, resp.StatusCode, body, id)
			}
			if method == http.MethodGet && !bytes.Equal(body, byName[tc.name]) {
				t.Fatalf("GET %s: wrong bytes", tc.path)
			}
		}
	}
	if h := do2(t, base+quiltIDPrefix+qid+"/"+url.PathEscape("données")+"/"+url.PathEscape("été.txt"), QuiltPatchIdentifierHeader); h != url.PathEscape("données/été.txt") {
		t.Errorf("non-ASCII identifier header %q", h)
	}

	// The index.
	resp, body = do(t, http.MethodGet, base+"/v1/quilts/"+qid+"/patches", nil, nil)
	var items []QuiltPatchItem
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &items) != nil || len(items) != len(files) {
		t.Fatalf("patches: %d %s", resp.StatusCode, body)
	}
	for i, it := range items {
		if it.Identifier != out.StoredQuiltBlobs[i].Identifier || it.PatchID != out.StoredQuiltBlobs[i].QuiltPatchID || it.Tags == nil {
			t.Fatalf("patch item %d: %+v", i, it)
		}
	}
	if items[len(items)-1].Identifier != "index.html" || items[len(items)-1].Tags["lang"] != "en" {
		t.Errorf("index.html's tags: %+v", items)
	}

	// Refusals.
	plain := put(t, base, "", []byte("a plain blob, not a quilt")).NewlyCreated.BlobObject.BlobID
	goodPatch, _ := codec.ParseQuiltPatchID(out.StoredQuiltBlobs[0].QuiltPatchID)
	otherQuilt := goodPatch
	otherQuilt.QuiltID = codec.BlobID{1, 2, 3}
	for _, tc := range []struct {
		url            string
		code           int
		status, reason string
	}{
		{"/v1/blobs/by-quilt-patch-id/short", 400, StatusInvalidArgument, "INVALID_QUILT_PATCH_ID"},
		{"/v1/blobs/by-quilt-patch-id/" + otherQuilt.String(), 404, StatusNotFound, "BLOB_NOT_FOUND"},
		{quiltIDPrefix + qid + "/nope.txt", 404, StatusNotFound, "QUILT_PATCH_NOT_FOUND"},
		{quiltIDPrefix + "bad/index.html", 400, StatusInvalidArgument, "INVALID_BLOB_ID"},
		{quiltIDPrefix + plain.String() + "/x", 404, StatusNotFound, "NOT_A_QUILT"},
		{"/v1/quilts/" + plain.String() + "/patches", 404, StatusNotFound, "NOT_A_QUILT"},
		{"/v1/quilts/nope/patches", 400, StatusInvalidArgument, "INVALID_BLOB_ID"},
		{quiltIDPrefix + qid + "/index.html?unknown=1", 400, StatusInvalidArgument, "INVALID_QUERY"},
	} {
		resp, body := do(t, http.MethodGet, base+tc.url, nil, nil)
		checkError(t, resp, body, tc.code, tc.status, tc.reason)
	}
	dup := append([]quiltPart{}, quiltTestParts[:2]...)
	dup = append(dup, quiltPart{"index.html", []byte("again")})
	for _, tc := range []struct {
		name   string
		parts  []quiltPart
		meta   string
		query  string
		reason string
	}{
		{"duplicate field names", dup, "", "", "INVALID_QUILT"},
		{"metadata naming no part", quiltTestParts[:1], `[{"identifier":"other","tags":{}}]`, "", "INVALID_QUILT"},
		{"metadata not JSON", quiltTestParts[:1], `{`, "", "INVALID_QUILT"},
		{"no file", nil, `[]`, "", "INVALID_QUILT"},
		{"identifier with a control character", []quiltPart{{"a\tb", []byte("x")}}, "", "", "INVALID_QUILT"},
		{"unknown query parameter", quiltTestParts[:1], "", "color=blue", "INVALID_QUERY"},
	} {
		resp, body := putQuiltReq(t, base, tc.query, tc.parts, tc.meta)
		checkError(t, resp, body, http.StatusBadRequest, StatusInvalidArgument, tc.reason)
	}
	resp, body = do(t, http.MethodPut, base+"/v1/quilts", []byte("raw"), map[string]string{"Content-Type": "application/octet-stream"})
	checkError(t, resp, body, http.StatusBadRequest, StatusInvalidArgument, "INVALID_CONTENT_TYPE")
}

// do2 returns one header of a GET.
func do2(t *testing.T, u, header string) string {
	t.Helper()
	resp, body := do(t, http.MethodGet, u, nil, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", u, resp.StatusCode, body)
	}
	return resp.Header.Get(header)
}

func TestQuiltRoutes(t *testing.T) {
	f := newFakeBackend(t, testShards)
	base := startGateway(t, f, Config{})
	checkQuilt(t, base, f.params, func(id chainlink.ID) map[string]string {
		a, err := f.ledger.BlobAttributes(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		return a
	})
	// The body is bounded by the maximum blob size.
	small := startGateway(t, f, Config{MaxBlobSize: 1000})
	resp, body := putQuiltReq(t, small, "", quiltTestParts, "")
	checkError(t, resp, body, http.StatusRequestEntityTooLarge, StatusSizeExceeded, "BLOB_TOO_LARGE")
	// A publisher with a token wants it for quilts too.
	auth := startGateway(t, f, Config{AuthToken: "s3cret"})
	resp, body = putQuiltReq(t, auth, "", quiltTestParts, "")
	checkError(t, resp, body, http.StatusUnauthorized, StatusUnauthenticated, "UNAUTHENTICATED")
	// The OpenAPI description lists the routes.
	resp, body = do(t, http.MethodGet, base+"/v1/api?format=json", nil, nil)
	for _, p := range []string{"/v1/quilts", "/v1/blobs/by-quilt-patch-id/{patch_id}", "/v1/blobs/by-quilt-id/{quilt_id}/{identifier}", "/v1/quilts/{quilt_id}/patches"} {
		if !strings.Contains(string(body), `"`+p+`"`) {
			t.Errorf("OpenAPI lacks %s", p)
		}
	}
}

// noQuilts is a backend without the quilt methods.
type noQuilts struct{ Backend }

func TestQuiltRoutesUnsupported(t *testing.T) {
	f := newFakeBackend(t, testShards)
	base := startGateway(t, noQuilts{f}, Config{})
	resp, body := putQuiltReq(t, base, "", quiltTestParts, "")
	checkError(t, resp, body, http.StatusNotImplemented, StatusInternal, "QUILTS_UNSUPPORTED")
	resp, body = do(t, http.MethodGet, base+"/v1/quilts/"+codec.BlobID{}.String()+"/patches", nil, nil)
	checkError(t, resp, body, http.StatusNotImplemented, StatusInternal, "QUILTS_UNSUPPORTED")
}

// The same on a devnet: node.Client reads each file from its own
// secondary slivers.
func TestDevnetQuiltRoutes(t *testing.T) {
	s := startSwarm(t)
	base := s.serve(t, Config{})
	ba := s.c.Chain().(chainlink.BlobAttributes)
	checkQuilt(t, base, s.c.Params(), func(id chainlink.ID) map[string]string {
		a, err := ba.BlobAttributes(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		return a
	})
}
