package codec

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sort"
	"unicode"
	"unicode/utf8"
)

// QuiltV1 (§12): many files ("patches") in one RS2 blob, each in its own
// run of columns (secondary slivers) so that one file can be read from the
// few slivers that hold it. The rules are those of walrus-core's
// encoding/quilt_encoding.rs; the official TypeScript SDK
// (@mysten/walrus encodeQuilt) builds the same bytes, checked against its
// output in testdata/quilts.

// Quilt format constants (F12.2–F12.3).
const (
	// QuiltVersionV1 is the version byte of the index and of every patch header.
	QuiltVersionV1 byte = 1
	// MaxQuiltIndexColumns is the most columns the index may occupy.
	MaxQuiltIndexColumns = 10
	// MaxQuiltIdentifierSize is the largest BCS-serialized identifier
	// (ULEB128 length and UTF-8 bytes), 65534 bytes: walrus-core rejects a
	// serialized size ≥ 65535, so the longest identifier has 65531 bytes.
	MaxQuiltIdentifierSize = 65534
	// MaxQuiltTagsSize is the largest BCS-serialized tags map: its length
	// is a u16 in the patch header.
	MaxQuiltTagsSize = 65535

	quiltIndexPrefixSize = 5 // version ‖ u32 LE length of BCS(QuiltIndexV1)
	quiltPatchHeaderSize = 6 // version ‖ u32 LE length ‖ mask
	quiltHasTags         = 1 // mask bit 0
	maxQuiltPatchLength  = 1<<32 - 1
)

// Quilt errors: the encoding ones say which input to change, the decoding
// ones that bytes are not a well-formed quilt (or not one at all).
var (
	// ErrQuiltDuplicateIdentifier means two files have the same identifier.
	ErrQuiltDuplicateIdentifier = errors.New("codec: duplicate quilt identifier")
	// ErrInvalidQuiltIdentifier means an identifier is empty, not UTF-8,
	// ends in white space or holds a control character (walrus-core's
	// validate_quilt_identifier).
	ErrInvalidQuiltIdentifier = errors.New("codec: invalid quilt identifier")
	// ErrQuiltIdentifierTooLarge means an identifier serializes to more than
	// MaxQuiltIdentifierSize bytes.
	ErrQuiltIdentifierTooLarge = errors.New("codec: quilt identifier too large")
	// ErrInvalidQuiltTags means a tag key or value is not UTF-8.
	ErrInvalidQuiltTags = errors.New("codec: invalid quilt tags")
	// ErrQuiltTagsTooLarge means a file's tags serialize to more than
	// MaxQuiltTagsSize bytes.
	ErrQuiltTagsTooLarge = errors.New("codec: quilt tags too large")
	// ErrQuiltTooManyFiles means there are more files than columns for them:
	// at most nSec-1, as the index takes at least one column.
	ErrQuiltTooManyFiles = errors.New("codec: too many files for a quilt")
	// ErrQuiltTooLarge means the files do not fit one blob of this committee
	// size: the symbol size would exceed MaxSymbolSize, or one file exceeds
	// the 4 GiB a patch header can describe.
	ErrQuiltTooLarge = errors.New("codec: quilt too large for the number of shards")
	// ErrMalformedQuilt means bytes or slivers are not a well-formed QuiltV1.
	ErrMalformedQuilt = errors.New("codec: malformed quilt")
	// ErrQuiltPatchNotFound means no patch has the requested identifier.
	ErrQuiltPatchNotFound = errors.New("codec: quilt patch not found")
	// ErrInvalidQuiltPatchID means a quilt patch ID is not 50 base64url
	// characters for quilt ID ‖ 0x01 ‖ start u16 LE ‖ end u16 LE, with
	// start < end, or does not fit the quilt it is used with.
	ErrInvalidQuiltPatchID = errors.New("codec: invalid quilt patch ID")
)

// QuiltFile is one file of a quilt: its identifier (unique in the quilt),
// optional tags and contents.
type QuiltFile struct {
	Identifier string
	Tags       map[string]string
	Data       []byte
}

// QuiltPatch is an entry of the quilt index (QuiltPatchV1): the identifier
// and tags of a file and the secondary slivers [Start, End) that hold it.
type QuiltPatch struct {
	Identifier string
	Tags       map[string]string
	Start, End int
}

// SliverIndices returns the secondary sliver indices that hold the patch.
func (pt *QuiltPatch) SliverIndices() []int { return sliverRange(pt.Start, pt.End) }

// ID returns the patch's quilt patch ID in the quilt quiltID.
func (pt *QuiltPatch) ID(quiltID BlobID) QuiltPatchID {
	return QuiltPatchID{QuiltID: quiltID, Start: pt.Start, End: pt.End}
}

// QuiltIndex is QuiltIndexV1 with the start of every patch filled in:
// patches in index order (sorted by identifier when floe or Walrus wrote
// the quilt), the first starting after the index's own Columns.
type QuiltIndex struct {
	Columns int
	Patches []QuiltPatch
}

// Patch returns the first patch with the identifier, as walrus-core does.
func (ix *QuiltIndex) Patch(identifier string) (*QuiltPatch, error) {
	for i := range ix.Patches {
		if ix.Patches[i].Identifier == identifier {
			return &ix.Patches[i], nil
		}
	}
	return nil, fmt.Errorf("%w: %q", ErrQuiltPatchNotFound, truncate(identifier))
}

// SliverIndices returns the secondary slivers that hold the index itself.
func (ix *QuiltIndex) SliverIndices() []int { return sliverRange(0, ix.Columns) }

func sliverRange(start, end int) []int {
	out := make([]int, 0, max(0, end-start))
	for j := start; j < end; j++ {
		out = append(out, j)
	}
	return out
}

// Quilt is a QuiltV1 blob: the nPrim×nSec message matrix (row-major, as
// every RS2 blob) whose columns hold the index and the patches. Its quilt ID
// is the blob ID of Blob (Encode or ComputeMetadata).
type Quilt struct {
	Params     Params
	SymbolSize int
	Blob       []byte
	Index      QuiltIndex
}

// ColumnSize is the bytes of one column: a secondary sliver, nPrim symbols.
func (q *Quilt) ColumnSize() int { return q.Params.Primary() * q.SymbolSize }

// Column returns a copy of column j, the systematic secondary sliver j.
func (q *Quilt) Column(j int) []byte {
	return matrixColumns(q.Params, q.SymbolSize, q.Blob, j, j+1)
}

// PatchIDs returns the quilt patch ID of every patch, in index order.
func (q *Quilt) PatchIDs(quiltID BlobID) []QuiltPatchID {
	ids := make([]QuiltPatchID, len(q.Index.Patches))
	for i := range q.Index.Patches {
		ids[i] = q.Index.Patches[i].ID(quiltID)
	}
	return ids
}

// ValidateQuiltIdentifier applies walrus-core's rules to an identifier:
// non-empty UTF-8, at most MaxQuiltIdentifierSize bytes serialized, no
// trailing white space, no control character.
func ValidateQuiltIdentifier(id string) error {
	if ulebSize(len(id))+len(id) > MaxQuiltIdentifierSize {
		return fmt.Errorf("%w: %d bytes, at most %d serialized", ErrQuiltIdentifierTooLarge, len(id), MaxQuiltIdentifierSize)
	}
	if id == "" {
		return fmt.Errorf("%w: empty", ErrInvalidQuiltIdentifier)
	}
	if !utf8.ValidString(id) {
		return fmt.Errorf("%w: %q is not UTF-8", ErrInvalidQuiltIdentifier, truncate(id))
	}
	if r, _ := utf8.DecodeLastRuneInString(id); unicode.Is(unicode.White_Space, r) {
		return fmt.Errorf("%w: %q ends in white space", ErrInvalidQuiltIdentifier, truncate(id))
	}
	for _, r := range id {
		if unicode.IsControl(r) {
			return fmt.Errorf("%w: %q contains a control character", ErrInvalidQuiltIdentifier, truncate(id))
		}
	}
	return nil
}

func ulebSize(v int) int {
	s := 1
	for v >= 0x80 {
		v >>= 7
		s++
	}
	return s
}

// encodeQuiltTags writes the BCS BTreeMap<String, String>: entries sorted
// by their serialized key bytes, ULEB128 length prefix included (F12.2a).
func encodeQuiltTags(e *encoder, tags map[string]string) {
	keys := make([][]byte, 0, len(tags))
	byKey := make(map[string]string, len(tags))
	for k, v := range tags {
		var ke encoder
		ke.bytes([]byte(k))
		keys = append(keys, ke.b)
		byKey[string(ke.b)] = v
	}
	slices.SortFunc(keys, bytes.Compare)
	e.uleb(uint64(len(keys)))
	for _, k := range keys {
		e.raw(k)
		e.bytes([]byte(byKey[string(k)]))
	}
}

func checkQuiltTags(f *QuiltFile) ([]byte, error) {
	for k, v := range f.Tags {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return nil, fmt.Errorf("%w: file %q has a tag that is not UTF-8", ErrInvalidQuiltTags, truncate(f.Identifier))
		}
	}
	if len(f.Tags) == 0 {
		return nil, nil
	}
	var e encoder
	encodeQuiltTags(&e, f.Tags)
	if len(e.b) > MaxQuiltTagsSize {
		return nil, fmt.Errorf("%w: file %q has %d bytes of tags, at most %d", ErrQuiltTagsTooLarge, truncate(f.Identifier), len(e.b), MaxQuiltTagsSize)
	}
	return e.b, nil
}

// encodeQuiltIndex writes BCS(QuiltIndexV1); start indices are not part of it.
func encodeQuiltIndex(e *encoder, patches []QuiltPatch) {
	e.uleb(uint64(len(patches)))
	for i := range patches {
		e.u16(uint16(patches[i].End))
		e.bytes([]byte(patches[i].Identifier))
		encodeQuiltTags(e, patches[i].Tags)
	}
}

// quiltPatchPrefix is a patch's bytes before its data (F12.3):
// BlobHeaderV1 ‖ u16 identifier size ‖ BCS(identifier) ‖ [u16 tags size ‖ BCS(tags)].
func quiltPatchPrefix(id string, tags []byte, dataLen int) ([]byte, error) {
	var ext encoder
	var ide encoder
	ide.bytes([]byte(id))
	ext.u16(uint16(len(ide.b)))
	ext.raw(ide.b)
	mask := byte(0)
	if tags != nil {
		mask |= quiltHasTags
		ext.u16(uint16(len(tags)))
		ext.raw(tags)
	}
	length := uint64(len(ext.b)) + uint64(dataLen)
	if length > maxQuiltPatchLength {
		return nil, fmt.Errorf("%w: file %q is %d bytes serialized, a patch holds at most %d", ErrQuiltTooLarge, truncate(id), length, uint64(maxQuiltPatchLength))
	}
	out := make([]byte, 0, quiltPatchHeaderSize+len(ext.b))
	out = append(out, QuiltVersionV1)
	out = append(out, byte(length), byte(length>>8), byte(length>>16), byte(length>>24))
	out = append(out, mask)
	return append(out, ext.b...), nil
}

// quiltSymbolSize is walrus-core's utils::compute_symbol_size (F12.4):
// the smallest symbol size, rounded up to even, with which every item
// (sizes[0] is the index, the others the serialized patches) fits whole
// columns of nRows symbols within nCols columns.
func quiltSymbolSize(sizes []int, nCols, nRows int) (int, error) {
	return quiltSymbolSizeWith(sizes, nCols, nRows, MaxQuiltIndexColumns)
}

func quiltSymbolSizeWith(sizes []int, nCols, nRows, maxIndexCols int) (int, error) {
	if len(sizes) > nCols {
		return 0, fmt.Errorf("%w: %d files, at most %d at this committee size", ErrQuiltTooManyFiles, len(sizes)-1, nCols-1)
	}
	fits := func(s int) bool {
		col := s * nRows
		used := 0
		for _, z := range sizes {
			used += (z + col - 1) / col
		}
		return used <= nCols
	}
	sum, biggest := 0, 0
	for _, z := range sizes {
		sum += z
		biggest = max(biggest, z)
	}
	lo := max(ceilDiv(sum, nCols*nRows), ceilDiv(sizes[0], nRows*maxIndexCols), ceilDiv(quiltIndexPrefixSize, nRows))
	hi := ceilDiv(biggest, nCols/len(sizes)*nRows)
	for lo < hi {
		mid := (lo + hi) / 2
		if fits(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	s := lo + lo&1
	if s > MaxSymbolSize {
		return 0, fmt.Errorf("%w: symbol size %d > %d", ErrQuiltTooLarge, s, MaxSymbolSize)
	}
	return s, nil
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// writeColumns writes b into the matrix column-wise from column col, after
// skip bytes of that run of columns (F12.1): within a column the bytes fill
// symbol after symbol down the rows.
func writeColumns(blob []byte, p Params, s, col, skip int, b []byte) {
	nRows, rowSize := p.Primary(), p.Secondary()*s
	colSize := nRows * s
	col += skip / colSize
	row := skip % colSize / s
	off := skip % s
	for len(b) > 0 {
		at := row*rowSize + col*s + off
		k := copy(blob[at:at+s-off], b)
		b = b[k:]
		off = 0
		if row++; row == nRows {
			row = 0
			col++
		}
	}
}

// matrixColumns returns the bytes of columns [from, to) of a row-major
// nPrim×nSec matrix of s-byte symbols, column after column.
func matrixColumns(p Params, s int, blob []byte, from, to int) []byte {
	nRows, rowSize := p.Primary(), p.Secondary()*s
	out := make([]byte, 0, (to-from)*nRows*s)
	for c := from; c < to; c++ {
		for r := range nRows {
			at := r*rowSize + c*s
			out = append(out, blob[at:at+s]...)
		}
	}
	return out
}

// EncodeQuilt lays files out as a QuiltV1 blob for p's committee size
// exactly as Walrus does: files sorted by identifier (bytewise, as Rust
// orders strings), the index in the first columns, each file in the next
// run of whole columns. The files' data is copied.
func EncodeQuilt(p Params, files []QuiltFile) (*Quilt, error) {
	nRows, nCols := p.Primary(), p.Secondary()
	if len(files)+1 > nCols {
		return nil, fmt.Errorf("%w: %d files, at most %d at %d shards", ErrQuiltTooManyFiles, len(files), nCols-1, p.NShards)
	}
	order := make([]int, len(files))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return files[order[a]].Identifier < files[order[b]].Identifier })
	for i := 1; i < len(order); i++ {
		if id := files[order[i]].Identifier; id == files[order[i-1]].Identifier {
			return nil, fmt.Errorf("%w: %q", ErrQuiltDuplicateIdentifier, truncate(id))
		}
	}
	patches := make([]QuiltPatch, len(files))
	prefixes := make([][]byte, len(files))
	sizes := make([]int, 1+len(files))
	for i, fi := range order {
		f := &files[fi]
		if err := ValidateQuiltIdentifier(f.Identifier); err != nil {
			return nil, err
		}
		tags, err := checkQuiltTags(f)
		if err != nil {
			return nil, err
		}
		prefixes[i], err = quiltPatchPrefix(f.Identifier, tags, len(f.Data))
		if err != nil {
			return nil, err
		}
		patches[i] = QuiltPatch{Identifier: f.Identifier, Tags: cloneTags(f.Tags)}
		sizes[1+i] = len(prefixes[i]) + len(f.Data)
	}
	// The index's size does not depend on the end indices (u16 each).
	var ie encoder
	encodeQuiltIndex(&ie, patches)
	indexTotal := quiltIndexPrefixSize + len(ie.b)
	sizes[0] = indexTotal
	s, err := quiltSymbolSize(sizes, nCols, nRows)
	if err != nil {
		return nil, err
	}
	colSize := nRows * s
	indexCols := ceilDiv(indexTotal, colSize)
	blob := make([]byte, nRows*nCols*s)
	col := indexCols
	for i, fi := range order {
		writeColumns(blob, p, s, col, 0, prefixes[i])
		writeColumns(blob, p, s, col, len(prefixes[i]), files[fi].Data)
		patches[i].Start = col
		col += ceilDiv(sizes[1+i], colSize)
		patches[i].End = col
	}
	ie = encoder{b: make([]byte, 0, indexTotal)}
	ie.u8(QuiltVersionV1)
	ie.u32(0)
	encodeQuiltIndex(&ie, patches)
	putU32(ie.b[1:], uint32(len(ie.b)-quiltIndexPrefixSize))
	writeColumns(blob, p, s, 0, 0, ie.b)
	return &Quilt{Params: p, SymbolSize: s, Blob: blob, Index: QuiltIndex{Columns: indexCols, Patches: patches}}, nil
}

func cloneTags(t map[string]string) map[string]string {
	if len(t) == 0 {
		return nil
	}
	out := make(map[string]string, len(t))
	for k, v := range t {
		out[k] = v
	}
	return out
}

// QuiltPatchID names one patch of one quilt (F12.5): the quilt ID and the
// patch's secondary slivers [Start, End). Its text form is base64url without
// padding of quilt ID ‖ 0x01 ‖ Start u16 LE ‖ End u16 LE.
type QuiltPatchID struct {
	QuiltID    BlobID
	Start, End int
}

// QuiltPatchIDSize is the byte length of a V1 quilt patch ID.
const QuiltPatchIDSize = DigestSize + 5

// Bytes returns the 37 bytes of the patch ID.
func (id QuiltPatchID) Bytes() []byte {
	b := make([]byte, QuiltPatchIDSize)
	copy(b, id.QuiltID[:])
	b[DigestSize] = QuiltVersionV1
	putU16(b[DigestSize+1:], uint16(id.Start))
	putU16(b[DigestSize+3:], uint16(id.End))
	return b
}

// String returns the base64url text form (50 characters).
func (id QuiltPatchID) String() string { return blobIDEncoding.EncodeToString(id.Bytes()) }

// SliverIndices returns the secondary slivers that hold the patch.
func (id QuiltPatchID) SliverIndices() []int { return sliverRange(id.Start, id.End) }

// MarshalText implements encoding.TextMarshaler.
func (id QuiltPatchID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (id *QuiltPatchID) UnmarshalText(b []byte) error {
	p, err := ParseQuiltPatchID(string(b))
	if err != nil {
		return err
	}
	*id = p
	return nil
}

// ParseQuiltPatchID parses the text form of a V1 quilt patch ID.
func ParseQuiltPatchID(s string) (QuiltPatchID, error) {
	var id QuiltPatchID
	b, err := blobIDEncoding.DecodeString(s)
	if err != nil || len(b) != QuiltPatchIDSize {
		return id, fmt.Errorf("%w: %q is not base64url of %d bytes", ErrInvalidQuiltPatchID, truncate(s), QuiltPatchIDSize)
	}
	if b[DigestSize] != QuiltVersionV1 {
		return id, fmt.Errorf("%w: version %d", ErrInvalidQuiltPatchID, b[DigestSize])
	}
	copy(id.QuiltID[:], b)
	id.Start = int(b[DigestSize+1]) | int(b[DigestSize+2])<<8
	id.End = int(b[DigestSize+3]) | int(b[DigestSize+4])<<8
	if id.Start >= id.End {
		return QuiltPatchID{}, fmt.Errorf("%w: empty sliver range [%d, %d)", ErrInvalidQuiltPatchID, id.Start, id.End)
	}
	return id, nil
}
