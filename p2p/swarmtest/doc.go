// Package swarmtest holds the multi-host tests and benchmarks of the p2p
// stack. It has no non-test code.
//
// TestSwarm20 runs 20 storage nodes (host, DHT server, gossip, stream
// server over an in-memory handler) and a light client on loopback TCP:
// every one of 40 shards' holders is found through the DHT alone (the
// client knows one bootstrap node and nothing of the committee), metadata
// and each holder's whole set of sliver pairs round-trip byte-exact (one
// put-slivers and one get-slivers stream per holder), every node's
// attestation reaches every subscribed host, and a forged attestation
// published by a validator-less peer reaches none. It takes 15-20 s on a
// loaded 2-core machine (~45 s under -race), bounded at 150 s.
//
// BenchmarkSliverThroughput: one get-slivers request per op answering 8
// slivers of 4 MiB (32 MiB per op) between two hosts on 127.0.0.1, next to
// a plain TCP socket copying the same length-prefixed frames over one
// persistent connection, and the same socket under TLS 1.3:
//
//	GOTOOLCHAIN=local go test -run XXX -bench SliverThroughput -benchtime 15x -count 3 ./p2p/swarmtest
//
// Medians of 3 on the shared 2-core Xeon, hosts from host.LoopbackConfig
// (TLS 1.3 preferred; yamux streams starting at an 8 MiB window with 1 MiB
// frames), 2026-11-21 ~03:01 UTC with the load average near 1:
//
//	plain-tcp        2335 MB/s
//	plain-tls        1010 MB/s
//	libp2p-tcp        991 MB/s   (TLS 1.3 + yamux)
//	libp2p-quic       341 MB/s
//
// The libp2p TCP path reaches 42 % of the plain unencrypted socket, NOT the
// 70 % the issue asks for, and 98 % of the same socket under TLS, which
// itself reaches only 43 %: on 2 cores the gap is encryption, which a plain
// socket does not do. The p2p package's BenchmarkSliverThroughput
// interleaves the socket runs with the libp2p runs and reports the ratios;
// its package doc has the analysis and what was changed.
package swarmtest
