package rest_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"floe/chainlink"
	"floe/chainlink/bls"
	"floe/codec"
	"floe/node"
)

// sdkDir holds the oracle script and its pinned packages.
const sdkDir = "testdata/sdk"

// needNode skips (or, with FLOE_REQUIRE_NODE=1, fails) when node or the
// SDK's packages (npm ci in testdata/sdk) are missing.
func needNode(t *testing.T) {
	t.Helper()
	msg := ""
	if _, err := exec.LookPath("node"); err != nil {
		msg = "node is not installed"
	} else if _, err := os.Stat(filepath.Join(sdkDir, "node_modules/@mysten/walrus/package.json")); err != nil {
		msg = "the SDK is not installed (cd node/rest/testdata/sdk && npm ci)"
	}
	if msg == "" {
		return
	}
	if os.Getenv("FLOE_REQUIRE_NODE") == "1" {
		t.Fatal(msg + " and FLOE_REQUIRE_NODE=1")
	}
	t.Skip(msg + "; set FLOE_REQUIRE_NODE=1 to make this a failure")
}

// seededInput is oracle.mjs's blob: SHA256(seed ‖ u32be(i)) blocks.
func seededInput(seed string, n int) []byte {
	out := make([]byte, 0, n+32)
	for i := uint32(0); len(out) < n; i++ {
		var c [4]byte
		binary.BigEndian.PutUint32(c[:], i)
		h := sha256.Sum256(append([]byte(seed), c[:]...))
		out = append(out, h[:]...)
	}
	return out[:n]
}

type sdkNode struct {
	URL              string `json:"url"`
	NetworkPublicKey string `json:"networkPublicKey"`
	BLSPublicKey     string `json:"blsPublicKey"`
	Shards           []int  `json:"shards"`
}

type sdkConfig struct {
	NShards int       `json:"nShards"`
	Epoch   uint32    `json:"epoch"`
	Seed    string    `json:"seed"`
	Size    int       `json:"size"`
	Nodes   []sdkNode `json:"nodes"`
}

func runOracle(t *testing.T, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", append([]string{"oracle.mjs"}, args...)...)
	cmd.Dir = sdkDir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node oracle.mjs %v: %v\n%s", args, err, out)
	}
}

// The official TypeScript SDK's StorageNodeClient stores a blob on every
// node of a floe devnet over REST (metadata, slivers, confirmations
// verified and aggregated by the SDK's code), floe's ledger certifies the
// SDK's certificate, and the SDK reads it back and decodes it; floe's
// libp2p client reads it too, and the SDK reads a blob floe stored.
func TestSDKInterop(t *testing.T) {
	needNode(t)
	d := startDevnet(t, 4, 100)
	ctx := context.Background()
	p, epoch, ms := committee(t, d)
	dir := t.TempDir()
	// The oracle's view, as a Walrus client gets it: the committee (order,
	// shards, BLS keys) from the ledger named by the devnet's client
	// config, each member's REST URL and network key from its status.
	lc := chainlink.NewClient(d.ClientConfig().Ledger, nil)
	est, err := lc.EpochState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	com, err := lc.Committee(ctx, est.Epoch)
	if err != nil {
		t.Fatal(err)
	}
	if com.Epoch != epoch || com.NShards != p.NShards || len(com.Members) != len(ms) {
		t.Fatalf("the ledger's committee (epoch %d, %d shards, %d members) is not the devnet's", com.Epoch, com.NShards, len(com.Members))
	}
	cfg := sdkConfig{NShards: com.NShards, Epoch: com.Epoch, Seed: "floe-rest-sdk/1", Size: 1<<20 + 12345}
	for i, m := range com.Members {
		var n *node.Node
		for _, dn := range d.Nodes() {
			if dn != nil && dn.ID() == m.NodeID {
				n = dn
			}
		}
		if n == nil || ms[i].info.NodeID != m.NodeID {
			t.Fatalf("member %d (%s) is not devnet node %d", i, m.NodeID, i)
		}
		st, err := n.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.RestURL == "" || len(st.NetworkPublicKey) != 33 {
			t.Fatalf("member %d reports no REST API: %q %x", i, st.RestURL, st.NetworkPublicKey)
		}
		var sh []int
		for _, s := range m.Shards {
			sh = append(sh, int(s))
		}
		cfg.Nodes = append(cfg.Nodes, sdkNode{URL: st.RestURL, NetworkPublicKey: base64.StdEncoding.EncodeToString(st.NetworkPublicKey),
			BLSPublicKey: base64.StdEncoding.EncodeToString(m.PublicKey[:]), Shards: sh})
	}
	cfgPath := filepath.Join(dir, "config.json")
	writeJSON(t, cfgPath, cfg)
	data := seededInput(cfg.Seed, cfg.Size)

	runOracle(t, "pin", cfgPath)

	// The SDK's encoding, registered on floe's ledger.
	encPath := filepath.Join(dir, "encoded.json")
	runOracle(t, "encode", cfgPath, encPath)
	var enc struct {
		BlobID   string `json:"blobId"`
		RootHash string `json:"rootHash"`
		Size     int    `json:"size"`
	}
	readJSON(t, encPath, &enc)
	mine, err := codec.Encode(p, data)
	if err != nil {
		t.Fatal(err)
	}
	root := mine.Metadata.RootHash()
	if enc.BlobID != mine.BlobID.String() || enc.RootHash != hex.EncodeToString(root[:]) || enc.Size != len(data) {
		t.Fatalf("the SDK encodes %+v, floe %s %x", enc, mine.BlobID, root)
	}
	blob := register(t, d, mine, len(data), false)

	// The SDK stores and certifies; floe's ledger checks the certificate.
	certPath := filepath.Join(dir, "cert.json")
	runOracle(t, "store", cfgPath, certPath)
	var cert struct {
		Signers           []uint16        `json:"signers"`
		SerializedMessage string          `json:"serializedMessage"`
		Signature         string          `json:"signature"`
		Report            json.RawMessage `json:"report"`
	}
	readJSON(t, certPath, &cert)
	t.Logf("SDK store report: %s", cert.Report)
	msg, _ := base64.StdEncoding.DecodeString(cert.SerializedMessage)
	sigb, _ := base64.StdEncoding.DecodeString(cert.Signature)
	if len(sigb) != bls.SignatureSize || !bytes.Equal(msg, codec.StorageConfirmationMessage(epoch, mine.BlobID, codec.BlobPersistence{})) {
		t.Fatalf("SDK certificate: message %x, signature of %d bytes", msg, len(sigb))
	}
	bitmap, err := bls.SignersToBitmap(len(ms), cert.Signers)
	if err != nil {
		t.Fatal(err)
	}
	var sig bls.Signature
	copy(sig[:], sigb)
	if _, err := d.Ledger.CertifyBlob(ctx, blob.ObjectID, chainlink.Certificate{Signature: sig, Signers: bitmap, Message: msg}); err != nil {
		t.Fatalf("certifying the SDK's certificate: %v", err)
	}
	waitCertified(t, ms, mine.BlobID)

	// The SDK reads it back over REST and decodes it.
	outPath := filepath.Join(dir, "read.bin")
	runOracle(t, "read", cfgPath, mine.BlobID.String(), outPath)
	if got, err := os.ReadFile(outPath); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the SDK read %d bytes (%v), want the %d stored", len(got), err, len(data))
	}
	c, err := node.NewClient(ctx, d.ClientConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if res, err := c.Read(ctx, mine.BlobID, node.ReadOptions{}); err != nil || !bytes.Equal(res.Data, data) {
		t.Fatalf("floe's read of the SDK-stored blob: %v", err)
	}

	// A blob floe stores over libp2p, read by the SDK.
	data2 := randomBlob(9, 777_777)
	sr, err := c.Store(ctx, data2, node.StoreOptions{Epochs: 2})
	if err != nil {
		t.Fatal(err)
	}
	waitCertified(t, ms, sr.BlobID)
	out2 := filepath.Join(dir, "read2.bin")
	runOracle(t, "read", cfgPath, sr.BlobID.String(), out2)
	if got, err := os.ReadFile(out2); err != nil || !bytes.Equal(got, data2) {
		t.Fatalf("the SDK read %d bytes of floe's blob (%v), want %d", len(got), err, len(data2))
	}
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
