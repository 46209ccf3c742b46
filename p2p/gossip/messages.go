package gossip

import (
	"encoding/binary"
	"errors"
	"fmt"

	"floe/codec"
)

// ErrMalformed means gossip bytes do not decode; the sender is penalised.
var ErrMalformed = errors.New("p2p/gossip: malformed message")

// maxConfirmationMessage bounds the serialized storage-confirmation message
// inside a SignedMessage: header (7) + blob ID (32) + persistence (1 + 32).
const maxConfirmationMessage = codec.MessageHeaderSize + codec.DigestSize + 1 + codec.SuiAddressSize

// MaxAttestationSize bounds an attestation on the wire: signer key (48),
// ULEB length (1), message, signature (96).
const MaxAttestationSize = codec.BLSPublicKeySize + 1 + maxConfirmationMessage + codec.BLSSignatureSize

// Attestation is a storage node's signed storage confirmation for a blob,
// gossiped so that every interested peer (publishers, gateways, nodes
// deciding whether to recover) learns that the node holds its slivers.
// Wire form: signer BLS public key (48) ‖ BCS SignedMessage.
type Attestation struct {
	// Signer is the BLS12-381 public key the committee knows the node by.
	Signer [codec.BLSPublicKeySize]byte
	// Signed is the confirmation message and its signature.
	Signed codec.SignedMessage
	// Confirmation is Signed.Message parsed (epoch, blob ID, persistence).
	Confirmation codec.StorageConfirmation
}

// Marshal encodes the attestation.
func (a Attestation) Marshal() []byte {
	b := make([]byte, 0, MaxAttestationSize)
	b = append(b, a.Signer[:]...)
	b = appendULEB(b, uint64(len(a.Signed.Message)))
	b = append(b, a.Signed.Message...)
	return append(b, a.Signed.Signature[:]...)
}

// UnmarshalAttestation decodes and parses an attestation; the signature is
// not checked here.
func UnmarshalAttestation(b []byte) (Attestation, error) {
	var a Attestation
	if len(b) > MaxAttestationSize || len(b) < codec.BLSPublicKeySize {
		return a, fmt.Errorf("%w: attestation of %d bytes", ErrMalformed, len(b))
	}
	copy(a.Signer[:], b)
	sm, err := codec.UnmarshalSignedMessage(b[codec.BLSPublicKeySize:], maxConfirmationMessage)
	if err != nil {
		return a, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	c, err := codec.ParseStorageConfirmation(sm.Message)
	if err != nil {
		return a, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	a.Signed, a.Confirmation = sm, c
	return a, nil
}

// NoticeKind says what a blob notice announces.
type NoticeKind uint8

const (
	// NoticeCertified: the blob's availability certificate is on chain.
	NoticeCertified NoticeKind = 0
	// NoticeInvalid: the blob was proven inconsistently encoded.
	NoticeInvalid NoticeKind = 1
)

func (k NoticeKind) String() string {
	switch k {
	case NoticeCertified:
		return "certified"
	case NoticeInvalid:
		return "invalid"
	}
	return fmt.Sprintf("notice(%d)", uint8(k))
}

// MaxEvidenceSize bounds a notice's evidence: a chain event ID (digest and
// sequence), a signed invalid-blob attestation, or a certificate reference.
const MaxEvidenceSize = 1024

// MaxNoticeSize bounds a notice on the wire.
const MaxNoticeSize = 1 + codec.DigestSize + 4 + 2 + MaxEvidenceSize

// Notice announces a blob's change of state so that peers can act on it
// before their chain view catches up (nodes start recovery of certified
// blobs, drop invalid ones). It is a hint: the validator checks Evidence
// against the chain (or a signed invalid-blob message) before accepting.
// Wire form: kind u8 ‖ blob ID (32) ‖ epoch u32 LE ‖ evidence length u16 LE
// ‖ evidence.
type Notice struct {
	Kind     NoticeKind
	BlobID   codec.BlobID
	Epoch    uint32
	Evidence []byte
}

// Marshal encodes the notice.
func (n Notice) Marshal() []byte {
	b := make([]byte, 0, 39+len(n.Evidence))
	b = append(b, byte(n.Kind))
	b = append(b, n.BlobID[:]...)
	b = binary.LittleEndian.AppendUint32(b, n.Epoch)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(n.Evidence)))
	return append(b, n.Evidence...)
}

// UnmarshalNotice decodes a notice.
func UnmarshalNotice(b []byte) (Notice, error) {
	var n Notice
	if len(b) < 39 || len(b) > MaxNoticeSize {
		return n, fmt.Errorf("%w: notice of %d bytes", ErrMalformed, len(b))
	}
	n.Kind = NoticeKind(b[0])
	if n.Kind > NoticeInvalid {
		return n, fmt.Errorf("%w: notice kind %d", ErrMalformed, b[0])
	}
	copy(n.BlobID[:], b[1:33])
	n.Epoch = binary.LittleEndian.Uint32(b[33:37])
	l := int(binary.LittleEndian.Uint16(b[37:39]))
	if l > MaxEvidenceSize || len(b) != 39+l {
		return n, fmt.Errorf("%w: evidence of %d bytes in %d", ErrMalformed, l, len(b)-39)
	}
	if l > 0 {
		n.Evidence = append([]byte(nil), b[39:]...)
	}
	return n, nil
}

func appendULEB(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}
