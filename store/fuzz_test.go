package store

// Fuzz targets for every decoder of on-disk keys and values (helper B's
// file). Each must never panic, must bound lengths, and whatever it accepts
// must re-encode to exactly the input (one encoding per value, so a flipped
// byte can never decode to a different valid value silently).
//
//	go test ./store/ -run '^$' -fuzz FuzzKeys -fuzztime 20s   (and so on)

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"floe/codec"
)

func FuzzKeys(f *testing.F) {
	id := codec.BlobID{1, 2, 3, 0xfe, 31: 0xff}
	for _, k := range []string{
		sliverKey(0, id, codec.Primary), sliverKey(maxShard, id, codec.Secondary),
		indexSliverKey(id, 7, codec.Primary), indexMetaKey(id),
		pendingSliverKey(id, 3, codec.Secondary), pendingMetaKey(id),
		expiryKey(0, id), expiryKey(^uint64(0), id),
		stateKey(id), metaKey(id), pendingTimeKey(id),
		"", "/", "/s/", "/s/zzzz/x/p", "/x/" + blobHex(id) + "/0001", "/e/" + hex16(5) + "/" + blobHex(id)[:10],
		"/s/0001/" + "AB" + blobHex(id)[2:] + "/p",
	} {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, k string) {
		if p, ok := parseSliverKey(k); ok {
			if p.Shard < 0 || p.Shard > maxShard {
				t.Fatalf("shard %d out of range", p.Shard)
			}
			if got := sliverKey(p.Shard, p.Blob, p.Type); got != k {
				t.Fatalf("sliver key %q re-encodes to %q", k, got)
			}
		}
		if p, ok := parseIndexKey(k); ok {
			got := indexMetaKey(p.Blob)
			if !p.Meta {
				got = indexSliverKey(p.Blob, p.Shard, p.Type)
			}
			if got != k {
				t.Fatalf("index key %q re-encodes to %q", k, got)
			}
		}
		if p, ok := parsePendingKey(k); ok {
			got := pendingMetaKey(p.Blob)
			if !p.Meta {
				if p.Pair < 0 || p.Pair > maxShard {
					t.Fatalf("pair %d out of range", p.Pair)
				}
				got = pendingSliverKey(p.Blob, p.Pair, p.Type)
			}
			if got != k {
				t.Fatalf("pending key %q re-encodes to %q", k, got)
			}
		}
		if e, id, ok := parseExpiryKey(k); ok {
			if got := expiryKey(e, id); got != k {
				t.Fatalf("expiry key %q re-encodes to %q", k, got)
			}
		}
		for _, pfx := range []string{pfxState, pfxMeta, pfxPendTime} {
			if id, ok := parseBlobLeaf(k, pfx); ok {
				if got := pfx + blobHex(id); got != k {
					t.Fatalf("leaf key %q re-encodes to %q", k, got)
				}
			}
		}
	})
}

// checkCorruptErr: a decoder's error must wrap ErrCorrupt and name the key.
func checkCorruptErr(t *testing.T, err error) {
	t.Helper()
	var ce *CorruptError
	if !errors.Is(err, ErrCorrupt) || !errors.As(err, &ce) || ce.Key != "k" {
		t.Fatalf("error %v is not a *CorruptError for key k", err)
	}
}

func FuzzOpenValue(f *testing.F) {
	f.Add([]byte{})
	f.Add(sealValue(nil))
	f.Add(sealValue([]byte("sliver data")))
	bad := sealValue([]byte("sliver data"))
	bad[len(bad)-1] ^= 1
	f.Add(bad)
	f.Add([]byte{0x12, 0x20})
	f.Add(legacySeal(f, []byte("sliver data")))
	f.Add(append([]byte{0x1e, 0x20}, make([]byte, 40)...)) // blake3 header
	f.Fuzz(func(t *testing.T, v []byte) {
		p, err := openValue("k", v)
		if err != nil {
			checkCorruptErr(t, err)
			return
		}
		if !bytes.Equal(sealValue(p), v) && !bytes.Equal(legacySeal(t, p), v) {
			t.Fatalf("accepted %x, which is not the seal of its payload", v)
		}
	})
}

func FuzzDecodeState(f *testing.F) {
	f.Add(encodeState(BlobState{}))
	f.Add(encodeState(BlobState{Registered: true, Certified: true, NShards: 1000, EndEpoch: 42, CertifiedEpoch: 7, ObjectID: [32]byte{9}}))
	f.Add(encodeState(BlobState{Registered: true, Invalid: true, Deleted: true, Deletable: true, NShards: maxShards, EndEpoch: ^uint64(0)}))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, v []byte) {
		st, err := decodeState("k", v)
		if err != nil {
			checkCorruptErr(t, err)
			return
		}
		if st.NShards < 0 || st.NShards > maxShards {
			t.Fatalf("n %d out of range", st.NShards)
		}
		if !bytes.Equal(encodeState(st), v) {
			t.Fatalf("state %+v re-encodes differently", st)
		}
	})
}

func FuzzDecodeShards(f *testing.F) {
	f.Add(encodeShards(nil))
	f.Add(encodeShards([]int{0, 1, 5, maxShard}))
	f.Add(sealValue([]byte{0xff, 0xff}))
	f.Fuzz(func(t *testing.T, v []byte) {
		sh, err := decodeShards("k", v)
		if err != nil {
			checkCorruptErr(t, err)
			return
		}
		if len(sh) > maxShards {
			t.Fatalf("%d shards", len(sh))
		}
		for i, s := range sh {
			if s < 0 || s > maxShard || (i > 0 && s <= sh[i-1]) {
				t.Fatalf("bad shard list %v", sh)
			}
		}
		if !bytes.Equal(encodeShards(sh), v) {
			t.Fatalf("shards %v re-encode differently", sh)
		}
	})
}

func FuzzDecodeSmall(f *testing.F) {
	f.Add(encodeSize(0))
	f.Add(encodeSize(1 << 20))
	f.Add(encodeTime(time.Unix(1700000000, 5)))
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, v []byte) {
		if n, err := decodeSize("k", v); err != nil {
			checkCorruptErr(t, err)
		} else if n < 0 || !bytes.Equal(encodeSize(int(n)), v) {
			t.Fatalf("size %d from %x", n, v)
		}
		if tm, err := decodeTime("k", v); err != nil {
			checkCorruptErr(t, err)
		} else if !bytes.Equal(encodeTime(tm), v) {
			t.Fatalf("time %v re-encodes differently", tm)
		}
	})
}
