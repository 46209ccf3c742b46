package chainlink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"

	"floe/chainlink/bls"
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

// A ledger written before EpochState carried the sync reports kept them in
// meta's sync_done/sync_weight: Open moves them (sorted, the weight
// recomputed from the committee) and never writes the old fields again.
// Reports that do not fit the committee, and disordered withdrawals, are
// refused as corrupt.
func TestOpenSyncDoneAndWithdrawals(t *testing.T) {
	ctx := context.Background()
	seed := func(t *testing.T) (datastore.Batching, *Committee) {
		ds := NewMemDatastore()
		l, err := Open(ctx, ds, WithShards(testShards), WithLogger(quietLogger()))
		if err != nil {
			t.Fatal(err)
		}
		f := &fixture{t: t, ctx: ctx, c: l, keys: map[ID]*bls.SecretKey{}, user: acct(999)}
		for i := range 4 {
			f.addNode(i, 100)
		}
		f.advance()
		f.advance()
		c := f.committee()
		if _, err := l.Faucet(ctx, acct(77), 100); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Stake(ctx, acct(77), f.nodes[0].ID, 100); err != nil {
			t.Fatal(err)
		}
		for _, a := range []ID{acct(77), acct(0)} {
			if _, err := l.Unstake(ctx, a, f.nodes[0].ID, 10); err != nil {
				t.Fatal(err)
			}
		}
		l.Close()
		return ds, c
	}
	editMeta := func(t *testing.T, ds datastore.Batching, edit func(m map[string]any)) {
		editRecord(t, ds, keyMeta, edit)
	}

	t.Run("migrate", func(t *testing.T) {
		ds, c := seed(t)
		a, b := c.Members[2].NodeID, c.Members[0].NodeID
		editMeta(t, ds, func(m map[string]any) {
			m["sync_done"] = []string{a.String(), b.String(), a.String()}
			m["sync_weight"] = 99
			ep := m["epoch"].(map[string]any)
			delete(ep, "sync_done_weight")
			delete(ep, "sync_done_nodes")
		})
		l, err := Open(ctx, ds, WithLogger(quietLogger()))
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		st, _ := l.EpochState(ctx)
		if w := c.Members[0].Weight + c.Members[2].Weight; st.SyncDoneWeight != w || !slices.Equal(st.SyncDoneNodes, []ID{b, a}) {
			t.Fatalf("migrated %+v, want weight %d", st, w)
		}
		if err := l.EpochSyncDone(ctx, a, st.Epoch); !errors.Is(err, ErrSyncDone) {
			t.Fatalf("report of a migrated member: %v", err)
		}
		if err := l.EpochSyncDone(ctx, c.Members[1].NodeID, st.Epoch); err != nil {
			t.Fatal(err)
		}
		raw, _ := ds.Get(ctx, keyMeta)
		if bytes.Contains(raw, []byte(`"sync_done"`)) || bytes.Contains(raw, []byte(`"sync_weight"`)) {
			t.Fatalf("old fields written again: %s", raw)
		}
	})

	for _, tc := range []struct {
		name string
		edit func(m map[string]any, c *Committee)
	}{
		{"non-member", func(m map[string]any, c *Committee) {
			m["epoch"].(map[string]any)["sync_done_nodes"] = []string{acct(5).String()}
			m["epoch"].(map[string]any)["sync_done_weight"] = 0
		}},
		{"weight", func(m map[string]any, c *Committee) {
			m["epoch"].(map[string]any)["sync_done_nodes"] = []string{c.Members[0].NodeID.String()}
			m["epoch"].(map[string]any)["sync_done_weight"] = c.Members[0].Weight + 1
		}},
		{"repeated", func(m map[string]any, c *Committee) {
			id := c.Members[0].NodeID.String()
			m["epoch"].(map[string]any)["sync_done_nodes"] = []string{id, id}
			m["epoch"].(map[string]any)["sync_done_weight"] = 2 * c.Members[0].Weight
		}},
		{"weight without reports", func(m map[string]any, c *Committee) {
			m["epoch"].(map[string]any)["sync_done_weight"] = 3
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ds, c := seed(t)
			editMeta(t, ds, func(m map[string]any) { tc.edit(m, c) })
			if _, err := Open(ctx, ds, WithLogger(quietLogger())); err == nil || !strings.Contains(err.Error(), "corrupt") {
				t.Fatalf("Open: %v", err)
			}
		})
	}

	t.Run("withdrawals", func(t *testing.T) {
		for _, bad := range []func([]Withdrawal) []Withdrawal{
			func(w []Withdrawal) []Withdrawal { return []Withdrawal{w[1], w[0]} },
			func(w []Withdrawal) []Withdrawal { return []Withdrawal{w[0], w[0]} },
			func(w []Withdrawal) []Withdrawal { w[0].Amount = 0; return w },
		} {
			ds, _ := seed(t)
			res, err := ds.Query(ctx, query.Query{Prefix: prefNode[:len(prefNode)-1]})
			if err != nil {
				t.Fatal(err)
			}
			all, _ := res.Rest()
			edited := false
			for _, r := range all {
				var n Node
				if err := json.Unmarshal(r.Value, &n); err != nil {
					t.Fatal(err)
				}
				if len(n.Withdrawals) != 2 {
					continue
				}
				n.Withdrawals = bad(n.Withdrawals)
				b, _ := json.Marshal(n)
				if err := ds.Put(ctx, datastore.NewKey(r.Key), b); err != nil {
					t.Fatal(err)
				}
				edited = true
			}
			if !edited {
				t.Fatal("no node with two withdrawals")
			}
			if _, err := Open(ctx, ds, WithLogger(quietLogger())); err == nil || !strings.Contains(err.Error(), "corrupt node") {
				t.Fatalf("Open: %v", err)
			}
		}
	})
}

// editRecord rewrites the JSON record at k of a closed ledger's datastore
// through edit, as an older or damaged ledger would have left it.
func editRecord(t *testing.T, ds datastore.Batching, k datastore.Key, edit func(m map[string]any)) {
	t.Helper()
	ctx := context.Background()
	b, err := ds.Get(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	b, _ = json.Marshal(m)
	if err := ds.Put(ctx, k, b); err != nil {
		t.Fatal(err)
	}
}
