package chainlink

import (
	"context"
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
