package chaintest

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"floe/chainlink"
	"floe/chainlink/bls"
	"floe/codec"
)

// TestManyClientsShareOneLedger is several `floe node`/client processes on
// one `floe ledger serve`: writers on their own HTTP clients register and
// certify blobs concurrently while subscribers on other clients follow the
// log; one subscriber disconnects midway and resumes from its cursor. Every
// subscriber must see the same gap-free log, each event exactly once.
func TestManyClientsShareOneLedger(t *testing.T) {
	t.Parallel()
	fx := NewFixture(t, newHTTPEnv, stakes4...)
	env := fx.Env.(*httpEnv)
	ctx := fx.Ctx
	cm := fx.Committee()
	reach, _ := Subsets(cm, bls.Quorum)
	start := DrainEvents(t, ctx, fx.C(), 0, 200*time.Millisecond)
	base := start[len(start)-1].Cursor

	newClient := func() *chainlink.Client {
		c := NewClient("http://"+env.addr, &http.Client{Transport: &http.Transport{}})
		c.EventWait = 2 * time.Second
		return c
	}
	const writers, blobsEach = 4, 6
	// Each blob makes two events: BlobRegistered and BlobCertified.
	want := writers * blobsEach * 2

	type result struct {
		evs []chainlink.Event
		err error
	}
	follow := func(c chainlink.Chain, after uint64, n int, out chan<- result) {
		s, err := c.Events(ctx, after)
		if err != nil {
			out <- result{err: err}
			return
		}
		defer s.Close()
		var evs []chainlink.Event
		for len(evs) < n {
			rctx, cancel := context.WithTimeout(ctx, waitEvent)
			e, err := s.Next(rctx)
			cancel()
			if err != nil {
				out <- result{evs, err}
				return
			}
			evs = append(evs, e)
		}
		out <- result{evs: evs}
	}
	const subscribers = 3
	results := make(chan result, subscribers+1)
	for range subscribers {
		go follow(newClient(), base, want, results)
	}
	// The resuming subscriber: reads a third, disconnects, resumes.
	go func() {
		c := newClient()
		part := make(chan result, 1)
		follow(c, base, want/3, part)
		r := <-part
		if r.err != nil {
			results <- r
			return
		}
		time.Sleep(50 * time.Millisecond) // events keep coming while it is away
		follow(newClient(), r.evs[len(r.evs)-1].Cursor, want-len(r.evs), part)
		r2 := <-part
		results <- result{append(r.evs, r2.evs...), r2.err}
	}()

	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			c := newClient()
			owner := Account(10 + w)
			if _, err := c.Faucet(ctx, owner, 10_000_000); err != nil {
				errs <- err
				return
			}
			for j := range blobsEach {
				id, root, size := TestBlob(100*w+j, uint64(1000+j))
				r, err := c.RegisterBlob(ctx, chainlink.RegisterBlobRequest{Owner: owner, BlobID: id, RootHash: root,
					Size: size, EncodingType: codec.EncodingTypeRS2, EpochsAhead: 2, Deletable: j%2 == 1})
				if err != nil {
					errs <- fmt.Errorf("writer %d blob %d: %w", w, j, err)
					return
				}
				msg := codec.StorageConfirmationMessage(cm.Epoch, id, r.Blob.Persistence())
				sigs := make([]bls.Signature, len(reach))
				idx := make([]uint16, len(reach))
				for k, i := range reach {
					sigs[k] = fx.keys[cm.Members[i].NodeID].Sign(msg)
					idx[k] = uint16(i)
				}
				agg, err := bls.Aggregate(sigs)
				if err != nil {
					errs <- err
					return
				}
				bm, err := bls.SignersToBitmap(len(cm.Members), idx)
				if err != nil {
					errs <- err
					return
				}
				if _, err := c.CertifyBlob(ctx, r.Blob.ObjectID, chainlink.Certificate{Signature: agg, Signers: bm, Message: msg}); err != nil {
					errs <- fmt.Errorf("writer %d certify %d: %w", w, j, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var first []chainlink.Event
	for i := range subscribers + 1 {
		r := <-results
		if r.err != nil {
			t.Fatalf("subscriber: %v after %d events", r.err, len(r.evs))
		}
		CheckContiguous(t, base, r.evs)
		if i == 0 {
			first = r.evs
			continue
		}
		for k := range r.evs {
			if !eventsEqual(r.evs[k], first[k]) {
				t.Fatalf("subscribers disagree at cursor %d: %+v vs %+v", r.evs[k].Cursor, r.evs[k], first[k])
			}
		}
	}
	// Every blob was registered before it was certified, exactly once each.
	state := map[codec.BlobID]int{}
	for _, e := range first {
		switch e.Type {
		case chainlink.EventBlobRegistered:
			if state[e.BlobID] != 0 {
				t.Fatalf("blob %s registered twice", e.BlobID)
			}
			state[e.BlobID] = 1
		case chainlink.EventBlobCertified:
			if state[e.BlobID] != 1 {
				t.Fatalf("blob %s certified before registration or twice", e.BlobID)
			}
			state[e.BlobID] = 2
		}
	}
	if len(state) != writers*blobsEach {
		t.Fatalf("%d blobs in the log, want %d", len(state), writers*blobsEach)
	}
}
