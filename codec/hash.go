package codec

import xblake2b "golang.org/x/crypto/blake2b"

// Temporary hashing until the multi-lane package lands.
func sumPrefixedStrided(dst, src []byte, msgLen, stride int, prefix byte) {
	buf := make([]byte, 1+msgLen)
	buf[0] = prefix
	for i := 0; i*32 < len(dst); i++ {
		copy(buf[1:], src[i*stride:i*stride+msgLen])
		h := xblake2b.Sum256(buf)
		copy(dst[i*32:], h[:])
	}
}

func sumPrefixed(dst, src []byte, msgLen int, prefix byte) {
	sumPrefixedStrided(dst, src, msgLen, msgLen, prefix)
}
