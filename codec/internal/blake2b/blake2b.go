package blake2b

import (
	"encoding/binary"

	xblake2b "golang.org/x/crypto/blake2b"
)

//go:generate go run gen.go

const (
	// Size is the digest size.
	Size      = 32
	blockSize = 128
	lanes     = 8
)

var iv = [8]uint64{
	0x6a09e667f3bcc908, 0xbb67ae8584caa73b, 0x3c6ef372fe94f82b, 0xa54ff53a5f1d36f1,
	0x510e527fade682d1, 0x9b05688c2b3e6c1f, 0x1f83d9abfb41bd6b, 0x5be0cd19137e2179,
}

// lanesState is the chaining value of eight messages, word-major: h[w][l]
// is word w of lane l, the layout of one zmm register per word.
type lanesState [8][lanes]uint64

// lanesBlocks is one message block of each of eight messages.
type lanesBlocks [lanes][blockSize]byte

// Sum256 is BLAKE2b-256 of data.
func Sum256(data []byte) [Size]byte { return xblake2b.Sum256(data) }

// SumPrefixed hashes count = len(dst)/32 messages: message i is
// prefix ‖ src[i*msgLen:(i+1)*msgLen], its digest goes to dst[32i:32i+32].
func SumPrefixed(dst, src []byte, msgLen int, prefix byte) {
	SumPrefixedStrided(dst, src, msgLen, msgLen, prefix)
}

// SumPrefixedStrided is SumPrefixed with message i starting at src[i*stride].
func SumPrefixedStrided(dst, src []byte, msgLen, stride int, prefix byte) {
	count := len(dst) / Size
	if count == 0 {
		return
	}
	if msgLen < 0 || stride < msgLen || (count-1)*stride+msgLen > len(src) {
		panic("blake2b: source too short for the messages")
	}
	if count == 1 && msgLen < smallMsg {
		// A lone short message: x/crypto beats filling eight lanes.
		sumXCrypto(dst[:Size], src, msgLen, stride, prefix)
		return
	}
	sumBest(dst[:count*Size], src, msgLen, stride, prefix)
}

// params describes a batch to the assembly: the prefixed length, the
// number of blocks and the byte masks of the first and last blocks (bit i
// of lo/hi: byte i / 64+i of the block comes from the message). Field
// offsets are fixed by compress_amd64.s.
type params struct {
	total, blocks    uint64
	firstLo, firstHi uint64
	lastLo, lastHi   uint64
	prefix           uint64
	lastWords        uint64 // words of the last block that may be nonzero, a variant of gen.go
}

// variants are gen.go's variants: the last block's message words at and
// past the variant are zero and left out of the compression.
var variants = [...]uint64{1, 2, 4, 8, 9, 16}

func newParams(msgLen int, prefix byte) params {
	total := 1 + msgLen
	blocks := (total + blockSize - 1) / blockSize
	// mask of the block's bytes [64h, 64h+64) that lie in [1, total).
	mask := func(b, h int) uint64 {
		base := b*blockSize + 64*h
		lo, hi := max(1, base)-base, min(total, base+64)-base
		if hi <= lo {
			return 0
		}
		return (^uint64(0) >> (64 - (hi - lo))) << lo
	}
	return params{
		total: uint64(total), blocks: uint64(blocks),
		firstLo: mask(0, 0), firstHi: mask(0, 1),
		lastLo: mask(blocks-1, 0), lastHi: mask(blocks-1, 1),
		prefix:    uint64(prefix),
		lastWords: lastWords(total - (blocks-1)*blockSize),
	}
}

// lastWords is the smallest variant covering a last block of n bytes.
func lastWords(n int) uint64 {
	words := uint64(n+7) / 8
	for _, v := range variants {
		if v >= words {
			return v
		}
	}
	return 16
}

// smallMsg bounds the messages sumXCrypto copies into a stack buffer.
const smallMsg = 256

// sumXCrypto hashes the messages one at a time with x/crypto.
func sumXCrypto(dst, src []byte, msgLen, stride int, prefix byte) {
	if msgLen < smallMsg {
		var buf [smallMsg]byte
		buf[0] = prefix
		for i := range len(dst) / Size {
			copy(buf[1:], src[i*stride:i*stride+msgLen])
			d := xblake2b.Sum256(buf[:1+msgLen])
			copy(dst[i*Size:], d[:])
		}
		return
	}
	h, _ := xblake2b.New256(nil)
	pre := []byte{prefix}
	for i := range len(dst) / Size {
		h.Reset()
		h.Write(pre)
		h.Write(src[i*stride : i*stride+msgLen])
		h.Sum(dst[i*Size : i*Size : i*Size+Size])
	}
}

// laneKernel picks the compression sumLanes runs. It is a value, not a
// function: an indirect call would make the lane state escape to the heap
// (two allocations per call).
type laneKernel uint8

const (
	kernelGeneric laneKernel = iota
	kernelAVX2               // compress8AVX2; only where hasAVX2
)

// sumLanes packs eight messages at a time into lanesBlocks and runs the
// kernel's compression on them block by block.
func sumLanes(kernel laneKernel, dst, src []byte, msgLen, stride int, prefix byte) {
	count := len(dst) / Size
	total := 1 + msgLen
	blocks := (total + blockSize - 1) / blockSize
	var h lanesState
	var buf lanesBlocks
	for first := 0; first < count; first += lanes {
		n := min(lanes, count-first)
		for w := range h {
			for l := range lanes {
				h[w][l] = iv[w]
			}
		}
		for l := range lanes {
			h[0][l] ^= 0x01010000 | Size // digest length, fanout 1, depth 1
		}
		for b := range blocks {
			// The prefixed message's bytes [128b, 128b+128).
			for l := range n {
				msg := src[(first+l)*stride : (first+l)*stride+msgLen]
				blk := buf[l][:]
				var k int
				if b == 0 {
					blk[0] = prefix
					k = 1 + copy(blk[1:], msg)
				} else {
					k = copy(blk, msg[b*blockSize-1:])
				}
				// Bytes past the message are zero: buf starts zeroed and
				// only a final block after full ones can leave stale bytes.
				if blocks > 1 && k < blockSize {
					clear(blk[k:])
				}
			}
			final := b == blocks-1
			if kernel == kernelAVX2 {
				compress8AVX2(&h, &buf, uint64(min(total, (b+1)*blockSize)), final)
			} else {
				compressGeneric(&h, &buf, uint64(min(total, (b+1)*blockSize)), final)
			}
		}
		for l := range n {
			out := dst[(first+l)*Size:]
			for w := range 4 {
				binary.LittleEndian.PutUint64(out[8*w:], h[w][l])
			}
		}
	}
}

var sigma = [12][16]byte{
	{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
	{14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
	{11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4},
	{7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
	{9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13},
	{2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
	{12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11},
	{13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
	{6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5},
	{10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
	{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
	{14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
}

func rotr(x uint64, n uint) uint64 { return x>>n | x<<(64-n) }

// compressGeneric is the BLAKE2b compression of RFC 7693 run on each lane.
func compressGeneric(h *lanesState, m *lanesBlocks, t uint64, final bool) {
	for l := range lanes {
		var v [16]uint64
		for i := range 8 {
			v[i] = h[i][l]
			v[i+8] = iv[i]
		}
		v[12] ^= t
		if final {
			v[14] = ^v[14]
		}
		var mw [16]uint64
		for i := range mw {
			mw[i] = binary.LittleEndian.Uint64(m[l][8*i:])
		}
		for r := range 12 {
			s := &sigma[r]
			g := func(a, b, c, d int, x, y uint64) {
				v[a] += v[b] + x
				v[d] = rotr(v[d]^v[a], 32)
				v[c] += v[d]
				v[b] = rotr(v[b]^v[c], 24)
				v[a] += v[b] + y
				v[d] = rotr(v[d]^v[a], 16)
				v[c] += v[d]
				v[b] = rotr(v[b]^v[c], 63)
			}
			g(0, 4, 8, 12, mw[s[0]], mw[s[1]])
			g(1, 5, 9, 13, mw[s[2]], mw[s[3]])
			g(2, 6, 10, 14, mw[s[4]], mw[s[5]])
			g(3, 7, 11, 15, mw[s[6]], mw[s[7]])
			g(0, 5, 10, 15, mw[s[8]], mw[s[9]])
			g(1, 6, 11, 12, mw[s[10]], mw[s[11]])
			g(2, 7, 8, 13, mw[s[12]], mw[s[13]])
			g(3, 4, 9, 14, mw[s[14]], mw[s[15]])
		}
		for i := range 8 {
			h[i][l] ^= v[i] ^ v[i+8]
		}
	}
}
