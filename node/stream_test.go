package node

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"floe/codec"
)

// openSpills lists this process's open files whose name says they are a
// floe spill (unlinked ones show as "… (deleted)").
func openSpills(t *testing.T) []string {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd here")
	}
	var out []string
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err == nil && strings.Contains(target, "floe-spill-") {
			out = append(out, target)
		}
	}
	return out
}

func writeTempBlob(t *testing.T, data []byte) *os.File {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "blob"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// A streamed store gives the blob ID the codec computes for the bytes (what
// `floe blob-id` prints), for sizes at and around symbol and row
// boundaries; a streamed read gives the bytes back; the spill is gone
// afterwards and nothing of it stays open. Small budgets force many
// pushes and read windows.
func TestStoreFromReadToBoundaries(t *testing.T) {
	d := startDevnet(t, 4, 20)
	c := newTestClient(t, d)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	p := c.params
	kp, ks := p.Primary(), p.Secondary()
	symbol := kp * ks // bytes per unit of symbol size
	sizes := []int{0, 1, symbol - 1, symbol, symbol + 1, 2*symbol + 1, 64*symbol - 1, 64 * symbol, 64*symbol + 1}
	// Row boundaries at S = 64: one row is nSec·64 bytes.
	row := ks * 64
	sizes = append(sizes, 63*symbol+row, 63*symbol+row+1, 1<<20+3)
	spillDir := t.TempDir()
	for i, size := range sizes {
		data := randomBlob(uint64(100+i), size)
		f := writeTempBlob(t, data)
		_, want, err := codec.ComputeMetadata(p, data)
		if err != nil {
			t.Fatal(err)
		}
		res, err := c.StoreFrom(ctx, f, int64(size), StoreOptions{MemoryBudget: 1 << 16, SpillDir: spillDir})
		if err != nil {
			t.Fatalf("%d bytes: %v", size, err)
		}
		if res.BlobID != want {
			t.Fatalf("%d bytes: streamed store gives %s, the codec %s", size, res.BlobID, want)
		}
		if res.AlreadyCertified || res.Certificate == nil {
			t.Fatalf("%d bytes: not newly certified", size)
		}
		c.tails.Wait() // the pushes after the quorum hold the spill
		if left, _ := os.ReadDir(spillDir); len(left) != 0 || len(openSpills(t)) != 0 {
			t.Fatalf("%d bytes: spill left behind: %v, open %v", size, left, openSpills(t))
		}
		var out bytes.Buffer
		var announced uint64 = 1 << 63
		rr, err := c.ReadTo(ctx, res.BlobID, &out, ReadOptions{MemoryBudget: 1, Size: func(n uint64) error { announced = n; return nil }})
		if err != nil {
			t.Fatalf("%d bytes: streamed read: %v", size, err)
		}
		if !bytes.Equal(out.Bytes(), data) || rr.Size != uint64(size) || announced != uint64(size) {
			t.Fatalf("%d bytes: streamed read gives %d bytes (size %d, announced %d)", size, out.Len(), rr.Size, announced)
		}
		if _, ok := rr.Phases["decode"]; ok {
			t.Fatalf("%d bytes: an honest swarm's streamed read decoded", size)
		}
	}
}

// With the holder of some rows down, a streamed read decodes them from
// other primary slivers through its row spill, and the bytes are right.
func TestReadToDecodesRowsItCannotFetch(t *testing.T) {
	d := startDevnet(t, 4, 20)
	c := newTestClient(t, d)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p := c.params
	data := randomBlob(21, p.Primary()*p.Secondary()*200) // every row holds bytes
	res, err := c.StoreFrom(ctx, bytes.NewReader(data), int64(len(data)), StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Stop the holder of the last row, so rows are written before the
	// fallback starts.
	k := holderOfRow(t, ctx, c, d, res.BlobID, p.Primary()-1)
	if err := d.StopNode(k); err != nil {
		t.Fatal(err)
	}
	spillDir := t.TempDir()
	var out bytes.Buffer
	rr, err := c.ReadTo(ctx, res.BlobID, &out, ReadOptions{MemoryBudget: 1, SpillDir: spillDir})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), data) {
		t.Fatalf("decoded streamed read gives %d different bytes", out.Len())
	}
	if _, ok := rr.Phases["decode"]; !ok {
		t.Fatal("no decode phase: the down node's rows were fetched?")
	}
	if left, _ := os.ReadDir(spillDir); len(left) != 0 || len(openSpills(t)) != 0 {
		t.Fatalf("read spill left behind: %v, open %v", left, openSpills(t))
	}
}

// Cancelling a streamed store during its encode ends it with the context's
// error and leaves no spill, open or on disk; the strict check is refused
// by a streamed read.
func TestStoreFromCancelAndStrictRead(t *testing.T) {
	d := startDevnet(t, 4, 20)
	c := newTestClient(t, d)
	data := randomBlob(5, 4<<20)
	ctx, cancel := context.WithCancel(context.Background())
	spillDir := t.TempDir()
	src := &cancellingReader{r: bytes.NewReader(data), cancel: cancel, t: t}
	_, err := c.StoreFrom(ctx, src, int64(len(data)), StoreOptions{SpillDir: spillDir})
	cancel()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled store: %v", err)
	}
	if src.openAtCancel != 1 {
		t.Fatalf("%d spills open when the encode was cancelled, want 1", src.openAtCancel)
	}
	if left, _ := os.ReadDir(spillDir); len(left) != 0 || len(openSpills(t)) != 0 {
		t.Fatalf("spill left behind: %v, open %v", left, openSpills(t))
	}
	res, err := c.Store(context.Background(), data[:1000], StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ReadTo(context.Background(), res.BlobID, &bytes.Buffer{}, ReadOptions{Check: codec.CheckStrict}); !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("strict streamed read: %v", err)
	}
}

// A streamed range read writes exactly the range, from the rows that hold
// it, for ranges within a row, across rows and to the end; with a row's
// holder down it decodes, and bad ranges are refused.
func TestReadRangeTo(t *testing.T) {
	d := startDevnet(t, 4, 20)
	c := newTestClient(t, d)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p := c.params
	data := randomBlob(33, p.Primary()*p.Secondary()*300+11)
	res, err := c.StoreFrom(ctx, bytes.NewReader(data), int64(len(data)), StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := p.SymbolSize(uint64(len(data)))
	row := uint64(p.Secondary() * s)
	size := uint64(len(data))
	ranges := [][2]uint64{{0, 1}, {5, 100}, {row - 3, 7}, {row, row}, {row + 1, 3*row + 5}, {size - 1, 1}, {0, size}, {size - row - 2, row + 2}}
	check := func(when string) {
		for _, r := range ranges {
			var out bytes.Buffer
			before := c.FetchedSliverBytes()
			if _, err := c.ReadRangeTo(ctx, res.BlobID, r[0], r[1], &out, ReadOptions{MemoryBudget: 1}); err != nil {
				t.Fatalf("%s: range %v: %v", when, r, err)
			}
			if !bytes.Equal(out.Bytes(), data[r[0]:r[0]+r[1]]) {
				t.Fatalf("%s: range %v: %d different bytes", when, r, out.Len())
			}
			rows := (r[0]+r[1]-1)/row - r[0]/row + 1
			if when == "all up" {
				if got := c.FetchedSliverBytes() - before; got > int64(rows*(row+16)) {
					t.Fatalf("range %v: fetched %d sliver bytes for %d rows of %d", r, got, rows, row)
				}
			}
		}
	}
	check("all up")
	for _, r := range [][2]uint64{{0, 0}, {size, 1}, {size - 1, 2}} {
		if _, err := c.ReadRangeTo(ctx, res.BlobID, r[0], r[1], &bytes.Buffer{}, ReadOptions{}); !errors.Is(err, ErrBadRange) {
			t.Errorf("range %v: %v, want ErrBadRange", r, err)
		}
	}
	if err := d.StopNode(holderOfRow(t, ctx, c, d, res.BlobID, 1)); err != nil {
		t.Fatal(err)
	}
	check("a holder down")
}

// cancellingReader cancels the store on its first read, noting how many
// spills were open then.
type cancellingReader struct {
	r            *bytes.Reader
	cancel       func()
	t            *testing.T
	once         sync.Once
	openAtCancel int
}

func (c *cancellingReader) ReadAt(p []byte, off int64) (int, error) {
	c.once.Do(func() {
		c.openAtCancel = len(openSpills(c.t))
		c.cancel()
	})
	return c.r.ReadAt(p, off)
}
