package store

import (
	"context"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	ds "github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
	pebbleds "github.com/ipfs/go-ds-pebble"
)

// scanFunc is called for each key in order. val is only valid during the
// call. Returning false stops the scan.
type scanFunc func(key string, val []byte) (bool, error)

// scanner walks a key range in key order. go-datastore queries cannot start
// at a key, so cursor scans over pebble seek directly on the pebble DB (and
// report iterator errors, which a go-datastore query over pebble drops
// silently); other datastores fall back to an ordered query.
type scanner interface {
	// scan visits keys k with prefix <= k, start <= k and (end == "" or
	// k < end). prefix ends with "/".
	scan(ctx context.Context, prefix, start, end string, fn scanFunc) error
}

func newScanner(d ds.Batching) scanner {
	if p, ok := d.(*pebbleds.Datastore); ok && p.DB != nil {
		return pebbleScanner{db: p.DB}
	}
	return queryScanner{d: d}
}

// prefixEnd returns the smallest key greater than every key with prefix p
// (p ends with "/", so incrementing that byte suffices).
func prefixEnd(p string) string {
	b := []byte(p)
	b[len(b)-1]++
	return string(b)
}

type pebbleScanner struct{ db *pebble.DB }

func (s pebbleScanner) scan(ctx context.Context, prefix, start, end string, fn scanFunc) (err error) {
	lower := prefix
	if start > lower {
		lower = start
	}
	upper := prefixEnd(prefix)
	if end != "" && end < upper {
		upper = end
	}
	if lower >= upper {
		return nil
	}
	it, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: []byte(lower), UpperBound: []byte(upper)})
	if err != nil {
		return fmt.Errorf("store: scan %s: %w", prefix, err)
	}
	defer func() {
		if cerr := it.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("store: scan %s: %w", prefix, cerr)
		}
	}()
	n := 0
	for it.First(); it.Valid(); it.Next() {
		if n++; n%256 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		v, verr := it.ValueAndErr()
		if verr != nil {
			return fmt.Errorf("store: scan %s at %q: %w", prefix, it.Key(), verr)
		}
		more, ferr := fn(string(it.Key()), v)
		if ferr != nil || !more {
			return ferr
		}
	}
	if ierr := it.Error(); ierr != nil {
		return fmt.Errorf("store: scan %s: %w", prefix, ierr)
	}
	return nil
}

type queryScanner struct{ d ds.Datastore }

func (s queryScanner) scan(ctx context.Context, prefix, start, end string, fn scanFunc) error {
	res, err := s.d.Query(ctx, query.Query{Prefix: prefix[:len(prefix)-1], Orders: []query.Order{query.OrderByKey{}}})
	if err != nil {
		return fmt.Errorf("store: scan %s: %w", prefix, err)
	}
	defer res.Close()
	for {
		r, ok := res.NextSync()
		if !ok {
			break
		}
		if r.Error != nil {
			return fmt.Errorf("store: scan %s: %w", prefix, r.Error)
		}
		k := r.Key
		if k < start {
			continue
		}
		if end != "" && k >= end {
			return nil
		}
		more, ferr := fn(k, r.Value)
		if ferr != nil || !more {
			return ferr
		}
	}
	return ctx.Err()
}
