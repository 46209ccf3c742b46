package sui

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	pb "github.com/block-vision/sui-go-sdk/pb/sui/rpc/v2"
	"google.golang.org/protobuf/proto"

	"floe/chainlink"
)

func testIndex() (*index, Address) {
	pkg := mustAddress("0x5157")
	c := &Client{log: slog.New(slog.DiscardHandler), typeOrigin: pkg, packages: []Address{pkg}}
	return newIndex(c, 0, nil), pkg
}

func walrusEvent(t testing.TB, pkg Address, v any) *pb.Event {
	b, name, err := EncodeEvent(v)
	if err != nil {
		t.Fatal(err)
	}
	return &pb.Event{EventType: proto.String(pkg.String() + "::events::" + name), Contents: &pb.Bcs{Value: b}}
}

// TestIndexCheckpoints: events of successful transactions are numbered in
// checkpoint order, other packages' and failed transactions' are not, and
// the blob state follows them.
func TestIndexCheckpoints(t *testing.T) {
	x, pkg := testIndex()
	other := mustAddress("0xbad")
	obj := mustAddress("0x77")
	ok := &pb.TransactionEffects{Status: &pb.ExecutionStatus{Success: proto.Bool(true)}, Epoch: proto.Uint64(3)}
	failed := &pb.TransactionEffects{Status: &pb.ExecutionStatus{Success: proto.Bool(false)}}
	var id [32]byte
	id[0] = 9
	reg := &BlobRegistered{Epoch: 3, BlobID: id, Size: 10, EncodingType: 1, EndEpoch: 5, ObjectID: obj}
	cp := &pb.Checkpoint{SequenceNumber: proto.Uint64(0), Transactions: []*pb.ExecutedTransaction{
		{Effects: failed, Events: &pb.TransactionEvents{Events: []*pb.Event{walrusEvent(t, pkg, &EpochChangeStart{Epoch: 9})}}},
		{Effects: ok, Events: &pb.TransactionEvents{Events: []*pb.Event{walrusEvent(t, other, &EpochChangeStart{Epoch: 8}), walrusEvent(t, pkg, &EpochChangeStart{Epoch: 3}), walrusEvent(t, pkg, reg)}}},
	}}
	if err := x.apply(0, cp); err != nil {
		t.Fatal(err)
	}
	if err := x.apply(5, cp); err == nil {
		t.Fatal("a checkpoint with another sequence number was applied")
	}
	cert := &BlobCertified{Epoch: 3, BlobID: id, EndEpoch: 5, ObjectID: obj}
	if err := x.apply(1, &pb.Checkpoint{SequenceNumber: proto.Uint64(1), Transactions: []*pb.ExecutedTransaction{
		{Digest: proto.String("digest-1"), Effects: ok, Events: &pb.TransactionEvents{Events: []*pb.Event{walrusEvent(t, pkg, cert)}}}}}); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := x.waitDigest(wctx, "digest-1"); err != nil {
		t.Fatalf("wait for an indexed transaction: %v", err)
	}
	short, cancel2 := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel2()
	if err := x.waitDigest(short, "never"); !errors.Is(err, ErrIndexBehind) {
		t.Fatalf("wait for a transaction never indexed: %v", err)
	}
	if len(x.events) != 3 || x.events[0].Type != chainlink.EventEpochChangeStart || x.events[0].Epoch != 3 ||
		x.events[1].Type != chainlink.EventBlobRegistered || x.events[2].Type != chainlink.EventBlobCertified || x.events[2].Cursor != 3 {
		t.Fatalf("events %+v", x.events)
	}
	st := x.blobStatus(id)
	if !st.Exists || !st.PermanentCertified || st.CertifiedEndEpoch != 5 || *st.InitialCertifiedEpoch != 3 || x.next != 2 {
		t.Fatalf("status %+v next %d", st, x.next)
	}
}

// FuzzIndexCheckpoint feeds arbitrary checkpoints (protobuf) to the
// index: nothing may panic, and cursors stay consecutive.
func FuzzIndexCheckpoint(f *testing.F) {
	_, pkg := testIndex()
	seed := &pb.Checkpoint{SequenceNumber: proto.Uint64(0), Transactions: []*pb.ExecutedTransaction{{
		Effects: &pb.TransactionEffects{Status: &pb.ExecutionStatus{Success: proto.Bool(true)},
			ChangedObjects: []*pb.ChangedObject{{ObjectId: proto.String(pkg.String()), IdOperation: pb.ChangedObject_CREATED.Enum(),
				ObjectType: proto.String(pkg.String() + "::staking_pool::StakingPool")}}},
		Transaction: &pb.Transaction{Bcs: &pb.Bcs{Value: []byte{0, 0, 0, 0}}},
		Events:      &pb.TransactionEvents{Events: []*pb.Event{walrusEvent(f, pkg, &ShardsReceived{Epoch: 1, Shards: []uint16{1, 2}})}},
	}}}
	b, _ := proto.Marshal(seed)
	f.Add(b)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		x, _ := testIndex()
		cp := new(pb.Checkpoint)
		if proto.Unmarshal(b, cp) != nil {
			return
		}
		if x.apply(cp.GetSequenceNumber(), cp) != nil {
			return
		}
		for i, e := range x.events {
			if e.Cursor != uint64(i)+1 {
				t.Fatalf("event %d has cursor %d", i, e.Cursor)
			}
		}
	})
}

// TestIndexPersisted: a restarted index replays what it stored, resumes
// at the next checkpoint with the same cursors, and refuses a store built
// from another start checkpoint.
func TestIndexPersisted(t *testing.T) {
	ds := chainlink.NewMemDatastore()
	ctx := context.Background()
	a, pkg := testIndex()
	a.ds = ds
	if err := a.load(ctx); err != nil {
		t.Fatal(err)
	}
	ok := &pb.TransactionEffects{Status: &pb.ExecutionStatus{Success: proto.Bool(true)}, Epoch: proto.Uint64(1)}
	var id [32]byte
	id[3] = 7
	obj := mustAddress("0x99")
	for seq, ev := range []any{&EpochChangeStart{Epoch: 1}, nil, &BlobRegistered{Epoch: 1, BlobID: id, Size: 5, EncodingType: 1, EndEpoch: 4, Deletable: true, ObjectID: obj}} {
		cp := &pb.Checkpoint{SequenceNumber: proto.Uint64(uint64(seq))}
		if ev != nil {
			cp.Transactions = []*pb.ExecutedTransaction{{Effects: ok, Events: &pb.TransactionEvents{Events: []*pb.Event{walrusEvent(t, pkg, ev)}}}}
		}
		if err := a.apply(uint64(seq), cp); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := testIndex()
	b.ds = ds
	if err := b.load(ctx); err != nil {
		t.Fatal(err)
	}
	if b.next != 3 || len(b.events) != 2 || b.events[1].Cursor != 2 || b.events[1].ObjectID != obj {
		t.Fatalf("replayed next %d events %+v", b.next, b.events)
	}
	if st := b.blobStatus(id); !st.Exists || st.DeletableRegistered != 1 {
		t.Fatalf("replayed status %+v", st)
	}
	c, _ := testIndex()
	c.ds, c.next = ds, 5
	if err := c.load(ctx); !errors.Is(err, chainlink.ErrBadRequest) {
		t.Fatalf("index of another start: %v", err)
	}
}
