package linkemu

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	lhost "github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"

	"floe/p2p/host"
)

// The committee dialling rule on a shaped link: two floe hosts in their
// own namespaces, 25 ms one way and 20 Mbit/s apart, both told at the same
// instant to connect to the other. Under the rule (host.ConnectCommittee,
// then host.ConnectLate) the lower peer ID dials and the higher waits:
// exactly one connection, outbound at the lower peer, and it carries a
// ping. The control, both sides calling Connect at once, is logged.

type dialReport struct {
	Self     string   `json:"self"`
	Peer     string   `json:"peer"`
	Conns    int      `json:"conns"`
	Dirs     []string `json:"dirs"`
	DialErr  string   `json:"dial_err,omitempty"`
	PingErr  string   `json:"ping_err,omitempty"`
	PingRTT  string   `json:"ping_rtt,omitempty"`
	Connect  string   `json:"connect_took"`
	Lower    bool     `json:"lower"`
	DialedMe bool     `json:"dialed"`
}

type hostLike interface {
	lhost.Host
}

type plainHost struct{ lhost.Host }

func seededKey(seed int) crypto.PrivKey {
	h := sha256.Sum256([]byte("floe dial test " + strconv.Itoa(seed)))
	k, _, err := crypto.GenerateEd25519Key(bytes.NewReader(append(h[:], h[:]...)))
	if err != nil {
		panic(err)
	}
	return k
}

// TestDialHelper is the process run in each namespace.
func TestDialHelper(t *testing.T) {
	if os.Getenv("FLOE_DIAL_HELPER") != "1" {
		t.Skip("helper process of TestDialRuleShapedLink")
	}
	seed, _ := strconv.Atoi(os.Getenv("FLOE_DIAL_SEED"))
	ip, peerIP, mode := os.Getenv("FLOE_DIAL_IP"), os.Getenv("FLOE_DIAL_PEER_IP"), os.Getenv("FLOE_DIAL_MODE")
	at, _ := strconv.ParseInt(os.Getenv("FLOE_DIAL_AT"), 10, 64)
	cfg := host.LoopbackConfig()
	cfg.Identity = seededKey(seed)
	cfg.ListenAddrs = []string{"/ip4/" + ip + "/tcp/4001"}
	cfg.DisableQUIC = true
	var h hostLike
	if mode == "reuseport" {
		// go-libp2p's defaults: TCP dials from the listen port
		// (SO_REUSEPORT), the setting of go-libp2p issue #2925.
		lh, err := libp2p.New(libp2p.Identity(cfg.Identity), libp2p.ListenAddrStrings(cfg.ListenAddrs...),
			libp2p.Transport(tcp.NewTCPTransport))
		if err != nil {
			t.Fatal(err)
		}
		h = plainHost{lh}
	} else {
		fh, err := host.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		h = fh
	}
	defer h.Close()
	pk := seededKey(1 - seed)
	pid, _ := peer.IDFromPrivateKey(pk)
	ai := peer.AddrInfo{ID: pid, Addrs: []ma.Multiaddr{ma.StringCast("/ip4/" + peerIP + "/tcp/4001")}}
	time.Sleep(time.Until(time.Unix(0, at)))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rep := dialReport{Self: h.ID().String(), Peer: pid.String(), Lower: host.Dials(h.ID(), pid)}
	h.Peerstore().AddAddrs(pid, ai.Addrs, time.Hour)
	t0 := time.Now()
	connected := make(chan time.Duration, 1)
	go func() {
		for h.Network().Connectedness(pid) != network.Connected && ctx.Err() == nil {
			time.Sleep(2 * time.Millisecond)
		}
		connected <- time.Since(t0)
	}()
	switch mode {
	case "rule":
		fh := h.(*host.Host)
		waiting := fh.ConnectCommittee(ctx, []peer.AddrInfo{ai})
		rep.DialedMe = len(waiting) == 0
		fh.ConnectLate(ctx, waiting, host.LateDialWait)
	default:
		if err := h.Connect(ctx, ai); err != nil {
			rep.DialErr = err.Error()
		}
		rep.DialedMe = true
	}
	rep.Connect = (<-connected).Round(time.Millisecond).String()
	// Let a late dial (there must be none under the rule) show; both
	// sides ping at the same instant and stay up until the end.
	time.Sleep(time.Until(time.Unix(0, at).Add(host.LateDialWait + 2*time.Second)))
	res := <-ping.Ping(ctx, h, pid)
	if res.Error != nil {
		rep.PingErr = res.Error.Error()
	} else {
		rep.PingRTT = res.RTT.Round(time.Millisecond).String()
	}
	for _, c := range h.Network().ConnsToPeer(pid) {
		rep.Conns++
		rep.Dirs = append(rep.Dirs, c.Stat().Direction.String())
	}
	b, _ := json.Marshal(rep)
	fmt.Printf("DIALREPORT %s\n", b)
	time.Sleep(time.Until(time.Unix(0, at).Add(host.LateDialWait + 5*time.Second)))
}

func runPair(t *testing.T, nw *Network, mode string) [2]dialReport {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(1500 * time.Millisecond).UnixNano()
	var cmds [2]*exec.Cmd
	var outs [2]bytes.Buffer
	for i := range 2 {
		cmd := exec.Command("ip", "netns", "exec", nw.Namespace(i), exe, "-test.run=^TestDialHelper$", "-test.v")
		cmd.Env = append(os.Environ(), "FLOE_DIAL_HELPER=1", "FLOE_DIAL_SEED="+strconv.Itoa(i),
			"FLOE_DIAL_IP="+nw.DataIP(i), "FLOE_DIAL_PEER_IP="+nw.DataIP(1-i), "FLOE_DIAL_MODE="+mode,
			"FLOE_DIAL_AT="+strconv.FormatInt(at, 10))
		cmd.Stdout, cmd.Stderr = &outs[i], &outs[i]
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds[i] = cmd
	}
	var reps [2]dialReport
	for i, cmd := range cmds {
		err := cmd.Wait()
		line := ""
		for _, l := range bytes.Split(outs[i].Bytes(), []byte("\n")) {
			if rest, ok := bytes.CutPrefix(l, []byte("DIALREPORT ")); ok {
				line = string(rest)
			}
		}
		if line == "" || json.Unmarshal([]byte(line), &reps[i]) != nil {
			t.Fatalf("%s helper %d (%v): %s", mode, i, err, outs[i].String())
		}
	}
	return reps
}

func TestDialRuleShapedLink(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: network namespaces and TUN devices")
	}
	nw, err := New("dial", 2, Spec{Delay: 25 * time.Millisecond, Rate: 20_000_000}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer nw.Close()

	for _, mode := range []string{"reuseport", "both"} {
		for _, r := range runPair(t, nw, mode) {
			t.Logf("control %s (both dial at once): %s: %d connections %v, dial error %q, ping %s %q, connected after %s",
				mode, r.Self[len(r.Self)-6:], r.Conns, r.Dirs, r.DialErr, r.PingRTT, r.PingErr, r.Connect)
		}
	}

	reps := runPair(t, nw, "rule")
	for _, r := range reps {
		t.Logf("rule: %s (lower=%v): %d connections %v, ping %s %q, connected after %s",
			r.Self[len(r.Self)-6:], r.Lower, r.Conns, r.Dirs, r.PingRTT, r.PingErr, r.Connect)
		if r.Conns != 1 {
			t.Errorf("%s has %d connections to its peer, want exactly 1", r.Self, r.Conns)
		}
		if r.PingErr != "" {
			t.Errorf("%s: ping over the connection: %s", r.Self, r.PingErr)
		}
		want := "Inbound"
		if r.Lower {
			want = "Outbound"
		}
		if len(r.Dirs) == 1 && r.Dirs[0] != want {
			t.Errorf("%s (lower=%v): connection %s, want %s", r.Self, r.Lower, r.Dirs[0], want)
		}
	}
	if reps[0].Lower == reps[1].Lower {
		t.Fatal("both peers think they are the lower one")
	}
}
