package main

import (
	"bytes"
	"context"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"floe/codec"
	"floe/node"
)

// floe read --transport rest on a ledger devnet: a blob stored with floe
// store reads back through the nodes' REST APIs, found and pinned from
// their ledger records, to stdout and to -o; an unknown blob and an
// unknown transport fail.
func TestReadTransportREST(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a swarm")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d, err := node.StartDevnet(ctx, node.DevnetConfig{Nodes: 4, Shards: 20, Dir: t.TempDir(), NoSync: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	cfg := d.ClientConfigPath()
	data := make([]byte, 300_000)
	r := rand.New(rand.NewPCG(5, 6))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "blob.bin")
	if err := os.WriteFile(in, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out, stderr, err := runSplit(t, "store", "--config", cfg, "--epochs", "2", in)
	if err != nil {
		t.Fatalf("floe store: %v\n%s", err, stderr)
	}
	id, err := codec.ParseBlobID(strings.TrimSpace(out))
	if err != nil {
		t.Fatalf("store printed %q: %v", out, err)
	}
	got, stderr, err := runSplit(t, "read", "--config", cfg, "--transport", "rest", id.String())
	if err != nil || !bytes.Equal([]byte(got), data) {
		t.Fatalf("read --transport rest: %d bytes, %v\n%s", len(got), err, stderr)
	}
	back := filepath.Join(dir, "back.bin")
	if _, stderr, err := runSplit(t, "read", "--config", cfg, "--transport", "rest", "--strict", "-o", back, "--", id.String()); err != nil {
		t.Fatalf("read --transport rest -o: %v\n%s", err, stderr)
	}
	if b, err := os.ReadFile(back); err != nil || !bytes.Equal(b, data) {
		t.Fatalf("read --transport rest -o: %d bytes, %v", len(b), err)
	}
	var unknown codec.BlobID
	unknown[0] = 1
	if _, _, err := runSplit(t, "read", "--config", cfg, "--transport", "rest", unknown.String()); err == nil || !strings.Contains(err.Error(), "not certified") {
		t.Fatalf("read --transport rest of an unknown blob: %v", err)
	}
	if _, _, err := runSplit(t, "read", "--config", cfg, "--transport", "quic", id.String()); err == nil || !strings.Contains(err.Error(), "want libp2p or rest") {
		t.Fatalf("an unknown transport: %v", err)
	}
}
