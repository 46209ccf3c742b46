package gateway

import (
	"context"
	"fmt"
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
