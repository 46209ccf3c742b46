package sui

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"

	ma "github.com/multiformats/go-multiaddr"

	"floe/chainlink"
)

// A node's identity in Walrus's two fields (doc.go, "Node identity"):
//
//	network_address    = maddr₁/p2p/<peer ID> [" " maddr₂ …]   (floe; ≤ 259 bytes)
//	                   | host:port                             (Walrus)
//	network_public_key = 33-byte compressed secp256r1 key
//
// maddr are the node's announce multiaddrs without /p2p; the first carries
// the peer ID for all of them. Addresses that do not fit in 259 bytes are
// left out, last first.

// FormatNetworkAddress is the network_address of a floe node.
func FormatNetworkAddress(peerID string, addrs []string) (string, error) {
	if len(addrs) == 0 {
		return "", fmt.Errorf("%w: a node needs an address to announce", chainlink.ErrBadRequest)
	}
	if _, err := ma.NewComponent("p2p", peerID); err != nil {
		return "", fmt.Errorf("%w: peer ID %q: %v", chainlink.ErrBadRequest, peerID, err)
	}
	for _, a := range addrs {
		m, err := ma.NewMultiaddr(a)
		if err != nil || m.String() != a {
			return "", fmt.Errorf("%w: address %q is not a canonical multiaddr", chainlink.ErrBadRequest, a)
		}
		if _, err := m.ValueForProtocol(ma.P_P2P); err == nil {
			return "", fmt.Errorf("%w: address %q carries a peer ID already", chainlink.ErrBadRequest, a)
		}
		if strings.ContainsAny(a, " \t\n") {
			return "", fmt.Errorf("%w: address %q contains space", chainlink.ErrBadRequest, a)
		}
	}
	s := addrs[0] + "/p2p/" + peerID
	if len(s) > MaxNetworkAddressLength {
		return "", fmt.Errorf("%w: %q is longer than the %d bytes Walrus keeps", chainlink.ErrBadRequest, s, MaxNetworkAddressLength)
	}
	for _, a := range addrs[1:] {
		if len(s)+1+len(a) > MaxNetworkAddressLength {
			break
		}
		s += " " + a
	}
	return s, nil
}

// ParseNetworkAddress reads a network_address: a floe node's gives its peer
// ID and multiaddrs; a Walrus node's "host:port" gives no peer ID and the
// multiaddr of its REST endpoint (/dns4|ip4|ip6/host/tcp/port/https);
// anything else gives neither. It never fails: one odd node must not make
// a committee undecodable.
func ParseNetworkAddress(s string) (peerID string, addrs []string) {
	if strings.HasPrefix(s, "/") {
		return parseFloeAddress(s)
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" {
		return "", nil
	}
	if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 {
		return "", nil
	}
	m, err := httpsMultiaddr(host, port)
	if err != nil {
		return "", nil
	}
	return "", []string{m.String()}
}

func parseFloeAddress(s string) (string, []string) {
	parts := strings.Split(s, " ")
	first, err := ma.NewMultiaddr(parts[0])
	if err != nil {
		return "", nil
	}
	rest, last := ma.SplitLast(first)
	if last == nil || last.Protocol().Code != ma.P_P2P || len(rest) == 0 {
		return "", nil
	}
	peerID := last.Value()
	addrs := []string{rest.String()}
	for _, p := range parts[1:] {
		m, err := ma.NewMultiaddr(p)
		if err != nil {
			continue
		}
		if _, err := m.ValueForProtocol(ma.P_P2P); err == nil {
			continue // one peer per node
		}
		addrs = append(addrs, m.String())
	}
	return peerID, addrs
}

// ErrNetworkKey marks a network public key that is not a compressed P-256
// point.
var ErrNetworkKey = errors.New("sui: bad network public key")

// NetworkPublicKey is the 33-byte compressed SEC1 form of a P-256 key,
// as Walrus stores network keys.
func NetworkPublicKey(k *ecdsa.PublicKey) ([]byte, error) {
	b, err := k.Bytes()
	if err != nil || len(b) != 65 || k.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%w: not a P-256 key", ErrNetworkKey)
	}
	out := make([]byte, NetworkPublicKeySize)
	out[0] = 0x02 | b[64]&1
	copy(out[1:], b[1:33])
	return out, nil
}

// ParseNetworkPublicKey checks a compressed P-256 key.
func ParseNetworkPublicKey(b []byte) (*ecdsa.PublicKey, error) {
	if len(b) != NetworkPublicKeySize {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrNetworkKey, len(b), NetworkPublicKeySize)
	}
	x, y := elliptic.UnmarshalCompressed(elliptic.P256(), b)
	if x == nil {
		return nil, fmt.Errorf("%w: not a point of P-256", ErrNetworkKey)
	}
	return &ecdsa.PublicKey{Curve: elliptic.P256(), X: x, Y: y}, nil
}

// A floe node's REST API (chainlink.Node.NetworkAddress, https://host:port)
// travels in its network_address as one more multiaddr,
// /ip4|ip6|dns4/host/tcp/port/https, placed right after the first one (so
// it is the last to be left out), the form ParseNetworkAddress gives a
// Walrus node's host:port.

// restMultiaddr is the /…/tcp/port/https multiaddr of an https://host:port
// URL.
func restMultiaddr(rest string) (string, error) {
	if err := chainlink.CheckNetworkAddress(rest); err != nil {
		return "", err
	}
	u, err := url.Parse(rest)
	if err != nil {
		return "", fmt.Errorf("%w: network address %q: %v", chainlink.ErrBadRequest, rest, err)
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		return "", fmt.Errorf("%w: network address %q: %v", chainlink.ErrBadRequest, rest, err)
	}
	m, err := httpsMultiaddr(host, port)
	if err != nil {
		return "", fmt.Errorf("%w: network address %q: %v", chainlink.ErrBadRequest, rest, err)
	}
	return m.String(), nil
}

// restURLOf is the https://host:port URL of an /ip4|ip6|dns4|dns|dns6/host/tcp/port/https
// multiaddr, "" for any other.
func restURLOf(addr string) string {
	m, err := ma.NewMultiaddr(addr)
	if err != nil || len(m) != 3 || m[1].Protocol().Code != ma.P_TCP || m[2].Protocol().Code != ma.P_HTTPS {
		return ""
	}
	switch m[0].Protocol().Code {
	case ma.P_IP4, ma.P_IP6, ma.P_DNS4, ma.P_DNS, ma.P_DNS6:
	default:
		return ""
	}
	return "https://" + net.JoinHostPort(m[0].Value(), m[1].Value())
}

// FormatNodeAddress is the network_address of a floe node whose REST API
// is at rest (https://host:port; "" for none): FormatNetworkAddress of its
// addresses with the REST multiaddr second.
func FormatNodeAddress(peerID string, addrs []string, rest string) (string, error) {
	if rest == "" || len(addrs) == 0 {
		return FormatNetworkAddress(peerID, addrs)
	}
	m, err := restMultiaddr(rest)
	if err != nil {
		return "", err
	}
	all := make([]string, 0, len(addrs)+1)
	all = append(all, addrs[0], m)
	return FormatNetworkAddress(peerID, append(all, addrs[1:]...))
}

// ParseNodeAddress reads a network_address as ParseNetworkAddress does and
// also returns the REST URL it names: a floe node's REST multiaddr (taken
// out of addrs), or a Walrus node's host:port (its addrs keep the
// multiaddr ParseNetworkAddress gives it).
func ParseNodeAddress(s string) (peerID string, addrs []string, rest string) {
	peerID, addrs = ParseNetworkAddress(s)
	for i, a := range addrs {
		u := restURLOf(a)
		if u == "" {
			continue
		}
		if peerID != "" {
			addrs = slices.Delete(slices.Clone(addrs), i, i+1)
		}
		return peerID, addrs, u
	}
	return peerID, addrs, ""
}

// httpsMultiaddr is /ip4|ip6|dns4/host/tcp/port/https.
func httpsMultiaddr(host, port string) (ma.Multiaddr, error) {
	proto := "dns4"
	if ip := net.ParseIP(host); ip != nil {
		proto = "ip6"
		if ip.To4() != nil {
			proto = "ip4"
		}
	}
	return ma.NewMultiaddr("/" + proto + "/" + host + "/tcp/" + port + "/https")
}
