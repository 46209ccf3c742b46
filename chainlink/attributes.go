package chainlink

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"unicode/utf8"
)

// Blob attributes (F9.1): Walrus keeps key/value pairs on a Blob object as
// its dynamic field b"metadata" (a Metadata, VecMap<String, String>); the
// aggregator answers a read by object ID with the HTTP headers some of them
// name (content-type, content-disposition, …), and a quilt carries
// _walrusBlobType = "quilt". Only the object's owner changes them
// (blob.move's insert_or_update_metadata_pair, remove_metadata_pair,
// take_metadata on an owned Blob); anyone reads them.
//
// BlobAttributes is an optional interface: a Chain that keeps attributes
// implements it too (the Ledger and the Client do). Callers test for it
// with a type assertion.
type BlobAttributes interface {
	// BlobAttributes returns the attributes of a blob object: an empty
	// map (nil) when it has none, ErrNotFound when the object does not
	// exist (or was deleted).
	BlobAttributes(ctx context.Context, blob ID) (map[string]string, error)
	// SetBlobAttributes inserts or updates the pairs of set on a blob
	// object owned by owner, all or none, and returns the attributes
	// after the change. Emits BlobAttributesSet. ErrNotOwner if owner
	// does not own it; ErrBadRequest for an empty set, an empty or
	// non-UTF-8 key, a non-UTF-8 value, or more than MaxBlobAttributes
	// pairs or MaxBlobAttributesSize bytes afterwards.
	SetBlobAttributes(ctx context.Context, owner, blob ID, set map[string]string) (map[string]string, error)
	// RemoveBlobAttributes removes keys from a blob object owned by owner,
	// all or none (ErrNotFound, nothing removed, if one of them is not
	// set); no keys removes every attribute (a no-op without any). It
	// returns the attributes after the change; emits BlobAttributesRemoved
	// when something was removed.
	RemoveBlobAttributes(ctx context.Context, owner, blob ID, keys []string) (map[string]string, error)
}

// Attribute events: Epoch BlobID ObjectID (read the attributes with
// BlobAttributes).
const (
	EventBlobAttributesSet     EventType = "BlobAttributesSet"
	EventBlobAttributesRemoved EventType = "BlobAttributesRemoved"
)

// Attribute limits (the ledger's; Sui bounds an object's size instead).
const (
	// MaxBlobAttributes is the most pairs a blob object carries.
	MaxBlobAttributes = 128
	// MaxBlobAttributesSize bounds the sum of the keys' and values'
	// lengths in bytes.
	MaxBlobAttributesSize = 16 << 10
)

// Well-known attribute keys and values.
const (
	// AttrBlobType is the attribute naming what kind of blob an object
	// holds; AttrBlobTypeQuilt marks a QuiltV1 blob (F12.5).
	AttrBlobType      = "_walrusBlobType"
	AttrBlobTypeQuilt = "quilt"
)

var (
	_ BlobAttributes = (*Ledger)(nil)
	_ BlobAttributes = (*Client)(nil)
)

func checkAttributes(attrs map[string]string) error {
	if len(attrs) > MaxBlobAttributes {
		return fmt.Errorf("%w: %d attributes, at most %d", ErrBadRequest, len(attrs), MaxBlobAttributes)
	}
	size := 0
	for k, v := range attrs {
		if k == "" || !utf8.ValidString(k) || !utf8.ValidString(v) {
			return fmt.Errorf("%w: attribute keys must be non-empty UTF-8, values UTF-8 (key %.64q)", ErrBadRequest, k)
		}
		size += len(k) + len(v)
	}
	if size > MaxBlobAttributesSize {
		return fmt.Errorf("%w: attributes of %d bytes, at most %d", ErrBadRequest, size, MaxBlobAttributesSize)
	}
	return nil
}

// ownedBlob returns the blob object owner may change attributes of.
func (l *Ledger) ownedBlob(owner, blob ID) (*Blob, error) {
	b := l.blobs[blob]
	switch {
	case b == nil:
		return nil, fmt.Errorf("%w: blob object %s", ErrNotFound, blob)
	case b.Owner != owner:
		return nil, fmt.Errorf("%w: blob object %s", ErrNotOwner, blob)
	}
	return b, nil
}

// BlobAttributes implements BlobAttributes.
func (l *Ledger) BlobAttributes(ctx context.Context, blob ID) (map[string]string, error) {
	if err := l.lock(ctx); err != nil {
		return nil, err
	}
	defer l.mu.Unlock()
	b := l.blobs[blob]
	if b == nil {
		return nil, fmt.Errorf("%w: blob object %s", ErrNotFound, blob)
	}
	return maps.Clone(b.Attributes), nil
}

// SetBlobAttributes implements BlobAttributes.
func (l *Ledger) SetBlobAttributes(ctx context.Context, owner, blob ID, set map[string]string) (map[string]string, error) {
	if len(set) == 0 {
		return nil, fmt.Errorf("%w: no attributes to set", ErrBadRequest)
	}
	if err := checkAttributes(set); err != nil {
		return nil, err
	}
	if err := l.lock(ctx); err != nil {
		return nil, err
	}
	defer l.mu.Unlock()
	b, err := l.ownedBlob(owner, blob)
	if err != nil {
		return nil, err
	}
	next := maps.Clone(b.Attributes)
	if next == nil {
		next = make(map[string]string, len(set))
	}
	maps.Copy(next, set)
	if err := checkAttributes(next); err != nil {
		return nil, err
	}
	return l.putAttributes(ctx, b, next, EventBlobAttributesSet)
}

// RemoveBlobAttributes implements BlobAttributes.
func (l *Ledger) RemoveBlobAttributes(ctx context.Context, owner, blob ID, keys []string) (map[string]string, error) {
	if err := l.lock(ctx); err != nil {
		return nil, err
	}
	defer l.mu.Unlock()
	b, err := l.ownedBlob(owner, blob)
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		if len(b.Attributes) == 0 {
			return nil, nil
		}
		return l.putAttributes(ctx, b, nil, EventBlobAttributesRemoved)
	}
	next := maps.Clone(b.Attributes)
	for _, k := range keys {
		if _, ok := next[k]; !ok {
			return nil, fmt.Errorf("%w: blob object %s has no attribute %.64q", ErrNotFound, blob, k)
		}
		delete(next, k)
	}
	return l.putAttributes(ctx, b, next, EventBlobAttributesRemoved)
}

// putAttributes stores a blob's new attributes and emits the event; the
// ledger is locked.
func (l *Ledger) putAttributes(ctx context.Context, b *Blob, attrs map[string]string, ev EventType) (map[string]string, error) {
	if len(attrs) == 0 {
		attrs = nil
	}
	prev := b.Attributes
	b.Attributes = attrs
	t := l.begin()
	t.put(keyID(prefBlob, b.ObjectID), b)
	l.emit(t, Event{Type: ev, Epoch: l.m.Epoch.Epoch, BlobID: b.BlobID, ObjectID: b.ObjectID})
	if err := l.commit(ctx, t); err != nil {
		b.Attributes = prev
		return nil, err
	}
	l.log.Debug("blob attributes changed", "object", b.ObjectID, "event", ev, "count", len(attrs))
	return maps.Clone(attrs), nil
}

// ---- over HTTP ----

type setAttributesRequest struct {
	Owner      ID                `json:"owner"`
	Attributes map[string]string `json:"attributes"`
}

type removeAttributesRequest struct {
	Owner ID       `json:"owner"`
	Keys  []string `json:"keys,omitempty"`
}

type attributesResponse struct {
	Attributes map[string]string `json:"attributes"`
}

func (s *Server) blobAttributes(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "obj")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	a, err := s.l.BlobAttributes(r.Context(), id)
	s.reply(w, r, attributesResponse{a}, err)
}

func (s *Server) setBlobAttributes(w http.ResponseWriter, r *http.Request) {
	var req setAttributesRequest
	id, ok := s.objectRequest(w, r, &req, &req.Owner, "owner")
	if !ok {
		return
	}
	a, err := s.l.SetBlobAttributes(r.Context(), req.Owner, id, req.Attributes)
	s.reply(w, r, attributesResponse{a}, err)
}

func (s *Server) removeBlobAttributes(w http.ResponseWriter, r *http.Request) {
	var req removeAttributesRequest
	id, ok := s.objectRequest(w, r, &req, &req.Owner, "owner")
	if !ok {
		return
	}
	a, err := s.l.RemoveBlobAttributes(r.Context(), req.Owner, id, req.Keys)
	s.reply(w, r, attributesResponse{a}, err)
}

// BlobAttributes implements BlobAttributes.
func (c *Client) BlobAttributes(ctx context.Context, blob ID) (map[string]string, error) {
	var r attributesResponse
	err := c.do(ctx, "GET", "/v1/blobs/"+blob.String()+"/attributes", nil, &r)
	return emptyNil(r.Attributes), err
}

// SetBlobAttributes implements BlobAttributes.
func (c *Client) SetBlobAttributes(ctx context.Context, owner, blob ID, set map[string]string) (map[string]string, error) {
	// JSON would turn invalid UTF-8 into U+FFFD: refuse it here, as the
	// ledger does, rather than store other bytes.
	if err := checkAttributes(set); err != nil {
		return nil, err
	}
	var r attributesResponse
	err := c.signed(ctx, "SetBlobAttributes", SchemeAccount, owner, "POST", "/v1/blobs/"+blob.String()+"/attributes",
		setAttributesRequest{owner, set}, &r)
	return emptyNil(r.Attributes), err
}

// RemoveBlobAttributes implements BlobAttributes.
func (c *Client) RemoveBlobAttributes(ctx context.Context, owner, blob ID, keys []string) (map[string]string, error) {
	var r attributesResponse
	err := c.signed(ctx, "RemoveBlobAttributes", SchemeAccount, owner, "POST", "/v1/blobs/"+blob.String()+"/attributes/remove",
		removeAttributesRequest{owner, slices.Clone(keys)}, &r)
	return emptyNil(r.Attributes), err
}

func emptyNil(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}
