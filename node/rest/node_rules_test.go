package rest_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"floe/chainlink"
	"floe/chainlink/bls"
	"floe/codec"
	"floe/node"
	"floe/node/rest"
	"floe/p2p"
)

// wantAPIError checks that err is the API error code/reason.
func wantAPIError(t *testing.T, what string, err error, code int, reason string) {
	t.Helper()
	var ae *rest.APIError
	if !errors.As(err, &ae) || ae.Code != code || ae.Reason != reason || ae.Domain != rest.ErrorDomain {
		t.Fatalf("%s: %v, want %d %s", what, err, code, reason)
	}
}

// heldPair and foreignPair are a pair index whose shard member m holds,
// and one whose shard it does not.
func pairs(p codec.Params, id codec.BlobID, m member) (held, foreign int) {
	held, foreign = -1, -1
	for pair := range p.NShards {
		shard := p.ShardOfPair(id, pair)
		if slices.Contains(m.info.Shards, uint16(shard)) {
			if held < 0 {
				held = pair
			}
		} else if foreign < 0 {
			foreign = pair
		}
	}
	return held, foreign
}

// The storage node's own rules behind the REST routes, on a devnet: what
// Walrus's node answers for uploads before registration or metadata, for
// shards not held, for slivers that fail verification, for confirmations
// asked too early; the symbols it serves; and a verified inconsistency
// proof answered with a signed InvalidBlobId attestation.
func TestDevnetNodeRules(t *testing.T) {
	d := startDevnet(t, 4, 20)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p, epoch, ms := committee(t, d)
	m := ms[0]

	// ?pending=true buffers uploads for a blob the chain has registered
	// but the node has not yet seen registered (202, status "buffered";
	// stored once it has). floe's pending gate asks the chain first, so a
	// blob the chain does not know is refused even with ?pending.
	pdata := randomBlob(13, 30_000)
	penc, err := codec.Encode(p, pdata)
	if err != nil {
		t.Fatal(err)
	}
	pheld, _ := pairs(p, penc.BlobID, m)
	psliver := p2p.SliverRef{Pair: uint16(pheld), Type: codec.Secondary}
	_, err = m.client.PutMetadata(ctx, penc.BlobID, penc.Metadata.MarshalBCS(), true)
	wantAPIError(t, "pending metadata of a blob the chain does not know", err, 400, "NOT_REGISTERED")
	register(t, d, penc, len(pdata), false)
	code, err := m.client.PutMetadata(ctx, penc.BlobID, penc.Metadata.MarshalBCS(), true)
	if err != nil || code != 201 && code != 202 {
		t.Fatalf("pending metadata of a registered blob: %d %v", code, err)
	}
	if code == 202 {
		if st, err := m.client.MetadataStatus(ctx, penc.BlobID); err != nil || st != rest.StatusBuffered && st != rest.StatusStored {
			t.Fatalf("buffered metadata status: %q %v", st, err)
		}
	}
	if code, err := m.client.PutSliver(ctx, penc.BlobID, psliver, penc.Pairs[pheld].Secondary.MarshalBCS(), true); err != nil || code != 201 && code != 202 {
		t.Fatalf("pending sliver: %d %v", code, err)
	}
	t.Logf("pending uploads answered %d (202: buffered until the node saw the registration)", code)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		ms, err1 := m.client.MetadataStatus(ctx, penc.BlobID)
		ss, err2 := m.client.SliverStatus(ctx, penc.BlobID, psliver)
		if err1 == nil && err2 == nil && ms == rest.StatusStored && ss == rest.StatusStored {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the pending uploads were not stored after the registration: %q %q %v %v", ms, ss, err1, err2)
		}
	}

	// Refused without ?pending.
	data := randomBlob(11, 50_000)
	enc, err := codec.Encode(p, data)
	if err != nil {
		t.Fatal(err)
	}
	id := enc.BlobID
	meta := enc.Metadata.MarshalBCS()
	_, err = m.client.PutMetadata(ctx, id, meta, false)
	wantAPIError(t, "metadata of an unregistered blob", err, 400, "NOT_REGISTERED")
	held, foreign := pairs(p, id, m)
	_, err = m.client.PutSliver(ctx, id, p2p.SliverRef{Pair: uint16(held), Type: codec.Primary}, enc.Pairs[held].Primary.MarshalBCS(), false)
	wantAPIError(t, "sliver of an unregistered blob", err, 400, "NOT_REGISTERED")
	_, err = m.client.PutSliver(ctx, id, p2p.SliverRef{Pair: uint16(foreign), Type: codec.Primary}, enc.Pairs[foreign].Primary.MarshalBCS(), false)
	wantAPIError(t, "sliver of a shard not held", err, 400, "SHARD_NOT_ASSIGNED")
	_, err = m.client.Confirmation(ctx, id, codec.BlobPersistence{}, 0)
	wantAPIError(t, "confirmation of an unregistered blob", err, 400, "NOT_REGISTERED")
	start := time.Now()
	_, err = m.client.Confirmation(ctx, id, codec.BlobPersistence{}, 300*time.Millisecond)
	wantAPIError(t, "confirmation waiting for a registration that does not come", err, 400, "NOT_REGISTERED")
	if w := time.Since(start); w < 250*time.Millisecond {
		t.Fatalf("wait_millis=300 answered after %v", w)
	}

	// Registered: the sliver needs its metadata first; then metadata is
	// stored once (201, then 200); a corrupted sliver fails verification;
	// the confirmation waits for every sliver of the node's shards.
	blob := register(t, d, enc, len(data), false)
	for {
		_, err = m.client.PutSliver(ctx, id, p2p.SliverRef{Pair: uint16(held), Type: codec.Primary}, enc.Pairs[held].Primary.MarshalBCS(), false)
		var ae *rest.APIError
		if errors.As(err, &ae) && ae.Reason == "NOT_REGISTERED" && ctx.Err() == nil {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		break
	}
	wantAPIError(t, "sliver before its metadata", err, 400, "METADATA_NOT_FOUND")
	if st, err := m.client.MetadataStatus(ctx, id); err != nil || st != rest.StatusNonexistent {
		t.Fatalf("metadata status before the upload: %q %v", st, err)
	}
	if code, err := m.client.PutMetadata(ctx, id, meta, false); err != nil || code != 201 {
		t.Fatalf("metadata: %d %v", code, err)
	}
	if code, err := m.client.PutMetadata(ctx, id, meta, false); err != nil || code != 200 {
		t.Fatalf("metadata again: %d %v", code, err)
	}
	if st, err := m.client.MetadataStatus(ctx, id); err != nil || st != rest.StatusStored {
		t.Fatalf("metadata status: %q %v", st, err)
	}
	bad := enc.Pairs[held].Primary
	bad.Data = bytes.Clone(bad.Data)
	bad.Data[0] ^= 1
	_, err = m.client.PutSliver(ctx, id, p2p.SliverRef{Pair: uint16(held), Type: codec.Primary}, bad.MarshalBCS(), false)
	wantAPIError(t, "a corrupted sliver", err, 400, "INVALID_SLIVER")
	_, err = m.client.Confirmation(ctx, id, codec.BlobPersistence{}, 0)
	wantAPIError(t, "confirmation before the slivers", err, 400, "MISSING_SLIVERS")
	for _, shard := range m.info.Shards {
		pair := p.PairOfShard(id, int(shard))
		for _, ty := range []codec.SliverType{codec.Primary, codec.Secondary} {
			sl := enc.Pairs[pair].Primary
			if ty == codec.Secondary {
				sl = enc.Pairs[pair].Secondary
			}
			if code, err := m.client.PutSliver(ctx, id, p2p.SliverRef{Pair: uint16(pair), Type: ty}, sl.MarshalBCS(), false); err != nil || code != 201 {
				t.Fatalf("sliver %d %s: %d %v", pair, ty, code, err)
			}
		}
	}
	if code, err := m.client.PutSliver(ctx, id, p2p.SliverRef{Pair: uint16(held), Type: codec.Primary}, enc.Pairs[held].Primary.MarshalBCS(), false); err != nil || code != 200 {
		t.Fatalf("a sliver again: %d %v", code, err)
	}
	sm, err := m.client.Confirmation(ctx, id, blob.Persistence(), 0)
	if err != nil || !bytes.Equal(sm.Message, codec.StorageConfirmationMessage(epoch, id, blob.Persistence())) {
		t.Fatalf("confirmation: %x %v", sm.Message, err)
	}
	pk, err := bls.ParsePublicKey(m.info.PublicKey)
	if err != nil || pk.Verify(sm.Message, bls.Signature(sm.Signature)) != nil {
		t.Fatalf("the confirmation does not verify with the member's key: %v", err)
	}
	_, err = m.client.Confirmation(ctx, id, codec.BlobPersistence{Deletable: true, ObjectID: codec.ObjectID{1}}, 0)
	wantAPIError(t, "a deletable confirmation for a permanent blob", err, 400, "NOT_REGISTERED")

	// Decoding symbols: for primary target r, the r-th symbol of each
	// held secondary sliver, as the encoder made it.
	syms, err := m.client.DecodingSymbols(ctx, id, []int{0, 2}, codec.Primary)
	if err != nil || len(syms) != 2 || len(syms[0]) != len(m.info.Shards) {
		t.Fatalf("decoding symbols: %d targets, %v", len(syms), err)
	}
	for r, list := range syms {
		for _, s := range list {
			src := enc.Pairs[p.PairOfSliver(codec.Secondary, s.Index)].Secondary
			if s.Target != codec.Primary || !bytes.Equal(s.Data, src.Symbol(r)) {
				t.Fatalf("decoding symbol for primary %d from secondary %d: other bytes", r, s.Index)
			}
		}
	}
	// Recovery symbols by target: one per held shard, each verifying.
	rs, err := m.client.RecoverySymbols(ctx, id, nil, 1, codec.Secondary, nil)
	if err != nil || len(rs) != len(m.info.Shards) {
		t.Fatalf("recovery symbols: %d, %v", len(rs), err)
	}
	for _, s := range rs {
		if s.TargetIndex != 1 || codec.VerifyRecoverySymbol(p, &enc.Metadata, &s.RecoverySymbol, 1) != nil {
			t.Fatalf("recovery symbol %+v does not verify", s.RecoverySymbol.Index)
		}
	}

	// An inconsistent blob: metadata whose hash of primary sliver 3 is not
	// the encoding's (its blob ID is computed from that metadata, so it
	// verifies). Symbols from the honest secondary slivers rebuild sliver
	// 3, whose root differs: the node signs that the blob ID is invalid.
	data2 := randomBlob(12, 40_000)
	enc2, err := codec.Encode(p, data2)
	if err != nil {
		t.Fatal(err)
	}
	const target = 3
	badMeta := enc2.Metadata
	badMeta.Hashes = slices.Clone(badMeta.Hashes)
	badMeta.Hashes[target].Primary[0] ^= 1
	bad2 := &codec.EncodedBlob{BlobID: badMeta.BlobID(), Metadata: badMeta, Pairs: enc2.Pairs}
	register(t, d, bad2, len(data2), false)
	if err := putMetadata(ctx, m.client, bad2.BlobID, badMeta.MarshalBCS()); err != nil {
		t.Fatal(err)
	}
	proof := &codec.InconsistencyProof{Target: codec.Primary, TargetIndex: target}
	for c := 0; len(proof.Symbols) < p.RecoverySymbolsNeeded(codec.Primary); c++ {
		src, err := codec.NewSymbolSource(p, enc2.Pairs[p.PairOfSliver(codec.Secondary, c)].Secondary)
		if err != nil {
			t.Fatal(err)
		}
		sym, err := src.Symbol(target)
		if err != nil {
			t.Fatal(err)
		}
		proof.Symbols = append(proof.Symbols, sym)
	}
	att, err := m.client.InconsistencyProof(ctx, bad2.BlobID, proof)
	if err != nil {
		t.Fatalf("a valid inconsistency proof: %v", err)
	}
	if ep, gotID, err := codec.ParseInvalidBlobID(att.Message); err != nil || ep != epoch || gotID != bad2.BlobID {
		t.Fatalf("attestation %x: %v", att.Message, err)
	}
	if pk.Verify(att.Message, bls.Signature(att.Signature)) != nil {
		t.Fatal("the attestation does not verify with the member's key")
	}
	// Symbols of the honest blob (valid proofs) rebuild a sliver that
	// matches its metadata: that proves nothing. A blob the node has no
	// metadata for cannot be judged.
	honest := &codec.InconsistencyProof{Target: codec.Primary, TargetIndex: target}
	for c := 0; len(honest.Symbols) < p.RecoverySymbolsNeeded(codec.Primary); c++ {
		src, err := codec.NewSymbolSource(p, enc.Pairs[p.PairOfSliver(codec.Secondary, c)].Secondary)
		if err != nil {
			t.Fatal(err)
		}
		sym, err := src.Symbol(target)
		if err != nil {
			t.Fatal(err)
		}
		honest.Symbols = append(honest.Symbols, sym)
	}
	_, err = m.client.InconsistencyProof(ctx, id, honest)
	wantAPIError(t, "a proof that proves nothing", err, 400, "INVALID_PROOF")
	_, err = m.client.InconsistencyProof(ctx, codec.BlobID{9, 9}, proof)
	wantAPIError(t, "a proof for a blob without metadata", err, 400, "METADATA_NOT_FOUND")

	// sync_shard: only a committee member that gains the shard may ask.
	req := p2p.NewSyncRequest([48]byte{1, 2, 3}, codec.SyncShardRequest{Shard: m.info.Shards[0], Type: codec.Primary, Count: 10, Epoch: epoch},
		func([]byte) [96]byte { return [96]byte{} })
	_, _, err = m.client.SyncShard(ctx, req)
	wantAPIError(t, "sync_shard from a non-member", err, 403, "REQUEST_UNAUTHORIZED")

	// Reads of what the node does not hold.
	_, err = m.client.GetSliver(ctx, id, p2p.SliverRef{Pair: uint16(foreign), Type: codec.Primary})
	wantAPIError(t, "a sliver of a shard not held", err, 400, "SHARD_NOT_ASSIGNED")
	unknown := codec.BlobID{5}
	uheld, _ := pairs(p, unknown, m)
	_, err = m.client.GetSliver(ctx, unknown, p2p.SliverRef{Pair: uint16(uheld), Type: codec.Primary})
	wantAPIError(t, "a sliver of an unknown blob", err, 404, "SLIVER_NOT_FOUND")
	_, err = m.client.GetMetadata(ctx, unknown)
	wantAPIError(t, "metadata of an unknown blob", err, 404, "METADATA_NOT_FOUND")
}

// A node's network key (what clients pin) and its devnet REST address
// survive a restart, the chain record still names them, and the
// restarted node serves what it stored over REST again.
func TestDevnetRestartKeepsNetworkKey(t *testing.T) {
	d := startDevnet(t, 1, 4)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	id, _ := restStore(t, d, randomBlob(21, 20_000), false)
	key, url := bytes.Clone(d.Nodes()[0].NetworkPublicKey()), d.Nodes()[0].RESTURL()
	if len(key) != 33 {
		t.Fatalf("network key of %d bytes", len(key))
	}
	if err := d.StopNode(0); err != nil {
		t.Fatal(err)
	}
	if err := d.StartNode(ctx, 0); err != nil {
		t.Fatal(err)
	}
	n := d.Nodes()[0]
	if !bytes.Equal(n.NetworkPublicKey(), key) {
		t.Fatalf("the network key changed across a restart: %x → %x", key, n.NetworkPublicKey())
	}
	if n.RESTURL() != url {
		t.Fatalf("the REST URL changed across a restart: %s → %s", url, n.RESTURL())
	}
	// committee checks the chain record is the node's and pins from it.
	_, _, ms := committee(t, d)
	raw, err := ms[0].client.GetMetadata(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if gotID, _, err := codec.UnmarshalMetadataWithID(raw); err != nil || gotID != id {
		t.Fatalf("metadata after the restart: %s %v", gotID, err)
	}
}

// rest_listen and rest_announce are checked with the rest of node.json.
func TestRestConfig(t *testing.T) {
	base := func() node.Config {
		return node.Config{Network: "devnet", DataDir: t.TempDir(), Listen: []string{"/ip4/127.0.0.1/tcp/0"}, Owner: chainlink.ID{1}}
	}
	for _, c := range []struct {
		listen, announce string
		ok               bool
	}{
		{"", "", true},
		{"127.0.0.1:0", "", true},
		{"0.0.0.0:9185", "node3.example.com:9185", true},
		{"9185", "", false},
		{"", "node3.example.com:9185", false},
		{"0.0.0.0:9185", "node3.example.com", false},
		{"0.0.0.0:9185", "node3.example.com:0", false},
		{"0.0.0.0:9185", ":9185", false},
	} {
		cfg := base()
		cfg.RestListen, cfg.RestAnnounce = c.listen, c.announce
		err := cfg.Validate()
		if (err == nil) != c.ok || err != nil && !errors.Is(err, node.ErrConfig) {
			t.Errorf("rest_listen %q rest_announce %q: %v, want ok=%v", c.listen, c.announce, err, c.ok)
		}
	}
}
