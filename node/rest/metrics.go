package rest

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics of the REST API, registered on the node's registry beside the
// stream protocols' (p2p.Metrics), with the same meanings per route:
//
//	floe_rest_requests_total{route,code}     requests answered, by route and HTTP status code
//	floe_rest_request_seconds{route}         time from the request's headers to the answer's end
//	floe_rest_received_bytes_total{route}    request body bytes read
//	floe_rest_sent_bytes_total{route}        answer body bytes written
//	floe_rest_refused_total{reason}          requests or connections refused before any work (rate, busy, gated, conns, memory)
//	floe_rest_clients_gated_total            client addresses cut off for their offences
//
// A nil *metrics records nothing.
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	received *prometheus.CounterVec
	sent     *prometheus.CounterVec
	refused  *prometheus.CounterVec
	gated    prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	if reg == nil {
		return nil, nil
	}
	buckets := prometheus.ExponentialBuckets(0.001, 4, 10)
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "floe_rest_requests_total",
			Help: "Requests answered by the REST API, by route and HTTP status code."}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "floe_rest_request_seconds",
			Help: "Time from a request's headers to the end of its answer.", Buckets: buckets}, []string{"route"}),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "floe_rest_received_bytes_total",
			Help: "Request body bytes the REST API read, by route."}, []string{"route"}),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "floe_rest_sent_bytes_total",
			Help: "Answer body bytes the REST API wrote, by route."}, []string{"route"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "floe_rest_refused_total",
			Help: "Requests or connections refused before any work, by reason."}, []string{"reason"}),
		gated: prometheus.NewCounter(prometheus.CounterOpts{Name: "floe_rest_clients_gated_total",
			Help: "Client addresses cut off for their offences."}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.received, m.sent, m.refused, m.gated} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) served(route string, code int, d time.Duration, in, out int64) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
	m.duration.WithLabelValues(route).Observe(d.Seconds())
	if in > 0 {
		m.received.WithLabelValues(route).Add(float64(in))
	}
	if out > 0 {
		m.sent.WithLabelValues(route).Add(float64(out))
	}
}

func (m *metrics) refuse(reason string) {
	if m != nil {
		m.refused.WithLabelValues(reason).Inc()
	}
}

func (m *metrics) gate() {
	if m != nil {
		m.gated.Inc()
	}
}
