package node

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

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
