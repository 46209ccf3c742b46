// Package codec implements RedStuff with Reed-Solomon (RS2) exactly as Walrus
// encodes it, so that a floe blob ID is the Walrus blob ID of the same bytes.
//
// It holds the pure computation of the system: parameters derived from the
// number of shards, the 1-D Reed-Solomon code over GF(2^16) (both the
// high-rate and the low-rate encoder of reed-solomon-simd 3.1.0), the 2-D
// expansion into primary and secondary slivers, Merkle trees and proofs,
// blob metadata and blob IDs, the BCS wire forms Walrus defines, verification
// of metadata, slivers and recovery symbols, decoding, sliver recovery and
// inconsistency proofs, and the bytes of the signed protocol messages.
//
// The numbered facts cited in comments (F3.5, …) refer to
// shared/spec/walrus-compat.md. codec does no I/O and starts no goroutine it
// does not join before returning.
package codec
