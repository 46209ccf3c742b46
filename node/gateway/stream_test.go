package gateway

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"testing"

	"floe/codec"
)

// TestSpooledStoreAndStreamedRead: a body larger than BodyMemory is
// spooled to a file in SpillDir and stored with StoreFrom (same blob ID as
// the bytes'), the spool is gone afterwards, and reads of more than
// streamedReadMin bytes go through ReadRangeTo unless they are strict.
func TestSpooledStoreAndStreamedRead(t *testing.T) {
	f := newFakeBackend(t, testShards)
	spill := t.TempDir()
	base := startGateway(t, f, Config{BodyMemory: 64 << 10, SpillDir: spill})
	count := func() (stores, reads int) {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.streamedStores, f.streamedReads
	}

	small := randomBytes(7, 60<<10)
	put(t, base, "", small)
	if s, _ := count(); s != 0 {
		t.Fatalf("a %d-byte body was spooled (BodyMemory 64 KiB)", len(small))
	}

	data := randomBytes(8, 1536<<10)
	_, wantID, err := codec.ComputeMetadata(f.params, data)
	if err != nil {
		t.Fatal(err)
	}
	res := put(t, base, "epochs=2", data)
	if res.NewlyCreated == nil || res.NewlyCreated.BlobObject.BlobID != wantID || res.NewlyCreated.BlobObject.Size != uint64(len(data)) {
		t.Fatalf("spooled store answered %+v, want blob %s of %d bytes", res, wantID, len(data))
	}
	if s, _ := count(); s != 1 {
		t.Fatalf("streamed stores %d, want 1", s)
	}
	if left, _ := os.ReadDir(spill); len(left) != 0 {
		t.Errorf("spill dir holds %d files after the store", len(left))
	}

	url := base + "/v1/blobs/" + wantID.String()
	resp, body := do(t, http.MethodGet, url, nil, nil)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, data) || resp.Header.Get("Content-Length") != fmt.Sprint(len(data)) {
		t.Fatalf("streamed GET: %d, %d bytes, Content-Length %q", resp.StatusCode, len(body), resp.Header.Get("Content-Length"))
	}
	if _, r := count(); r != 1 {
		t.Fatalf("streamed reads %d after a full GET, want 1", r)
	}

	lo, hi := 100, 100+(1<<20)+5 // just over streamedReadMin
	resp, body = do(t, http.MethodGet, url, nil, map[string]string{"Range": fmt.Sprintf("bytes=%d-%d", lo, hi-1)})
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, data[lo:hi]) ||
		resp.Header.Get("Content-Range") != fmt.Sprintf("bytes %d-%d/%d", lo, hi-1, len(data)) {
		t.Fatalf("streamed range: %d, %d bytes, Content-Range %q", resp.StatusCode, len(body), resp.Header.Get("Content-Range"))
	}
	if _, r := count(); r != 2 {
		t.Fatalf("streamed reads %d after a large range, want 2", r)
	}

	// Small ranges and strict reads are read into memory.
	resp, body = do(t, http.MethodGet, url, nil, map[string]string{"Range": "bytes=0-99"})
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, data[:100]) {
		t.Fatalf("small range: %d, %d bytes", resp.StatusCode, len(body))
	}
	resp, body = do(t, http.MethodGet, url+"?strict_consistency_check=true", nil, nil)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, data) {
		t.Fatalf("strict GET: %d, %d bytes", resp.StatusCode, len(body))
	}
	if _, r := count(); r != 2 {
		t.Fatalf("streamed reads %d, want still 2 (small range, strict read)", r)
	}
}

// TestSpoolFailure: a spool that cannot be created is a server error, not
// a store of a truncated body.
func TestSpoolFailure(t *testing.T) {
	f := newFakeBackend(t, testShards)
	base := startGateway(t, f, Config{BodyMemory: 1 << 10, SpillDir: "/nonexistent/floe-spill"})
	resp, body := do(t, http.MethodPut, base+"/v1/blobs", randomBytes(9, 4<<10), nil)
	if resp.StatusCode < 500 {
		t.Fatalf("PUT with an unusable spill dir: %d %s", resp.StatusCode, body)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.blobs) != 0 || f.streamedStores != 0 {
		t.Fatalf("stored %d blobs, %d streamed", len(f.blobs), f.streamedStores)
	}
}
