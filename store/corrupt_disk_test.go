package store

// Corruption of the backing files (helper B's file): flip bytes in pebble's
// sstables and WAL, reopen, and check that the store never returns wrong
// data as good — every read either returns the exact bytes written, or an
// error (ErrCorrupt, a pebble corruption error, ErrNotFound when a flip hit
// a key or an index structure), or the open itself fails.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"floe/codec"
	ds "github.com/ipfs/go-datastore"
)

type diskSliver struct {
	id   codec.BlobID
	pair int
	t    codec.SliverType
	data []byte
}

// writeDiskFixture fills a pebble store in dir with slivers of a few blobs
// and returns them. If closeIt, the store is closed (memtable flushed to
// sstables); otherwise it is left open (its data is in the WAL) and
// returned for the caller to close.
func writeDiskFixture(t *testing.T, dir string, closeIt bool) ([]diskSliver, *Store) {
	t.Helper()
	ctx := context.Background()
	s, err := Open(ctx, Options{Path: dir, Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	var out []diskSliver
	for b := 0; b < 4; b++ {
		id := codec.BlobID(sha256.Sum256([]byte{'d', byte(b)}))
		if err := s.Register(ctx, id, Registration{NShards: 8, EndEpoch: 100}); err != nil {
			t.Fatal(err)
		}
		for pair := 0; pair < 8; pair++ {
			for _, ty := range []codec.SliverType{codec.Primary, codec.Secondary} {
				// Incompressible, so it sits verbatim in the sstable.
				data := make([]byte, 0, 3000+pair*100+32)
				h := sha256.Sum256([]byte{byte(b), byte(pair), byte(ty)})
				for len(data) < 3000+pair*100 {
					h = sha256.Sum256(h[:])
					data = append(data, h[:]...)
				}
				data = data[:3000+pair*100]
				if err := s.PutSliver(ctx, id, pair, ty, data); err != nil {
					t.Fatal(err)
				}
				out = append(out, diskSliver{id, pair, ty, data})
			}
		}
	}
	if closeIt {
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		return out, nil
	}
	return out, s
}

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		in, err := os.Open(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out, err := os.Create(filepath.Join(dst, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, in); err != nil {
			t.Fatal(err)
		}
		in.Close()
		if err := out.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func filesWithSuffix(t *testing.T, dir, suffix string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), suffix) {
			info, _ := e.Info()
			if info != nil && info.Size() > 0 {
				out = append(out, e.Name())
			}
		}
	}
	return out
}

// checkNoWrongData opens dir and reads every sliver. It returns how many
// reads failed (detected) and fails the test on any wrong content.
func checkNoWrongData(t *testing.T, dir string, want []diskSliver, what string) (detected int, openFailed bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := func() (s *Store, err error) {
		defer func() {
			if r := recover(); r != nil {
				t.Fatalf("%s: open panicked: %v", what, r)
			}
		}()
		return Open(ctx, Options{Path: dir, Logger: discardLogger()})
	}()
	if err != nil {
		return 0, true
	}
	defer s.Close()
	for _, w := range want {
		got, err := s.GetSliver(ctx, w.id, w.pair, w.t)
		if err != nil {
			detected++
			continue
		}
		if !bytes.Equal(got, w.data) {
			t.Fatalf("%s: sliver %s/%d/%d read back as good but differs", what, w.id, w.pair, w.t)
		}
	}
	// Shard scans must not hand out wrong data either.
	byAddr := map[[2]any][]byte{}
	for _, w := range want {
		byAddr[[2]any{w.id, [2]int{w.pair, int(w.t)}}] = w.data
	}
	for shard := 0; shard < 8; shard++ {
		batch, err := s.ScanShard(ctx, shard, codec.BlobID{}, 100)
		if err != nil {
			continue
		}
		for _, sl := range batch.Slivers {
			if sl.Err != nil || sl.Pair < 0 {
				continue
			}
			w, ok := byAddr[[2]any{sl.Blob, [2]int{sl.Pair, int(sl.Type)}}]
			if !ok || !bytes.Equal(w, sl.Data) {
				t.Fatalf("%s: ScanShard(%d) returned sliver %s/%d/%d with wrong data", what, shard, sl.Blob, sl.Pair, sl.Type)
			}
		}
	}
	return detected, false
}

// flipTrials copies the pristine dir, flips one random byte of one file
// chosen by suffix, and checks the copy.
func flipTrials(t *testing.T, pristine string, want []diskSliver, suffix string, trials int, rng *rand.Rand) (detected, opens int) {
	files := filesWithSuffix(t, pristine, suffix)
	if len(files) == 0 {
		t.Fatalf("no %s files in %s", suffix, pristine)
	}
	for i := 0; i < trials; i++ {
		dir := t.TempDir()
		copyDir(t, pristine, dir)
		name := files[rng.IntN(len(files))]
		path := filepath.Join(dir, name)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		off := rng.IntN(len(b))
		b[off] ^= byte(1 + rng.IntN(255))
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		d, openFailed := checkNoWrongData(t, dir, want, name)
		if openFailed {
			opens++
		} else if d > 0 {
			detected++
		}
	}
	return detected, opens
}

func TestCorruptDiskFiles(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))

	t.Run("sstable", func(t *testing.T) {
		pristine := t.TempDir()
		want, _ := writeDiskFixture(t, pristine, true)
		clean := t.TempDir()
		copyDir(t, pristine, clean)
		if d, _ := checkNoWrongData(t, clean, want, "pristine"); d != 0 {
			t.Fatalf("pristine copy: %d reads failed", d)
		}
		detected, opens := flipTrials(t, pristine, want, ".sst", 12, rng)
		t.Logf("sstable flips: 12 trials, %d with failed reads, %d failed opens, rest hit unused bytes; no wrong data", detected, opens)
		if detected+opens == 0 {
			t.Fatal("no flip was detected at all; the test is not reaching the data")
		}
	})

	// Slivers sit in blob files (value separation), states and index
	// entries in the sstables.
	t.Run("blob-file", func(t *testing.T) {
		pristine := t.TempDir()
		want, _ := writeDiskFixture(t, pristine, true)
		if len(filesWithSuffix(t, pristine, ".blob")) == 0 {
			t.Fatal("no blob file: value separation is off, the case would test nothing")
		}
		detected, opens := flipTrials(t, pristine, want, ".blob", 12, rng)
		t.Logf("blob-file flips: 12 trials, %d with failed reads, %d failed opens, rest hit unused bytes; no wrong data", detected, opens)
		if detected+opens == 0 {
			t.Fatal("no flip was detected at all; the test is not reaching the data")
		}
	})

	t.Run("wal", func(t *testing.T) {
		live := t.TempDir()
		want, s := writeDiskFixture(t, live, false)
		// A copy of the directory of an open store is what a crash leaves:
		// the synced data is in the WAL, not yet in sstables.
		pristine := t.TempDir()
		copyDir(t, live, pristine)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if len(filesWithSuffix(t, pristine, ".log")) == 0 {
			t.Fatal("no WAL file in the snapshot: the WAL corruption case would test nothing")
		}
		// Check an untouched copy: opening replays the WAL into an sstable
		// and starts a new WAL, so the pristine snapshot itself must stay
		// unopened.
		clean := t.TempDir()
		copyDir(t, pristine, clean)
		if d, _ := checkNoWrongData(t, clean, want, "pristine"); d != 0 {
			t.Fatalf("pristine copy: %d reads failed", d)
		}
		detected, opens := flipTrials(t, pristine, want, ".log", 12, rng)
		t.Logf("WAL flips: 12 trials, %d with failed reads, %d failed opens; no wrong data", detected, opens)
	})

	t.Run("every-byte-of-one-value", func(t *testing.T) {
		// Exhaustive: flip each byte of one sliver value on disk (in its
		// blob file) in turn (found by searching for its payload) and check each is
		// detected.
		pristine := t.TempDir()
		want, _ := writeDiskFixture(t, pristine, true)
		target := want[5]
		var file string
		var at int
		for _, name := range append(filesWithSuffix(t, pristine, ".blob"), filesWithSuffix(t, pristine, ".sst")...) {
			b, _ := os.ReadFile(filepath.Join(pristine, name))
			if i := bytes.Index(b, target.data[:64]); i >= 0 {
				file, at = name, i
				break
			}
		}
		if file == "" {
			t.Fatal("value not found verbatim in a blob file or an sstable: the byte-flip case would test nothing")
		}
		step := len(target.data) / 10
		for off := at - 34; off < at+len(target.data); off += step {
			dir := t.TempDir()
			copyDir(t, pristine, dir)
			path := filepath.Join(dir, file)
			b, _ := os.ReadFile(path)
			b[off] ^= 0x40
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			s, err := Open(ctx, Options{Path: dir, Logger: discardLogger()})
			if err != nil {
				continue
			}
			got, err := s.GetSliver(ctx, target.id, target.pair, target.t)
			s.Close()
			if err == nil {
				t.Fatalf("flip at +%d of the value went undetected (equal=%v)", off-at, bytes.Equal(got, target.data))
			}
		}
	})
}

// TestCorruptStoredValue corrupts values through the raw datastore (below
// pebble's block checksums) and checks the store's own checksum catches it.
func TestCorruptStoredValueEveryByte(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	want, _ := writeDiskFixture(t, dir, true)
	s, err := Open(ctx, Options{Path: dir, Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	w := want[3]
	st, err := s.State(ctx, w.id)
	if err != nil {
		t.Fatal(err)
	}
	key := sliverKey(codec.Params{NShards: st.NShards}.ShardOfPair(w.id, w.pair), w.id, w.t)
	raw := s.ds
	orig, err := raw.Get(ctx, ds.RawKey(key))
	if err != nil {
		t.Fatal(err)
	}
	for off := 0; off < len(orig); off += 1 + off/8 {
		bad := bytes.Clone(orig)
		bad[off] ^= 1 << (off % 8)
		if err := raw.Put(ctx, ds.RawKey(key), bad); err != nil {
			t.Fatal(err)
		}
		_, err := s.GetSliver(ctx, w.id, w.pair, w.t)
		var ce *CorruptError
		if !errors.Is(err, ErrCorrupt) || !errors.As(err, &ce) || ce.Key != key {
			t.Fatalf("flip at %d: got %v, want a *CorruptError for %s", off, err, key)
		}
	}
	// Truncated and extended values too.
	for _, bad := range [][]byte{orig[:len(orig)-1], orig[:33], nil, append(bytes.Clone(orig), 0)} {
		if err := raw.Put(ctx, ds.RawKey(key), bad); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetSliver(ctx, w.id, w.pair, w.t); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("value of %d bytes: got %v, want ErrCorrupt", len(bad), err)
		}
	}
	// Re-putting the sliver repairs it.
	if err := s.PutSliver(ctx, w.id, w.pair, w.t, w.data); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetSliver(ctx, w.id, w.pair, w.t); err != nil || !bytes.Equal(got, w.data) {
		t.Fatalf("after repair: %v", err)
	}
}
