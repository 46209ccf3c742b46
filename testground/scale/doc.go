// Package scale runs many floe storage nodes in one process over a
// simulated network (go-libp2p's x/simlibp2p on marcopolo/simnet: QUIC
// over links with latency and bandwidth) under testing/synctest, so time
// is virtual: TestScale100Nodes1000Shards has 100 nodes and 1000 shards
// store and read blobs, lose a node while a blob is written and rebuild
// its slivers from recovery symbols, and change epochs (a joiner takes
// shards over through shard sync), checking every read byte for byte.
//
// The simulated network: every storage node has a 25 ms one-way, 100
// Mbit/s up and down link; the publisher and the reader have 1 Gbit/s (a
// data centre). Nodes use floe's real host, store (pebble with a 1 MiB
// memtable), chain (the embedded ledger, in memory) and protocols.
//
// Knobs (environment): FLOE_SCALE_NODES overrides the node count;
// FLOE_SCALE_DEBUG=1 logs the nodes at info level; FLOE_SCALE_DUMP=FILE
// writes a goroutine dump after a minute of wall time (to see what keeps
// virtual time from advancing). -short runs 20 nodes and 200 shards. The
// last log line gives the wall time, the process's CPU time (the figure
// that matters on a shared machine), the heap and the bytes allocated.
package scale
