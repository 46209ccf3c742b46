// Package account holds floe's account keys: an account is an ed25519 key,
// and its address is derived exactly as Sui derives the address of an
// ed25519 key,
//
//	address = blake2b-256(0x00 ‖ 32-byte public key)
//
// (0x00 is Sui's signature-scheme flag of ed25519), so the same key file
// names the same account on the embedded ledger and, through the Sui
// adapter, on Sui. The known-answer vectors in testdata/vectors.json were
// made by @mysten/sui's Ed25519Keypair (testdata/gen.mjs, version pinned in
// testdata/package.json).
//
// A key file holds one line: the key in Sui's export form, the bech32
// string "suiprivkey1…" of the flag byte and the 32-byte seed (what `sui
// keytool export` prints and `sui keytool import` reads). 64 hex digits of
// the seed are accepted too. Key files are written with mode 0600, and a
// key file that group or others may read is refused, as ssh refuses one.
//
// The package signs raw messages (Key.Sign); callers prefix their own
// domain separation (chainlink's request envelope starts with
// "floe/ledger-request/v1"). Sui signs 32-byte blake2b digests of
// intent-prefixed data, never a longer message, so a signature over a floe
// envelope is never a valid Sui signature and the other way round.
package account

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/blake2b"
)

// Sizes.
const (
	SeedSize      = ed25519.SeedSize      // 32
	PublicKeySize = ed25519.PublicKeySize // 32
	SignatureSize = ed25519.SignatureSize // 64
	AddressSize   = 32
)

// FlagEd25519 is Sui's signature-scheme flag of ed25519 keys.
const FlagEd25519 = 0x00

// SuiPrivateKeyPrefix is the bech32 human-readable part of Sui's exported
// private keys.
const SuiPrivateKeyPrefix = "suiprivkey"

// ErrKey marks a key, key file or signature this package refuses.
var ErrKey = errors.New("account: bad key")

// Address is an account address: blake2b-256(0x00 ‖ public key).
type Address [AddressSize]byte

// String returns 0x-prefixed lowercase hex, as Sui prints addresses.
func (a Address) String() string { return "0x" + hex.EncodeToString(a[:]) }

// AddressOf derives the address of an ed25519 public key.
func AddressOf(pub ed25519.PublicKey) Address {
	h, _ := blake2b.New256(nil) // no key: never fails
	h.Write([]byte{FlagEd25519})
	h.Write(pub)
	var a Address
	h.Sum(a[:0])
	return a
}

// Verify reports whether sig is pub's ed25519 signature of msg. A public
// key or signature of the wrong length is simply not valid.
func Verify(pub []byte, msg, sig []byte) bool {
	if len(pub) != PublicKeySize || len(sig) != SignatureSize {
		return false
	}
	return ed25519.Verify(ed25519.PublicKey(pub), msg, sig)
}

// Key is an account's ed25519 private key.
type Key struct {
	priv ed25519.PrivateKey
	addr Address
}

// Generate creates a key from r (crypto/rand.Reader if nil).
func Generate(r io.Reader) (*Key, error) {
	if r == nil {
		r = rand.Reader
	}
	seed := make([]byte, SeedSize)
	if _, err := io.ReadFull(r, seed); err != nil {
		return nil, fmt.Errorf("account: generating key: %w", err)
	}
	return FromSeed(seed)
}

// FromSeed returns the key of a 32-byte ed25519 seed (RFC 8032's private
// key; what Sui exports).
func FromSeed(seed []byte) (*Key, error) {
	if len(seed) != SeedSize {
		return nil, fmt.Errorf("%w: seed of %d bytes, want %d", ErrKey, len(seed), SeedSize)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	return &Key{priv: priv, addr: AddressOf(priv.Public().(ed25519.PublicKey))}, nil
}

// Seed returns the 32-byte seed.
func (k *Key) Seed() []byte { return k.priv.Seed() }

// PublicKey returns the 32-byte public key.
func (k *Key) PublicKey() ed25519.PublicKey { return k.priv.Public().(ed25519.PublicKey) }

// Address returns the account address.
func (k *Key) Address() Address { return k.addr }

// Sign signs msg (pure ed25519, no prehash).
func (k *Key) Sign(msg []byte) []byte { return ed25519.Sign(k.priv, msg) }

// SuiPrivateKey returns the key in Sui's export form: bech32 with prefix
// "suiprivkey" of the flag byte 0x00 and the seed.
func (k *Key) SuiPrivateKey() string {
	s, err := bech32Encode(SuiPrivateKeyPrefix, append([]byte{FlagEd25519}, k.Seed()...))
	if err != nil {
		panic(err) // a 33-byte payload always encodes
	}
	return s
}

// ParseSuiPrivateKey parses a "suiprivkey1…" string of an ed25519 key.
func ParseSuiPrivateKey(s string) (*Key, error) {
	hrp, data, err := bech32Decode(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKey, err)
	}
	if hrp != SuiPrivateKeyPrefix {
		return nil, fmt.Errorf("%w: prefix %q, want %q", ErrKey, hrp, SuiPrivateKeyPrefix)
	}
	if len(data) != 1+SeedSize {
		return nil, fmt.Errorf("%w: %d bytes after the prefix, want %d", ErrKey, len(data), 1+SeedSize)
	}
	if data[0] != FlagEd25519 {
		return nil, fmt.Errorf("%w: signature scheme flag %#02x; only ed25519 (0x00) keys are accounts", ErrKey, data[0])
	}
	return FromSeed(data[1:])
}

// ParseKey parses the text of a key file: a suiprivkey string or 64 hex
// digits of the seed (optionally 0x-prefixed), surrounding space ignored.
func ParseKey(text string) (*Key, error) {
	s := strings.TrimSpace(text)
	if strings.HasPrefix(strings.ToLower(s), SuiPrivateKeyPrefix) {
		return ParseSuiPrivateKey(s)
	}
	h := strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	if len(h) != 2*SeedSize {
		return nil, fmt.Errorf("%w: want a suiprivkey1… string or %d hex digits", ErrKey, 2*SeedSize)
	}
	seed, err := hex.DecodeString(h)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKey, err)
	}
	return FromSeed(seed)
}

// Load reads a key file. It refuses one that group or others can read or
// write.
func Load(path string) (*Key, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrKey, path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %04o: an account key must be private to its owner (chmod 600 %s)", ErrKey, path, perm, path)
	}
	b, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return nil, err
	}
	k, err := ParseKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// Write writes k to path (mode 0600, through a temporary file renamed into
// place). It refuses to replace an existing file: a key lost is an account
// lost.
func Write(path string, k *Key) error {
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("account: %s exists; not overwriting a key", path)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.WriteString(k.SuiPrivateKey() + "\n"); err != nil {
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
	// Link, not rename: a key created meanwhile by someone else is kept.
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("account: %s exists; not overwriting a key", path)
		}
		return err
	}
	return nil
}

// LoadOrCreate reads the key at path, or creates one there (mode 0600) if
// there is none. created says which.
func LoadOrCreate(path string) (k *Key, created bool, err error) {
	k, err = Load(path)
	if err == nil {
		return k, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}
	if k, err = Generate(nil); err != nil {
		return nil, false, err
	}
	if err := Write(path, k); err != nil {
		// Someone else created it first: use theirs.
		if k2, lerr := Load(path); lerr == nil {
			return k2, false, nil
		}
		return nil, false, err
	}
	return k, true, nil
}
