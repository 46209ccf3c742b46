package chainlink

import (
	"bytes"
	"context"
	"strings"

	"floe/chainlink/bls"
	"io"
	"log/slog"
	"testing"
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// inProcess runs the ledger in the test process on an in-memory datastore.
func inProcess(t *testing.T, opts ...Option) *harness {
	ds := NewMemDatastore()
	opts = append(opts, WithLogger(quietLogger()))
	open := func() *Ledger {
		l, err := Open(context.Background(), ds, opts...)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	l := open()
	t.Cleanup(func() { l.Close() })
	h := &harness{chain: l}
	h.restart = func(t *testing.T) Chain {
		l.Close()
		l = open()
		h.chain = l
		return l
	}
	h.digest = func(t *testing.T) string {
		d, err := l.Digest(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		stored, _, err := StateDigest(context.Background(), ds)
		if err != nil {
			t.Fatal(err)
		}
		return d + " " + stored
	}
	return h
}

// onDisk runs the ledger on pebble in a temporary directory.
func onDisk(t *testing.T, opts ...Option) *harness {
	dir := t.TempDir()
	opts = append(opts, WithLogger(quietLogger()))
	open := func() *Ledger {
		l, err := OpenDir(context.Background(), dir, opts...)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	l := open()
	t.Cleanup(func() { l.Close() })
	h := &harness{chain: l}
	h.restart = func(t *testing.T) Chain {
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		l = open()
		h.chain = l
		return l
	}
	h.digest = func(t *testing.T) string {
		d, err := l.Digest(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		stored, _, err := StateDigest(context.Background(), l.ds)
		if err != nil {
			t.Fatal(err)
		}
		return d + " " + stored
	}
	return h
}

func TestLedger(t *testing.T) { suite(t, inProcess) }

func TestLedgerPebble(t *testing.T) { suite(t, onDisk) }

// A stored state with impossible parameters is refused at Open (finding F1
// of chaintest/FINDINGS.md).
func TestOpenRefusesCorruptParams(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct{ from, to string }{
		{`"n_shards":10`, `"n_shards":200000000`},
		{`"max_epochs_ahead":53`, `"max_epochs_ahead":5000`},
		{`"max_epochs_ahead":53`, `"max_epochs_ahead":0`},
	} {
		ds := NewMemDatastore()
		l, err := Open(ctx, ds, WithShards(testShards), WithLogger(quietLogger()))
		if err != nil {
			t.Fatal(err)
		}
		l.Close()
		b, _ := ds.Get(ctx, keyMeta)
		if !bytes.Contains(b, []byte(tc.from)) {
			t.Fatalf("meta %s lacks %s", b, tc.from)
		}
		ds.Put(ctx, keyMeta, bytes.Replace(b, []byte(tc.from), []byte(tc.to), 1))
		if _, err := Open(ctx, ds, WithLogger(quietLogger())); err == nil || !strings.Contains(err.Error(), "corrupt") {
			t.Fatalf("%s: Open: %v", tc.to, err)
		}
	}
	// A committee whose shards do not partition n_shards.
	ds := NewMemDatastore()
	h := &fixture{t: t, ctx: ctx, keys: map[ID]*bls.SecretKey{}, user: acct(999)}
	l, err := Open(ctx, ds, WithShards(testShards), WithLogger(quietLogger()))
	if err != nil {
		t.Fatal(err)
	}
	h.c = l
	for i := range 4 {
		h.addNode(i, 100)
	}
	h.advance()
	l.Close()
	b, _ := ds.Get(ctx, keyCommittee(1))
	ds.Put(ctx, keyCommittee(1), bytes.Replace(b, []byte(`"shards":[0,`), []byte(`"shards":[1,`), 1))
	if _, err := Open(ctx, ds, WithLogger(quietLogger())); err == nil || !strings.Contains(err.Error(), "corrupt committee") {
		t.Fatalf("corrupt committee: %v", err)
	}
}
