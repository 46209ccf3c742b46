package host

import (
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/prometheus/client_golang/prometheus"
)

// Collector reports the host's connections and its resource manager's
// usage at scrape time:
//
//	floe_libp2p_peers_connected                          peers with an open connection
//	floe_libp2p_rcmgr_memory_bytes{scope}                memory reserved (scope: system, transient, service)
//	floe_libp2p_rcmgr_streams{scope,direction}           open streams
//	floe_libp2p_rcmgr_conns{scope,direction}             open connections
//	floe_libp2p_rcmgr_fds{scope}                         file descriptors
//	floe_libp2p_peers_gated                              peers cut off now
//
// service is the resource-manager service whose usage is reported as
// scope "service" (p2p.ServiceName for the stream protocols).
func (h *Host) Collector(service string) prometheus.Collector { return hostCollector{h, service} }

type hostCollector struct {
	h       *Host
	service string
}

var (
	descPeers   = prometheus.NewDesc("floe_libp2p_peers_connected", "Peers with an open connection.", nil, nil)
	descMemory  = prometheus.NewDesc("floe_libp2p_rcmgr_memory_bytes", "Memory reserved in the resource manager.", []string{"scope"}, nil)
	descStreams = prometheus.NewDesc("floe_libp2p_rcmgr_streams", "Open streams in the resource manager.", []string{"scope", "direction"}, nil)
	descConns   = prometheus.NewDesc("floe_libp2p_rcmgr_conns", "Open connections in the resource manager.", []string{"scope", "direction"}, nil)
	descFDs     = prometheus.NewDesc("floe_libp2p_rcmgr_fds", "File descriptors in the resource manager.", []string{"scope"}, nil)
	descGated   = prometheus.NewDesc("floe_libp2p_peers_gated", "Peers cut off for misbehaving now.", nil, nil)
)

func (c hostCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPeers, descMemory, descStreams, descConns, descFDs, descGated} {
		ch <- d
	}
}

func (c hostCollector) Collect(ch chan<- prometheus.Metric) {
	h := c.h
	ch <- prometheus.MustNewConstMetric(descPeers, prometheus.GaugeValue, float64(len(h.Network().Peers())))
	ch <- prometheus.MustNewConstMetric(descGated, prometheus.GaugeValue, float64(h.gater.count()))
	rm := h.Network().ResourceManager()
	emit := func(scope string, st network.ScopeStat) {
		ch <- prometheus.MustNewConstMetric(descMemory, prometheus.GaugeValue, float64(st.Memory), scope)
		ch <- prometheus.MustNewConstMetric(descStreams, prometheus.GaugeValue, float64(st.NumStreamsInbound), scope, "inbound")
		ch <- prometheus.MustNewConstMetric(descStreams, prometheus.GaugeValue, float64(st.NumStreamsOutbound), scope, "outbound")
		ch <- prometheus.MustNewConstMetric(descConns, prometheus.GaugeValue, float64(st.NumConnsInbound), scope, "inbound")
		ch <- prometheus.MustNewConstMetric(descConns, prometheus.GaugeValue, float64(st.NumConnsOutbound), scope, "outbound")
		ch <- prometheus.MustNewConstMetric(descFDs, prometheus.GaugeValue, float64(st.NumFD), scope)
	}
	_ = rm.ViewSystem(func(s network.ResourceScope) error { emit("system", s.Stat()); return nil })
	_ = rm.ViewTransient(func(s network.ResourceScope) error { emit("transient", s.Stat()); return nil })
	_ = rm.ViewService(c.service, func(s network.ServiceScope) error { emit("service", s.Stat()); return nil })
}
