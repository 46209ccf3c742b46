package codec

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"

	"golang.org/x/crypto/blake2b"
)

// SliverType says whether a sliver is a row (primary) or a column (secondary)
// of the expanded blob matrix (F0.3). Its numeric value is the BCS variant
// index Walrus uses.
type SliverType uint8

const (
	// Primary slivers are rows: nSec symbols each.
	Primary SliverType = 0
	// Secondary slivers are columns: nPrim symbols each.
	Secondary SliverType = 1
)

// Orthogonal returns the other sliver type.
func (t SliverType) Orthogonal() SliverType { return t ^ 1 }

// String returns "primary" or "secondary", as in the Walrus REST paths.
func (t SliverType) String() string {
	switch t {
	case Primary:
		return "primary"
	case Secondary:
		return "secondary"
	}
	return fmt.Sprintf("SliverType(%d)", uint8(t))
}

// ParseSliverType parses "primary" or "secondary".
func ParseSliverType(s string) (SliverType, error) {
	switch s {
	case "primary":
		return Primary, nil
	case "secondary":
		return Secondary, nil
	}
	return 0, fmt.Errorf("codec: unknown sliver type %q", s)
}

// SliverIndex returns the index of the sliver of type t in pair p: primary p,
// secondary n-1-p (F3.5).
func (p Params) SliverIndex(t SliverType, pair int) int {
	if t == Primary {
		return pair
	}
	return p.NShards - 1 - pair
}

// PairOfSliver is the inverse of SliverIndex.
func (p Params) PairOfSliver(t SliverType, index int) int { return p.SliverIndex(t, index) }

// BlobID is the 32-byte commitment to a blob's encoding (F4.5).
type BlobID [DigestSize]byte

// ErrInvalidBlobID means a text blob ID is not 43 base64url characters for 32 bytes.
var ErrInvalidBlobID = errors.New("codec: invalid blob ID")

// Strict: non-zero trailing bits would give one ID several texts.
var blobIDEncoding = base64.RawURLEncoding.Strict()

// String returns the base64url form without padding (F4.6).
func (id BlobID) String() string { return blobIDEncoding.EncodeToString(id[:]) }

// MarshalText implements encoding.TextMarshaler.
func (id BlobID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (id *BlobID) UnmarshalText(b []byte) error {
	p, err := ParseBlobID(string(b))
	if err != nil {
		return err
	}
	*id = p
	return nil
}

// ParseBlobID parses the base64url text form of a blob ID.
func ParseBlobID(s string) (BlobID, error) {
	var id BlobID
	if len(s) != 43 {
		return id, fmt.Errorf("%w: %q has %d characters, want 43", ErrInvalidBlobID, truncate(s), len(s))
	}
	b, err := blobIDEncoding.DecodeString(s)
	if err != nil || len(b) != DigestSize {
		return id, fmt.Errorf("%w: %q is not base64url of 32 bytes", ErrInvalidBlobID, truncate(s))
	}
	copy(id[:], b)
	return id, nil
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// U256 returns the blob ID as the Move u256 (little-endian reading, F4.7).
func (id BlobID) U256() *big.Int {
	var be [DigestSize]byte
	for i := range id {
		be[DigestSize-1-i] = id[i]
	}
	return new(big.Int).SetBytes(be[:])
}

// DeriveBlobID computes BLAKE2b-256(encoding type ‖ u64 LE length ‖ root hash)
// (F4.5): the derivation the chain repeats at registration (F4.8).
func DeriveBlobID(encodingType byte, length uint64, rootHash [DigestSize]byte) BlobID {
	var buf [1 + 8 + DigestSize]byte
	buf[0] = encodingType
	putU64(buf[1:], length)
	copy(buf[9:], rootHash[:])
	return BlobID(blake2b.Sum256(buf[:]))
}

// Rotation is the blob's shard rotation: the blob ID read as a big-endian
// integer modulo n (F3.6).
func (p Params) Rotation(id BlobID) int {
	n := uint64(p.NShards)
	var acc uint64
	for _, b := range id {
		acc = (acc*256 + uint64(b)) % n
	}
	return int(acc)
}

// ShardOfPair returns the shard that stores sliver pair `pair` of blob id (F3.6).
func (p Params) ShardOfPair(id BlobID, pair int) int {
	return (pair + p.Rotation(id)) % p.NShards
}

// PairOfShard returns the sliver pair stored on shard `shard` for blob id (F3.6).
func (p Params) PairOfShard(id BlobID, shard int) int {
	return (p.NShards + shard - p.Rotation(id)) % p.NShards
}

func putU64(b []byte, v uint64) {
	_ = b[7]
	for i := range 8 {
		b[i] = byte(v >> (8 * i))
	}
}

func putU32(b []byte, v uint32) {
	_ = b[3]
	for i := range 4 {
		b[i] = byte(v >> (8 * i))
	}
}

func putU16(b []byte, v uint16) {
	b[0] = byte(v)
	b[1] = byte(v >> 8)
}
