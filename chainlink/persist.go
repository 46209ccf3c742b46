package chainlink

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/cockroachdb/pebble/v2"
	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
	dssync "github.com/ipfs/go-datastore/sync"
	pebbleds "github.com/ipfs/go-ds-pebble"
)

// OpenDir opens (or creates) a ledger stored in a pebble database under dir.
// Writes are synced to disk before an operation returns.
func OpenDir(ctx context.Context, dir string, opts ...Option) (*Ledger, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("chainlink: %w", err)
	}
	ds, err := pebbleds.NewDatastore(dir, pebbleds.WithPebbleWriteOptions(pebble.Sync))
	if err != nil {
		return nil, fmt.Errorf("chainlink: open %s: %w", dir, err)
	}
	l, err := Open(ctx, ds, opts...)
	if err != nil {
		ds.Close()
		return nil, err
	}
	l.closeDS = ds.Close
	return l, nil
}

// NewMemDatastore returns an in-memory datastore for tests and devnets.
func NewMemDatastore() datastore.Batching {
	return dssync.MutexWrap(datastore.NewMapDatastore())
}

// StateDigest returns a SHA-256 over every stored key and value in key
// order, and the number of records. Two ledgers with the same digest hold
// byte-identical state.
func StateDigest(ctx context.Context, ds datastore.Datastore) (string, int, error) {
	res, err := ds.Query(ctx, query.Query{Orders: []query.Order{query.OrderByKey{}}})
	if err != nil {
		return "", 0, err
	}
	defer res.Close()
	h := sha256.New()
	n := 0
	for r := range res.Next() {
		if r.Error != nil {
			return "", 0, r.Error
		}
		fmt.Fprintf(h, "%d:%s%d:", len(r.Key), r.Key, len(r.Value))
		h.Write(r.Value)
		n++
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// Digest returns a SHA-256 over the ledger's in-memory state, re-encoded
// the way it is stored. After a restart it equals the digest before.
func (l *Ledger) Digest(ctx context.Context) (string, error) {
	if err := l.lock(ctx); err != nil {
		return "", err
	}
	defer l.mu.Unlock()
	mem := datastore.NewMapDatastore()
	t := l.begin()
	for _, a := range l.accounts {
		t.put(keyID(prefAccount, a.Address), a)
	}
	for _, n := range l.nodes {
		t.put(keyID(prefNode, n.ID), n)
	}
	for _, s := range l.storages {
		t.put(keyID(prefStorage, s.ID), s)
	}
	for _, b := range l.blobs {
		t.put(keyID(prefBlob, b.ObjectID), b)
	}
	for _, c := range l.committees {
		t.put(keyCommittee(c.Epoch), c)
	}
	for id, e := range l.invalid {
		t.put(keyInvalid(id), struct {
			BlobID any    `json:"blob_id"`
			Epoch  uint32 `json:"epoch"`
		}{id, e})
	}
	t.put(keyMeta, l.m)
	for k, v := range t.puts {
		if err := mem.Put(ctx, k, v); err != nil {
			return "", err
		}
	}
	d, _, err := StateDigest(ctx, mem)
	return d, err
}

// AdminTokenFile is the name of the admin token file `floe ledger serve`
// keeps in its --dir.
const AdminTokenFile = "admin.token"

// LoadOrCreateAdminToken reads the admin token at path, or creates one
// there (mode 0600) if there is none. created says which.
func LoadOrCreateAdminToken(path string) (token string, created bool, err error) {
	b, err := os.ReadFile(path)
	if err == nil {
		t, perr := ParseAdminToken(string(b))
		if perr != nil {
			return "", false, fmt.Errorf("%s: %w", path, perr)
		}
		return t, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", false, fmt.Errorf("chainlink: admin token: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", false, fmt.Errorf("chainlink: admin token: %w", err)
	}
	t := GenerateAdminToken()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return LoadOrCreateAdminToken(path) // created meanwhile
	}
	if err != nil {
		return "", false, fmt.Errorf("chainlink: admin token: %w", err)
	}
	_, err = f.WriteString(t + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return "", false, fmt.Errorf("chainlink: admin token: %w", err)
	}
	return t, true, nil
}

// ReadAdminToken reads an admin token file.
func ReadAdminToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	t, err := ParseAdminToken(string(b))
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}
