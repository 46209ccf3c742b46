package codec

import (
	"errors"
	"fmt"
)

// BCS forms of the Walrus types (F4.9, F7.10). Every decoder bounds every
// length it reads by the bytes left and by the protocol's limits, and
// returns ErrMalformed instead of panicking.

// ErrMalformed means bytes do not decode as the expected BCS type.
var ErrMalformed = errors.New("codec: malformed BCS")

// Limits on decoded lengths beyond "no more than the input holds".
const (
	maxProofNodes   = 17 // ceil(log2(65535)) + 1
	maxVectorLength = 1 << 31
)

type encoder struct{ b []byte }

func (e *encoder) u8(v byte)    { e.b = append(e.b, v) }
func (e *encoder) u16(v uint16) { e.b = append(e.b, byte(v), byte(v>>8)) }
func (e *encoder) u32(v uint32) { e.b = append(e.b, byte(v), byte(v>>8), byte(v>>16), byte(v>>24)) }
func (e *encoder) u64(v uint64) {
	for i := range 8 {
		e.b = append(e.b, byte(v>>(8*i)))
	}
}
func (e *encoder) uleb(v uint64) {
	for v >= 0x80 {
		e.b = append(e.b, byte(v)|0x80)
		v >>= 7
	}
	e.b = append(e.b, byte(v))
}
func (e *encoder) bytes(b []byte) { e.uleb(uint64(len(b))); e.b = append(e.b, b...) }
func (e *encoder) raw(b []byte)   { e.b = append(e.b, b...) }
func (e *encoder) node(n Node) {
	if n.Empty {
		e.u8(0)
		return
	}
	e.u8(1)
	e.raw(n.Digest[:])
}

type decoder struct {
	b   []byte
	off int
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s at offset %d", ErrMalformed, fmt.Sprintf(format, args...), d.off)
	}
}

func (d *decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b)-d.off {
		d.fail("need %d bytes, %d left", n, len(d.b)-d.off)
		return nil
	}
	s := d.b[d.off : d.off+n]
	d.off += n
	return s
}

func (d *decoder) u8() byte {
	s := d.take(1)
	if s == nil {
		return 0
	}
	return s[0]
}

func (d *decoder) u16() uint16 {
	s := d.take(2)
	if s == nil {
		return 0
	}
	return uint16(s[0]) | uint16(s[1])<<8
}

func (d *decoder) u32() uint32 {
	s := d.take(4)
	if s == nil {
		return 0
	}
	return uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24
}

func (d *decoder) u64() uint64 {
	s := d.take(8)
	var v uint64
	for i, c := range s {
		v |= uint64(c) << (8 * i)
	}
	return v
}

// uleb reads a ULEB128 length as BCS does: at most 32 bits, canonical.
func (d *decoder) uleb() int {
	var v uint64
	for shift := 0; shift < 35; shift += 7 {
		c := d.u8()
		if d.err != nil {
			return 0
		}
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			if c == 0 && shift > 0 {
				d.fail("non-canonical ULEB128")
				return 0
			}
			if v > maxVectorLength {
				d.fail("length %d too large", v)
				return 0
			}
			return int(v)
		}
	}
	d.fail("ULEB128 too long")
	return 0
}

// length reads a vector length and checks it against max and against the
// bytes left, given each element takes at least minSize bytes.
func (d *decoder) length(max, minSize int) int {
	n := d.uleb()
	if d.err != nil {
		return 0
	}
	if n > max {
		d.fail("vector of %d elements exceeds %d", n, max)
		return 0
	}
	if minSize > 0 && n > (len(d.b)-d.off)/minSize {
		d.fail("vector of %d elements longer than the input", n)
		return 0
	}
	return n
}

func (d *decoder) byteVec(max int) []byte {
	n := d.length(max, 1)
	return d.take(n)
}

func (d *decoder) digest() (out [DigestSize]byte) {
	copy(out[:], d.take(DigestSize))
	return out
}

func (d *decoder) node() Node {
	switch tag := d.u8(); tag {
	case 0:
		return Node{Empty: true}
	case 1:
		return Node{Digest: d.digest()}
	default:
		d.fail("Merkle node tag %d", tag)
		return Node{}
	}
}

func (d *decoder) finish() error {
	if d.err == nil && d.off != len(d.b) {
		d.fail("%d trailing bytes", len(d.b)-d.off)
	}
	return d.err
}

// MarshalBCS encodes BlobMetadata (enum V1): the PUT body of F4.9.
func (m *Metadata) MarshalBCS() []byte {
	e := &encoder{b: make([]byte, 0, 11+len(m.Hashes)*2*(DigestSize+1))}
	m.encode(e)
	return e.b
}

func (m *Metadata) encode(e *encoder) {
	e.u8(0) // BlobMetadata::V1
	e.u8(m.EncodingType)
	e.u64(m.UnencodedLength)
	e.uleb(uint64(len(m.Hashes)))
	for _, h := range m.Hashes {
		e.u8(1)
		e.raw(h.Primary[:])
		e.u8(1)
		e.raw(h.Secondary[:])
	}
}

func (m *Metadata) decode(d *decoder) {
	if v := d.u8(); d.err == nil && v != 0 {
		d.fail("metadata version %d", v)
	}
	m.EncodingType = d.u8()
	if d.err == nil && m.EncodingType != EncodingTypeRS2 {
		d.fail("encoding type %d, only RS2 (1) is supported", m.EncodingType)
	}
	m.UnencodedLength = d.u64()
	n := d.length(MaxShards, 2*(1+DigestSize))
	if d.err != nil {
		return
	}
	m.Hashes = make([]SliverPairHashes, n)
	for i := range m.Hashes {
		p, s := d.node(), d.node()
		if d.err == nil && (p.Empty || s.Empty) {
			d.fail("pair %d has an empty hash", i)
		}
		m.Hashes[i] = SliverPairHashes{Primary: p.Digest, Secondary: s.Digest}
	}
}

// UnmarshalMetadata decodes the BCS of BlobMetadata.
func UnmarshalMetadata(b []byte) (Metadata, error) {
	var m Metadata
	d := &decoder{b: b}
	m.decode(d)
	return m, d.finish()
}

// MarshalMetadataWithID encodes BlobMetadataWithId: the blob ID, then the
// metadata (the GET body of F4.9).
func MarshalMetadataWithID(id BlobID, m *Metadata) []byte {
	e := &encoder{b: make([]byte, 0, DigestSize+11+len(m.Hashes)*2*(DigestSize+1))}
	e.raw(id[:])
	m.encode(e)
	return e.b
}

// UnmarshalMetadataWithID decodes BlobMetadataWithId. It does not verify
// the metadata: call VerifyMetadata.
func UnmarshalMetadataWithID(b []byte) (BlobID, Metadata, error) {
	d := &decoder{b: b}
	id := BlobID(d.digest())
	var m Metadata
	m.decode(d)
	return id, m, d.finish()
}

// MarshalBCS encodes SliverData: Symbols{data, symbol_size u16} ‖ index u16.
// The sliver type is not part of SliverData; it travels beside it.
func (s *Sliver) MarshalBCS() []byte {
	e := &encoder{b: make([]byte, 0, len(s.Data)+12)}
	e.bytes(s.Data)
	e.u16(uint16(s.SymbolSize))
	e.u16(uint16(s.Index))
	return e.b
}

func (s *Sliver) decode(d *decoder, t SliverType) {
	s.Type = t
	s.Data = d.byteVec(MaxSymbolSize * MaxShards)
	s.SymbolSize = int(d.u16())
	s.Index = int(d.u16())
}

// UnmarshalSliver decodes SliverData of type t.
func UnmarshalSliver(b []byte, t SliverType) (Sliver, error) {
	var s Sliver
	d := &decoder{b: b}
	s.decode(d, t)
	return s, d.finish()
}

// SliverBCSTailLen is the length of what follows a sliver's symbols in its
// BCS (SliverData): the symbol size and the index, two u16.
const SliverBCSTailLen = 4

// SliverBCSHeadLen is the length of what comes before dataLen bytes of
// symbols in a sliver's BCS: their ULEB128 length. A sliver's BCS is
// SliverBCSHeadLen(len(Data)) + len(Data) + SliverBCSTailLen bytes.
func SliverBCSHeadLen(dataLen int) int {
	n := 1
	for v := uint64(dataLen); v >= 0x80; v >>= 7 {
		n++
	}
	return n
}

// SliverFromBCSParts decodes SliverData of type t whose BCS is head ‖ data
// ‖ tail, as UnmarshalSliver does the joined bytes, without copying data:
// the sliver's Data is data. A reader puts the symbols of a sliver where
// they belong and its head and tail aside.
func SliverFromBCSParts(t SliverType, head, data, tail []byte) (Sliver, error) {
	d := &decoder{b: head}
	n := d.uleb()
	if err := d.finish(); err != nil {
		return Sliver{}, err
	}
	if n != len(data) {
		return Sliver{}, fmt.Errorf("%w: the head names %d bytes of symbols, %d follow", ErrMalformed, n, len(data))
	}
	if n > MaxSymbolSize*MaxShards {
		return Sliver{}, fmt.Errorf("%w: vector of %d elements exceeds %d", ErrMalformed, n, MaxSymbolSize*MaxShards)
	}
	d = &decoder{b: tail}
	s := Sliver{Type: t, Data: data, SymbolSize: int(d.u16()), Index: int(d.u16())}
	if err := d.finish(); err != nil {
		return Sliver{}, err
	}
	return s, nil
}

// MarshalBCS encodes a MerkleProof as Vec<Node>.
func (p *MerkleProof) MarshalBCS() []byte {
	e := &encoder{}
	p.encode(e)
	return e.b
}

func (p *MerkleProof) encode(e *encoder) {
	e.uleb(uint64(len(p.Path)))
	for _, n := range p.Path {
		e.node(n)
	}
}

func (p *MerkleProof) decode(d *decoder) {
	n := d.length(maxProofNodes, 1)
	if d.err != nil {
		return
	}
	p.Path = make([]Node, n)
	for i := range p.Path {
		p.Path[i] = d.node()
	}
}

// UnmarshalMerkleProof decodes a MerkleProof.
func UnmarshalMerkleProof(b []byte) (MerkleProof, error) {
	var p MerkleProof
	d := &decoder{b: b}
	p.decode(d)
	return p, d.finish()
}

// RecoverySymbol is a symbol of the expanded blob matrix offered to rebuild
// a sliver of type Target (F5.2): DecodingSymbol{Index, Data} ‖ Proof.
// Index is the index of the source sliver on the orthogonal axis; the proof
// is for leaf (target sliver index) of that source sliver's expanded tree.
type RecoverySymbol struct {
	Target SliverType
	Index  int
	Data   []byte
	Proof  MerkleProof
}

func (r *RecoverySymbol) encode(e *encoder) {
	e.u16(uint16(r.Index))
	e.bytes(r.Data)
	r.Proof.encode(e)
}

func (r *RecoverySymbol) decode(d *decoder, target SliverType) {
	r.Target = target
	r.Index = int(d.u16())
	r.Data = d.byteVec(MaxSymbolSize)
	r.Proof.decode(d)
}

// MarshalBCS encodes RecoverySymbol<T>: DecodingSymbol ‖ MerkleProof.
func (r *RecoverySymbol) MarshalBCS() []byte {
	e := &encoder{}
	r.encode(e)
	return e.b
}

// UnmarshalRecoverySymbol decodes a RecoverySymbol for a target of type t.
func UnmarshalRecoverySymbol(b []byte, t SliverType) (RecoverySymbol, error) {
	var r RecoverySymbol
	d := &decoder{b: b}
	r.decode(d, t)
	return r, d.finish()
}

// GeneralRecoverySymbol carries its target type and target index with it:
// EitherDecodingSymbol ‖ target_index u16 ‖ MerkleProof (F7.10).
type GeneralRecoverySymbol struct {
	RecoverySymbol
	TargetIndex int
}

// MarshalBCS encodes the GeneralRecoverySymbol.
func (g *GeneralRecoverySymbol) MarshalBCS() []byte {
	e := &encoder{}
	e.u8(byte(g.Target))
	e.u16(uint16(g.Index))
	e.bytes(g.Data)
	e.u16(uint16(g.TargetIndex))
	g.Proof.encode(e)
	return e.b
}

// MarshalGeneralRecoverySymbols encodes Vec<GeneralRecoverySymbol>, the
// body of the recoverySymbols response.
func MarshalGeneralRecoverySymbols(syms []GeneralRecoverySymbol) []byte {
	e := &encoder{}
	e.uleb(uint64(len(syms)))
	for i := range syms {
		e.raw(syms[i].MarshalBCS())
	}
	return e.b
}

// UnmarshalGeneralRecoverySymbols decodes Vec<GeneralRecoverySymbol> of at
// most max entries.
func UnmarshalGeneralRecoverySymbols(b []byte, max int) ([]GeneralRecoverySymbol, error) {
	d := &decoder{b: b}
	n := d.length(max, 6)
	out := make([]GeneralRecoverySymbol, 0, n)
	for range n {
		var g GeneralRecoverySymbol
		tag := d.u8()
		if d.err == nil && tag > 1 {
			d.fail("decoding symbol tag %d", tag)
		}
		g.Target = SliverType(tag)
		g.Index = int(d.u16())
		g.Data = d.byteVec(MaxSymbolSize)
		g.TargetIndex = int(d.u16())
		g.Proof.decode(d)
		if d.err != nil {
			break
		}
		out = append(out, g)
	}
	return out, d.finish()
}

// InconsistencyProof shows that the sliver of type Target at TargetIndex,
// rebuilt from Symbols, does not match the metadata (F5.4).
type InconsistencyProof struct {
	Target      SliverType
	TargetIndex int
	Symbols     []RecoverySymbol
}

// MarshalBCS encodes InconsistencyProof<T>: target index ‖ Vec<RecoverySymbol<T>>.
func (p *InconsistencyProof) MarshalBCS() []byte {
	e := &encoder{}
	e.u16(uint16(p.TargetIndex))
	e.uleb(uint64(len(p.Symbols)))
	for i := range p.Symbols {
		p.Symbols[i].encode(e)
	}
	return e.b
}

// UnmarshalInconsistencyProof decodes an InconsistencyProof for target type t.
func UnmarshalInconsistencyProof(b []byte, t SliverType) (InconsistencyProof, error) {
	var p InconsistencyProof
	d := &decoder{b: b}
	p.Target = t
	p.TargetIndex = int(d.u16())
	n := d.length(MaxShards, 4)
	if d.err == nil {
		p.Symbols = make([]RecoverySymbol, n)
		for i := range p.Symbols {
			p.Symbols[i].decode(d, t)
		}
	}
	return p, d.finish()
}

// MarshalBCS encodes SignedMessage: message bytes ‖ 96-byte signature.
func (m *SignedMessage) MarshalBCS() []byte {
	e := &encoder{}
	e.bytes(m.Message)
	e.raw(m.Signature[:])
	return e.b
}

// UnmarshalSignedMessage decodes a SignedMessage whose message is at most
// maxMessage bytes.
func UnmarshalSignedMessage(b []byte, maxMessage int) (SignedMessage, error) {
	var m SignedMessage
	d := &decoder{b: b}
	m.Message = d.byteVec(maxMessage)
	copy(m.Signature[:], d.take(BLSSignatureSize))
	return m, d.finish()
}

// MarshalTypedSliver encodes the Sliver enum of shard-sync responses
// (F7.10): 0 = Primary(SliverData), 1 = Secondary(SliverData).
func MarshalTypedSliver(s *Sliver) []byte {
	return append([]byte{byte(s.Type)}, s.MarshalBCS()...)
}

// UnmarshalTypedSliver decodes the Sliver enum.
func UnmarshalTypedSliver(b []byte) (Sliver, error) {
	var s Sliver
	d := &decoder{b: b}
	tag := d.u8()
	if d.err == nil && tag > 1 {
		d.fail("sliver tag %d", tag)
	}
	s.decode(d, SliverType(tag))
	return s, d.finish()
}
