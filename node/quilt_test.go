package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"floe/chainlink"
	"floe/codec"
)

// A quilt of 101 files on a 4-node, 160-shard devnet: stored with its
// blob type attribute, listed from its index slivers, and one small file
// read from the one secondary sliver that holds it, a small fraction of
// what reading the whole quilt fetches.
func TestQuiltStoreListReadPatch(t *testing.T) {
	if testing.Short() {
		t.Skip("a 160-shard devnet")
	}
	d := startDevnet(t, 4, 160)
	c := newTestClient(t, d)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const nFiles = 101
	files := make([]codec.QuiltFile, nFiles)
	for i := range files {
		size := 100 + (i*7919)%20000 // mixed, up to ~20 KB
		if i == 42 {
			size = 37
		}
		files[i] = codec.QuiltFile{Identifier: fmt.Sprintf("assets/file-%03d.bin", i), Data: randomBlob(uint64(i), size)}
		if i%10 == 0 {
			files[i].Tags = map[string]string{"content-type": "application/octet-stream", "n": fmt.Sprint(i)}
		}
	}
	st, err := c.StoreQuilt(ctx, files, StoreOptions{Epochs: 2})
	if err != nil {
		t.Fatal(err)
	}
	if st.AlreadyCertified || len(st.Patches) != nFiles || !st.TypeAttribute {
		t.Fatalf("store: %+v", st)
	}
	attrs, err := c.Chain().(chainlink.BlobAttributes).BlobAttributes(ctx, st.Blob.ObjectID)
	if err != nil || attrs[chainlink.AttrBlobType] != chainlink.AttrBlobTypeQuilt {
		t.Fatalf("attributes %v, %v", attrs, err)
	}
	// The quilt ID is the blob ID of codec's quilt, so the SDK's (codec's
	// fixtures) and the patch IDs are the index's.
	q, err := codec.EncodeQuilt(c.Params(), files)
	if err != nil {
		t.Fatal(err)
	}
	if _, id, err := codec.ComputeMetadata(c.Params(), q.Blob); err != nil || id != st.BlobID {
		t.Fatalf("quilt ID %s, codec's %s (%v)", st.BlobID, id, err)
	}
	byID := map[string]*codec.QuiltFile{}
	for i := range files {
		byID[files[i].Identifier] = &files[i]
	}

	list, err := c.ListQuiltPatches(ctx, st.BlobID, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if list.Full || len(list.Index.Patches) != nFiles || list.Slivers != list.Index.Columns {
		t.Fatalf("list: full=%v, %d patches from %d slivers (index %d columns)", list.Full, len(list.Index.Patches), list.Slivers, list.Index.Columns)
	}
	for i, pt := range list.Index.Patches {
		if pt.ID(st.BlobID) != st.Patches[i].PatchID || pt.Identifier != st.Patches[i].Identifier {
			t.Fatalf("patch %d: %+v, stored %+v", i, pt, st.Patches[i])
		}
	}

	before := c.FetchedSliverBytes()
	whole, err := c.Read(ctx, st.BlobID, ReadOptions{})
	if err != nil || !bytes.Equal(whole.Data, q.Blob) {
		t.Fatalf("whole quilt: %v", err)
	}
	wholeBytes := c.FetchedSliverBytes() - before

	small := files[42].Identifier
	var smallID codec.QuiltPatchID
	for _, p := range st.Patches {
		if p.Identifier == small {
			smallID = p.PatchID
		}
	}
	before = c.FetchedSliverBytes()
	res, err := c.ReadQuiltPatch(ctx, smallID, ReadOptions{})
	patchBytes := c.FetchedSliverBytes() - before
	if err != nil {
		t.Fatal(err)
	}
	colBytes := int64(c.Params().Primary() * q.SymbolSize)
	if res.Full || res.Slivers != smallID.End-smallID.Start || res.SliverBytes != int64(res.Slivers)*colBytes ||
		!bytes.Equal(res.File.Data, files[42].Data) || res.File.Identifier != small {
		t.Fatalf("patch read: full=%v, %d slivers, %d bytes, %d data bytes", res.Full, res.Slivers, res.SliverBytes, len(res.File.Data))
	}
	if patchBytes < res.SliverBytes || patchBytes > res.SliverBytes+int64(64*res.Slivers) || patchBytes*20 > wholeBytes {
		t.Errorf("patch read fetched %d bytes, whole quilt %d", patchBytes, wholeBytes)
	}
	t.Logf("quilt of %d files (%d bytes, symbol %d, n=%d): one %d-byte file read with %d sliver(s), %d bytes fetched; the whole quilt: %d bytes fetched (%.1fx)",
		nFiles, len(q.Blob), q.SymbolSize, c.Params().NShards, len(files[42].Data), res.Slivers, patchBytes, wholeBytes,
		float64(wholeBytes)/float64(patchBytes))

	// By identifier: the index, then the patch; tags come back.
	for _, i := range []int{0, 57, nFiles - 1} {
		res, err := c.ReadQuiltFile(ctx, st.BlobID, files[i].Identifier, ReadOptions{})
		if err != nil || res.Full || !bytes.Equal(res.File.Data, files[i].Data) || len(res.File.Tags) != len(files[i].Tags) {
			t.Fatalf("file %d by identifier: %v", i, err)
		}
		if res.PatchID != st.Patches[i].PatchID {
			t.Fatalf("file %d: patch ID %s, stored %s", i, res.PatchID, st.Patches[i].PatchID)
		}
	}
	if _, err := c.ReadQuiltFile(ctx, st.BlobID, "no/such/file", ReadOptions{}); !errors.Is(err, codec.ErrQuiltPatchNotFound) {
		t.Errorf("missing identifier: %v", err)
	}
	// A patch ID of another quilt, or columns outside the quilt.
	bad := smallID
	bad.QuiltID[0] ^= 1
	if _, err := c.ReadQuiltPatch(ctx, bad, ReadOptions{}); err == nil {
		t.Errorf("patch of an unknown quilt read")
	}
	bad = smallID
	bad.End = c.Params().Secondary() + 1
	if _, err := c.ReadQuiltPatch(ctx, bad, ReadOptions{}); !errors.Is(err, codec.ErrInvalidQuiltPatchID) {
		t.Errorf("patch beyond the quilt: %v", err)
	}
	// Strict: the whole quilt, re-encoded.
	res, err = c.ReadQuiltPatch(ctx, smallID, ReadOptions{Check: codec.CheckStrict})
	if err != nil || !res.Full || !bytes.Equal(res.File.Data, files[42].Data) {
		t.Errorf("strict patch read: %v", err)
	}
	// A plain blob is no quilt.
	plain, err := c.Store(ctx, randomBlob(99, 5000), StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListQuiltPatches(ctx, plain.BlobID, ReadOptions{}); !errors.Is(err, codec.ErrMalformedQuilt) {
		t.Errorf("list of a plain blob: %v", err)
	}
	// Bad input is refused before anything is registered.
	dup := []codec.QuiltFile{{Identifier: "a", Data: []byte("1")}, {Identifier: "a", Data: []byte("2")}}
	if _, err := c.StoreQuilt(ctx, dup, StoreOptions{}); !errors.Is(err, codec.ErrQuiltDuplicateIdentifier) {
		t.Errorf("duplicate identifiers: %v", err)
	}
	many := make([]codec.QuiltFile, c.Params().Secondary())
	for i := range many {
		many[i] = codec.QuiltFile{Identifier: fmt.Sprint(i), Data: []byte{byte(i)}}
	}
	if _, err := c.StoreQuilt(ctx, many, StoreOptions{}); !errors.Is(err, codec.ErrQuiltTooManyFiles) {
		t.Errorf("too many files: %v", err)
	}
}

// When a node holding a patch's sliver is down, the patch comes from the
// whole quilt (decoded from other slivers).
func TestQuiltPatchFallsBackToAFullRead(t *testing.T) {
	d := startDevnet(t, 4, 20)
	c := newTestClient(t, d)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	files := []codec.QuiltFile{
		{Identifier: "index.html", Data: []byte("<!doctype html><p>hello</p>")},
		{Identifier: "style.css", Data: randomBlob(3, 3000)},
		{Identifier: "ünïcode/ファイル.txt", Data: randomBlob(4, 10)},
	}
	st, err := c.StoreQuilt(ctx, files, StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	target := st.Patches[len(st.Patches)-1]
	_, v, err := c.comms.current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	owner := v.owners[v.params.ShardOfPair(st.BlobID, v.params.PairOfSliver(codec.Secondary, target.PatchID.Start))]
	for k, n := range d.Nodes() {
		if n != nil && n.ID() == v.Members[owner].NodeID {
			if err := d.StopNode(k); err != nil {
				t.Fatal(err)
			}
		}
	}
	res, err := c.ReadQuiltPatch(ctx, target.PatchID, ReadOptions{})
	if err != nil || !res.Full || res.File.Identifier != target.Identifier {
		t.Fatalf("patch with its holder down: %v, full=%v", err, res != nil && res.Full)
	}
	for _, f := range files {
		if f.Identifier == target.Identifier && !bytes.Equal(f.Data, res.File.Data) {
			t.Fatalf("wrong bytes")
		}
	}
}
