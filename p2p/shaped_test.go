package p2p

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"floe/codec"
)

// bufferedUplink is a stream behind a slow, deeply buffered uplink, as a
// publisher's stream is when ten pushes share its link: writes land in a
// buffer at once (the stream's window and the kernel's socket buffer hold
// megabytes) and the buffer drains to the peer at rate bytes a second; a
// half-close goes out after the last byte.
type bufferedUplink struct {
	network.Stream
	rate float64

	mu     sync.Mutex
	buf    []byte
	closed bool
	wake   chan struct{}
}

func newBufferedUplink(s network.Stream, rate float64) *bufferedUplink {
	u := &bufferedUplink{Stream: s, rate: rate, wake: make(chan struct{}, 1)}
	go u.pump()
	return u
}

func (u *bufferedUplink) Write(b []byte) (int, error) {
	u.mu.Lock()
	u.buf = append(u.buf, b...)
	u.mu.Unlock()
	u.signal()
	return len(b), nil
}

func (u *bufferedUplink) CloseWrite() error {
	u.mu.Lock()
	u.closed = true
	u.mu.Unlock()
	u.signal()
	return nil
}

// SetWriteDeadline: the buffer takes every write at once.
func (u *bufferedUplink) SetWriteDeadline(time.Time) error { return nil }

func (u *bufferedUplink) SetDeadline(t time.Time) error { return u.Stream.SetReadDeadline(t) }

func (u *bufferedUplink) signal() {
	select {
	case u.wake <- struct{}{}:
	default:
	}
}

// pump sends the buffer on in 16 KiB steps at rate.
func (u *bufferedUplink) pump() {
	start, sent := time.Now(), 0
	for {
		u.mu.Lock()
		n := min(len(u.buf), 16<<10)
		chunk := append([]byte(nil), u.buf[:n]...)
		u.buf = u.buf[n:]
		closed := u.closed && len(u.buf) == 0
		u.mu.Unlock()
		if n == 0 {
			if closed {
				_ = u.Stream.CloseWrite()
				return
			}
			<-u.wake
			start, sent = time.Now(), 0
			continue
		}
		if _, err := u.Stream.Write(chunk); err != nil {
			return
		}
		sent += n
		time.Sleep(time.Until(start.Add(time.Duration(float64(sent) / u.rate * float64(time.Second)))))
		if closed {
			_ = u.Stream.CloseWrite()
			return
		}
	}
}

// uplinkHost opens every stream behind a bufferedUplink.
type uplinkHost struct {
	host.Host
	rate float64
}

func (h uplinkHost) NewStream(ctx context.Context, p peer.ID, pids ...protocol.ID) (network.Stream, error) {
	s, err := h.Host.NewStream(ctx, p, pids...)
	if err != nil {
		return nil, err
	}
	return newBufferedUplink(s, h.rate), nil
}

// A put-slivers part whose bytes sit in the sender's buffers after its
// last write, and reach the server at a rate above the server's floor but
// below the client's MinRate, is answered, not cut off by the client: the
// client waited for the answer only as long as the server's last batch
// takes at MinRate, counted from the last write, so on a shared 20 Mbit/s
// uplink every push of a 16 MiB store failed with "put slivers: p2p:
// timeout: i/o deadline reached" (issue #16).
func TestPutSliversBehindBufferedUplink(t *testing.T) {
	// The server cuts off a sender below 1 MiB per (Idle + 1 MiB/MinRate)
	// = 2 s; the uplink delivers 0.7 MiB/s.
	to := Timeouts{Idle: time.Second, MinRate: 1 << 20, Handler: 30 * time.Second, Request: time.Second}
	p := newPair(t, func(c *ServerConfig) { c.Timeouts = to })
	ccfg := DefaultClientConfig(testNetwork, testParams(t))
	ccfg.Timeouts = to
	cli, err := NewClient(uplinkHost{Host: p.cliHost, rate: 0.7 * (1 << 20)}, ccfg)
	if err != nil {
		t.Fatal(err)
	}
	var put []Sliver
	for i := range 20 { // 20 × 250 KiB: about 5 MiB
		put = append(put, Sliver{SliverRef{uint16(i / 2), codec.SliverType(i % 2)}, bytes.Repeat([]byte{byte(i)}, 250<<10)})
	}
	ctx := ctxT(t, 30*time.Second)
	errs, err := cli.PutSlivers(ctx, p.srvHost.ID(), blobID(3), put)
	if err != nil {
		t.Fatalf("5 MiB behind a 0.7 MiB/s buffered uplink: %v", err)
	}
	for i, e := range errs {
		if e != nil {
			t.Fatalf("sliver %d: %v", i, e)
		}
	}
	p.h.mu.Lock()
	defer p.h.mu.Unlock()
	if got := len(p.h.slivers[blobID(3)]); got != len(put) {
		t.Fatalf("server holds %d slivers, want %d", got, len(put))
	}
}
