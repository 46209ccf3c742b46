package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"floe/codec"
	"floe/node"
)

// Devnet tests: a real swarm (ledger served over HTTP on loopback, storage
// nodes on libp2p loopback), a *node.Client as the backend, and the
// gateway served by Serve on a loopback listener, talked to with Go's HTTP
// client.

const (
	devnetNodes  = 4
	devnetShards = 20 // blobs up to 8·14·65534 bytes ≈ 7.3 MB
)

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("FLOE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return discardLogger()
}

type swarm struct {
	d *node.Devnet
	c *node.Client
}

func startSwarm(t testing.TB) *swarm {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, err := node.StartDevnet(ctx, node.DevnetConfig{Nodes: devnetNodes, Shards: devnetShards, Dir: t.TempDir(),
		NoSync: true, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("closing devnet: %v", err)
		}
	})
	c, err := node.NewClient(ctx, d.ClientConfig(), node.WithClientLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &swarm{d: d, c: c}
}

// serve runs a gateway over the swarm with Serve on a loopback listener
// and returns its base URL; the test's cleanup stops it and checks Serve
// returned cleanly.
func (s *swarm) serve(t testing.TB, cfg Config) string {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- Serve(ctx, ln, s.c, cfg) }()
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

func TestDevnetStoreReadSizes(t *testing.T) {
	s := startSwarm(t)
	base := s.serve(t, Config{})
	p, _ := codec.NewParams(devnetShards)
	ctx := context.Background()
	for i, size := range []int{0, 1, 4 << 10, 1 << 20} {
		data := randomBytes(uint64(100+i), size)
		_, wantID, err := codec.ComputeMetadata(p, data)
		if err != nil {
			t.Fatal(err)
		}
		nc := put(t, base, "epochs=2", data).NewlyCreated
		if nc == nil || nc.BlobObject.BlobID != wantID || nc.BlobObject.Size != uint64(size) || nc.BlobObject.CertifiedEpoch == nil {
			t.Fatalf("%d bytes: %+v, want newly created and certified %s", size, nc, wantID)
		}
		if nc.BlobObject.Storage.EndEpoch-nc.BlobObject.Storage.StartEpoch != 2 || !nc.BlobObject.Deletable {
			t.Errorf("%d bytes: storage %+v deletable %v", size, nc.BlobObject.Storage, nc.BlobObject.Deletable)
		}
		// The chain agrees with the answer.
		b, err := s.c.Chain().Blob(ctx, nc.BlobObject.ID)
		if err != nil || b.BlobID != wantID || b.CertifiedEpoch == nil || b.Storage.Size != nc.BlobObject.Storage.StorageSize {
			t.Errorf("%d bytes: chain has %+v (%v)", size, b, err)
		}
		resp, body := do(t, http.MethodGet, base+"/v1/blobs/"+wantID.String(), nil, nil)
		if resp.StatusCode != 200 || !bytes.Equal(body, data) || resp.Header.Get("ETag") != wantID.String() ||
			resp.Header.Get("Content-Length") != fmt.Sprint(size) {
			t.Fatalf("GET %d bytes: %d, %d bytes, headers %v", size, resp.StatusCode, len(body), resp.Header)
		}
		resp, body = do(t, http.MethodGet, base+"/v1/blobs/by-object-id/"+nc.BlobObject.ID.String()+"?strict_consistency_check=true", nil, nil)
		if resp.StatusCode != 200 || !bytes.Equal(body, data) {
			t.Fatalf("by-object-id %d bytes: %d, %d bytes", size, resp.StatusCode, len(body))
		}
	}
}

func TestDevnetRangeEdges(t *testing.T) {
	s := startSwarm(t)
	base := s.serve(t, Config{})
	const size = 1 << 20
	data := randomBytes(200, size)
	id := put(t, base, "", data).NewlyCreated.BlobObject.BlobID
	u := base + "/v1/blobs/" + id.String()
	for _, tc := range []struct {
		rng        string
		start, end int
	}{
		{"bytes=0-0", 0, 0}, // first byte
		{fmt.Sprintf("bytes=%d-", size-1), size - 1, size - 1}, // last byte
		{fmt.Sprintf("bytes=%d-%d", size-1, size-1), size - 1, size - 1},
		{"bytes=-100", size - 100, size - 1}, // suffix
		{"bytes=1000-1999", 1000, 1999},
		{fmt.Sprintf("bytes=%d-%d", size-10, size+10), size - 10, size - 1}, // clipped
	} {
		resp, body := do(t, http.MethodGet, u, nil, map[string]string{"Range": tc.rng})
		want := fmt.Sprintf("bytes %d-%d/%d", tc.start, tc.end, size)
		if resp.StatusCode != 206 || resp.Header.Get("Content-Range") != want || !bytes.Equal(body, data[tc.start:tc.end+1]) {
			t.Errorf("%s: %d %q, %d bytes; want 206 %q", tc.rng, resp.StatusCode, resp.Header.Get("Content-Range"), len(body), want)
		}
	}
	for _, rng := range []string{fmt.Sprintf("bytes=%d-", size), fmt.Sprintf("bytes=%d-%d", size+5, size+9), "bytes=-0"} { // past the end
		resp, body := do(t, http.MethodGet, u, nil, map[string]string{"Range": rng})
		checkError(t, resp, body, 416, StatusRangeNotSatisfied, "INVALID_BYTE_RANGE")
		if resp.Header.Get("Content-Range") != fmt.Sprintf("bytes */%d", size) {
			t.Errorf("%s: Content-Range %q", rng, resp.Header.Get("Content-Range"))
		}
	}
	resp, body := do(t, http.MethodGet, fmt.Sprintf("%s/byte-range?start=%d&length=%d", u, size-3, 3), nil, nil)
	if resp.StatusCode != 200 || !bytes.Equal(body, data[size-3:]) {
		t.Errorf("byte-range at the end: %d, %d bytes", resp.StatusCode, len(body))
	}
	resp, body = do(t, http.MethodGet, fmt.Sprintf("%s/byte-range?start=%d&length=%d", u, size-3, 4), nil, nil)
	checkError(t, resp, body, 400, StatusInvalidArgument, "INVALID_BYTE_RANGE")
}

func TestDevnetAlreadyCertified(t *testing.T) {
	s := startSwarm(t)
	base := s.serve(t, Config{})
	data := randomBytes(300, 10_000)
	first := put(t, base, "epochs=3&permanent=true", data).NewlyCreated
	if first == nil || first.BlobObject.Deletable {
		t.Fatalf("first store: %+v", first)
	}
	for _, q := range []string{"permanent=true", "epochs=3&permanent=true"} {
		ac := put(t, base, q, data).AlreadyCertified
		if ac == nil || ac.BlobID != first.BlobObject.BlobID || ac.EndEpoch != first.BlobObject.Storage.EndEpoch ||
			ac.Object == nil || *ac.Object != first.BlobObject.ID {
			t.Fatalf("%s: %+v, want alreadyCertified by object %s until %d", q, ac, first.BlobObject.ID, first.BlobObject.Storage.EndEpoch)
		}
	}
	nc := put(t, base, "permanent=true&force=true", data).NewlyCreated
	if nc == nil || nc.BlobObject.ID == first.BlobObject.ID {
		t.Fatalf("force: %+v, want a new object", nc)
	}
}

func TestDevnetErrorCodes(t *testing.T) {
	s := startSwarm(t)
	const token = "devnet-token"
	base := s.serve(t, Config{AuthToken: token})
	auth := map[string]string{"Authorization": "Bearer " + token}
	small := s.serve(t, Config{MaxBlobSize: 1000, MaxReads: 1, MaxStores: 1, BodyMinBytes: 4})

	resp, body := do(t, http.MethodPut, base+"/v1/blobs", randomBytes(1, 5000), auth)
	var sr StoreResponse
	if err := json.Unmarshal(body, &sr); err != nil || resp.StatusCode != 200 || sr.NewlyCreated == nil {
		t.Fatalf("store: %d %s", resp.StatusCode, body)
	}
	id := sr.NewlyCreated.BlobObject.BlobID

	// 400
	resp, body = do(t, http.MethodPut, base+"/v1/blobs?epochs=1&colour=red", []byte("x"), auth)
	checkError(t, resp, body, 400, StatusInvalidArgument, "INVALID_QUERY")
	resp, body = do(t, http.MethodPut, base+"/v1/blobs?epochs=1000", []byte("x"), auth)
	checkError(t, resp, body, 400, StatusInvalidArgument, "INVALID_EPOCHS")
	resp, body = do(t, http.MethodGet, base+"/v1/blobs/"+id.String()[:42], nil, nil)
	checkError(t, resp, body, 400, StatusInvalidArgument, "INVALID_BLOB_ID")
	// 401
	resp, body = do(t, http.MethodPut, base+"/v1/blobs", []byte("x"), nil)
	checkError(t, resp, body, 401, StatusUnauthenticated, "UNAUTHENTICATED")
	// 403: larger than the small gateway serves.
	resp, body = do(t, http.MethodGet, small+"/v1/blobs/"+id.String(), nil, nil)
	checkError(t, resp, body, 403, StatusSizeExceeded, "BLOB_TOO_LARGE")
	// 404
	resp, body = do(t, http.MethodGet, base+"/v1/blobs/"+codec.BlobID{7}.String(), nil, nil)
	checkError(t, resp, body, 404, StatusNotFound, "BLOB_NOT_FOUND")
	// 413: over the gateway's limit, and over the network's maximum.
	resp, body = do(t, http.MethodPut, small+"/v1/blobs", randomBytes(2, 1001), nil)
	checkError(t, resp, body, 413, StatusSizeExceeded, "BLOB_TOO_LARGE")
	p, _ := codec.NewParams(devnetShards)
	resp, body = do(t, http.MethodPut, base+"/v1/blobs", make([]byte, p.MaxBlobSize()+1), auth)
	checkError(t, resp, body, 413, StatusSizeExceeded, "BLOB_TOO_LARGE")
	// 416
	resp, body = do(t, http.MethodGet, base+"/v1/blobs/"+id.String(), nil, map[string]string{"Range": "bytes=5000-"})
	checkError(t, resp, body, 416, StatusRangeNotSatisfied, "INVALID_BYTE_RANGE")

	// 429: a PUT whose body's first window (4 bytes) has arrived holds the
	// small gateway's only store slot; reads go on.
	pr, pw := io.Pipe()
	putDone := make(chan *http.Response, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPut, small+"/v1/blobs", pr)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Errorf("slow PUT: %v", err)
			putDone <- nil
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		putDone <- resp
	}()
	if _, err := pw.Write([]byte("slow ")); err != nil {
		t.Fatal(err)
	}
	// The PUT holds the slot once its handler has read 4 bytes; until then
	// another PUT gets through.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		resp, body = do(t, http.MethodPut, small+"/v1/blobs", []byte("x"), nil)
		if resp.StatusCode != 200 || time.Now().After(deadline) {
			break
		}
	}
	checkError(t, resp, body, 429, StatusResourceExhausted, "TOO_MANY_REQUESTS")
	resp, body = do(t, http.MethodGet, small+"/v1/blobs/"+id.String(), nil, nil)
	checkError(t, resp, body, 403, StatusSizeExceeded, "BLOB_TOO_LARGE") // served, not 429
	pw.Write([]byte("body"))
	pw.Close()
	if r := <-putDone; r == nil || r.StatusCode != 200 {
		t.Fatalf("slow PUT answered %v", r)
	}

	// 504: a read timeout shorter than any read.
	hurried := s.serve(t, Config{ReadTimeout: time.Microsecond})
	resp, body = do(t, http.MethodGet, hurried+"/v1/blobs/"+id.String(), nil, nil)
	checkError(t, resp, body, 504, StatusDeadlineExceeded, "TIMEOUT")

	// 503: with half the nodes down no read can gather n-2f slivers... and
	// the blob's size is still known from the chain.
	for _, n := range s.d.Nodes()[:devnetNodes/2+1] {
		if err := n.Close(); err != nil {
			t.Fatal(err)
		}
	}
	resp, body = do(t, http.MethodGet, base+"/v1/blobs/"+id.String(), nil, nil)
	checkError(t, resp, body, 503, StatusUnavailable, "BLOB_UNAVAILABLE")
	if strings.Contains(string(body), "internal") {
		t.Errorf("503 body %s", body)
	}
}
