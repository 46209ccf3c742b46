package rest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"floe/codec"
	"floe/p2p"
)

func testLog() *slog.Logger {
	if os.Getenv("FLOE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// fake is a Backend whose answers a test sets.
type fake struct {
	p2p.NotFoundHandler
	mu       sync.Mutex
	params   codec.Params
	shards   []int
	notHeld  map[int]bool
	meta     []byte
	err      error // returned by every method when set
	stored   Stored
	status   StoredStatus
	sliver   []byte
	gotWait  time.Duration
	gotFrom  peer.ID
	symbols  func(p2p.RecoveryRequest) ([]p2p.Result, error)
	decoding map[int][]DecodingSymbol
	blobSt   BlobStatus
	sync     p2p.SyncBatch
	block    chan struct{} // Health waits on it when set
	panics   bool
	// storeHook, when set, runs in StoreMetadata before it answers.
	storeHook func()
}

func (f *fake) fail() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.panics {
		panic("fake panic")
	}
	return f.err
}

func (f *fake) Params() codec.Params { return f.params }
func (f *fake) Epoch() uint32        { return 3 }
func (f *fake) Shards() []int        { return f.shards }
func (f *fake) ServesShard(s int) bool {
	return !f.notHeld[s]
}
func (f *fake) GetMetadata(_ context.Context, from peer.ID, _ codec.BlobID) ([]byte, error) {
	f.gotFrom = from
	if err := f.fail(); err != nil {
		return nil, err
	}
	return f.meta, nil
}
func (f *fake) GetSlivers(_ context.Context, _ peer.ID, _ codec.BlobID, items []p2p.SliverRef, send func(p2p.Result) error) error {
	if err := f.fail(); err != nil {
		return err
	}
	for range items {
		if err := send(p2p.Result{Data: f.sliver}); err != nil {
			return err
		}
	}
	return nil
}
func (f *fake) GetRecoverySymbols(_ context.Context, _ peer.ID, r p2p.RecoveryRequest) ([]p2p.Result, error) {
	if err := f.fail(); err != nil {
		return nil, err
	}
	return f.symbols(r)
}
func (f *fake) SyncShard(context.Context, peer.ID, p2p.SyncRequest) (p2p.SyncBatch, error) {
	return f.sync, f.fail()
}
func (f *fake) StoreMetadata(context.Context, peer.ID, codec.BlobID, []byte, bool) (Stored, error) {
	if f.storeHook != nil {
		f.storeHook()
	}
	return f.stored, f.fail()
}
func (f *fake) StoreSliver(context.Context, peer.ID, codec.BlobID, p2p.Sliver, bool) (Stored, error) {
	return f.stored, f.fail()
}
func (f *fake) MetadataStatus(context.Context, codec.BlobID) (StoredStatus, error) {
	return f.status, f.fail()
}
func (f *fake) SliverStatus(context.Context, codec.BlobID, p2p.SliverRef) (StoredStatus, error) {
	return f.status, f.fail()
}
func (f *fake) Confirm(_ context.Context, _ peer.ID, req p2p.ConfirmationRequest, wait time.Duration) (codec.SignedMessage, error) {
	f.mu.Lock()
	f.gotWait = wait
	f.mu.Unlock()
	msg := codec.StorageConfirmationMessage(3, req.ID, req.Persistence)
	return codec.SignedMessage{Message: msg, Signature: [96]byte{1, 2, 3}}, f.fail()
}
func (f *fake) DecodingSymbols(_ context.Context, _ codec.BlobID, _ codec.SliverType, targets []int, maxBytes int) (map[int][]DecodingSymbol, error) {
	if len(targets)*100 > maxBytes {
		return nil, ErrAnswerTooLarge
	}
	return f.decoding, f.fail()
}
func (f *fake) AttestInconsistency(_ context.Context, id codec.BlobID, _ *codec.InconsistencyProof) (codec.SignedMessage, error) {
	return codec.SignedMessage{Message: codec.InvalidBlobIDMessage(3, id), Signature: [96]byte{9}}, f.fail()
}
func (f *fake) WalrusBlobStatus(context.Context, codec.BlobID) (BlobStatus, error) {
	return f.blobSt, f.fail()
}
func (f *fake) Health(ctx context.Context, detailed bool) (Health, error) {
	if f.block != nil {
		select {
		case <-f.block:
		case <-ctx.Done():
		}
	}
	return Health{Epoch: 3, NodeStatus: "Active"}, f.fail()
}

type testServer struct {
	s   *Server
	f   *fake
	key *ecdsa.PrivateKey
	url string
	hc  *http.Client
	cl  *Client
}

func newTestServer(t *testing.T, n int, adjust func(*Config)) *testServer {
	t.Helper()
	p, err := codec.NewParams(n)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig(p, key)
	cfg.RateLimit = p2p.RateLimit{Rate: 1000, Burst: 1000}
	cfg.GateAfter = 0
	cfg.Logger = testLog()
	if adjust != nil {
		adjust(&cfg)
	}
	f := &fake{params: p, shards: []int{0, 1}, notHeld: map[int]bool{}}
	s, err := New(f, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Close(ctx)
	})
	tr := &http.Transport{TLSClientConfig: PinnedTLSConfig(&key.PublicKey), ForceAttemptHTTP2: true}
	hc := &http.Client{Transport: tr}
	t.Cleanup(tr.CloseIdleConnections)
	return &testServer{s: s, f: f, key: key, url: s.URL(), hc: hc, cl: NewClient(s.URL(), &key.PublicKey, p)}
}

// do sends a request and returns the code, the body and, for an error, its
// parsed object.
func (ts *testServer) do(t *testing.T, method, path string, hdr map[string]string, body []byte) (int, []byte, ErrorResponse) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, ts.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := ts.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var er ErrorResponse
	if resp.StatusCode >= 400 {
		if err := json.Unmarshal(b, &er); err != nil {
			t.Fatalf("%s %s: %d with a body that is not an error object: %q", method, path, resp.StatusCode, b)
		}
		if er.Error.Code != resp.StatusCode || len(er.Error.Details) != 1 || er.Error.Details[0].Type != "ErrorInfo" {
			t.Fatalf("%s %s: malformed error %s", method, path, b)
		}
	}
	return resp.StatusCode, b, er
}

func reasonOf(er ErrorResponse) string {
	if len(er.Error.Details) == 0 {
		return ""
	}
	return er.Error.Details[0].Reason
}

var testID = codec.BlobID{1, 2, 3}

func metadataBody(n int) []byte {
	m := codec.Metadata{EncodingType: codec.EncodingTypeRS2, UnencodedLength: 10, Hashes: make([]codec.SliverPairHashes, n)}
	return m.MarshalBCS()
}

func sliverBody(p codec.Params, t codec.SliverType, pair int) []byte {
	sl := codec.Sliver{Type: t, Index: p.SliverIndex(t, pair), SymbolSize: 2, Data: make([]byte, 2*p.SymbolsPerSliver(t))}
	return sl.MarshalBCS()
}

// Every route, its success answer, and every error status and reason it
// can give.
func TestRoutesAndErrors(t *testing.T) {
	ts := newTestServer(t, 10, nil)
	f := ts.f
	p := f.params
	id := testID.String()
	octet := map[string]string{"Content-Type": "application/octet-stream"}
	syncReq := func(count uint64, epoch uint32) []byte {
		r := p2p.NewSyncRequest([48]byte{}, codec.SyncShardRequest{Shard: 1, Type: codec.Primary, Count: count, Epoch: epoch},
			func([]byte) [96]byte { return [96]byte{} })
		return r.Signed.MarshalBCS()
	}
	auth := map[string]string{"Authorization": EncodeAuthorization([48]byte{7})}
	f.symbols = func(r p2p.RecoveryRequest) ([]p2p.Result, error) {
		sym := codec.RecoverySymbol{Target: r.Target.Type, Index: 4, Data: []byte{1, 2}}
		return []p2p.Result{{Data: sym.MarshalBCS()}}, nil
	}
	type tc struct {
		name         string
		setup        func()
		method, path string
		hdr          map[string]string
		body         []byte
		code         int
		reason       string
		status       string
	}
	setErr := func(err error) func() { return func() { f.err = err } }
	cases := []tc{
		{name: "metadata", setup: func() { f.meta = []byte{1, 2, 3} }, method: "GET", path: "/v1/blobs/" + id + "/metadata", code: 200},
		{name: "metadata missing", setup: setErr(p2p.ErrNotFound), method: "GET", path: "/v1/blobs/" + id + "/metadata", code: 404, reason: "METADATA_NOT_FOUND", status: StatusNotFound},
		{name: "bad blob id", method: "GET", path: "/v1/blobs/abc/metadata", code: 400, reason: "INVALID_BLOB_ID", status: StatusInvalidArgument},
		{name: "internal", setup: setErr(errors.New("disk on fire")), method: "GET", path: "/v1/blobs/" + id + "/metadata", code: 500, reason: "INTERNAL_ERROR", status: StatusInternal},
		{name: "deadline", setup: setErr(context.DeadlineExceeded), method: "GET", path: "/v1/blobs/" + id + "/metadata", code: 504, reason: "TIMEOUT", status: StatusDeadlineExceeded},
		{name: "put metadata", setup: func() { f.stored = StoredNew }, method: "PUT", path: "/v1/blobs/" + id + "/metadata", hdr: octet, body: metadataBody(10), code: 201},
		{name: "put metadata pending", setup: func() { f.stored = StoredBuffered }, method: "PUT", path: "/v1/blobs/" + id + "/metadata?pending=true", body: metadataBody(10), code: 202},
		{name: "put metadata again", setup: func() { f.stored = StoredAlready }, method: "PUT", path: "/v1/blobs/" + id + "/metadata", body: metadataBody(10), code: 200},
		{name: "put metadata content type", method: "PUT", path: "/v1/blobs/" + id + "/metadata", hdr: map[string]string{"Content-Type": "application/json"}, body: metadataBody(10), code: 400, reason: "INVALID_CONTENT_TYPE", status: StatusInvalidArgument},
		{name: "put metadata bad bcs", method: "PUT", path: "/v1/blobs/" + id + "/metadata", body: []byte{9, 9}, code: 400, reason: "INVALID_CONTENT_TYPE"},
		{name: "put metadata too large", method: "PUT", path: "/v1/blobs/" + id + "/metadata", body: make([]byte, 5000), code: 413, reason: "BODY_TOO_LARGE", status: StatusSizeExceeded},
		{name: "put metadata query", method: "PUT", path: "/v1/blobs/" + id + "/metadata?pending=maybe", body: metadataBody(10), code: 400, reason: "INVALID_QUERY"},
		{name: "put metadata unknown query", method: "PUT", path: "/v1/blobs/" + id + "/metadata?x=1", body: metadataBody(10), code: 400, reason: "INVALID_QUERY"},
		{name: "not registered", setup: setErr(fmt.Errorf("%w: x", ErrNotRegistered)), method: "PUT", path: "/v1/blobs/" + id + "/metadata", body: metadataBody(10), code: 400, reason: "NOT_REGISTERED", status: StatusFailedPrecondition},
		{name: "blob invalid", setup: setErr(ErrBlobInvalid), method: "PUT", path: "/v1/blobs/" + id + "/metadata", body: metadataBody(10), code: 400, reason: "INVALID_BLOB", status: StatusFailedPrecondition},
		{name: "invalid metadata", setup: setErr(fmt.Errorf("%w: hashes", p2p.ErrInvalidRequest)), method: "PUT", path: "/v1/blobs/" + id + "/metadata", body: metadataBody(10), code: 400, reason: "INVALID_METADATA", status: StatusInvalidArgument},
		{name: "rate limited", setup: setErr(p2p.ErrRateLimited), method: "PUT", path: "/v1/blobs/" + id + "/metadata", body: metadataBody(10), code: 429, reason: "RATE_LIMITED", status: StatusResourceExhausted},
		{name: "no space", setup: setErr(p2p.ErrNoSpace), method: "PUT", path: "/v1/blobs/" + id + "/metadata", body: metadataBody(10), code: 507, reason: "NO_SPACE", status: StatusResourceExhausted},
		{name: "metadata status", setup: func() { f.status = StatusBuffered }, method: "GET", path: "/v1/blobs/" + id + "/metadata/status", code: 200},
		{name: "sliver", setup: func() { f.sliver = sliverBody(p, codec.Primary, 3) }, method: "GET", path: "/v1/blobs/" + id + "/slivers/3/primary", code: 200},
		{name: "sliver missing", setup: setErr(p2p.ErrNotFound), method: "GET", path: "/v1/blobs/" + id + "/slivers/3/primary", code: 404, reason: "SLIVER_NOT_FOUND"},
		{name: "sliver pair", method: "GET", path: "/v1/blobs/" + id + "/slivers/x/primary", code: 400, reason: "INVALID_SLIVER_PAIR_INDEX"},
		{name: "sliver pair range", method: "GET", path: "/v1/blobs/" + id + "/slivers/10/primary", code: 400, reason: "INDEX_OUT_OF_RANGE"},
		{name: "sliver type", method: "GET", path: "/v1/blobs/" + id + "/slivers/3/tertiary", code: 400, reason: "INVALID_SLIVER_TYPE"},
		{name: "sliver shard", setup: func() { f.notHeld[p.ShardOfPair(testID, 4)] = true }, method: "GET", path: "/v1/blobs/" + id + "/slivers/4/primary", code: 400, reason: "SHARD_NOT_ASSIGNED", status: StatusFailedPrecondition},
		{name: "put sliver", setup: func() { f.stored = StoredNew }, method: "PUT", path: "/v1/blobs/" + id + "/slivers/3/secondary", body: sliverBody(p, codec.Secondary, 3), code: 201},
		{name: "put sliver mismatch", method: "PUT", path: "/v1/blobs/" + id + "/slivers/3/secondary", body: sliverBody(p, codec.Secondary, 2), code: 400, reason: "SLIVER_INDEX_MISMATCH"},
		{name: "put sliver bad bcs", method: "PUT", path: "/v1/blobs/" + id + "/slivers/3/secondary", body: []byte{1}, code: 400, reason: "INVALID_CONTENT_TYPE"},
		{name: "put sliver too large", method: "PUT", path: "/v1/blobs/" + id + "/slivers/3/secondary", body: make([]byte, 1<<21), code: 413, reason: "BODY_TOO_LARGE"},
		{name: "put sliver verify", setup: setErr(p2p.ErrFailedVerification), method: "PUT", path: "/v1/blobs/" + id + "/slivers/3/secondary", body: sliverBody(p, codec.Secondary, 3), code: 400, reason: "INVALID_SLIVER"},
		{name: "put sliver no metadata", setup: setErr(ErrMetadataMissing), method: "PUT", path: "/v1/blobs/" + id + "/slivers/3/secondary", body: sliverBody(p, codec.Secondary, 3), code: 400, reason: "METADATA_NOT_FOUND", status: StatusFailedPrecondition},
		{name: "put sliver shard", setup: setErr(ErrShardNotAssigned), method: "PUT", path: "/v1/blobs/" + id + "/slivers/3/secondary", body: sliverBody(p, codec.Secondary, 3), code: 400, reason: "SHARD_NOT_ASSIGNED"},
		{name: "sliver status", setup: func() { f.status = StatusStored }, method: "GET", path: "/v1/blobs/" + id + "/slivers/3/primary/status", code: 200},
		{name: "confirmation", method: "GET", path: "/v1/blobs/" + id + "/confirmation/permanent", code: 200},
		{name: "deletable confirmation", method: "GET", path: "/v1/blobs/" + id + "/confirmation/deletable/0x2a", code: 200},
		{name: "object id", method: "GET", path: "/v1/blobs/" + id + "/confirmation/deletable/2a", code: 400, reason: "INVALID_OBJECT_ID"},
		{name: "confirmation query", method: "GET", path: "/v1/blobs/" + id + "/confirmation/permanent?wait_millis=-1", code: 400, reason: "INVALID_QUERY"},
		{name: "confirmation not registered", setup: setErr(ErrNotRegistered), method: "GET", path: "/v1/blobs/" + id + "/confirmation/permanent", code: 400, reason: "NOT_REGISTERED"},
		{name: "confirmation missing", setup: setErr(ErrMissingSlivers), method: "GET", path: "/v1/blobs/" + id + "/confirmation/permanent", code: 400, reason: "MISSING_SLIVERS", status: StatusFailedPrecondition},
		{name: "recovery ids", method: "GET", path: "/v1/blobs/" + id + "/recoverySymbols?id=1-2&id=3-4&id=1-2", code: 200},
		{name: "recovery target", method: "GET", path: "/v1/blobs/" + id + "/recoverySymbols?targetSliver=2&targetType=primary&proofAxis=secondary", code: 200},
		{name: "recovery none", method: "GET", path: "/v1/blobs/" + id + "/recoverySymbols", code: 400, reason: "NO_SYMBOLS_SPECIFIED", status: StatusFailedPrecondition},
		{name: "recovery bad id", method: "GET", path: "/v1/blobs/" + id + "/recoverySymbols?id=1_2", code: 400, reason: "INVALID_FILTER"},
		{name: "recovery range", method: "GET", path: "/v1/blobs/" + id + "/recoverySymbols?id=1-20", code: 400, reason: "INDEX_OUT_OF_RANGE"},
		{name: "recovery not here", setup: func() {
			for s := range 10 {
				f.notHeld[s] = true
			}
		}, method: "GET", path: "/v1/blobs/" + id + "/recoverySymbols?id=1-2", code: 400, reason: "SYMBOL_NOT_PRESENT_AT_SHARDS", status: StatusFailedPrecondition},
		{name: "recovery missing", setup: setErr(p2p.ErrNotFound), method: "GET", path: "/v1/blobs/" + id + "/recoverySymbols?id=1-2", code: 404, reason: "SLIVER_NOT_FOUND"},
		{name: "decoding", setup: func() {
			f.decoding = map[int][]DecodingSymbol{1: {{Target: codec.Primary, Index: 2, Data: []byte{5, 6}}}}
		}, method: "GET", path: "/v1/blobs/" + id + "/decodingSymbols?targetSlivers=1&targetType=primary", code: 200},
		{name: "decoding none", method: "GET", path: "/v1/blobs/" + id + "/decodingSymbols?targetType=primary", code: 400, reason: "NO_TARGET_SLIVERS_SPECIFIED", status: StatusFailedPrecondition},
		{name: "decoding range", method: "GET", path: "/v1/blobs/" + id + "/decodingSymbols?targetSlivers=9&targetType=primary", code: 400, reason: "RECOVERY_SYMBOL_OUT_OF_RANGE"},
		{name: "decoding filter", method: "GET", path: "/v1/blobs/" + id + "/decodingSymbols?targetSlivers=1", code: 400, reason: "INVALID_FILTER"},
		{name: "inconsistency", method: "POST", path: "/v1/blobs/" + id + "/inconsistencyProof/primary", body: (&codec.InconsistencyProof{Target: codec.Primary}).MarshalBCS(), code: 200},
		{name: "inconsistency bcs", method: "POST", path: "/v1/blobs/" + id + "/inconsistencyProof/primary", body: []byte{1}, code: 400, reason: "INVALID_CONTENT_TYPE"},
		{name: "inconsistency invalid", setup: setErr(ErrInvalidProof), method: "POST", path: "/v1/blobs/" + id + "/inconsistencyProof/primary", body: (&codec.InconsistencyProof{Target: codec.Primary}).MarshalBCS(), code: 400, reason: "INVALID_PROOF"},
		{name: "inconsistency no metadata", setup: setErr(ErrMetadataMissing), method: "POST", path: "/v1/blobs/" + id + "/inconsistencyProof/secondary", body: (&codec.InconsistencyProof{Target: codec.Secondary}).MarshalBCS(), code: 400, reason: "METADATA_NOT_FOUND"},
		{name: "blob status", setup: func() { f.blobSt = BlobStatus{Kind: BlobDeletable, DeletableTotal: 2} }, method: "GET", path: "/v1/blobs/" + id + "/status", code: 200},
		{name: "health", method: "GET", path: "/v1/health?detailed=true", code: 200},
		{name: "health query", method: "GET", path: "/v1/health?detailed=yes", code: 400, reason: "INVALID_QUERY"},
		{name: "sync", setup: func() {
			f.sync = p2p.SyncBatch{Items: []p2p.SyncItem{{ID: testID, Data: sliverBody(p, codec.Primary, 1)}}}
		}, method: "POST", path: "/v1/migrate/sync_shard", hdr: auth, body: syncReq(10, 3), code: 200},
		{name: "sync no auth", method: "POST", path: "/v1/migrate/sync_shard", body: syncReq(10, 3), code: 401, reason: "MISSING_AUTHORIZATION", status: StatusUnauthenticated},
		{name: "sync bad auth", method: "POST", path: "/v1/migrate/sync_shard", hdr: map[string]string{"Authorization": "xyz"}, body: syncReq(10, 3), code: 400, reason: "INVALID_AUTHORIZATION"},
		{name: "sync bad body", method: "POST", path: "/v1/migrate/sync_shard", hdr: auth, body: []byte{1, 2}, code: 400, reason: "INVALID_CONTENT_TYPE"},
		{name: "sync count", method: "POST", path: "/v1/migrate/sync_shard", hdr: auth, body: syncReq(5000, 3), code: 400, reason: "SLIVER_COUNT_EXCEEDS_LIMIT"},
		{name: "sync epoch", method: "POST", path: "/v1/migrate/sync_shard", hdr: auth, body: syncReq(10, 2), code: 400, reason: "INVALID_EPOCH"},
		{name: "sync unauthorized", setup: setErr(fmt.Errorf("%w: not a member", p2p.ErrInvalidRequest)), method: "POST", path: "/v1/migrate/sync_shard", hdr: auth, body: syncReq(10, 3), code: 403, reason: "REQUEST_UNAUTHORIZED", status: StatusPermissionDenied},
		{name: "sync shard not held", setup: setErr(p2p.ErrNotFound), method: "POST", path: "/v1/migrate/sync_shard", hdr: auth, body: syncReq(10, 3), code: 400, reason: "SHARD_NOT_ASSIGNED"},
		{name: "api", method: "GET", path: "/v1/api", code: 200},
		{name: "unknown route", method: "GET", path: "/v2/whatever", code: 404, reason: "ROUTE_NOT_FOUND"},
		{name: "wrong method", method: "DELETE", path: "/v1/blobs/" + id + "/metadata", code: 405, reason: "METHOD_NOT_ALLOWED"},
		{name: "panic", setup: func() { f.panics = true }, method: "GET", path: "/v1/blobs/" + id + "/metadata", code: 500, reason: "INTERNAL_ERROR"},
	}
	for _, c := range cases {
		f.err, f.panics, f.notHeld = nil, false, map[int]bool{}
		if c.setup != nil {
			c.setup()
		}
		code, body, er := ts.do(t, c.method, c.path, c.hdr, c.body)
		if code != c.code || reasonOf(er) != c.reason || (c.status != "" && er.Error.Status != c.status) {
			t.Errorf("%s: %s %s → %d %s (%s), want %d %s %s\n%s", c.name, c.method, c.path, code, er.Error.Status, reasonOf(er), c.code, c.status, c.reason, body)
			continue
		}
		if code >= 400 {
			want := ErrorDomain
			if c.reason == "INTERNAL_ERROR" {
				want = GlobalErrorDomain
			}
			if d := er.Error.Details[0].Domain; d != want {
				t.Errorf("%s: domain %q, want %q", c.name, d, want)
			}
		}
	}
	if got := CallerID(netip.MustParseAddr("127.0.0.1")); f.gotFrom != got {
		t.Errorf("the handler saw caller %q, want %q", f.gotFrom, got)
	}
}

// The bodies of the success answers, in Walrus's forms.
func TestSuccessBodies(t *testing.T) {
	ts := newTestServer(t, 10, nil)
	f := ts.f
	ctx := context.Background()
	id := testID.String()
	check := func(path, want string) {
		t.Helper()
		_, b, _ := ts.do(t, "GET", path, nil, nil)
		if strings.TrimSpace(string(b)) != want {
			t.Errorf("GET %s: %s, want %s", path, b, want)
		}
	}
	f.status = StatusBuffered
	check("/v1/blobs/"+id+"/metadata/status", `{"success":{"code":200,"data":"buffered"}}`)
	f.blobSt = BlobStatus{Kind: BlobNonexistent}
	check("/v1/blobs/"+id+"/status", `{"success":{"code":200,"data":"nonexistent"}}`)
	e := uint32(2)
	f.blobSt = BlobStatus{Kind: BlobPermanent, EndEpoch: 7, IsCertified: true, Event: EventID{"abc", "0"}, DeletableTotal: 1, InitialCertifiedEpoch: &e}
	check("/v1/blobs/"+id+"/status", `{"success":{"code":200,"data":{"permanent":{"endEpoch":7,"isCertified":true,"statusEvent":{"txDigest":"abc","eventSeq":"0"},"deletableCounts":{"count_deletable_total":1,"count_deletable_certified":0},"initialCertifiedEpoch":2}}}}`)
	f.blobSt = BlobStatus{Kind: BlobInvalid, Event: EventID{"x", "1"}}
	check("/v1/blobs/"+id+"/status", `{"success":{"code":200,"data":{"invalid":{"event":{"txDigest":"x","eventSeq":"1"}}}}}`)
	f.blobSt = BlobStatus{Kind: BlobDeletable, DeletableTotal: 2, DeletableCertified: 1, InitialCertifiedEpoch: &e}
	check("/v1/blobs/"+id+"/status", `{"success":{"code":200,"data":{"deletable":{"initialCertifiedEpoch":2,"deletableCounts":{"count_deletable_total":2,"count_deletable_certified":1}}}}}`)
	for _, want := range []BlobStatus{{Kind: BlobNonexistent}, f.blobSt} {
		f.blobSt = want
		got, err := ts.cl.BlobStatus(ctx, testID)
		if err != nil || got.Kind != want.Kind || got.DeletableTotal != want.DeletableTotal {
			t.Errorf("client blob status %+v %v, want %+v", got, err, want)
		}
	}

	// Confirmation JSON (F7.8) and the wait of ?wait_for_registration.
	sm, err := ts.cl.Confirmation(ctx, testID, codec.BlobPersistence{}, 0)
	if err != nil || len(sm.Message) != 40 || sm.Signature[0] != 1 {
		t.Fatalf("confirmation %x %v", sm.Message, err)
	}
	_, b, _ := ts.do(t, "GET", "/v1/blobs/"+id+"/confirmation/permanent", nil, nil)
	var raw struct {
		Success struct {
			Code int
			Data struct{ Signed map[string]string }
		}
	}
	if err := json.Unmarshal(b, &raw); err != nil || raw.Success.Code != 200 || raw.Success.Data.Signed["serializedMessage"] == "" || raw.Success.Data.Signed["signature"] == "" {
		t.Fatalf("confirmation JSON %s: %v", b, err)
	}
	for q, want := range map[string]time.Duration{
		"": 0, "?wait_for_registration=true": 5 * time.Second, "?wait_for_registration=true&wait_millis=300": 300 * time.Millisecond,
		"?wait_for_registration=true&wait_millis=99999": 5 * time.Second, "?wait_millis=300": 0,
	} {
		ts.do(t, "GET", "/v1/blobs/"+id+"/confirmation/permanent"+q, nil, nil)
		f.mu.Lock()
		got := f.gotWait
		f.mu.Unlock()
		if got != want {
			t.Errorf("confirmation%s waited %v, want %v", q, got, want)
		}
	}
	obj := codec.ObjectID{31: 0x2a}
	if sm, err := ts.cl.Confirmation(ctx, testID, codec.BlobPersistence{Deletable: true, ObjectID: obj}, 0); err != nil || len(sm.Message) != 72 || sm.Message[len(sm.Message)-1] != 0x2a {
		t.Fatalf("deletable confirmation %x %v", sm.Message, err)
	}

	// Recovery symbols as Vec<GeneralRecoverySymbol>: one per distinct ID.
	f.symbols = func(r p2p.RecoveryRequest) ([]p2p.Result, error) {
		sym := codec.RecoverySymbol{Target: r.Target.Type, Index: int(r.Sources[0]), Data: []byte{1, 2}}
		return []p2p.Result{{Data: sym.MarshalBCS()}}, nil
	}
	syms, err := ts.cl.RecoverySymbols(ctx, testID, []string{"3-4", "1-2", "3-4"}, 0, 0, nil)
	if err != nil || len(syms) != 2 || syms[0].Target != codec.Secondary || syms[0].TargetIndex != 2 {
		t.Fatalf("recovery symbols %+v %v", syms, err)
	}
	axis := codec.Secondary
	syms, err = ts.cl.RecoverySymbols(ctx, testID, nil, 5, codec.Primary, &axis)
	if err != nil || len(syms) != 2 || syms[0].Target != codec.Primary || syms[0].TargetIndex != 5 {
		t.Fatalf("recovery symbols by target %+v %v", syms, err)
	}

	// Decoding symbols, the map in key-byte order (256 = [0 1] sorts
	// before 1 = [1 0]). The EitherDecodingSymbol tag is the TARGET axis:
	// Walrus's node.rs builds DecodingSymbol::<T::OrthogonalAxis> from a
	// source sliver of axis T, and a DecodingSymbol<Primary> recovers a
	// primary sliver (symbols.rs), so primary targets carry tag 0.
	f.decoding = map[int][]DecodingSymbol{1: {{codec.Primary, 2, []byte{5}}}, 256: {{codec.Secondary, 3, []byte{6}}}, 2: nil}
	enc := EncodeDecodingSymbols(f.decoding)
	if want := []byte{3, 0, 1, 1, 1, 3, 0, 1, 6, 1, 0, 1, 0, 2, 0, 1, 5, 2, 0, 0}; !bytes.Equal(enc, want) {
		t.Fatalf("decoding symbols BCS %v, want %v", enc, want)
	}
	got, err := ts.cl.DecodingSymbols(ctx, testID, []int{1, 2}, codec.Primary)
	if err != nil || len(got) != 3 || got[256][0].Index != 3 {
		t.Fatalf("decoding symbols %+v %v", got, err)
	}
	code, _, er := ts.do(t, "GET", "/v1/blobs/"+id+"/decodingSymbols?targetSlivers=0&targetSlivers=1&targetSlivers=2&targetType=secondary", nil, nil)
	if code != 200 {
		t.Fatalf("decoding symbols: %d %+v", code, er)
	}

	// An attestation as SignedMessage JSON.
	att, err := ts.cl.InconsistencyProof(ctx, testID, &codec.InconsistencyProof{Target: codec.Primary})
	if err != nil {
		t.Fatal(err)
	}
	if ep, gotID, err := codec.ParseInvalidBlobID(att.Message); err != nil || ep != 3 || gotID != testID {
		t.Fatalf("attestation %x: %v", att.Message, err)
	}

	// Sync shard answers SyncShardResponse::V1.
	p := f.params
	f.sync = p2p.SyncBatch{Items: []p2p.SyncItem{{ID: codec.BlobID{1}, Data: sliverBody(p, codec.Primary, 1)}, {ID: codec.BlobID{2}, Data: sliverBody(p, codec.Primary, 2)}}}
	req := p2p.NewSyncRequest([48]byte{7}, codec.SyncShardRequest{Shard: 1, Type: codec.Primary, Count: 10, Epoch: 3}, func([]byte) [96]byte { return [96]byte{} })
	ids, slivers, err := ts.cl.SyncShard(ctx, req)
	if err != nil || len(ids) != 2 || ids[1] != (codec.BlobID{2}) || slivers[1].Index != 2 {
		t.Fatalf("sync shard %v %+v %v", ids, slivers, err)
	}

	// PUT answers: ApiSuccess<String> with 201/202/200.
	for st, want := range map[Stored]int{StoredNew: 201, StoredBuffered: 202, StoredAlready: 200} {
		f.stored = st
		code, err := ts.cl.PutMetadata(ctx, testID, metadataBody(10), st == StoredBuffered)
		if err != nil || code != want {
			t.Errorf("put metadata %v: %d %v", st, code, err)
		}
		code, err = ts.cl.PutSliver(ctx, testID, p2p.SliverRef{Pair: 4, Type: codec.Primary}, sliverBody(p, codec.Primary, 4), false)
		if err != nil || code != want {
			t.Errorf("put sliver %v: %d %v", st, code, err)
		}
	}

	// HEAD, CORS and the OpenAPI document.
	req2, _ := http.NewRequest(http.MethodOptions, ts.url+"/v1/blobs/"+id+"/metadata", nil)
	resp, err := ts.hc.Do(req2)
	if err != nil || resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("OPTIONS: %v %v", resp, err)
	}
	resp.Body.Close()
	_, api, _ := ts.do(t, "GET", "/v1/api", nil, nil)
	for _, path := range []string{PathMetadata, PathMetadataStatus, PathSliver, PathSliverStatus, PathPermanentConfirm, PathDeletableConfirm,
		PathRecoverySymbols, PathDecodingSymbols, PathInconsistencyProof, PathBlobStatus, PathHealth, PathSyncShard, PathAPI} {
		if !bytes.Contains(api, []byte("  "+path+":")) {
			t.Errorf("the OpenAPI document lacks %s", path)
		}
	}
}

// A client pinned to the node's key connects; pinned to another key it is
// refused, whatever else the certificate says.
func TestTLSPinning(t *testing.T) {
	ts := newTestServer(t, 10, nil)
	ctx := context.Background()
	if _, err := ts.cl.Health(ctx, false); err != nil {
		t.Fatalf("pinned to the right key: %v", err)
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	bad := NewClient(ts.url, &other.PublicKey, ts.f.params)
	defer bad.Close()
	if _, err := bad.Health(ctx, false); err == nil || !errors.Is(err, ErrPinMismatch) {
		t.Fatalf("pinned to another key: %v", err)
	}
	// The certificate: self-signed by the key, CN and first SAN its
	// server name, the public host (127.0.0.1) as an IP SAN.
	leaf := ts.s.Certificate().Leaf
	if leaf.Subject.CommonName != ServerName(&ts.key.PublicKey) || leaf.DNSNames[0] != ServerName(&ts.key.PublicKey) ||
		len(leaf.IPAddresses) != 1 || !leaf.IPAddresses[0].Equal(net.ParseIP("127.0.0.1")) {
		t.Fatalf("certificate names %q %v %v", leaf.Subject.CommonName, leaf.DNSNames, leaf.IPAddresses)
	}
	if err := leaf.CheckSignature(leaf.SignatureAlgorithm, leaf.RawTBSCertificate, leaf.Signature); err != nil {
		t.Fatalf("not self-signed: %v", err)
	}
	// A plain client that trusts nothing refuses the certificate.
	plain := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{}}}
	if _, err := plain.Get(ts.url + PathHealth); err == nil {
		t.Fatal("an unpinned client accepted the self-signed certificate")
	}
}

func TestNetworkKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), NetworkKeyFile)
	k1, err := LoadOrCreateNetworkKey(path)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := LoadOrCreateNetworkKey(path)
	if err != nil || !k1.Equal(k2) {
		t.Fatalf("the key is not kept: %v", err)
	}
	c := CompressedKey(&k1.PublicKey)
	if len(c) != 33 || (c[0] != 2 && c[0] != 3) {
		t.Fatalf("compressed key %x", c)
	}
	pub, err := ParseNetworkKey(c)
	if err != nil || !pub.Equal(&k1.PublicKey) {
		t.Fatalf("parse compressed: %v", err)
	}
	u, _ := k1.PublicKey.Bytes()
	if pub, err := ParseNetworkKey(u); err != nil || !pub.Equal(&k1.PublicKey) {
		t.Fatalf("parse uncompressed: %v", err)
	}
	// The name rule: each of the first four bytes in hex without padding.
	want := fmt.Sprintf("%x%x%x%x.network.walrus.alt", c[0], c[1], c[2], c[3])
	if got := ServerName(&k1.PublicKey); got != want {
		t.Fatalf("server name %q, want %q", got, want)
	}
	if _, err := ParseNetworkKey(c[:20]); err == nil {
		t.Fatal("a short key parsed")
	}
}

// Per-address rate limits, requests in flight, gating after offences,
// connections per address and the memory budget.
func TestLimits(t *testing.T) {
	t.Run("rate", func(t *testing.T) {
		ts := newTestServer(t, 10, func(c *Config) { c.RateLimit = p2p.RateLimit{Rate: 0.01, Burst: 2} })
		codes := []int{}
		for range 3 {
			code, _, _ := ts.do(t, "GET", PathHealth, nil, nil)
			codes = append(codes, code)
		}
		if codes[0] != 200 || codes[1] != 200 || codes[2] != 429 {
			t.Fatalf("codes %v", codes)
		}
		// Another route has its own bucket.
		if code, _, _ := ts.do(t, "GET", PathAPI, nil, nil); code != 200 {
			t.Fatalf("another route: %d", code)
		}
	})
	t.Run("in flight", func(t *testing.T) {
		ts := newTestServer(t, 10, func(c *Config) { c.MaxInFlightPerIP = 1 })
		ts.f.block = make(chan struct{})
		done := make(chan int)
		go func() { code, _, _ := ts.do(t, "GET", PathHealth, nil, nil); done <- code }()
		deadline := time.Now().Add(5 * time.Second)
		for {
			if _, fl := ts.s.clients.usage(); fl == 1 || time.Now().After(deadline) {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		code, _, er := ts.do(t, "GET", PathAPI, nil, nil)
		close(ts.f.block)
		if code != 429 || reasonOf(er) != "TOO_MANY_REQUESTS" || <-done != 200 {
			t.Fatalf("second request in flight: %d %s", code, reasonOf(er))
		}
	})
	t.Run("gate", func(t *testing.T) {
		ts := newTestServer(t, 10, func(c *Config) { c.GateAfter = 3 })
		for range 4 {
			ts.do(t, "GET", "/v1/blobs/nope/metadata", nil, nil)
		}
		code, _, er := ts.do(t, "GET", PathHealth, nil, nil)
		if code != 403 || reasonOf(er) != "CLIENT_GATED" {
			t.Fatalf("after 3 invalid requests: %d %s", code, reasonOf(er))
		}
	})
	t.Run("trusted", func(t *testing.T) {
		ts := newTestServer(t, 10, func(c *Config) { c.GateAfter = 1; c.Trusted = func(netip.Addr) bool { return true } })
		for range 3 {
			ts.do(t, "GET", "/v1/blobs/nope/metadata", nil, nil)
		}
		if code, _, _ := ts.do(t, "GET", PathHealth, nil, nil); code != 200 {
			t.Fatalf("a trusted address was gated: %d", code)
		}
	})
	t.Run("conns", func(t *testing.T) {
		ts := newTestServer(t, 10, func(c *Config) { c.MaxConnsPerIP = 1 })
		cfg := PinnedTLSConfig(&ts.key.PublicKey)
		c1, err := tls.Dial("tcp", ts.s.Addr().String(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer c1.Close()
		if c2, err := tls.Dial("tcp", ts.s.Addr().String(), cfg); err == nil {
			c2.Close()
			t.Fatal("a second connection from the address was served")
		}
	})
	t.Run("memory", func(t *testing.T) {
		cfg := Config{MemoryPerIP: 100, Memory: 150}
		cs := newClients(&cfg)
		a, b := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
		ctx := context.Background()
		r1, err := cs.reserve(ctx, a, 80)
		if err != nil {
			t.Fatal(err)
		}
		short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		if _, err := cs.reserve(short, a, 30); err == nil {
			t.Fatal("past the per-address budget")
		}
		r2, err := cs.reserve(ctx, b, 60)
		if err != nil {
			t.Fatal(err)
		}
		got := make(chan func())
		go func() { // waits for room in all
			r, err := cs.reserve(ctx, b, 30)
			if err != nil {
				t.Error(err)
			}
			got <- r
		}()
		time.Sleep(20 * time.Millisecond)
		r1()
		r3 := <-got
		r2()
		r3()
		if m, _ := cs.usage(); m != 0 {
			t.Fatalf("%d bytes still held", m)
		}
		// One request larger than a budget goes through alone.
		if _, err := cs.reserve(ctx, a, 1000); err != nil {
			t.Fatal(err)
		}
	})
}

// A body that arrives slower than the stream protocols' minimum rate is
// cut off; a request whose headers never end is dropped.
func TestSlowClients(t *testing.T) {
	ts := newTestServer(t, 10, func(c *Config) {
		c.Timeouts.Idle = 200 * time.Millisecond
		c.Timeouts.Request = 200 * time.Millisecond
	})
	conn, err := tls.Dial("tcp", ts.s.Addr().String(), func() *tls.Config {
		c := PinnedTLSConfig(&ts.key.PublicKey)
		c.NextProtos = []string{"http/1.1"}
		return c
	}())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "PUT /v1/blobs/%s/metadata HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc", testID)
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, _ := io.ReadAll(conn)
	if !strings.Contains(string(b), "INCOMPLETE_BODY") && len(b) != 0 {
		t.Fatalf("stalled body: %q", b)
	}
	// HTTP/1.1: the header timeout (Timeouts.Request); HTTP/2 connections
	// get Go's 10 s for the client preface, then the idle timeout.
	h1 := PinnedTLSConfig(&ts.key.PublicKey)
	h1.NextProtos = []string{"http/1.1"}
	conn2, err := tls.Dial("tcp", ts.s.Addr().String(), h1)
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close()
	_ = conn2.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	_, err = io.ReadAll(conn2)
	if time.Since(start) > 4*time.Second {
		t.Fatalf("an idle connection was held %v (%v)", time.Since(start), err)
	}
}
