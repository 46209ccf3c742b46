package chainlink

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// The ledger service serves, beside its API:
//
//	GET /metrics   Prometheus text format:
//	               floe_ledger_requests_total{route,code}    requests answered
//	               floe_ledger_request_seconds{route}        time to answer (long polls included)
//	               floe_ledger_epoch, floe_ledger_epoch_change_syncing (1 while the change is in progress),
//	               floe_ledger_sync_done_weight, floe_ledger_n_shards,
//	               floe_ledger_nodes, floe_ledger_committee_members, floe_ledger_blob_objects,
//	               floe_ledger_last_event (cursor of the newest event)
//	               and the Go runtime and process metrics
//	GET /health    liveness: 200 {"status":"ok"}
//	GET /ready     200 while the ledger takes requests (open and not broken), else 503
type serverMetrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newServerMetrics(l *Ledger) *serverMetrics {
	m := &serverMetrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "floe_ledger_requests_total",
			Help: "Requests answered by the ledger service, by route and HTTP status."}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "floe_ledger_request_seconds",
			Help: "Time to answer a request.", Buckets: prometheus.ExponentialBuckets(0.0005, 4, 10)}, []string{"route"}),
	}
	m.reg.MustRegister(m.requests, m.duration, ledgerCollector{l},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

type ledgerCollector struct{ l *Ledger }

var (
	dLEpoch   = prometheus.NewDesc("floe_ledger_epoch", "Current epoch.", nil, nil)
	dLSyncing = prometheus.NewDesc("floe_ledger_epoch_change_syncing", "1 while the epoch change is in progress.", nil, nil)
	dLWeight  = prometheus.NewDesc("floe_ledger_sync_done_weight", "Shards of the members that reported their sync done this epoch.", nil, nil)
	dLShards  = prometheus.NewDesc("floe_ledger_n_shards", "Number of shards.", nil, nil)
	dLNodes   = prometheus.NewDesc("floe_ledger_nodes", "Registered storage nodes.", nil, nil)
	dLMembers = prometheus.NewDesc("floe_ledger_committee_members", "Members of the current committee.", nil, nil)
	dLBlobs   = prometheus.NewDesc("floe_ledger_blob_objects", "Live blob objects.", nil, nil)
	dLEvents  = prometheus.NewDesc("floe_ledger_last_event", "Cursor of the newest event.", nil, nil)
)

func (c ledgerCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{dLEpoch, dLSyncing, dLWeight, dLShards, dLNodes, dLMembers, dLBlobs, dLEvents} {
		ch <- d
	}
}

func (c ledgerCollector) Collect(ch chan<- prometheus.Metric) {
	l := c.l
	l.mu.Lock()
	e := l.m.Epoch
	nodes, blobs, last := len(l.nodes), len(l.blobs), l.m.LastEvent
	members := 0
	if cm := l.committees[e.Epoch]; cm != nil {
		members = len(cm.Members)
	}
	l.mu.Unlock()
	g := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	g(dLEpoch, float64(e.Epoch))
	syncing := 0.0
	if e.Phase == PhaseChangeSync {
		syncing = 1
	}
	g(dLSyncing, syncing)
	g(dLWeight, float64(e.SyncDoneWeight))
	g(dLShards, float64(e.NShards))
	g(dLNodes, float64(nodes))
	g(dLMembers, float64(members))
	g(dLBlobs, float64(blobs))
	g(dLEvents, float64(last))
}

// statusRecorder remembers the status of an answer.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(c int) {
	if r.code == 0 {
		r.code = c
	}
	r.ResponseWriter.WriteHeader(c)
}

func (r *statusRecorder) Write(p []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.ResponseWriter.Write(p)
}

func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (s *Server) operator(w http.ResponseWriter, r *http.Request) bool {
	switch r.URL.Path {
	case "/metrics":
		promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}).ServeHTTP(w, r)
	case "/health":
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	case "/ready":
		ctx, cancel := context.WithTimeout(r.Context(), time.Second)
		defer cancel()
		if _, err := s.l.EpochState(ctx); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"ready": false, "reasons": []string{err.Error()}})
		} else {
			writeJSON(w, http.StatusOK, map[string]any{"ready": true, "reasons": []string{}})
		}
	default:
		return false
	}
	return true
}
