// Package plan is floe's testground plan: the test cases store-read,
// churn, byzantine, recovery and scale, written against sdk-go so that the
// testground daemon (local:exec, local:docker, cluster:k8s) and floe's own
// local runner (cmd/floe-tg) run the same binary.
//
// Roles. Every case has one instance with role=client (its group's test
// parameter): it runs the ledger (served over HTTP on its data address),
// drives the case through a light client and records the figures. Every
// other instance runs nodes_per_instance storage nodes that register on
// that ledger, hold shards and follow the client's stages.
//
// Sync states and topics (keys are prefixed by run, plan and case as
// sdk-go does): topic "ledger" carries the ledger's URL (one message);
// state "registered" counts nodes registered; "epoch-E" counts nodes that
// took up their shards of epoch E; "step-K" is entered by the client when
// step K (a store or a read) has ended, and topic "bytes-K" then carries
// every node's byte counters; "done" ends the run. Cases add their own
// (see each case).
//
// Figures are recorded with runenv.R().RecordPoint under names whose comma
// parts are the parameters ("store_ms,size=1MiB,n=10,lat=25ms,..."), in
// results.out; cmd/floe-tg's table command turns them into Markdown.
// Metrics: store_ms and read_ms (one point per store or read, wall time
// in the client), store_<phase>_ms (encode, register, distribute,
// certify), node_sent_bytes and node_recv_bytes (per step: the median
// over node instances of libp2p stream payload bytes per storage node),
// client_sent_bytes (a store) and client_recv_bytes (a read), and the
// counts of the byzantine, recovery and churn cases. Every name carries
// n (storage nodes), shards, transport, lat and bw (the link; lat=0ms,
// bw=none on loopback), cc (the kernel's TCP congestion control) and
// the case's own tags (size, op, byz, f, phase, epoch).
package plan
