package chainlink

import (
	"crypto/sha256"
	"fmt"
	"sync"

	"floe/chainlink/account"
)

// testAccounts is the number of deterministic test accounts (acct(i)).
const testAccounts = 1024

// testAdminToken authorises AdvanceEpoch on the test services.
const testAdminToken = "chainlink-test-admin-token-0123456789"

func deriveAcctKey(i int) *account.Key {
	seed := sha256.Sum256(fmt.Appendf(nil, "chainlink/test/account/%d", i))
	k, err := account.FromSeed(seed[:])
	if err != nil {
		panic(err)
	}
	return k
}

var testAccountKeys = sync.OnceValue(func() []*account.Key {
	keys := make([]*account.Key, testAccounts)
	for i := range keys {
		keys[i] = deriveAcctKey(i)
	}
	return keys
})

// acctKey is test account i's key; acct(i) its address. Accounts from
// testAccounts on are not in testKeyring (strangers).
func acctKey(i int) *account.Key {
	if i >= 0 && i < testAccounts {
		return testAccountKeys()[i]
	}
	return deriveAcctKey(i)
}

func acct(i int) ID { return AccountID(acctKey(i)) }

// testKeyring holds every test account's key and the BLS keys of the test
// nodes (seedKey), as the client of a swarm's operator would.
var testKeyring = sync.OnceValue(func() *Keyring {
	k := NewKeyring()
	k.AddAccount(testAccountKeys()...)
	for i := range 64 {
		k.AddNodeKey(seedKey(nil, i))
	}
	return k
})

// serviceOptions are the settings of a test service: the faucet without
// limits and the admin token.
func serviceOptions() []Option {
	return []Option{WithFaucet(NoFaucetLimits), WithAdminToken(testAdminToken)}
}

// testClient is a client holding every test key and the admin token.
func testClient(base string) *Client {
	return NewClient(base, nil, ClientKeyring(testKeyring()), ClientAdminToken(testAdminToken))
}
