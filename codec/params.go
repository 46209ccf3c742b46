package codec

import (
	"errors"
	"fmt"

	"floe/codec/internal/rs"
)

// Limits of the RS2 format.
const (
	// MinShards is the smallest committee size floe accepts: below 4 no shard
	// can be faulty (f = 0) and the 2-D code degenerates.
	MinShards = 4
	// MaxShards is the largest number of shards the format allows: source
	// symbol counts must stay below 65535 (F1.3) and sliver indices are u16.
	MaxShards = 65535
	// MaxSymbolSize is the largest RS2 symbol in bytes (F1.5).
	MaxSymbolSize = 65534
	// EncodingTypeRS2 is the only supported encoding type (F1.4).
	EncodingTypeRS2 byte = 1
	// DigestSize is the size of a BLAKE2b-256 digest, a Merkle node and a blob ID.
	DigestSize = 32
)

// Errors a caller decides on.
var (
	// ErrShardCount means n_shards is outside [MinShards, MaxShards].
	ErrShardCount = errors.New("codec: number of shards out of range")
	// ErrBlobTooLarge means the blob exceeds the maximum size for n_shards (F1.6).
	ErrBlobTooLarge = errors.New("codec: blob too large for the number of shards")
)

// Params are the encoding parameters derived from the number of shards n
// (§1). They are small values; pass them by value.
type Params struct {
	// NShards is n.
	NShards int
}

// NewParams validates n and returns its parameters.
func NewParams(nShards int) (Params, error) {
	if nShards < MinShards || nShards > MaxShards {
		return Params{}, fmt.Errorf("%w: %d not in [%d, %d]", ErrShardCount, nShards, MinShards, MaxShards)
	}
	p := Params{NShards: nShards}
	// Both 1-D codes must exist in reed-solomon-simd (F1.3, F2.3): past about
	// 49k shards the row code no longer fits the field and Walrus cannot
	// encode either.
	if !rs.Supported(p.Secondary(), p.MaxFaulty()) || !rs.Supported(p.Primary(), 2*p.MaxFaulty()) {
		return Params{}, fmt.Errorf("%w: %d shards give codes (%d+%d, %d+%d) the RS library does not support",
			ErrShardCount, nShards, p.Secondary(), p.MaxFaulty(), p.Primary(), 2*p.MaxFaulty())
	}
	return p, nil
}

// MaxFaulty is f = (n-1)/3 (F0.2).
func (p Params) MaxFaulty() int { return (p.NShards - 1) / 3 }

// MinCorrect is n - f, the quorum of shards for a certificate.
func (p Params) MinCorrect() int { return p.NShards - p.MaxFaulty() }

// Primary is the number of primary source symbols n-2f: the number of rows of
// the message matrix and of symbols in a secondary sliver (F1.1).
func (p Params) Primary() int { return p.NShards - 2*p.MaxFaulty() }

// Secondary is the number of secondary source symbols n-f: the number of
// columns of the message matrix and of symbols in a primary sliver (F1.1).
func (p Params) Secondary() int { return p.NShards - p.MaxFaulty() }

// SourceSymbols returns the number of source symbols of a sliver of type t,
// which is also the number of symbols stored in a sliver of the other type.
func (p Params) SourceSymbols(t SliverType) int {
	if t == Primary {
		return p.Primary()
	}
	return p.Secondary()
}

// SymbolsPerSliver returns how many symbols a sliver of type t holds: a
// primary sliver is a row of nSec symbols, a secondary one a column of nPrim.
func (p Params) SymbolsPerSliver(t SliverType) int {
	if t == Primary {
		return p.Secondary()
	}
	return p.Primary()
}

// RecoverySymbolsNeeded is how many recovery symbols rebuild a sliver of type
// t: n-f for a primary sliver, n-2f for a secondary one (F5.2).
func (p Params) RecoverySymbolsNeeded(t SliverType) int {
	if t == Primary {
		return p.Secondary()
	}
	return p.Primary()
}

// MaxBlobSize is nPrim*nSec*65534 (F1.6).
func (p Params) MaxBlobSize() uint64 {
	return uint64(p.Primary()) * uint64(p.Secondary()) * MaxSymbolSize
}

// SymbolSize returns the symbol size in bytes for a blob of the given length
// (F3.1): the per-symbol share of the blob, rounded up to an even number.
func (p Params) SymbolSize(length uint64) (int, error) {
	if length > p.MaxBlobSize() {
		return 0, fmt.Errorf("%w: %d bytes > %d at n=%d", ErrBlobTooLarge, length, p.MaxBlobSize(), p.NShards)
	}
	l := max(length, 1)
	cells := uint64(p.Primary()) * uint64(p.Secondary())
	s := (l + cells - 1) / cells
	s += s & 1
	return int(s), nil
}

// SliverSize returns the byte length of a sliver of type t for a blob of the
// given length.
func (p Params) SliverSize(t SliverType, length uint64) (int, error) {
	s, err := p.SymbolSize(length)
	if err != nil {
		return 0, err
	}
	return s * p.SymbolsPerSliver(t), nil
}

// MaxSliverSize is the largest sliver of type t any valid blob can have.
func (p Params) MaxSliverSize(t SliverType) int {
	return MaxSymbolSize * p.SymbolsPerSliver(t)
}

// EncodedLength is the encoded size charged on chain for a blob of the given
// length (F3.7): n·((nPrim+nSec)·S + n·64 + 32).
func (p Params) EncodedLength(length uint64) (uint64, error) {
	s, err := p.SymbolSize(length)
	if err != nil {
		return 0, err
	}
	n := uint64(p.NShards)
	return n * (uint64(p.Primary()+p.Secondary())*uint64(s) + n*2*DigestSize + DigestSize), nil
}
