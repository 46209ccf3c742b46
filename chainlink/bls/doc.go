// Package bls holds the BLS12-381 min_pk signatures of floe, byte-compatible
// with Walrus (F8.1 of shared/spec/walrus-compat.md): 48-byte compressed G1
// public keys, 96-byte compressed G2 signatures, hash-to-curve with the DST
// BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_NUL_, signatures over the raw BCS
// message bytes.
//
// It also holds the certificate rules of F8.7 — signer bitmaps, aggregate
// public keys as "total minus non-signers", the quorum 3·w ≥ 2n+1 and the
// "one correct node" threshold 3·w ≥ n+1 — so the ledger (package chainlink)
// and the storage node verify certificates with the same code.
//
// The package keeps no mutable package-level state. It wraps
// github.com/supranational/blst (cgo).
package bls
