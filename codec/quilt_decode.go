package codec

import (
	"bytes"
	"fmt"
	"unicode/utf8"
)

// Reading quilts. A run of columns read column after column is one byte
// string (the concatenation of those secondary slivers), so the index is a
// prefix of columns 0..k and a patch a prefix of its columns [Start, End):
// both can be read from just those slivers. Every length read is bounded by
// the bytes present; what Walrus's bcs would reject (non-canonical ULEB128,
// map keys out of order, invalid UTF-8, trailing bytes) is rejected too.

func malformedQuilt(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformedQuilt, fmt.Sprintf(format, args...))
}

// quiltIndexColumns reads the index prefix from the start of column 0 and
// returns the index's total size and the columns it spans.
func quiltIndexColumns(col0 []byte, colSize int) (total, cols int, err error) {
	if len(col0) < quiltIndexPrefixSize || colSize < quiltIndexPrefixSize {
		return 0, 0, malformedQuilt("column 0 has %d bytes, too few for the index prefix", len(col0))
	}
	if col0[0] != QuiltVersionV1 {
		return 0, 0, malformedQuilt("quilt version %d, want %d", col0[0], QuiltVersionV1)
	}
	size := uint64(col0[1]) | uint64(col0[2])<<8 | uint64(col0[3])<<16 | uint64(col0[4])<<24
	if maxSize := uint64(colSize*MaxQuiltIndexColumns - quiltIndexPrefixSize); size > maxSize {
		return 0, 0, malformedQuilt("index of %d bytes exceeds %d (%d columns)", size, maxSize, MaxQuiltIndexColumns)
	}
	total = quiltIndexPrefixSize + int(size)
	return total, ceilDiv(total, colSize), nil
}

// parseQuiltIndex decodes the index from region, the bytes of columns
// 0..k (at least its span), for a matrix of nCols columns of colSize bytes.
// Walrus fills in start indices without checking them; floe also requires
// every patch to span at least one column inside the matrix, so that a
// patch's slivers are always a valid, non-empty range.
func parseQuiltIndex(region []byte, colSize, nCols int) (QuiltIndex, error) {
	total, cols, err := quiltIndexColumns(region, colSize)
	if err != nil {
		return QuiltIndex{}, err
	}
	if len(region) < total {
		return QuiltIndex{}, malformedQuilt("index of %d bytes, %d present", total, len(region))
	}
	d := &decoder{b: region[quiltIndexPrefixSize:total]}
	n := d.length(nCols, 2+1+1)
	ix := QuiltIndex{Columns: cols, Patches: make([]QuiltPatch, 0, n)}
	start := cols
	for range n {
		end := int(d.u16())
		id := d.str()
		tags := d.tags()
		if d.err != nil {
			break
		}
		if end <= start || end > nCols {
			return QuiltIndex{}, malformedQuilt("patch %q ends at column %d, after %d and at most %d", truncate(id), end, start, nCols)
		}
		ix.Patches = append(ix.Patches, QuiltPatch{Identifier: id, Tags: tags, Start: start, End: end})
		start = end
	}
	if err := d.finish(); err != nil {
		return QuiltIndex{}, fmt.Errorf("%w: index: %w", ErrMalformedQuilt, err)
	}
	return ix, nil
}

// str reads a BCS String: valid UTF-8, as Rust's String requires.
func (d *decoder) str() string {
	b := d.byteVec(maxVectorLength)
	if d.err == nil && !utf8.Valid(b) {
		d.fail("string is not UTF-8")
	}
	return string(b)
}

// tags reads a BCS BTreeMap<String, String>, whose keys must be in strictly
// increasing order of their serialized bytes (bcs's canonical-map rule).
func (d *decoder) tags() map[string]string {
	n := d.length(maxVectorLength, 2)
	if d.err != nil || n == 0 {
		return nil
	}
	m := make(map[string]string, n)
	var prev []byte
	for i := range n {
		from := d.off
		k := d.str()
		if d.err != nil {
			return nil
		}
		key := d.b[from:d.off]
		if i > 0 && bytes.Compare(prev, key) >= 0 {
			d.fail("map keys not in canonical order")
			return nil
		}
		prev = key
		m[k] = d.str()
	}
	return m
}

// parseQuiltPatch decodes the patch whose columns, colSize bytes each, are
// region (F12.3), as walrus-core's decode_blob does. The patch must fill
// exactly those columns: its header's length sets how many it spans.
func parseQuiltPatch(region []byte, colSize int) (QuiltFile, error) {
	if len(region) < quiltPatchHeaderSize {
		return QuiltFile{}, malformedQuilt("patch of %d bytes has no header", len(region))
	}
	if region[0] != QuiltVersionV1 {
		return QuiltFile{}, malformedQuilt("patch header version %d, want %d", region[0], QuiltVersionV1)
	}
	length := uint64(region[1]) | uint64(region[2])<<8 | uint64(region[3])<<16 | uint64(region[4])<<24
	mask := region[5]
	total := quiltPatchHeaderSize + length
	if total > uint64(len(region)) {
		return QuiltFile{}, malformedQuilt("patch of %d bytes, its columns hold %d", total, len(region))
	}
	if colSize > 0 && ceilDiv(int(total), colSize) != len(region)/colSize {
		return QuiltFile{}, malformedQuilt("patch of %d bytes spans %d columns, not %d", total, ceilDiv(int(total), colSize), len(region)/colSize)
	}
	body := region[quiltPatchHeaderSize:total]
	var f QuiltFile
	rest, id, err := sizedBCS(body, "identifier")
	if err != nil {
		return QuiltFile{}, err
	}
	d := &decoder{b: id}
	f.Identifier = d.str()
	if err := d.finish(); err != nil {
		return QuiltFile{}, fmt.Errorf("%w: identifier: %w", ErrMalformedQuilt, err)
	}
	if err := ValidateQuiltIdentifier(f.Identifier); err != nil {
		return QuiltFile{}, fmt.Errorf("%w: %w", ErrMalformedQuilt, err)
	}
	if mask&quiltHasTags != 0 {
		var tb []byte
		rest, tb, err = sizedBCS(rest, "tags")
		if err != nil {
			return QuiltFile{}, err
		}
		d := &decoder{b: tb}
		f.Tags = d.tags()
		if err := d.finish(); err != nil {
			return QuiltFile{}, fmt.Errorf("%w: tags: %w", ErrMalformedQuilt, err)
		}
	}
	f.Data = rest
	return f, nil
}

// sizedBCS splits a u16 LE size and that many bytes off b.
func sizedBCS(b []byte, what string) (rest, field []byte, err error) {
	if len(b) < 2 {
		return nil, nil, malformedQuilt("patch ends before its %s size", what)
	}
	n := int(b[0]) | int(b[1])<<8
	if len(b)-2 < n {
		return nil, nil, malformedQuilt("%s of %d bytes, the patch has %d left", what, n, len(b)-2)
	}
	return b[2+n:], b[2 : 2+n], nil
}

// quiltShape checks that a blob of the given length can be a quilt for p
// and returns its symbol size: the length must be nPrim·nSec·S.
func quiltShape(p Params, length uint64) (int, error) {
	s, err := p.SymbolSize(length)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrMalformedQuilt, err)
	}
	if cells := uint64(p.Primary()) * uint64(p.Secondary()); length != cells*uint64(s) {
		return 0, malformedQuilt("a blob of %d bytes is not a quilt at %d shards (%d symbols of %d bytes)", length, p.NShards, cells, s)
	}
	return s, nil
}

// ParseQuilt reads a whole quilt blob (its index) for p's committee size.
func ParseQuilt(p Params, blob []byte) (*Quilt, error) {
	s, err := quiltShape(p, uint64(len(blob)))
	if err != nil {
		return nil, err
	}
	q := &Quilt{Params: p, SymbolSize: s, Blob: blob}
	_, cols, err := quiltIndexColumns(q.Column(0), q.ColumnSize())
	if err != nil {
		return nil, err
	}
	q.Index, err = parseQuiltIndex(matrixColumns(p, s, blob, 0, cols), q.ColumnSize(), p.Secondary())
	if err != nil {
		return nil, err
	}
	return q, nil
}

// File returns the file with the identifier, read from its patch.
func (q *Quilt) File(identifier string) (QuiltFile, error) {
	pt, err := q.Index.Patch(identifier)
	if err != nil {
		return QuiltFile{}, err
	}
	return q.patchFile(pt)
}

// FileByID returns the file of a patch ID. The ID's quilt ID is not
// compared: the Quilt does not know its own ID without encoding it.
func (q *Quilt) FileByID(id QuiltPatchID) (QuiltFile, error) {
	if id.Start >= id.End || id.End > q.Params.Secondary() || id.Start < q.Index.Columns {
		return QuiltFile{}, fmt.Errorf("%w: columns [%d, %d) are not patch columns of this quilt", ErrInvalidQuiltPatchID, id.Start, id.End)
	}
	return parseQuiltPatch(matrixColumns(q.Params, q.SymbolSize, q.Blob, id.Start, id.End), q.ColumnSize())
}

// Files returns every file, in index order.
func (q *Quilt) Files() ([]QuiltFile, error) {
	out := make([]QuiltFile, len(q.Index.Patches))
	for i := range q.Index.Patches {
		f, err := q.patchFile(&q.Index.Patches[i])
		if err != nil {
			return nil, err
		}
		out[i] = f
	}
	return out, nil
}

func (q *Quilt) patchFile(pt *QuiltPatch) (QuiltFile, error) {
	f, err := parseQuiltPatch(matrixColumns(q.Params, q.SymbolSize, q.Blob, pt.Start, pt.End), q.ColumnSize())
	if err != nil {
		return QuiltFile{}, err
	}
	if f.Identifier != pt.Identifier {
		return QuiltFile{}, malformedQuilt("the index names %q, the patch %q", truncate(pt.Identifier), truncate(f.Identifier))
	}
	return f, nil
}

// quiltColumnsFrom returns the concatenated data of secondary slivers
// [from, to) from slivers, each of which must be a secondary sliver of the
// quilt m describes. Slivers outside the range and duplicates are ignored.
func quiltColumnsFrom(p Params, m *Metadata, slivers []Sliver, from, to int) ([]byte, int, error) {
	s, err := quiltShape(p, m.UnencodedLength)
	if err != nil {
		return nil, 0, err
	}
	if len(m.Hashes) != p.NShards {
		return nil, 0, fmt.Errorf("%w: metadata has %d hash pairs for %d shards", ErrInvalidMetadata, len(m.Hashes), p.NShards)
	}
	colSize := p.Primary() * s
	cols := make([][]byte, to-from)
	for i := range slivers {
		sl := &slivers[i]
		if sl.Type != Secondary {
			return nil, 0, fmt.Errorf("%w: a quilt is read from secondary slivers, got a %s one", ErrInvalidSliver, sl.Type)
		}
		if _, err := checkSliverShape(p, m, sl); err != nil {
			return nil, 0, err
		}
		if sl.Index >= from && sl.Index < to && cols[sl.Index-from] == nil {
			cols[sl.Index-from] = sl.Data
		}
	}
	out := make([]byte, 0, (to-from)*colSize)
	for i, c := range cols {
		if c == nil {
			return nil, 0, fmt.Errorf("%w: secondary sliver %d is missing", ErrNotEnoughSlivers, from+i)
		}
		out = append(out, c...)
	}
	return out, colSize, nil
}

// QuiltIndexSlivers returns the secondary slivers that hold the index of
// the quilt m describes, read from its secondary sliver 0 (verified against
// m). Sliver 0 is always among them; the index spans at most
// MaxQuiltIndexColumns.
func QuiltIndexSlivers(p Params, m *Metadata, sliver0 Sliver) ([]int, error) {
	if sliver0.Index != 0 {
		return nil, fmt.Errorf("%w: want secondary sliver 0, got %d", ErrInvalidSliver, sliver0.Index)
	}
	col0, colSize, err := quiltColumnsFrom(p, m, []Sliver{sliver0}, 0, 1)
	if err != nil {
		return nil, err
	}
	_, cols, err := quiltIndexColumns(col0, colSize)
	if err != nil {
		return nil, err
	}
	return sliverRange(0, cols), nil
}

// DecodeQuiltIndex lists the patches of the quilt m describes from the
// secondary slivers that hold its index (QuiltIndexSlivers), each verified
// against m (VerifySlivers); other slivers are ignored.
func DecodeQuiltIndex(p Params, m *Metadata, slivers []Sliver) (QuiltIndex, error) {
	col0, colSize, err := quiltColumnsFrom(p, m, slivers, 0, 1)
	if err != nil {
		return QuiltIndex{}, err
	}
	_, cols, err := quiltIndexColumns(col0, colSize)
	if err != nil {
		return QuiltIndex{}, err
	}
	region, _, err := quiltColumnsFrom(p, m, slivers, 0, cols)
	if err != nil {
		return QuiltIndex{}, err
	}
	return parseQuiltIndex(region, colSize, p.Secondary())
}

// DecodeQuiltPatch returns the file of patch id from the secondary slivers
// id.SliverIndices() of the quilt m describes, each verified against m
// (VerifySlivers); other slivers are ignored. The ID's quilt ID must be m's
// blob ID. A patch found by identifier is read with its index entry's ID
// (QuiltIndex.Patch, QuiltPatch.ID); the caller compares the identifiers.
func DecodeQuiltPatch(p Params, m *Metadata, id QuiltPatchID, slivers []Sliver) (QuiltFile, error) {
	if id.Start >= id.End || id.Start < 1 || id.End > p.Secondary() {
		return QuiltFile{}, fmt.Errorf("%w: columns [%d, %d) at %d shards", ErrInvalidQuiltPatchID, id.Start, id.End, p.NShards)
	}
	if len(m.Hashes) == p.NShards {
		if got := m.BlobID(); got != id.QuiltID {
			return QuiltFile{}, fmt.Errorf("%w: patch of quilt %s read with the metadata of %s", ErrInvalidQuiltPatchID, id.QuiltID, got)
		}
	}
	region, colSize, err := quiltColumnsFrom(p, m, slivers, id.Start, id.End)
	if err != nil {
		return QuiltFile{}, err
	}
	return parseQuiltPatch(region, colSize)
}
