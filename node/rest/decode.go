package rest

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"floe/codec"
	"floe/p2p"
)

// The request decoders: pure functions from path segments, query strings,
// headers and bodies to typed requests, each fuzzed (fuzz_test.go). They
// bound every count before allocating for it.

// parsePairIndex parses a sliver pair index: a decimal u16 (Walrus's
// SliverPairIndex), digits only. The range against n is checked apart
// (INDEX_OUT_OF_RANGE).
func parsePairIndex(s string) (uint16, error) {
	if s == "" || len(s) > 5 || strings.TrimLeft(s, "0123456789") != "" {
		return 0, fmt.Errorf("sliver pair index %q is not a decimal u16", truncate(s))
	}
	v, err := strconv.ParseUint(s, 10, 16)
	if err != nil {
		return 0, fmt.Errorf("sliver pair index %q is not a decimal u16", truncate(s))
	}
	return uint16(v), nil
}

// parseObjectID parses a Sui object ID: "0x" and up to 64 hex digits
// (shorter ones are left-padded with zeros, as Sui's from_hex_literal
// does).
func parseObjectID(s string) (codec.ObjectID, error) {
	var id codec.ObjectID
	h, ok := strings.CutPrefix(s, "0x")
	if !ok || h == "" || len(h) > 64 {
		return id, fmt.Errorf("object ID %q is not 0x and 1 to 64 hex digits", truncate(s))
	}
	if len(h)%2 == 1 {
		h = "0" + h
	}
	b, err := hex.DecodeString(h)
	if err != nil {
		return id, fmt.Errorf("object ID %q is not 0x and 1 to 64 hex digits", truncate(s))
	}
	copy(id[32-len(b):], b)
	return id, nil
}

// symbolID is Walrus's SymbolId: the symbol at (primary sliver index,
// secondary sliver index), written "P-S".
type symbolID struct{ primary, secondary uint16 }

func parseSymbolID(s string) (symbolID, error) {
	p, sec, ok := strings.Cut(s, "-")
	a, err1 := strconv.ParseUint(p, 10, 16)
	b, err2 := strconv.ParseUint(sec, 10, 16)
	if !ok || err1 != nil || err2 != nil || strings.HasPrefix(p, "+") || strings.HasPrefix(sec, "+") {
		return symbolID{}, fmt.Errorf("symbol ID %q is not P-S", truncate(s))
	}
	return symbolID{uint16(a), uint16(b)}, nil
}

// parseBool parses a serde bool in a query: "true" or "false".
func parseBool(s string) (bool, error) {
	switch s {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fmt.Errorf("%q is not true or false", truncate(s))
}

// onlyKeys refuses query parameters other than allowed (Walrus's
// deny_unknown_fields) and repeated single-valued ones.
func onlyKeys(q url.Values, allowed ...string) error {
	for k, v := range q {
		if !slices.Contains(allowed, k) {
			return fmt.Errorf("unknown query parameter %q", truncate(k))
		}
		if len(v) > 1 {
			return fmt.Errorf("query parameter %q given %d times", k, len(v))
		}
	}
	return nil
}

// parseUploadQuery parses ?pending=true|false (UploadIntentQuery).
func parseUploadQuery(q url.Values) (pending bool, err error) {
	if err := onlyKeys(q, "pending"); err != nil {
		return false, err
	}
	if v, ok := q["pending"]; ok {
		return parseBool(v[0])
	}
	return false, nil
}

// confirmationQuery is ?wait_for_registration=bool&wait_millis=u64.
type confirmationQuery struct {
	waitForRegistration bool
	waitMillis          *uint64
}

func parseConfirmationQuery(q url.Values) (confirmationQuery, error) {
	var c confirmationQuery
	if err := onlyKeys(q, "wait_for_registration", "wait_millis"); err != nil {
		return c, err
	}
	if v, ok := q["wait_for_registration"]; ok {
		b, err := parseBool(v[0])
		if err != nil {
			return c, fmt.Errorf("wait_for_registration: %w", err)
		}
		c.waitForRegistration = b
	}
	if v, ok := q["wait_millis"]; ok {
		ms, err := strconv.ParseUint(v[0], 10, 64)
		if err != nil || strings.HasPrefix(v[0], "+") {
			return c, fmt.Errorf("wait_millis %q is not a u64", truncate(v[0]))
		}
		c.waitMillis = &ms
	}
	return c, nil
}

// recoveryQuery is the query of /recoverySymbols: either symbol IDs
// (?id=P-S, repeated) or a target sliver (?targetSliver=i&targetType=t),
// and optionally the axis the proofs must come from (?proofAxis=t).
type recoveryQuery struct {
	ids          []symbolID // sorted, distinct
	target       int        // sliver index; -1 with ids
	targetType   codec.SliverType
	proofAxis    codec.SliverType
	hasProofAxis bool
}

// parseRecoveryQuery parses and bounds a recoverySymbols query: at most
// maxIDs symbol IDs, every index below n.
func parseRecoveryQuery(q url.Values, n, maxIDs int) (recoveryQuery, error) {
	r := recoveryQuery{target: -1}
	for k, v := range q {
		switch k {
		case "id":
		case "targetSliver", "targetType", "proofAxis":
			if len(v) > 1 {
				return r, fmt.Errorf("query parameter %q given %d times", k, len(v))
			}
		default:
			return r, fmt.Errorf("unknown query parameter %q", truncate(k))
		}
	}
	if v, ok := q["proofAxis"]; ok {
		t, err := codec.ParseSliverType(v[0])
		if err != nil {
			return r, fmt.Errorf("proofAxis: %q is not primary or secondary", truncate(v[0]))
		}
		r.proofAxis, r.hasProofAxis = t, true
	}
	ids, hasIDs := q["id"]
	_, hasTarget := q["targetSliver"]
	_, hasType := q["targetType"]
	switch {
	case hasIDs && (hasTarget || hasType):
		return r, errors.New("give either id or targetSliver and targetType")
	case hasIDs:
		if len(ids) > maxIDs {
			return r, fmt.Errorf("%d symbol IDs, at most %d", len(ids), maxIDs)
		}
		for _, s := range ids {
			id, err := parseSymbolID(s)
			if err != nil {
				return r, err
			}
			if int(id.primary) >= n || int(id.secondary) >= n {
				return r, fmt.Errorf("%w: symbol %d-%d of %d shards", errOutOfRange, id.primary, id.secondary, n)
			}
			r.ids = append(r.ids, id)
		}
		slices.SortFunc(r.ids, func(a, b symbolID) int {
			if a.primary != b.primary {
				return int(a.primary) - int(b.primary)
			}
			return int(a.secondary) - int(b.secondary)
		})
		r.ids = slices.Compact(r.ids)
	case hasTarget && hasType:
		i, err := strconv.ParseUint(q.Get("targetSliver"), 10, 16)
		if err != nil || strings.HasPrefix(q.Get("targetSliver"), "+") {
			return r, fmt.Errorf("targetSliver %q is not a u16", truncate(q.Get("targetSliver")))
		}
		t, err := codec.ParseSliverType(q.Get("targetType"))
		if err != nil {
			return r, fmt.Errorf("targetType: %q is not primary or secondary", truncate(q.Get("targetType")))
		}
		if int(i) >= n {
			return r, fmt.Errorf("%w: target sliver %d of %d shards", errOutOfRange, i, n)
		}
		r.target, r.targetType = int(i), t
	default:
		return r, errNoSymbols
	}
	return r, nil
}

var (
	errOutOfRange = errors.New("index out of range")
	errNoSymbols  = errors.New("at least one symbol ID (id=P-S) or a target (targetSliver, targetType) must be given")
	errNoTargets  = errors.New("at least one target sliver must be specified")
)

// parseDecodingQuery parses ?targetSlivers=i (repeated)&targetType=t: the
// target sliver indices, sorted and distinct, each below the number of
// source symbols of the target type (only source slivers are served).
func parseDecodingQuery(q url.Values, p codec.Params) ([]int, codec.SliverType, error) {
	for k, v := range q {
		switch k {
		case "targetSlivers":
		case "targetType":
			if len(v) > 1 {
				return nil, 0, fmt.Errorf("query parameter %q given %d times", k, len(v))
			}
		default:
			return nil, 0, fmt.Errorf("unknown query parameter %q", truncate(k))
		}
	}
	tt, ok := q["targetType"]
	if !ok {
		return nil, 0, errors.New("targetType is required")
	}
	t, err := codec.ParseSliverType(tt[0])
	if err != nil {
		return nil, 0, fmt.Errorf("targetType: %q is not primary or secondary", truncate(tt[0]))
	}
	raw := q["targetSlivers"]
	if len(raw) == 0 {
		return nil, t, errNoTargets
	}
	limit := p.SourceSymbols(t)
	if len(raw) > limit {
		return nil, t, fmt.Errorf("%w: %d target slivers, at most %d", errOutOfRange, len(raw), limit)
	}
	out := make([]int, 0, len(raw))
	for _, s := range raw {
		i, err := strconv.ParseUint(s, 10, 16)
		if err != nil || strings.HasPrefix(s, "+") {
			return nil, t, fmt.Errorf("targetSlivers %q is not a u16", truncate(s))
		}
		if int(i) >= limit {
			return nil, t, fmt.Errorf("%w: target sliver index %d, the %s source slivers are 0..%d", errOutOfRange, i, t, limit-1)
		}
		out = append(out, int(i))
	}
	slices.Sort(out)
	return slices.Compact(out), t, nil
}

// parseAuthorization decodes the sync_shard Authorization header: the
// base64 of a BLS public key (fastcrypto's encode_base64, padded; unpadded
// is accepted).
func parseAuthorization(h string) ([codec.BLSPublicKeySize]byte, error) {
	var pk [codec.BLSPublicKeySize]byte
	h = strings.TrimSpace(h)
	b, err := base64.StdEncoding.DecodeString(h)
	if err != nil {
		b, err = base64.RawStdEncoding.DecodeString(h)
	}
	if err != nil || len(b) != len(pk) {
		return pk, errors.New("the Authorization header is not the base64 of a 48-byte BLS public key")
	}
	copy(pk[:], b)
	return pk, nil
}

// syncBodySize is the BCS SignedMessage<SyncShardMsg> of a sync_shard
// request: a one-byte length, the message and the signature.
const syncBodySize = 1 + codec.SyncShardMessageSize + codec.BLSSignatureSize

// decodeSyncShardBody parses the body of a sync_shard request into the
// p2p request the handler checks (the public key comes from the
// Authorization header). The count bound is checked apart
// (SLIVER_COUNT_EXCEEDS_LIMIT).
func decodeSyncShardBody(b []byte, pk [codec.BLSPublicKeySize]byte, l p2p.Limits) (p2p.SyncRequest, error) {
	var r p2p.SyncRequest
	if len(b) != syncBodySize {
		return r, fmt.Errorf("sync_shard body of %d bytes, want %d", len(b), syncBodySize)
	}
	sm, err := codec.UnmarshalSignedMessage(b, codec.SyncShardMessageSize)
	if err != nil {
		return r, err
	}
	req, err := codec.ParseSyncShardMessage(sm.Message)
	if err != nil {
		return r, err
	}
	if int(req.Shard) >= l.Params.NShards {
		return r, fmt.Errorf("%w: shard %d of %d", errOutOfRange, req.Shard, l.Params.NShards)
	}
	return p2p.SyncRequest{PublicKey: pk, Signed: sm, Request: req}, nil
}

// decodeMetadataBody checks that a PUT metadata body is a BCS BlobMetadata
// (without the blob ID, F7.5) for n shards, and returns it with the ID in
// front, as BlobMetadataWithId: the bytes the node stores and serves.
func decodeMetadataBody(id codec.BlobID, b []byte) ([]byte, error) {
	if _, err := codec.UnmarshalMetadata(b); err != nil {
		return nil, err
	}
	out := make([]byte, 0, 32+len(b))
	out = append(out, id[:]...)
	return append(out, b...), nil
}

// contentTypeOK is F7.3: no Content-Type, or application/octet-stream
// (any parameters).
func contentTypeOK(h string) bool {
	if h == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(h)
	return err == nil && mt == "application/octet-stream"
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
