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
// Medians of 3 on the shared 2-core Xeon (other engineers' builds running),
// two sessions at 2026-11-21 ~02:08 UTC:
//
//	                 session 1    session 2
//	plain-tcp        2425 MB/s    2288 MB/s
//	plain-tls            –         881 MB/s
//	libp2p-tcp        836 MB/s     543 MB/s   (TLS 1.3 + yamux)
//	libp2p-quic       320 MB/s     326 MB/s
//
// The libp2p TCP path reaches 24-36 % of the plain unencrypted socket, NOT
// the 70 % the issue asks for; against the same socket under TLS it is
// 60-95 %. A CPU profile of libp2p-tcp shows the time in AES-GCM (~22 %),
// memmove (~28 %, yamux and TLS record copies) and syscalls: on 2 cores the
// gap to an unencrypted socket is mostly encryption, which a plain socket
// does not do. Not yet tried: larger yamux windows, Noise vs TLS,
// reusing read buffers in the client.
package swarmtest
