package rest_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"floe/chainlink"
	"floe/chainlink/bls"
	"floe/codec"
	"floe/p2p"
)

// sync_shard over REST (F7.11), the success path: after an epoch change
// moves a shard from one member to another, the new owner, signing with
// its BLS key, pulls the shard's slivers from the previous owner's REST
// API (the client pinned from the chain record) and gets the bytes that
// were stored; the previous owner, which no longer holds the shard, may
// not ask for it.
func TestDevnetSyncShardREST(t *testing.T) {
	d := startDevnet(t, 2, 10)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	data := randomBlob(31, 60_000)
	id, _ := restStore(t, d, data, false)
	p, _, old := committee(t, d)
	waitCertified(t, old, id)
	enc, err := codec.Encode(p, data)
	if err != nil {
		t.Fatal(err)
	}

	// Stake for member 1: at the next epoch shards move from member 0.
	staker := chainlink.ID(sha256.Sum256([]byte("rest sync staker")))
	if _, err := d.Ledger.Faucet(ctx, staker, 3_000_000); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Ledger.Stake(ctx, staker, old[1].info.NodeID, 3_000_000); err != nil {
		t.Fatal(err)
	}
	// The previous owner keeps serving the shard it hands over for the
	// devnet's drop grace (10 s).
	epoch, err := d.AdvanceEpoch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, _, cur := committee(t, d)
	var from, to *member
	moved := -1
	for _, s := range old[0].info.Shards {
		for i := range cur {
			if cur[i].info.NodeID == old[1].info.NodeID && slices.Contains(cur[i].info.Shards, s) {
				moved, to = int(s), &cur[i]
			}
		}
	}
	for i := range cur {
		if cur[i].info.NodeID == old[0].info.NodeID {
			from = &cur[i]
		}
	}
	if moved < 0 || from == nil || to == nil {
		t.Fatalf("no shard moved from member 0 to member 1: %v → %v", old[0].info.Shards, cur)
	}

	// The new owner's BLS key, as the node keeps it (hex in DATA_DIR/bls.key).
	var dir string
	for i, n := range d.Nodes() {
		if n.ID() == to.info.NodeID {
			dir = d.Configs()[i].DataDir
		}
	}
	raw, err := os.ReadFile(filepath.Join(dir, "bls.key"))
	if err != nil {
		t.Fatal(err)
	}
	kb, err := hex.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	key, err := bls.ParseSecretKey(kb)
	if err != nil || key.PublicKey() != to.info.PublicKey {
		t.Fatalf("the new owner's BLS key: %v", err)
	}
	sign := func(k *bls.SecretKey) func([]byte) [codec.BLSSignatureSize]byte {
		return func(msg []byte) [codec.BLSSignatureSize]byte { return k.Sign(msg) }
	}
	pair := p.PairOfShard(id, moved)
	for _, ty := range []codec.SliverType{codec.Primary, codec.Secondary} {
		req := p2p.NewSyncRequest(key.PublicKey(), codec.SyncShardRequest{Shard: uint16(moved), Type: ty, Count: 10, Epoch: epoch}, sign(key))
		ids, slivers, err := from.client.SyncShard(ctx, req)
		if err != nil {
			t.Fatalf("sync_shard of shard %d (%s) from %s: %v", moved, ty, from.url, err)
		}
		want := enc.Pairs[pair].Primary
		if ty == codec.Secondary {
			want = enc.Pairs[pair].Secondary
		}
		if len(ids) != 1 || ids[0] != id || len(slivers) != 1 || !bytes.Equal(slivers[0].MarshalBCS(), want.MarshalBCS()) {
			t.Fatalf("sync_shard of shard %d (%s): %d slivers %v, want the stored one of %s", moved, ty, len(slivers), ids, id)
		}
	}

	// The previous owner asking the new owner for the shard it lost: not
	// its shard in this epoch.
	var fromKey *bls.SecretKey
	for i, n := range d.Nodes() {
		if n.ID() == from.info.NodeID {
			b, err := os.ReadFile(filepath.Join(d.Configs()[i].DataDir, "bls.key"))
			if err != nil {
				t.Fatal(err)
			}
			kb, _ := hex.DecodeString(strings.TrimSpace(string(b)))
			if fromKey, err = bls.ParseSecretKey(kb); err != nil {
				t.Fatal(err)
			}
		}
	}
	req := p2p.NewSyncRequest(fromKey.PublicKey(), codec.SyncShardRequest{Shard: uint16(moved), Type: codec.Primary, Count: 10, Epoch: epoch}, sign(fromKey))
	_, _, err = to.client.SyncShard(ctx, req)
	wantAPIError(t, "sync_shard of a shard that is not the requester's", err, 403, "REQUEST_UNAUTHORIZED")
	// A request signed by another key than the one it names.
	req = p2p.NewSyncRequest(key.PublicKey(), codec.SyncShardRequest{Shard: uint16(moved), Type: codec.Primary, Count: 10, Epoch: epoch}, sign(fromKey))
	_, _, err = from.client.SyncShard(ctx, req)
	wantAPIError(t, "sync_shard with a forged signature", err, 403, "REQUEST_UNAUTHORIZED")
}
