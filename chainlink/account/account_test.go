package account

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

type vectorFile struct {
	Generator string `json:"generator"`
	Message   string `json:"message"`
	Vectors   []struct {
		Seed          string `json:"seed"`
		PublicKey     string `json:"public_key"`
		Address       string `json:"address"`
		SuiPrivateKey string `json:"sui_private_key"`
		Signature     string `json:"signature"`
	} `json:"vectors"`
}

// The addresses, public keys, exported keys and signatures @mysten/sui
// derives from fixed seeds (testdata/gen.mjs) are what this package
// derives.
func TestSuiVectors(t *testing.T) {
	b, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var vf vectorFile
	if err := json.Unmarshal(b, &vf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(vf.Generator, "@mysten/sui") || len(vf.Vectors) < 5 {
		t.Fatalf("unexpected vector file: %s, %d vectors", vf.Generator, len(vf.Vectors))
	}
	msg, _ := hex.DecodeString(vf.Message)
	for i, v := range vf.Vectors {
		seed, _ := hex.DecodeString(v.Seed)
		k, err := FromSeed(seed)
		if err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(k.PublicKey()); got != v.PublicKey {
			t.Errorf("vector %d: public key %s, want %s", i, got, v.PublicKey)
		}
		if got := k.Address().String(); got != v.Address {
			t.Errorf("vector %d: address %s, want %s", i, got, v.Address)
		}
		if got := k.SuiPrivateKey(); got != v.SuiPrivateKey {
			t.Errorf("vector %d: suiprivkey %s, want %s", i, got, v.SuiPrivateKey)
		}
		if got := hex.EncodeToString(k.Sign(msg)); got != v.Signature {
			t.Errorf("vector %d: signature %s, want %s", i, got, v.Signature)
		}
		back, err := ParseKey(v.SuiPrivateKey)
		if err != nil || !bytes.Equal(back.Seed(), seed) {
			t.Errorf("vector %d: parse suiprivkey: %v", i, err)
		}
		if back, err := ParseKey(strings.ToUpper(v.SuiPrivateKey)); err != nil || !bytes.Equal(back.Seed(), seed) {
			t.Errorf("vector %d: upper-case suiprivkey: %v", i, err)
		}
		if back, err := ParseKey("  0x" + v.Seed + "\n"); err != nil || back.Address() != k.Address() {
			t.Errorf("vector %d: hex seed: %v", i, err)
		}
		pub, _ := hex.DecodeString(v.PublicKey)
		sig, _ := hex.DecodeString(v.Signature)
		if !Verify(pub, msg, sig) || Verify(pub, append(msg, 0), sig) {
			t.Errorf("vector %d: verify", i)
		}
	}
}

// The derivation by hand: blake2b-256 over the flag byte and the key.
func TestAddressOf(t *testing.T) {
	k, _ := FromSeed(make([]byte, 32))
	if AddressOf(k.PublicKey()) != k.Address() {
		t.Fatal("AddressOf differs from Key.Address")
	}
	// The zero seed's address, as Sui prints it (vectors.json, vector 0).
	if got := k.Address().String(); got != "0x7a1378aafadef8ce743b72e8b248295c8f61c102c94040161146ea4d51a182b6" {
		t.Fatalf("zero-seed address %s", got)
	}
}

func TestParseKeyRefuses(t *testing.T) {
	good, _ := FromSeed(bytes.Repeat([]byte{7}, 32))
	s := good.SuiPrivateKey()
	flip := []byte(s)
	flip[len(flip)-1] ^= 1
	secp, _ := bech32Encode(SuiPrivateKeyPrefix, append([]byte{0x01}, good.Seed()...))
	short, _ := bech32Encode(SuiPrivateKeyPrefix, good.Seed())
	other, _ := bech32Encode("suipubkey", append([]byte{0}, good.Seed()...))
	for _, tc := range []string{
		"", "00", strings.Repeat("zz", 32), string(flip), secp, short, other,
		s[:10] + strings.ToUpper(s[10:]), s + "q", strings.Repeat("0", 66),
	} {
		if _, err := ParseKey(tc); !errors.Is(err, ErrKey) {
			t.Errorf("ParseKey(%q): %v, want ErrKey", tc, err)
		}
	}
	if _, err := FromSeed(make([]byte, 31)); !errors.Is(err, ErrKey) {
		t.Fatalf("short seed: %v", err)
	}
}

func TestVerifyRefusesWrongLengths(t *testing.T) {
	k, _ := Generate(nil)
	sig := k.Sign([]byte("m"))
	if Verify(k.PublicKey()[:31], []byte("m"), sig) || Verify(k.PublicKey(), []byte("m"), sig[:63]) {
		t.Fatal("short key or signature verified")
	}
	if !Verify(k.PublicKey(), []byte("m"), sig) {
		t.Fatal("good signature refused")
	}
}

func TestFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "owner.key")
	k, created, err := LoadOrCreate(path)
	if err != nil || !created {
		t.Fatalf("create: %v %v", created, err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v %v", fi.Mode(), err)
	}
	b, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(b), "suiprivkey1") || !strings.HasSuffix(string(b), "\n") {
		t.Fatalf("key file %q", b)
	}
	k2, created, err := LoadOrCreate(path)
	if err != nil || created || k2.Address() != k.Address() {
		t.Fatalf("reload: %v %v", created, err)
	}
	if err := Write(path, k); err == nil {
		t.Fatal("Write replaced an existing key")
	}
	// A key others can read is refused.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); !errors.Is(err, ErrKey) || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("world-readable key: %v", err)
	}
	if _, err := Load(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing key: %v", err)
	}
	// A corrupt key file is an error, never replaced by a new key.
	bad := filepath.Join(dir, "bad.key")
	if err := os.WriteFile(bad, []byte("garbage\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreate(bad); !errors.Is(err, ErrKey) {
		t.Fatalf("corrupt key: %v", err)
	}
	if b, _ := os.ReadFile(bad); string(b) != "garbage\n" {
		t.Fatal("corrupt key file was replaced")
	}
	// Hex seed files (another tool's export) load too.
	hexPath := filepath.Join(dir, "hex.key")
	if err := os.WriteFile(hexPath, []byte(hex.EncodeToString(k.Seed())+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if k3, err := Load(hexPath); err != nil || k3.Address() != k.Address() {
		t.Fatalf("hex key: %v", err)
	}
}

// Concurrent first starts agree on one key.
func TestLoadOrCreateRace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k")
	var wg sync.WaitGroup
	addrs := make([]Address, 8)
	for i := range addrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, _, err := LoadOrCreate(path)
			if err != nil {
				t.Error(err)
				return
			}
			addrs[i] = k.Address()
		}()
	}
	wg.Wait()
	for _, a := range addrs {
		if a != addrs[0] {
			t.Fatal("racing creators got different keys")
		}
	}
}

func TestBech32RoundTrip(t *testing.T) {
	for n := range 40 {
		data := bytes.Repeat([]byte{byte(n * 7)}, n)
		s, err := bech32Encode("hrp", data)
		if err != nil {
			t.Fatal(err)
		}
		hrp, back, err := bech32Decode(s)
		if err != nil || hrp != "hrp" || !bytes.Equal(back, data) {
			t.Fatalf("%d bytes: %q %x %v", n, hrp, back, err)
		}
	}
	// BIP-173's valid test strings.
	for _, s := range []string{"A12UEL5L", "a12uel5l", "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw", "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w"} {
		if _, _, err := bech32Decode(s); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
}

// FuzzParseKey: key text parses without panicking, and an accepted key
// exports and parses back to the same key.
func FuzzParseKey(f *testing.F) {
	k, _ := FromSeed(make([]byte, 32))
	f.Add(k.SuiPrivateKey())
	f.Add(hex.EncodeToString(k.Seed()))
	f.Add("suiprivkey1")
	f.Add("A12UEL5L")
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseKey(s)
		if err != nil {
			return
		}
		back, err := ParseKey(k.SuiPrivateKey())
		if err != nil || !bytes.Equal(back.Seed(), k.Seed()) {
			t.Fatalf("%q: round trip: %v", s, err)
		}
		if !ed25519.Verify(k.PublicKey(), []byte("x"), k.Sign([]byte("x"))) {
			t.Fatal("key does not verify its own signature")
		}
	})
}
