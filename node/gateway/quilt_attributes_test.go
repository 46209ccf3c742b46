package gateway

import (
	"bytes"
	"compress/gzip"
	"context"
	"net/http"
	"testing"

	"floe/chainlink"
)

// A read by object ID answers the object's attributes as headers, as the
// Walrus aggregator does (F11.1): the ledger keeps them
// (chainlink.BlobAttributes), the route sets them on success only.
func TestAttributeHeaders(t *testing.T) {
	f := newFakeBackend(t, testShards)
	base := startGateway(t, f, Config{})
	ctx := context.Background()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("compressed bytes, served as they are"))
	zw.Close()
	data := gz.Bytes()
	// The client asks for the bytes as stored (Go's transport would
	// otherwise ask for gzip itself and decompress).
	identity := map[string]string{"Accept-Encoding": "identity"}
	nc := put(t, base, "", data).NewlyCreated
	oid := nc.BlobObject.ID
	attrs := map[string]string{
		"content-type":        "text/plain; charset=utf-8",
		"Content-Disposition": `attachment; filename="a.txt"`,
		"content-encoding":    "gzip",
		"content-language":    "fr",
		"content-location":    "/a.txt",
		"link":                `<https://example.com/a>; rel="canonical"`,
		"x-not-a-header":      "ignored",
		"cache-control":       "no-store", // not one Walrus sets from attributes
	}
	if _, err := f.ledger.SetBlobAttributes(ctx, f.owner, oid, attrs); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"Content-Type":        "text/plain; charset=utf-8",
		"Content-Disposition": `attachment; filename="a.txt"`,
		"Content-Encoding":    "gzip",
		"Content-Language":    "fr",
		"Content-Location":    "/a.txt",
		"Link":                `<https://example.com/a>; rel="canonical"`,
	}
	url := base + "/v1/blobs/by-object-id/" + oid.String()
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		resp, body := do(t, method, url, nil, identity)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s", method, resp.StatusCode, body)
		}
		if method == http.MethodGet && !bytes.Equal(body, data) {
			t.Fatalf("GET changed the bytes")
		}
		for k, v := range want {
			if got := resp.Header.Values(k); len(got) != 1 || got[0] != v {
				t.Errorf("%s: %s = %q, want %q", method, k, got, v)
			}
		}
		if resp.Header.Get("Cache-Control") != cacheControl || resp.Header.Get("X-Not-A-Header") != "" {
			t.Errorf("%s: attributes set other headers: %v", method, resp.Header)
		}
	}
	// A range answer carries them too; ?content_type= still comes first.
	resp, _ := do(t, http.MethodGet, url+"?content_type=application/octet-stream", nil, map[string]string{"Range": "bytes=0-3", "Accept-Encoding": "identity"})
	if resp.StatusCode != http.StatusPartialContent || resp.Header.Get("Content-Type") != "application/octet-stream" ||
		resp.Header.Get("Content-Encoding") != "gzip" {
		t.Errorf("range: %d %v", resp.StatusCode, resp.Header)
	}
	// By blob ID there is no object, so no attributes (as in Walrus).
	resp, _ = do(t, http.MethodGet, base+"/v1/blobs/"+nc.BlobObject.BlobID.String(), nil, nil)
	if resp.Header.Get("Content-Encoding") != "" || resp.Header.Get("Content-Disposition") != "" {
		t.Errorf("read by blob ID: %v", resp.Header)
	}

	// A value that could split a header is dropped, the others kept.
	if _, err := f.ledger.SetBlobAttributes(ctx, f.owner, oid, map[string]string{"content-language": "fr\r\nSet-Cookie: x=1"}); err != nil {
		t.Fatal(err)
	}
	resp, _ = do(t, http.MethodGet, url, nil, identity)
	if resp.Header.Get("Content-Language") != "" || resp.Header.Get("Set-Cookie") != "" || resp.Header.Get("Content-Encoding") != "gzip" {
		t.Errorf("bad value: %v", resp.Header)
	}

	// Removed attributes are no longer answered.
	if _, err := f.ledger.RemoveBlobAttributes(ctx, f.owner, oid, nil); err != nil {
		t.Fatal(err)
	}
	resp, _ = do(t, http.MethodGet, url, nil, identity)
	if resp.Header.Get("Content-Encoding") != "" || resp.Header.Get("Link") != "" || resp.Header["Content-Type"] != nil {
		t.Errorf("after removal: %v", resp.Header)
	}

	// A failed read carries none: an uncertified object answers 404.
	other := put(t, base, "force=true", []byte("second object")).NewlyCreated
	if _, err := f.ledger.SetBlobAttributes(ctx, f.owner, other.BlobObject.ID, map[string]string{"content-disposition": "attachment"}); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	delete(f.certified, other.BlobObject.ID)
	f.mu.Unlock()
	resp, body := do(t, http.MethodGet, base+"/v1/blobs/by-object-id/"+other.BlobObject.ID.String(), nil, nil)
	checkError(t, resp, body, http.StatusNotFound, StatusNotFound, "BLOB_NOT_FOUND")
	if resp.Header.Get("Content-Disposition") != "" {
		t.Errorf("404 with attribute headers: %v", resp.Header)
	}
	// A large read is streamed: the headers go out with the first bytes.
	large := bytes.Repeat([]byte("streamed "), (streamedReadMin+100)/9+1)
	lg := put(t, base, "", large).NewlyCreated.BlobObject.ID
	if _, err := f.ledger.SetBlobAttributes(ctx, f.owner, lg, map[string]string{"content-disposition": "inline", "content-type": "text/plain"}); err != nil {
		t.Fatal(err)
	}
	resp, body = do(t, http.MethodGet, base+"/v1/blobs/by-object-id/"+lg.String(), nil, nil)
	f.mu.Lock()
	streamed := f.streamedReads
	f.mu.Unlock()
	if resp.StatusCode != 200 || !bytes.Equal(body, large) || resp.Header.Get("Content-Disposition") != "inline" ||
		resp.Header.Get("Content-Type") != "text/plain" || streamed == 0 {
		t.Errorf("streamed read: %d, %d bytes, %v (streamed %d)", resp.StatusCode, len(body), resp.Header, streamed)
	}
	// An unknown object is a 404 as before.
	resp, body = do(t, http.MethodGet, base+"/v1/blobs/by-object-id/"+chainlink.ID{9}.String(), nil, nil)
	checkError(t, resp, body, http.StatusNotFound, StatusNotFound, "BLOB_NOT_FOUND")
}
