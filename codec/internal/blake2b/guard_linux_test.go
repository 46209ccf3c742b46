package blake2b

import (
	"bytes"
	"math/rand/v2"
	"syscall"
	"testing"
)

// TestGuardPages puts the messages right after and right before
// inaccessible pages: an implementation that reads a byte before the first
// message (the prefix slot) or past the last one faults.
func TestGuardPages(t *testing.T) {
	page := syscall.Getpagesize()
	mem, err := syscall.Mmap(-1, 0, 4*page, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Fatal("mmap:", err)
	}
	defer syscall.Munmap(mem)
	if err := syscall.Mprotect(mem[:page], syscall.PROT_NONE); err != nil {
		t.Fatal("mprotect:", err)
	}
	if err := syscall.Mprotect(mem[3*page:], syscall.PROT_NONE); err != nil {
		t.Fatal("mprotect:", err)
	}
	body := mem[page : 3*page]
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range body {
		body[i] = byte(rng.Uint32())
	}
	for name, c := range paths() {
		for _, msgLen := range []int{0, 1, 2, 6, 7, 8, 63, 64, 65, 127, 128, 129, 200, 255, 256, 302} {
			for _, count := range []int{1, 3, 8, 9, 15} {
				if count*msgLen > len(body) {
					continue
				}
				for _, src := range [][]byte{body[:count*msgLen], body[len(body)-count*msgLen:]} {
					dst := make([]byte, count*Size)
					c(dst, src, msgLen, msgLen, 7)
					if !bytes.Equal(dst, reference(src, count, msgLen, msgLen, 7)) {
						t.Fatalf("%s: msgLen %d count %d differs", name, msgLen, count)
					}
				}
			}
		}
	}
}
