package plan

import (
	"sync/atomic"

	"github.com/libp2p/go-libp2p/core/metrics"
)

// byteCounter is a libp2p bandwidth reporter whose totals are exact at
// any moment: go-libp2p's BandwidthCounter updates its totals from a
// sweeper once a second, so a step's bytes read right after it end up in
// the next step. It counts stream payload bytes (what the swarm reports
// for each stream read and write; not the transport's framing); per-peer and per-protocol figures come from the
// embedded BandwidthCounter.
type byteCounter struct {
	*metrics.BandwidthCounter
	in, out atomic.Int64
}

func newByteCounter() *byteCounter {
	return &byteCounter{BandwidthCounter: metrics.NewBandwidthCounter()}
}

func (c *byteCounter) LogSentMessage(n int64) {
	c.out.Add(n)
	c.BandwidthCounter.LogSentMessage(n)
}

func (c *byteCounter) LogRecvMessage(n int64) {
	c.in.Add(n)
	c.BandwidthCounter.LogRecvMessage(n)
}

// GetBandwidthTotals are the exact totals (no rates).
func (c *byteCounter) GetBandwidthTotals() metrics.Stats {
	return metrics.Stats{TotalIn: c.in.Load(), TotalOut: c.out.Load()}
}
