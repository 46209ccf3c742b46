package rest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// NetworkKeyFile is the node's network key in its data directory: a P-256
// key (Walrus's network key, secp256r1) in PKCS#8 PEM, mode 0600, created
// on first start. Its public key is what clients pin (F7.1).
const NetworkKeyFile = "network.key"

// ErrPinMismatch: the server's certificate is not for the pinned key.
var ErrPinMismatch = errors.New("rest: the server's certificate is not for the pinned network key")

// LoadOrCreateNetworkKey reads the network key at path, or creates it.
func LoadOrCreateNetworkKey(path string) (*ecdsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		blk, _ := pem.Decode(b)
		if blk == nil || blk.Type != "PRIVATE KEY" {
			return nil, fmt.Errorf("rest: network key %s: not a PKCS#8 PEM private key", path)
		}
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("rest: network key %s: %w", path, err)
		}
		ek, ok := k.(*ecdsa.PrivateKey)
		if !ok || ek.Curve != elliptic.P256() {
			return nil, fmt.Errorf("rest: network key %s: not a P-256 key", path)
		}
		return ek, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	if err := writeFileAtomic(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return nil, fmt.Errorf("rest: writing network key: %w", err)
	}
	return k, nil
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// CompressedKey is the SEC 1 compressed form of a P-256 public key (33
// bytes): how fastcrypto, and so Walrus's on-chain network_public_key,
// writes it.
func CompressedKey(pub *ecdsa.PublicKey) []byte {
	u, err := pub.Bytes()
	if err != nil || len(u) != 65 {
		return nil
	}
	out := make([]byte, 33)
	out[0] = 2 | u[64]&1
	copy(out[1:], u[1:33])
	return out
}

// ParseNetworkKey parses a P-256 public key, compressed (33 bytes) or
// uncompressed (65).
func ParseNetworkKey(b []byte) (*ecdsa.PublicKey, error) {
	switch len(b) {
	case 65:
		return ecdsa.ParseUncompressedPublicKey(elliptic.P256(), b)
	case 33:
		x, y := elliptic.UnmarshalCompressed(elliptic.P256(), b)
		if x == nil {
			return nil, errors.New("rest: not a compressed P-256 point")
		}
		u := make([]byte, 65)
		u[0] = 4
		x.FillBytes(u[1:33])
		y.FillBytes(u[33:])
		return ecdsa.ParseUncompressedPublicKey(elliptic.P256(), u)
	}
	return nil, fmt.Errorf("rest: network public key of %d bytes", len(b))
}

// ServerName is the name a self-signed certificate carries for a network
// key (F7.1): the first four bytes of the compressed key, each as
// lowercase hex without zero padding, then ".network.walrus.alt".
func ServerName(pub *ecdsa.PublicKey) string {
	var b strings.Builder
	for _, c := range CompressedKey(pub)[:4] {
		fmt.Fprintf(&b, "%x", c)
	}
	return b.String() + ".network.walrus.alt"
}

// SelfSignedCertificate makes the certificate a node presents: self-signed
// by its network key, CN and first DNS SAN ServerName(key), then the public
// host clients use (an IP SAN for an address, a DNS SAN for a name), valid
// from 1975 to 4096 as rcgen's defaults in Walrus.
func SelfSignedCertificate(key *ecdsa.PrivateKey, publicHost string) (tls.Certificate, error) {
	name := ServerName(&key.PublicKey)
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 63))
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Date(1975, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:     time.Date(4096, 1, 1, 0, 0, 0, 0, time.UTC),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{name},
	}
	if publicHost != "" {
		if ip := net.ParseIP(publicHost); ip != nil {
			tmpl.IPAddresses = []net.IP{ip}
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, publicHost)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// VerifyPinned checks that the server's leaf certificate is for the pinned
// key, as Walrus's client does (tls.rs TlsCertificateVerifier): the
// certificate is accepted whatever its issuer, names or validity once its
// SubjectPublicKeyInfo is the pinned key's. The TLS handshake itself
// proves the server holds the key's private half.
func VerifyPinned(pub *ecdsa.PublicKey, rawCerts [][]byte) error {
	if len(rawCerts) == 0 {
		return fmt.Errorf("%w: no certificate", ErrPinMismatch)
	}
	want, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return err
	}
	leaf, err := x509.ParseCertificate(rawCerts[0])
	if err != nil {
		return fmt.Errorf("%w: %v", ErrPinMismatch, err)
	}
	if !bytes.Equal(leaf.RawSubjectPublicKeyInfo, want) {
		return ErrPinMismatch
	}
	return nil
}

// PinnedTLSConfig is a client TLS configuration that accepts exactly the
// servers holding the network key pub, over HTTP/2 or HTTP/1.1.
func PinnedTLSConfig(pub *ecdsa.PublicKey) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"h2", "http/1.1"},
		ServerName: ServerName(pub),
		// The chain is checked by VerifyPeerCertificate: pinned key only.
		InsecureSkipVerify: true,
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			return VerifyPinned(pub, raw)
		},
	}
}
