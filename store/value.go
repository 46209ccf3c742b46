package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/multiformats/go-multihash"
)

// Values of metadata, slivers, pending entries, blob states and the shard
// list are framed as multihash(sha2-256, payload) ‖ payload. The multihash
// prefix is the fixed 34 bytes 0x12 0x20 <digest>.
const (
	checksumCode = multihash.SHA2_256
	digestLen    = 32
	headerLen    = 2 + digestLen
)

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
	sum := sha256.Sum256(data)
	dst[0], dst[1] = byte(checksumCode), digestLen
	copy(dst[2:headerLen], sum[:])
	copy(dst[headerLen:], data)
}

// sealValue returns multihash(data) ‖ data in a new slice.
func sealValue(data []byte) []byte {
	mh, err := multihash.Sum(data, checksumCode, -1)
	if err != nil {
		// sha2-256 is always registered; this cannot happen.
		panic(fmt.Sprintf("store: multihash: %v", err))
	}
	out := make([]byte, 0, len(mh)+len(data))
	out = append(out, mh...)
	return append(out, data...)
}

// openValue checks the checksum of a sealed value and returns the payload (a
// sub-slice of v). key is only used in the error.
func openValue(key string, v []byte) ([]byte, error) {
	if len(v) < headerLen {
		return nil, corrupt(key, fmt.Sprintf("value of %d bytes is shorter than its checksum", len(v)))
	}
	n, mh, err := multihash.MHFromBytes(v[:headerLen])
	if err != nil || n != headerLen {
		return nil, corrupt(key, "bad checksum header")
	}
	dm, err := multihash.Decode(mh)
	if err != nil || dm.Code != checksumCode || dm.Length != digestLen {
		return nil, corrupt(key, "unexpected checksum type")
	}
	data := v[headerLen:]
	want, err := multihash.Sum(data, checksumCode, -1)
	if err != nil {
		return nil, corrupt(key, err.Error())
	}
	if !bytes.Equal(want, mh) {
		return nil, corrupt(key, "checksum mismatch")
	}
	return data, nil
}

// payloadLen is the payload length of a sealed value of length n.
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
