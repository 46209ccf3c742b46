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

// A tour of the API:
//
//   - NewParams(n) derives everything from the number of shards (§1);
//     Params.SymbolSize, EncodedLength, ShardOfPair/PairOfShard (F3.6).
//   - Encode(p, blob) returns the metadata, blob ID and all n sliver pairs;
//     ComputeMetadata(p, blob) returns only the metadata and blob ID while
//     holding about 1.6× the blob in memory.
//   - VerifyMetadata, VerifySlivers/VerifySliver and VerifyRecoverySymbol
//     check what arrives from peers; their errors (ErrInvalidMetadata,
//     ErrInvalidSliver, ErrInvalidSymbol) mean "reject and ask someone else".
//   - Decode(p, m, slivers, check) rebuilds a blob from any n-2f primary or
//     n-f secondary verified slivers, with the consistency checks of F6.2;
//     ErrInconsistentBlob means the writer encoded the blob inconsistently.
//   - NewSymbolSource(p, sliver).Symbol(i) serves recovery symbols with
//     proofs; RecoverSliver rebuilds a missing sliver from them and, when
//     the rebuilt sliver contradicts the metadata, returns an
//     InconsistencyProof that VerifyInconsistencyProof accepts (F5.4).
//   - Marshal*/Unmarshal* are the BCS forms of F4.9 and F7.10; the message
//     constructors give the exact bytes nodes sign (F8.2–F8.4).
//
// Encoding runs the row code over the source rows, then the column code over
// every column, batching many symbols into each GF(2^16) vector (F18.4), and
// hashes 2n² Merkle leaves with the multi-lane BLAKE2b of internal/blake2b.
