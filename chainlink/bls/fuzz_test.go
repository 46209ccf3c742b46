package bls

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzBitmap: a bitmap is either refused with ErrBadBitmap or maps to
// signers that map back to the same bitmap (up to trailing zero bytes).
func FuzzBitmap(f *testing.F) {
	f.Add(10, []byte{0x09, 0x02})
	f.Add(8, []byte{0xff})
	f.Add(3, []byte{0x08})
	f.Fuzz(func(t *testing.T, members int, bm []byte) {
		if members <= 0 || members > 1<<16 || len(bm) > 1<<13 {
			return
		}
		signers, err := BitmapToSigners(members, bm)
		if err != nil {
			if !errors.Is(err, ErrBadBitmap) {
				t.Fatal(err)
			}
			return
		}
		back, err := SignersToBitmap(members, signers)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(back[:len(bm)], bm) || bytes.ContainsFunc(back[len(bm):], func(r rune) bool { return r != 0 }) {
			t.Fatalf("%x → %v → %x", bm, signers, back)
		}
	})
}

// FuzzVerify: arbitrary key and signature bytes never panic and never
// verify.
func FuzzVerify(f *testing.F) {
	k, _ := KeyFromSeed(bytes.Repeat([]byte{1}, 32))
	pk := k.PublicKey()
	sig := k.Sign([]byte("m"))
	f.Add(pk[:], sig[:], []byte("x"))
	f.Fuzz(func(t *testing.T, pkb, sigb, msg []byte) {
		var p PublicKey
		var s Signature
		copy(p[:], pkb)
		copy(s[:], sigb)
		if p == pk && s == sig && string(msg) == "m" {
			return
		}
		if Verify(p, msg, s) == nil && !(p == pk && string(msg) == "m") {
			t.Fatalf("forged signature verified")
		}
	})
}
