// Package chaintest is the conformance suite of chainlink.Chain: one set of
// tests that every implementation must pass — the embedded ledger in
// process, the same ledger behind `floe ledger serve` through its HTTP
// client, and later the Sui adapter.
//
// Run(t, factory) exercises the rules of shared/spec/walrus-compat.md §8,
// §9 and §13 through the interface only: committee selection (members
// ordered by node ID, D'Hondt shares, stable shard assignments), node
// registration with proofs of possession, epoch changes that complete only
// when members holding a quorum of shards report their sync, stake
// withdrawals credited at the second epoch change, storage pricing, blob
// registration with blob-ID re-derivation, certification with the exact
// quorum rule and every way a certificate can be wrong (each rejected with
// its sentinel, and the node-side verifier of package bls agreeing with the
// chain), invalidation, deletion, extension, fee payouts, and an event
// stream resumed from a cursor across a restart that delivers every event
// exactly once, in order.
//
// Accounts and nodes are keys (AccountKey, NodeKey): an HTTP client under
// test signs with Keys, the keyring of all of them, and AdvanceEpoch with
// AdminToken, as an operator's client signs with its own keys; the service
// runs with ServiceOptions (the faucet on, unlimited).
//
// The package's own tests run the suite against chainlink.Ledger and
// against chainlink.Server/chainlink.Client, fuzz the HTTP service with
// malformed requests (nothing malformed may change state), and benchmark
// certificate verification for committees of 10, 100 and 1000 members.
package chaintest
