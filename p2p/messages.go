package p2p

import (
	"encoding/binary"
	"fmt"

	"floe/codec"
)

// Limits are the largest sizes and counts the stream protocols accept. They
// are derived from the encoding parameters (LimitsFor) so that every length a
// peer declares is checked before anything is allocated for it.
type Limits struct {
	// Params are the parameters the limits were derived from.
	Params codec.Params
	// MaxMetadata bounds BCS metadata with its blob ID: 32-byte ID, encoding
	// type, u64 length, a ULEB128 count and n pairs of two 33-byte hashes.
	MaxMetadata int
	// MaxSliver bounds a BCS sliver of each type: the largest symbols times
	// the symbol count plus the vector header, symbol size and index.
	MaxSliver [2]int
	// MaxRecoverySymbol bounds a BCS recovery symbol: a symbol, a Merkle proof
	// of up to 17 levels of 33 bytes, and headers.
	MaxRecoverySymbol int
	// MaxItems bounds the items of one get/put-slivers or recovery request:
	// every sliver of a blob (2n).
	MaxItems int
	// MaxBatchSymbols bounds the symbols of one recovery-batch answer
	// (sources × targets).
	MaxBatchSymbols int
	// MaxSyncItems bounds the slivers of one sync-shard answer.
	MaxSyncItems int
	// MaxSyncBytes bounds the sliver bytes of one sync-shard answer; a server
	// stops a batch early rather than exceed it.
	MaxSyncBytes int
	// MaxConfirmation bounds a BCS signed storage confirmation.
	MaxConfirmation int
	// MaxBlobStatus bounds an opaque blob-status answer.
	MaxBlobStatus int
	// MaxNodeStatus bounds an opaque node-status answer.
	MaxNodeStatus int
}

// Fixed sizes that do not depend on the parameters.
const (
	// maxStatusMessage bounds the text that follows a non-OK status. Longer
	// handler messages are truncated.
	maxStatusMessage = 256
	// maxItemMessage bounds the text after a non-OK per-item status.
	maxItemMessage = 128
	// maxSignedMessage bounds the signed message inside a confirmation: the
	// 7-byte header, a blob ID and a persistence of up to 33 bytes, with room.
	maxSignedMessage = 128
	// defaultSyncItems is the sync-shard batch size a client asks for when it
	// does not say.
	defaultSyncItems = 64
	// defaultSyncBytes bounds one sync batch: 64 MiB, so a batch fits the
	// per-protocol memory limit with room for a few concurrent ones.
	defaultSyncBytes = 64 << 20
	// maxBatchSymbols bounds the symbols of one recovery-batch answer.
	maxBatchSymbols = 1 << 16
)

// MaxRecoveryBatchBytes bounds the symbol and proof bytes of one
// recovery-batch answer: a requester sizes its batches to fit, and a
// holder refuses a request whose answer would not.
const MaxRecoveryBatchBytes = 32 << 20

// LimitsFor derives the protocol limits of a committee of p.NShards shards.
func LimitsFor(p codec.Params) Limits {
	n := p.NShards
	l := Limits{
		Params:            p,
		MaxMetadata:       32 + 1 + 8 + 5 + 66*n,
		MaxRecoverySymbol: codec.MaxSymbolSize + 17*33 + 16,
		MaxItems:          2 * n,
		MaxBatchSymbols:   maxBatchSymbols,
		MaxSyncItems:      1024,
		MaxSyncBytes:      defaultSyncBytes,
		MaxConfirmation:   maxSignedMessage + 4 + codec.BLSSignatureSize,
		MaxBlobStatus:     1024,
		MaxNodeStatus:     256 << 10,
	}
	for _, t := range []codec.SliverType{codec.Primary, codec.Secondary} {
		l.MaxSliver[t] = p.MaxSliverSize(t) + 16
	}
	if m := max(l.MaxSliver[0], l.MaxSliver[1]) + 32; m > l.MaxSyncBytes {
		// A batch must hold at least one sliver.
		l.MaxSyncBytes = m
	}
	return l
}

// maxSliver returns the larger sliver bound.
func (l Limits) maxSliver() int { return max(l.MaxSliver[0], l.MaxSliver[1]) }

// SliverRef names one sliver of a blob: a pair index and a sliver type.
type SliverRef struct {
	Pair uint16
	Type codec.SliverType
}

// Sliver is a sliver's reference and its BCS bytes.
type Sliver struct {
	SliverRef
	Data []byte
}

// Result is one per-item answer: data, or the error the peer reported for
// that item (ErrNotFound, ErrInvalidRequest, …).
type Result struct {
	Data []byte
	Err  error
	// Placed: the bytes went to the buffers the caller gave
	// (GetSliversInto), not to Data.
	Placed bool
}

func checkType(t codec.SliverType) error {
	if t != codec.Primary && t != codec.Secondary {
		return fmt.Errorf("sliver type %d", t)
	}
	return nil
}

// blobIDRequest is the body of get-metadata, put-metadata and blob-status
// requests: a 32-byte blob ID.
func encodeBlobID(id codec.BlobID) []byte { return append([]byte(nil), id[:]...) }

func decodeBlobID(b []byte) (codec.BlobID, error) {
	var id codec.BlobID
	if len(b) != len(id) {
		return id, fmt.Errorf("blob ID of %d bytes", len(b))
	}
	copy(id[:], b)
	return id, nil
}

// ConfirmationRequest asks for a node's signed storage confirmation of a
// blob: permanent, or for a deletable Blob object.
type ConfirmationRequest struct {
	ID          codec.BlobID
	Persistence codec.BlobPersistence
}

// Wire form: ID (32) ‖ deletable (u8 0/1) ‖ object ID (32, only if deletable).
func (r ConfirmationRequest) encode() []byte {
	b := append(make([]byte, 0, 65), r.ID[:]...)
	if !r.Persistence.Deletable {
		return append(b, 0)
	}
	b = append(b, 1)
	return append(b, r.Persistence.ObjectID[:]...)
}

func decodeConfirmationRequest(b []byte) (ConfirmationRequest, error) {
	var r ConfirmationRequest
	switch {
	case len(b) == 33 && b[32] == 0:
	case len(b) == 65 && b[32] == 1:
		r.Persistence.Deletable = true
		copy(r.Persistence.ObjectID[:], b[33:])
	default:
		return r, fmt.Errorf("confirmation request of %d bytes", len(b))
	}
	copy(r.ID[:], b)
	return r, nil
}

// SliversRequest asks for some slivers of one blob.
type SliversRequest struct {
	ID    codec.BlobID
	Items []SliverRef
}

// Wire form: ID (32) ‖ count (u32 LE) ‖ count × (pair u16 LE ‖ type u8).
func (r SliversRequest) encode() []byte {
	b := append(make([]byte, 0, 36+3*len(r.Items)), r.ID[:]...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(r.Items)))
	for _, it := range r.Items {
		b = binary.LittleEndian.AppendUint16(b, it.Pair)
		b = append(b, byte(it.Type))
	}
	return b
}

func decodeSliversRequest(b []byte, l Limits) (SliversRequest, error) {
	var r SliversRequest
	if len(b) < 36 {
		return r, fmt.Errorf("slivers request of %d bytes", len(b))
	}
	copy(r.ID[:], b)
	count := binary.LittleEndian.Uint32(b[32:])
	if count == 0 || uint64(count) > uint64(l.MaxItems) {
		return r, fmt.Errorf("%d items, want 1..%d", count, l.MaxItems)
	}
	if uint64(len(b)-36) != 3*uint64(count) {
		return r, fmt.Errorf("%d items in %d bytes", count, len(b))
	}
	r.Items = make([]SliverRef, count)
	// A sliver asked for twice would be served twice: one small request
	// must not make a node send (and hold) the same sliver 2n times.
	seen := make(map[SliverRef]struct{}, count)
	for i := range r.Items {
		o := 36 + 3*i
		it := SliverRef{Pair: binary.LittleEndian.Uint16(b[o:]), Type: codec.SliverType(b[o+2])}
		if err := l.checkRef(it); err != nil {
			return r, err
		}
		if _, dup := seen[it]; dup {
			return r, fmt.Errorf("%s sliver of pair %d asked for twice", it.Type, it.Pair)
		}
		seen[it] = struct{}{}
		r.Items[i] = it
	}
	return r, nil
}

func (l Limits) checkRef(it SliverRef) error {
	if err := checkType(it.Type); err != nil {
		return err
	}
	if int(it.Pair) >= l.Params.NShards {
		return fmt.Errorf("pair %d of %d", it.Pair, l.Params.NShards)
	}
	return nil
}

// putSliversHeader opens a put-slivers stream: ID (32) ‖ count (u32 LE).
// count item frames follow, each pair (u16 LE) ‖ type (u8) ‖ BCS sliver.
type putSliversHeader struct {
	ID    codec.BlobID
	Count int
}

func (h putSliversHeader) encode() []byte {
	b := append(make([]byte, 0, 36), h.ID[:]...)
	return binary.LittleEndian.AppendUint32(b, uint32(h.Count))
}

func decodePutSliversHeader(b []byte, l Limits) (putSliversHeader, error) {
	var h putSliversHeader
	if len(b) != 36 {
		return h, fmt.Errorf("put-slivers header of %d bytes", len(b))
	}
	copy(h.ID[:], b)
	c := binary.LittleEndian.Uint32(b[32:])
	if c == 0 || uint64(c) > uint64(l.MaxItems) {
		return h, fmt.Errorf("%d items, want 1..%d", c, l.MaxItems)
	}
	h.Count = int(c)
	return h, nil
}

// maxSliverItem bounds one put-slivers item frame.
func (l Limits) maxSliverItem() int { return 3 + l.maxSliver() }

func encodeSliverItemHeader(s SliverRef) [3]byte {
	var h [3]byte
	binary.LittleEndian.PutUint16(h[:], s.Pair)
	h[2] = byte(s.Type)
	return h
}

func decodeSliverItem(b []byte, l Limits) (Sliver, error) {
	var s Sliver
	if len(b) < 3 {
		return s, fmt.Errorf("sliver item of %d bytes", len(b))
	}
	s.Pair = binary.LittleEndian.Uint16(b)
	s.Type = codec.SliverType(b[2])
	if err := l.checkRef(s.SliverRef); err != nil {
		return s, err
	}
	if len(b)-3 > l.MaxSliver[s.Type] {
		return s, fmt.Errorf("%s sliver of %d bytes, at most %d", s.Type, len(b)-3, l.MaxSliver[s.Type])
	}
	s.Data = b[3:]
	return s, nil
}

// RecoveryRequest asks a node for recovery symbols towards the sliver Target:
// one symbol from each of the node's slivers of the orthogonal type at the
// pair indices Sources.
type RecoveryRequest struct {
	ID      codec.BlobID
	Target  SliverRef
	Sources []uint16
}

// Wire form: ID (32) ‖ target pair (u16 LE) ‖ target type (u8) ‖ count (u32
// LE) ‖ count × source pair (u16 LE).
func (r RecoveryRequest) encode() []byte {
	b := append(make([]byte, 0, 39+2*len(r.Sources)), r.ID[:]...)
	b = binary.LittleEndian.AppendUint16(b, r.Target.Pair)
	b = append(b, byte(r.Target.Type))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(r.Sources)))
	for _, s := range r.Sources {
		b = binary.LittleEndian.AppendUint16(b, s)
	}
	return b
}

func decodeRecoveryRequest(b []byte, l Limits) (RecoveryRequest, error) {
	var r RecoveryRequest
	if len(b) < 39 {
		return r, fmt.Errorf("recovery request of %d bytes", len(b))
	}
	copy(r.ID[:], b)
	r.Target = SliverRef{Pair: binary.LittleEndian.Uint16(b[32:]), Type: codec.SliverType(b[34])}
	if err := l.checkRef(r.Target); err != nil {
		return r, err
	}
	count := binary.LittleEndian.Uint32(b[35:])
	if count == 0 || uint64(count) > uint64(l.Params.NShards) {
		return r, fmt.Errorf("%d sources, want 1..%d", count, l.Params.NShards)
	}
	if uint64(len(b)-39) != 2*uint64(count) {
		return r, fmt.Errorf("%d sources in %d bytes", count, len(b))
	}
	r.Sources = make([]uint16, count)
	for i := range r.Sources {
		r.Sources[i] = binary.LittleEndian.Uint16(b[39+2*i:])
		if int(r.Sources[i]) >= l.Params.NShards {
			return r, fmt.Errorf("source pair %d of %d", r.Sources[i], l.Params.NShards)
		}
	}
	return r, nil
}

// RecoveryBatchRequest asks a node for recovery symbols towards several
// slivers of one type at once: from each of its slivers of the orthogonal
// type at the pair indices Sources, the symbol for each target pair in
// Targets. The holder expands each source sliver once per request, however
// many targets it serves: with one target per request, a node recovering
// many slivers made each holder expand the same source sliver once per
// target whenever its cache overflowed (two nodes recovering two 64 MiB
// blobs at n = 1000 expanded 284 thousand source slivers for 2860
// distinct ones).
type RecoveryBatchRequest struct {
	ID      codec.BlobID
	Type    codec.SliverType // of the targets
	Targets []uint16
	Sources []uint16
}

// Wire form: ID (32) ‖ target type (u8) ‖ t (u32 LE) ‖ t × target pair
// (u16 LE) ‖ s (u32 LE) ‖ s × source pair (u16 LE). The answer has s·t
// items, source-major: source 0's symbols for every target, then source
// 1's, and so on.
func (r RecoveryBatchRequest) encode() []byte {
	b := append(make([]byte, 0, 41+2*len(r.Targets)+2*len(r.Sources)), r.ID[:]...)
	b = append(b, byte(r.Type))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(r.Targets)))
	for _, t := range r.Targets {
		b = binary.LittleEndian.AppendUint16(b, t)
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(len(r.Sources)))
	for _, s := range r.Sources {
		b = binary.LittleEndian.AppendUint16(b, s)
	}
	return b
}

// Symbols is the number of items of the answer.
func (r RecoveryBatchRequest) Symbols() int { return len(r.Targets) * len(r.Sources) }

// maxRecoveryBatchRequest is the largest encoded request for n shards.
func maxRecoveryBatchRequest(n int) int { return 41 + 4*n }

// Check bounds the request by the limits.
func (r RecoveryBatchRequest) Check(l Limits) error {
	if err := checkType(r.Type); err != nil {
		return err
	}
	n := l.Params.NShards
	if len(r.Targets) == 0 || len(r.Targets) > n {
		return fmt.Errorf("%d targets, want 1..%d", len(r.Targets), n)
	}
	if len(r.Sources) == 0 || len(r.Sources) > n {
		return fmt.Errorf("%d sources, want 1..%d", len(r.Sources), n)
	}
	if r.Symbols() > l.MaxBatchSymbols {
		return fmt.Errorf("%d targets × %d sources: more than %d symbols", len(r.Targets), len(r.Sources), l.MaxBatchSymbols)
	}
	for _, list := range [][]uint16{r.Targets, r.Sources} {
		for _, p := range list {
			if int(p) >= n {
				return fmt.Errorf("pair %d of %d", p, n)
			}
		}
	}
	return nil
}

// readPairs reads a u32 count and that many u16 pairs at b[off:], at most
// max of them.
func readPairs(b []byte, off, max int) ([]uint16, int, error) {
	if len(b)-off < 4 {
		return nil, 0, fmt.Errorf("recovery batch request of %d bytes", len(b))
	}
	count := binary.LittleEndian.Uint32(b[off:])
	off += 4
	if count == 0 || uint64(count) > uint64(max) {
		return nil, 0, fmt.Errorf("%d pairs, want 1..%d", count, max)
	}
	if uint64(len(b)-off) < 2*uint64(count) {
		return nil, 0, fmt.Errorf("%d pairs in %d bytes", count, len(b)-off)
	}
	out := make([]uint16, count)
	for i := range out {
		out[i] = binary.LittleEndian.Uint16(b[off+2*i:])
	}
	return out, off + 2*int(count), nil
}

func decodeRecoveryBatchRequest(b []byte, l Limits) (RecoveryBatchRequest, error) {
	var r RecoveryBatchRequest
	if len(b) < 33 {
		return r, fmt.Errorf("recovery batch request of %d bytes", len(b))
	}
	copy(r.ID[:], b)
	r.Type = codec.SliverType(b[32])
	var err error
	off := 33
	if r.Targets, off, err = readPairs(b, off, l.Params.NShards); err != nil {
		return r, err
	}
	if r.Sources, off, err = readPairs(b, off, l.Params.NShards); err != nil {
		return r, err
	}
	if off != len(b) {
		return r, fmt.Errorf("%d bytes after the recovery batch request", len(b)-off)
	}
	return r, r.Check(l)
}

// SyncRequest is a sync-shard request: the new owner of a shard asks its
// previous owner for slivers of one type, in blob-ID order from
// Request.Start on. It is authenticated as Walrus's is (F7.11): Signed is the
// BCS SyncShardMsg of Request (codec.SyncShardMessage) signed with the BLS
// key PublicKey, which the server checks against the committee that assigns
// the requester that shard.
type SyncRequest struct {
	PublicKey [codec.BLSPublicKeySize]byte
	Signed    codec.SignedMessage
	// Request is Signed.Message parsed (filled by NewSyncRequest and by
	// the server's decoder).
	Request codec.SyncShardRequest
}

// NewSyncRequest builds and signs a sync-shard request; sign returns the
// BLS signature over the message bytes.
func NewSyncRequest(pk [codec.BLSPublicKeySize]byte, r codec.SyncShardRequest, sign func([]byte) [codec.BLSSignatureSize]byte) SyncRequest {
	msg := codec.SyncShardMessage(r)
	return SyncRequest{PublicKey: pk, Signed: codec.SignedMessage{Message: msg, Signature: sign(msg)}, Request: r}
}

// syncRequestSize is the public key and the BCS SignedMessage of a
// SyncShardMsg (a one-byte ULEB128 length, the message, the signature).
const syncRequestSize = codec.BLSPublicKeySize + 1 + codec.SyncShardMessageSize + codec.BLSSignatureSize

// Wire form: public key (48) ‖ BCS SignedMessage<SyncShardMsg>.
func (r SyncRequest) encode() []byte {
	b := make([]byte, 0, syncRequestSize)
	b = append(b, r.PublicKey[:]...)
	return append(b, r.Signed.MarshalBCS()...)
}

func decodeSyncRequest(b []byte, l Limits) (SyncRequest, error) {
	var r SyncRequest
	if len(b) != syncRequestSize {
		return r, fmt.Errorf("sync request of %d bytes, want %d", len(b), syncRequestSize)
	}
	copy(r.PublicKey[:], b)
	sm, err := codec.UnmarshalSignedMessage(b[codec.BLSPublicKeySize:], codec.SyncShardMessageSize)
	if err != nil {
		return r, err
	}
	r.Signed = sm
	if r.Request, err = codec.ParseSyncShardMessage(sm.Message); err != nil {
		return r, err
	}
	if int(r.Request.Shard) >= l.Params.NShards {
		return r, fmt.Errorf("shard %d of %d", r.Request.Shard, l.Params.NShards)
	}
	if r.Request.Count == 0 || r.Request.Count > uint64(l.MaxSyncItems) {
		return r, fmt.Errorf("sliver count %d, want 1..%d", r.Request.Count, l.MaxSyncItems)
	}
	return r, nil
}

// SyncItem is one sliver of a sync-shard batch.
type SyncItem struct {
	ID   codec.BlobID
	Data []byte
}

// SyncBatch is a sync-shard answer: up to Request.Count slivers in blob-ID
// order, from Request.Start on, within Limits.MaxSyncBytes. Done says the
// server has no more blobs for the shard after the last item (a batch may be
// short of Count without being done, when the byte bound cut it).
type SyncBatch struct {
	Items []SyncItem
	Done  bool
}

// Sync batch header frame: count (u32 LE) ‖ done (u8). Then count frames of
// blob ID (32) ‖ BCS sliver.
func encodeSyncHeader(count int, done bool) []byte {
	b := binary.LittleEndian.AppendUint32(make([]byte, 0, 5), uint32(count))
	if done {
		return append(b, 1)
	}
	return append(b, 0)
}

func decodeSyncHeader(b []byte, limit int) (count int, done bool, err error) {
	if len(b) != 5 {
		return 0, false, fmt.Errorf("sync header of %d bytes", len(b))
	}
	c := binary.LittleEndian.Uint32(b)
	if limit < 0 || uint64(c) > uint64(limit) {
		return 0, false, fmt.Errorf("%d items, asked for at most %d", c, limit)
	}
	switch b[4] {
	case 0:
	case 1:
		done = true
	default:
		return 0, false, fmt.Errorf("done flag %d", b[4])
	}
	return int(c), done, nil
}

func decodeSyncItem(b []byte, maxSliver int) (SyncItem, error) {
	var it SyncItem
	if len(b) < 32 || len(b)-32 > maxSliver {
		return it, fmt.Errorf("sync item of %d bytes", len(b))
	}
	copy(it.ID[:], b)
	it.Data = b[32:]
	return it, nil
}
