package node

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"floe/codec"
)

// holderOfRow returns the devnet node index holding the systematic primary
// sliver r of blob id in the current committee.
func holderOfRow(t *testing.T, ctx context.Context, c *Client, d *Devnet, id codec.BlobID, r int) int {
	t.Helper()
	_, v, err := c.comms.current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	owner := v.owners[v.params.ShardOfPair(id, v.params.PairOfSliver(codec.Primary, r))]
	for k, n := range d.Nodes() {
		if n != nil && n.ID() == v.Members[owner].NodeID {
			return k
		}
	}
	t.Fatalf("no devnet node holds row %d", r)
	return -1
}

// A range read fetches only the primary slivers holding its bytes: for a
// 1-byte range of a 4 MiB blob one sliver of nSec·S bytes, where a full
// read fetches nPrim of them.
func TestReadRangeFetchesOnlyItsRows(t *testing.T) {
	d := startDevnet(t, 4, 20)
	c := newTestClient(t, d)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const size = 4 << 20
	data := randomBlob(7, size)
	st, err := c.Store(ctx, data, StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	id := st.BlobID
	p := c.params
	s, _ := p.SymbolSize(size)
	rowBytes := uint64(p.Secondary() * s)
	sliver := int64(rowBytes)

	before := c.FetchedSliverBytes()
	full, err := c.Read(ctx, id, ReadOptions{})
	if err != nil || !bytes.Equal(full.Data, data) {
		t.Fatalf("full read: %v", err)
	}
	fullBytes := c.FetchedSliverBytes() - before

	for _, tc := range []struct {
		name   string
		off, n uint64
		rows   int
	}{
		{"first byte", 0, 1, 1},
		{"last byte", size - 1, 1, 1},
		{"middle byte", size / 2, 1, 1},
		{"across a row boundary", rowBytes - 10, 20, 2},
		{"one whole row", 3 * rowBytes, rowBytes, 1},
		{"whole blob", 0, size, p.Primary()},
	} {
		before := c.FetchedSliverBytes()
		res, err := c.ReadRange(ctx, id, tc.off, tc.n, ReadOptions{})
		fetched := c.FetchedSliverBytes() - before
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !bytes.Equal(res.Data, data[tc.off:tc.off+tc.n]) || res.Size != size {
			t.Fatalf("%s: wrong bytes (%d of them) or size %d", tc.name, len(res.Data), res.Size)
		}
		if res.Full || res.Slivers != tc.rows || res.SliverBytes != int64(tc.rows)*sliver ||
			fetched < res.SliverBytes || fetched > res.SliverBytes+int64(64*tc.rows) { // + each sliver's header
			t.Errorf("%s: full=%v, %d slivers, %d bytes (counter %d); want %d slivers of %d bytes",
				tc.name, res.Full, res.Slivers, res.SliverBytes, fetched, tc.rows, sliver)
		}
		if tc.n == 1 {
			t.Logf("%s of a %d-byte blob: %d sliver bytes fetched (a full read: %d)", tc.name, size, fetched, fullBytes)
		}
	}
	if fullBytes < int64(p.Primary())*sliver {
		t.Errorf("a full read fetched %d bytes, want at least %d", fullBytes, int64(p.Primary())*sliver)
	}

	// Strict checks re-encode the whole blob: a full read.
	res, err := c.ReadRange(ctx, id, 5, 5, ReadOptions{Check: codec.CheckStrict})
	if err != nil || !res.Full || !bytes.Equal(res.Data, data[5:10]) {
		t.Errorf("strict range: %v, full=%v", err, res != nil && res.Full)
	}
	for _, r := range [][2]uint64{{0, 0}, {size, 1}, {size - 1, 2}, {1 << 62, 1 << 62}} {
		if _, err := c.ReadRange(ctx, id, r[0], r[1], ReadOptions{}); !errors.Is(err, ErrBadRange) {
			t.Errorf("range %v: %v, want ErrBadRange", r, err)
		}
	}
}

// When the node holding a range's sliver is down, the range is read from
// the whole blob (decoded from the other slivers).
func TestReadRangeFallsBackToAFullRead(t *testing.T) {
	d := startDevnet(t, 4, 20)
	c := newTestClient(t, d)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	data := randomBlob(8, 1<<20)
	st, err := c.Store(ctx, data, StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	k := holderOfRow(t, ctx, c, d, st.BlobID, 0)
	if err := d.StopNode(k); err != nil {
		t.Fatal(err)
	}
	res, err := c.ReadRange(ctx, st.BlobID, 3, 100, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Full || !bytes.Equal(res.Data, data[3:103]) {
		t.Fatalf("full=%v, %d bytes", res.Full, len(res.Data))
	}
}

// A node serving corrupt slivers is reported and its range is read from
// the other slivers.
func TestReadRangeSkipsALiar(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d, err := StartDevnet(ctx, DevnetConfig{Nodes: 4, Shards: 20, Dir: t.TempDir(), Byzantine: []int{1}, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	c := newTestClient(t, d)
	data := randomBlob(9, 300_000)
	st, err := c.Store(ctx, data, StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p := c.params
	liar := d.Nodes()[1].ID()
	found := false
	for r := range p.Primary() {
		if holderOfRow(t, ctx, c, d, st.BlobID, r) != 1 {
			continue
		}
		found = true
		s, _ := p.SymbolSize(uint64(len(data)))
		off := uint64(r * p.Secondary() * s)
		res, err := c.ReadRange(ctx, st.BlobID, off, 10, ReadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(res.Data, data[off:off+10]) || !res.Full {
			t.Fatalf("row %d of the liar: full=%v, wrong bytes", r, res.Full)
		}
		if len(res.Liars) == 0 || res.Liars[0].NodeID != liar {
			t.Fatalf("liars %+v, want %s", res.Liars, liar)
		}
		break
	}
	if !found {
		t.Skip("the lying node holds no systematic row of this blob")
	}
}
