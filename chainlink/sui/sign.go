package sui

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"

	"golang.org/x/crypto/blake2b"

	"floe/chainlink/account"
)

// Signing, as Sui does it (sui-types crypto.rs, shared_crypto intent.rs;
// @mysten/sui's Signer.signTransaction):
//
//	intent message = [scope, version 0, app id 0] ‖ BCS(TransactionData)
//	  (scope 0 = TransactionData; the intent is three ULEB128 bytes)
//	signed digest  = blake2b-256(intent message)
//	signature      = flag ‖ ed25519 signature (64) ‖ public key (32)
//	  (flag 0x00 = ed25519; 97 bytes, base64 on the wire)
//	tx digest      = blake2b-256("TransactionData::" ‖ BCS(TransactionData)),
//	  printed in base58
//
// An account's floe request envelope starts with "floe/ledger-request/v1"
// and is longer than 32 bytes, and Sui signs only 32-byte digests, so no
// signature serves both.

// IntentScope is the first byte of an intent.
type IntentScope uint8

// Intent scopes.
const (
	IntentTransactionData IntentScope = 0
	IntentPersonalMessage IntentScope = 3
)

// SignatureSize is the length of a serialized ed25519 Sui signature.
const SignatureSize = 1 + ed25519.SignatureSize + ed25519.PublicKeySize

// ErrSignature marks a transaction signature that does not verify or is
// malformed.
var ErrSignature = errors.New("sui: invalid transaction signature")

// IntentDigest is blake2b-256 of intent ‖ message: what an account signs.
func IntentDigest(scope IntentScope, msg []byte) [32]byte {
	h, _ := blake2b.New256(nil)
	h.Write([]byte{byte(scope), 0, 0})
	h.Write(msg)
	var d [32]byte
	h.Sum(d[:0])
	return d
}

// TransactionDigest is the digest that names a transaction.
func TransactionDigest(txBCS []byte) Digest {
	h, _ := blake2b.New256(nil)
	h.Write([]byte("TransactionData::"))
	h.Write(txBCS)
	var d Digest
	h.Sum(d[:0])
	return d
}

// Digest returns the transaction's digest.
func (t *TransactionData) Digest() Digest { return TransactionDigest(t.Marshal()) }

// SignTransaction signs the BCS of a TransactionData with an account key and
// returns the 97-byte Sui signature.
func SignTransaction(k *account.Key, txBCS []byte) []byte {
	d := IntentDigest(IntentTransactionData, txBCS)
	sig := make([]byte, 0, SignatureSize)
	sig = append(sig, account.FlagEd25519)
	sig = append(sig, k.Sign(d[:])...)
	return append(sig, k.PublicKey()...)
}

// SignTransactionBase64 is SignTransaction in the base64 form that the RPC
// and @mysten/sui carry.
func SignTransactionBase64(k *account.Key, txBCS []byte) string {
	return base64.StdEncoding.EncodeToString(SignTransaction(k, txBCS))
}

// VerifyTransactionSignature checks a Sui ed25519 signature over txBCS and
// returns the signer's address. Other schemes (secp256k1, secp256r1,
// multisig, zkLogin, passkey) are refused: floe accounts are ed25519.
func VerifyTransactionSignature(txBCS, sig []byte) (Address, error) {
	if len(sig) != SignatureSize {
		return Address{}, fmt.Errorf("%w: %d bytes, want %d", ErrSignature, len(sig), SignatureSize)
	}
	if sig[0] != account.FlagEd25519 {
		return Address{}, fmt.Errorf("%w: signature scheme flag %#02x, only ed25519 (0x00) is accepted", ErrSignature, sig[0])
	}
	pub := sig[1+ed25519.SignatureSize:]
	d := IntentDigest(IntentTransactionData, txBCS)
	if !account.Verify(pub, d[:], sig[1:1+ed25519.SignatureSize]) {
		return Address{}, ErrSignature
	}
	return Address(account.AddressOf(ed25519.PublicKey(pub))), nil
}
