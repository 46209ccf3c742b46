package bls

import (
	"errors"
	"fmt"
	"slices"

	blst "github.com/supranational/blst/bindings/go"
)

// Certificate errors.
var (
	// ErrBadBitmap means a signer bitmap is longer than ceil(members/8) bytes
	// or has bits set past the last member (F8.7).
	ErrBadBitmap = errors.New("bls: malformed signer bitmap")
	// ErrDuplicateSigner means a signer index appears twice.
	ErrDuplicateSigner = errors.New("bls: duplicate signer")
	// ErrSignerOutOfRange means a signer index is not a committee member.
	ErrSignerOutOfRange = errors.New("bls: signer index out of range")
	// ErrQuorum means the signers' shard weight is below the threshold.
	ErrQuorum = errors.New("bls: signers' weight below threshold")
	// ErrEmptyCommittee means a committee has no members or no shards.
	ErrEmptyCommittee = errors.New("bls: empty committee")
)

// Threshold is a certificate weight rule of F8.7.
type Threshold int

const (
	// Quorum is 3·w ≥ 2·n + 1 (storage certificates).
	Quorum Threshold = iota
	// OneCorrect is 3·w ≥ n + 1 (invalid-blob-ID certificates).
	OneCorrect
)

// Reached reports whether weight w of n shards meets the threshold.
func (t Threshold) Reached(w, n int) bool {
	if t == OneCorrect {
		return 3*w >= n+1
	}
	return 3*w >= 2*n+1
}

func (t Threshold) String() string {
	if t == OneCorrect {
		return "3w ≥ n+1"
	}
	return "3w ≥ 2n+1"
}

// BitmapLen is the bitmap length for a committee of size members.
func BitmapLen(members int) int { return (members + 7) / 8 }

// SignersToBitmap turns member indices into the bitmap of F8.7 (bit i of byte
// i/8, LSB first). It rejects duplicates and indices ≥ members.
func SignersToBitmap(members int, signers []uint16) ([]byte, error) {
	b := make([]byte, BitmapLen(members))
	for _, s := range signers {
		if int(s) >= members {
			return nil, fmt.Errorf("%w: %d of %d members", ErrSignerOutOfRange, s, members)
		}
		if b[s/8]&(1<<(s%8)) != 0 {
			return nil, fmt.Errorf("%w: %d", ErrDuplicateSigner, s)
		}
		b[s/8] |= 1 << (s % 8)
	}
	return b, nil
}

// BitmapToSigners checks bitmap against a committee of size members and
// returns the signer indices in increasing order.
func BitmapToSigners(members int, bitmap []byte) ([]uint16, error) {
	if err := checkBitmap(members, bitmap); err != nil {
		return nil, err
	}
	var out []uint16
	for i := 0; i < members && i/8 < len(bitmap); i++ {
		if bitmap[i/8]&(1<<(i%8)) != 0 {
			out = append(out, uint16(i))
		}
	}
	return out, nil
}

func checkBitmap(members int, bitmap []byte) error {
	if len(bitmap) > BitmapLen(members) {
		return fmt.Errorf("%w: %d bytes for %d members", ErrBadBitmap, len(bitmap), members)
	}
	for i := members; i < 8*len(bitmap); i++ {
		if bitmap[i/8]&(1<<(i%8)) != 0 {
			return fmt.Errorf("%w: bit %d set, committee has %d members", ErrBadBitmap, i, members)
		}
	}
	return nil
}

// Member is a committee member as the verifier sees it.
type Member struct {
	PublicKey PublicKey
	// Weight is the number of shards the member holds.
	Weight int
}

// Verifier verifies certificates of one committee (F8.7). It is immutable
// after construction and safe for concurrent use.
type Verifier struct {
	pks     []blst.P1Affine
	weights []int
	total   blst.P1 // sum of all member keys
	nShards int
}

// NewVerifier decodes and validates the members' keys, in committee order.
// Every key must be valid; weights must be non-negative and sum to > 0.
func NewVerifier(members []Member) (*Verifier, error) {
	if len(members) == 0 || len(members) > 1<<16 {
		return nil, fmt.Errorf("%w: %d members", ErrEmptyCommittee, len(members))
	}
	v := &Verifier{pks: make([]blst.P1Affine, len(members)), weights: make([]int, len(members))}
	ptrs := make([]*blst.P1Affine, len(members))
	for i, m := range members {
		p, err := ParsePublicKey(m.PublicKey)
		if err != nil {
			return nil, fmt.Errorf("member %d: %w", i, err)
		}
		if m.Weight < 0 {
			return nil, fmt.Errorf("member %d: negative weight", i)
		}
		v.pks[i] = p.p
		ptrs[i] = &v.pks[i]
		v.weights[i] = m.Weight
		v.nShards += m.Weight
	}
	if v.nShards == 0 {
		return nil, fmt.Errorf("%w: no shards", ErrEmptyCommittee)
	}
	v.total = *blst.P1AffinesAdd(ptrs)
	return v, nil
}

// Size is the number of members.
func (v *Verifier) Size() int { return len(v.pks) }

// NShards is the total weight.
func (v *Verifier) NShards() int { return v.nShards }

// Weight returns the summed weight of the signers of bitmap, after checking
// the bitmap.
func (v *Verifier) Weight(bitmap []byte) (int, error) {
	if err := checkBitmap(len(v.pks), bitmap); err != nil {
		return 0, err
	}
	w := v.nShards
	for i := range v.pks {
		if !isSet(bitmap, i) {
			w -= v.weights[i]
		}
	}
	return w, nil
}

func isSet(bitmap []byte, i int) bool {
	return i/8 < len(bitmap) && bitmap[i/8]&(1<<(i%8)) != 0
}

// Verify checks a certificate as the Walrus contract does (F8.7): the bitmap
// is well-formed, the signers' weight meets t, and sig verifies against the
// aggregate of the signers' keys (total minus non-signers) over msg. It
// returns the signers' weight. Errors wrap ErrBadBitmap, ErrQuorum or
// ErrInvalidSignature.
func (v *Verifier) Verify(t Threshold, msg []byte, sig Signature, bitmap []byte) (int, error) {
	w, err := v.Weight(bitmap)
	if err != nil {
		return 0, err
	}
	if !t.Reached(w, v.nShards) {
		return w, fmt.Errorf("%w: weight %d of %d shards, need %s", ErrQuorum, w, v.nShards, t)
	}
	s, err := parseSig(sig)
	if err != nil {
		return w, err
	}
	agg := v.total
	for i := range v.pks {
		if !isSet(bitmap, i) {
			agg.SubAssign(&v.pks[i])
		}
	}
	apk := agg.ToAffine()
	// Validate the aggregate key too: an identity aggregate must not verify.
	if !s.Verify(false, apk, true, msg, dst) {
		return w, ErrInvalidSignature
	}
	return w, nil
}

// SignerIndices returns the sorted, de-duplicated copy of idx, or
// ErrDuplicateSigner.
func SignerIndices(idx []uint16) ([]uint16, error) {
	out := slices.Clone(idx)
	slices.Sort(out)
	for i := 1; i < len(out); i++ {
		if out[i] == out[i-1] {
			return nil, fmt.Errorf("%w: %d", ErrDuplicateSigner, out[i])
		}
	}
	return out, nil
}
