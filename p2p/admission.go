package p2p

import (
	"container/list"
	"net"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	manet "github.com/multiformats/go-multiaddr/net"
)

// Admission decides which streams a server takes on, so that peer IDs,
// which cost nothing to mint, cannot take the slots honest peers need:
//
//   - streams from one IP address, and from one /24 (IPv4) or /48 (IPv6),
//     are capped (committee members excepted);
//   - each protocol keeps Reserved slots for Preferred peers (the current
//     and previous committees): outsiders share the other Outsiders;
//   - when a protocol's slots are full, the oldest stream still waiting
//     for its request is shed (reset) to make room: an honest request
//     arrives in milliseconds, so only idlers are ever shed. With no such
//     stream the newcomer is refused (StatusRateLimited).
//
// The request deadline (Timeouts.Request) bounds how long an idle stream
// lives at all.
type AdmissionConfig struct {
	// PerIP and PerSubnet cap the streams open at once from one address
	// and from one /24 or /48 (0: no cap).
	PerIP, PerSubnet int
	// Outsiders is the streams per protocol that peers which are not
	// Preferred may hold; Preferred peers may use Reserved more.
	Outsiders, Reserved int
	// Preferred reports the peers that get the reserved slots and are not
	// capped per address (nil: nobody).
	Preferred func(peer.ID) bool
}

// DefaultAdmission caps 64 streams per address and 256 per subnet, and
// gives each protocol 96 slots for outsiders and 32 more for members: under
// the resource manager's 128 streams of the bulk protocols
// (AddProtocolLimits), so the manager itself is never the one to refuse.
func DefaultAdmission() AdmissionConfig {
	return AdmissionConfig{PerIP: 64, PerSubnet: 256, Outsiders: 96, Reserved: 32}
}

type admission struct {
	cfg    AdmissionConfig
	onShed func() // metrics

	mu     sync.Mutex
	ip     map[string]int
	subnet map[string]int
	protos []protoSlots
	shed   int64 // streams shed while waiting for their request
}

type protoSlots struct {
	outsiders, preferred int
	waiting              list.List // *slot of outsiders waiting for their request, oldest first
}

// slot is one admitted stream.
type slot struct {
	a         *admission
	kind      int
	ip, net   string
	preferred bool
	st        network.Stream
	since     time.Time
	elem      *list.Element // in waiting while the request is awaited
	released  bool
}

func newAdmission(cfg AdmissionConfig, kinds int) *admission {
	return &admission{cfg: cfg, ip: map[string]int{}, subnet: map[string]int{}, protos: make([]protoSlots, kinds)}
}

// remoteAddr returns the stream's remote IP and its /24 or /48 ("" when
// the transport has none, e.g. an in-memory test network).
func remoteAddr(st network.Stream) (string, string) {
	ip, err := manet.ToIP(st.Conn().RemoteMultiaddr())
	if err != nil {
		return "", ""
	}
	if v4 := ip.To4(); v4 != nil {
		return v4.String(), v4.Mask(net.CIDRMask(24, 32)).String() + "/24"
	}
	return ip.String(), ip.Mask(net.CIDRMask(48, 128)).String() + "/48"
}

// admit takes a slot for a stream of protocol kind, or says why not.
func (a *admission) admit(kind int, st network.Stream, p peer.ID) (*slot, string) {
	preferred := a.cfg.Preferred != nil && a.cfg.Preferred(p)
	ip, subnet := remoteAddr(st)
	a.mu.Lock()
	defer a.mu.Unlock()
	if !preferred {
		if a.cfg.PerIP > 0 && ip != "" && a.ip[ip] >= a.cfg.PerIP {
			return nil, "too many streams from " + ip
		}
		if a.cfg.PerSubnet > 0 && subnet != "" && a.subnet[subnet] >= a.cfg.PerSubnet {
			return nil, "too many streams from " + subnet
		}
	}
	ps := &a.protos[kind]
	full := ps.outsiders >= a.cfg.Outsiders
	if preferred {
		full = ps.outsiders+ps.preferred >= a.cfg.Outsiders+a.cfg.Reserved
	}
	if full {
		// Make room by shedding the oldest idler, if there is one.
		front := ps.waiting.Front()
		if front == nil {
			return nil, "protocol busy"
		}
		victim := front.Value.(*slot)
		a.releaseLocked(victim)
		a.shed++
		if a.onShed != nil {
			a.onShed()
		}
		_ = victim.st.Reset()
	}
	sl := &slot{a: a, kind: kind, ip: ip, net: subnet, preferred: preferred, st: st, since: time.Now()}
	if preferred {
		ps.preferred++
	} else {
		ps.outsiders++
		if ip != "" {
			a.ip[ip]++
		}
		if subnet != "" {
			a.subnet[subnet]++
		}
		sl.elem = ps.waiting.PushBack(sl)
	}
	return sl, ""
}

// requested marks the slot's request as arrived.
func (sl *slot) requested() {
	a := sl.a
	a.mu.Lock()
	defer a.mu.Unlock()
	if sl.elem != nil {
		a.protos[sl.kind].waiting.Remove(sl.elem)
		sl.elem = nil
	}
}

// release frees the slot (idempotent).
func (sl *slot) release() {
	sl.a.mu.Lock()
	defer sl.a.mu.Unlock()
	sl.a.releaseLocked(sl)
}

func (a *admission) releaseLocked(sl *slot) {
	if sl.released {
		return
	}
	sl.released = true
	ps := &a.protos[sl.kind]
	if sl.elem != nil {
		ps.waiting.Remove(sl.elem)
		sl.elem = nil
	}
	if sl.preferred {
		ps.preferred--
		return
	}
	ps.outsiders--
	if sl.ip != "" {
		if a.ip[sl.ip]--; a.ip[sl.ip] <= 0 {
			delete(a.ip, sl.ip)
		}
	}
	if sl.net != "" {
		if a.subnet[sl.net]--; a.subnet[sl.net] <= 0 {
			delete(a.subnet, sl.net)
		}
	}
}

// AdmissionStats are counts for status reports and tests.
type AdmissionStats struct {
	Outsiders, Preferred int   // streams held now, all protocols
	Shed                 int64 // idle streams shed to make room
}

func (a *admission) stats() AdmissionStats {
	a.mu.Lock()
	defer a.mu.Unlock()
	st := AdmissionStats{Shed: a.shed}
	for _, ps := range a.protos {
		st.Outsiders += ps.outsiders
		st.Preferred += ps.preferred
	}
	return st
}
