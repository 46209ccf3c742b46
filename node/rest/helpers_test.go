package rest_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
	"time"

	"floe/chainlink"
	"floe/chainlink/bls"
	"floe/codec"
	"floe/node"
	"floe/node/rest"
	"floe/p2p"
)

func testLogger() *slog.Logger {
	if os.Getenv("FLOE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func startDevnet(t testing.TB, nodes, shards int) *node.Devnet {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d, err := node.StartDevnet(ctx, node.DevnetConfig{Nodes: nodes, Shards: shards, Dir: t.TempDir(), Logger: testLogger(), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("closing devnet: %v", err)
		}
	})
	return d
}

func randomBlob(seed uint64, size int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// member is a committee member as a REST client sees it.
type member struct {
	index  int
	node   *node.Node
	info   chainlink.Member
	url    string
	pub    *ecdsa.PublicKey
	client *rest.Client
}

// committee returns the members of the current committee, in committee
// order, with a REST client each.
func committee(t testing.TB, d *node.Devnet) (codec.Params, uint32, []member) {
	t.Helper()
	ctx := context.Background()
	st, err := d.Ledger.EpochState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c, err := d.Ledger.Committee(ctx, st.Epoch)
	if err != nil {
		t.Fatal(err)
	}
	p, err := codec.NewParams(c.NShards)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[chainlink.ID]*node.Node{}
	for _, n := range d.Nodes() {
		if n != nil {
			byID[n.ID()] = n
		}
	}
	var out []member
	for i, m := range c.Members {
		n := byID[m.NodeID]
		if n == nil {
			t.Fatalf("member %d (%s) is not a devnet node", i, m.NodeID)
		}
		// The client is the chain record's: its URL, pinned to its key;
		// the record is what the node serves.
		if m.NetworkAddress != n.RESTURL() || !bytes.Equal(m.NetworkPublicKey, n.NetworkPublicKey()) {
			t.Fatalf("member %d's chain record names REST API %q key %x; the node serves %q with key %x",
				i, m.NetworkAddress, m.NetworkPublicKey, n.RESTURL(), n.NetworkPublicKey())
		}
		cl, err := rest.NewMemberClient(m, p)
		if err != nil {
			t.Fatalf("member %d: %v", i, err)
		}
		t.Cleanup(cl.Close)
		pub, _ := rest.ParseNetworkKey(m.NetworkPublicKey)
		out = append(out, member{index: i, node: n, info: m, url: m.NetworkAddress, pub: pub, client: cl})
	}
	return p, c.Epoch, out
}

// register registers the encoded blob on the devnet's ledger, paid by a
// fresh account.
func register(t testing.TB, d *node.Devnet, enc *codec.EncodedBlob, size int, deletable bool) chainlink.Blob {
	t.Helper()
	ctx := context.Background()
	acct := chainlink.ID(sha256.Sum256([]byte(fmt.Sprintf("rest test account %s", enc.BlobID))))
	if _, err := d.Ledger.Faucet(ctx, acct, 1e12); err != nil {
		t.Fatal(err)
	}
	reg, err := d.Ledger.RegisterBlob(ctx, chainlink.RegisterBlobRequest{
		Owner: acct, BlobID: enc.BlobID, RootHash: chainlink.Hash32(enc.Metadata.RootHash()), Size: uint64(size),
		EncodingType: enc.Metadata.EncodingType, Deletable: deletable, EpochsAhead: 3,
	})
	if err != nil {
		t.Fatal(err)
	}
	return reg.Blob
}

// restStore stores data as a Walrus client does over REST: register,
// then for each member metadata, its slivers and its confirmation
// (verified), then the aggregate certificate on the ledger.
func restStore(t testing.TB, d *node.Devnet, data []byte, deletable bool) (codec.BlobID, chainlink.Blob) {
	t.Helper()
	p, epoch, ms := committee(t, d)
	enc, err := codec.Encode(p, data)
	if err != nil {
		t.Fatal(err)
	}
	blob := register(t, d, enc, len(data), deletable)
	pers := blob.Persistence()
	id := enc.BlobID
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	meta := enc.Metadata.MarshalBCS()
	msg := codec.StorageConfirmationMessage(epoch, id, pers)
	sigs := make([]bls.Signature, len(ms))
	errs := make([]error, len(ms))
	var wg sync.WaitGroup
	for i, m := range ms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = func() error {
				if err := putMetadata(ctx, m.client, id, meta); err != nil {
					return err
				}
				var sw sync.WaitGroup
				serrs := make([]error, 2*len(m.info.Shards))
				for j, shard := range m.info.Shards {
					pair := p.PairOfShard(id, int(shard))
					for k, t := range []codec.SliverType{codec.Primary, codec.Secondary} {
						sw.Add(1)
						go func() {
							defer sw.Done()
							sl := enc.Pairs[pair].Primary
							if t == codec.Secondary {
								sl = enc.Pairs[pair].Secondary
							}
							_, serrs[2*j+k] = m.client.PutSliver(ctx, id, p2p.SliverRef{Pair: uint16(pair), Type: t}, sl.MarshalBCS(), false)
						}()
					}
				}
				sw.Wait()
				if err := errors.Join(serrs...); err != nil {
					return err
				}
				sm, err := m.client.Confirmation(ctx, id, pers, 5*time.Second)
				if err != nil {
					return err
				}
				if string(sm.Message) != string(msg) {
					return fmt.Errorf("confirmation message %x, want %x", sm.Message, msg)
				}
				pk, err := bls.ParsePublicKey(m.info.PublicKey)
				if err != nil {
					return err
				}
				if err := pk.Verify(sm.Message, bls.Signature(sm.Signature)); err != nil {
					return fmt.Errorf("confirmation signature: %w", err)
				}
				sigs[i] = bls.Signature(sm.Signature)
				return nil
			}()
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("member %d (%s): %v", i, ms[i].url, err)
		}
	}
	agg, err := bls.Aggregate(sigs)
	if err != nil {
		t.Fatal(err)
	}
	signers := make([]uint16, len(ms))
	for i := range signers {
		signers[i] = uint16(i)
	}
	bitmap, err := bls.SignersToBitmap(len(ms), signers)
	if err != nil {
		t.Fatal(err)
	}
	certified, err := d.Ledger.CertifyBlob(ctx, blob.ObjectID, chainlink.Certificate{Signature: agg, Signers: bitmap, Message: msg})
	if err != nil {
		t.Fatal(err)
	}
	return id, certified
}

// putMetadata retries while the node has not seen the registration yet.
func putMetadata(ctx context.Context, c *rest.Client, id codec.BlobID, meta []byte) error {
	for {
		_, err := c.PutMetadata(ctx, id, meta, false)
		var ae *rest.APIError
		if errors.As(err, &ae) && ae.Reason == "NOT_REGISTERED" {
			select {
			case <-ctx.Done():
				return err
			case <-time.After(20 * time.Millisecond):
				continue
			}
		}
		return err
	}
}

// restRead reads a blob over REST: metadata from a member, verified, then
// primary slivers from the members until enough, decoded.
func restRead(t testing.TB, d *node.Devnet, id codec.BlobID) []byte {
	t.Helper()
	p, _, ms := committee(t, d)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	raw, err := ms[0].client.GetMetadata(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	gotID, m, err := codec.UnmarshalMetadataWithID(raw)
	if err != nil || gotID != id {
		t.Fatalf("metadata: %v (id %s)", err, gotID)
	}
	if err := codec.VerifyMetadata(p, id, &m); err != nil {
		t.Fatal(err)
	}
	type got struct {
		sl  codec.Sliver
		err error
	}
	var refs []struct {
		m    member
		pair int
	}
	for _, mb := range ms {
		for _, s := range mb.info.Shards {
			refs = append(refs, struct {
				m    member
				pair int
			}{mb, p.PairOfShard(id, int(s))})
		}
	}
	results := make([]got, len(refs))
	var wg sync.WaitGroup
	for i, r := range refs[:min(len(refs), p.Primary()+4)] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, err := r.m.client.GetSliver(ctx, id, p2p.SliverRef{Pair: uint16(r.pair), Type: codec.Primary})
			if err != nil {
				results[i].err = err
				return
			}
			sl, err := codec.UnmarshalSliver(b, codec.Primary)
			if err == nil {
				err = codec.VerifySlivers(p, &m, []codec.Sliver{sl})[0]
			}
			results[i] = got{sl, err}
		}()
	}
	wg.Wait()
	var slivers []codec.Sliver
	for _, r := range results {
		if r.err == nil && r.sl.Data != nil {
			slivers = append(slivers, r.sl)
		}
	}
	out, err := codec.Decode(p, &m, slivers, codec.CheckDefault)
	if err != nil {
		t.Fatalf("decoding from %d slivers: %v", len(slivers), err)
	}
	return out
}
