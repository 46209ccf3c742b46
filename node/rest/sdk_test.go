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
	"slices"
	"strings"
	"testing"
	"time"

	"floe/chainlink"
	"floe/chainlink/bls"
	"floe/codec"
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

// sdkNode is a committee member as oracle.mjs reads it from the chain.
type sdkNode struct {
	NodeID           chainlink.ID `json:"nodeId"`
	URL              string       `json:"url"`
	NetworkPublicKey string       `json:"networkPublicKey"`
	BLSPublicKey     string       `json:"blsPublicKey"`
	Shards           []int        `json:"shards"`
}

// sdkConfig is oracle.mjs's CONFIG: the devnet's client config (the
// script reads the committee from the chain it names) and the blob.
type sdkConfig struct {
	ClientConfig string `json:"clientConfig"`
	Seed         string `json:"seed"`
	Size         int    `json:"size"`
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

// buildFloe builds the floe binary into dir.
func buildFloe(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "floe")
	cmd := exec.Command("go", "build", "-o", bin, "floe/cmd/floe")
	cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build floe/cmd/floe: %v\n%s", err, out)
	}
	return bin
}

// runFloe runs the floe binary and returns its stdout.
func runFloe(t *testing.T, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("floe %v: %v\n%s", args, err, stderr.String())
	}
	return stdout.String()
}

// The official TypeScript SDK's StorageNodeClient stores a blob on every
// node of a floe devnet over REST (metadata, slivers, confirmations
// verified and aggregated by the SDK's code), floe's ledger certifies the
// SDK's certificate, and the SDK reads it back and decodes it. The script
// finds the nodes as a Walrus client does: the committee from the chain
// (the ledger the devnet's client config names), each member's REST URL
// and the network key it pins from its chain record. The floe binary
// (floe read) reads the SDK's blob, and the SDK reads a blob stored with
// floe store.
func TestSDKInterop(t *testing.T) {
	needNode(t)
	dir := t.TempDir()
	bin := buildFloe(t, dir)
	d := startDevnet(t, 4, 100)
	ctx := context.Background()
	p, epoch, ms := committee(t, d)
	clientConfig := d.ClientConfigPath()
	cfg := sdkConfig{ClientConfig: clientConfig, Seed: "floe-rest-sdk/1", Size: 1<<20 + 12345}
	cfgPath := filepath.Join(dir, "config.json")
	writeJSON(t, cfgPath, cfg)

	// What the script read from the chain is the committee, and each
	// member's record names the REST API its node serves.
	nodesPath := filepath.Join(dir, "nodes.json")
	runOracle(t, "nodes", cfgPath, nodesPath)
	var seen struct {
		NShards int       `json:"nShards"`
		Epoch   uint32    `json:"epoch"`
		Nodes   []sdkNode `json:"nodes"`
	}
	readJSON(t, nodesPath, &seen)
	if seen.Epoch != epoch || seen.NShards != p.NShards || len(seen.Nodes) != len(ms) {
		t.Fatalf("the script sees epoch %d, %d shards, %d members; the devnet has %d, %d, %d", seen.Epoch, seen.NShards, len(seen.Nodes), epoch, p.NShards, len(ms))
	}
	for i, sn := range seen.Nodes {
		m := ms[i]
		st, err := m.node.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var sh []int
		for _, s := range m.info.Shards {
			sh = append(sh, int(s))
		}
		if sn.NodeID != m.info.NodeID || sn.URL != st.RestURL || sn.NetworkPublicKey != base64.StdEncoding.EncodeToString(st.NetworkPublicKey) ||
			sn.BLSPublicKey != base64.StdEncoding.EncodeToString(m.info.PublicKey[:]) || !slices.Equal(sn.Shards, sh) {
			t.Fatalf("the script's member %d %+v is not node %s serving %s with key %x", i, sn, m.info.NodeID, st.RestURL, st.NetworkPublicKey)
		}
	}
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
	// floe read (the binary) reads the SDK's blob.
	cliOut := filepath.Join(dir, "cli-read.bin")
	runFloe(t, bin, "read", "--config", clientConfig, "-o", cliOut, "--", mine.BlobID.String())
	if got, err := os.ReadFile(cliOut); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("floe read of the SDK-stored blob: %d bytes (%v), want the %d stored", len(got), err, len(data))
	}

	// A blob stored with floe store (the binary), read by the SDK.
	data2 := randomBlob(9, 777_777)
	in2 := filepath.Join(dir, "cli-store.bin")
	if err := os.WriteFile(in2, data2, 0o644); err != nil {
		t.Fatal(err)
	}
	out := strings.TrimSpace(runFloe(t, bin, "store", "--config", clientConfig, "--epochs", "2", in2))
	id2, err := codec.ParseBlobID(out)
	if err != nil {
		t.Fatalf("floe store printed %q: %v", out, err)
	}
	enc2, err := codec.Encode(p, data2)
	if err != nil || enc2.BlobID != id2 {
		t.Fatalf("floe store gave blob %s, its bytes encode to %s (%v)", id2, enc2.BlobID, err)
	}
	waitCertified(t, ms, id2)
	out2 := filepath.Join(dir, "read2.bin")
	runOracle(t, "read", cfgPath, id2.String(), out2)
	if got, err := os.ReadFile(out2); err != nil || !bytes.Equal(got, data2) {
		t.Fatalf("the SDK read %d bytes of the blob floe store stored (%v), want %d", len(got), err, len(data2))
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
