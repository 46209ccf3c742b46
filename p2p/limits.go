package p2p

import (
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"

	"floe/codec"
)

// ServiceName is the resource-manager service every stream of the protocols
// is attached to, so its memory and streams can be limited as a whole.
const ServiceName = "floe.streams"

// AddProtocolLimits adds resource-manager limits for the stream protocols of
// a network to cfg (before cfg.AutoScale or cfg.Scale):
//
//   - the service as a whole may use 128 MiB plus 1/8 of the scaled memory
//     (…Increase is per GiB of the memory given to the resource manager),
//     and 256 inbound streams plus 256 per GiB;
//   - per peer, the service may use enough memory for two of the largest
//     slivers plus 16 MiB (a put-slivers batch reserves what it buffers), and
//     16 inbound streams, so one peer cannot take the whole budget;
//   - small request types (metadata, status, confirmation) get their own
//     stream limits so bulk transfers cannot starve them.
func AddProtocolLimits(cfg *rcmgr.ScalingLimitConfig, network string, p codec.Params) {
	l := LimitsFor(p)
	perPeerMem := int64(2*l.maxSliver() + 16<<20)
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
