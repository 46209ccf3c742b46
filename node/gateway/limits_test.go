package gateway

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"
)

func TestClientKey(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:5000":                "127.0.0.1",
		"[::ffff:10.1.2.3]:80":          "10.1.2.3",
		"[2001:db8:1:2:3:4:5:6]:443":    "2001:db8:1:2::/64",
		"[2001:db8:1:2:ffff::1%eth0]:1": "2001:db8:1:2::/64",
		"not an address":                "not an address",
	} {
		if got := clientKey(in); got != want {
			t.Errorf("clientKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPoolCaps(t *testing.T) {
	p := newPool("reads", 3, 2)
	r1, _ := p.take("a")
	r2, _ := p.take("a")
	if r, full := p.take("a"); r != nil || full != "client" {
		t.Fatalf("third slot of one client: %v", full)
	}
	r3, _ := p.take("b")
	if r, full := p.take("c"); r != nil || full != "gateway" {
		t.Fatalf("a fourth slot: %v", full)
	}
	r1()
	r1() // releasing twice frees one slot
	if r, _ := p.take("c"); r == nil {
		t.Fatal("a freed slot was not reusable")
	}
	if r, _ := p.take("d"); r != nil {
		t.Fatal("a double release freed two slots")
	}
	r2()
	r3()
}

func TestConnLimit(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := limitConns(ln, 2)
	defer cl.Close()
	accepted := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := cl.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	var conns []net.Conn
	for range 3 {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	// The third is answered 429 and closed.
	_ = conns[2].SetReadDeadline(time.Now().Add(5 * time.Second))
	line, _ := bufio.NewReader(conns[2]).ReadString('\n')
	if !strings.HasPrefix(line, "HTTP/1.1 429") {
		t.Fatalf("third connection: %q", line)
	}
	first := <-accepted
	<-accepted
	first.Close()
	// Closing one frees its place.
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	select {
	case <-accepted:
	case <-time.After(5 * time.Second):
		t.Fatal("a connection after one closed was not accepted")
	}
}
