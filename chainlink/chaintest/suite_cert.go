package chaintest

import (
	"errors"
	"reflect"
	"slices"
	"testing"

	"floe/chainlink"
	"floe/chainlink/bls"
	"floe/codec"
)

// sameClass reports whether two certificate verdicts agree: both nil, or
// both the same certificate sentinel.
func sameClass(a, b error) bool {
	for _, s := range []error{bls.ErrQuorum, bls.ErrInvalidSignature, bls.ErrBadBitmap} {
		if errors.Is(a, s) || errors.Is(b, s) {
			return errors.Is(a, s) && errors.Is(b, s)
		}
	}
	return a == nil && b == nil
}

func testCertify(t *testing.T, f Factory) {
	fx := NewFixture(t, f, stakes4...)
	ctx, c := fx.Ctx, fx.C()
	owner := Account(3)
	cm := fx.Committee()
	v, err := cm.Verifier()
	if err != nil {
		t.Fatal(err)
	}
	reach, short := Subsets(cm, bls.Quorum)
	if Weight(cm, reach) != 7 || Weight(cm, short) != 6 {
		t.Fatalf("quorum sets of weight %d and %d, want 7 and 6", Weight(cm, reach), Weight(cm, short))
	}
	all := []int{0, 1, 2, 3}
	blob := fx.Register(owner, 1, false, 2).Blob
	other := fx.Register(owner, 2, false, 2).Blob
	del := fx.Register(owner, 3, true, 2).Blob
	epoch := cm.Epoch
	msg := codec.StorageConfirmationMessage(epoch, blob.BlobID, blob.Persistence())
	otherMsg := codec.StorageConfirmationMessage(epoch, other.BlobID, other.Persistence())
	outsider := NodeKey(99)

	// forged: the signature of one claimed signer replaced by an outsider's.
	forged := func() chainlink.Certificate {
		sigs := fx.Sign(cm, msg, reach[1:]...)
		sigs = append(sigs, outsider.Sign(msg))
		agg, _ := bls.Aggregate(sigs)
		return chainlink.Certificate{Signature: agg, Signers: fx.Bitmap(cm, reach...), Message: msg}
	}
	// doubled: one claimed signer's signature counted twice, another's
	// missing (a duplicated signer in the aggregate).
	doubled := func() chainlink.Certificate {
		sigs := fx.Sign(cm, msg, reach...)
		sigs[len(sigs)-1] = sigs[0]
		agg, _ := bls.Aggregate(sigs)
		return chainlink.Certificate{Signature: agg, Signers: fx.Bitmap(cm, reach...), Message: msg}
	}
	// extra: everyone signed, but the bitmap claims only a quorum.
	extra := func() chainlink.Certificate {
		cert := fx.Cert(cm, msg, all...)
		cert.Signers = fx.Bitmap(cm, reach...)
		return cert
	}
	stray := func(bitmap []byte) chainlink.Certificate {
		cert := fx.Cert(cm, msg, reach...)
		cert.Signers = bitmap
		return cert
	}
	swapped := func() chainlink.Certificate {
		cert := fx.Cert(cm, otherMsg, reach...)
		cert.Message = msg
		return cert
	}
	strayBits := fx.Bitmap(cm, reach...)
	strayBits[0] |= 1 << 4 // member 4 of a 4-member committee
	longBitmap := append(fx.Bitmap(cm, reach...), 0)
	highBit := fx.Bitmap(cm, reach...)
	highBit[0] |= 0x80
	deletableMsg := codec.StorageConfirmationMessage(epoch, blob.BlobID, codec.BlobPersistence{Deletable: true, ObjectID: blob.ObjectID.ObjectID()})
	wrongObject := codec.StorageConfirmationMessage(epoch, del.BlobID, codec.BlobPersistence{Deletable: true, ObjectID: blob.ObjectID.ObjectID()})

	cases := []struct {
		name string
		obj  chainlink.ID
		cert chainlink.Certificate
		want error
		// nodeSide: the node's verifier (package bls) sees the same
		// signature-level verdict.
		nodeSide bool
	}{
		{"one shard short of quorum", blob.ObjectID, fx.Cert(cm, msg, short...), chainlink.ErrQuorum, true},
		{"single signer", blob.ObjectID, fx.Cert(cm, msg, reach[0]), chainlink.ErrQuorum, true},
		{"empty bitmap", blob.ObjectID, stray(nil), chainlink.ErrQuorum, true},
		{"next epoch", blob.ObjectID, fx.Cert(cm, codec.StorageConfirmationMessage(epoch+1, blob.BlobID, blob.Persistence()), all...), chainlink.ErrWrongEpoch, false},
		{"previous epoch", blob.ObjectID, fx.Cert(cm, codec.StorageConfirmationMessage(epoch-1, blob.BlobID, blob.Persistence()), all...), chainlink.ErrWrongEpoch, false},
		{"forged signer", blob.ObjectID, forged(), chainlink.ErrInvalidSignature, true},
		{"duplicated signer in the aggregate", blob.ObjectID, doubled(), chainlink.ErrInvalidSignature, true},
		{"unclaimed signer in the aggregate", blob.ObjectID, extra(), chainlink.ErrInvalidSignature, true},
		{"stray bit past the members", blob.ObjectID, stray(strayBits), chainlink.ErrBadBitmap, true},
		{"top bit past the members", blob.ObjectID, stray(highBit), chainlink.ErrBadBitmap, true},
		{"bitmap one byte too long", blob.ObjectID, stray(longBitmap), chainlink.ErrBadBitmap, true},
		{"signature over a different message", blob.ObjectID, swapped(), chainlink.ErrInvalidSignature, true},
		{"certificate of another blob", blob.ObjectID, fx.Cert(cm, otherMsg, reach...), chainlink.ErrMessageMismatch, false},
		{"deletable message for a permanent blob", blob.ObjectID, fx.Cert(cm, deletableMsg, reach...), chainlink.ErrMessageMismatch, false},
		{"permanent message for a deletable blob", del.ObjectID, fx.Cert(cm, codec.StorageConfirmationMessage(epoch, del.BlobID, codec.BlobPersistence{}), reach...), chainlink.ErrMessageMismatch, false},
		{"deletable message naming another object", del.ObjectID, fx.Cert(cm, wrongObject, reach...), chainlink.ErrMessageMismatch, false},
		{"invalid-blob-ID message", blob.ObjectID, fx.Cert(cm, codec.InvalidBlobIDMessage(epoch, blob.BlobID), reach...), chainlink.ErrBadMessage, false},
		{"truncated message", blob.ObjectID, fx.Cert(cm, msg[:len(msg)-1], reach...), chainlink.ErrBadMessage, false},
		{"unknown blob object", Account(42), fx.Cert(cm, msg, reach...), chainlink.ErrNotFound, false},
	}
	for _, tc := range cases {
		_, err := c.CertifyBlob(ctx, tc.obj, tc.cert)
		wantErr(t, tc.name, err, tc.want)
		if tc.nodeSide {
			_, nerr := v.Verify(bls.Quorum, tc.cert.Message, tc.cert.Signature, tc.cert.Signers)
			if !sameClass(err, nerr) {
				t.Fatalf("%s: chain says %v, node-side verifier says %v", tc.name, err, nerr)
			}
		}
	}
	// A duplicated index in a signer list never reaches a bitmap.
	if _, err := bls.SignersToBitmap(len(cm.Members), []uint16{uint16(reach[0]), uint16(reach[0])}); !errors.Is(err, bls.ErrDuplicateSigner) {
		t.Fatalf("duplicate signer list: %v", err)
	}
	for _, b := range []chainlink.Blob{blob, del} {
		got, err := c.Blob(ctx, b.ObjectID)
		if err != nil || got.CertifiedEpoch != nil {
			t.Fatalf("rejected certificates changed the blob: %+v %v", got, err)
		}
	}

	// The valid certificate: the node-side verifier and the chain agree.
	good := fx.Cert(cm, msg, reach...)
	if w, err := v.Verify(bls.Quorum, good.Message, good.Signature, good.Signers); err != nil || w != 7 {
		t.Fatalf("node-side verifier rejects a valid certificate: %d %v", w, err)
	}
	got, err := c.CertifyBlob(ctx, blob.ObjectID, good)
	if err != nil {
		t.Fatal(err)
	}
	if got.CertifiedEpoch == nil || *got.CertifiedEpoch != epoch {
		t.Fatalf("certified epoch %v", got.CertifiedEpoch)
	}
	_, err = c.CertifyBlob(ctx, blob.ObjectID, fx.Cert(cm, msg, all...))
	wantErr(t, "certify twice", err, chainlink.ErrAlreadyCertified)
	// All members signing also certifies, and a deletable blob certifies
	// with its object ID in the message.
	if _, err := c.CertifyBlob(ctx, other.ObjectID, fx.Cert(cm, otherMsg, all...)); err != nil {
		t.Fatal(err)
	}
	delMsg := codec.StorageConfirmationMessage(epoch, del.BlobID, del.Persistence())
	if _, err := c.CertifyBlob(ctx, del.ObjectID, fx.Cert(cm, delMsg, reach...)); err != nil {
		t.Fatal(err)
	}

	st, err := c.BlobStatus(ctx, blob.BlobID)
	if err != nil || !st.Certified() || !st.PermanentCertified || st.CertifiedEndEpoch != blob.Storage.EndEpoch ||
		st.InitialCertifiedEpoch == nil || *st.InitialCertifiedEpoch != epoch {
		t.Fatalf("status %+v %v", st, err)
	}
	st, err = c.BlobStatus(ctx, del.BlobID)
	if err != nil || st.DeletableRegistered != 1 || st.DeletableCertified != 1 {
		t.Fatalf("deletable status %+v %v", st, err)
	}
	evs := findEvents(DrainEvents(t, ctx, c, 0, 200e6), chainlink.EventBlobCertified)
	if len(evs) != 3 {
		t.Fatalf("%d BlobCertified events", len(evs))
	}
	e := evs[0]
	if e.Epoch != epoch || e.BlobID != blob.BlobID || e.EndEpoch != blob.Storage.EndEpoch || e.Deletable ||
		e.ObjectID != blob.ObjectID || e.IsExtension {
		t.Fatalf("BlobCertified %+v (F9.5)", e)
	}
	if !evs[2].Deletable || evs[2].ObjectID != del.ObjectID {
		t.Fatalf("deletable BlobCertified %+v", evs[2])
	}
}

func testCertifyExpired(t *testing.T, f Factory) {
	fx := NewFixture(t, f, stakes4...)
	ctx, c := fx.Ctx, fx.C()
	owner := Account(3)
	b := fx.Register(owner, 1, true, 1).Blob
	es := fx.Advance()
	if es.Epoch != b.Storage.EndEpoch {
		t.Fatalf("epoch %d, storage ends %d", es.Epoch, b.Storage.EndEpoch)
	}
	cm := fx.Committee()
	reach, _ := Subsets(cm, bls.Quorum)
	msg := codec.StorageConfirmationMessage(es.Epoch, b.BlobID, b.Persistence())
	_, err := c.CertifyBlob(ctx, b.ObjectID, fx.Cert(cm, msg, reach...))
	wantErr(t, "certify after the storage ended", err, chainlink.ErrExpired)
	_, err = c.DeleteBlob(ctx, owner, b.ObjectID)
	wantErr(t, "delete after expiry", err, chainlink.ErrExpired)
	_, _, err = c.ExtendBlob(ctx, owner, b.ObjectID, 1)
	wantErr(t, "extend after expiry", err, chainlink.ErrExpired)
	if st, err := c.BlobStatus(ctx, b.BlobID); err != nil || st.Exists {
		t.Fatalf("expired blob status %+v %v", st, err)
	}
}

func testInvalidate(t *testing.T, f Factory) {
	fx := NewFixture(t, f, stakes4...)
	ctx, c := fx.Ctx, fx.C()
	cm := fx.Committee()
	v, err := cm.Verifier()
	if err != nil {
		t.Fatal(err)
	}
	b := fx.Register(Account(3), 1, false, 2).Blob
	reach, short := Subsets(cm, bls.OneCorrect)
	if Weight(cm, reach) != 4 || Weight(cm, short) != 3 {
		t.Fatalf("one-correct sets of weight %d and %d, want 4 and 3", Weight(cm, reach), Weight(cm, short))
	}
	msg := codec.InvalidBlobIDMessage(cm.Epoch, b.BlobID)
	shortCert := fx.Cert(cm, msg, short...)
	_, err = c.InvalidateBlobID(ctx, shortCert)
	wantErr(t, "one shard short of f+1", err, chainlink.ErrQuorum)
	_, nerr := v.Verify(bls.OneCorrect, shortCert.Message, shortCert.Signature, shortCert.Signers)
	if !sameClass(err, nerr) {
		t.Fatalf("chain %v, node-side %v", err, nerr)
	}
	_, err = c.InvalidateBlobID(ctx, fx.Cert(cm, codec.InvalidBlobIDMessage(cm.Epoch+1, b.BlobID), reach...))
	wantErr(t, "wrong epoch", err, chainlink.ErrWrongEpoch)
	_, err = c.InvalidateBlobID(ctx, fx.Cert(cm, codec.StorageConfirmationMessage(cm.Epoch, b.BlobID, codec.BlobPersistence{}), 0, 1, 2, 3))
	wantErr(t, "storage confirmation as invalidation", err, chainlink.ErrBadMessage)
	if st, _ := c.BlobStatus(ctx, b.BlobID); st.Invalid {
		t.Fatal("rejected invalidation marked the blob invalid")
	}
	id, err := c.InvalidateBlobID(ctx, fx.Cert(cm, msg, reach...))
	if err != nil || id != b.BlobID {
		t.Fatalf("invalidate: %s %v", id, err)
	}
	st, err := c.BlobStatus(ctx, b.BlobID)
	if err != nil || !st.Invalid {
		t.Fatalf("status after invalidation %+v %v", st, err)
	}
	inv := findEvents(DrainEvents(t, ctx, c, 0, 200e6), chainlink.EventInvalidBlobID)
	if len(inv) != 1 || inv[0].BlobID != b.BlobID || inv[0].Epoch != cm.Epoch {
		t.Fatalf("InvalidBlobID events %+v", inv)
	}
}

func testDeleteAndExtend(t *testing.T, f Factory) {
	fx := NewFixture(t, f, stakes4...)
	ctx, c := fx.Ctx, fx.C()
	owner, stranger := Account(3), Account(4)
	perm := fx.Certify(fx.Register(owner, 1, false, 2).Blob)
	del := fx.Certify(fx.Register(owner, 2, true, 2).Blob)
	fresh := fx.Register(owner, 3, true, 2).Blob

	_, err := c.DeleteBlob(ctx, owner, perm.ObjectID)
	wantErr(t, "delete a permanent blob", err, chainlink.ErrNotDeletable)
	_, err = c.DeleteBlob(ctx, stranger, del.ObjectID)
	wantErr(t, "delete someone else's blob", err, chainlink.ErrNotOwner)
	_, err = c.DeleteBlob(ctx, owner, Account(50))
	wantErr(t, "delete an unknown blob", err, chainlink.ErrNotFound)

	st, err := c.DeleteBlob(ctx, owner, del.ObjectID)
	if err != nil {
		t.Fatal(err)
	}
	if st.EndEpoch != del.Storage.EndEpoch || st.Size != del.Storage.Size || st.Owner != owner {
		t.Fatalf("returned storage %+v for %+v", st, del.Storage)
	}
	_, err = c.Blob(ctx, del.ObjectID)
	wantErr(t, "deleted blob", err, chainlink.ErrNotFound)
	if s, _ := c.BlobStatus(ctx, del.BlobID); s.Exists {
		t.Fatalf("deleted blob still exists: %+v", s)
	}
	if _, err := c.DeleteBlob(ctx, owner, fresh.ObjectID); err != nil {
		t.Fatal(err)
	}
	dels := findEvents(DrainEvents(t, ctx, c, 0, 200e6), chainlink.EventBlobDeleted)
	if len(dels) != 2 || dels[0].BlobID != del.BlobID || dels[0].ObjectID != del.ObjectID ||
		dels[0].EndEpoch != del.Storage.EndEpoch || !dels[0].WasCertified || dels[1].WasCertified {
		t.Fatalf("BlobDeleted events %+v (F9.5)", dels)
	}
	// The returned storage registers another blob.
	id, root, size := TestBlob(4, 500)
	if _, err := c.RegisterBlob(ctx, chainlink.RegisterBlobRequest{Owner: owner, BlobID: id, RootHash: root, Size: size,
		EncodingType: codec.EncodingTypeRS2, StorageID: st.ID}); err != nil {
		t.Fatalf("reuse returned storage: %v", err)
	}

	// Extension: certified only, paid per epoch, bounded by max epochs ahead.
	unc := fx.Register(owner, 5, false, 2).Blob
	_, _, err = c.ExtendBlob(ctx, owner, unc.ObjectID, 1)
	wantErr(t, "extend an uncertified blob", err, chainlink.ErrNotCertified)
	cur := fx.Epoch().Epoch
	_, _, err = c.ExtendBlob(ctx, owner, perm.ObjectID, suiteMaxAhead-(perm.Storage.EndEpoch-cur)+1)
	wantErr(t, "extend past max epochs ahead", err, chainlink.ErrTooFarAhead)
	payer := stranger
	if fx.Quirks().OwnerOnlyExtend {
		_, _, err = c.ExtendBlob(ctx, stranger, perm.ObjectID, 1)
		wantErr(t, "extend someone else's blob", err, chainlink.ErrNotOwner)
		payer = owner
	} else {
		_, _, err = c.ExtendBlob(ctx, Account(51), perm.ObjectID, 1)
		wantErr(t, "extend without funds", err, chainlink.ErrInsufficientFunds)
	}
	before := fx.Balance(payer)
	fx.Fund(payer, 1_000_000)
	before += 1_000_000
	got, cost, err := c.ExtendBlob(ctx, payer, perm.ObjectID, 2)
	if err != nil {
		t.Fatal(err)
	}
	units := (perm.Storage.Size + chainlink.BytesPerUnit - 1) / chainlink.BytesPerUnit
	if got.Storage.EndEpoch != perm.Storage.EndEpoch+2 || cost != units*suiteStoragePrice*2 || fx.Balance(payer) != before-cost {
		t.Fatalf("extend: end %d cost %d balance %d", got.Storage.EndEpoch, cost, fx.Balance(payer))
	}
	ext := findEvents(DrainEvents(t, ctx, c, 0, 200e6), chainlink.EventBlobCertified)
	last := ext[len(ext)-1]
	if !last.IsExtension || last.EndEpoch != got.Storage.EndEpoch || last.ObjectID != perm.ObjectID {
		t.Fatalf("extension event %+v", last)
	}
	s, err := c.BlobStatus(ctx, perm.BlobID)
	if err != nil || s.CertifiedEndEpoch != got.Storage.EndEpoch {
		t.Fatalf("status after extension %+v %v", s, err)
	}
}

func testPayout(t *testing.T, f Factory) {
	fx := NewFixture(t, f, stakes4...)
	ctx, c := fx.Ctx, fx.C()
	// A delegator stakes with node 0; it counts from the next committee.
	delegator := Account(8)
	fx.Fund(delegator, 100_000)
	if _, err := c.Stake(ctx, delegator, fx.Nodes[0].Node.ID, 100_000); err != nil {
		t.Fatal(err)
	}
	fx.Advance() // epoch 2, committee with the delegation; epoch 1 had no fees.
	epoch := fx.Epoch().Epoch
	r := fx.Register(Account(3), 1, false, 2)
	// Fees of this epoch: the write price and one epoch of storage.
	fees := r.WriteCost + r.StorageCost/2

	stakers := map[chainlink.ID]uint64{delegator: 100_000}
	for i, n := range fx.Nodes {
		stakers[n.Owner] = stakes4[i]
	}
	var total uint64
	before := map[chainlink.ID]uint64{}
	for a, s := range stakers {
		total += s
		before[a] = fx.Balance(a)
	}
	fx.Advance()
	var paid uint64
	for a, s := range stakers {
		got := fx.Balance(a) - before[a]
		want := fees * s / total
		if got != want {
			t.Fatalf("epoch %d: staker with %d of %d got %d of %d fees, want %d", epoch, s, total, got, fees, want)
		}
		paid += got
	}
	if paid > fees || fees-paid >= uint64(len(stakers)) {
		t.Fatalf("paid %d of %d fees", paid, fees)
	}
	acct, err := c.Account(ctx, delegator)
	if err != nil || !fx.Quirks().NoAccountRewards && acct.Rewards != fees*100_000/total {
		t.Fatalf("delegator rewards %+v %v", acct, err)
	}
}

func testEventsLive(t *testing.T, f Factory) {
	fx := NewFixture(t, f, stakes4...)
	ctx, c := fx.Ctx, fx.C()
	known := DrainEvents(t, ctx, c, 0, 200e6)
	last := known[len(known)-1].Cursor
	s, err := c.Events(ctx, last)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got := make(chan chainlink.Event, 1)
	errc := make(chan error, 1)
	go func() {
		e, err := s.Next(ctx)
		if err != nil {
			errc <- err
			return
		}
		got <- e
	}()
	r := fx.Register(Account(3), 1, false, 1)
	select {
	case e := <-got:
		if e.Cursor != last+1 || e.Type != chainlink.EventBlobRegistered || e.ObjectID != r.Blob.ObjectID {
			t.Fatalf("woke with %+v", e)
		}
	case err := <-errc:
		t.Fatal(err)
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
	// Close unblocks a waiting Next.
	done := make(chan error, 1)
	go func() { _, err := s.Next(ctx); done <- err }()
	s.Close()
	if err := <-done; !errors.Is(err, chainlink.ErrClosed) {
		t.Fatalf("Next after Close: %v", err)
	}
}

// testEventsResume: a subscriber reads part of the log, disconnects, the
// chain restarts with events before and after the restart, and the
// subscriber resumes from its cursor: it sees every event exactly once, in
// order, and the same events a fresh subscriber from 0 sees.
func testEventsResume(t *testing.T, f Factory) {
	fx := NewFixture(t, f, stakes4...)
	ctx := fx.Ctx
	owner := Account(3)
	a := fx.Register(owner, 1, false, 3).Blob
	fx.Certify(a)

	first := ReadEvents(t, ctx, fx.C(), 0, 3)
	CheckContiguous(t, 0, first)
	cursor := first[len(first)-1].Cursor

	b := fx.Register(owner, 2, true, 3).Blob
	fx.Env.Restart(t)
	if _, err := fx.C().DeleteBlob(ctx, owner, b.ObjectID); err != nil {
		t.Fatal(err)
	}
	fx.Advance()
	fx.Register(owner, 3, false, 1)
	fx.Env.Restart(t)

	rest := DrainEvents(t, ctx, fx.C(), cursor, 300e6)
	CheckContiguous(t, cursor, rest)
	full := DrainEvents(t, ctx, fx.C(), 0, 300e6)
	CheckContiguous(t, 0, full)
	if len(full) != len(first)+len(rest) {
		t.Fatalf("resumed %d + %d events, the log has %d", len(first), len(rest), len(full))
	}
	for i, e := range append(first, rest...) {
		if !eventsEqual(e, full[i]) {
			t.Fatalf("event %d: resumed %+v, log %+v", i, e, full[i])
		}
	}
	// What happened after the cursor is all there, in order.
	var want []chainlink.EventType
	for _, e := range full[cursor:] {
		want = append(want, e.Type)
	}
	seen := map[chainlink.EventType]int{}
	for _, e := range rest {
		seen[e.Type]++
	}
	if seen[chainlink.EventBlobDeleted] != 1 || seen[chainlink.EventEpochChangeStart] != 2 || seen[chainlink.EventBlobRegistered] < 2 {
		t.Fatalf("events after the cursor: %v", want)
	}
	// Resuming at the end waits for the next event and nothing else.
	tail := full[len(full)-1].Cursor
	if evs := DrainEvents(t, ctx, fx.C(), tail, 200e6); len(evs) != 0 {
		t.Fatalf("%d events after the last cursor", len(evs))
	}
	fx.Register(owner, 4, false, 1)
	if evs := ReadEvents(t, ctx, fx.C(), tail, 1); evs[0].Cursor != tail+1 {
		t.Fatalf("next event after restart has cursor %d, want %d", evs[0].Cursor, tail+1)
	}
}

func eventsEqual(a, b chainlink.Event) bool {
	if len(a.Shards) == 0 && len(b.Shards) == 0 {
		a.Shards, b.Shards = nil, nil
	}
	return reflect.DeepEqual(a, b)
}

// testOwnedBlobs: OwnedBlobs lists an owner's objects that were not
// deleted (expired ones included) in object-ID order, nobody else's; and
// BlobStatus tells an expired blob from one that never existed.
func testOwnedBlobs(t *testing.T, f Factory) {
	fx := NewFixture(t, f, stakes4...)
	ctx, c := fx.Ctx, fx.C()
	owner, other := Account(3), Account(4)
	if bs, err := c.OwnedBlobs(ctx, owner); err != nil || len(bs) != 0 {
		t.Fatalf("blobs of an account without any: %v %v", bs, err)
	}
	short := fx.Certify(fx.Register(owner, 1, false, 1).Blob)
	long := fx.Register(owner, 2, false, 3).Blob
	del := fx.Register(owner, 3, true, 3).Blob
	theirs := fx.Register(other, 4, false, 3).Blob
	if _, err := c.DeleteBlob(ctx, owner, del.ObjectID); err != nil {
		t.Fatal(err)
	}
	want := []chainlink.ID{short.ObjectID, long.ObjectID}
	slices.SortFunc(want, chainlink.ID.Compare)
	check := func(when string) []chainlink.Blob {
		t.Helper()
		bs, err := c.OwnedBlobs(ctx, owner)
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		var got []chainlink.ID
		for _, b := range bs {
			if b.Owner != owner {
				t.Fatalf("%s: blob %s of %s listed for %s", when, b.ObjectID, b.Owner, owner)
			}
			got = append(got, b.ObjectID)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%s: owned blobs %v, want %v", when, got, want)
		}
		return bs
	}
	bs := check("before expiry")
	for _, b := range bs {
		if b.ObjectID == short.ObjectID && (b.CertifiedEpoch == nil || b.Storage.EndEpoch != short.Storage.EndEpoch) {
			t.Fatalf("listed object %+v differs from %+v", b, short)
		}
	}
	if bs, err := c.OwnedBlobs(ctx, other); err != nil || len(bs) != 1 || bs[0].ObjectID != theirs.ObjectID {
		t.Fatalf("blobs of the other account: %+v %v", bs, err)
	}
	if st, err := c.BlobStatus(ctx, short.BlobID); err != nil || !st.Exists || st.ExpiredEndEpoch != 0 {
		t.Fatalf("live blob status %+v %v", st, err)
	}

	fx.Advance() // short's storage ends
	check("after expiry")
	st, err := c.BlobStatus(ctx, short.BlobID)
	if err != nil || st.Exists || st.Certified() || len(st.Objects) != 0 || st.ExpiredEndEpoch != short.Storage.EndEpoch {
		t.Fatalf("expired blob status %+v %v (want expired at %d)", st, err, short.Storage.EndEpoch)
	}
	if b, err := c.Blob(ctx, short.ObjectID); err != nil || b.Storage.EndEpoch > fx.Epoch().Epoch {
		t.Fatalf("expired object: %+v %v", b, err)
	}
	never, _, _ := TestBlob(99, 1099)
	for what, id := range map[string]codec.BlobID{"never registered": never, "deleted": del.BlobID} {
		if st, err := c.BlobStatus(ctx, id); err != nil || st.Exists || st.ExpiredEndEpoch != 0 {
			t.Fatalf("%s blob status %+v %v", what, st, err)
		}
	}
	if st, err := c.BlobStatus(ctx, long.BlobID); err != nil || !st.Exists || st.ExpiredEndEpoch != 0 {
		t.Fatalf("blob with time left: %+v %v", st, err)
	}
}
