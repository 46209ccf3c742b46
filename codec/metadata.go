package codec

// SliverPairHashes are the Merkle roots of one sliver pair's expanded
// slivers (F4.3): Primary over expanded row p, Secondary over expanded
// column n-1-p.
type SliverPairHashes struct {
	Primary   [DigestSize]byte
	Secondary [DigestSize]byte
}

// Metadata is BlobMetadataV1 (F4.9).
type Metadata struct {
	EncodingType    byte
	UnencodedLength uint64
	Hashes          []SliverPairHashes
}

// RootHash is the Merkle root over the n pair leaves primary ‖ secondary (F4.4).
func (m *Metadata) RootHash() [DigestSize]byte {
	n := len(m.Hashes)
	buf := make([]byte, n*2*DigestSize)
	for i, h := range m.Hashes {
		copy(buf[i*2*DigestSize:], h.Primary[:])
		copy(buf[i*2*DigestSize+DigestSize:], h.Secondary[:])
	}
	return MerkleRoot(buf, n, 2*DigestSize, 2*DigestSize)
}

// BlobID derives the blob ID the metadata commits to (F4.5).
func (m *Metadata) BlobID() BlobID {
	return DeriveBlobID(m.EncodingType, m.UnencodedLength, m.RootHash())
}

// Hash returns the metadata hash of the sliver of type t with index idx
// (primary i → pair i; secondary j → pair n-1-j).
func (m *Metadata) Hash(t SliverType, idx int) [DigestSize]byte {
	n := len(m.Hashes)
	if t == Primary {
		return m.Hashes[idx].Primary
	}
	return m.Hashes[n-1-idx].Secondary
}

// Sliver is SliverData (F7.10): the symbols of one row (primary) or column
// (secondary) of the blob matrix.
type Sliver struct {
	Type       SliverType
	Index      int
	SymbolSize int
	Data       []byte
}

// Symbol returns symbol i of the sliver.
func (s *Sliver) Symbol(i int) []byte { return s.Data[i*s.SymbolSize : (i+1)*s.SymbolSize] }

// SliverPair is pair p: primary sliver p and secondary sliver n-1-p (F3.5).
type SliverPair struct {
	Primary   Sliver
	Secondary Sliver
}

// EncodedBlob is the result of encoding a blob: its ID, metadata and all n
// sliver pairs.
type EncodedBlob struct {
	Params     Params
	BlobID     BlobID
	Metadata   Metadata
	SymbolSize int
	Pairs      []SliverPair
}
