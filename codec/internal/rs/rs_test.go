package rs

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
)

func TestUseHighRate(t *testing.T) {
	for _, tc := range []struct {
		k, r int
		high bool
	}{
		{334, 666, false}, {667, 333, true}, {4, 6, false}, {7, 3, true},
		{4, 4, true}, {4, 3, false}, {2, 2, true}, {3, 1, true}, {1, 3, false},
	} {
		if got := UseHighRate(tc.k, tc.r); got != tc.high {
			t.Errorf("UseHighRate(%d, %d) = %v, want %v", tc.k, tc.r, got, tc.high)
		}
	}
}

func randVectors(rng *rand.Rand, count, l int) [][]byte {
	v := make([][]byte, count)
	for i := range v {
		v[i] = make([]byte, l)
		for j := range v[i] {
			v[i][j] = byte(rng.Uint32())
		}
	}
	return v
}

// TestRoundTrip encodes random data and decodes it from random subsets of
// exactly K symbols, for both rates.
func TestRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	cases := [][2]int{{2, 4}, {3, 4}, {2, 7}, {5, 7}, {4, 10}, {7, 10}, {11, 31}, {21, 31}, {34, 100}, {67, 100}, {334, 1000}, {667, 1000}, {1, 2}, {3, 5}}
	for _, kn := range cases {
		k, n := kn[0], kn[1]
		c, err := New(k, n)
		if err != nil {
			t.Fatal(err)
		}
		for trial := range 3 {
			l := 64 * (1 + rng.IntN(3))
			orig := randVectors(rng, k, l)
			rec := make([][]byte, n-k)
			for i := range rec {
				rec[i] = make([]byte, l)
			}
			if err := c.Encode(orig, rec); err != nil {
				t.Fatal(err)
			}
			all := append(append([][]byte{}, orig...), rec...)
			keep := rng.Perm(n)[:k]
			shards := make([][]byte, n)
			for _, i := range keep {
				shards[i] = bytes.Clone(all[i])
			}
			if err := c.Decode(shards); err != nil {
				t.Fatalf("(%d,%d) trial %d: %v", k, n, trial, err)
			}
			for i := range k {
				if !bytes.Equal(shards[i], orig[i]) {
					t.Fatalf("(%d,%d) high=%v trial %d: original %d differs", k, n, c.HighRate(), trial, i)
				}
			}
		}
	}
}

func TestDecodeTooFew(t *testing.T) {
	c, _ := New(3, 7)
	shards := make([][]byte, 7)
	shards[0], shards[5] = make([]byte, 64), make([]byte, 64)
	if err := c.Decode(shards); err == nil {
		t.Fatal("decoded from 2 of 3 needed shards")
	}
}

// An Encoding filled in place gives Encode's recovery vectors, for both
// rates, also when its area comes back dirty from earlier encodes.
func TestEncodingMatchesEncode(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, kn := range [][2]int{{2, 4}, {3, 4}, {5, 7}, {11, 31}, {21, 31}, {334, 1000}, {667, 1000}, {1, 2}} {
		k, n := kn[0], kn[1]
		c, err := New(k, n)
		if err != nil {
			t.Fatal(err)
		}
		for trial := range 4 {
			l := 64 * (1 + rng.IntN(3))
			orig := randVectors(rng, k, l)
			want := make([][]byte, n-k)
			for i := range want {
				want[i] = make([]byte, l)
			}
			if err := c.Encode(orig, want); err != nil {
				t.Fatal(err)
			}
			e, err := c.NewEncoding(l)
			if err != nil {
				t.Fatal(err)
			}
			for i, v := range e.Originals() {
				if len(v) != l || !bytes.Equal(v, make([]byte, l)) {
					t.Fatalf("(%d,%d) trial %d: original vector %d is not %d zero bytes", k, n, trial, i, l)
				}
				copy(v, orig[i])
			}
			got := e.Run()
			if len(got) != n-k {
				t.Fatalf("(%d,%d): %d recovery vectors", k, n, len(got))
			}
			for i := range got {
				if !bytes.Equal(got[i], want[i]) {
					t.Fatalf("(%d,%d) high=%v trial %d: recovery %d differs from Encode's", k, n, c.HighRate(), trial, i)
				}
			}
			e.Release()
		}
	}
	c, _ := New(2, 4)
	if _, err := c.NewEncoding(65); !errors.Is(err, ErrShardSize) {
		t.Fatalf("NewEncoding(65): %v, want ErrShardSize", err)
	}
}
