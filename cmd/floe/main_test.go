package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"floe/chainlink"
)

func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd, _ := newRootCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

func TestBlobID(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "tv1")
	if err := os.WriteFile(f, []byte("walrus blob id v1 regression test"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, "blob-id", "--n-shards", "10", f)
	if err != nil || strings.TrimSpace(out) != "RcU82Mwf-CFkv1LaI_2qcpANwpGUuG3TMwnVzZxD2kY" {
		t.Fatalf("blob-id: %q %v", out, err)
	}
	g := filepath.Join(dir, "tv2")
	if err := os.WriteFile(g, []byte("some other string"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = run(t, "blob-id", g)
	if err != nil || strings.TrimSpace(out) != "M4hsZGQ1oCktdzegB6HnI6Mi28S2nqOPHxK-W7_4BUk" {
		t.Fatalf("blob-id default n: %q %v", out, err)
	}
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "small")
	if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"blob-id", filepath.Join(dir, "missing")}, "no such file"},
		{[]string{"blob-id", "--n-shards", "3", f}, "out of range"},
		{[]string{"blob-id", "--n-shards", "60000", f}, "does not support"},
		{[]string{"blob-id", dir}, "not a regular file"},
		{[]string{"blob-id"}, "accepts 1 arg"},
		{[]string{"bench", "encode", "--n-shards", "2"}, "out of range"},
		{[]string{"bench", "encode", "--n-shards", "10", "--size", "999999999"}, "outside"},
	} {
		_, err := run(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: error %v, want one line containing %q", tc.args, err, tc.want)
		}
	}
}

func TestBenchEncode(t *testing.T) {
	out, err := run(t, "bench", "encode", "--n-shards", "10", "--size", "10000", "--runs", "1")
	if err != nil || !strings.Contains(out, "MB/s") || !strings.Contains(out, "peak RSS") {
		t.Fatalf("bench encode: %q %v", out, err)
	}
}

// TestLedgerServe runs `floe ledger serve` in process, talks to it through
// the chainlink client, and stops it by cancelling its context.
func TestLedgerServe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd, _ := newRootCommand()
	dir := t.TempDir()
	var out syncBuffer
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"ledger", "serve", "--listen", addr, "--dir", dir, "--shards", "10"})
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	c := chainlink.NewClient("http://"+addr, nil)
	var st chainlink.EpochState
	for i := 0; ; i++ {
		st, err = c.EpochState(ctx)
		if err == nil || i == 100 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("ledger not reachable: %v", err)
	}
	if st.NShards != 10 {
		t.Fatalf("epoch state %+v", st)
	}
	// The admin token: created private, its path printed; advancing needs it.
	tokenPath := filepath.Join(dir, chainlink.AdminTokenFile)
	if fi, err := os.Stat(tokenPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("admin token file: %v %v", fi, err)
	}
	if !strings.Contains(out.String(), "admin token created: "+tokenPath) {
		t.Fatalf("serve did not print the token's path: %q", out.String())
	}
	t.Setenv(adminTokenEnv, "")
	url := "http://" + addr
	if _, err := run(t, "ledger", "advance", "--ledger", url); err == nil || !strings.Contains(err.Error(), "--ledger-dir") {
		t.Fatalf("advance without a token: %v", err)
	}
	if _, err := c.AdvanceEpoch(ctx); !errors.Is(err, chainlink.ErrNoKey) {
		t.Fatalf("advance by a client without the token: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.token")
	os.WriteFile(bad, []byte("not-the-token-0123456789\n"), 0o600)
	if _, err := run(t, "ledger", "advance", "--ledger", url, "--admin-token-file", bad); !errors.Is(err, chainlink.ErrUnauthorized) {
		t.Fatalf("advance with a wrong token: %v", err)
	}
	if st, _ := c.EpochState(ctx); st.Epoch != 0 {
		t.Fatalf("refused advances advanced to epoch %d", st.Epoch)
	}
	if o := mustRun(t, "ledger", "advance", "--ledger", url, "--ledger-dir", dir); strings.TrimSpace(o) != "epoch 1" {
		t.Fatalf("advance --ledger-dir: %q", o)
	}
	if o := mustRun(t, "ledger", "advance", "--ledger", url, "--admin-token-file", tokenPath); strings.TrimSpace(o) != "epoch 2" {
		t.Fatalf("advance --admin-token-file: %q", o)
	}
	t.Setenv(adminTokenEnv, tokenPath)
	if o := mustRun(t, "ledger", "advance", "--ledger", url); strings.TrimSpace(o) != "epoch 3" {
		t.Fatalf("advance with $%s: %q", adminTokenEnv, o)
	}
	// The faucet is off without --faucet.
	if _, err := c.Faucet(ctx, chainlink.ID{1}, 10); !errors.Is(err, chainlink.ErrFaucetDisabled) {
		t.Fatalf("faucet of a ledger served without --faucet: %v", err)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("ledger serve did not stop")
	}
	if _, err := run(t, "ledger", "serve", "--listen", "10.1.2.3:7070", "--dir", t.TempDir()); err == nil {
		t.Fatal("serving on a non-loopback address was allowed")
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
