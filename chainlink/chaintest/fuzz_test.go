package chaintest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"

	"floe/chainlink"
	"floe/chainlink/bls"
	"floe/codec"
)

// seedLedger builds a ledger with a committee, blobs (one certified, one
// deletable) and an invalidated ID, on ds.
func seedLedger(tb testing.TB, ds datastore.Batching) (*chainlink.Ledger, chainlink.Blob) {
	tb.Helper()
	ctx := context.Background()
	l, err := chainlink.Open(ctx, ds, append(suiteOptions, quiet(), chainlink.WithClock(fixedClock))...)
	if err != nil {
		tb.Fatal(err)
	}
	must := func(err error) {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
	}
	keys := map[chainlink.ID]*bls.SecretKey{}
	var first chainlink.ID // node 0, owned by Account(1000)
	for i, s := range stakes4 {
		owner := Account(1000 + i)
		_, err := l.Faucet(ctx, owner, s+1_000_000)
		must(err)
		k := NodeKey(i)
		n, err := l.RegisterNode(ctx, chainlink.RegisterNodeRequest{Owner: owner, PeerID: fmt.Sprint("peer", i),
			PublicKey: k.PublicKey(), ProofOfPossession: k.ProofOfPossession(0, owner), Stake: s})
		must(err)
		keys[n.ID] = k
		if i == 0 {
			first = n.ID
		}
	}
	_, err = l.AdvanceEpoch(ctx)
	must(err)
	cm, err := l.Committee(ctx, 1)
	must(err)
	// A sync report and a pending withdrawal, so corrupt records reach
	// them too.
	must(l.EpochSyncDone(ctx, cm.Members[0].NodeID, 1))
	_, err = l.Unstake(ctx, Account(1000), first, 1000)
	must(err)
	cert := func(msg []byte) chainlink.Certificate {
		var sigs []bls.Signature
		var idx []uint16
		for i, m := range cm.Members {
			sigs = append(sigs, keys[m.NodeID].Sign(msg))
			idx = append(idx, uint16(i))
		}
		agg, err := bls.Aggregate(sigs)
		must(err)
		bm, err := bls.SignersToBitmap(len(cm.Members), idx)
		must(err)
		return chainlink.Certificate{Signature: agg, Signers: bm, Message: msg}
	}
	owner := Account(3)
	_, err = l.Faucet(ctx, owner, 10_000_000)
	must(err)
	var blobs []chainlink.Blob
	for i := range 2 {
		id, root, size := TestBlob(i, 2000)
		r, err := l.RegisterBlob(ctx, chainlink.RegisterBlobRequest{Owner: owner, BlobID: id, RootHash: root, Size: size,
			EncodingType: codec.EncodingTypeRS2, EpochsAhead: 3, Deletable: i == 1})
		must(err)
		blobs = append(blobs, r.Blob)
	}
	_, err = l.CertifyBlob(ctx, blobs[0].ObjectID, cert(codec.StorageConfirmationMessage(1, blobs[0].BlobID, blobs[0].Persistence())))
	must(err)
	bad, _, _ := TestBlob(7, 1)
	_, err = l.InvalidateBlobID(ctx, cert(codec.InvalidBlobIDMessage(1, bad)))
	must(err)
	return l, blobs[1]
}

// slowInput fails a fuzz input that takes this long, so the fuzzer saves
// it: a request or a corrupt record must not buy seconds of CPU.
const slowInput = 2 * time.Second

var fuzzRoutes = []struct{ method, path string }{
	{"GET", "/v1/epoch"},
	{"POST", "/v1/epoch/advance"},
	{"POST", "/v1/epoch/sync-done"},
	{"GET", "/v1/committees/{}"},
	{"POST", "/v1/faucet"},
	{"GET", "/v1/accounts/{}"},
	{"GET", "/v1/nodes"},
	{"POST", "/v1/nodes"},
	{"GET", "/v1/nodes/{}"},
	{"POST", "/v1/nodes/{}/update"},
	{"POST", "/v1/stake"},
	{"POST", "/v1/unstake"},
	{"POST", "/v1/storage"},
	{"POST", "/v1/blobs"},
	{"GET", "/v1/blobs/{}"},
	{"POST", "/v1/blobs/{}/certify"},
	{"POST", "/v1/blobs/{}/delete"},
	{"POST", "/v1/blobs/{}/extend"},
	{"POST", "/v1/invalidate"},
	{"GET", "/v1/blob-status/{}"},
	{"GET", "/v1/events?{}"},
}

// FuzzHTTPService sends malformed requests to every route of the ledger
// service: it must never answer 5xx, every refusal is a JSON error with a
// code, and nothing refused changes the state.
func FuzzHTTPService(f *testing.F) {
	l, obj := seedLedger(f, chainlink.NewMemDatastore())
	f.Cleanup(func() { l.Close() })
	h := chainlink.NewServer(l)
	for i := range fuzzRoutes {
		f.Add(uint8(i), obj.ObjectID.String(), []byte(`{}`))
	}
	f.Add(uint8(4), "", []byte(`{"address":"`+Account(1).String()+`","amount":5}`))
	f.Add(uint8(4), "", []byte(`{"address":"`+Account(1).String()+`","amount":5,"x":1}`))
	f.Add(uint8(15), obj.ObjectID.String(), []byte(`{"signature":"00","signers":"AA==","message":"AQAD"}`))
	f.Add(uint8(17), obj.ObjectID.String(), []byte(`{"payer":"`+Account(3).String()+`","epochs":4294967295}`))
	f.Add(uint8(20), "after=18446744073709551615&wait=1ms", []byte(nil))
	f.Add(uint8(20), "after=-1", []byte(nil))
	f.Add(uint8(13), "", []byte(`{"owner":"`+Account(3).String()+`","size":18446744073709551615,"epochs_ahead":1,"encoding_type":1}`))
	f.Fuzz(func(t *testing.T, route uint8, param string, body []byte) {
		if len(param) > 256 || len(body) > 8<<10 {
			return
		}
		rt := fuzzRoutes[int(route)%len(fuzzRoutes)]
		p := rt.path
		if strings.Contains(p, "?") {
			p = strings.Replace(p, "{}", param, 1)
		} else {
			p = strings.Replace(p, "{}", url.PathEscape(param), 1)
		}
		// Long-polls end after 50 ms; other requests get ample time, and a
		// 503 is fine only once the request's own deadline has passed.
		timeout := slowInput
		if strings.Contains(p, "?") {
			timeout = 50 * time.Millisecond
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, rt.method, "http://ledger"+p, bytes.NewReader(body))
		if err != nil {
			return // not a URL a client could send
		}
		before, err := l.Digest(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		w := httptest.NewRecorder()
		start := time.Now()
		h.ServeHTTP(w, req)
		if d := time.Since(start); d > slowInput {
			t.Fatalf("%s %s %q took %v", rt.method, p, body, d)
		}
		if w.Code == http.StatusServiceUnavailable && ctx.Err() != nil {
			return
		}
		if w.Code >= 500 {
			t.Fatalf("%s %s %q: %d %s", rt.method, p, body, w.Code, w.Body)
		}
		if w.Code < 300 {
			return
		}
		if strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
			var e struct{ Error, Code string }
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error == "" || e.Code == "" {
				t.Fatalf("%s %s: %d with body %q", rt.method, p, w.Code, w.Body)
			}
		}
		after, err := l.Digest(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if before != after {
			t.Fatalf("%s %s %q refused with %d but changed the state", rt.method, p, body, w.Code)
		}
	})
}

// FuzzOpenCorrupt replaces one stored record of a ledger with fuzzed bytes:
// Open must fail with an error or open a ledger that answers without
// panicking.
func FuzzOpenCorrupt(f *testing.F) {
	ds := chainlink.NewMemDatastore()
	l, _ := seedLedger(f, ds)
	l.Close()
	ctx := context.Background()
	res, err := ds.Query(ctx, query.Query{Orders: []query.Order{query.OrderByKey{}}})
	if err != nil {
		f.Fatal(err)
	}
	all, err := res.Rest()
	if err != nil {
		f.Fatal(err)
	}
	for i, e := range all {
		f.Add(uint16(i), e.Value[:len(e.Value)/2])
		f.Add(uint16(i), bytes.Replace(e.Value, []byte(`:1`), []byte(`:-1`), 1))
	}
	f.Add(uint16(0), []byte(`{"version":1,"epoch":{"epoch":4294967295,"n_shards":0}}`))
	f.Add(uint16(0), []byte(`{"version":1,"epoch":{"epoch":1,"n_shards":65535}}`))
	f.Fuzz(func(t *testing.T, which uint16, value []byte) {
		if len(value) > 4<<10 {
			return
		}
		start := time.Now()
		defer func() {
			if d := time.Since(start); d > slowInput {
				t.Fatalf("record %d replaced by %q: %v", which, value, d)
			}
		}()
		mem := chainlink.NewMemDatastore()
		for _, e := range all {
			if err := mem.Put(ctx, datastore.NewKey(e.Key), e.Value); err != nil {
				t.Fatal(err)
			}
		}
		k := datastore.NewKey(all[int(which)%len(all)].Key)
		if err := mem.Put(ctx, k, value); err != nil {
			t.Fatal(err)
		}
		l, err := chainlink.Open(ctx, mem, quiet(), chainlink.WithClock(fixedClock))
		if err != nil {
			return
		}
		defer l.Close()
		es, _ := l.EpochState(ctx)
		_, _ = l.Committee(ctx, es.Epoch)
		_, _ = l.Nodes(ctx)
		id, _, _ := TestBlob(0, 2000)
		_, _ = l.BlobStatus(ctx, id)
		_, _, _ = l.EventsAfter(ctx, 0, 0)
		_, _ = l.Digest(ctx)
		_, _ = l.Faucet(ctx, Account(1), 1)
		_, _ = l.AdvanceEpoch(ctx)
	})
}
