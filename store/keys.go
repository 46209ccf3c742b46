package store

import (
	"encoding/hex"
	"strconv"
	"strings"

	"floe/codec"
)

// Key prefixes; see the key layout in doc.go.
const (
	pfxMeta     = "/m/"
	pfxSliver   = "/s/"
	pfxIndex    = "/x/"
	pfxState    = "/b/"
	pfxExpiry   = "/e/"
	pfxPending  = "/q/"
	pfxPendTime = "/qt/"
	keyShards   = "/c/shards"

	metaLeaf = "meta"
	hexLen   = 2 * len(codec.BlobID{})
	// maxShard is the largest shard or pair index a key can hold.
	maxShard = maxShards - 1
	// maxShards and minShards mirror codec's bounds on n (kept local so the
	// store does not depend on more of codec than BlobID, SliverType, Params).
	maxShards = 65535
	minShards = 4
)

func typeChar(t codec.SliverType) string {
	if t == codec.Primary {
		return "p"
	}
	return "s"
}

func parseTypeChar(s string) (codec.SliverType, bool) {
	switch s {
	case "p":
		return codec.Primary, true
	case "s":
		return codec.Secondary, true
	}
	return 0, false
}

func blobHex(id codec.BlobID) string { return hex.EncodeToString(id[:]) }

// hex4 formats a shard or pair index (< 65536) as 4 lowercase hex digits, so
// that string order is numeric order.
func hex4(v int) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[v>>12&15], digits[v>>8&15], digits[v>>4&15], digits[v&15]})
}

func parseHex4(s string) (int, bool) {
	if len(s) != 4 {
		return 0, false
	}
	v := 0
	for i := 0; i < 4; i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | int(c-'0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | int(c-'a'+10)
		default:
			return 0, false
		}
	}
	return v, true
}

func parseBlobHex(s string) (codec.BlobID, bool) {
	var id codec.BlobID
	if len(s) != hexLen {
		return id, false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return id, false // lowercase only: one key per blob
		}
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, false
	}
	return id, true
}

func metaKey(id codec.BlobID) string  { return pfxMeta + blobHex(id) }
func stateKey(id codec.BlobID) string { return pfxState + blobHex(id) }

func shardPrefix(shard int) string { return pfxSliver + hex4(shard) }

func sliverKey(shard int, id codec.BlobID, t codec.SliverType) string {
	return pfxSliver + hex4(shard) + "/" + blobHex(id) + "/" + typeChar(t)
}

func indexPrefix(id codec.BlobID) string { return pfxIndex + blobHex(id) }

func indexSliverKey(id codec.BlobID, shard int, t codec.SliverType) string {
	return pfxIndex + blobHex(id) + "/" + hex4(shard) + "/" + typeChar(t)
}

func indexMetaKey(id codec.BlobID) string { return pfxIndex + blobHex(id) + "/" + metaLeaf }

func expiryKey(epoch uint64, id codec.BlobID) string {
	return pfxExpiry + hex16(epoch) + "/" + blobHex(id)
}

func hex16(v uint64) string {
	s := strconv.FormatUint(v, 16)
	return strings.Repeat("0", 16-len(s)) + s
}

func pendingPrefix(id codec.BlobID) string { return pfxPending + blobHex(id) }

func pendingSliverKey(id codec.BlobID, pair int, t codec.SliverType) string {
	return pfxPending + blobHex(id) + "/" + hex4(pair) + "/" + typeChar(t)
}

func pendingMetaKey(id codec.BlobID) string { return pfxPending + blobHex(id) + "/" + metaLeaf }
func pendingTimeKey(id codec.BlobID) string { return pfxPendTime + blobHex(id) }

// sliverKeyParts is a parsed /s/ key.
type sliverKeyParts struct {
	Shard int
	Blob  codec.BlobID
	Type  codec.SliverType
}

// parseSliverKey parses /s/<shard>/<blob>/<t>.
func parseSliverKey(k string) (sliverKeyParts, bool) {
	var p sliverKeyParts
	rest, ok := strings.CutPrefix(k, pfxSliver)
	if !ok {
		return p, false
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 3 {
		return p, false
	}
	if p.Shard, ok = parseHex4(parts[0]); !ok {
		return p, false
	}
	if p.Blob, ok = parseBlobHex(parts[1]); !ok {
		return p, false
	}
	if p.Type, ok = parseTypeChar(parts[2]); !ok {
		return p, false
	}
	return p, true
}

// indexKeyParts is a parsed /x/ key: either the metadata entry or a sliver
// entry (shard, type).
type indexKeyParts struct {
	Blob  codec.BlobID
	Meta  bool
	Shard int
	Type  codec.SliverType
}

// blobEntryKey is the shape shared by /x/ and /q/ keys:
// <prefix><blob>/meta or <prefix><blob>/<hex4>/<t>.
type blobEntryKey struct {
	Blob codec.BlobID
	Meta bool
	Num  int // shard (/x/) or pair index (/q/)
	Type codec.SliverType
}

func parseBlobEntryKey(k, prefix string) (blobEntryKey, bool) {
	var p blobEntryKey
	rest, ok := strings.CutPrefix(k, prefix)
	if !ok {
		return p, false
	}
	parts := strings.Split(rest, "/")
	if len(parts) < 2 || len(parts) > 3 {
		return p, false
	}
	if p.Blob, ok = parseBlobHex(parts[0]); !ok {
		return p, false
	}
	if len(parts) == 2 {
		p.Meta = parts[1] == metaLeaf
		return p, p.Meta
	}
	if p.Num, ok = parseHex4(parts[1]); !ok {
		return p, false
	}
	if p.Type, ok = parseTypeChar(parts[2]); !ok {
		return p, false
	}
	return p, true
}

// parseIndexKey parses /x/<blob>/meta and /x/<blob>/<shard>/<t>.
func parseIndexKey(k string) (indexKeyParts, bool) {
	e, ok := parseBlobEntryKey(k, pfxIndex)
	return indexKeyParts{Blob: e.Blob, Meta: e.Meta, Shard: e.Num, Type: e.Type}, ok
}

// pendingKeyParts is a parsed /q/ key: metadata or a sliver by pair index.
type pendingKeyParts struct {
	Blob codec.BlobID
	Meta bool
	Pair int
	Type codec.SliverType
}

// parsePendingKey parses /q/<blob>/meta and /q/<blob>/<pair>/<t>.
func parsePendingKey(k string) (pendingKeyParts, bool) {
	e, ok := parseBlobEntryKey(k, pfxPending)
	return pendingKeyParts{Blob: e.Blob, Meta: e.Meta, Pair: e.Num, Type: e.Type}, ok
}

// parseExpiryKey parses /e/<epoch>/<blob>.
func parseExpiryKey(k string) (uint64, codec.BlobID, bool) {
	rest, ok := strings.CutPrefix(k, pfxExpiry)
	if !ok || len(rest) != 16+1+hexLen || rest[16] != '/' {
		return 0, codec.BlobID{}, false
	}
	for i := 0; i < 16; i++ {
		c := rest[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return 0, codec.BlobID{}, false
		}
	}
	e, err := strconv.ParseUint(rest[:16], 16, 64)
	if err != nil {
		return 0, codec.BlobID{}, false
	}
	id, ok := parseBlobHex(rest[17:])
	return e, id, ok
}

// parseBlobLeaf parses <prefix><blob> (state, metadata and pending-time keys).
func parseBlobLeaf(k, prefix string) (codec.BlobID, bool) {
	rest, ok := strings.CutPrefix(k, prefix)
	if !ok {
		return codec.BlobID{}, false
	}
	return parseBlobHex(rest)
}
