package rest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"floe/codec"
	"floe/p2p"
)

// Fuzz targets for every request decoder of the server (path segments,
// query strings, headers, bodies) and the answer decoders of the client,
// and one for the whole router. `go test` replays their seeds; .ci/run
// fuzzes each for a few seconds.

func fuzzParams(t testing.TB, n int) codec.Params {
	p, err := codec.NewParams(n)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Path segments and the Authorization header.
func FuzzPathSegments(f *testing.F) {
	for _, s := range []string{"0", "65535", "65536", "007", "+1", "-1", "", "0x2a", "0x", "0X2a", "0x" + strings.Repeat("f", 64),
		"0x" + strings.Repeat("f", 65), "1-2", "1-", "-2", "+1-2", "true", "false", "True",
		EncodeAuthorization([48]byte{1, 2, 3}), strings.TrimRight(EncodeAuthorization([48]byte{9}), "="), " " + EncodeAuthorization([48]byte{}) + " "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if v, err := parsePairIndex(s); err == nil {
			if strings.TrimLeft(s, "0") != strings.TrimLeft(strconv.Itoa(int(v)), "0") {
				t.Fatalf("pair index %q parsed as %d", s, v)
			}
		}
		if id, err := parseObjectID(s); err == nil {
			h := strings.ToLower(strings.TrimPrefix(s, "0x"))
			if strings.TrimLeft(h, "0") != strings.TrimLeft(hex.EncodeToString(id[:]), "0") {
				t.Fatalf("object ID %q parsed as %x", s, id)
			}
			if back, err := parseObjectID("0x" + hex.EncodeToString(id[:])); err != nil || back != id {
				t.Fatalf("object ID %x does not round-trip: %v", id, err)
			}
		}
		if sym, err := parseSymbolID(s); err == nil {
			back, err := parseSymbolID(strconv.Itoa(int(sym.primary)) + "-" + strconv.Itoa(int(sym.secondary)))
			if err != nil || back != sym {
				t.Fatalf("symbol ID %q → %+v does not round-trip: %v", s, sym, err)
			}
		}
		if b, err := parseBool(s); err == nil && strconv.FormatBool(b) != s {
			t.Fatalf("bool %q parsed as %v", s, b)
		}
		if pk, err := parseAuthorization(s); err == nil {
			if back, err := parseAuthorization(EncodeAuthorization(pk)); err != nil || back != pk {
				t.Fatalf("authorization %q does not round-trip: %v", s, err)
			}
		}
		_ = contentTypeOK(s)
	})
}

// The query strings of every route.
func FuzzQueries(f *testing.F) {
	for _, s := range []string{"", "pending=true", "pending=false&pending=true", "pending=1", "x=1",
		"wait_for_registration=true&wait_millis=300", "wait_millis=18446744073709551615", "wait_millis=18446744073709551616",
		"id=1-2&id=3-4&id=1-2", "id=1-20", "targetSliver=2&targetType=primary&proofAxis=secondary", "targetSliver=2&id=1-2",
		"targetSlivers=0&targetSlivers=1&targetType=secondary", "targetSlivers=9&targetType=primary", "targetType=primary",
		"detailed=true", "%zz", "id=" + strings.Repeat("1-1&id=", 20) + "1-1"} {
		f.Add(s)
	}
	p := fuzzParams(f, 10)
	const maxIDs = 16
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		if _, err := parseUploadQuery(q); err == nil {
			for k, v := range q {
				if k != "pending" || len(v) != 1 {
					t.Fatalf("upload query %q accepted", raw)
				}
			}
		}
		if c, err := parseConfirmationQuery(q); err == nil {
			if c.waitMillis != nil {
				if v, err := strconv.ParseUint(q.Get("wait_millis"), 10, 64); err != nil || v != *c.waitMillis {
					t.Fatalf("wait_millis %q parsed as %d", q.Get("wait_millis"), *c.waitMillis)
				}
			}
			if _, ok := q["wait_for_registration"]; c.waitForRegistration && q.Get("wait_for_registration") != "true" || !ok && c.waitForRegistration {
				t.Fatalf("wait_for_registration %q parsed as true", q.Get("wait_for_registration"))
			}
		}
		if r, err := parseRecoveryQuery(q, p.NShards, maxIDs); err == nil {
			if len(r.ids) > maxIDs || (r.target < 0) == (len(r.ids) == 0) || r.target >= p.NShards {
				t.Fatalf("recovery query %q → %+v", raw, r)
			}
			for i, id := range r.ids {
				if int(id.primary) >= p.NShards || int(id.secondary) >= p.NShards {
					t.Fatalf("recovery query %q: symbol %+v out of range", raw, id)
				}
				if i > 0 && !(r.ids[i-1].primary < id.primary || r.ids[i-1].primary == id.primary && r.ids[i-1].secondary < id.secondary) {
					t.Fatalf("recovery query %q: ids not sorted and distinct: %+v", raw, r.ids)
				}
			}
		}
		if ts, ty, err := parseDecodingQuery(q, p); err == nil {
			if len(ts) == 0 || !slices.IsSorted(ts) || len(slices.Compact(slices.Clone(ts))) != len(ts) {
				t.Fatalf("decoding query %q → %v", raw, ts)
			}
			if ts[len(ts)-1] >= p.SourceSymbols(ty) || ts[0] < 0 {
				t.Fatalf("decoding query %q: target %v past %d source slivers", raw, ts, p.SourceSymbols(ty))
			}
		}
	})
}

// The sync_shard body (SignedMessage<SyncShardMsg>).
func FuzzSyncShardBody(f *testing.F) {
	p := fuzzParams(f, 10)
	l := p2p.LimitsFor(p)
	for _, r := range []codec.SyncShardRequest{{Shard: 1, Type: codec.Primary, Count: 10, Epoch: 3}, {Shard: 9, Type: codec.Secondary, Count: 1 << 40, Epoch: 1 << 31}, {Shard: 10}} {
		req := p2p.NewSyncRequest([48]byte{7}, r, func([]byte) [96]byte { return [96]byte{5} })
		f.Add(req.Signed.MarshalBCS())
	}
	f.Add([]byte{})
	f.Add(make([]byte, syncBodySize))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeSyncShardBody(b, [48]byte{1}, l)
		if err != nil {
			return
		}
		if int(r.Request.Shard) >= p.NShards || r.PublicKey != [48]byte{1} {
			t.Fatalf("sync body accepted shard %d", r.Request.Shard)
		}
		if !bytes.Equal(r.Signed.MarshalBCS(), b) {
			t.Fatalf("sync body %x re-encodes as %x", b, r.Signed.MarshalBCS())
		}
	})
}

// The PUT metadata body (BlobMetadata without the ID).
func FuzzMetadataBody(f *testing.F) {
	p := fuzzParams(f, 10)
	f.Add(metadataBody(10))
	f.Add(metadataBody(4))
	enc, err := codec.Encode(p, []byte("floe rest fuzz seed"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(enc.Metadata.MarshalBCS())
	f.Add([]byte{0})
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := decodeMetadataBody(testID, b)
		if err != nil {
			return
		}
		id, m, err := codec.UnmarshalMetadataWithID(out)
		if err != nil || id != testID || !bytes.Equal(out[32:], b) {
			t.Fatalf("metadata body %x → %x: %v", b, out, err)
		}
		if !bytes.Equal(m.MarshalBCS(), b) {
			t.Fatalf("metadata body %x re-encodes as %x", b, m.MarshalBCS())
		}
	})
}

// The client's decoders of the BCS answers: decodingSymbols and sync_shard.
func FuzzBCSAnswers(f *testing.F) {
	p := fuzzParams(f, 10)
	f.Add(EncodeDecodingSymbols(map[int][]DecodingSymbol{1: {{codec.Primary, 2, []byte{5}}}, 256: {{codec.Secondary, 3, []byte{6}}}, 2: nil}), true)
	f.Add([]byte{1, 0, 0, 0x80}, true)
	f.Add(EncodeSyncResponse([]p2p.SyncItem{{ID: codec.BlobID{1}, Data: sliverBody(p, codec.Primary, 1)}}, codec.Primary), false)
	f.Add([]byte{0, 1}, false)
	const maxEntries = 64
	f.Fuzz(func(t *testing.T, b []byte, decoding bool) {
		if decoding {
			m, err := DecodeDecodingSymbols(b, maxEntries)
			if err != nil {
				return
			}
			total := 0
			for _, syms := range m {
				total += len(syms)
			}
			if total > maxEntries {
				t.Fatalf("%d symbols decoded past the bound %d", total, maxEntries)
			}
			back, err := DecodeDecodingSymbols(EncodeDecodingSymbols(m), maxEntries)
			if err != nil || !reflect.DeepEqual(normalize(back), normalize(m)) {
				t.Fatalf("decoding symbols do not round-trip: %v", err)
			}
			return
		}
		ids, slivers, err := DecodeSyncResponse(b, maxEntries)
		if err != nil {
			return
		}
		if len(ids) != len(slivers) || len(ids) > maxEntries {
			t.Fatalf("%d ids, %d slivers", len(ids), len(slivers))
		}
	})
}

func normalize(m map[int][]DecodingSymbol) map[int][]DecodingSymbol {
	out := map[int][]DecodingSymbol{}
	for k, v := range m {
		out[k] = append([]DecodingSymbol{}, v...)
		for i := range out[k] {
			out[k][i].Data = append([]byte{}, out[k][i].Data...)
		}
	}
	return out
}

// The client's decoders of the JSON answers: the success envelope with a
// BlobStatus, a StorageConfirmation or a stored status, and error objects.
func FuzzJSONAnswers(f *testing.F) {
	for _, s := range []string{`{"success":{"code":200,"data":"nonexistent"}}`,
		`{"success":{"code":200,"data":{"permanent":{"endEpoch":7,"isCertified":true,"statusEvent":{"txDigest":"abc","eventSeq":"0"},"deletableCounts":{"count_deletable_total":1,"count_deletable_certified":0},"initialCertifiedEpoch":2}}}}`,
		`{"success":{"code":200,"data":{"deletable":{"initialCertifiedEpoch":null,"deletableCounts":{"count_deletable_total":2,"count_deletable_certified":1}}}}}`,
		`{"success":{"code":200,"data":{"invalid":{"event":{"txDigest":"x","eventSeq":"1"}}}}}`,
		`{"success":{"code":200,"data":{"signed":{"serializedMessage":"AQAD","signature":"AA=="}}}}`,
		`{"error":{"code":400,"status":"FAILED_PRECONDITION","message":"m","details":[{"@type":"ErrorInfo","reason":"NOT_REGISTERED","domain":"storage.walrus.space","metadata":{}}]}}`,
		`{"a":1,"b":2}`, `null`, `[]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if st, _, err := decodeSuccess[BlobStatus](b); err == nil && st.Kind != "" {
			j, err := json.Marshal(st)
			if err != nil {
				t.Fatalf("status %+v decoded but does not encode: %v", st, err)
			}
			var back BlobStatus
			if err := json.Unmarshal(j, &back); err != nil || !reflect.DeepEqual(back, st) {
				t.Fatalf("status %s does not round-trip: %+v %v", j, back, err)
			}
		}
		if c, _, err := decodeSuccess[StorageConfirmation](b); err == nil && c.Signed != nil {
			if sm, err := c.Signed.Decode(); err == nil {
				if back, err := SignedJSON(sm).Decode(); err != nil || !bytes.Equal(back.Message, sm.Message) || back.Signature != sm.Signature {
					t.Fatalf("confirmation does not round-trip: %v", err)
				}
			}
		}
		_, _, _ = decodeSuccess[StoredStatus](b)
		e := parseAPIError(400, b)
		if e.Code != 400 || len(e.Message) > len(b) {
			t.Fatalf("error answer %q → %+v", b, e)
		}
	})
}

// The whole router on arbitrary methods, paths, queries, headers and
// bodies: every answer is a success or a well-formed error of this API,
// never an internal error or a panic.
func FuzzServer(f *testing.F) {
	id := testID.String()
	p := fuzzParams(f, 10)
	f.Add(uint8(0), "blobs/"+id+"/metadata", "", "", []byte(nil))
	f.Add(uint8(1), "blobs/"+id+"/metadata", "pending=true", "application/octet-stream", metadataBody(10))
	f.Add(uint8(1), "blobs/"+id+"/slivers/3/secondary", "", "", sliverBody(p, codec.Secondary, 3))
	f.Add(uint8(1), "blobs/"+id+"/slivers/3/secondary", "", "text/plain", sliverBody(p, codec.Secondary, 3))
	f.Add(uint8(0), "blobs/"+id+"/slivers/65535/primary/status", "", "", []byte(nil))
	f.Add(uint8(0), "blobs/"+id+"/confirmation/deletable/0x2a", "wait_for_registration=true&wait_millis=1", "", []byte(nil))
	f.Add(uint8(0), "blobs/"+id+"/recoverySymbols", "id=1-2&id=3-4", "", []byte(nil))
	f.Add(uint8(0), "blobs/"+id+"/recoverySymbols", "targetSliver=2&targetType=primary", "", []byte(nil))
	f.Add(uint8(0), "blobs/"+id+"/decodingSymbols", "targetSlivers=1&targetType=secondary", "", []byte(nil))
	f.Add(uint8(2), "blobs/"+id+"/inconsistencyProof/primary", "", "", (&codec.InconsistencyProof{Target: codec.Primary}).MarshalBCS())
	syncReq := p2p.NewSyncRequest([48]byte{7}, codec.SyncShardRequest{Shard: 1, Count: 2, Epoch: 3}, func([]byte) [96]byte { return [96]byte{} })
	f.Add(uint8(2), "migrate/sync_shard", "", "", syncReq.Signed.MarshalBCS())
	f.Add(uint8(0), "health", "detailed=true", "", []byte(nil))
	f.Add(uint8(3), "blobs/"+id+"/status", "", "", []byte(nil))
	f.Add(uint8(4), "api", "", "", []byte(nil))
	f.Add(uint8(0), "blobs/../../x", "", "", []byte(nil))

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	cfg := DefaultConfig(p, key)
	cfg.RateLimit = p2p.RateLimit{Rate: 1e9, Burst: 1 << 30}
	cfg.GateAfter = 0
	cfg.Logger = testLog()
	fk := &fake{params: p, shards: []int{0, 1}, notHeld: map[int]bool{}, meta: []byte{1},
		sliver: sliverBody(p, codec.Primary, 1), status: StatusStored, blobSt: BlobStatus{Kind: BlobNonexistent},
		symbols: func(r p2p.RecoveryRequest) ([]p2p.Result, error) {
			sym := codec.RecoverySymbol{Target: r.Target.Type, Index: int(r.Sources[0]), Data: []byte{1, 2}}
			return []p2p.Result{{Data: sym.MarshalBCS()}}, nil
		}}
	s, err := New(fk, cfg)
	if err != nil {
		f.Fatal(err)
	}
	h := s.Handler()
	methods := []string{http.MethodGet, http.MethodPut, http.MethodPost, http.MethodHead, http.MethodDelete, http.MethodOptions}
	f.Fuzz(func(t *testing.T, m uint8, path, query, contentType string, body []byte) {
		u := "https://127.0.0.1/v1/" + path
		if query != "" {
			u += "?" + query
		}
		req, err := http.NewRequest(methods[int(m)%len(methods)], u, bytes.NewReader(body))
		if err != nil {
			return
		}
		req.RemoteAddr = "127.0.0.1:1"
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		req.Header.Set("Authorization", EncodeAuthorization([48]byte{7}))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		res := w.Result()
		b, _ := io.ReadAll(res.Body)
		switch c := res.StatusCode; {
		case c >= 500:
			t.Fatalf("%s %s: %d %s", req.Method, u, c, b)
		case c == 301 || c == 307 || c == 308 || c == 204 || (c < 300 && c >= 200):
		case c >= 400:
			var er ErrorResponse
			if err := json.Unmarshal(b, &er); err != nil || er.Error.Code != c || len(er.Error.Details) != 1 ||
				er.Error.Details[0].Domain != ErrorDomain || er.Error.Details[0].Reason == "" || er.Error.Status == "" {
				t.Fatalf("%s %s: %d with a malformed error %q (%v)", req.Method, u, c, b, err)
			}
		default:
			t.Fatalf("%s %s: unexpected %d", req.Method, u, c)
		}
	})
}
