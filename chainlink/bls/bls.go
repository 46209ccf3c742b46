package bls

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	blst "github.com/supranational/blst/bindings/go"

	"floe/codec"
)

// DST is the hash-to-curve domain separation tag of Walrus protocol
// signatures (F8.1).
const DST = "BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_NUL_"

// Sizes of the encoded forms.
const (
	PublicKeySize = codec.BLSPublicKeySize // 48
	SignatureSize = codec.BLSSignatureSize // 96
	SecretKeySize = 32
)

var dst = []byte(DST)

// Errors a caller decides on.
var (
	// ErrInvalidPublicKey means bytes are not a valid compressed G1 point in
	// the prime-order subgroup, or are the identity.
	ErrInvalidPublicKey = errors.New("bls: invalid public key")
	// ErrInvalidSignature means the signature does not parse, is not in G2,
	// or does not verify for the key(s) and message.
	ErrInvalidSignature = errors.New("bls: invalid signature")
	// ErrInvalidSecretKey means bytes are not a valid scalar.
	ErrInvalidSecretKey = errors.New("bls: invalid secret key")
)

// PublicKey is a compressed min_pk public key (G1, 48 bytes).
type PublicKey [PublicKeySize]byte

// Signature is a compressed signature (G2, 96 bytes).
type Signature [SignatureSize]byte

// String returns the key in hex.
func (pk PublicKey) String() string { return hex.EncodeToString(pk[:]) }

// MarshalText encodes the key in hex.
func (pk PublicKey) MarshalText() ([]byte, error) { return []byte(pk.String()), nil }

// UnmarshalText decodes hex of exactly PublicKeySize bytes (no curve check;
// use Validate or ParsePublicKey for that).
func (pk *PublicKey) UnmarshalText(b []byte) error { return unhex(pk[:], b, "public key") }

// String returns the signature in hex.
func (s Signature) String() string { return hex.EncodeToString(s[:]) }

// MarshalText encodes the signature in hex.
func (s Signature) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText decodes hex of exactly SignatureSize bytes.
func (s *Signature) UnmarshalText(b []byte) error { return unhex(s[:], b, "signature") }

func unhex(dstb, b []byte, what string) error {
	if len(b) != 2*len(dstb) {
		return fmt.Errorf("bls: %s: %d hex digits, want %d", what, len(b), 2*len(dstb))
	}
	if _, err := hex.Decode(dstb, b); err != nil {
		return fmt.Errorf("bls: %s: %w", what, err)
	}
	return nil
}

// SecretKey is a BLS secret scalar.
type SecretKey struct {
	sk blst.SecretKey
	pk PublicKey
}

// GenerateKey draws a new secret key from r (crypto/rand if nil).
func GenerateKey(r io.Reader) (*SecretKey, error) {
	if r == nil {
		r = rand.Reader
	}
	ikm := make([]byte, 32)
	if _, err := io.ReadFull(r, ikm); err != nil {
		return nil, fmt.Errorf("bls: generate key: %w", err)
	}
	return KeyFromSeed(ikm)
}

// KeyFromSeed derives a key from at least 32 bytes of input keying material
// (IETF KeyGen). Equal seeds give equal keys, which tests and devnets use.
func KeyFromSeed(ikm []byte) (*SecretKey, error) {
	if len(ikm) < 32 {
		return nil, fmt.Errorf("%w: seed of %d bytes, need 32", ErrInvalidSecretKey, len(ikm))
	}
	sk := blst.KeyGen(ikm)
	if sk == nil {
		return nil, ErrInvalidSecretKey
	}
	return newSecret(sk), nil
}

// ParseSecretKey decodes 32 big-endian bytes.
func ParseSecretKey(b []byte) (*SecretKey, error) {
	if len(b) != SecretKeySize {
		return nil, fmt.Errorf("%w: %d bytes", ErrInvalidSecretKey, len(b))
	}
	sk := new(blst.SecretKey).Deserialize(b)
	if sk == nil || !sk.Valid() {
		return nil, ErrInvalidSecretKey
	}
	return newSecret(sk), nil
}

func newSecret(sk *blst.SecretKey) *SecretKey {
	s := &SecretKey{sk: *sk}
	copy(s.pk[:], new(blst.P1Affine).From(&s.sk).Compress())
	return s
}

// Bytes returns the 32-byte big-endian scalar.
func (k *SecretKey) Bytes() []byte { return k.sk.Serialize() }

// PublicKey returns the compressed public key.
func (k *SecretKey) PublicKey() PublicKey { return k.pk }

// Sign signs msg (the raw BCS bytes of a protocol message).
func (k *SecretKey) Sign(msg []byte) Signature {
	var s Signature
	copy(s[:], new(blst.P2Affine).Sign(&k.sk, msg, dst).Compress())
	return s
}

// Point is a decoded, validated public key, ready for repeated use.
type Point struct{ p blst.P1Affine }

// ParsePublicKey decompresses and validates pk (on curve, in G1, not the
// identity).
func ParsePublicKey(pk PublicKey) (*Point, error) {
	p := new(blst.P1Affine).Uncompress(pk[:])
	if p == nil || !p.KeyValidate() {
		return nil, ErrInvalidPublicKey
	}
	return &Point{p: *p}, nil
}

// Validate reports whether pk is a valid public key.
func (pk PublicKey) Validate() error {
	_, err := ParsePublicKey(pk)
	return err
}

func parseSig(sig Signature) (*blst.P2Affine, error) {
	s := new(blst.P2Affine).Uncompress(sig[:])
	if s == nil || !s.SigValidate(false) {
		return nil, ErrInvalidSignature
	}
	return s, nil
}

// Verify checks sig over msg for public key pk.
func Verify(pk PublicKey, msg []byte, sig Signature) error {
	p, err := ParsePublicKey(pk)
	if err != nil {
		return err
	}
	return p.Verify(msg, sig)
}

// Verify checks sig over msg for this key.
func (p *Point) Verify(msg []byte, sig Signature) error {
	s, err := parseSig(sig)
	if err != nil {
		return err
	}
	if !s.Verify(false, &p.p, false, msg, dst) {
		return ErrInvalidSignature
	}
	return nil
}

// Aggregate sums signatures (F8.5). Each must be a valid G2 point.
func Aggregate(sigs []Signature) (Signature, error) {
	if len(sigs) == 0 {
		return Signature{}, fmt.Errorf("%w: nothing to aggregate", ErrInvalidSignature)
	}
	var agg blst.P2Aggregate
	for i := range sigs {
		s, err := parseSig(sigs[i])
		if err != nil {
			return Signature{}, fmt.Errorf("signature %d: %w", i, err)
		}
		if !agg.Add(s, false) {
			return Signature{}, ErrInvalidSignature
		}
	}
	var out Signature
	copy(out[:], agg.ToAffine().Compress())
	return out, nil
}

// ProofOfPossession signs the proof-of-possession message of F8.4 binding
// this key to account addr in epoch.
func (k *SecretKey) ProofOfPossession(epoch uint32, addr [32]byte) Signature {
	return k.Sign(codec.ProofOfPossessionMessage(epoch, addr, k.pk))
}

// VerifyProofOfPossession checks a proof of possession of pk for addr in
// epoch; it also validates the key.
func VerifyProofOfPossession(pk PublicKey, epoch uint32, addr [32]byte, pop Signature) error {
	return Verify(pk, codec.ProofOfPossessionMessage(epoch, addr, pk), pop)
}
