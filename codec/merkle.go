package codec

import (
	"errors"
	"fmt"
	"math/bits"

	"floe/codec/internal/blake2b"
)

// Merkle trees of Walrus (F4.2): leaf = H(0x00 ‖ leaf bytes), inner node =
// H(0x01 ‖ left ‖ right); a level with an odd number of nodes gets an
// all-zero (Empty) sibling for its last node. One leaf: the root is the leaf
// hash; no leaves: the root is 32 zero bytes.

const (
	leafPrefix  = 0x00
	innerPrefix = 0x01
)

// ErrInvalidProof means a Merkle proof does not lead to the expected root.
var ErrInvalidProof = errors.New("codec: invalid Merkle proof")

// Node is a Merkle tree node as Walrus serializes it: Empty or a digest.
type Node struct {
	Empty  bool
	Digest [DigestSize]byte
}

// bytes returns the node's value in hashing: zeros for Empty.
func (n Node) value() [DigestSize]byte {
	if n.Empty {
		return [DigestSize]byte{}
	}
	return n.Digest
}

// MerkleProof is the list of sibling nodes from the leaf up to the root.
type MerkleProof struct {
	Path []Node
}

// treeDepth is the length of every proof in a tree of n leaves: ceil(log2 n).
func treeDepth(n int) int {
	if n <= 1 {
		return 0
	}
	return bits.Len(uint(n - 1))
}

// merkleTree holds every level of a tree, leaf hashes first (each level
// padded with a zero node when odd), so proofs can be read off it.
type merkleTree struct {
	levels [][]byte
}

// leafHashes hashes count leaves of msgLen bytes spaced stride apart in src.
func leafHashes(dst, src []byte, count, msgLen, stride int) {
	blake2b.SumPrefixedStrided(dst[:count*DigestSize], src, msgLen, stride, leafPrefix)
}

// reduceLevel hashes level (count digests, padded to even with a zero node
// if needed) into the next level, written to next (len >= ceil(count/2)*32).
func reduceLevel(next, level []byte, count int) {
	pairs := (count + 1) / 2
	if count%2 == 1 {
		// level must have room for the zero sibling.
		clear(level[count*DigestSize : (count+1)*DigestSize])
	}
	blake2b.SumPrefixed(next[:pairs*DigestSize], level[:pairs*2*DigestSize], 2*DigestSize, innerPrefix)
}

// rootFromLeafHashes reduces count leaf hashes in buf to the root. buf must
// have room for count+1 digests and tmp for count/2+2; both are overwritten.
func rootFromLeafHashes(buf, tmp []byte, count int) [DigestSize]byte {
	var root [DigestSize]byte
	if count == 0 {
		return root
	}
	for count > 1 {
		reduceLevel(tmp, buf, count)
		buf, tmp = tmp, buf
		count = (count + 1) / 2
	}
	copy(root[:], buf[:DigestSize])
	return root
}

// newMerkleTree builds the full tree over count leaves of msgLen bytes
// spaced stride apart in src.
func newMerkleTree(src []byte, count, msgLen, stride int) *merkleTree {
	t := &merkleTree{}
	level := make([]byte, (count+1)*DigestSize)
	leafHashes(level, src, count, msgLen, stride)
	for {
		t.levels = append(t.levels, level[:count*DigestSize])
		if count <= 1 {
			break
		}
		next := make([]byte, ((count+1)/2+1)*DigestSize)
		reduceLevel(next, level, count)
		level, count = next, (count+1)/2
	}
	return t
}

func (t *merkleTree) root() [DigestSize]byte {
	var r [DigestSize]byte
	top := t.levels[len(t.levels)-1]
	copy(r[:], top)
	return r
}

// proof returns the path for leaf index i.
func (t *merkleTree) proof(i int) MerkleProof {
	p := MerkleProof{Path: make([]Node, 0, len(t.levels)-1)}
	for _, lv := range t.levels[:len(t.levels)-1] {
		sib := i ^ 1
		var n Node
		if sib*DigestSize >= len(lv) {
			n.Empty = true
		} else {
			copy(n.Digest[:], lv[sib*DigestSize:])
		}
		p.Path = append(p.Path, n)
		i >>= 1
	}
	return p
}

// LeafHash is H(0x00 ‖ leaf).
func LeafHash(leaf []byte) [DigestSize]byte {
	var d [DigestSize]byte
	blake2b.SumPrefixed(d[:], leaf, len(leaf), leafPrefix)
	return d
}

func innerHash(left, right [DigestSize]byte) [DigestSize]byte {
	var buf [2 * DigestSize]byte
	copy(buf[:], left[:])
	copy(buf[DigestSize:], right[:])
	var d [DigestSize]byte
	blake2b.SumPrefixed(d[:], buf[:], len(buf), innerPrefix)
	return d
}

// ComputeRoot returns the root the proof leads to from leaf at index.
func (p MerkleProof) ComputeRoot(leaf []byte, index int) [DigestSize]byte {
	cur := LeafHash(leaf)
	for _, sib := range p.Path {
		if index&1 == 0 {
			cur = innerHash(cur, sib.value())
		} else {
			cur = innerHash(sib.value(), cur)
		}
		index >>= 1
	}
	return cur
}

// Verify checks that leaf is leaf `index` of a tree of nLeaves leaves with
// the given root. The path must have exactly the tree's depth.
func (p MerkleProof) Verify(root [DigestSize]byte, leaf []byte, index, nLeaves int) error {
	if index < 0 || index >= nLeaves {
		return fmt.Errorf("%w: leaf %d of %d", ErrInvalidProof, index, nLeaves)
	}
	if len(p.Path) != treeDepth(nLeaves) {
		return fmt.Errorf("%w: path of %d nodes, want %d", ErrInvalidProof, len(p.Path), treeDepth(nLeaves))
	}
	if p.ComputeRoot(leaf, index) != root {
		return fmt.Errorf("%w: root mismatch for leaf %d", ErrInvalidProof, index)
	}
	return nil
}

// MerkleRoot returns the root over leaves given as count messages of msgLen
// bytes spaced stride apart in src.
func MerkleRoot(src []byte, count, msgLen, stride int) [DigestSize]byte {
	buf := make([]byte, (count+1)*DigestSize)
	leafHashes(buf, src, count, msgLen, stride)
	return rootFromLeafHashes(buf, make([]byte, (count/2+2)*DigestSize), count)
}
