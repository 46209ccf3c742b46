package rest_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"net/http"
	"testing"
	"time"

	"floe/chainlink"
	"floe/codec"
	"floe/node"
	"floe/node/rest"
	"floe/p2p"
)

// A blob stored over REST (as Walrus's SDK stores) reads back over REST
// and over libp2p; one stored over libp2p reads back over REST; the
// status routes say what the nodes hold.
func TestDevnetREST(t *testing.T) {
	d := startDevnet(t, 4, 20)
	ctx := context.Background()
	p, epoch, ms := committee(t, d)

	// A fresh devnet's nodes may still be taking over their first shards
	// (RecoveryInProgress, a shard InTransfer) for a moment: each must
	// report Active within the deadline.
	for _, m := range ms {
		deadline := time.Now().Add(30 * time.Second)
		for {
			h, err := m.client.Health(ctx, true)
			if err != nil {
				t.Fatalf("health of %s: %v", m.url, err)
			}
			if h.Epoch != epoch || h.ShardSummary.Owned != len(m.info.Shards) || h.ShardDetail == nil {
				t.Fatalf("health of %s: %+v", m.url, h)
			}
			if h.NodeStatus == "Active" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("health of %s: not Active after 30 s: %+v", m.url, h)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	data := randomBlob(1, 300_000)
	id, blob := restStore(t, d, data, false)
	if blob.CertifiedEpoch == nil {
		t.Fatal("not certified")
	}
	if got := restRead(t, d, id); !bytes.Equal(got, data) {
		t.Fatal("REST read returned other bytes")
	}
	c, err := node.NewClient(ctx, d.ClientConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	res, err := c.Read(ctx, id, node.ReadOptions{})
	if err != nil || !bytes.Equal(res.Data, data) {
		t.Fatalf("libp2p read of a REST-stored blob: %v", err)
	}

	// Stored over libp2p, read over REST.
	data2 := randomBlob(2, 100_000)
	sr, err := c.Store(ctx, data2, node.StoreOptions{Epochs: 2})
	if err != nil {
		t.Fatal(err)
	}
	if got := restRead(t, d, sr.BlobID); !bytes.Equal(got, data2) {
		t.Fatal("REST read of a libp2p-stored blob returned other bytes")
	}

	// rest.Read, the REST read transport, finds the nodes from their
	// chain records; with one member's record naming another key (its
	// node refused), it reads from the others.
	waitCertified(t, ms, id)
	if got, err := rest.Read(ctx, d.Ledger, id, rest.ReadOptions{}); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("rest.Read: %d bytes, %v", len(got), err)
	}
	nd, err := d.Ledger.Node(ctx, ms[0].info.NodeID)
	if err != nil {
		t.Fatal(err)
	}
	setKey := func(key []byte) {
		t.Helper()
		if _, err := d.Ledger.UpdateNode(ctx, chainlink.UpdateNodeRequest{Owner: nd.Owner, NodeID: nd.ID, PeerID: nd.PeerID,
			Addresses: nd.Addresses, NetworkAddress: nd.NetworkAddress, NetworkPublicKey: key}); err != nil {
			t.Fatal(err)
		}
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	setKey(rest.CompressedKey(&other.PublicKey))
	if got, err := rest.Read(ctx, d.Ledger, sr.BlobID, rest.ReadOptions{Parallel: 4}); err != nil || !bytes.Equal(got, data2) {
		t.Fatalf("rest.Read with one member's node refused: %d bytes, %v", len(got), err)
	}
	setKey(nd.NetworkPublicKey)
	if _, err := rest.Read(ctx, d.Ledger, codec.BlobID{3}, rest.ReadOptions{}); !errors.Is(err, chainlink.ErrNotCertified) {
		t.Fatalf("rest.Read of an unknown blob: %v", err)
	}

	// Statuses.
	for _, m := range ms {
		st, err := m.client.MetadataStatus(ctx, id)
		if err != nil || st != rest.StatusStored {
			t.Fatalf("metadata status: %q %v", st, err)
		}
		pair := uint16(p.PairOfShard(id, int(m.info.Shards[0])))
		for _, ty := range []codec.SliverType{codec.Primary, codec.Secondary} {
			st, err := m.client.SliverStatus(ctx, id, p2p.SliverRef{Pair: pair, Type: ty})
			if err != nil || st != rest.StatusStored {
				t.Fatalf("sliver status: %q %v", st, err)
			}
		}
		bs, err := m.client.BlobStatus(ctx, id)
		if err != nil || bs.Kind != rest.BlobPermanent || !bs.IsCertified || bs.EndEpoch != blob.Storage.EndEpoch || bs.InitialCertifiedEpoch == nil {
			t.Fatalf("blob status: %+v %v", bs, err)
		}
		var unknown codec.BlobID
		unknown[0] = 7
		if bs, err := m.client.BlobStatus(ctx, unknown); err != nil || bs.Kind != rest.BlobNonexistent {
			t.Fatalf("status of an unknown blob: %+v %v", bs, err)
		}
		if st, err := m.client.MetadataStatus(ctx, unknown); err != nil || st != rest.StatusNonexistent {
			t.Fatalf("metadata status of an unknown blob: %q %v", st, err)
		}
	}
}

// waitCertified waits until every member's blob status says certified.
func waitCertified(t testing.TB, ms []member, id codec.BlobID) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for _, m := range ms {
		for {
			bs, err := m.client.BlobStatus(context.Background(), id)
			if err == nil && bs.IsCertified {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s does not report %s certified: %+v %v", m.url, id, bs, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// The HTTP/2 and HTTP/1.1 paths both serve, and the server name of F7.1
// is in the certificate.
func TestDevnetProtocols(t *testing.T) {
	d := startDevnet(t, 1, 4)
	_, _, ms := committee(t, d)
	m := ms[0]
	for _, proto := range []string{"h2", "http/1.1"} {
		cfg := rest.PinnedTLSConfig(m.pub)
		cfg.NextProtos = []string{proto}
		tr := &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: proto == "h2"}
		resp, err := (&http.Client{Transport: tr}).Get(m.url + rest.PathHealth)
		if err != nil {
			t.Fatalf("%s: %v", proto, err)
		}
		resp.Body.Close()
		want := 2
		if proto != "h2" {
			want = 1
		}
		if resp.ProtoMajor != want || resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %s %d", proto, resp.Proto, resp.StatusCode)
		}
		if resp.TLS == nil || len(resp.TLS.PeerCertificates) == 0 {
			t.Fatalf("%s: no certificate", proto)
		}
		leaf := resp.TLS.PeerCertificates[0]
		if leaf.Subject.CommonName != rest.ServerName(m.pub) || leaf.DNSNames[0] != rest.ServerName(m.pub) || len(leaf.IPAddresses) != 1 {
			t.Fatalf("certificate names: CN %q DNS %v IP %v", leaf.Subject.CommonName, leaf.DNSNames, leaf.IPAddresses)
		}
		tr.CloseIdleConnections()
	}
	st, err := m.node.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.RestURL != m.url || !bytes.Equal(st.NetworkPublicKey, rest.CompressedKey(m.pub)) {
		t.Fatalf("node status: rest %q key %x", st.RestURL, st.NetworkPublicKey)
	}
	// The pin comes from the chain: with the node's record naming another
	// key, a client built from the committee refuses the node; with its
	// own key back, it connects. A record without a REST API gives none.
	ctx := context.Background()
	p, epoch, _ := committee(t, d)
	nd, err := d.Ledger.Node(ctx, m.info.NodeID)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	memberClient := func(addr string, key []byte) (*rest.Client, error) {
		t.Helper()
		if _, err := d.Ledger.UpdateNode(ctx, chainlink.UpdateNodeRequest{Owner: nd.Owner, NodeID: nd.ID, PeerID: nd.PeerID,
			Addresses: nd.Addresses, NetworkAddress: addr, NetworkPublicKey: key}); err != nil {
			t.Fatal(err)
		}
		c, err := d.Ledger.Committee(ctx, epoch)
		if err != nil {
			t.Fatal(err)
		}
		if c.Members[0].NetworkAddress != addr || !bytes.Equal(c.Members[0].NetworkPublicKey, key) {
			t.Fatalf("the committee names %q %x after the update", c.Members[0].NetworkAddress, c.Members[0].NetworkPublicKey)
		}
		return rest.NewMemberClient(c.Members[0], p)
	}
	bad, err := memberClient(nd.NetworkAddress, rest.CompressedKey(&other.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	if _, err := bad.Health(ctx, false); !errors.Is(err, rest.ErrPinMismatch) {
		t.Fatalf("a record naming another key: %v", err)
	}
	if _, err := memberClient("", nil); !errors.Is(err, rest.ErrNoREST) {
		t.Fatalf("a record without a REST API: %v", err)
	}
	good, err := memberClient(nd.NetworkAddress, nd.NetworkPublicKey)
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	if _, err := good.Health(ctx, false); err != nil {
		t.Fatalf("the node's own record: %v", err)
	}

	var ae *rest.APIError
	if _, err := m.client.GetMetadata(context.Background(), codec.BlobID{1}); !errors.As(err, &ae) || ae.Code != 404 || ae.Reason != "METADATA_NOT_FOUND" || !errors.Is(err, p2p.ErrNotFound) {
		t.Fatalf("missing metadata: %v", err)
	}
}
