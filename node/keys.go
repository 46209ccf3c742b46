package node

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"floe/chainlink"
	"floe/chainlink/account"
	"floe/chainlink/bls"
)

// loadOrCreateBLSKey reads the node's BLS protocol key (hex, mode 0600) or
// creates it on first start.
func loadOrCreateBLSKey(path string) (*bls.SecretKey, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		raw, err := hex.DecodeString(strings.TrimSpace(string(b)))
		if err != nil {
			return nil, fmt.Errorf("%w: BLS key %s: %v", ErrConfig, path, err)
		}
		k, err := bls.ParseSecretKey(raw)
		if err != nil {
			return nil, fmt.Errorf("%w: BLS key %s: %v", ErrConfig, path, err)
		}
		return k, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	k, err := bls.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	if err := WriteFileAtomic(path, []byte(hex.EncodeToString(k.Bytes())+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("writing BLS key: %w", err)
	}
	return k, nil
}

// OwnerKeyFile is the owner's account key in a node's data directory
// (`floe node init` creates it unless given --owner-key).
const OwnerKeyFile = "owner.key"

// loadOwnerKey reads the node owner's account key: cfg.OwnerKey, or
// DATA_DIR/owner.key when that is not set. A key that is not there is no
// error when none was configured (a node registered already needs no
// owner key: it updates its record with its BLS key); a key whose address
// is not cfg.Owner is.
func loadOwnerKey(cfg Config) (*account.Key, error) {
	path := cfg.OwnerKey
	if path == "" {
		path = filepath.Join(cfg.DataDir, OwnerKeyFile)
	}
	k, err := account.Load(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && cfg.OwnerKey == "":
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("%w: owner key: %v", ErrConfig, err)
	}
	if chainlink.AccountID(k) != cfg.Owner {
		return nil, fmt.Errorf("%w: owner key %s is the key of %s, but the configured owner is %s", ErrConfig, path, k.Address(), cfg.Owner)
	}
	return k, nil
}

// cursorFile persists the position in the chain's event log up to which
// the node has applied events. Applying an event twice is harmless (every
// store operation it causes is idempotent), so the cursor may lag.
type cursorFile struct{ path string }

func (c cursorFile) load() (uint64, error) {
	b, err := os.ReadFile(c.path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if len(b) != 8 {
		return 0, fmt.Errorf("chain cursor %s: %d bytes, want 8", c.path, len(b))
	}
	return binary.LittleEndian.Uint64(b), nil
}

func (c cursorFile) save(v uint64) error {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	return WriteFileAtomic(c.path, b[:], 0o644)
}
