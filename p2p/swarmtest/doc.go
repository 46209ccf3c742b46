// Package swarmtest holds the multi-host tests and benchmarks of the p2p
// stack: a 20-node swarm on loopback (DHT discovery, stream round trips,
// attestation gossip with a forger) and the sliver-throughput benchmark.
// It has no non-test code.
package swarmtest
