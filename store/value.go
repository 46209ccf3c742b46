package store

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/multiformats/go-multihash"
)

// Values of metadata, slivers, pending entries, blob states and the shard
// list are framed as multihash(xxh-64, payload) ‖ payload: the 12-byte
// header 0xe2 0xe7 0x02 (the varint of 0xb3e2) 0x08 and the digest, big
// endian. Stores written before xxh-64 hold multihash(sha2-256, payload)
// values (34-byte header 0x12 0x20 digest); they are still read. xxh-64
// guards against what the disk does to bytes, not against an adversary
// (slivers are verified against their blob's metadata before they are
// stored and by every reader): in a 7-node devnet's 64 MiB store the
// sha2-256 checks were 6% of all CPU, xxh-64 runs at several GB/s.
const (
	checksumCode = 0xb3e2 // multicodec's xxh-64
	digestLen    = 8
	headerLen    = 3 + 1 + digestLen

	legacyCode      = multihash.SHA2_256
	legacyDigestLen = 32
	legacyHeaderLen = 2 + legacyDigestLen
)

// header is the fixed prefix of every new sealed value, before its digest.
var header = [4]byte{0xe2, 0xe7, 0x02, digestLen}

// putSet is what one commit writes: each key's value, either as it is
// stored or as a payload that writeBatch seals as it copies it into the
// batch.
type putSet map[string]putValue

type putValue struct {
	b    []byte
	seal bool
}

// raw is a value stored as it is (already sealed, or an empty marker).
func raw(v []byte) putValue { return putValue{b: v} }

// sealLater is a payload stored sealed; data must not change until the
// commit.
func sealLater(data []byte) putValue { return putValue{b: data, seal: true} }

// sealInto writes multihash(data) ‖ data into dst, which is exactly
// headerLen+len(data) bytes: the same bytes as sealValue.
func sealInto(dst, data []byte) {
	copy(dst, header[:])
	binary.BigEndian.PutUint64(dst[len(header):headerLen], xxhash.Sum64(data))
	copy(dst[headerLen:], data)
}

// sealValue returns multihash(data) ‖ data in a new slice.
func sealValue(data []byte) []byte {
	out := make([]byte, headerLen+len(data))
	sealInto(out, data)
	return out
}

// openValue checks the checksum of a sealed value and returns the payload (a
// sub-slice of v). key is only used in the error.
func openValue(key string, v []byte) ([]byte, error) {
	if len(v) >= headerLen && [4]byte(v[:4]) == header {
		data := v[headerLen:]
		if binary.BigEndian.Uint64(v[len(header):headerLen]) != xxhash.Sum64(data) {
			return nil, corrupt(key, "checksum mismatch")
		}
		return data, nil
	}
	if len(v) < 2 || v[0] != byte(legacyCode) || v[1] != legacyDigestLen {
		if len(v) < headerLen {
			return nil, corrupt(key, fmt.Sprintf("value of %d bytes is shorter than its checksum", len(v)))
		}
		return nil, corrupt(key, "unexpected checksum type")
	}
	if len(v) < legacyHeaderLen {
		return nil, corrupt(key, fmt.Sprintf("value of %d bytes is shorter than its checksum", len(v)))
	}
	data := v[legacyHeaderLen:]
	if sha256.Sum256(data) != [legacyDigestLen]byte(v[2:legacyHeaderLen]) {
		return nil, corrupt(key, "checksum mismatch")
	}
	return data, nil
}

// payloadLen is the payload length of a sealed value of length n (of a
// legacy sha2-256 value it counts 22 bytes of header in: usage figures are
// that much high until the value is rewritten).
func payloadLen(n int) int64 {
	if n < headerLen {
		return 0
	}
	return int64(n - headerLen)
}

// Index values: the payload size as 8 bytes little endian.
func encodeSize(n int) []byte { return binary.LittleEndian.AppendUint64(nil, uint64(n)) }

func decodeSize(key string, v []byte) (int64, error) {
	if len(v) != 8 {
		return 0, corrupt(key, "index entry is not 8 bytes")
	}
	n := binary.LittleEndian.Uint64(v)
	if n > 1<<40 {
		return 0, corrupt(key, "index size out of range")
	}
	return int64(n), nil
}

// BlobState is what the store knows about a blob from chain events.
type BlobState struct {
	Registered bool
	Certified  bool
	Deletable  bool
	Invalid    bool
	Deleted    bool
	// NShards is n at registration: it maps sliver pairs to shards.
	NShards int
	// EndEpoch: the blob expires (its data is deleted) once the current
	// epoch reaches EndEpoch.
	EndEpoch uint64
	// CertifiedEpoch is the epoch of the BlobCertified event.
	CertifiedEpoch uint64
	// ObjectID is the chain object of the registration.
	ObjectID [32]byte
}

// Gone reports whether the blob's data is no longer wanted at epoch.
func (b BlobState) Gone(epoch uint64) bool {
	return b.Invalid || b.Deleted || (b.Registered && b.EndEpoch <= epoch)
}

const (
	stateVersion = 1
	stateLen     = 1 + 1 + 2 + 8 + 8 + 32

	flagRegistered = 1 << 0
	flagCertified  = 1 << 1
	flagDeletable  = 1 << 2
	flagInvalid    = 1 << 3
	flagDeleted    = 1 << 4
	flagsKnown     = flagRegistered | flagCertified | flagDeletable | flagInvalid | flagDeleted
)

func encodeState(b BlobState) []byte {
	p := make([]byte, 0, stateLen)
	var f byte
	for _, x := range []struct {
		on  bool
		bit byte
	}{{b.Registered, flagRegistered}, {b.Certified, flagCertified}, {b.Deletable, flagDeletable}, {b.Invalid, flagInvalid}, {b.Deleted, flagDeleted}} {
		if x.on {
			f |= x.bit
		}
	}
	p = append(p, stateVersion, f)
	p = binary.LittleEndian.AppendUint16(p, uint16(b.NShards))
	p = binary.LittleEndian.AppendUint64(p, b.EndEpoch)
	p = binary.LittleEndian.AppendUint64(p, b.CertifiedEpoch)
	p = append(p, b.ObjectID[:]...)
	return sealValue(p)
}

func decodeState(key string, v []byte) (BlobState, error) {
	var b BlobState
	p, err := openValue(key, v)
	if err != nil {
		return b, err
	}
	if len(p) != stateLen || p[0] != stateVersion || p[1]&^flagsKnown != 0 {
		return b, corrupt(key, "bad blob state encoding")
	}
	f := p[1]
	b.Registered = f&flagRegistered != 0
	b.Certified = f&flagCertified != 0
	b.Deletable = f&flagDeletable != 0
	b.Invalid = f&flagInvalid != 0
	b.Deleted = f&flagDeleted != 0
	b.NShards = int(binary.LittleEndian.Uint16(p[2:]))
	b.EndEpoch = binary.LittleEndian.Uint64(p[4:])
	b.CertifiedEpoch = binary.LittleEndian.Uint64(p[12:])
	copy(b.ObjectID[:], p[20:])
	if b.Registered && b.NShards < minShards {
		return b, corrupt(key, "registered blob with shard count below minimum")
	}
	return b, nil
}

// The held-shard list: count (u16) then each shard (u16), ascending, sealed.
func encodeShards(shards []int) []byte {
	p := binary.LittleEndian.AppendUint16(nil, uint16(len(shards)))
	for _, s := range shards {
		p = binary.LittleEndian.AppendUint16(p, uint16(s))
	}
	return sealValue(p)
}

func decodeShards(key string, v []byte) ([]int, error) {
	p, err := openValue(key, v)
	if err != nil {
		return nil, err
	}
	if len(p) < 2 {
		return nil, corrupt(key, "short shard list")
	}
	n := int(binary.LittleEndian.Uint16(p))
	if len(p) != 2+2*n {
		return nil, corrupt(key, "shard list length mismatch")
	}
	out := make([]int, n)
	for i := range out {
		out[i] = int(binary.LittleEndian.Uint16(p[2+2*i:]))
		if out[i] > maxShard || (i > 0 && out[i] <= out[i-1]) {
			return nil, corrupt(key, "shard list not strictly ascending or out of range")
		}
	}
	return out, nil
}

// Pending arrival time: unix nanoseconds, sealed.
func encodeTime(t time.Time) []byte {
	return sealValue(binary.LittleEndian.AppendUint64(nil, uint64(t.UnixNano())))
}

func decodeTime(key string, v []byte) (time.Time, error) {
	p, err := openValue(key, v)
	if err != nil {
		return time.Time{}, err
	}
	if len(p) != 8 {
		return time.Time{}, corrupt(key, "bad time encoding")
	}
	return time.Unix(0, int64(binary.LittleEndian.Uint64(p))), nil
}
