package host

import (
	"context"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// tcpHosts starts n TCP-only loopback hosts (TCP is where simultaneous
// dials go wrong), sorted by peer ID.
func tcpHosts(t *testing.T, n int) []*Host {
	t.Helper()
	hs := make([]*Host, n)
	for i := range hs {
		hs[i] = newLoopback(t, func(c *Config) { c.DisableQUIC = true })
	}
	sort.Slice(hs, func(i, j int) bool { return hs[i].ID() < hs[j].ID() })
	return hs
}

// waitConns waits until every host has exactly one connection to every
// other, or fails with what it sees after 10 s.
func waitConns(t *testing.T, hs []*Host) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok := true
		for _, a := range hs {
			for _, b := range hs {
				if a != b && len(a.Network().ConnsToPeer(b.ID())) != 1 {
					ok = false
				}
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			for i, a := range hs {
				for j, b := range hs {
					if a != b {
						t.Logf("host %d → %d: %d connections", i, j, len(a.Network().ConnsToPeer(b.ID())))
					}
				}
			}
			t.Fatal("not exactly one connection between every pair")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestDialsIsAntisymmetric(t *testing.T) {
	hs := tcpHosts(t, 3)
	for _, a := range hs {
		if Dials(a.ID(), a.ID()) {
			t.Fatal("a host dials itself")
		}
		for _, b := range hs {
			if a != b && Dials(a.ID(), b.ID()) == Dials(b.ID(), a.ID()) {
				t.Fatalf("%s and %s: both or neither dial", a.ID(), b.ID())
			}
		}
	}
}

// Every member of a committee connects to every other at the same
// instant: each pair ends with exactly one connection, made by the lower
// peer ID, and ConnectCommittee hands each host exactly its lower peers
// to wait for.
func TestConnectCommitteeLowerDials(t *testing.T) {
	hs := tcpHosts(t, 6)
	infos := make([]peer.AddrInfo, len(hs))
	for i, h := range hs {
		infos[i] = h.AddrInfo()
	}
	infos = append(infos, peer.AddrInfo{ID: "", Addrs: infos[0].Addrs}) // skipped: no ID
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := make(chan struct{})
	waiting := make([][]peer.AddrInfo, len(hs))
	var wg sync.WaitGroup
	for i, h := range hs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			waiting[i] = h.ConnectCommittee(ctx, infos)
		}()
	}
	close(start)
	wg.Wait()
	for i, w := range waiting {
		if len(w) != i {
			t.Fatalf("host %d (by ID order) waits for %d peers, want its %d lower ones", i, len(w), i)
		}
		for _, ai := range w {
			if !Dials(ai.ID, hs[i].ID()) {
				t.Fatalf("host %d waits for %s, which does not dial it", i, ai.ID)
			}
		}
	}
	waitConns(t, hs)
	for i, a := range hs {
		for j, b := range hs {
			if i == j {
				continue
			}
			c := a.Network().ConnsToPeer(b.ID())[0]
			want := network.DirInbound
			if i < j {
				want = network.DirOutbound
			}
			if got := c.Stat().Direction; got != want {
				t.Fatalf("host %d's connection to host %d is %s, want %s", i, j, got, want)
			}
		}
	}
}

// The higher peer dials by itself when the lower one has not come by the
// end of the wait, and not before.
func TestConnectLateDialsAbsentLowerPeer(t *testing.T) {
	hs := tcpHosts(t, 2)
	lo, hi := hs[0], hs[1]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	waiting := hi.ConnectCommittee(ctx, []peer.AddrInfo{lo.AddrInfo()})
	if len(waiting) != 1 || waiting[0].ID != lo.ID() {
		t.Fatalf("the higher host waits for %v, want the lower one", waiting)
	}
	const wait = 300 * time.Millisecond
	done := make(chan struct{})
	t0 := time.Now()
	go func() { defer close(done); hi.ConnectLate(ctx, waiting, wait) }()
	time.Sleep(wait / 2)
	if n := len(hi.Network().ConnsToPeer(lo.ID())); n != 0 {
		t.Fatalf("%d connections before the wait ended", n)
	}
	<-done
	if took := time.Since(t0); took < wait {
		t.Fatalf("ConnectLate returned after %s, before its wait of %s", took, wait)
	}
	conns := hi.Network().ConnsToPeer(lo.ID())
	if len(conns) != 1 || conns[0].Stat().Direction != network.DirOutbound {
		t.Fatalf("after the wait: %d connections, want one outbound", len(conns))
	}
}

// When the lower peer's connection comes during the wait, the higher one
// makes none of its own.
func TestConnectLateSkipsConnectedPeer(t *testing.T) {
	hs := tcpHosts(t, 2)
	lo, hi := hs[0], hs[1]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	waiting := hi.ConnectCommittee(ctx, []peer.AddrInfo{lo.AddrInfo()})
	if w := lo.ConnectCommittee(ctx, []peer.AddrInfo{hi.AddrInfo()}); len(w) != 0 {
		t.Fatalf("the lower host waits for %v", w)
	}
	hi.ConnectLate(ctx, waiting, 200*time.Millisecond)
	waitConns(t, hs)
	if d := hi.Network().ConnsToPeer(lo.ID())[0].Stat().Direction; d != network.DirInbound {
		t.Fatalf("the higher host's only connection is %s, want inbound", d)
	}
}
