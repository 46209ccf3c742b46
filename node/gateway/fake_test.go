package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"

	"floe/chainlink"
	"floe/codec"
	"floe/node"
)

// fakeBackend is a Backend without a swarm: it encodes for real (blob IDs
// are the RS2 blob IDs of the bytes), registers blobs on an in-memory
// ledger (real object IDs, storage, costs, epochs) and keeps the bytes in
// memory; certification (which needs a committee of BLS signers) is
// recorded here instead of on the ledger. Hooks inject failures.
type fakeBackend struct {
	t      testing.TB
	params codec.Params
	ledger *chainlink.Ledger
	owner  chainlink.ID

	mu        sync.Mutex
	blobs     map[codec.BlobID]*fakeBlob
	certified map[chainlink.ID]uint32 // object → certified epoch
	reads     int
	lastCheck codec.ConsistencyCheck
	lastStore node.StoreOptions
	// streamedStores and streamedReads count StoreFrom and ReadRangeTo.
	streamedStores, streamedReads int

	// hooks, set before use
	readHook  func(ctx context.Context) error // called at the start of Read
	storeHook func(ctx context.Context) error // called at the start of Store
}

type fakeBlob struct {
	data    []byte
	objects []chainlink.ID
	end     uint32 // latest certified end epoch
}

func newFakeBackend(t testing.TB, shards int) *fakeBackend {
	t.Helper()
	ctx := context.Background()
	p, err := codec.NewParams(shards)
	if err != nil {
		t.Fatal(err)
	}
	l, err := chainlink.Open(ctx, chainlink.NewMemDatastore(), chainlink.WithShards(shards),
		chainlink.WithMaxEpochsAhead(10), chainlink.WithLogger(discardLogger()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	owner := chainlink.ID{0xaa, 1}
	if _, err := l.Faucet(ctx, owner, 1e14); err != nil {
		t.Fatal(err)
	}
	return &fakeBackend{t: t, params: p, ledger: l, owner: owner,
		blobs: map[codec.BlobID]*fakeBlob{}, certified: map[chainlink.ID]uint32{}}
}

func (f *fakeBackend) Store(ctx context.Context, data []byte, opts node.StoreOptions) (*node.StoreResult, error) {
	if f.storeHook != nil {
		if err := f.storeHook(ctx); err != nil {
			return nil, err
		}
	}
	if opts.Epochs == 0 {
		opts.Epochs = 1
	}
	if uint64(len(data)) > f.params.MaxBlobSize() {
		return nil, fmt.Errorf("%w: %d bytes", node.ErrTooLarge, len(data))
	}
	m, id, err := codec.ComputeMetadata(f.params, data)
	if err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	es, err := f.ledger.EpochState(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", node.ErrChain, err)
	}
	f.mu.Lock()
	f.lastStore = opts
	if b := f.blobs[id]; b != nil && !opts.Force && b.end >= es.Epoch+opts.Epochs {
		end := b.end
		f.mu.Unlock()
		return &node.StoreResult{BlobID: id, AlreadyCertified: true, EndEpoch: end}, nil
	}
	f.mu.Unlock()
	enc, err := f.params.EncodedLength(uint64(len(data)))
	if err != nil {
		return nil, err
	}
	res, err := f.ledger.RegisterBlob(ctx, chainlink.RegisterBlobRequest{
		Owner: f.owner, BlobID: id, RootHash: m.RootHash(), Size: uint64(len(data)),
		EncodingType: codec.EncodingTypeRS2, Deletable: opts.Deletable, EpochsAhead: opts.Epochs,
	})
	if err != nil {
		return nil, fmt.Errorf("register: %w", err)
	}
	b := res.Blob
	cert := es.Epoch
	b.CertifiedEpoch = &cert
	f.mu.Lock()
	fb := f.blobs[id]
	if fb == nil {
		fb = &fakeBlob{data: append([]byte(nil), data...)}
		f.blobs[id] = fb
	}
	fb.objects = append(fb.objects, b.ObjectID)
	fb.end = max(fb.end, b.Storage.EndEpoch)
	f.certified[b.ObjectID] = cert
	f.mu.Unlock()
	return &node.StoreResult{
		BlobID: id, EndEpoch: b.Storage.EndEpoch, Blob: b,
		Cost: res.StorageCost + res.WriteCost, EncodedLength: enc, EpochsAhead: opts.Epochs,
	}, nil
}

// StoreFrom reads the blob from r (spooled by the gateway) and stores it
// as Store does, counting streamed stores.
func (f *fakeBackend) StoreFrom(ctx context.Context, r io.ReaderAt, size int64, opts node.StoreOptions) (*node.StoreResult, error) {
	data := make([]byte, size)
	if _, err := r.ReadAt(data, 0); err != nil && !(errors.Is(err, io.EOF) && size == 0) {
		return nil, fmt.Errorf("reading the spooled body: %w", err)
	}
	f.mu.Lock()
	f.streamedStores++
	f.mu.Unlock()
	return f.Store(ctx, data, opts)
}

// ReadRangeTo writes what ReadRange gives, after announcing the size, and
// counts streamed reads.
func (f *fakeBackend) ReadRangeTo(ctx context.Context, id codec.BlobID, off, n uint64, w io.Writer, opts node.ReadOptions) (*node.ReadResult, error) {
	res, err := f.ReadRange(ctx, id, off, n, opts)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.streamedReads++
	f.mu.Unlock()
	if opts.Size != nil {
		if err := opts.Size(res.Size); err != nil {
			return nil, err
		}
	}
	if _, err := w.Write(res.Data); err != nil {
		return nil, err
	}
	return &node.ReadResult{Size: res.Size}, nil
}

func (f *fakeBackend) Read(ctx context.Context, id codec.BlobID, opts node.ReadOptions) (*node.ReadResult, error) {
	f.mu.Lock()
	f.reads++
	f.lastCheck = opts.Check
	hook := f.readHook
	f.mu.Unlock()
	if hook != nil {
		if err := hook(ctx); err != nil {
			return nil, err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	b := f.blobs[id]
	if b == nil {
		return nil, node.ErrBlobNotFound
	}
	return &node.ReadResult{Data: append([]byte(nil), b.data...)}, nil
}

// ReadRange slices what Read returns (and counts as a read).
func (f *fakeBackend) ReadRange(ctx context.Context, id codec.BlobID, off, n uint64, opts node.ReadOptions) (*node.RangeResult, error) {
	res, err := f.Read(ctx, id, opts)
	if err != nil {
		return nil, err
	}
	size := uint64(len(res.Data))
	if n == 0 || off >= size || n > size-off {
		return nil, node.ErrBadRange
	}
	return &node.RangeResult{Data: res.Data[off : off+n], Size: size}, nil
}

func (f *fakeBackend) Status(ctx context.Context, id codec.BlobID) (chainlink.BlobStatus, error) {
	st, err := f.ledger.BlobStatus(ctx, id)
	if err != nil {
		return st, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if b := f.blobs[id]; b != nil {
		st.CertifiedEndEpoch = b.end
		if e, ok := f.certified[b.objects[0]]; ok {
			st.InitialCertifiedEpoch = &e
		}
	}
	return st, nil
}

func (f *fakeBackend) Chain() chainlink.Chain { return fakeChain{f.ledger, f} }

func (f *fakeBackend) readCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reads
}

// fakeChain is the ledger with the fake's certifications applied to blob
// objects.
type fakeChain struct {
	*chainlink.Ledger
	f *fakeBackend
}

func (c fakeChain) Blob(ctx context.Context, id chainlink.ID) (chainlink.Blob, error) {
	b, err := c.Ledger.Blob(ctx, id)
	if err != nil {
		return b, err
	}
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	if e, ok := c.f.certified[id]; ok {
		b.CertifiedEpoch = &e
	}
	return b, nil
}

// ---- quilts (QuiltBackend), as node.Client does them over Store and Read ----

func (f *fakeBackend) StoreQuilt(ctx context.Context, files []codec.QuiltFile, opts node.StoreOptions) (*node.QuiltStoreResult, error) {
	q, err := codec.EncodeQuilt(f.params, files)
	if err != nil {
		return nil, err
	}
	st, err := f.Store(ctx, q.Blob, opts)
	if err != nil {
		return nil, err
	}
	out := &node.QuiltStoreResult{StoreResult: st}
	for i := range q.Index.Patches {
		pt := &q.Index.Patches[i]
		out.Patches = append(out.Patches, node.StoredQuiltPatch{Identifier: pt.Identifier, PatchID: pt.ID(st.BlobID)})
	}
	if !st.AlreadyCertified {
		if _, err := f.ledger.SetBlobAttributes(ctx, st.Blob.Owner, st.Blob.ObjectID,
			map[string]string{chainlink.AttrBlobType: chainlink.AttrBlobTypeQuilt}); err != nil {
			return nil, err
		}
		out.TypeAttribute = true
	}
	return out, nil
}

func (f *fakeBackend) readQuilt(ctx context.Context, id codec.BlobID) (*codec.Quilt, error) {
	res, err := f.Read(ctx, id, node.ReadOptions{})
	if err != nil {
		return nil, err
	}
	return codec.ParseQuilt(f.params, res.Data)
}

func (f *fakeBackend) ReadQuiltPatch(ctx context.Context, id codec.QuiltPatchID, opts node.ReadOptions) (*node.QuiltReadResult, error) {
	q, err := f.readQuilt(ctx, id.QuiltID)
	if err != nil {
		return nil, err
	}
	file, err := q.FileByID(id)
	if err != nil {
		return nil, err
	}
	return &node.QuiltReadResult{File: file, PatchID: id, Slivers: id.End - id.Start}, nil
}

func (f *fakeBackend) ReadQuiltFile(ctx context.Context, quiltID codec.BlobID, identifier string, opts node.ReadOptions) (*node.QuiltReadResult, error) {
	q, err := f.readQuilt(ctx, quiltID)
	if err != nil {
		return nil, err
	}
	pt, err := q.Index.Patch(identifier)
	if err != nil {
		return nil, err
	}
	file, err := q.File(identifier)
	if err != nil {
		return nil, err
	}
	return &node.QuiltReadResult{Index: &q.Index, File: file, PatchID: pt.ID(quiltID)}, nil
}

func (f *fakeBackend) ListQuiltPatches(ctx context.Context, quiltID codec.BlobID, opts node.ReadOptions) (*node.QuiltReadResult, error) {
	q, err := f.readQuilt(ctx, quiltID)
	if err != nil {
		return nil, err
	}
	return &node.QuiltReadResult{Index: &q.Index}, nil
}

// Params makes the fake a node.SiteStore (sites are published through it).
func (f *fakeBackend) Params() codec.Params { return f.params }

// ---- counting wrapper (site cache tests) ----

// countingBackend is the fake with every Read counted by blob ID and every
// BlobAttributes lookup of its chain counted (the quilt reads of patches
// go to the fake directly and are not counted).
type countingBackend struct {
	*fakeBackend
	cmu   sync.Mutex
	byID  map[codec.BlobID]int
	attrs int
}

func newCountingBackend(f *fakeBackend) *countingBackend {
	return &countingBackend{fakeBackend: f, byID: map[codec.BlobID]int{}}
}

func (c *countingBackend) Read(ctx context.Context, id codec.BlobID, opts node.ReadOptions) (*node.ReadResult, error) {
	c.cmu.Lock()
	c.byID[id]++
	c.cmu.Unlock()
	return c.fakeBackend.Read(ctx, id, opts)
}

func (c *countingBackend) Chain() chainlink.Chain {
	return countingChain{fakeChain{c.fakeBackend.ledger, c.fakeBackend}, c}
}

// counts returns the Reads of id and the attribute lookups so far.
func (c *countingBackend) counts(id codec.BlobID) (reads, attrs int) {
	c.cmu.Lock()
	defer c.cmu.Unlock()
	return c.byID[id], c.attrs
}

type countingChain struct {
	fakeChain
	c *countingBackend
}

func (cc countingChain) BlobAttributes(ctx context.Context, id chainlink.ID) (map[string]string, error) {
	cc.c.cmu.Lock()
	cc.c.attrs++
	cc.c.cmu.Unlock()
	return cc.fakeChain.BlobAttributes(ctx, id)
}

// setReadHook sets the fake's read hook under its lock (between requests).
func (f *fakeBackend) setReadHook(h func(ctx context.Context) error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.readHook = h
}
