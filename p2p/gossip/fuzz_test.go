package gossip

import (
	"bytes"
	"testing"

	"floe/codec"
)

func FuzzUnmarshalAttestation(f *testing.F) {
	var signer [codec.BLSPublicKeySize]byte
	f.Add(attestation(signer, 1, codec.BlobID{1}, false).Marshal())
	msg := codec.StorageConfirmationMessage(2, codec.BlobID{2}, codec.BlobPersistence{Deletable: true})
	f.Add(Attestation{Signed: codec.SignedMessage{Message: msg}}.Marshal())
	f.Add([]byte{})
	f.Add(bytes.Repeat([]byte{0xff}, MaxAttestationSize+1))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := UnmarshalAttestation(b)
		if err != nil {
			return
		}
		if !bytes.Equal(a.Marshal(), b) {
			t.Fatalf("accepted a non-canonical attestation %x", b)
		}
	})
}

func FuzzUnmarshalNotice(f *testing.F) {
	f.Add(Notice{Kind: NoticeInvalid, BlobID: codec.BlobID{3}, Epoch: 9, Evidence: []byte("ev")}.Marshal())
	f.Add(Notice{}.Marshal())
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := UnmarshalNotice(b)
		if err != nil {
			return
		}
		if !bytes.Equal(n.Marshal(), b) {
			t.Fatalf("accepted a non-canonical notice %x", b)
		}
	})
}
