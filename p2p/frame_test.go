package p2p

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"strconv"
	"testing"
)

func TestReadFrameBodySizes(t *testing.T) {
	for _, n := range []int{0, 1, frameChunk - 1, frameChunk, frameChunk + 1, 3*frameChunk + 5} {
		in := make([]byte, n)
		for i := range in {
			in[i] = byte(i * 7)
		}
		got, err := readFrameBody(bytes.NewReader(in), n)
		if err != nil || !bytes.Equal(got, in) {
			t.Fatalf("%d bytes: %v, equal %v", n, err, bytes.Equal(got, in))
		}
		if n > 0 {
			if _, err := readFrameBody(bytes.NewReader(in[:n-1]), n); !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("%d bytes, one short: %v", n, err)
			}
		}
	}
}

// A peer that declares a huge frame and sends little costs at most one
// chunk of memory.
func TestReadFrameBodyDeclaredSizeNotTrusted(t *testing.T) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := readFrameBody(bytes.NewReader(make([]byte, 100)), 1<<30)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatal(err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 2*frameChunk {
		t.Fatalf("allocated %d bytes for a 1 GiB frame of which 100 bytes arrived", got)
	}
}

// BenchmarkReadFrameBody reads frames of the largest sliver sizes: 4 MiB
// (100 shards) and 44 MB (1000 shards), from memory.
func BenchmarkReadFrameBody(b *testing.B) {
	for _, n := range []int{4 << 20, 44 << 20} {
		in := make([]byte, n)
		b.Run(strconv.Itoa(n>>20)+"MiB", func(b *testing.B) {
			b.SetBytes(int64(n))
			r := bytes.NewReader(in)
			for b.Loop() {
				r.Reset(in)
				if _, err := readFrameBody(r, n); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
