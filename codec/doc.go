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
// Quilts (§12, QuiltV1) put many files in one blob, each in its own run of
// columns (secondary slivers), laid out byte for byte as walrus-core and the
// official SDK lay them out (testdata/quilts holds the SDK's output):
//
//   - EncodeQuilt(p, files) sorts the files by identifier (UTF-8 bytes, as
//     Rust orders strings), picks the symbol size of F12.4 and writes the
//     index (version, length, BCS QuiltIndexV1 with canonically ordered
//     tags) from column 0 and every file, behind its header, identifier and
//     tags, from the next free column. The quilt ID is the blob ID of
//     Quilt.Blob; Quilt.PatchIDs names the patches (QuiltPatchID, F12.5).
//     Bad input gives ErrQuiltDuplicateIdentifier, ErrInvalidQuiltIdentifier,
//     ErrQuiltIdentifierTooLarge, ErrInvalidQuiltTags, ErrQuiltTagsTooLarge,
//     ErrQuiltTooManyFiles (more than nSec-1) or ErrQuiltTooLarge.
//   - ParseQuilt(p, blob) reads a whole quilt: Index, File, FileByID, Files.
//   - A reader that fetches only what it needs: QuiltIndexSlivers(p, m,
//     sliver 0) says which secondary slivers hold the index (at most 10),
//     DecodeQuiltIndex lists the patches from them, and
//     DecodeQuiltPatch(p, m, id, slivers) reads one file from the slivers
//     id.SliverIndices() (QuiltIndex.Patch(identifier).ID(quiltID) for a
//     read by identifier). The slivers are verified by the caller
//     (VerifySlivers) as for Decode; malformed quilts give ErrMalformedQuilt.
//     At n = 1000 one small file of a 120-file quilt is 1 sliver by patch ID
//     (3 with the index) against 334 primary slivers for the whole quilt.
//
// Encoding runs the row code over the source rows, then the column code over
// every column, batching many symbols into each GF(2^16) vector (F18.4), and
// hashes 2n² Merkle leaves with the multi-lane BLAKE2b of internal/blake2b.
