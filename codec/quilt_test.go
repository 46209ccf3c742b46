package codec

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The fixtures in testdata/quilts come from the official SDK's quilt
// encoder (testdata/quilts/gen): floe must build the same quilt bytes, quilt
// ID and patch IDs from the same files, and read every patch back from only
// its own secondary slivers.

type quiltFixture struct {
	Name    string `json:"name"`
	NShards int    `json:"n_shards"`
	Input   struct {
		Files []struct {
			Identifier string            `json:"identifier"`
			Size       int               `json:"size"`
			Tags       map[string]string `json:"tags"`
			SHA256     string            `json:"sha256"`
		} `json:"files"`
	} `json:"input"`
	SymbolSize   int               `json:"symbol_size"`
	QuiltLength  int               `json:"quilt_length"`
	QuiltSHA256  string            `json:"quilt_sha256"`
	QuiltID      string            `json:"quilt_id"`
	Attributes   map[string]string `json:"blob_attributes"`
	IndexColumns int               `json:"index_columns"`
	IndexSHA256  string            `json:"index_columns_sha256"`
	Patches      []struct {
		Identifier    string `json:"identifier"`
		Start         int    `json:"start"`
		End           int    `json:"end"`
		PatchID       string `json:"patch_id"`
		ColumnsSHA256 string `json:"columns_sha256"`
		DataSHA256    string `json:"data_sha256"`
	} `json:"patches"`
}

func loadQuiltFixtures(t *testing.T) []quiltFixture {
	dir := filepath.Join("testdata", "quilts")
	var idx struct {
		SDK   map[string]string `json:"sdk"`
		Cases []struct {
			File string `json:"file"`
		} `json:"cases"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		t.Fatal(err)
	}
	if idx.SDK["@mysten/walrus"] != "1.2.13" {
		t.Fatalf("fixtures from @mysten/walrus %q, want 1.2.13", idx.SDK["@mysten/walrus"])
	}
	var out []quiltFixture
	for _, c := range idx.Cases {
		b, err := os.ReadFile(filepath.Join(dir, c.File))
		if err != nil {
			t.Fatal(err)
		}
		var f quiltFixture
		if err := json.Unmarshal(b, &f); err != nil {
			t.Fatalf("%s: %v", c.File, err)
		}
		out = append(out, f)
	}
	if len(out) < 10 {
		t.Fatalf("only %d quilt fixtures", len(out))
	}
	return out
}

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// quiltFileData is the fixtures' generator (gen.mjs seededInput).
func quiltFileData(fixture, identifier string, size int) []byte {
	base := fixture[:strings.LastIndex(fixture, "_n")]
	return seededInput("walrus-quilt/"+base+"/"+identifier, size)
}

func TestQuiltFixtures(t *testing.T) {
	for _, fx := range loadQuiltFixtures(t) {
		t.Run(fx.Name, func(t *testing.T) {
			if quiltRace && fx.NShards >= 1000 {
				t.Skip("n = 1000 runs without -race")
			}
			p, err := NewParams(fx.NShards)
			if err != nil {
				t.Fatal(err)
			}
			files := make([]QuiltFile, len(fx.Input.Files))
			byID := map[string]*QuiltFile{}
			for i, f := range fx.Input.Files {
				files[i] = QuiltFile{Identifier: f.Identifier, Tags: f.Tags, Data: quiltFileData(fx.Name, f.Identifier, f.Size)}
				if sha(files[i].Data) != f.SHA256 {
					t.Fatalf("file %q: generator differs from the fixture's", f.Identifier)
				}
				byID[f.Identifier] = &files[i]
			}
			q, err := EncodeQuilt(p, files)
			if err != nil {
				t.Fatal(err)
			}
			if q.SymbolSize != fx.SymbolSize || len(q.Blob) != fx.QuiltLength {
				t.Fatalf("symbol size %d, %d bytes; SDK: %d, %d", q.SymbolSize, len(q.Blob), fx.SymbolSize, fx.QuiltLength)
			}
			if sha(q.Blob) != fx.QuiltSHA256 {
				t.Fatalf("quilt bytes differ from the SDK's")
			}
			if fx.Attributes["_walrusBlobType"] != "quilt" {
				t.Errorf("SDK attributes %v", fx.Attributes)
			}
			m, quiltID, err := ComputeMetadata(p, q.Blob)
			if err != nil {
				t.Fatal(err)
			}
			if quiltID.String() != fx.QuiltID {
				t.Fatalf("quilt ID %s, SDK %s", quiltID, fx.QuiltID)
			}
			if q.Index.Columns != fx.IndexColumns || sha(matrixColumns(p, q.SymbolSize, q.Blob, 0, q.Index.Columns)) != fx.IndexSHA256 {
				t.Fatalf("index columns %d differ (SDK %d)", q.Index.Columns, fx.IndexColumns)
			}
			if len(q.Index.Patches) != len(fx.Patches) {
				t.Fatalf("%d patches, SDK %d", len(q.Index.Patches), len(fx.Patches))
			}
			ids := q.PatchIDs(quiltID)
			for i, want := range fx.Patches {
				pt := q.Index.Patches[i]
				if pt.Identifier != want.Identifier || pt.Start != want.Start || pt.End != want.End {
					t.Fatalf("patch %d: %q [%d, %d), SDK %q [%d, %d)", i, pt.Identifier, pt.Start, pt.End, want.Identifier, want.Start, want.End)
				}
				if ids[i].String() != want.PatchID {
					t.Fatalf("patch %q: ID %s, SDK %s", pt.Identifier, ids[i], want.PatchID)
				}
				if got, err := ParseQuiltPatchID(want.PatchID); err != nil || got != ids[i] {
					t.Fatalf("parse %s: %+v, %v", want.PatchID, got, err)
				}
				if sha(matrixColumns(p, q.SymbolSize, q.Blob, pt.Start, pt.End)) != want.ColumnsSHA256 {
					t.Fatalf("patch %q: column bytes differ from the SDK's", pt.Identifier)
				}
			}

			// The whole quilt, parsed back.
			pq, err := ParseQuilt(p, q.Blob)
			if err != nil {
				t.Fatal(err)
			}
			checkIndexEqual(t, &pq.Index, &q.Index)
			got, err := pq.Files()
			if err != nil {
				t.Fatal(err)
			}
			for i, f := range got {
				checkFile(t, f, byID[fx.Patches[i].Identifier])
			}

			// From slivers: the index from its columns, each patch from its
			// own. The systematic secondary slivers are the matrix's columns
			// (TestQuiltColumnsAreSlivers); those of the index and of the
			// first and last patches are verified against the metadata.
			sec := func(idx []int) []Sliver {
				out := make([]Sliver, len(idx))
				for k, j := range idx {
					out[k] = Sliver{Type: Secondary, Index: j, SymbolSize: q.SymbolSize, Data: q.Column(j)}
				}
				return out
			}
			check := sec(q.Index.SliverIndices())
			if n := len(q.Index.Patches); n > 0 {
				check = append(check, sec(q.Index.Patches[0].SliverIndices())...)
				check = append(check, sec(q.Index.Patches[n-1].SliverIndices())...)
			}
			for k, err := range VerifySlivers(p, &m, check) {
				if err != nil {
					t.Fatalf("secondary sliver %d: %v", check[k].Index, err)
				}
			}
			which, err := QuiltIndexSlivers(p, &m, sec([]int{0})[0])
			if err != nil || len(which) != fx.IndexColumns {
				t.Fatalf("index slivers %v, %v", which, err)
			}
			ix, err := DecodeQuiltIndex(p, &m, sec(which))
			if err != nil {
				t.Fatal(err)
			}
			checkIndexEqual(t, &ix, &q.Index)
			for i := range ix.Patches {
				pt := &ix.Patches[i]
				f, err := DecodeQuiltPatch(p, &m, pt.ID(quiltID), sec(pt.SliverIndices()))
				if err != nil {
					t.Fatalf("patch %q: %v", pt.Identifier, err)
				}
				checkFile(t, f, byID[pt.Identifier])
				if sha(f.Data) != fx.Patches[i].DataSHA256 {
					t.Fatalf("patch %q: data differs", pt.Identifier)
				}
			}
		})
	}
}

// The systematic secondary slivers of a quilt are its columns.
func TestQuiltColumnsAreSlivers(t *testing.T) {
	for _, n := range []int{4, 10, 100} {
		p, _ := NewParams(n)
		q, err := EncodeQuilt(p, randomQuiltFiles(rand.New(rand.NewPCG(uint64(n), 2)), p.Secondary()/2, 2000))
		if err != nil {
			t.Fatal(err)
		}
		eb, err := Encode(p, q.Blob)
		if err != nil {
			t.Fatal(err)
		}
		for j := range p.Secondary() {
			sl := eb.Pairs[p.PairOfSliver(Secondary, j)].Secondary
			if sl.Index != j || !bytes.Equal(sl.Data, q.Column(j)) {
				t.Fatalf("n=%d: secondary sliver %d is not column %d", n, sl.Index, j)
			}
		}
	}
}

func checkIndexEqual(t *testing.T, got, want *QuiltIndex) {
	t.Helper()
	if got.Columns != want.Columns || len(got.Patches) != len(want.Patches) {
		t.Fatalf("index: %d columns, %d patches; want %d, %d", got.Columns, len(got.Patches), want.Columns, len(want.Patches))
	}
	for i := range got.Patches {
		g, w := got.Patches[i], want.Patches[i]
		if g.Identifier != w.Identifier || g.Start != w.Start || g.End != w.End || !maps.Equal(g.Tags, w.Tags) {
			t.Fatalf("index patch %d: %+v, want %+v", i, g, w)
		}
	}
}

func checkFile(t *testing.T, got QuiltFile, want *QuiltFile) {
	t.Helper()
	if want == nil || got.Identifier != want.Identifier || !bytes.Equal(got.Data, want.Data) || !maps.Equal(got.Tags, want.Tags) {
		t.Fatalf("file %q (%d bytes, tags %v) differs from the input", got.Identifier, len(got.Data), got.Tags)
	}
}

// The examples of the Walrus docs (docs/content/http-api/quilt-http-apis.mdx):
// a quilt of 1782224 bytes at 1000 shards and two patches.
func TestQuiltPatchIDDocsExample(t *testing.T) {
	quilt, err := ParseBlobID("6XUOE-Q5-nAXHRifN6n9nomVDtHZQbGuAkW3PjlBuKo")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		text       string
		start, end int
	}{
		{"6XUOE-Q5-nAXHRifN6n9nomVDtHZQbGuAkW3PjlBuKoBAQDQAA", 1, 208},
		{"6XUOE-Q5-nAXHRifN6n9nomVDtHZQbGuAkW3PjlBuKoB0AB7Ag", 208, 635},
	} {
		id, err := ParseQuiltPatchID(c.text)
		if err != nil {
			t.Fatal(err)
		}
		if id.QuiltID != quilt || id.Start != c.start || id.End != c.end || id.String() != c.text {
			t.Fatalf("%s: %+v", c.text, id)
		}
		var u QuiltPatchID
		if err := u.UnmarshalText([]byte(c.text)); err != nil || u != id {
			t.Fatal(u, err)
		}
	}
	p, _ := NewParams(1000)
	if _, err := quiltShape(p, 1782224); err != nil {
		t.Fatal(err)
	}
	raw := func(mutate func(b []byte)) string {
		b := QuiltPatchID{QuiltID: quilt, Start: 1, End: 208}.Bytes()
		mutate(b)
		return blobIDEncoding.EncodeToString(b)
	}
	for _, bad := range []string{
		quilt.String(),                                       // a blob ID
		raw(func(b []byte) { b[32] = 2 }),                    // version 2
		raw(func(b []byte) { b[33], b[35] = 208, 1 }),        // start 208 > end 1
		raw(func(b []byte) { b[35], b[36] = 1, 0 }),          // start = end
		"6XUOE-Q5-nAXHRifN6n9nomVDtHZQbGuAkW3PjlBuKoBAQDQAB", // non-zero trailing bits
		"6XUOE-Q5-nAXHRifN6n9nomVDtHZQbGuAkW3PjlBuKoBAQDQAA=",
		"6XUOE+Q5+nAXHRifN6n9nomVDtHZQbGuAkW3PjlBuKoBAQDQAA", // standard alphabet
	} {
		if _, err := ParseQuiltPatchID(bad); !errors.Is(err, ErrInvalidQuiltPatchID) {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

// walrus-core's test_quilt_find_min_length table.
func TestQuiltSymbolSizeRustTable(t *testing.T) {
	for i, c := range []struct {
		sizes              []int
		cols, rows, maxIdx int
		want               int
	}{
		{[]int{2, 1, 2, 1}, 3, 3, 1, -1},
		{[]int{1000, 1, 1}, 4, 7, 2, 72},
		{[]int{1}, 3, 2, 1, 4},
		{[]int{115, 80, 4}, 17, 9, 3, 6},
		{[]int{20, 20, 20}, 3, 5, 2, 4},
		{[]int{5, 5, 5}, 5, 1, 1, 6},
		{[]int{25, 35, 45}, 200, 1, 3, 10},
		{[]int{10, 0, 0, 0}, 17, 9, 2, 2},
		{[]int{416, 253, 258, 384, 492, 303, 276, 464, 143, 251, 388, 263, 515, 433, 505,
			385, 346, 69, 48, 495, 329, 450, 494, 104, 539, 245, 109, 317, 60}, 34, 16, 3, 32},
	} {
		got, err := quiltSymbolSizeWith(c.sizes, c.cols, c.rows, c.maxIdx)
		if c.want < 0 {
			if !errors.Is(err, ErrQuiltTooManyFiles) {
				t.Errorf("case %d: %d, %v", i+1, got, err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("case %d: %d, %v; want %d", i+1, got, err, c.want)
		}
	}
}

func TestQuiltEncodeErrors(t *testing.T) {
	p10, _ := NewParams(10)
	p4, _ := NewParams(4)
	f := func(id string) QuiltFile { return QuiltFile{Identifier: id, Data: []byte(id)} }
	bigTags := map[string]string{"k": strings.Repeat("v", MaxQuiltTagsSize)}
	for _, c := range []struct {
		name  string
		p     Params
		files []QuiltFile
		want  error
	}{
		{"duplicate", p10, []QuiltFile{f("a"), f("b"), f("a")}, ErrQuiltDuplicateIdentifier},
		{"empty identifier", p10, []QuiltFile{f("")}, ErrInvalidQuiltIdentifier},
		{"trailing space", p10, []QuiltFile{f("a ")}, ErrInvalidQuiltIdentifier},
		{"trailing nbsp", p10, []QuiltFile{f("a\u00a0")}, ErrInvalidQuiltIdentifier},
		{"control", p10, []QuiltFile{f("a\x01b")}, ErrInvalidQuiltIdentifier},
		{"C1 control", p10, []QuiltFile{f("a\u0085b")}, ErrInvalidQuiltIdentifier},
		{"not UTF-8", p10, []QuiltFile{f("a\xffb")}, ErrInvalidQuiltIdentifier},
		{"identifier too large", p10, []QuiltFile{f(strings.Repeat("x", 65532))}, ErrQuiltIdentifierTooLarge},
		{"tags too large", p10, []QuiltFile{{Identifier: "a", Tags: bigTags}}, ErrQuiltTagsTooLarge},
		{"tags not UTF-8", p10, []QuiltFile{{Identifier: "a", Tags: map[string]string{"k": "\xff"}}}, ErrInvalidQuiltTags},
		{"too many files", p10, []QuiltFile{f("1"), f("2"), f("3"), f("4"), f("5"), f("6"), f("7")}, ErrQuiltTooManyFiles},
		{"too large for n=4", p4, []QuiltFile{{Identifier: "big", Data: make([]byte, 2*MaxSymbolSize*2)}}, ErrQuiltTooLarge},
	} {
		if _, err := EncodeQuilt(c.p, c.files); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	// The limits themselves are accepted.
	if _, err := EncodeQuilt(p10, []QuiltFile{f(strings.Repeat("x", 65531))}); err != nil {
		t.Errorf("65531-byte identifier: %v", err)
	}
	if _, err := EncodeQuilt(p10, []QuiltFile{f("1"), f("2"), f("3"), f("4"), f("5"), f("6")}); err != nil {
		t.Errorf("6 files at n=10: %v", err)
	}
	tags := map[string]string{"k": strings.Repeat("v", MaxQuiltTagsSize-1-2-3)}
	if _, err := EncodeQuilt(p10, []QuiltFile{{Identifier: "a", Tags: tags}}); err != nil {
		t.Errorf("tags of exactly %d bytes: %v", MaxQuiltTagsSize, err)
	}
}

// Identifiers are ordered as Rust orders Strings, by UTF-8 bytes. The SDK
// compares UTF-16 code units, which differs between U+E000–U+FFFF and
// astral characters: walrus-core puts "Ａ" (U+FF21) before "😀".
func TestQuiltIdentifierOrderIsBytewise(t *testing.T) {
	p, _ := NewParams(10)
	q, err := EncodeQuilt(p, []QuiltFile{{Identifier: "😀"}, {Identifier: "Ａ"}, {Identifier: "z"}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, pt := range q.Index.Patches {
		got = append(got, pt.Identifier)
	}
	if strings.Join(got, ",") != "z,Ａ,😀" {
		t.Fatalf("order %v", got)
	}
}

// Tags are a BCS map: entries sorted by serialized key, ULEB128 prefix
// included (F12.2a). Keys under 128 bytes (one-byte prefix) come first,
// shorter first; then 128 bytes (80 01), 256 (80 02), 129 (81 01).
func TestQuiltTagsCanonicalOrder(t *testing.T) {
	k := func(n int) string { return strings.Repeat("k", n) }
	var e encoder
	encodeQuiltTags(&e, map[string]string{k(129): "", k(256): "", k(128): "", k(127): "", "b": "", "aa": ""})
	d := &decoder{b: e.b}
	d.uleb()
	var lens []int
	for range 6 {
		lens = append(lens, len(d.str()))
		d.str()
	}
	if fmt.Sprint(lens) != "[1 2 127 128 256 129]" {
		t.Fatalf("key order by length %v", lens)
	}
	d = &decoder{b: e.b}
	if m := d.tags(); d.finish() != nil || len(m) != 6 {
		t.Fatal(d.err)
	}
	// Swapped entries are rejected, as bcs rejects a non-canonical map.
	var s encoder
	s.uleb(2)
	s.bytes([]byte("b"))
	s.bytes(nil)
	s.bytes([]byte("a"))
	s.bytes(nil)
	d = &decoder{b: s.b}
	d.tags()
	if d.finish() == nil {
		t.Fatal("non-canonical map accepted")
	}
}

func randomQuiltFiles(rng *rand.Rand, count, maxSize int) []QuiltFile {
	files := make([]QuiltFile, count)
	for i := range files {
		files[i] = QuiltFile{Identifier: fmt.Sprintf("file-%03d-%x", i, rng.Uint32()), Data: randomBlob(rng, rng.IntN(maxSize+1))}
		if rng.IntN(3) == 0 {
			files[i].Tags = map[string]string{"i": fmt.Sprint(i), "type": "test"}
		}
	}
	return files
}

func TestQuiltRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 1))
	for _, n := range []int{4, 7, 10, 31, 100} {
		p, _ := NewParams(n)
		for _, count := range []int{0, 1, 2, p.Secondary() - 1} {
			files := randomQuiltFiles(rng, count, 3000)
			q, err := EncodeQuilt(p, files)
			if err != nil {
				t.Fatalf("n=%d, %d files: %v", n, count, err)
			}
			pq, err := ParseQuilt(p, q.Blob)
			if err != nil {
				t.Fatal(err)
			}
			checkIndexEqual(t, &pq.Index, &q.Index)
			for i := range files {
				got, err := pq.File(files[i].Identifier)
				if err != nil {
					t.Fatal(err)
				}
				checkFile(t, got, &files[i])
				pt, _ := pq.Index.Patch(files[i].Identifier)
				byID, err := pq.FileByID(pt.ID(BlobID{}))
				if err != nil {
					t.Fatal(err)
				}
				checkFile(t, byID, &files[i])
			}
			if _, err := pq.File("missing"); !errors.Is(err, ErrQuiltPatchNotFound) {
				t.Fatal(err)
			}
		}
	}
}

func TestQuiltDecodeErrors(t *testing.T) {
	p, _ := NewParams(10)
	files := []QuiltFile{{Identifier: "a", Data: []byte("hello")}, {Identifier: "b", Tags: map[string]string{"x": "y"}, Data: make([]byte, 300)}}
	q, err := EncodeQuilt(p, files)
	if err != nil {
		t.Fatal(err)
	}
	eb, _ := Encode(p, q.Blob)
	sec := func(j int) Sliver { return eb.Pairs[p.PairOfSliver(Secondary, j)].Secondary }

	if _, err := ParseQuilt(p, q.Blob[:len(q.Blob)-1]); !errors.Is(err, ErrMalformedQuilt) {
		t.Errorf("short blob: %v", err)
	}
	bad := bytes.Clone(q.Blob)
	bad[0] = 2
	if _, err := ParseQuilt(p, bad); !errors.Is(err, ErrMalformedQuilt) {
		t.Errorf("version 2: %v", err)
	}
	// An index longer than ten columns.
	bad = bytes.Clone(q.Blob)
	putU32(bad[1:], uint32(10*q.ColumnSize()))
	if _, err := ParseQuilt(p, bad); !errors.Is(err, ErrMalformedQuilt) {
		t.Errorf("huge index: %v", err)
	}
	// A patch ID of the wrong quilt, a missing sliver, a primary sliver.
	pt := q.Index.Patches[1]
	id := pt.ID(eb.BlobID)
	wrong := id
	wrong.QuiltID[0] ^= 1
	if _, err := DecodeQuiltPatch(p, &eb.Metadata, wrong, []Sliver{sec(pt.Start)}); !errors.Is(err, ErrInvalidQuiltPatchID) {
		t.Errorf("wrong quilt: %v", err)
	}
	if pt.End-pt.Start < 2 {
		t.Fatalf("patch b spans %d columns; the test wants 2", pt.End-pt.Start)
	}
	if _, err := DecodeQuiltPatch(p, &eb.Metadata, id, []Sliver{sec(pt.Start)}); !errors.Is(err, ErrNotEnoughSlivers) {
		t.Errorf("missing sliver: %v", err)
	}
	if _, err := DecodeQuiltPatch(p, &eb.Metadata, id, []Sliver{eb.Pairs[0].Primary}); !errors.Is(err, ErrInvalidSliver) {
		t.Errorf("primary sliver: %v", err)
	}
	// A patch ID whose range is not the patch's.
	short := QuiltPatchID{QuiltID: eb.BlobID, Start: pt.Start, End: pt.Start + 1}
	if _, err := DecodeQuiltPatch(p, &eb.Metadata, short, []Sliver{sec(pt.Start)}); !errors.Is(err, ErrMalformedQuilt) {
		t.Errorf("short range: %v", err)
	}
	if _, err := QuiltIndexSlivers(p, &eb.Metadata, sec(1)); !errors.Is(err, ErrInvalidSliver) {
		t.Errorf("index from sliver 1: %v", err)
	}
	// Not a quilt: a blob whose length is not nPrim·nSec·S.
	other, _ := Encode(p, []byte("not a quilt"))
	if _, err := DecodeQuiltIndex(p, &other.Metadata, []Sliver{other.Pairs[p.NShards-1].Secondary}); !errors.Is(err, ErrMalformedQuilt) {
		t.Errorf("plain blob: %v", err)
	}
}

// TestQuiltPatchReadCost measures what reading one small file moves at
// n = 1000, for a quilt of 120 files (a small website), against reading the
// whole quilt: the slivers and their bytes, and the metadata needed to verify
// them either way.
func TestQuiltPatchReadCost(t *testing.T) {
	if testing.Short() || quiltRace {
		t.Skip("encodes a quilt at n = 1000; runs without -short and -race")
	}
	p, _ := NewParams(1000)
	rng := rand.New(rand.NewPCG(120, 1000))
	files := make([]QuiltFile, 120)
	total := 0
	for i := range files {
		size := 200 + rng.IntN(8000)
		if i == 0 {
			size = 700 // the small file read below
		}
		files[i] = QuiltFile{Identifier: fmt.Sprintf("site/page-%03d.html", i), Data: randomBlob(rng, size)}
		total += size
	}
	q, err := EncodeQuilt(p, files)
	if err != nil {
		t.Fatal(err)
	}
	eb, err := Encode(p, q.Blob)
	if err != nil {
		t.Fatal(err)
	}
	sliver := func(j int) Sliver { return eb.Pairs[p.PairOfSliver(Secondary, j)].Secondary }
	fetch := func(idx []int) ([]Sliver, int) {
		var out []Sliver
		wire := 0
		for _, j := range idx {
			s := sliver(j)
			out = append(out, s)
			wire += len(s.MarshalBCS())
		}
		for _, err := range VerifySlivers(p, &eb.Metadata, out) {
			if err != nil {
				t.Fatal(err)
			}
		}
		return out, wire
	}
	// By identifier: sliver 0, the rest of the index, then the patch.
	col0, w0 := fetch([]int{0})
	which, err := QuiltIndexSlivers(p, &eb.Metadata, col0[0])
	if err != nil {
		t.Fatal(err)
	}
	idxSlivers, wIdx := fetch(which)
	ix, err := DecodeQuiltIndex(p, &eb.Metadata, idxSlivers)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := ix.Patch(files[0].Identifier)
	if err != nil {
		t.Fatal(err)
	}
	patchSlivers, wPatch := fetch(pt.SliverIndices())
	f, err := DecodeQuiltPatch(p, &eb.Metadata, pt.ID(eb.BlobID), patchSlivers)
	if err != nil {
		t.Fatal(err)
	}
	checkFile(t, f, &files[0])
	_ = w0
	meta := len(MarshalMetadataWithID(eb.BlobID, &eb.Metadata))
	colBytes := p.Primary() * q.SymbolSize
	// The whole quilt: nPrim primary slivers (or nSec secondary ones).
	whole := p.Primary() * len(eb.Pairs[0].Primary.MarshalBCS())
	t.Logf("n=1000, %d files, %d bytes of files, quilt of %d bytes (S=%d), index in %d column(s), a sliver holds %d bytes",
		len(files), total, len(q.Blob), q.SymbolSize, len(which), colBytes)
	t.Logf("one %d-byte file by patch ID: %d secondary sliver(s), %d bytes on the wire", len(files[0].Data), len(patchSlivers), wPatch)
	t.Logf("one %d-byte file by identifier: %d sliver(s) (index %d + patch %d), %d bytes", len(files[0].Data), len(which)+len(patchSlivers), len(which), len(patchSlivers), wIdx+wPatch)
	t.Logf("whole quilt: %d primary slivers, %d bytes (%.0f× the by-identifier read); metadata to verify either: %d bytes",
		p.Primary(), whole, float64(whole)/float64(wIdx+wPatch), meta)
	if len(patchSlivers) > 2 || wIdx+wPatch > whole/50 {
		t.Fatalf("a small patch read moves %d bytes of %d", wIdx+wPatch, whole)
	}
}
