package linkemu

import (
	"container/heap"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Spec describes every instance's access link.
type Spec struct {
	Delay  time.Duration // one way
	Jitter time.Duration // uniform in [-Jitter, +Jitter], never reordering
	Rate   int64         // bits per second, uplink and downlink each; 0 unlimited
	Loss   float64       // drop probability per packet
	MTU    int           // default 1500
	// QueueDelay bounds the wait for a serialiser (default 100 ms).
	QueueDelay time.Duration
}

// Tag is the spec as figure tags: "lat=25ms,bw=20Mbit/s[,jitter=…][,loss=…]".
func (s Spec) Tag() string {
	t := "lat=" + s.Delay.String() + ",bw=" + FormatRate(s.Rate)
	if s.Delay == 0 {
		t = "lat=0ms,bw=" + FormatRate(s.Rate)
	}
	if s.Jitter > 0 {
		t += ",jitter=" + s.Jitter.String()
	}
	if s.Loss > 0 {
		t += ",loss=" + strconv.FormatFloat(s.Loss, 'g', -1, 64)
	}
	return t
}

// ParseRate parses "20Mbit/s", "100Mbit", "1Gbit/s", "500kbit/s"; "" or
// "0" is unlimited.
func ParseRate(s string) (int64, error) {
	s = strings.TrimSuffix(strings.TrimSpace(s), "/s")
	if s == "" || s == "0" || s == "none" {
		return 0, nil
	}
	for _, u := range []struct {
		s string
		m float64
	}{{"Gbit", 1e9}, {"Mbit", 1e6}, {"kbit", 1e3}, {"Kbit", 1e3}, {"bit", 1}} {
		if num, ok := strings.CutSuffix(s, u.s); ok {
			f, err := strconv.ParseFloat(num, 64)
			if err != nil || f < 0 {
				break
			}
			return int64(f * u.m), nil
		}
	}
	return 0, fmt.Errorf("rate %q: want e.g. 20Mbit/s", s)
}

// FormatRate writes a rate as ParseRate reads it ("none" for 0).
func FormatRate(r int64) string {
	switch {
	case r == 0:
		return "none"
	case r%1e9 == 0:
		return strconv.FormatInt(r/1e9, 10) + "Gbit/s"
	case r%1e6 == 0:
		return strconv.FormatInt(r/1e6, 10) + "Mbit/s"
	case r%1e3 == 0:
		return strconv.FormatInt(r/1e3, 10) + "kbit/s"
	}
	return strconv.FormatInt(r, 10) + "bit/s"
}

// Network is a set of namespaces joined by emulated links.
type Network struct {
	id    string
	spec  Spec
	log   *slog.Logger
	ctl   string
	nss   []string
	links []*endpoint

	closed  atomic.Bool
	wg      sync.WaitGroup
	Dropped atomic.Int64 // packets dropped by loss or full queues
	Passed  atomic.Int64
}

type packet struct {
	at   time.Time
	seq  uint64
	data []byte
}

type pq []packet

func (q pq) Len() int { return len(q) }
func (q pq) Less(i, j int) bool {
	if q[i].at.Equal(q[j].at) {
		return q[i].seq < q[j].seq
	}
	return q[i].at.Before(q[j].at)
}
func (q pq) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *pq) Push(x any)   { *q = append(*q, x.(packet)) }
func (q *pq) Pop() any {
	old := *q
	p := old[len(old)-1]
	*q = old[:len(old)-1]
	return p
}

type endpoint struct {
	idx int
	tun *os.File

	upMu   sync.Mutex
	upFree time.Time

	mu       sync.Mutex
	downFree time.Time
	lastArr  []time.Time // by source
	q        pq
	seq      uint64
	wake     chan struct{}
}

// DataIP is instance i's address on the shaped network.
func (nw *Network) DataIP(i int) string { x := i + 2; return fmt.Sprintf("10.77.%d.%d", x>>8, x&255) }

// ControlIP is instance i's address on the control network.
func (nw *Network) ControlIP(i int) string {
	x := i + 2
	return fmt.Sprintf("10.250.%d.%d", x>>8, x&255)
}

// Namespace is instance i's network namespace (for `ip netns exec`).
func (nw *Network) Namespace(i int) string { return nw.nss[i] }

const controlAddr = "10.250.0.1"

// New makes n namespaces joined by links of spec. id (a few letters)
// names them: ftg<id>c is the control namespace, ftg<id>-<i> instance i's.
func New(id string, n int, spec Spec, log *slog.Logger) (_ *Network, err error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("linkemu: shaped links need root (network namespaces, TUN devices)")
	}
	if n < 1 || n > 60000 {
		return nil, fmt.Errorf("linkemu: %d instances", n)
	}
	if spec.MTU == 0 {
		spec.MTU = 1500
	}
	if spec.QueueDelay == 0 {
		spec.QueueDelay = 100 * time.Millisecond
	}
	if log == nil {
		log = slog.Default()
	}
	nw := &Network{id: id, spec: spec, log: log, ctl: "ftg" + id + "c"}
	defer func() {
		if err != nil {
			nw.Close()
		}
	}()
	if err := ipcmd("netns", "add", nw.ctl); err != nil {
		return nil, err
	}
	for _, c := range [][]string{
		{"-n", nw.ctl, "link", "set", "lo", "up"},
		{"-n", nw.ctl, "link", "add", "br0", "type", "bridge"},
		{"-n", nw.ctl, "addr", "add", controlAddr + "/16", "dev", "br0"},
		{"-n", nw.ctl, "link", "set", "br0", "up"},
	} {
		if err := ipcmd(c...); err != nil {
			return nil, err
		}
	}
	for i := range n {
		ns := fmt.Sprintf("ftg%s-%d", id, i)
		if err := ipcmd("netns", "add", ns); err != nil {
			return nil, err
		}
		nw.nss = append(nw.nss, ns)
		veth := "v" + strconv.Itoa(i)
		for _, c := range [][]string{
			{"-n", ns, "link", "set", "lo", "up"},
			{"-n", nw.ctl, "link", "add", veth, "type", "veth", "peer", "name", "ctl0", "netns", ns},
			{"-n", nw.ctl, "link", "set", veth, "master", "br0", "up"},
			{"-n", ns, "addr", "add", nw.ControlIP(i) + "/16", "dev", "ctl0"},
			{"-n", ns, "link", "set", "ctl0", "up"},
		} {
			if err := ipcmd(c...); err != nil {
				return nil, err
			}
		}
		var tun *os.File
		if err := InNamespace(ns, func() (err error) { tun, err = openTUN("tg0"); return err }); err != nil {
			return nil, fmt.Errorf("linkemu: TUN in %s: %w", ns, err)
		}
		nw.links = append(nw.links, &endpoint{idx: i, tun: tun, lastArr: make([]time.Time, n), wake: make(chan struct{}, 1)})
		for _, c := range [][]string{
			{"-n", ns, "addr", "add", nw.DataIP(i) + "/16", "dev", "tg0"},
			{"-n", ns, "link", "set", "tg0", "mtu", strconv.Itoa(spec.MTU), "up"},
		} {
			if err := ipcmd(c...); err != nil {
				return nil, err
			}
		}
	}
	for _, ep := range nw.links {
		nw.wg.Add(2)
		go nw.readLoop(ep)
		go nw.deliverLoop(ep)
	}
	log.Info("shaped network up", "instances", n, "spec", spec.Tag())
	return nw, nil
}

// ListenControl listens on TCP in the control namespace, at the address
// every instance reaches over its control link.
func (nw *Network) ListenControl() (net.Listener, error) {
	var ln net.Listener
	err := InNamespace(nw.ctl, func() (err error) { ln, err = net.Listen("tcp", controlAddr+":0"); return err })
	return ln, err
}

// Close stops forwarding and deletes the namespaces.
func (nw *Network) Close() error {
	if nw.closed.Swap(true) {
		return nil
	}
	for _, ep := range nw.links {
		ep.tun.Close()
		select {
		case ep.wake <- struct{}{}:
		default:
		}
	}
	nw.wg.Wait()
	var errs []error
	for _, ns := range nw.nss {
		errs = append(errs, ipcmd("netns", "del", ns))
	}
	if nw.ctl != "" {
		errs = append(errs, ipcmd("netns", "del", nw.ctl))
	}
	nw.log.Info("shaped network down", "passed", nw.Passed.Load(), "dropped", nw.Dropped.Load())
	return errors.Join(errs...)
}

// index maps a data address to its instance, or -1.
func (nw *Network) index(ip []byte) int {
	if ip[0] != 10 || ip[1] != 77 {
		return -1
	}
	i := int(ip[2])<<8 | int(ip[3]) - 2
	if i < 0 || i >= len(nw.links) {
		return -1
	}
	return i
}

func (nw *Network) tx(n int) time.Duration {
	if nw.spec.Rate == 0 {
		return 0
	}
	return time.Duration(int64(n) * 8 * int64(time.Second) / nw.spec.Rate)
}

func (nw *Network) readLoop(src *endpoint) {
	defer nw.wg.Done()
	buf := make([]byte, 65536)
	for {
		n, err := src.tun.Read(buf)
		if err != nil {
			if !nw.closed.Load() {
				nw.log.Warn("linkemu: TUN read", "instance", src.idx, "err", err)
			}
			return
		}
		if n < 20 || buf[0]>>4 != 4 {
			continue // IPv4 only (IPv6 router solicitations and the like)
		}
		j := nw.index(buf[16:20])
		if j < 0 || j == src.idx {
			continue
		}
		if nw.spec.Loss > 0 && rand.Float64() < nw.spec.Loss {
			nw.Dropped.Add(1)
			continue
		}
		now := time.Now()
		d := nw.tx(n)
		src.upMu.Lock()
		start := src.upFree
		if start.Before(now) {
			start = now
		}
		if start.Sub(now) > nw.spec.QueueDelay {
			src.upMu.Unlock()
			nw.Dropped.Add(1)
			continue
		}
		src.upFree = start.Add(d)
		depart := src.upFree
		src.upMu.Unlock()
		arrive := depart.Add(nw.spec.Delay)
		if nw.spec.Jitter > 0 {
			arrive = arrive.Add(time.Duration(rand.Int64N(int64(2*nw.spec.Jitter))) - nw.spec.Jitter)
		}
		dst := nw.links[j]
		dst.mu.Lock()
		if arrive.Before(dst.lastArr[src.idx]) {
			arrive = dst.lastArr[src.idx]
		}
		dst.lastArr[src.idx] = arrive
		at := arrive
		if d > 0 {
			s := dst.downFree
			if s.Before(arrive) {
				s = arrive
			}
			if s.Sub(arrive) > nw.spec.QueueDelay {
				dst.mu.Unlock()
				nw.Dropped.Add(1)
				continue
			}
			dst.downFree = s.Add(d)
			at = dst.downFree
		}
		dst.seq++
		heap.Push(&dst.q, packet{at: at, seq: dst.seq, data: append([]byte(nil), buf[:n]...)})
		first := dst.q[0].seq == dst.seq
		dst.mu.Unlock()
		if first {
			select {
			case dst.wake <- struct{}{}:
			default:
			}
		}
	}
}

func (nw *Network) deliverLoop(ep *endpoint) {
	defer nw.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var batch [][]byte
	for !nw.closed.Load() {
		ep.mu.Lock()
		now := time.Now()
		batch = batch[:0]
		for len(ep.q) > 0 && !ep.q[0].at.After(now) {
			batch = append(batch, heap.Pop(&ep.q).(packet).data)
		}
		var wait time.Duration = time.Hour
		if len(ep.q) > 0 {
			wait = ep.q[0].at.Sub(now)
		}
		ep.mu.Unlock()
		for _, p := range batch {
			if _, err := ep.tun.Write(p); err != nil && !nw.closed.Load() {
				nw.log.Debug("linkemu: TUN write", "instance", ep.idx, "err", err)
			}
			nw.Passed.Add(1)
		}
		if len(batch) > 0 {
			continue
		}
		timer.Reset(wait)
		select {
		case <-ep.wake:
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
		case <-timer.C:
		}
	}
}

// openTUN creates a TUN device (no packet information header) in the
// calling thread's network namespace.
func openTUN(name string) (*os.File, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		return nil, err
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), "/dev/net/tun:"+name), nil
}

// InNamespace runs f on an OS thread that has entered the named network
// namespace (/run/netns/NAME); sockets and devices f creates belong to it
// and stay usable from any thread. The thread is discarded if it cannot
// return to the process's namespace.
func InNamespace(name string, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			errc <- err
			return // the thread stays locked and is discarded
		}
		defer orig.Close()
		target, err := os.Open("/run/netns/" + name)
		if err != nil {
			errc <- err
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", name, err)
			return
		}
		ferr := f()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err == nil {
			runtime.UnlockOSThread()
		}
		errc <- ferr
	}()
	return <-errc
}

func ipcmd(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
