package codec

import (
	"bytes"
	"testing"
)

// Fuzz targets for the quilt decoders: the index and the patch header must
// never panic on any bytes, and whatever decodes must encode back to the
// same bytes (every form they accept is canonical).

func seedQuilt(f *testing.F, add func(region []byte, colSize uint16)) {
	p, _ := NewParams(10)
	q, err := EncodeQuilt(p, []QuiltFile{
		{Identifier: "index.html", Data: []byte("<h1>hi</h1>")},
		{Identifier: "a", Tags: map[string]string{"content-type": "text/plain", "z": ""}, Data: bytes.Repeat([]byte{7}, 300)},
		{Identifier: "é", Tags: map[string]string{}, Data: nil},
	})
	if err != nil {
		f.Fatal(err)
	}
	cs := uint16(q.ColumnSize())
	add(matrixColumns(p, q.SymbolSize, q.Blob, 0, q.Index.Columns), cs)
	for _, pt := range q.Index.Patches {
		add(matrixColumns(p, q.SymbolSize, q.Blob, pt.Start, pt.End), cs)
	}
	add(nil, 8)
	add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0x0f}, 6)
	add([]byte{1, 4, 0, 0, 0, 1, 3, 0, 1, 0}, 16)
}

func FuzzQuiltIndex(f *testing.F) {
	seedQuilt(f, func(b []byte, cs uint16) { f.Add(b, cs) })
	f.Fuzz(func(t *testing.T, b []byte, colSize uint16) {
		const nCols = 667
		ix, err := parseQuiltIndex(b, int(colSize), nCols)
		if err != nil {
			return
		}
		if ix.Columns < 1 || ix.Columns > MaxQuiltIndexColumns {
			t.Fatalf("index spans %d columns", ix.Columns)
		}
		start := ix.Columns
		for _, pt := range ix.Patches {
			if pt.Start != start || pt.End <= pt.Start || pt.End > nCols {
				t.Fatalf("patch [%d, %d) after %d", pt.Start, pt.End, start)
			}
			start = pt.End
		}
		e := encoder{}
		e.u8(QuiltVersionV1)
		e.u32(0)
		encodeQuiltIndex(&e, ix.Patches)
		putU32(e.b[1:], uint32(len(e.b)-quiltIndexPrefixSize))
		if len(e.b) > len(b) || !bytes.Equal(e.b, b[:len(e.b)]) {
			t.Fatalf("re-encoding differs")
		}
		if got := ceilDiv(len(e.b), int(colSize)); got != ix.Columns {
			t.Fatalf("index of %d bytes: %d columns, decoded %d", len(e.b), got, ix.Columns)
		}
	})
}

func FuzzQuiltPatchHeader(f *testing.F) {
	seedQuilt(f, func(b []byte, cs uint16) { f.Add(b, cs) })
	f.Fuzz(func(t *testing.T, b []byte, colSize uint16) {
		cs := int(colSize)
		if cs > 0 {
			b = b[:len(b)/cs*cs] // a patch is whole columns
		}
		pf, err := parseQuiltPatch(b, cs)
		if err != nil {
			return
		}
		if err := ValidateQuiltIdentifier(pf.Identifier); err != nil {
			t.Fatalf("decoded identifier %q: %v", pf.Identifier, err)
		}
		// The header again, keeping the tags flag (a flagged empty map is
		// valid and stays flagged).
		var tags []byte
		if b[5]&quiltHasTags != 0 {
			var e encoder
			encodeQuiltTags(&e, pf.Tags)
			tags = e.b
		}
		prefix, err := quiltPatchPrefix(pf.Identifier, tags, len(pf.Data))
		if err != nil {
			t.Fatal(err)
		}
		prefix[5] = b[5] // bits other than "has tags" are carried, not interpreted
		enc := append(prefix, pf.Data...)
		if len(enc) > len(b) || !bytes.Equal(enc, b[:len(enc)]) {
			t.Fatalf("re-encoding differs")
		}
		if cs > 0 && ceilDiv(len(enc), cs) != len(b)/cs {
			t.Fatalf("patch of %d bytes decoded from %d columns of %d", len(enc), len(b)/cs, cs)
		}
	})
}
