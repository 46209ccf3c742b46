package chaintest

import (
	"maps"
	"strings"
	"testing"
	"time"

	"floe/chainlink"
)

// testBlobAttributes checks the optional chainlink.BlobAttributes (F9.1):
// owner-only changes, all-or-none updates, events, limits, persistence
// across a restart, and that a deleted object's attributes go with it. A
// chain that does not implement the interface skips it.
func testBlobAttributes(t *testing.T, f Factory) {
	fx := NewFixture(t, f, stakes4...)
	attrsOf := func() chainlink.BlobAttributes {
		ba, ok := fx.C().(chainlink.BlobAttributes)
		if !ok {
			t.Skip("the chain does not implement chainlink.BlobAttributes")
		}
		return ba
	}
	ba := attrsOf()
	owner, other := Account(40), Account(41)
	b := fx.Register(owner, 40, true, 3).Blob
	ctx := fx.Ctx

	got, err := ba.BlobAttributes(ctx, b.ObjectID)
	if err != nil || len(got) != 0 {
		t.Fatalf("a new blob's attributes: %v, %v", got, err)
	}
	_, err = ba.BlobAttributes(ctx, chainlink.ID{7})
	wantErr(t, "attributes of a missing object", err, chainlink.ErrNotFound)

	after := lastCursorOf(t, fx)
	set := map[string]string{"content-type": "text/html; charset=utf-8", chainlink.AttrBlobType: chainlink.AttrBlobTypeQuilt}
	got, err = ba.SetBlobAttributes(ctx, owner, b.ObjectID, set)
	if err != nil || !maps.Equal(got, set) {
		t.Fatalf("set: %v, %v", got, err)
	}
	// Insert-or-update: one changes, one is added, the others stay.
	got, err = ba.SetBlobAttributes(ctx, owner, b.ObjectID, map[string]string{"content-type": "image/png", "link": "<https://example.com>"})
	want := map[string]string{"content-type": "image/png", "link": "<https://example.com>", chainlink.AttrBlobType: chainlink.AttrBlobTypeQuilt}
	if err != nil || !maps.Equal(got, want) {
		t.Fatalf("update: %v, %v", got, err)
	}

	// Refusals change nothing.
	_, err = ba.SetBlobAttributes(ctx, other, b.ObjectID, map[string]string{"x": "y"})
	wantErr(t, "set by another account", err, chainlink.ErrNotOwner)
	_, err = ba.RemoveBlobAttributes(ctx, other, b.ObjectID, nil)
	wantErr(t, "remove by another account", err, chainlink.ErrNotOwner)
	_, err = ba.SetBlobAttributes(ctx, owner, b.ObjectID, map[string]string{"": "v"})
	wantErr(t, "empty key", err, chainlink.ErrBadRequest)
	_, err = ba.SetBlobAttributes(ctx, owner, b.ObjectID, map[string]string{"k": "\xff"})
	wantErr(t, "non-UTF-8 value", err, chainlink.ErrBadRequest)
	_, err = ba.SetBlobAttributes(ctx, owner, b.ObjectID, nil)
	wantErr(t, "nothing to set", err, chainlink.ErrBadRequest)
	_, err = ba.SetBlobAttributes(ctx, owner, b.ObjectID, map[string]string{"big": strings.Repeat("v", chainlink.MaxBlobAttributesSize)})
	wantErr(t, "over the size limit", err, chainlink.ErrBadRequest)
	_, err = ba.SetBlobAttributes(ctx, owner, chainlink.ID{7}, map[string]string{"x": "y"})
	wantErr(t, "set on a missing object", err, chainlink.ErrNotFound)
	_, err = ba.RemoveBlobAttributes(ctx, owner, b.ObjectID, []string{"link", "absent"})
	wantErr(t, "remove of an absent key", err, chainlink.ErrNotFound)
	if got, err := ba.BlobAttributes(ctx, b.ObjectID); err != nil || !maps.Equal(got, want) {
		t.Fatalf("after refused changes: %v, %v", got, err)
	}

	got, err = ba.RemoveBlobAttributes(ctx, owner, b.ObjectID, []string{"link"})
	delete(want, "link")
	if err != nil || !maps.Equal(got, want) {
		t.Fatalf("remove link: %v, %v", got, err)
	}
	evs := DrainEvents(t, ctx, fx.C(), after, 300*time.Millisecond)
	CheckContiguous(t, after, evs)
	wantTypes := []chainlink.EventType{chainlink.EventBlobAttributesSet, chainlink.EventBlobAttributesSet, chainlink.EventBlobAttributesRemoved}
	if len(evs) != len(wantTypes) {
		t.Fatalf("events %v, want %v", types(evs), wantTypes)
	}
	for i, e := range evs {
		if e.Type != wantTypes[i] || e.ObjectID != b.ObjectID || e.BlobID != b.BlobID || e.Epoch != fx.Epoch().Epoch {
			t.Fatalf("event %d: %+v", i, e)
		}
	}

	// The attributes survive a restart, and Blob carries them.
	fx.Env.Restart(t)
	ba = attrsOf()
	if got, err := ba.BlobAttributes(ctx, b.ObjectID); err != nil || !maps.Equal(got, want) {
		t.Fatalf("after restart: %v, %v", got, err)
	}
	if bb, err := fx.C().Blob(ctx, b.ObjectID); err != nil || (bb.Attributes != nil && !maps.Equal(bb.Attributes, want)) {
		t.Fatalf("blob object after restart: %+v, %v", bb, err)
	}

	// Removing all, then a deleted object has none to read.
	got, err = ba.RemoveBlobAttributes(ctx, owner, b.ObjectID, nil)
	if err != nil || len(got) != 0 {
		t.Fatalf("remove all: %v, %v", got, err)
	}
	if _, err := ba.SetBlobAttributes(ctx, owner, b.ObjectID, map[string]string{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	if _, err := fx.C().DeleteBlob(ctx, owner, b.ObjectID); err != nil {
		t.Fatal(err)
	}
	_, err = ba.BlobAttributes(ctx, b.ObjectID)
	wantErr(t, "attributes of a deleted object", err, chainlink.ErrNotFound)
}

// lastCursorOf returns the cursor of the latest event.
func lastCursorOf(t *testing.T, fx *Fixture) uint64 {
	t.Helper()
	evs := DrainEvents(t, fx.Ctx, fx.C(), 0, 300*time.Millisecond)
	if len(evs) == 0 {
		return 0
	}
	return evs[len(evs)-1].Cursor
}
