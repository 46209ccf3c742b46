package chainlink

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"floe/chainlink/account"
	"floe/chainlink/bls"
)

// Request authentication of the HTTP service (see the package doc, "Who may
// change what").

// AuthScheme says which key signed a request.
type AuthScheme byte

// Schemes.
const (
	// SchemeAccount: an account's ed25519 key (package account); the
	// signer is its address.
	SchemeAccount AuthScheme = 1
	// SchemeNode: a node's BLS12-381 protocol key, the one registered on
	// the ledger; the signer is the node ID.
	SchemeNode AuthScheme = 2
)

func (s AuthScheme) String() string {
	switch s {
	case SchemeAccount:
		return "ed25519"
	case SchemeNode:
		return "bls"
	}
	return "scheme(" + strconv.Itoa(int(s)) + ")"
}

// Envelope constants.
const (
	// AuthHeader carries a request's signed envelope.
	AuthHeader = "Floe-Auth"
	// AuthDomain starts every signed message: the intent prefix. Its first
	// byte ('f', 0x66) is no Walrus intent type (those are small
	// integers), so a node's BLS signature over an envelope is never a
	// Walrus protocol message (storage confirmation, invalid-blob
	// attestation, sync-shard request, proof of possession) and none of
	// those is ever an envelope; and an account's signature covers more
	// than 32 bytes, so it is never a Sui signature, which covers a 32-byte
	// digest.
	AuthDomain = "floe/ledger-request/v1\x00"
	// MaxAuthValidity is the longest a signed request may be valid: the
	// server refuses an expiry further ahead than this, and remembers every
	// nonce it accepted until its expiry.
	MaxAuthValidity = 2 * time.Minute
	// DefaultAuthValidity is how long the Client makes its requests valid.
	DefaultAuthValidity = time.Minute
	// SessionSize and NonceSize are the bytes of a session and a nonce.
	SessionSize = 16
	NonceSize   = 16
	// maxAuthHeader bounds the header the server parses.
	maxAuthHeader = 1024
	authVersion   = "v1"
)

// AuthEnvelope is what a signed request carries in its Floe-Auth header,
// besides the request itself.
type AuthEnvelope struct {
	Scheme AuthScheme
	// Signer is the acting account's address (SchemeAccount) or the
	// acting node's ID (SchemeNode).
	Signer ID
	// PublicKey is the account's ed25519 key (SchemeAccount only; the
	// server checks that it derives Signer).
	PublicKey []byte
	// Session is the service's current session (GET /v1/auth): it changes
	// at every start of the service.
	Session [SessionSize]byte
	// Nonce is random per request.
	Nonce [NonceSize]byte
	// ExpiresMs is the Unix time in milliseconds after which the request
	// is refused, at most MaxAuthValidity after the server receives it.
	ExpiresMs int64
	// Signature is ed25519 (64 bytes) or BLS min_pk (96 bytes) over
	// AuthMessage.
	Signature []byte
}

// AuthMessage returns the bytes a request's signature covers:
//
//	"floe/ledger-request/v1" 0x00   intent prefix (AuthDomain, 23 bytes)
//	scheme          u8              1 account (ed25519), 2 node (BLS)
//	signer          [32]            account address or node ID
//	session         [16]
//	nonce           [16]
//	expires_ms      u64 big-endian
//	len(method)     u8,  method     "POST"
//	len(path)       u16 big-endian, path   "/v1/blobs" (escaped, with any query)
//	sha256(body)    [32]
func AuthMessage(e *AuthEnvelope, method, path string, body []byte) []byte {
	bodyHash := sha256.Sum256(body)
	m := make([]byte, 0, len(AuthDomain)+1+32+SessionSize+NonceSize+8+1+len(method)+2+len(path)+32)
	m = append(m, AuthDomain...)
	m = append(m, byte(e.Scheme))
	m = append(m, e.Signer[:]...)
	m = append(m, e.Session[:]...)
	m = append(m, e.Nonce[:]...)
	m = binary.BigEndian.AppendUint64(m, uint64(e.ExpiresMs))
	m = append(m, byte(len(method)))
	m = append(m, method...)
	m = binary.BigEndian.AppendUint16(m, uint16(len(path)))
	m = append(m, path...)
	return append(m, bodyHash[:]...)
}

// Header returns the Floe-Auth header value:
//
//	v1 scheme=ed25519 signer=0x… key=<64 hex> session=<32 hex> nonce=<32 hex> expires=<ms> sig=<128 hex>
//	v1 scheme=bls signer=0x… session=… nonce=… expires=… sig=<192 hex>
func (e *AuthEnvelope) Header() string {
	var b strings.Builder
	b.WriteString(authVersion)
	b.WriteString(" scheme=" + e.Scheme.String())
	b.WriteString(" signer=" + e.Signer.String())
	if e.Scheme == SchemeAccount {
		b.WriteString(" key=" + hex.EncodeToString(e.PublicKey))
	}
	b.WriteString(" session=" + hex.EncodeToString(e.Session[:]))
	b.WriteString(" nonce=" + hex.EncodeToString(e.Nonce[:]))
	b.WriteString(" expires=" + strconv.FormatInt(e.ExpiresMs, 10))
	b.WriteString(" sig=" + hex.EncodeToString(e.Signature))
	return b.String()
}

// ParseAuthHeader parses a Floe-Auth header strictly: the version, then
// name=value fields separated by single spaces, each known field exactly
// once, the key only for accounts, fixed-length lowercase hex, a decimal
// expiry. It does not verify anything; the server does (Server).
func ParseAuthHeader(s string) (AuthEnvelope, error) {
	var e AuthEnvelope
	if len(s) > maxAuthHeader {
		return e, fmt.Errorf("%w: auth header of %d bytes", ErrUnauthorized, len(s))
	}
	parts := strings.Split(s, " ")
	if parts[0] != authVersion {
		return e, fmt.Errorf("%w: auth header version %.16q, want %s", ErrUnauthorized, parts[0], authVersion)
	}
	seen := map[string]string{}
	for _, p := range parts[1:] {
		name, val, ok := strings.Cut(p, "=")
		if !ok || name == "" {
			return e, fmt.Errorf("%w: auth header field %.32q", ErrUnauthorized, p)
		}
		switch name {
		case "scheme", "signer", "key", "session", "nonce", "expires", "sig":
		default:
			return e, fmt.Errorf("%w: unknown auth header field %.32q", ErrUnauthorized, name)
		}
		if _, dup := seen[name]; dup {
			return e, fmt.Errorf("%w: auth header field %s twice", ErrUnauthorized, name)
		}
		seen[name] = val
	}
	switch seen["scheme"] {
	case "ed25519":
		e.Scheme = SchemeAccount
	case "bls":
		e.Scheme = SchemeNode
	default:
		return e, fmt.Errorf("%w: auth scheme %.16q, want ed25519 or bls", ErrUnauthorized, seen["scheme"])
	}
	for _, f := range []string{"signer", "session", "nonce", "expires", "sig"} {
		if _, ok := seen[f]; !ok {
			return e, fmt.Errorf("%w: auth header lacks %s", ErrUnauthorized, f)
		}
	}
	signer := seen["signer"]
	if !strings.HasPrefix(signer, "0x") || !isLowerHex(signer[2:], 64) {
		return e, fmt.Errorf("%w: auth signer must be 0x and 64 lowercase hex digits", ErrUnauthorized)
	}
	hex.Decode(e.Signer[:], []byte(signer[2:]))
	key, hasKey := seen["key"]
	switch {
	case e.Scheme == SchemeAccount && !hasKey:
		return e, fmt.Errorf("%w: an ed25519 envelope needs key", ErrUnauthorized)
	case e.Scheme == SchemeNode && hasKey:
		return e, fmt.Errorf("%w: a bls envelope takes no key (the node's registered key verifies it)", ErrUnauthorized)
	case hasKey:
		if !isLowerHex(key, 2*account.PublicKeySize) {
			return e, fmt.Errorf("%w: auth key must be %d lowercase hex digits", ErrUnauthorized, 2*account.PublicKeySize)
		}
		e.PublicKey, _ = hex.DecodeString(key)
	}
	if !isLowerHex(seen["session"], 2*SessionSize) || !isLowerHex(seen["nonce"], 2*NonceSize) {
		return e, fmt.Errorf("%w: auth session and nonce must be %d lowercase hex digits", ErrUnauthorized, 2*NonceSize)
	}
	hex.Decode(e.Session[:], []byte(seen["session"]))
	hex.Decode(e.Nonce[:], []byte(seen["nonce"]))
	exp := seen["expires"]
	if exp == "" || len(exp) > 18 || strings.TrimLeft(exp, "0123456789") != "" || (len(exp) > 1 && exp[0] == '0') {
		return e, fmt.Errorf("%w: auth expires must be a decimal Unix time in milliseconds", ErrUnauthorized)
	}
	e.ExpiresMs, _ = strconv.ParseInt(exp, 10, 64)
	sigLen := account.SignatureSize
	if e.Scheme == SchemeNode {
		sigLen = len(bls.Signature{})
	}
	if !isLowerHex(seen["sig"], 2*sigLen) {
		return e, fmt.Errorf("%w: %s signature must be %d lowercase hex digits", ErrUnauthorized, e.Scheme, 2*sigLen)
	}
	e.Signature, _ = hex.DecodeString(seen["sig"])
	return e, nil
}

func isLowerHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// AccountID is the ledger ID of an account key's address.
func AccountID(k *account.Key) ID { return ID(k.Address()) }

// Keyring holds the keys a Client signs with: account keys by address and
// node BLS keys by public key. It is safe for concurrent use; keys may be
// added while the client is in use.
type Keyring struct {
	mu       sync.RWMutex
	accounts map[ID]*account.Key
	nodes    map[bls.PublicKey]*bls.SecretKey
}

// NewKeyring returns an empty keyring.
func NewKeyring() *Keyring {
	return &Keyring{accounts: map[ID]*account.Key{}, nodes: map[bls.PublicKey]*bls.SecretKey{}}
}

// AddAccount adds account keys.
func (k *Keyring) AddAccount(keys ...*account.Key) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, a := range keys {
		if a != nil {
			k.accounts[AccountID(a)] = a
		}
	}
}

// AddNodeKey adds node BLS keys.
func (k *Keyring) AddNodeKey(keys ...*bls.SecretKey) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, n := range keys {
		if n != nil {
			k.nodes[n.PublicKey()] = n
		}
	}
}

// Account returns the key of an address.
func (k *Keyring) Account(addr ID) (*account.Key, bool) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	a, ok := k.accounts[addr]
	return a, ok
}

// NodeKey returns the BLS key with public key pk.
func (k *Keyring) NodeKey(pk bls.PublicKey) (*bls.SecretKey, bool) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	n, ok := k.nodes[pk]
	return n, ok
}

// MissingKeyError is returned by a Client asked for a mutation it holds no
// key to sign: nothing was sent. It unwraps to ErrNoKey.
type MissingKeyError struct {
	// Op is the Chain method.
	Op string
	// Scheme and Signer name the key needed: the account (SchemeAccount)
	// or the node (SchemeNode) that acts. Signer is zero for the admin
	// token.
	Scheme AuthScheme
	Signer ID
	// Admin: the operation needs the admin token.
	Admin bool
}

func (e *MissingKeyError) Error() string {
	switch {
	case e.Admin:
		return fmt.Sprintf("chainlink: %s needs the ledger's admin token, and this client has none", e.Op)
	case e.Scheme == SchemeNode:
		return fmt.Sprintf("chainlink: %s must be signed by node %s's BLS key, and this client does not hold it", e.Op, e.Signer)
	default:
		return fmt.Sprintf("chainlink: %s must be signed by account %s, and this client holds no key of it", e.Op, e.Signer)
	}
}

// Unwrap returns ErrNoKey.
func (e *MissingKeyError) Unwrap() error { return ErrNoKey }

// nonceCache remembers the nonces of accepted requests until they expire,
// so a captured request cannot be replayed while it is valid.
type nonceCache struct {
	mu   sync.Mutex
	max  int
	seen map[nonceKey]int64 // → expiry, Unix ms
	// nextPrune is when expired entries are dropped next.
	nextPrune int64
}

type nonceKey struct {
	scheme AuthScheme
	signer ID
	nonce  [NonceSize]byte
}

func newNonceCache(max int) *nonceCache {
	return &nonceCache{max: max, seen: map[nonceKey]int64{}}
}

// add records a nonce valid until exp; false if it was seen (a replay).
// errFull if the cache is full of unexpired nonces.
func (c *nonceCache) add(k nonceKey, exp, now int64) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now >= c.nextPrune || len(c.seen) >= c.max {
		for n, e := range c.seen {
			if e < now {
				delete(c.seen, n)
			}
		}
		c.nextPrune = now + 1000
	}
	if _, dup := c.seen[k]; dup {
		return false, nil
	}
	if len(c.seen) >= c.max {
		return false, fmt.Errorf("%w: too many signed requests in flight; retry shortly", ErrRateLimited)
	}
	c.seen[k] = exp
	return true, nil
}

func (c *nonceCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}

func newSession() [SessionSize]byte {
	var s [SessionSize]byte
	if _, err := rand.Read(s[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported systems
	}
	return s
}

// checkBearer compares an Authorization header with the admin token in
// constant time.
func checkBearer(header, token string) bool {
	got, ok := strings.CutPrefix(header, "Bearer ")
	if !ok || token == "" {
		return false
	}
	a, b := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(token))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// GenerateAdminToken returns a new random admin token (64 hex digits).
func GenerateAdminToken() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b[:])
}

// ParseAdminToken checks the text of an admin token file: one token of
// printable characters without spaces, surrounding white space ignored.
func ParseAdminToken(text string) (string, error) {
	t := strings.TrimSpace(text)
	if len(t) < 16 || len(t) > 256 || strings.ContainsFunc(t, func(r rune) bool { return r <= ' ' || r > '~' }) {
		return "", errors.New("chainlink: an admin token is one word of 16 to 256 printable characters")
	}
	return t, nil
}
