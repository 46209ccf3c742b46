package gateway

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"floe/codec"
	"floe/node"
)

// Fuzz targets (go test -fuzz=FuzzRange ./node/gateway/, etc.). Inputs are
// bounded so one iteration stays cheap; the seeds run in every go test.

// FuzzRange: the Range parser never panics; what it accepts formats back
// to itself, and resolves (RFC 9110 §14.1.2) to a non-empty interval inside
// the blob, or is unsatisfiable exactly when the RFC says so.
func FuzzRange(f *testing.F) {
	for _, s := range []string{"bytes=0-0", "bytes=-1", "bytes=5-", "bytes=1-0", "bytes=0-1,2-3", "BYTES = 7-9",
		"bytes=18446744073709551615-", "bytes=-18446744073709551616", "items=0-1", "bytes=--1", "bytes=1--2", ""} {
		f.Add(s, uint64(1000))
	}
	f.Add("bytes=0-", uint64(0))
	f.Fuzz(func(t *testing.T, h string, size uint64) {
		if len(h) > 2*maxRangeHeader {
			return
		}
		r, err := parseRange(h)
		if err != nil {
			return
		}
		back, err := parseRange(r.String())
		if err != nil || back != r {
			t.Fatalf("%q → %+v → %q → %+v, %v", h, r, r.String(), back, err)
		}
		start, length, ok := r.resolve(size)
		unsat := size == 0 || (r.hasFirst && r.first >= size) || (!r.hasFirst && r.last == 0)
		if ok == unsat {
			t.Fatalf("%q size %d: satisfiable=%v, want %v", h, size, ok, !unsat)
		}
		if !ok {
			return
		}
		if length == 0 || start >= size || length > size-start {
			t.Fatalf("%q size %d: [%d, +%d) outside the blob", h, size, start, length)
		}
		switch {
		case !r.hasFirst:
			if start+length != size || length != min(r.last, size) {
				t.Fatalf("suffix %q size %d: [%d, +%d)", h, size, start, length)
			}
		case r.hasLast:
			if start != r.first || start+length-1 != min(r.last, size-1) {
				t.Fatalf("%q size %d: [%d, +%d)", h, size, start, length)
			}
		default:
			if start != r.first || start+length != size {
				t.Fatalf("%q size %d: [%d, +%d)", h, size, start, length)
			}
		}
	})
}

var storeKeys = map[string]bool{"epochs": true, "permanent": true, "deletable": true, "force": true,
	"send_object_to": true, "share": true, "reuse_resources": true, "encoding_type": true}

// FuzzStoreQuery: the publisher's query parser never panics, accepts only
// known parameters given once, and what it accepts re-encodes to a query
// that parses to the same options.
func FuzzStoreQuery(f *testing.F) {
	for _, s := range []string{"", "epochs=5", "permanent=true&force=true", "deletable=true&permanent=true",
		"send_object_to=0x" + strings.Repeat("0a", 32), "share=false&reuse_resources=false&encoding_type=RS2",
		"epochs=0", "epochs=4294967296", "x=1", "epochs=1&epochs=1", "a;b", "%zz", "epochs=%31"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if len(raw) > 2*maxQuery {
			return
		}
		q, err := parseStoreQuery(raw)
		if err != nil {
			if _, ok := err.(*apiError); !ok {
				t.Fatalf("%q: error %T %v is not an API error", raw, err, err)
			}
			return
		}
		vals, perr := url.ParseQuery(raw)
		if perr != nil {
			t.Fatalf("%q accepted but url.ParseQuery fails: %v", raw, perr)
		}
		for k, v := range vals {
			if !storeKeys[k] || len(v) != 1 {
				t.Fatalf("%q accepted with parameter %q × %d", raw, k, len(v))
			}
		}
		if q.epochs == 0 || (q.permanent && q.deletable) {
			t.Fatalf("%q accepted as %+v", raw, q)
		}
		back, err := parseStoreQuery(q.encode())
		if err != nil || back != q {
			t.Fatalf("%q → %+v → %q → %+v, %v", raw, q, q.encode(), back, err)
		}
	})
}

// FuzzReadQuery: the aggregator's query parser never panics and never
// accepts a contradictory or overflowing request.
func FuzzReadQuery(f *testing.F) {
	for _, s := range []string{"", "strict_consistency_check=true", "skip_consistency_check=true&strict_consistency_check=true",
		"start=0&length=1", "start=18446744073709551615&length=1", "content_type=text%2Fhtml", "content_type=%00", "length=0&start=0"} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, raw string, byteRange bool) {
		if len(raw) > 2*maxQuery {
			return
		}
		q, err := parseReadQuery(raw, byteRange, true)
		if err != nil {
			return
		}
		if q.check != codec.CheckDefault && q.check != codec.CheckStrict && q.check != codec.CheckSkip {
			t.Fatalf("%q: check %d", raw, q.check)
		}
		if byteRange && (q.length == 0 || q.start+q.length < q.start) {
			t.Fatalf("%q: byte range start %d length %d accepted", raw, q.start, q.length)
		}
		if !byteRange && (q.start != 0 || q.length != 0) {
			t.Fatalf("%q: start/length accepted outside byte-range", raw)
		}
		if strings.ContainsAny(q.contentType, "\r\n\x00") {
			t.Fatalf("%q: content type %q", raw, q.contentType)
		}
	})
}

// FuzzRequest drives the whole handler with arbitrary methods, paths,
// queries and Range headers over the fake backend: it never panics, never
// answers 5xx, and every error is an F7.7 JSON object whose code is the
// HTTP status.
func FuzzRequest(f *testing.F) {
	fb := newFakeBackend(f, testShards)
	g, err := New(fb, Config{Logger: discardLogger(), MaxBlobSize: 1 << 16})
	if err != nil {
		f.Fatal(err)
	}
	res, err := fb.Store(f.Context(), []byte("fuzz me"), node.StoreOptions{Epochs: 3})
	if err != nil {
		f.Fatal(err)
	}
	id := res.BlobID.String()
	for _, s := range [][4]string{
		{"GET", "/v1/blobs/" + id, "", "bytes=0-3"},
		{"HEAD", "/v1/blobs/" + id, "strict_consistency_check=true", "bytes=-2"},
		{"GET", "/v1/blobs/" + id + "/byte-range", "start=1&length=2", ""},
		{"GET", "/v1/blobs/by-object-id/" + res.Blob.ObjectID.String(), "", "bytes=7-"},
		{"PUT", "/v1/blobs", "epochs=2&permanent=true", ""},
		{"GET", "/status", "", ""},
		{"GET", "/v1/api", "", ""},
		{"POST", "/v1/blobs//x", "a=%", "bytes=a"},
	} {
		f.Add(s[0], s[1], s[2], s[3])
	}
	f.Fuzz(func(t *testing.T, method, path, query, rng string) {
		if len(path) > 512 || len(query) > 512 || len(rng) > 512 {
			return
		}
		switch method {
		case "GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS":
		default:
			return
		}
		u := &url.URL{Path: "/" + strings.TrimPrefix(path, "/"), RawQuery: query}
		req, err := http.NewRequestWithContext(t.Context(), method, "http://gateway"+u.String(), strings.NewReader("body"))
		if err != nil {
			return
		}
		if rng != "" {
			req.Header.Set("Range", rng)
		}
		w := httptest.NewRecorder()
		g.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("%s %s Range %q: %d %s", method, u, rng, w.Code, w.Body)
		}
		if w.Code >= 400 && method != http.MethodHead {
			var e ErrorResponse
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error.Code != w.Code || len(e.Error.Details) != 1 {
				t.Fatalf("%s %s: %d with body %q", method, u, w.Code, w.Body)
			}
		}
	})
}
