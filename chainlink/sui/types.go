package sui

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"floe/chainlink"
)

// Address is a Sui address or object ID: 32 bytes, 0x-hex text. It is
// chainlink.ID, so node IDs, blob objects and accounts cross the adapter
// unchanged.
type Address = chainlink.ID

// ParseAddress parses a Sui address: 0x followed by 1 to 64 hex digits
// (short forms such as 0x2 are left-padded with zeros, as Sui normalizes
// them).
func ParseAddress(s string) (Address, error) {
	var a Address
	h, ok := strings.CutPrefix(s, "0x")
	if !ok || len(h) == 0 || len(h) > 64 {
		return a, fmt.Errorf("sui: address %q: want 0x and 1 to 64 hex digits", s)
	}
	if len(h)%2 == 1 {
		h = "0" + h
	}
	b, err := hex.DecodeString(h)
	if err != nil {
		return a, fmt.Errorf("sui: address %q: %v", s, err)
	}
	copy(a[32-len(b):], b)
	return a, nil
}

// mustAddress is ParseAddress for constants.
func mustAddress(s string) Address {
	a, err := ParseAddress(s)
	if err != nil {
		panic(err)
	}
	return a
}

// Well-known objects and packages.
var (
	// MoveStdlib is 0x1, SuiFramework 0x2.
	MoveStdlib   = mustAddress("0x1")
	SuiFramework = mustAddress("0x2")
	// ClockObject is the shared Clock (0x6, initial shared version 1).
	ClockObject = mustAddress("0x6")
)

// Digest is a 32-byte Sui digest (object, transaction, checkpoint) whose
// text form is base58.
type Digest [32]byte

// String returns base58.
func (d Digest) String() string { return base58Encode(d[:]) }

// MarshalText implements encoding.TextMarshaler.
func (d Digest) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Digest) UnmarshalText(b []byte) error {
	p, err := ParseDigest(string(b))
	if err != nil {
		return err
	}
	*d = p
	return nil
}

// ParseDigest parses the base58 form of a 32-byte digest.
func ParseDigest(s string) (Digest, error) {
	var d Digest
	b, err := base58Decode(s)
	if err != nil {
		return d, fmt.Errorf("sui: digest %q: %w", s, err)
	}
	if len(b) != len(d) {
		return d, fmt.Errorf("sui: digest %q: %d bytes, want 32", s, len(b))
	}
	copy(d[:], b)
	return d, nil
}

// ObjectRef names one version of an object: (ID, version, digest).
type ObjectRef struct {
	ObjectID Address `json:"object_id"`
	Version  uint64  `json:"version,string"`
	Digest   Digest  `json:"digest"`
}

func (r *ObjectRef) encode(e *encoder) {
	e.fixed(r.ObjectID[:])
	e.u64(r.Version)
	// ObjectDigest is a vector<u8> of 32 bytes on the wire.
	e.vecU8(r.Digest[:])
}

func (r *ObjectRef) decode(d *decoder) {
	d.fixed(r.ObjectID[:])
	r.Version = d.u64()
	if n := d.length("object digest", 32, 1); d.err() == nil && n != 32 {
		d.fail("object digest of %d bytes, want 32", n)
	}
	d.fixed(r.Digest[:])
}

// SharedObject is a shared object as a transaction input: its ID, the
// version at which it became shared, and whether the transaction writes
// it.
type SharedObject struct {
	ObjectID             Address `json:"object_id"`
	InitialSharedVersion uint64  `json:"initial_shared_version,string"`
	Mutable              bool    `json:"mutable,omitempty"`
}

// TypeTag is a Move type. Kind is one of the TypeTag* constants; Vector is
// the element type of a vector, Struct the struct of a struct type.
type TypeTag struct {
	Kind   TypeTagKind
	Vector *TypeTag
	Struct *StructTag
}

// TypeTagKind is the BCS variant index of a TypeTag.
type TypeTagKind uint8

// TypeTag variants in their BCS order.
const (
	TypeBool TypeTagKind = iota
	TypeU8
	TypeU64
	TypeU128
	TypeAddress
	TypeSigner
	TypeVector
	TypeStruct
	TypeU16
	TypeU32
	TypeU256
	numTypeTagKinds
)

var typeTagNames = [...]string{"bool", "u8", "u64", "u128", "address", "signer", "vector", "struct", "u16", "u32", "u256"}

// StructTag is address::module::name<type params>.
type StructTag struct {
	Address    Address
	Module     string
	Name       string
	TypeParams []TypeTag
}

// Bounds of decoded types (Sui's protocol limits are of this order:
// identifiers of at most 128 bytes, type nesting bounded).
const (
	maxIdentifier   = 128
	maxTypeParams   = 32
	maxTypeDepth    = 16
	maxTypeTagBytes = 1024
)

// String is the canonical text form: 0x + 64 hex digits for addresses.
func (t TypeTag) String() string {
	switch t.Kind {
	case TypeVector:
		if t.Vector == nil {
			return "vector<?>"
		}
		return "vector<" + t.Vector.String() + ">"
	case TypeStruct:
		if t.Struct == nil {
			return "?"
		}
		return t.Struct.String()
	default:
		if int(t.Kind) < len(typeTagNames) {
			return typeTagNames[t.Kind]
		}
		return fmt.Sprintf("typetag(%d)", t.Kind)
	}
}

// String is address::module::name<params>.
func (s StructTag) String() string {
	var b strings.Builder
	b.WriteString(s.Address.String())
	b.WriteString("::")
	b.WriteString(s.Module)
	b.WriteString("::")
	b.WriteString(s.Name)
	if len(s.TypeParams) > 0 {
		b.WriteByte('<')
		for i, p := range s.TypeParams {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(p.String())
		}
		b.WriteByte('>')
	}
	return b.String()
}

// ParseTypeTag parses a Move type: a primitive, vector<T>, or
// 0xADDR::module::Name<T, …>.
func ParseTypeTag(s string) (TypeTag, error) {
	p := typeParser{s: s}
	t, err := p.parse(0)
	if err == nil {
		p.space()
		if p.i != len(p.s) {
			err = fmt.Errorf("trailing %q", p.s[p.i:])
		}
	}
	if err != nil {
		return TypeTag{}, fmt.Errorf("sui: type %q: %w", s, err)
	}
	return t, nil
}

// StructType parses a struct type such as 0x…::wal::WAL.
func StructType(s string) (TypeTag, error) {
	t, err := ParseTypeTag(s)
	if err == nil && t.Kind != TypeStruct {
		err = fmt.Errorf("sui: type %q is not a struct", s)
	}
	return t, err
}

type typeParser struct {
	s string
	i int
}

func (p *typeParser) space() {
	for p.i < len(p.s) && p.s[p.i] == ' ' {
		p.i++
	}
}

func (p *typeParser) ident() string {
	p.space()
	j := p.i
	for j < len(p.s) {
		c := p.s[j]
		if c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			j++
			continue
		}
		break
	}
	id := p.s[p.i:j]
	p.i = j
	return id
}

func (p *typeParser) expect(tok string) error {
	p.space()
	if !strings.HasPrefix(p.s[p.i:], tok) {
		return fmt.Errorf("want %q at offset %d", tok, p.i)
	}
	p.i += len(tok)
	return nil
}

func (p *typeParser) parse(depth int) (TypeTag, error) {
	if depth > maxTypeDepth {
		return TypeTag{}, errors.New("type nested too deeply")
	}
	p.space()
	if strings.HasPrefix(p.s[p.i:], "0x") {
		return p.structTag(depth)
	}
	name := p.ident()
	for k, n := range typeTagNames {
		if n == name && k != int(TypeVector) && k != int(TypeStruct) {
			return TypeTag{Kind: TypeTagKind(k)}, nil
		}
	}
	if name != "vector" {
		return TypeTag{}, fmt.Errorf("unknown type %q", name)
	}
	if err := p.expect("<"); err != nil {
		return TypeTag{}, err
	}
	el, err := p.parse(depth + 1)
	if err != nil {
		return TypeTag{}, err
	}
	if err := p.expect(">"); err != nil {
		return TypeTag{}, err
	}
	return TypeTag{Kind: TypeVector, Vector: &el}, nil
}

func (p *typeParser) structTag(depth int) (TypeTag, error) {
	addr := p.ident() // "0x…" lexes as one identifier
	a, err := ParseAddress(addr)
	if err != nil {
		return TypeTag{}, err
	}
	st := StructTag{Address: a}
	if err := p.expect("::"); err != nil {
		return TypeTag{}, err
	}
	if st.Module = p.ident(); !validIdentifier(st.Module) {
		return TypeTag{}, fmt.Errorf("bad module name %q", st.Module)
	}
	if err := p.expect("::"); err != nil {
		return TypeTag{}, err
	}
	if st.Name = p.ident(); !validIdentifier(st.Name) {
		return TypeTag{}, fmt.Errorf("bad struct name %q", st.Name)
	}
	p.space()
	if p.i < len(p.s) && p.s[p.i] == '<' {
		p.i++
		for {
			if len(st.TypeParams) == maxTypeParams {
				return TypeTag{}, errors.New("too many type parameters")
			}
			t, err := p.parse(depth + 1)
			if err != nil {
				return TypeTag{}, err
			}
			st.TypeParams = append(st.TypeParams, t)
			p.space()
			if p.i < len(p.s) && p.s[p.i] == ',' {
				p.i++
				continue
			}
			if err := p.expect(">"); err != nil {
				return TypeTag{}, err
			}
			break
		}
	}
	return TypeTag{Kind: TypeStruct, Struct: &st}, nil
}

// validIdentifier reports whether s is a Move identifier.
func validIdentifier(s string) bool {
	if s == "" || len(s) > maxIdentifier {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return s != "_"
}

func (t *TypeTag) encode(e *encoder) {
	e.uleb(int(t.Kind))
	switch t.Kind {
	case TypeVector:
		t.Vector.encode(e)
	case TypeStruct:
		t.Struct.encode(e)
	}
}

func (s *StructTag) encode(e *encoder) {
	e.fixed(s.Address[:])
	e.str(s.Module)
	e.str(s.Name)
	e.uleb(len(s.TypeParams))
	for i := range s.TypeParams {
		s.TypeParams[i].encode(e)
	}
}

func (t *TypeTag) decode(d *decoder, depth int) {
	if depth > maxTypeDepth {
		d.fail("type tag nested deeper than %d", maxTypeDepth)
		return
	}
	t.Kind = TypeTagKind(d.variant("TypeTag", int(numTypeTagKinds)))
	switch t.Kind {
	case TypeVector:
		t.Vector = new(TypeTag)
		t.Vector.decode(d, depth+1)
	case TypeStruct:
		t.Struct = new(StructTag)
		t.Struct.decode(d, depth)
	}
}

func (s *StructTag) decode(d *decoder, depth int) {
	d.fixed(s.Address[:])
	s.Module = decodeIdentifier(d, "module")
	s.Name = decodeIdentifier(d, "struct name")
	n := d.length("type parameters", maxTypeParams, 1)
	if n > 0 {
		s.TypeParams = make([]TypeTag, n)
		for i := range s.TypeParams {
			s.TypeParams[i].decode(d, depth+1)
		}
	}
}

func decodeIdentifier(d *decoder, what string) string {
	s := d.str(what, maxIdentifier)
	if d.err() == nil && !validIdentifier(s) {
		d.fail("%s %q is not a Move identifier", what, s)
	}
	return s
}
