package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"floe/chainlink"
	"floe/codec"
	"floe/node"
)

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// testShards: 10 shards allow blobs up to 4·7·65534 bytes (> 1 MiB).
const testShards = 10

func startGateway(t testing.TB, b Backend, cfg Config) string {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = discardLogger()
	}
	g, err := New(b, cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	return srv.URL
}

func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func do(t testing.TB, method, url string, body []byte, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return resp, b
}

// put stores data and returns the decoded answer, checking its JSON shape
// against F11.2 key by key.
func put(t testing.TB, base, query string, data []byte) StoreResponse {
	t.Helper()
	u := base + "/v1/blobs"
	if query != "" {
		u += "?" + query
	}
	resp, body := do(t, http.MethodPut, u, data, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT %s: %d %s", u, resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("PUT Content-Type %q", ct)
	}
	checkStoreShape(t, body)
	var out StoreResponse
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func keys(m map[string]any) []string {
	var k []string
	for x := range m {
		k = append(k, x)
	}
	slices.Sort(k)
	return k
}

func checkKeys(t testing.TB, what string, v any, want ...string) map[string]any {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%s: %T, want an object", what, v)
	}
	slices.Sort(want)
	if got := keys(m); !slices.Equal(got, want) {
		t.Fatalf("%s keys %v, want %v", what, got, want)
	}
	return m
}

// checkStoreShape checks the exact field names of F11.2.
func checkStoreShape(t testing.TB, body []byte) {
	t.Helper()
	var top map[string]any
	if err := json.Unmarshal(body, &top); err != nil {
		t.Fatalf("answer is not JSON: %v: %s", err, body)
	}
	if len(top) != 1 {
		t.Fatalf("answer has keys %v, want one of newlyCreated/alreadyCertified", keys(top))
	}
	if nc, ok := top["newlyCreated"]; ok {
		m := checkKeys(t, "newlyCreated", nc, "blobObject", "resourceOperation", "cost")
		bo := checkKeys(t, "blobObject", m["blobObject"], "id", "registeredEpoch", "blobId", "size",
			"encodingType", "certifiedEpoch", "storage", "deletable")
		checkKeys(t, "storage", bo["storage"], "id", "startEpoch", "endEpoch", "storageSize")
		ro := checkKeys(t, "resourceOperation", m["resourceOperation"], "registerFromScratch")
		checkKeys(t, "registerFromScratch", ro["registerFromScratch"], "encodedLength", "epochsAhead")
		if s, _ := bo["id"].(string); !strings.HasPrefix(s, "0x") || len(s) != 66 {
			t.Errorf("blobObject.id %q: want 0x + 64 hex digits", s)
		}
		if s, _ := bo["encodingType"].(string); s != "RS2" {
			t.Errorf("encodingType %v", bo["encodingType"])
		}
		return
	}
	ac, ok := top["alreadyCertified"]
	if !ok {
		t.Fatalf("answer has keys %v", keys(top))
	}
	checkKeys(t, "alreadyCertified", ac, "blobId", "object", "endEpoch")
}

// checkError checks an F7.7 error object: the HTTP code, its status string
// and the reason.
func checkError(t testing.TB, resp *http.Response, body []byte, code int, status, reason string) {
	t.Helper()
	if resp.StatusCode != code {
		t.Fatalf("%s %s: status %d, want %d: %s", resp.Request.Method, resp.Request.URL, resp.StatusCode, code, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("error Content-Type %q", ct)
	}
	if resp.Request.Method == http.MethodHead {
		return
	}
	var top map[string]any
	if err := json.Unmarshal(body, &top); err != nil {
		t.Fatalf("error body is not JSON: %v: %s", err, body)
	}
	e := checkKeys(t, "error object", top, "error")
	inner := checkKeys(t, "error", e["error"], "code", "status", "message", "details")
	if c, _ := inner["code"].(float64); int(c) != code {
		t.Errorf("error.code %v, want %d", inner["code"], code)
	}
	if inner["status"] != status {
		t.Errorf("error.status %v, want %s", inner["status"], status)
	}
	if m, _ := inner["message"].(string); m == "" {
		t.Error("empty error.message")
	}
	details, _ := inner["details"].([]any)
	if len(details) != 1 {
		t.Fatalf("error.details %v", inner["details"])
	}
	d := checkKeys(t, "details[0]", details[0], "@type", "reason", "domain", "metadata")
	if d["@type"] != "ErrorInfo" || d["domain"] != ErrorDomain || d["reason"] != reason {
		t.Errorf("details[0] = %v, want ErrorInfo %s %s", d, ErrorDomain, reason)
	}
}

func TestStoreAndReadSizes(t *testing.T) {
	f := newFakeBackend(t, testShards)
	base := startGateway(t, f, Config{})
	for i, size := range []int{0, 1, 3 << 10, 1 << 20} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			data := randomBytes(uint64(i+1), size)
			_, wantID, err := codec.ComputeMetadata(f.params, data)
			if err != nil {
				t.Fatal(err)
			}
			es, _ := f.ledger.EpochState(context.Background())
			res := put(t, base, "epochs=3", data)
			nc := res.NewlyCreated
			if nc == nil {
				t.Fatalf("want newlyCreated: %+v", res)
			}
			bo := nc.BlobObject
			if bo.BlobID != wantID || bo.Size != uint64(size) || !bo.Deletable || bo.CertifiedEpoch == nil {
				t.Errorf("blob object %+v, want blob ID %s size %d deletable certified", bo, wantID, size)
			}
			if bo.Storage.StartEpoch != es.Epoch || bo.Storage.EndEpoch != es.Epoch+3 || nc.ResourceOperation.RegisterFromScratch.EpochsAhead != 3 {
				t.Errorf("storage %+v, epochsAhead %d; want [%d, %d)", bo.Storage, nc.ResourceOperation.RegisterFromScratch.EpochsAhead, es.Epoch, es.Epoch+3)
			}
			enc, _ := f.params.EncodedLength(uint64(size))
			if nc.ResourceOperation.RegisterFromScratch.EncodedLength != enc || bo.Storage.StorageSize != enc || nc.Cost == 0 {
				t.Errorf("encoded length %d / storage size %d / cost %d, want %d and a cost",
					nc.ResourceOperation.RegisterFromScratch.EncodedLength, bo.Storage.StorageSize, nc.Cost, enc)
			}
			resp, body := do(t, http.MethodGet, base+"/v1/blobs/"+wantID.String(), nil, nil)
			if resp.StatusCode != http.StatusOK || !bytes.Equal(body, data) {
				t.Fatalf("GET: %d, %d bytes (want %d)", resp.StatusCode, len(body), size)
			}
			h := resp.Header
			if h.Get("ETag") != wantID.String() || h.Get("Cache-Control") != cacheControl ||
				h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Content-Length") != fmt.Sprint(size) ||
				h.Get("Accept-Ranges") != "bytes" || h.Get("Access-Control-Allow-Origin") != "*" {
				t.Errorf("GET headers %v", h)
			}
			if _, ok := h["Content-Type"]; ok {
				t.Errorf("Content-Type %q set without Accept or Content-Type in the request", h.Get("Content-Type"))
			}
		})
	}
}

func TestRange(t *testing.T) {
	f := newFakeBackend(t, testShards)
	base := startGateway(t, f, Config{})
	const size = 1000
	data := randomBytes(7, size)
	id := put(t, base, "", data).NewlyCreated.BlobObject.BlobID
	empty := put(t, base, "", nil).NewlyCreated.BlobObject.BlobID
	u := base + "/v1/blobs/" + id.String()
	for _, tc := range []struct {
		rng        string
		start, end int // inclusive; end < 0: 416
	}{
		{"bytes=0-0", 0, 0},
		{"bytes=999-999", 999, 999},
		{"bytes=999-", 999, 999},
		{"bytes=-1", 999, 999},
		{"bytes=-10", 990, 999},
		{"bytes=-5000", 0, 999},
		{"bytes=0-", 0, 999},
		{"bytes=10-19", 10, 19},
		{"bytes=995-2000", 995, 999},
		{"BYTES = 1-2", 1, 2},
		{"bytes=1000-", 0, -1},
		{"bytes=1000-1000", 0, -1},
		{"bytes=5000-6000", 0, -1},
		{"bytes=-0", 0, -1},
		{"bytes=5-1", 0, -1},
		{"bytes=0-1,5-6", 0, -1},
		{"bytes=a-b", 0, -1},
		{"bytes=-", 0, -1},
		{"items=0-1", 0, -1},
		{"bytes=+1-2", 0, -1},
		{"bytes=99999999999999999999-", 0, -1},
	} {
		resp, body := do(t, http.MethodGet, u, nil, map[string]string{"Range": tc.rng})
		if tc.end < 0 {
			checkError(t, resp, body, http.StatusRequestedRangeNotSatisfiable, StatusRangeNotSatisfied, "INVALID_BYTE_RANGE")
			if cr := resp.Header.Get("Content-Range"); cr != "bytes */1000" {
				t.Errorf("%s: 416 Content-Range %q", tc.rng, cr)
			}
			continue
		}
		if resp.StatusCode != http.StatusPartialContent {
			t.Errorf("%s: status %d: %s", tc.rng, resp.StatusCode, body)
			continue
		}
		if want := fmt.Sprintf("bytes %d-%d/%d", tc.start, tc.end, size); resp.Header.Get("Content-Range") != want {
			t.Errorf("%s: Content-Range %q, want %q", tc.rng, resp.Header.Get("Content-Range"), want)
		}
		if !bytes.Equal(body, data[tc.start:tc.end+1]) || resp.Header.Get("Content-Length") != fmt.Sprint(tc.end-tc.start+1) {
			t.Errorf("%s: got %d bytes, want [%d, %d]", tc.rng, len(body), tc.start, tc.end)
		}
		if resp.Header.Get("ETag") != id.String() {
			t.Errorf("%s: ETag %q", tc.rng, resp.Header.Get("ETag"))
		}
	}
	// Any range of an empty blob is unsatisfiable.
	resp, body := do(t, http.MethodGet, base+"/v1/blobs/"+empty.String(), nil, map[string]string{"Range": "bytes=0-"})
	checkError(t, resp, body, http.StatusRequestedRangeNotSatisfiable, StatusRangeNotSatisfied, "INVALID_BYTE_RANGE")
	if resp.Header.Get("Content-Range") != "bytes */0" {
		t.Errorf("empty blob 416 Content-Range %q", resp.Header.Get("Content-Range"))
	}
	// If-Range with another validator: the whole blob.
	resp, body = do(t, http.MethodGet, u, nil, map[string]string{"Range": "bytes=0-0", "If-Range": `"other"`})
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, data) {
		t.Errorf("If-Range mismatch: %d, %d bytes", resp.StatusCode, len(body))
	}
	resp, body = do(t, http.MethodGet, u, nil, map[string]string{"Range": "bytes=0-0", "If-Range": id.String()})
	if resp.StatusCode != http.StatusPartialContent || len(body) != 1 {
		t.Errorf("If-Range match: %d, %d bytes", resp.StatusCode, len(body))
	}
}

func TestByteRangeEndpoint(t *testing.T) {
	f := newFakeBackend(t, testShards)
	base := startGateway(t, f, Config{})
	data := randomBytes(8, 5000)
	id := put(t, base, "", data).NewlyCreated.BlobObject.BlobID
	u := base + "/v1/blobs/" + id.String() + "/byte-range"
	for _, tc := range [][2]int{{0, 1}, {4999, 1}, {100, 900}, {0, 5000}} {
		resp, body := do(t, http.MethodGet, fmt.Sprintf("%s?start=%d&length=%d", u, tc[0], tc[1]), nil, nil)
		if resp.StatusCode != http.StatusOK || !bytes.Equal(body, data[tc[0]:tc[0]+tc[1]]) {
			t.Errorf("%v: %d, %d bytes", tc, resp.StatusCode, len(body))
		}
		if want := fmt.Sprintf("%s-%d-%d", id, tc[0], tc[1]); resp.Header.Get("ETag") != want {
			t.Errorf("ETag %q, want %q", resp.Header.Get("ETag"), want)
		}
	}
	for _, q := range []string{
		"start=0&length=0", "start=4999&length=2", "start=5000&length=1", "start=1", "length=1",
		"start=18446744073709551615&length=1", "start=-1&length=1", "start=0&length=1&x=1", "start=0&start=1&length=1",
	} {
		resp, body := do(t, http.MethodGet, u+"?"+q, nil, nil)
		reason := "INVALID_BYTE_RANGE"
		if strings.Contains(q, "x=") || strings.Contains(q, "-1") || strings.Count(q, "start") > 1 {
			reason = "INVALID_QUERY"
		}
		checkError(t, resp, body, http.StatusBadRequest, StatusInvalidArgument, reason)
	}
}

func TestContentTypeAndConditional(t *testing.T) {
	f := newFakeBackend(t, testShards)
	base := startGateway(t, f, Config{})
	data := []byte("<p>hello</p>")
	id := put(t, base, "", data).NewlyCreated.BlobObject.BlobID
	u := base + "/v1/blobs/" + id.String()
	for _, tc := range []struct {
		hdr  map[string]string
		url  string
		want string // "" = no Content-Type
	}{
		{map[string]string{"Accept": "text/html"}, u, "text/html"},
		{map[string]string{"Accept": "text/html,*/*;q=0.8"}, u, ""},
		{map[string]string{"Content-Type": "image/png"}, u, "image/png"},
		{map[string]string{"Accept": "text/plain", "Content-Type": "image/png"}, u, "text/plain"},
		{map[string]string{"Accept": "*/*"}, u + "?content_type=text/html%3B%20charset=utf-8", "text/html; charset=utf-8"},
	} {
		resp, body := do(t, http.MethodGet, tc.url, nil, tc.hdr)
		got, set := resp.Header["Content-Type"]
		if resp.StatusCode != http.StatusOK || !bytes.Equal(body, data) || (tc.want == "" && set) || (tc.want != "" && (len(got) != 1 || got[0] != tc.want)) {
			t.Errorf("%v %s: %d Content-Type %q, want %q", tc.hdr, tc.url, resp.StatusCode, got, tc.want)
		}
	}
	resp, body := do(t, http.MethodGet, u+"?content_type=%00", nil, nil)
	checkError(t, resp, body, http.StatusBadRequest, StatusInvalidArgument, "INVALID_QUERY")

	// The extension can be turned off: the parameter is then unknown.
	off := startGateway(t, f, Config{DisableContentTypeParam: true})
	resp, body = do(t, http.MethodGet, off+"/v1/blobs/"+id.String()+"?content_type=text/html", nil, nil)
	checkError(t, resp, body, http.StatusBadRequest, StatusInvalidArgument, "INVALID_QUERY")

	// If-None-Match with the ETag: 304 without reading the blob.
	reads := f.readCount()
	for _, inm := range []string{id.String(), `"` + id.String() + `"`, `W/"x", W/"` + id.String() + `"`, "*"} {
		resp, body = do(t, http.MethodGet, u, nil, map[string]string{"If-None-Match": inm})
		if resp.StatusCode != http.StatusNotModified || len(body) != 0 || resp.Header.Get("ETag") != id.String() {
			t.Errorf("If-None-Match %s: %d", inm, resp.StatusCode)
		}
	}
	resp, _ = do(t, http.MethodGet, u, nil, map[string]string{"If-None-Match": `"other"`})
	if resp.StatusCode != http.StatusOK {
		t.Errorf("If-None-Match other: %d", resp.StatusCode)
	}
	// HEAD: the headers of a GET from the chain, no body, no read.
	resp, body = do(t, http.MethodHead, u, nil, map[string]string{"Range": "bytes=-4"})
	if resp.StatusCode != http.StatusPartialContent || len(body) != 0 || resp.Header.Get("Content-Length") != "4" ||
		resp.Header.Get("Content-Range") != fmt.Sprintf("bytes %d-%d/%d", len(data)-4, len(data)-1, len(data)) {
		t.Errorf("HEAD with Range: %d %v", resp.StatusCode, resp.Header)
	}
	resp, _ = do(t, http.MethodHead, u, nil, nil)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Length") != fmt.Sprint(len(data)) {
		t.Errorf("HEAD: %d %v", resp.StatusCode, resp.Header)
	}
	if got := f.readCount(); got != reads+1 { // only the If-None-Match: "other" GET
		t.Errorf("backend reads %d, want %d: 304 and HEAD must not read the blob", got, reads+1)
	}
}

func TestConsistencyFlags(t *testing.T) {
	f := newFakeBackend(t, testShards)
	base := startGateway(t, f, Config{})
	id := put(t, base, "", []byte("x")).NewlyCreated.BlobObject.BlobID
	u := base + "/v1/blobs/" + id.String()
	for q, want := range map[string]codec.ConsistencyCheck{
		"": codec.CheckDefault, "?strict_consistency_check=true": codec.CheckStrict,
		"?skip_consistency_check=true": codec.CheckSkip, "?strict_consistency_check=false&skip_consistency_check=false": codec.CheckDefault,
	} {
		resp, _ := do(t, http.MethodGet, u+q, nil, nil)
		f.mu.Lock()
		got := f.lastCheck
		f.mu.Unlock()
		if resp.StatusCode != http.StatusOK || got != want {
			t.Errorf("%q: %d, check %d, want %d", q, resp.StatusCode, got, want)
		}
	}
	for q, reason := range map[string]string{
		"?strict_consistency_check=true&skip_consistency_check=true": "INVALID_CONSISTENCY_CHECK",
		"?strict_consistency_check=yes":                              "INVALID_QUERY",
		"?strict_consistency_check":                                  "INVALID_QUERY",
		"?unknown=1":                                                 "INVALID_QUERY",
		"?a=%zz":                                                     "INVALID_QUERY",
	} {
		resp, body := do(t, http.MethodGet, u+q, nil, nil)
		checkError(t, resp, body, http.StatusBadRequest, StatusInvalidArgument, reason)
	}
}

func TestByObjectID(t *testing.T) {
	f := newFakeBackend(t, testShards)
	base := startGateway(t, f, Config{})
	data := randomBytes(3, 777)
	bo := put(t, base, "", data).NewlyCreated.BlobObject
	resp, body := do(t, http.MethodGet, base+"/v1/blobs/by-object-id/"+bo.ID.String(), nil, map[string]string{"Range": "bytes=-7"})
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, data[770:]) || resp.Header.Get("ETag") != bo.BlobID.String() {
		t.Errorf("by-object-id: %d %d bytes ETag %q", resp.StatusCode, len(body), resp.Header.Get("ETag"))
	}
	resp, body = do(t, http.MethodGet, base+"/v1/blobs/by-object-id/0x"+strings.Repeat("ab", 32), nil, nil)
	checkError(t, resp, body, http.StatusNotFound, StatusNotFound, "BLOB_NOT_FOUND")
	resp, body = do(t, http.MethodGet, base+"/v1/blobs/by-object-id/0x1234", nil, nil)
	checkError(t, resp, body, http.StatusBadRequest, StatusInvalidArgument, "INVALID_OBJECT_ID")
}

func TestAlreadyCertifiedAndOptions(t *testing.T) {
	f := newFakeBackend(t, testShards)
	base := startGateway(t, f, Config{})
	data := randomBytes(4, 2000)
	first := put(t, base, "epochs=2&permanent=true", data).NewlyCreated
	if first == nil || first.BlobObject.Deletable {
		t.Fatalf("first store: %+v", first)
	}
	again := put(t, base, "epochs=2", data)
	ac := again.AlreadyCertified
	if ac == nil || ac.BlobID != first.BlobObject.BlobID || ac.EndEpoch != first.BlobObject.Storage.EndEpoch ||
		ac.Object == nil || *ac.Object != first.BlobObject.ID {
		t.Fatalf("second store: %+v, want alreadyCertified of %+v", again, first.BlobObject)
	}
	// Longer than certified, or forced: a new object.
	for _, q := range []string{"epochs=5", "force=true"} {
		nc := put(t, base, q, data).NewlyCreated
		if nc == nil || nc.BlobObject.ID == first.BlobObject.ID || nc.BlobObject.BlobID != first.BlobObject.BlobID {
			t.Errorf("%s: %+v, want a new object of the same blob ID", q, nc)
		}
	}
	// Options reach the backend.
	addr := chainlink.ID{0x42, 0x42}
	put(t, base, "force=true&deletable=true&share=false&reuse_resources=false&encoding_type=RS2&send_object_to="+addr.String(), data)
	f.mu.Lock()
	so := f.lastStore
	f.mu.Unlock()
	if so.SendObjectTo != addr || !so.Deletable || !so.Force || so.Epochs != 1 {
		t.Errorf("store options %+v", so)
	}
	for q, reason := range map[string]string{
		"permanent=true&deletable=true": "INVALID_BLOB_PERSISTENCE",
		"epochs=0":                      "INVALID_EPOCHS",
		"epochs=-1":                     "INVALID_EPOCHS",
		"epochs=11":                     "INVALID_EPOCHS", // the ledger's max is 10
		"epochs=1&epochs=2":             "INVALID_QUERY",
		"share=true":                    "UNSUPPORTED_PARAMETER",
		"reuse_resources=true":          "UNSUPPORTED_PARAMETER",
		"encoding_type=RedStuff":        "UNSUPPORTED_PARAMETER",
		"send_object_to=0x12":           "INVALID_ADDRESS",
		"send_object_to=" + strings.Repeat("ab", 32): "INVALID_ADDRESS",
		"force=1":              "INVALID_QUERY",
		"color=blue":           "INVALID_QUERY",
		"x;y=1":                "INVALID_QUERY",
		"quilt=true":           "INVALID_QUERY",
		"Epochs=2":             "INVALID_QUERY",
		"epochs=1e3":           "INVALID_EPOCHS",
		"epochs=+3":            "INVALID_EPOCHS",
		"epochs=9999999999999": "INVALID_EPOCHS",
	} {
		resp, body := do(t, http.MethodPut, base+"/v1/blobs?"+q, data, nil)
		checkError(t, resp, body, http.StatusBadRequest, StatusInvalidArgument, reason)
	}
}

func TestErrorCodes(t *testing.T) {
	f := newFakeBackend(t, testShards)
	const token = "s3cret-token"
	base := startGateway(t, f, Config{MaxBlobSize: 4096, AuthToken: token})
	auth := map[string]string{"Authorization": "Bearer " + token}
	missing := codec.BlobID{1, 2, 3}

	t.Run("400 bad blob ID", func(t *testing.T) {
		resp, body := do(t, http.MethodGet, base+"/v1/blobs/not-a-blob-id", nil, nil)
		checkError(t, resp, body, 400, StatusInvalidArgument, "INVALID_BLOB_ID")
	})
	t.Run("401 unauthenticated", func(t *testing.T) {
		for _, h := range []map[string]string{nil, {"Authorization": "Bearer wrong"}, {"Authorization": token}, {"Authorization": "Basic " + token}} {
			resp, body := do(t, http.MethodPut, base+"/v1/blobs", []byte("x"), h)
			checkError(t, resp, body, 401, StatusUnauthenticated, "UNAUTHENTICATED")
			if !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("WWW-Authenticate %q", resp.Header.Get("WWW-Authenticate"))
			}
		}
		resp, body := do(t, http.MethodPut, base+"/v1/blobs", []byte("x"), map[string]string{"Authorization": "bearer " + token})
		if resp.StatusCode != 200 {
			t.Fatalf("with the token: %d %s", resp.StatusCode, body)
		}
	})
	t.Run("403 blob too large to serve", func(t *testing.T) {
		// Stored through a gateway with a higher limit on the same swarm.
		big := startGateway(t, f, Config{})
		id := put(t, big, "", randomBytes(9, 5000)).NewlyCreated.BlobObject.BlobID
		for _, u := range []string{"/v1/blobs/" + id.String(), "/v1/blobs/" + id.String() + "/byte-range?start=0&length=1"} {
			resp, body := do(t, http.MethodGet, base+u, nil, nil)
			checkError(t, resp, body, 403, StatusSizeExceeded, "BLOB_TOO_LARGE")
		}
	})
	t.Run("404 not found", func(t *testing.T) {
		for _, u := range []string{"/v1/blobs/" + missing.String(), "/v1/blobs/" + missing.String() + "/byte-range?start=0&length=1"} {
			resp, body := do(t, http.MethodGet, base+u, nil, nil)
			checkError(t, resp, body, 404, StatusNotFound, "BLOB_NOT_FOUND")
		}
		resp, body := do(t, http.MethodGet, base+"/v2/blobs", nil, nil)
		checkError(t, resp, body, 404, StatusNotFound, "ROUTE_NOT_FOUND")
	})
	t.Run("405 method", func(t *testing.T) {
		resp, body := do(t, http.MethodDelete, base+"/v1/blobs/"+missing.String(), nil, nil)
		checkError(t, resp, body, 405, StatusInvalidArgument, "METHOD_NOT_ALLOWED")
		if resp.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("Allow %q", resp.Header.Get("Allow"))
		}
	})
	t.Run("413 body too large", func(t *testing.T) {
		// With Content-Length: refused before the body is read.
		resp, body := do(t, http.MethodPut, base+"/v1/blobs", randomBytes(1, 4097), auth)
		checkError(t, resp, body, 413, StatusSizeExceeded, "BLOB_TOO_LARGE")
		// Chunked: cut at the limit.
		req, _ := http.NewRequest(http.MethodPut, base+"/v1/blobs", io.MultiReader(bytes.NewReader(randomBytes(2, 4000)), bytes.NewReader(randomBytes(3, 4000))))
		req.Header.Set("Authorization", "Bearer "+token)
		r2, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b2, _ := io.ReadAll(r2.Body)
		r2.Body.Close()
		if req.ContentLength != 0 && req.ContentLength != -1 {
			t.Fatalf("request not chunked: %d", req.ContentLength)
		}
		checkError(t, r2, b2, 413, StatusSizeExceeded, "BLOB_TOO_LARGE")
		// Exactly the limit is fine.
		resp, body = do(t, http.MethodPut, base+"/v1/blobs", randomBytes(4, 4096), auth)
		if resp.StatusCode != 200 {
			t.Fatalf("4096 bytes: %d %s", resp.StatusCode, body)
		}
	})
	t.Run("416 range", func(t *testing.T) {
		id := codec.BlobID{}
		resp, body := do(t, http.MethodPut, base+"/v1/blobs", []byte("abc"), auth)
		var sr StoreResponse
		if err := json.Unmarshal(body, &sr); err != nil || resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		id = sr.NewlyCreated.BlobObject.BlobID
		resp, body = do(t, http.MethodGet, base+"/v1/blobs/"+id.String(), nil, map[string]string{"Range": "bytes=3-"})
		checkError(t, resp, body, 416, StatusRangeNotSatisfied, "INVALID_BYTE_RANGE")
	})

	stored := func(t *testing.T, data []byte) codec.BlobID {
		resp, body := do(t, http.MethodPut, base+"/v1/blobs", data, auth)
		var sr StoreResponse
		if err := json.Unmarshal(body, &sr); err != nil || resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		if sr.NewlyCreated != nil {
			return sr.NewlyCreated.BlobObject.BlobID
		}
		return sr.AlreadyCertified.BlobID
	}
	for _, tc := range []struct {
		name           string
		readErr        error
		storeErr       error
		code           int
		status, reason string
	}{
		{"503 unavailable", fmt.Errorf("read: %w", node.ErrUnavailable), nil, 503, StatusUnavailable, "BLOB_UNAVAILABLE"},
		{"503 no committee", node.ErrNoCommittee, nil, 503, StatusUnavailable, "NO_COMMITTEE"},
		{"503 chain", fmt.Errorf("x: %w", node.ErrChain), nil, 503, StatusUnavailable, "CHAIN_UNAVAILABLE"},
		{"404 invalid", node.ErrBlobInvalid, nil, 404, StatusNotFound, "BLOB_INVALID"},
		{"500 internal", errors.New("disk on fire"), nil, 500, StatusInternal, "INTERNAL"},
		{"504 store confirmations", nil, fmt.Errorf("store: %w", node.ErrUnavailable), 504, StatusDeadlineExceeded, "INSUFFICIENT_CONFIRMATIONS"},
		{"413 store too large for the network", nil, node.ErrTooLarge, 413, StatusSizeExceeded, "BLOB_TOO_LARGE"},
		{"503 store chain", nil, fmt.Errorf("%w: down", node.ErrChain), 503, StatusUnavailable, "CHAIN_UNAVAILABLE"},
		{"500 store", nil, errors.New("boom"), 500, StatusInternal, "INTERNAL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := stored(t, []byte("payload "+tc.name))
			f.mu.Lock()
			f.readHook = func(context.Context) error { return tc.readErr }
			f.storeHook = func(context.Context) error { return tc.storeErr }
			f.mu.Unlock()
			defer func() {
				f.mu.Lock()
				f.readHook, f.storeHook = nil, nil
				f.mu.Unlock()
			}()
			var resp *http.Response
			var body []byte
			if tc.readErr != nil {
				resp, body = do(t, http.MethodGet, base+"/v1/blobs/"+id.String(), nil, nil)
			} else {
				resp, body = do(t, http.MethodPut, base+"/v1/blobs?force=true", []byte("another "+tc.name), auth)
			}
			checkError(t, resp, body, tc.code, tc.status, tc.reason)
		})
	}
}

// blockingHook blocks until the request's context ends and reports that
// on done.
func blockingHook(entered chan<- struct{}, done chan<- error) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		entered <- struct{}{}
		<-ctx.Done()
		done <- ctx.Err()
		return ctx.Err()
	}
}

func TestTimeoutsLimitsAndCancellation(t *testing.T) {
	f := newFakeBackend(t, testShards)
	base := startGateway(t, f, Config{MaxReads: 1, MaxStores: 1, ReadTimeout: 300 * time.Millisecond})
	id := put(t, base, "", []byte("slow")).NewlyCreated.BlobObject.BlobID
	u := base + "/v1/blobs/" + id.String()
	entered, done := make(chan struct{}, 1), make(chan error, 1)
	f.mu.Lock()
	f.readHook = blockingHook(entered, done)
	f.mu.Unlock()

	// 504: the read outlives the read timeout.
	resp, body := do(t, http.MethodGet, u, nil, nil)
	checkError(t, resp, body, 504, StatusDeadlineExceeded, "TIMEOUT")
	<-entered
	if err := <-done; !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("backend saw %v, want the deadline", err)
	}

	// A client that goes away cancels the read, and 429 while it runs (for
	// reads: stores have a pool of their own).
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	errc := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	<-entered
	resp, body = do(t, http.MethodGet, u, nil, nil)
	checkError(t, resp, body, 429, StatusResourceExhausted, "TOO_MANY_REQUESTS")
	if resp.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	if resp, body = do(t, http.MethodPut, base+"/v1/blobs", []byte("y"), nil); resp.StatusCode != 200 {
		t.Fatalf("a store while the only read slot is taken: %d %s", resp.StatusCode, body)
	}
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("backend saw %v, want cancellation", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("cancellation reached the backend after %v", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the backend was not cancelled when the client went away")
	}
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("client: %v", err)
	}
	// The slot is free again.
	f.mu.Lock()
	f.readHook = nil
	f.mu.Unlock()
	deadline := time.Now().Add(2 * time.Second)
	for {
		resp, body = do(t, http.MethodGet, u, nil, nil)
		if resp.StatusCode == 200 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if resp.StatusCode != 200 || string(body) != "slow" {
		t.Fatalf("after the cancelled read: %d %s", resp.StatusCode, body)
	}

	// A store whose client disconnects is cancelled too.
	f.mu.Lock()
	f.storeHook = blockingHook(entered, done)
	f.mu.Unlock()
	ctx, cancel = context.WithCancel(context.Background())
	req, _ = http.NewRequestWithContext(ctx, http.MethodPut, base+"/v1/blobs", bytes.NewReader([]byte("store me")))
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	<-entered
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("store backend saw %v, want cancellation", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the store was not cancelled when the client went away")
	}
	<-errc
}

func TestStatusAndOpenAPI(t *testing.T) {
	f := newFakeBackend(t, testShards)
	base := startGateway(t, f, Config{AuthToken: "t"})
	resp, body := do(t, http.MethodGet, base+"/status", nil, nil)
	var st map[string]any
	if err := json.Unmarshal(body, &st); err != nil || resp.StatusCode != 200 {
		t.Fatalf("/status: %d %s", resp.StatusCode, body)
	}
	checkKeys(t, "status", st, "status", "epoch", "epochPhase", "nShards", "maxEpochsAhead", "maxBlobSize", "publisherAuth")
	if st["nShards"] != float64(testShards) || st["publisherAuth"] != true || st["maxBlobSize"] != float64(DefaultMaxBlobSize) {
		t.Errorf("/status %v", st)
	}

	resp, body = do(t, http.MethodGet, base+"/v1/api", nil, nil)
	var doc struct {
		OpenAPI string                               `json:"openapi"`
		Paths   map[string]map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(body, &doc); err != nil || resp.StatusCode != 200 {
		t.Fatalf("/v1/api: %d %v", resp.StatusCode, err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi %q", doc.OpenAPI)
	}
	// Every documented operation is served (not 404 ROUTE_NOT_FOUND or
	// 405), and nothing else is.
	fill := strings.NewReplacer("{blob_id}", codec.BlobID{9}.String(), "{object_id}", chainlink.ID{9}.String())
	want := map[string]bool{}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			want[strings.ToUpper(method)+" "+path] = true
			if op["responses"] == nil || op["operationId"] == nil {
				t.Errorf("%s %s: no responses or operationId", method, path)
			}
			resp, body := do(t, strings.ToUpper(method), base+fill.Replace(path), nil, nil)
			if resp.StatusCode == 405 || strings.Contains(string(body), "ROUTE_NOT_FOUND") {
				t.Errorf("%s %s documented but not served: %d %s", method, path, resp.StatusCode, body)
			}
		}
	}
	g, _ := New(f, Config{Logger: discardLogger()})
	var served []string
	for _, rt := range g.routes {
		served = append(served, rt.method+" "+rt.path)
		if rt.method == http.MethodGet {
			served = append(served, "HEAD "+rt.path)
		}
	}
	var documented []string
	for k := range want {
		documented = append(documented, k)
	}
	slices.Sort(served)
	slices.Sort(documented)
	if !slices.Equal(served, documented) {
		t.Errorf("served %v\ndocumented %v", served, documented)
	}

	// CORS preflight.
	resp, _ = do(t, http.MethodOptions, base+"/v1/blobs", nil, map[string]string{
		"Origin": "http://example.test", "Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "authorization"})
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "*" ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "PUT") || resp.Header.Get("Access-Control-Allow-Headers") != "authorization" {
		t.Errorf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
}

func TestServeShutdown(t *testing.T) {
	f := newFakeBackend(t, testShards)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- Serve(ctx, ln, f, Config{Logger: discardLogger()}) }()
	base := "http://" + ln.Addr().String()
	resp, body := do(t, http.MethodGet, base+"/status", nil, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("/status %d %s", resp.StatusCode, body)
	}
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after its context ended")
	}
	if c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		c.Close()
		t.Fatal("still listening after Serve returned")
	}
}
