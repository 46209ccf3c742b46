package codec

import (
	"errors"
	"fmt"
)

// Intent types of the signed protocol messages (F8.2).
const (
	IntentProofOfPossession byte = 0
	IntentBlobCertification byte = 1
	IntentInvalidBlobID     byte = 2
	IntentSyncShard         byte = 3
)

const (
	intentVersion byte = 0
	intentAppID   byte = 3
	// MessageHeaderSize is intent type, version, app ID and the u32 epoch.
	MessageHeaderSize = 7
	// BLSPublicKeySize is a compressed BLS12-381 G1 public key (min_pk, F8.1).
	BLSPublicKeySize = 48
	// BLSSignatureSize is a compressed BLS12-381 G2 signature (F8.1).
	BLSSignatureSize = 96
	// SuiAddressSize is the size of a Sui address or object ID.
	SuiAddressSize = 32
)

// ErrMalformedMessage means signed-message bytes do not parse as the expected kind.
var ErrMalformedMessage = errors.New("codec: malformed protocol message")

// ObjectID is a Sui object ID or address.
type ObjectID [SuiAddressSize]byte

// BlobPersistence says whether a storage confirmation is for a permanent blob
// or for the deletable Blob object ObjectID (F8.3).
type BlobPersistence struct {
	Deletable bool
	ObjectID  ObjectID
}

func header(intent byte, epoch uint32, bodyLen int) []byte {
	b := make([]byte, MessageHeaderSize, MessageHeaderSize+bodyLen)
	b[0], b[1], b[2] = intent, intentVersion, intentAppID
	putU32(b[3:], epoch)
	return b
}

// MessageHeader is the parsed header of a protocol message.
type MessageHeader struct {
	Intent byte
	Epoch  uint32
}

// ParseMessageHeader checks the intent version and app ID and returns the
// header and the body.
func ParseMessageHeader(msg []byte) (MessageHeader, []byte, error) {
	if len(msg) < MessageHeaderSize {
		return MessageHeader{}, nil, fmt.Errorf("%w: %d bytes, shorter than the header", ErrMalformedMessage, len(msg))
	}
	if msg[1] != intentVersion || msg[2] != intentAppID {
		return MessageHeader{}, nil, fmt.Errorf("%w: intent version %d app %d", ErrMalformedMessage, msg[1], msg[2])
	}
	h := MessageHeader{Intent: msg[0], Epoch: uint32(msg[3]) | uint32(msg[4])<<8 | uint32(msg[5])<<16 | uint32(msg[6])<<24}
	return h, msg[MessageHeaderSize:], nil
}

// StorageConfirmationMessage returns the BCS bytes a node signs to confirm it
// stores blob id in epoch (F8.3): 40 bytes for a permanent blob, 72 for a
// deletable one.
func StorageConfirmationMessage(epoch uint32, id BlobID, p BlobPersistence) []byte {
	b := header(IntentBlobCertification, epoch, DigestSize+1+SuiAddressSize)
	b = append(b, id[:]...)
	if p.Deletable {
		b = append(b, 1)
		b = append(b, p.ObjectID[:]...)
	} else {
		b = append(b, 0)
	}
	return b
}

// StorageConfirmation is a parsed storage-confirmation message.
type StorageConfirmation struct {
	Epoch       uint32
	BlobID      BlobID
	Persistence BlobPersistence
}

// ParseStorageConfirmation parses the bytes of StorageConfirmationMessage.
func ParseStorageConfirmation(msg []byte) (StorageConfirmation, error) {
	h, body, err := ParseMessageHeader(msg)
	if err != nil {
		return StorageConfirmation{}, err
	}
	if h.Intent != IntentBlobCertification {
		return StorageConfirmation{}, fmt.Errorf("%w: intent %d, want blob certification", ErrMalformedMessage, h.Intent)
	}
	var c StorageConfirmation
	c.Epoch = h.Epoch
	switch {
	case len(body) == DigestSize+1 && body[DigestSize] == 0:
	case len(body) == DigestSize+1+SuiAddressSize && body[DigestSize] == 1:
		c.Persistence.Deletable = true
		copy(c.Persistence.ObjectID[:], body[DigestSize+1:])
	default:
		return StorageConfirmation{}, fmt.Errorf("%w: confirmation body of %d bytes", ErrMalformedMessage, len(body))
	}
	copy(c.BlobID[:], body)
	return c, nil
}

// InvalidBlobIDMessage returns the bytes nodes sign to attest that blob id is
// inconsistently encoded (F8.4).
func InvalidBlobIDMessage(epoch uint32, id BlobID) []byte {
	return append(header(IntentInvalidBlobID, epoch, DigestSize), id[:]...)
}

// ParseInvalidBlobID parses the bytes of InvalidBlobIDMessage.
func ParseInvalidBlobID(msg []byte) (epoch uint32, id BlobID, err error) {
	h, body, err := ParseMessageHeader(msg)
	if err != nil {
		return 0, id, err
	}
	if h.Intent != IntentInvalidBlobID || len(body) != DigestSize {
		return 0, id, fmt.Errorf("%w: not an invalid-blob-ID message", ErrMalformedMessage)
	}
	copy(id[:], body)
	return h.Epoch, id, nil
}

// ProofOfPossessionMessage returns the bytes a node signs with its BLS key to
// prove it holds the key registered for sui address addr (F8.4).
func ProofOfPossessionMessage(epoch uint32, addr [SuiAddressSize]byte, pk [BLSPublicKeySize]byte) []byte {
	b := header(IntentProofOfPossession, epoch, SuiAddressSize+BLSPublicKeySize)
	b = append(b, addr[:]...)
	return append(b, pk[:]...)
}

// SignedMessage is a message and a BLS signature over it (F7.10: in BCS the
// message is a byte vector and the signature 96 fixed bytes).
type SignedMessage struct {
	Message   []byte
	Signature [BLSSignatureSize]byte
}

// SyncShardRequest is the body of a SyncShardMsg (F7.11,
// walrus-core messages/sync_shard.rs SyncShardRequest::V1): the new owner
// of a shard asks its previous owner for up to Count slivers of type Type,
// of blobs with IDs from Start (inclusive) on, for epoch Epoch.
type SyncShardRequest struct {
	Shard uint16
	Type  SliverType
	Start BlobID
	Count uint64
	Epoch uint32
}

// syncShardBodySize is the V1 variant tag, shard, type, start ID, count and
// epoch.
const syncShardBodySize = 1 + 2 + 1 + DigestSize + 8 + 4

// SyncShardMessageSize is the size of a SyncShardMessage.
const SyncShardMessageSize = MessageHeaderSize + syncShardBodySize

// SyncShardMessage returns the BCS bytes of SyncShardMsg (ProtocolMessage
// of intent SYNC_SHARD whose header epoch is r.Epoch, as Walrus builds it)
// that the requester signs with its BLS key:
// header ‖ 0x00 (V1) ‖ shard u16 ‖ type u8 ‖ start (32) ‖ count u64 ‖ epoch u32,
// integers little-endian.
func SyncShardMessage(r SyncShardRequest) []byte {
	b := header(IntentSyncShard, r.Epoch, syncShardBodySize)
	b = append(b, 0, byte(r.Shard), byte(r.Shard>>8), byte(r.Type))
	b = append(b, r.Start[:]...)
	for i := range 8 {
		b = append(b, byte(r.Count>>(8*i)))
	}
	return append(b, byte(r.Epoch), byte(r.Epoch>>8), byte(r.Epoch>>16), byte(r.Epoch>>24))
}

// ParseSyncShardMessage parses the bytes of SyncShardMessage. The header
// epoch and the body's epoch must agree.
func ParseSyncShardMessage(msg []byte) (SyncShardRequest, error) {
	var r SyncShardRequest
	h, body, err := ParseMessageHeader(msg)
	if err != nil {
		return r, err
	}
	if h.Intent != IntentSyncShard {
		return r, fmt.Errorf("%w: intent %d, want sync shard", ErrMalformedMessage, h.Intent)
	}
	if len(body) != syncShardBodySize {
		return r, fmt.Errorf("%w: sync-shard body of %d bytes", ErrMalformedMessage, len(body))
	}
	if body[0] != 0 {
		return r, fmt.Errorf("%w: sync-shard request version %d", ErrMalformedMessage, body[0])
	}
	r.Shard = uint16(body[1]) | uint16(body[2])<<8
	r.Type = SliverType(body[3])
	if r.Type != Primary && r.Type != Secondary {
		return r, fmt.Errorf("%w: sliver type %d", ErrMalformedMessage, body[3])
	}
	copy(r.Start[:], body[4:4+DigestSize])
	c := body[4+DigestSize:]
	for i := range 8 {
		r.Count |= uint64(c[i]) << (8 * i)
	}
	e := c[8:]
	r.Epoch = uint32(e[0]) | uint32(e[1])<<8 | uint32(e[2])<<16 | uint32(e[3])<<24
	if r.Epoch != h.Epoch {
		return r, fmt.Errorf("%w: sync-shard request for epoch %d in a message of epoch %d", ErrMalformedMessage, r.Epoch, h.Epoch)
	}
	return r, nil
}
