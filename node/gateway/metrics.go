package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// The gateway serves, beside the Walrus API on the same port:
//
//	GET /metrics   Prometheus text format:
//	               floe_gateway_requests_total{route,code}   requests answered
//	               floe_gateway_request_seconds{route}       time to answer
//	               floe_gateway_response_bytes_total{route}  body bytes sent
//	               floe_gateway_in_flight{pool}              reads and stores holding a slot
//	               and the Go runtime and process metrics
//	GET /health    liveness: 200 {"status":"ok"}
//	GET /ready     200 when the chain answers, else 503; {"ready":bool,"reasons":[…]}
type gwMetrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	bytes    *prometheus.CounterVec
}

func newGWMetrics(g *Gateway) *gwMetrics {
	m := &gwMetrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "floe_gateway_requests_total",
			Help: "Requests answered, by route and HTTP status."}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "floe_gateway_request_seconds",
			Help: "Time to answer a request.", Buckets: prometheus.ExponentialBuckets(0.001, 4, 10)}, []string{"route"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "floe_gateway_response_bytes_total",
			Help: "Response body bytes sent, by route."}, []string{"route"}),
	}
	inFlight := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "floe_gateway_in_flight", Help: "Requests holding a slot.",
		ConstLabels: prometheus.Labels{"pool": "reads"}}, func() float64 { return float64(g.reads.inUse()) })
	inFlightS := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "floe_gateway_in_flight", Help: "Requests holding a slot.",
		ConstLabels: prometheus.Labels{"pool": "stores"}}, func() float64 { return float64(g.stores.inUse()) })
	m.reg.MustRegister(m.requests, m.duration, m.bytes, inFlight, inFlightS,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *gwMetrics) observe(route string, code int, d time.Duration, n int64) {
	if route == "" {
		route = "none"
	}
	m.requests.WithLabelValues(route, http.StatusText(code)).Inc()
	m.duration.WithLabelValues(route).Observe(d.Seconds())
	m.bytes.WithLabelValues(route).Add(float64(n))
}

// operatorRoute answers /metrics, /health and /ready; false for other paths.
func (g *Gateway) operatorRoute(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	switch r.URL.Path {
	case "/metrics":
		promhttp.HandlerFor(g.metrics.reg, promhttp.HandlerOpts{}).ServeHTTP(w, r)
	case "/health":
		writeOpJSON(w, http.StatusOK, map[string]any{"status": "ok"})
	case "/ready":
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		if _, err := g.b.Chain().EpochState(ctx); err != nil {
			writeOpJSON(w, http.StatusServiceUnavailable, map[string]any{"ready": false, "reasons": []string{"the chain cannot be reached: " + err.Error()}})
		} else {
			writeOpJSON(w, http.StatusOK, map[string]any{"ready": true, "reasons": []string{}})
		}
	default:
		return false
	}
	return true
}

func writeOpJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
