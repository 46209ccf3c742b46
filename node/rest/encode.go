package rest

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"floe/codec"
	"floe/p2p"
)

// SignedMessage is a signed protocol message in Walrus's JSON form
// (F7.8): the message bytes and the 96-byte BLS signature, each standard
// base64 with padding.
type SignedMessage struct {
	SerializedMessage string `json:"serializedMessage"`
	Signature         string `json:"signature"`
}

// SignedJSON converts a signed message.
func SignedJSON(m codec.SignedMessage) SignedMessage {
	return SignedMessage{
		SerializedMessage: base64.StdEncoding.EncodeToString(m.Message),
		Signature:         base64.StdEncoding.EncodeToString(m.Signature[:]),
	}
}

// Decode converts back, checking the sizes.
func (s SignedMessage) Decode() (codec.SignedMessage, error) {
	var m codec.SignedMessage
	msg, err := base64.StdEncoding.DecodeString(s.SerializedMessage)
	if err != nil {
		return m, fmt.Errorf("serializedMessage: %w", err)
	}
	sig, err := base64.StdEncoding.DecodeString(s.Signature)
	if err != nil || len(sig) != codec.BLSSignatureSize {
		return m, fmt.Errorf("signature: not the base64 of %d bytes", codec.BLSSignatureSize)
	}
	m.Message = msg
	copy(m.Signature[:], sig)
	return m, nil
}

// StorageConfirmation is Walrus's StorageConfirmation enum in JSON: its one
// variant, {"signed": SignedMessage}.
type StorageConfirmation struct {
	Signed *SignedMessage `json:"signed"`
}

// success is the envelope of F7.7: {"success":{"code":…,"data":…}}.
type success[T any] struct {
	Success struct {
		Code int `json:"code"`
		Data T   `json:"data"`
	} `json:"success"`
}

func encodeSuccess[T any](code int, data T) ([]byte, error) {
	var s success[T]
	s.Success.Code, s.Success.Data = code, data
	return json.Marshal(s)
}

// decodeSuccess reads an envelope (client side).
func decodeSuccess[T any](b []byte) (T, int, error) {
	var s success[T]
	if err := json.Unmarshal(b, &s); err != nil {
		var zero T
		return zero, 0, err
	}
	return s.Success.Data, s.Success.Code, nil
}

func appendULEB(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// readULEB reads a canonical ULEB128 of at most max.
func readULEB(b []byte, max uint64) (uint64, []byte, error) {
	var v uint64
	for i := 0; i < 10 && i < len(b); i++ {
		c := b[i]
		v |= uint64(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			if i > 0 && c == 0 {
				return 0, nil, errors.New("non-canonical ULEB128")
			}
			if v > max {
				return 0, nil, fmt.Errorf("length %d exceeds %d", v, max)
			}
			return v, b[i+1:], nil
		}
	}
	return 0, nil, errors.New("truncated ULEB128")
}

// EncodeDecodingSymbols writes the decodingSymbols answer: BCS
// BTreeMap<u16, Vec<EitherDecodingSymbol>>, keys in the order of their
// serialized bytes (u16 little-endian) as the Rust bcs crate sorts them;
// each symbol is tag (0 primary, 1 secondary: the target's type) ‖ index
// u16 ‖ data (ULEB128 length ‖ bytes).
func EncodeDecodingSymbols(m map[int][]DecodingSymbol) []byte {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b int) int {
		if a&0xff != b&0xff {
			return a&0xff - b&0xff
		}
		return a>>8 - b>>8
	})
	b := appendULEB(nil, uint64(len(keys)))
	for _, k := range keys {
		b = binary.LittleEndian.AppendUint16(b, uint16(k))
		b = appendULEB(b, uint64(len(m[k])))
		for _, s := range m[k] {
			b = append(b, byte(s.Target))
			b = binary.LittleEndian.AppendUint16(b, uint16(s.Index))
			b = appendULEB(b, uint64(len(s.Data)))
			b = append(b, s.Data...)
		}
	}
	return b
}

// DecodeDecodingSymbols reads a decodingSymbols answer of at most
// maxEntries symbols in all.
func DecodeDecodingSymbols(b []byte, maxEntries int) (map[int][]DecodingSymbol, error) {
	n, b, err := readULEB(b, uint64(maxEntries))
	if err != nil {
		return nil, err
	}
	out := make(map[int][]DecodingSymbol, n)
	total := 0
	for range n {
		if len(b) < 2 {
			return nil, errors.New("truncated map key")
		}
		k := int(binary.LittleEndian.Uint16(b))
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("map key %d twice", k)
		}
		var c uint64
		if c, b, err = readULEB(b[2:], uint64(maxEntries-total)); err != nil {
			return nil, err
		}
		total += int(c)
		syms := make([]DecodingSymbol, 0, c)
		for range c {
			if len(b) < 3 || b[0] > 1 {
				return nil, errors.New("bad decoding symbol")
			}
			s := DecodingSymbol{Target: codec.SliverType(b[0]), Index: int(binary.LittleEndian.Uint16(b[1:]))}
			var l uint64
			if l, b, err = readULEB(b[3:], codec.MaxSymbolSize); err != nil {
				return nil, err
			}
			if uint64(len(b)) < l {
				return nil, errors.New("truncated symbol")
			}
			s.Data, b = b[:l], b[l:]
			syms = append(syms, s)
		}
		out[k] = syms
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%d trailing bytes", len(b))
	}
	return out, nil
}

// EncodeSyncResponse writes a sync_shard answer: BCS SyncShardResponse::V1
// (variant 0) of Vec<(BlobId, Sliver)>, each sliver the Sliver enum of
// type t (F7.10, F7.11).
func EncodeSyncResponse(items []p2p.SyncItem, t codec.SliverType) []byte {
	size := 6
	for _, it := range items {
		size += 33 + len(it.Data)
	}
	b := append(make([]byte, 0, size), 0)
	b = appendULEB(b, uint64(len(items)))
	for _, it := range items {
		b = append(b, it.ID[:]...)
		b = append(b, byte(t))
		b = append(b, it.Data...)
	}
	return b
}

// DecodeSyncResponse reads a sync_shard answer of at most maxItems
// slivers: the blob IDs and typed slivers.
func DecodeSyncResponse(b []byte, maxItems int) ([]codec.BlobID, []codec.Sliver, error) {
	if len(b) < 1 || b[0] != 0 {
		return nil, nil, errors.New("not a SyncShardResponse::V1")
	}
	n, rest, err := readULEB(b[1:], uint64(maxItems))
	if err != nil {
		return nil, nil, err
	}
	ids := make([]codec.BlobID, 0, n)
	slivers := make([]codec.Sliver, 0, n)
	for range n {
		if len(rest) < 33 {
			return nil, nil, errors.New("truncated item")
		}
		var id codec.BlobID
		copy(id[:], rest)
		// The typed sliver runs to where its own encoding ends: symbols
		// (ULEB length ‖ bytes), symbol size u16, index u16.
		l, after, err := readULEB(rest[33:], uint64(len(rest)))
		if err != nil {
			return nil, nil, err
		}
		hdr := len(rest[33:]) - len(after)
		end := 33 + hdr + int(l) + 4
		if end > len(rest) {
			return nil, nil, errors.New("truncated sliver")
		}
		sl, err := codec.UnmarshalTypedSliver(rest[32:end])
		if err != nil {
			return nil, nil, err
		}
		ids = append(ids, id)
		slivers = append(slivers, sl)
		rest = rest[end:]
	}
	if len(rest) != 0 {
		return nil, nil, fmt.Errorf("%d trailing bytes", len(rest))
	}
	return ids, slivers, nil
}
