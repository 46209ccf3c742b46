package p2p

import (
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"

	"floe/codec"
)

// ServiceName is the resource-manager service every stream of the protocols
// is attached to, so its memory and streams can be limited as a whole.
const ServiceName = "floe.streams"

// minPutBatch is the smallest put-slivers batch: small slivers are handed to
// the node in batches of at least this many bytes.
const minPutBatch = 8 << 20

// PutBatchFor is the put-slivers batch a server buffers before handing it
// to the node: one of the largest sliver items of the committee's
// parameters, and at least 8 MiB. Every limit that a batch must fit in is
// derived from it, so a blob of any size up to the protocol maximum stores
// on any committee size.
func PutBatchFor(p codec.Params) int { return max(LimitsFor(p).maxSliverItem(), minPutBatch) }

// PerPeerMemory is the stream memory one peer may hold on a node's
// protocols: two put-slivers batches and 16 MiB.
func PerPeerMemory(p codec.Params) int64 { return int64(2*PutBatchFor(p) + 16<<20) }

// AddProtocolLimits adds resource-manager limits for the stream protocols of
// a network to cfg (before cfg.AutoScale or cfg.Scale):
//
//   - the service as a whole may use 128 MiB plus 1/8 of the scaled memory
//     (…Increase is per GiB of the memory given to the resource manager),
//     and 256 inbound streams plus 256 per GiB;
//   - per peer, the service (and each protocol) may use two put-slivers
//     batches plus 16 MiB (PutBatchFor: a batch reserves what it buffers,
//     at high priority, so one writer's stream always fits), and 16 inbound
//     streams, so one peer cannot take the whole budget;
//   - small request types (metadata, status, confirmation) get their own
//     stream limits so bulk transfers cannot starve them.
func AddProtocolLimits(cfg *rcmgr.ScalingLimitConfig, network string, p codec.Params) {
	perPeerMem := PerPeerMemory(p)
	cfg.AddServiceLimit(ServiceName,
		rcmgr.BaseLimit{StreamsInbound: 256, StreamsOutbound: 256, Streams: 512, Memory: 128 << 20},
		rcmgr.BaseLimitIncrease{StreamsInbound: 256, StreamsOutbound: 256, Streams: 512, Memory: 128 << 20})
	cfg.AddServicePeerLimit(ServiceName,
		rcmgr.BaseLimit{StreamsInbound: 16, StreamsOutbound: 64, Streams: 80, Memory: perPeerMem},
		rcmgr.BaseLimitIncrease{})
	for _, name := range requestNames {
		in := 512
		switch name {
		case NamePutSlivers, NameSyncShard, NameGetSlivers:
			in = 128
		}
		cfg.AddProtocolLimit(ProtocolID(network, name),
			rcmgr.BaseLimit{StreamsInbound: in, StreamsOutbound: 2 * in, Streams: 3 * in, Memory: 256 << 20},
			rcmgr.BaseLimitIncrease{StreamsInbound: in / 4, StreamsOutbound: in / 2, Streams: in, Memory: 128 << 20})
		// The protocol-peer scope sits under both: without its own limit
		// the library default (a few MiB) refuses a put-slivers batch.
		cfg.AddProtocolPeerLimit(ProtocolID(network, name),
			rcmgr.BaseLimit{StreamsInbound: 16, StreamsOutbound: 64, Streams: 80, Memory: perPeerMem},
			rcmgr.BaseLimitIncrease{})
	}
}
