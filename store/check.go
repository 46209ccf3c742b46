package store

import (
	"context"
	"errors"
	"fmt"
)

// CheckReport is the result of Check.
type CheckReport struct {
	Slivers  int // slivers that passed
	Metadata int // metadata values that passed
	Pending  int // pending entries that passed
	States   int // blob states that decoded
	// Corrupt lists keys whose values fail their checksum or decoding.
	Corrupt []string
	// Inconsistent lists problems between data and index: data without
	// index entry, index entry without data, size mismatch, bad keys.
	Inconsistent []string
}

// OK reports whether nothing was found wrong.
func (r CheckReport) OK() bool { return len(r.Corrupt) == 0 && len(r.Inconsistent) == 0 }

// Check reads every value and verifies checksums and that data and index
// entries match. It is slow (reads everything) and meant for tests, fsck
// tooling and after an unclean shutdown if the operator wants it.
func (s *Store) Check(ctx context.Context) (CheckReport, error) {
	var r CheckReport
	if err := s.enter(); err != nil {
		return r, err
	}
	defer s.exit()
	bad := func(k string, err error) { r.Corrupt = append(r.Corrupt, fmt.Sprintf("%s: %v", k, err)) }
	incons := func(format string, args ...any) {
		r.Inconsistent = append(r.Inconsistent, fmt.Sprintf(format, args...))
	}
	checkIndex := func(dataKey, idxKey string, n int) error {
		v, err := s.get(ctx, idxKey)
		if errors.Is(err, ErrNotFound) {
			incons("%s has no index entry", dataKey)
			return nil
		}
		if err != nil {
			return err
		}
		if sz, err := decodeSize(idxKey, v); err != nil {
			bad(idxKey, err)
		} else if sz != int64(n) {
			incons("%s: index says %d bytes, data has %d", dataKey, sz, n)
		}
		return nil
	}
	err := s.scan(ctx, pfxSliver, "", "", func(k string, v []byte) (bool, error) {
		p, ok := parseSliverKey(k)
		if !ok {
			incons("malformed key %q", k)
			return true, nil
		}
		data, err := openValue(k, v)
		if err != nil {
			bad(k, err)
			return true, nil
		}
		r.Slivers++
		return true, checkIndex(k, indexSliverKey(p.Blob, p.Shard, p.Type), len(data))
	})
	if err != nil {
		return r, err
	}
	err = s.scan(ctx, pfxMeta, "", "", func(k string, v []byte) (bool, error) {
		id, ok := parseBlobLeaf(k, pfxMeta)
		if !ok {
			incons("malformed key %q", k)
			return true, nil
		}
		data, err := openValue(k, v)
		if err != nil {
			bad(k, err)
			return true, nil
		}
		r.Metadata++
		return true, checkIndex(k, indexMetaKey(id), len(data))
	})
	if err != nil {
		return r, err
	}
	err = s.scan(ctx, pfxIndex, "", "", func(k string, _ []byte) (bool, error) {
		p, ok := parseIndexKey(k)
		if !ok {
			incons("malformed key %q", k)
			return true, nil
		}
		dk := metaKey(p.Blob)
		if !p.Meta {
			dk = sliverKey(p.Shard, p.Blob, p.Type)
		}
		has, err := s.has(ctx, dk)
		if err == nil && !has {
			incons("index entry %s has no data", k)
		}
		return true, err
	})
	if err != nil {
		return r, err
	}
	err = s.scan(ctx, pfxPending, "", "", func(k string, v []byte) (bool, error) {
		if _, ok := parsePendingKey(k); !ok {
			incons("malformed key %q", k)
		} else if _, err := openValue(k, v); err != nil {
			bad(k, err)
		} else {
			r.Pending++
		}
		return true, nil
	})
	if err != nil {
		return r, err
	}
	err = s.scan(ctx, pfxState, "", "", func(k string, v []byte) (bool, error) {
		if _, ok := parseBlobLeaf(k, pfxState); !ok {
			incons("malformed key %q", k)
		} else if _, err := decodeState(k, v); err != nil {
			bad(k, err)
		} else {
			r.States++
		}
		return true, nil
	})
	return r, err
}
