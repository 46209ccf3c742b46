package codec

import (
	"bytes"
	"testing"
)

// Fuzz targets for every BCS decoder: they must never panic, and whatever
// decodes must encode back to the same bytes.

func seedMetadata(f *testing.F) {
	p, _ := NewParams(7)
	eb, _ := Encode(p, []byte("fuzz seed blob"))
	f.Add(MarshalMetadataWithID(eb.BlobID, &eb.Metadata))
	f.Add(eb.Pairs[1].Primary.MarshalBCS())
	src, _ := NewSymbolSource(p, eb.Pairs[1].Secondary)
	sym, _ := src.Symbol(2)
	f.Add(sym.MarshalBCS())
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
}

func FuzzUnmarshalMetadataWithID(f *testing.F) {
	seedMetadata(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		id, m, err := UnmarshalMetadataWithID(b)
		if err != nil {
			return
		}
		if got := MarshalMetadataWithID(id, &m); string(got) != string(b) {
			t.Fatalf("re-encoding differs")
		}
		if p, err := NewParams(len(m.Hashes)); err == nil {
			_ = VerifyMetadata(p, id, &m)
		}
	})
}

func FuzzUnmarshalSliver(f *testing.F) {
	seedMetadata(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := UnmarshalSliver(b, Primary)
		if err != nil {
			return
		}
		if got := s.MarshalBCS(); string(got) != string(b) {
			t.Fatalf("re-encoding differs")
		}
	})
}

// FuzzSliverFromBCSParts: split anywhere into head, data and a 4-byte
// tail, the parts decode only to what UnmarshalSliver makes of the joined
// bytes, and they do whenever the head is the canonical length of the
// symbols UnmarshalSliver found.
func FuzzSliverFromBCSParts(f *testing.F) {
	seedMetadata(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		whole, werr := UnmarshalSliver(b, Primary)
		for headLen := range min(len(b), 6) + 1 {
			if len(b) < headLen+SliverBCSTailLen {
				return
			}
			head, data, tail := b[:headLen], b[headLen:len(b)-SliverBCSTailLen], b[len(b)-SliverBCSTailLen:]
			s, err := SliverFromBCSParts(Primary, head, data, tail)
			if err == nil {
				if werr != nil {
					t.Fatalf("parts at %d decode, the whole does not: %v", headLen, werr)
				}
				if s.Index != whole.Index || s.SymbolSize != whole.SymbolSize || s.Type != whole.Type || string(s.Data) != string(whole.Data) {
					t.Fatalf("parts at %d decode to another sliver", headLen)
				}
				if len(data) > 0 && &s.Data[0] != &data[0] {
					t.Fatal("the sliver's symbols are a copy")
				}
			} else if werr == nil && headLen == SliverBCSHeadLen(len(whole.Data)) {
				t.Fatalf("the whole decodes, its parts at %d do not: %v", headLen, err)
			}
		}
	})
}

func FuzzUnmarshalRecoverySymbol(f *testing.F) {
	seedMetadata(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := UnmarshalRecoverySymbol(b, Secondary)
		if err != nil {
			return
		}
		if got := r.MarshalBCS(); string(got) != string(b) {
			t.Fatalf("re-encoding differs")
		}
	})
}

func FuzzUnmarshalGeneralRecoverySymbols(f *testing.F) {
	seedMetadata(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		gs, err := UnmarshalGeneralRecoverySymbols(b, 64)
		if err != nil {
			return
		}
		if got := MarshalGeneralRecoverySymbols(gs); string(got) != string(b) {
			t.Fatalf("re-encoding differs")
		}
	})
}

func FuzzUnmarshalInconsistencyProof(f *testing.F) {
	seedMetadata(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := UnmarshalInconsistencyProof(b, Primary)
		if err != nil {
			return
		}
		if got := p.MarshalBCS(); string(got) != string(b) {
			t.Fatalf("re-encoding differs")
		}
	})
}

func FuzzUnmarshalMerkleProof(f *testing.F) {
	seedMetadata(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := UnmarshalMerkleProof(b)
		if err != nil {
			return
		}
		if got := p.MarshalBCS(); string(got) != string(b) {
			t.Fatalf("re-encoding differs")
		}
	})
}

func FuzzUnmarshalSignedMessage(f *testing.F) {
	seedMetadata(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := UnmarshalSignedMessage(b, 1024)
		if err != nil {
			return
		}
		if got := m.MarshalBCS(); string(got) != string(b) {
			t.Fatalf("re-encoding differs")
		}
		_, _ = ParseStorageConfirmation(m.Message)
		_, _, _ = ParseInvalidBlobID(m.Message)
	})
}

func FuzzParseBlobID(f *testing.F) {
	f.Add("RcU82Mwf-CFkv1LaI_2qcpANwpGUuG3TMwnVzZxD2kY")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseBlobID(s)
		if err == nil && id.String() != s {
			t.Fatalf("%q parses to %s", s, id)
		}
	})
}

func FuzzUnmarshalTypedSliver(f *testing.F) {
	p, _ := NewParams(7)
	eb, _ := Encode(p, []byte("fuzz seed blob"))
	f.Add(MarshalTypedSliver(&eb.Pairs[2].Secondary))
	f.Add([]byte{2, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := UnmarshalTypedSliver(b)
		if err != nil {
			return
		}
		if got := MarshalTypedSliver(&s); string(got) != string(b) {
			t.Fatalf("re-encoding differs")
		}
	})
}

func FuzzParseSyncShardMessage(f *testing.F) {
	f.Add(SyncShardMessage(SyncShardRequest{Shard: 3, Type: Primary, Count: 64, Epoch: 2}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseSyncShardMessage(b)
		if err != nil {
			return
		}
		if got := SyncShardMessage(r); !bytes.Equal(got, b) {
			t.Fatalf("re-encoding differs: %x vs %x", got, b)
		}
	})
}
