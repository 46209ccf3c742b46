package codec

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// vectorsDir is testdata/vectors, the Walrus encoder's vectors committed with
// the package (testdata/vectors/gen regenerates them); FLOE_VECTORS overrides it.
func vectorsDir(t testing.TB) string {
	d := filepath.Join("testdata", "vectors")
	if e := os.Getenv("FLOE_VECTORS"); e != "" {
		d = e
	}
	if _, err := os.Stat(filepath.Join(d, "index.json")); err != nil {
		t.Fatalf("test vectors not found at %s: %v", d, err)
	}
	return d
}

type vectorCase struct {
	Name           string   `json:"name"`
	NShards        int      `json:"n_shards"`
	SymbolSize     int      `json:"symbol_size"`
	Length         uint64   `json:"unencoded_length"`
	BlobID         string   `json:"blob_id"`
	BlobIDHex      string   `json:"blob_id_hex"`
	RootHashHex    string   `json:"root_hash_hex"`
	PrimarySHA     []string `json:"primary_sliver_sha256"`
	SecondarySHA   []string `json:"secondary_sliver_sha256"`
	PrimaryRoots   []string `json:"primary_merkle_root"`
	SecondaryRoots []string `json:"secondary_merkle_root"`
	Input          struct {
		Seed   string `json:"seed"`
		Length int    `json:"length"`
		SHA256 string `json:"sha256"`
	} `json:"input"`
	Pair0    struct{ PrimaryHex, SecondaryHex string } `json:"-"`
	Pair0Raw struct {
		Primary   string `json:"primary_hex"`
		Secondary string `json:"secondary_hex"`
	} `json:"pair0_raw"`
	LastPairRaw struct {
		Primary   string `json:"primary_hex"`
		Secondary string `json:"secondary_hex"`
	} `json:"last_pair_raw"`
}

// seededInput is the vectors' generator: block_i = SHA256(seed ‖ u32be(i)),
// concatenated and truncated to length.
func seededInput(seed string, length int) []byte {
	out := make([]byte, 0, length+32)
	var ctr [4]byte
	for i := uint32(0); len(out) < length; i++ {
		binary.BigEndian.PutUint32(ctr[:], i)
		h := sha256.Sum256(append([]byte(seed), ctr[:]...))
		out = append(out, h[:]...)
	}
	return out[:length]
}

func loadVectors(t testing.TB) []vectorCase {
	dir := vectorsDir(t)
	var idx struct {
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
	var cases []vectorCase
	for _, c := range idx.Cases {
		b, err := os.ReadFile(filepath.Join(dir, c.File))
		if err != nil {
			t.Fatal(err)
		}
		var vc vectorCase
		if err := json.Unmarshal(b, &vc); err != nil {
			t.Fatalf("%s: %v", c.File, err)
		}
		cases = append(cases, vc)
	}
	if len(cases) == 0 {
		t.Fatal("no vector cases")
	}
	return cases
}

func hexSHA(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }

// TestVectors checks every case produced by the official Walrus encoder:
// blob ID, root hash, every pair's Merkle roots and every sliver's SHA-256.
func TestVectors(t *testing.T) {
	for _, vc := range loadVectors(t) {
		t.Run(vc.Name, func(t *testing.T) {
			blob := seededInput(vc.Input.Seed, vc.Input.Length)
			if got := hexSHA(blob); got != vc.Input.SHA256 {
				t.Fatalf("generated input sha256 %s, want %s", got, vc.Input.SHA256)
			}
			p, err := NewParams(vc.NShards)
			if err != nil {
				t.Fatal(err)
			}
			eb, err := Encode(p, blob)
			if err != nil {
				t.Fatal(err)
			}
			if eb.SymbolSize != vc.SymbolSize {
				t.Errorf("symbol size %d, want %d", eb.SymbolSize, vc.SymbolSize)
			}
			root := eb.Metadata.RootHash()
			if got := hex.EncodeToString(root[:]); got != vc.RootHashHex {
				t.Errorf("root hash %s, want %s", got, vc.RootHashHex)
			}
			if eb.BlobID.String() != vc.BlobID || hex.EncodeToString(eb.BlobID[:]) != vc.BlobIDHex {
				t.Errorf("blob ID %s, want %s", eb.BlobID, vc.BlobID)
			}
			if len(vc.PrimaryRoots) != vc.NShards || len(vc.PrimarySHA) != vc.NShards {
				t.Fatalf("case lists %d roots for n=%d", len(vc.PrimaryRoots), vc.NShards)
			}
			bad := 0
			for pair := range vc.NShards {
				h := eb.Metadata.Hashes[pair]
				pr := eb.Pairs[pair]
				for _, chk := range []struct{ what, got, want string }{
					{"primary root", hex.EncodeToString(h.Primary[:]), vc.PrimaryRoots[pair]},
					{"secondary root", hex.EncodeToString(h.Secondary[:]), vc.SecondaryRoots[pair]},
					{"primary sliver sha256", hexSHA(pr.Primary.Data), vc.PrimarySHA[pair]},
					{"secondary sliver sha256", hexSHA(pr.Secondary.Data), vc.SecondarySHA[pair]},
				} {
					if chk.got != chk.want {
						if bad++; bad <= 5 {
							t.Errorf("pair %d %s: %s, want %s", pair, chk.what, chk.got, chk.want)
						}
					}
				}
			}
			first, last := eb.Pairs[0], eb.Pairs[vc.NShards-1]
			for _, chk := range []struct{ what, got, want string }{
				{"pair 0 primary", hex.EncodeToString(first.Primary.Data), vc.Pair0Raw.Primary},
				{"pair 0 secondary", hex.EncodeToString(first.Secondary.Data), vc.Pair0Raw.Secondary},
				{"last pair primary", hex.EncodeToString(last.Primary.Data), vc.LastPairRaw.Primary},
				{"last pair secondary", hex.EncodeToString(last.Secondary.Data), vc.LastPairRaw.Secondary},
			} {
				if chk.want != "" && chk.got != chk.want {
					t.Errorf("%s bytes differ", chk.what)
				}
			}
			// The streaming metadata path must agree with the full encoder.
			m, id, err := ComputeMetadata(p, blob)
			if err != nil {
				t.Fatal(err)
			}
			if id != eb.BlobID || m.RootHash() != root {
				t.Errorf("ComputeMetadata gives %s, Encode %s", id, eb.BlobID)
			}
		})
	}
}

// TestUpstreamVectors checks the two blob IDs of Walrus's own tests (§16).
func TestUpstreamVectors(t *testing.T) {
	for _, tc := range []struct {
		blob string
		n    int
		id   string
		root string
		rot  int
	}{
		{"walrus blob id v1 regression test", 10, "RcU82Mwf-CFkv1LaI_2qcpANwpGUuG3TMwnVzZxD2kY", "dc3457c94140737f55ccfba619f79c96928f3845da745142c7c8e23396eedf88", 8},
		{"some other string", 1000, "M4hsZGQ1oCktdzegB6HnI6Mi28S2nqOPHxK-W7_4BUk", "e13e047c4cd7ac970de70dfc1bf77cf1d20b4a5c22fd17727dd223c2fde08c3f", 977},
	} {
		p, _ := NewParams(tc.n)
		eb, err := Encode(p, []byte(tc.blob))
		if err != nil {
			t.Fatal(err)
		}
		root := eb.Metadata.RootHash()
		if eb.BlobID.String() != tc.id || hex.EncodeToString(root[:]) != tc.root {
			t.Errorf("%q n=%d: blob ID %s root %x, want %s %s", tc.blob, tc.n, eb.BlobID, root, tc.id, tc.root)
		}
		if got := p.Rotation(eb.BlobID); got != tc.rot {
			t.Errorf("%q: rotation %d, want %d", tc.blob, got, tc.rot)
		}
	}
	// Pattern blobs (byte i = i mod 251) of the spec's table.
	for _, tc := range []struct {
		n, length int
		s         int
		id        string
	}{
		{10, 0, 2, "gLzpD29smKZiYJIWwKatudKr76kEprQeMPyAhuMbWd4"},
		{10, 1, 2, "B8JP-LX6iddHMffJGU7HUxEBtx8WuYjCG1wLOtLWo8A"},
		{10, 1000, 36, "asw--O_1SfB-F6SKjSLCwRCu34Kz5nys36KkK2i22no"},
		{7, 100, 8, "_drVvMK5eUGKoKFPayP712kvgb6Xpi8a6s7YE79Vz_g"},
		{100, 227750, 100, "8tDyfggUQeI8X2sT21HWTSdPu9Bjc29J9_wvdj4luUc"},
		{1000, 0, 2, "3GPQL3HZNnFhN_F7l5Aa-X1VOtAKwIsg9zuWk8R81v4"},
	} {
		blob := make([]byte, tc.length)
		for i := range blob {
			blob[i] = byte(i % 251)
		}
		p, _ := NewParams(tc.n)
		_, id, err := ComputeMetadata(p, blob)
		if err != nil {
			t.Fatal(err)
		}
		if s, _ := p.SymbolSize(uint64(tc.length)); s != tc.s || id.String() != tc.id {
			t.Errorf("pattern n=%d len=%d: S=%d id %s, want S=%d %s", tc.n, tc.length, s, id, tc.s, tc.id)
		}
	}
}
