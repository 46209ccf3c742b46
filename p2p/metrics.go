package p2p

import (
	"errors"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics of the stream protocols, registered by the caller on its own
// registry (NewMetrics). A nil *Metrics records nothing, so a server or
// client without metrics pays one nil check per stream.
//
//	floe_p2p_server_requests_total{protocol,status}      requests answered, by the status sent (ok, not_found, …; "none" when the stream ended before an answer)
//	floe_p2p_server_request_seconds{protocol}             time from stream open to the answer's end
//	floe_p2p_server_received_bytes_total{protocol}        bytes read from streams
//	floe_p2p_server_sent_bytes_total{protocol}            bytes written to streams
//	floe_p2p_server_streams_refused_total{reason}         streams refused before a request (address cap, protocol busy, rate limit, resource manager)
//	floe_p2p_server_streams_shed_total                    idle streams reset to make room
//	floe_p2p_server_peers_gated_total                     peers cut off for their offences
//	floe_p2p_client_requests_total{protocol,result}       requests made, by outcome (ok, a status, timeout, protocol, transport)
//	floe_p2p_client_request_seconds{protocol}             time of the whole exchange
type Metrics struct {
	requests  *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	received  *prometheus.CounterVec
	sent      *prometheus.CounterVec
	refused   *prometheus.CounterVec
	shed      prometheus.Counter
	gated     prometheus.Counter
	cRequests *prometheus.CounterVec
	cDuration *prometheus.HistogramVec
}

// NewMetrics creates the metrics and registers them on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	buckets := prometheus.ExponentialBuckets(0.001, 4, 10) // 1 ms … 4 min
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "floe_p2p_server_requests_total",
			Help: "Requests answered by the stream server, by protocol and the status sent."}, []string{"protocol", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "floe_p2p_server_request_seconds",
			Help: "Time from stream open to the end of the answer.", Buckets: buckets}, []string{"protocol"}),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "floe_p2p_server_received_bytes_total",
			Help: "Bytes the stream server read, by protocol."}, []string{"protocol"}),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "floe_p2p_server_sent_bytes_total",
			Help: "Bytes the stream server wrote, by protocol."}, []string{"protocol"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "floe_p2p_server_streams_refused_total",
			Help: "Streams refused before their request, by reason."}, []string{"reason"}),
		shed: prometheus.NewCounter(prometheus.CounterOpts{Name: "floe_p2p_server_streams_shed_total",
			Help: "Streams still waiting for their request that were reset to make room."}),
		gated: prometheus.NewCounter(prometheus.CounterOpts{Name: "floe_p2p_server_peers_gated_total",
			Help: "Peers cut off for their offences."}),
		cRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "floe_p2p_client_requests_total",
			Help: "Requests made by the stream client, by protocol and outcome."}, []string{"protocol", "result"}),
		cDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "floe_p2p_client_request_seconds",
			Help: "Time of a whole client exchange.", Buckets: buckets}, []string{"protocol"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.received, m.sent, m.refused, m.shed, m.gated, m.cRequests, m.cDuration} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// statusLabel names a status for metrics.
func statusLabel(s int) string {
	switch {
	case s < 0:
		return "none"
	case Status(s) == StatusOK:
		return "ok"
	case Status(s) == StatusNotFound:
		return "not_found"
	case Status(s) == StatusInvalidRequest:
		return "invalid_request"
	case Status(s) == StatusRateLimited:
		return "rate_limited"
	case Status(s) == StatusInternal:
		return "internal"
	case Status(s) == StatusNoSpace:
		return "no_space"
	}
	return "unknown"
}

// resultLabel names a client outcome.
func resultLabel(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ErrNotFound):
		return "not_found"
	case errors.Is(err, ErrInvalidRequest):
		return "invalid_request"
	case errors.Is(err, ErrRateLimited):
		return "rate_limited"
	case errors.Is(err, ErrNoSpace):
		return "no_space"
	case errors.Is(err, ErrInternal):
		return "internal"
	case errors.Is(err, ErrTimeout):
		return "timeout"
	case errors.Is(err, ErrProtocol):
		return "protocol"
	}
	return "transport"
}

func (m *Metrics) served(proto string, status int, d time.Duration, in, out int64) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(proto, statusLabel(status)).Inc()
	m.duration.WithLabelValues(proto).Observe(d.Seconds())
	m.received.WithLabelValues(proto).Add(float64(in))
	m.sent.WithLabelValues(proto).Add(float64(out))
}

func (m *Metrics) refusedStream(reason string) {
	if m != nil {
		m.refused.WithLabelValues(reason).Inc()
	}
}

func (m *Metrics) shedStream() {
	if m != nil {
		m.shed.Inc()
	}
}

func (m *Metrics) gatedPeer() {
	if m != nil {
		m.gated.Inc()
	}
}

func (m *Metrics) requested(proto string, err error, d time.Duration) {
	if m == nil {
		return
	}
	m.cRequests.WithLabelValues(proto, resultLabel(err)).Inc()
	m.cDuration.WithLabelValues(proto).Observe(d.Seconds())
}

// countingStream counts the bytes of a stream and remembers the first byte
// written (the answer's status).
type countingStream struct {
	network.Stream
	in, out atomic.Int64
	status  atomic.Int32 // -1 until the first byte is written
}

func newCountingStream(s network.Stream) *countingStream {
	c := &countingStream{Stream: s}
	c.status.Store(-1)
	return c
}

func (c *countingStream) Read(p []byte) (int, error) {
	n, err := c.Stream.Read(p)
	c.in.Add(int64(n))
	return n, err
}

func (c *countingStream) Write(p []byte) (int, error) {
	if len(p) > 0 {
		c.status.CompareAndSwap(-1, int32(p[0]))
	}
	n, err := c.Stream.Write(p)
	c.out.Add(int64(n))
	return n, err
}
