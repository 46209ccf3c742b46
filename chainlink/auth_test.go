package chainlink

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"floe/chainlink/account"
	"floe/chainlink/bls"
	"floe/codec"
)

// signer signs envelopes in tests: an account's key (pub set) or a node's
// BLS key.
type signer struct {
	pub  []byte
	sign func([]byte) []byte
}

func acctSigner(k *account.Key) signer { return signer{pub: k.PublicKey(), sign: k.Sign} }

func nodeSigner(k *bls.SecretKey) signer {
	return signer{sign: func(m []byte) []byte { s := k.Sign(m); return s[:] }}
}

// session fetches the service's current session.
func session(t testing.TB, base string) [SessionSize]byte {
	t.Helper()
	ai, err := NewClient(base, nil).AuthInfo(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var s [SessionSize]byte
	if n, err := hex.Decode(s[:], []byte(ai.Session)); err != nil || n != SessionSize {
		t.Fatalf("session %q: %v", ai.Session, err)
	}
	return s
}

// envelope makes a signed envelope for a request.
func envelope(t testing.TB, sess [SessionSize]byte, scheme AuthScheme, who ID, s signer, method, path string, body []byte, expires time.Time) AuthEnvelope {
	t.Helper()
	e := AuthEnvelope{Scheme: scheme, Signer: who, PublicKey: s.pub, Session: sess, ExpiresMs: expires.UnixMilli()}
	if _, err := rand.Read(e.Nonce[:]); err != nil {
		t.Fatal(err)
	}
	e.Signature = s.sign(AuthMessage(&e, method, path, body))
	return e
}

// signedRequest builds a request signed as `who` with s.
func signedRequest(t testing.TB, base string, scheme AuthScheme, who ID, s signer, method, path string, body []byte, expires time.Time) *http.Request {
	t.Helper()
	e := envelope(t, session(t, base), scheme, who, s, method, path, body, expires)
	req, err := http.NewRequest(method, base+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(AuthHeader, e.Header())
	return req
}

// refusal sends req and returns the status and the error code.
func refusal(t testing.TB, req *http.Request) (int, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var eb errorBody
	_ = json.Unmarshal(b, &eb)
	return resp.StatusCode, eb.Code
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// mutation is one state-changing request acting for someone.
type mutation struct {
	name         string
	path         string
	body         []byte
	scheme       AuthScheme
	actor        ID      // who may sign
	actorSigner  signer  // the right key
	otherID      ID      // an attacker signing as itself
	otherSigner  signer  // the attacker's key
	otherAccount *signer // for node mutations: the node owner's account key (wrong scheme)
}

// Every unsigned or wrongly signed mutation over HTTP is refused with
// ErrUnauthorized and changes nothing: no balance, no node, no blob, no
// event (the stored state digest); the same request signed by the right
// key then goes through.
func TestMutationsNeedTheActingKey(t *testing.T) {
	f := newFixture(t, overHTTP, []uint64{100, 100, 100, 100})
	ctx, base := f.ctx, f.h.base
	victim := f.user // acct(999), funded
	attacker := acctKey(500)
	if _, err := f.c.Faucet(ctx, AccountID(attacker), 1e9); err != nil {
		t.Fatal(err)
	}
	// The victim's objects: a deletable blob, a certified one, stake.
	del := f.register(mkBlob(1, 100), true, 2).Blob
	perm := f.certify(f.register(mkBlob(2, 100), false, 2).Blob)
	if _, err := f.c.Stake(ctx, victim, f.nodes[0].ID, 50); err != nil {
		t.Fatal(err)
	}
	node0, node1 := f.nodes[0], f.nodes[1]
	newKey := seedKey(t, 40)
	epoch := f.epoch()
	b3 := mkBlob(3, 100)
	regBlob := RegisterBlobRequest{Owner: victim, BlobID: b3.id, RootHash: b3.root, Size: b3.size, EncodingType: codec.EncodingTypeRS2, EpochsAhead: 1}
	// Paid by the victim, owned by the attacker.
	regPaid := regBlob
	regPaid.Owner, regPaid.Payer = AccountID(attacker), victim

	owner0 := acctSigner(acctKey(0))
	vs, as := acctSigner(acctKey(999)), acctSigner(attacker)
	ms := []mutation{
		{name: "register node", path: "/v1/nodes", scheme: SchemeAccount, actor: victim, actorSigner: vs, otherID: AccountID(attacker), otherSigner: as,
			body: mustJSON(RegisterNodeRequest{Owner: victim, Name: "n", PeerID: "peer-new", PublicKey: newKey.PublicKey(),
				ProofOfPossession: newKey.ProofOfPossession(epoch, victim), Stake: 10})},
		{name: "stake", path: "/v1/stake", scheme: SchemeAccount, actor: victim, actorSigner: vs, otherID: AccountID(attacker), otherSigner: as,
			body: mustJSON(stakeRequest{victim, node0.ID, 5})},
		{name: "unstake", path: "/v1/unstake", scheme: SchemeAccount, actor: victim, actorSigner: vs, otherID: AccountID(attacker), otherSigner: as,
			body: mustJSON(stakeRequest{victim, node0.ID, 5})},
		{name: "reserve", path: "/v1/storage", scheme: SchemeAccount, actor: victim, actorSigner: vs, otherID: AccountID(attacker), otherSigner: as,
			body: mustJSON(reserveRequest{victim, 1000, 1})},
		{name: "register blob", path: "/v1/blobs", scheme: SchemeAccount, actor: victim, actorSigner: vs, otherID: AccountID(attacker), otherSigner: as,
			body: mustJSON(regBlob)},
		{name: "register blob paid by another", path: "/v1/blobs", scheme: SchemeAccount, actor: victim, actorSigner: vs, otherID: AccountID(attacker), otherSigner: as,
			body: mustJSON(regPaid)},
		{name: "delete", path: "/v1/blobs/" + del.ObjectID.String() + "/delete", scheme: SchemeAccount, actor: victim, actorSigner: vs,
			otherID: AccountID(attacker), otherSigner: as, body: mustJSON(deleteRequest{victim})},
		{name: "extend", path: "/v1/blobs/" + perm.ObjectID.String() + "/extend", scheme: SchemeAccount, actor: victim, actorSigner: vs,
			otherID: AccountID(attacker), otherSigner: as, body: mustJSON(extendRequest{victim, 1})},
		{name: "update node", path: "/v1/nodes/" + node0.ID.String() + "/update", scheme: SchemeNode, actor: node0.ID,
			actorSigner: nodeSigner(f.keys[node0.ID]), otherID: node1.ID, otherSigner: nodeSigner(f.keys[node1.ID]), otherAccount: &owner0,
			body: mustJSON(UpdateNodeRequest{Owner: acct(0), NodeID: node0.ID, PeerID: "12D3KooWattacker", Addresses: []string{"/ip4/127.0.0.1/tcp/6666"}})},
		{name: "sync done", path: "/v1/epoch/sync-done", scheme: SchemeNode, actor: node0.ID,
			actorSigner: nodeSigner(f.keys[node0.ID]), otherID: node1.ID, otherSigner: nodeSigner(f.keys[node1.ID]), otherAccount: &owner0,
			body: mustJSON(syncDoneRequest{node0.ID, epoch})},
	}
	before := f.h.digest(t)
	bal := func(a ID) uint64 { x, _ := f.c.Account(ctx, a); return x.Balance }
	victimBal, attackerBal := bal(victim), bal(AccountID(attacker))
	nodeBefore, _ := f.c.Node(ctx, node0.ID)
	soon := time.Now().Add(time.Minute)
	sess := session(t, base)
	for _, m := range ms {
		post := func(hdr string, body []byte) (int, string) {
			req, _ := http.NewRequest("POST", base+m.path, bytes.NewReader(body))
			if hdr != "" {
				req.Header.Set(AuthHeader, hdr)
			}
			return refusal(t, req)
		}
		env := func(scheme AuthScheme, who ID, s signer, body []byte) string {
			e := envelope(t, sess, scheme, who, s, "POST", m.path, body, soon)
			return e.Header()
		}
		cases := map[string]string{
			"unsigned":                    "",
			"signed by another as itself": env(m.scheme, m.otherID, m.otherSigner, m.body),
			"another's key, actor named":  env(m.scheme, m.actor, m.otherSigner, m.body),
			"garbage header":              "v1 scheme=ed25519 signer=0x00",
		}
		// The right key over the original bytes, sent with a tampered body.
		tampered := bytes.Replace(m.body, []byte(`"`), []byte(` "`), 1)
		cases["tampered body"] = env(m.scheme, m.actor, m.actorSigner, m.body)
		// The right key for another path.
		e := envelope(t, sess, m.scheme, m.actor, m.actorSigner, "POST", m.path+"x", m.body, soon)
		cases["signed for another path"] = e.Header()
		e = envelope(t, sess, m.scheme, m.actor, m.actorSigner, "PUT", m.path, m.body, soon)
		cases["signed for another method"] = e.Header()
		var other [SessionSize]byte
		other[0] = 1
		e = envelope(t, other, m.scheme, m.actor, m.actorSigner, "POST", m.path, m.body, soon)
		cases["another session"] = e.Header()
		if m.otherAccount != nil {
			// The node owner's account key cannot act for the node.
			cases["owner's account key"] = env(SchemeAccount, acct(0), *m.otherAccount, m.body)
		} else {
			// A valid ed25519 signature presented as a node's.
			cases["account as node"] = env(SchemeNode, m.actor, m.actorSigner, m.body)
		}
		for what, hdr := range cases {
			body := m.body
			if what == "tampered body" {
				body = tampered
			}
			status, code := post(hdr, body)
			if status != http.StatusUnauthorized || (code != "unauthorized" && code != "stale_session") {
				t.Errorf("%s, %s: %d %s, want 401 unauthorized", m.name, what, status, code)
			}
		}
	}
	// Advance without, or with a wrong, admin token.
	for _, hdr := range []string{"", "Bearer wrong-token-0123456789", "Basic " + testAdminToken, testAdminToken} {
		req, _ := http.NewRequest("POST", base+"/v1/epoch/advance", strings.NewReader("{}"))
		if hdr != "" {
			req.Header.Set("Authorization", hdr)
		}
		if status, code := refusal(t, req); status != 401 || code != "unauthorized" {
			t.Errorf("advance with %q: %d %s", hdr, status, code)
		}
	}
	if _, err := NewClient(base, nil).AdvanceEpoch(ctx); !errors.Is(err, ErrNoKey) {
		t.Errorf("advance by a client without the token: %v", err)
	}
	if after := f.h.digest(t); after != before {
		t.Fatal("refused requests changed the state")
	}
	if bal(victim) != victimBal || bal(AccountID(attacker)) != attackerBal {
		t.Fatal("balances changed")
	}
	if n, _ := f.c.Node(ctx, node0.ID); n.PeerID != nodeBefore.PeerID {
		t.Fatal("node info changed")
	}
	if _, err := f.c.Blob(ctx, del.ObjectID); err != nil {
		t.Fatalf("the victim's deletable blob: %v", err)
	}

	// The same requests signed by the right key go through.
	for _, m := range ms {
		if m.name == "register blob" {
			continue // the same blob as the next one, which is paid by the victim
		}
		req := signedRequest(t, base, m.scheme, m.actor, m.actorSigner, "POST", m.path, m.body, soon)
		if status, code := refusal(t, req); status != 200 {
			t.Errorf("%s signed by the actor: %d %s", m.name, status, code)
		}
	}
	if n, _ := f.c.Node(ctx, node0.ID); n.PeerID != "12D3KooWattacker" {
		t.Fatalf("update by the node's own key: %+v", n)
	}
	if _, err := f.c.Blob(ctx, del.ObjectID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("delete by the owner: %v", err)
	}
	req, _ := http.NewRequest("POST", base+"/v1/epoch/advance", strings.NewReader("{}"))
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	if status, code := refusal(t, req); status != 200 {
		t.Fatalf("advance with the token: %d %s", status, code)
	}
}

// recorder keeps copies of the requests a client sends.
type recorder struct {
	mu   sync.Mutex
	reqs []*http.Request
	body [][]byte
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	var b []byte
	if req.Body != nil {
		b, _ = io.ReadAll(req.Body)
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(b))
	}
	r.mu.Lock()
	r.reqs = append(r.reqs, req.Clone(context.Background()))
	r.body = append(r.body, b)
	r.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

func (r *recorder) CloseIdleConnections() {
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
}

func (r *recorder) last(path string) (*http.Request, []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.reqs) - 1; i >= 0; i-- {
		if r.reqs[i].URL.Path == path {
			return r.reqs[i], r.body[i]
		}
	}
	return nil, nil
}

func resend(t *testing.T, req *http.Request, body []byte) (int, string) {
	t.Helper()
	again, err := http.NewRequest(req.Method, req.URL.String(), bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	again.Header = req.Header.Clone()
	return refusal(t, again)
}

// A captured signed request replayed while it is still valid is refused
// and changes nothing; so is one that expired, or one valid for too long.
func TestReplayAndExpiry(t *testing.T) {
	ds := NewMemDatastore()
	srv := startHTTP(t, ds, "127.0.0.1:0", append(serviceOptions(), WithLogger(quietLogger()), WithShards(testShards))...)
	defer srv.stop(t)
	base := "http://" + srv.addr
	ctx := context.Background()
	rec := &recorder{}
	c := NewClient(base, &http.Client{Transport: rec}, ClientAccountKey(acctKey(1)))
	if _, err := c.Faucet(ctx, acct(1), 10_000); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.ReserveSpace(ctx, acct(1), 1000, 1); err != nil {
		t.Fatal(err)
	}
	req, body := rec.last("/v1/storage")
	if req == nil || req.Header.Get(AuthHeader) == "" {
		t.Fatal("no signed request captured")
	}
	before, _, _ := StateDigest(ctx, ds)
	balance := func() uint64 { a, _ := c.Account(ctx, acct(1)); return a.Balance }
	bal := balance()
	for range 3 {
		if status, code := resend(t, req, body); status != 401 || code != "unauthorized" {
			t.Fatalf("replay: %d %s", status, code)
		}
	}
	// Expired, and too far ahead.
	k := acctSigner(acctKey(1))
	reserve := mustJSON(reserveRequest{acct(1), 1000, 1})
	for _, exp := range []time.Time{time.Now().Add(-time.Second), time.Now().Add(MaxAuthValidity + time.Minute)} {
		r := signedRequest(t, base, SchemeAccount, acct(1), k, "POST", "/v1/storage", reserve, exp)
		if status, code := refusal(t, r); status != 401 || code != "unauthorized" {
			t.Fatalf("expiry %v: %d %s", time.Until(exp), status, code)
		}
	}
	after, _, _ := StateDigest(ctx, ds)
	if after != before || balance() != bal {
		t.Fatal("replayed or expired requests changed the state")
	}
	// A fresh signature of the same request goes through.
	r := signedRequest(t, base, SchemeAccount, acct(1), k, "POST", "/v1/storage", reserve, time.Now().Add(time.Minute))
	if status, code := refusal(t, r); status != 200 {
		t.Fatalf("fresh request: %d %s", status, code)
	}
	if balance() != bal-100 {
		t.Fatalf("balance %d, want %d", balance(), bal-100)
	}
}

// After the service restarts, signatures made for its earlier session are
// refused (a request captured before the restart cannot be replayed
// after it, though its nonce is forgotten); the Client signs again for the
// new session by itself.
func TestSessionAcrossRestart(t *testing.T) {
	ds := NewMemDatastore()
	opts := append(serviceOptions(), WithLogger(quietLogger()), WithShards(testShards))
	srv := startHTTP(t, ds, "127.0.0.1:0", opts...)
	base := "http://" + srv.addr
	ctx := context.Background()
	rec := &recorder{}
	c := NewClient(base, &http.Client{Transport: rec}, ClientAccountKey(acctKey(1)))
	if _, err := c.Faucet(ctx, acct(1), 10_000); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.ReserveSpace(ctx, acct(1), 1000, 1); err != nil {
		t.Fatal(err)
	}
	req, body := rec.last("/v1/storage")
	srv.stop(t)
	srv = startHTTP(t, ds, srv.addr, opts...)
	defer srv.stop(t)
	c.CloseIdleConnections()
	before, _, _ := StateDigest(ctx, ds)
	if status, code := resend(t, req, body); status != 401 || code != "stale_session" {
		t.Fatalf("replay after restart: %d %s", status, code)
	}
	if after, _, _ := StateDigest(ctx, ds); after != before {
		t.Fatal("replay after restart changed the state")
	}
	if _, err := c.Faucet(ctx, acct(1), 1); err != nil {
		t.Fatal(err)
	}
	st, _, err := c.ReserveSpace(ctx, acct(1), 1000, 1)
	if err != nil {
		t.Fatalf("client after restart: %v", err)
	}
	if a, _ := c.Account(ctx, acct(1)); a.Balance != 10_000+1-200 {
		t.Fatalf("balance %d after two reservations (storage %s)", a.Balance, st.ID)
	}
	n := 0
	for _, r := range rec.reqs {
		if r.URL.Path == "/v1/storage" {
			n++
		}
	}
	if n != 3 { // one before the restart, one refused as stale, one re-signed
		t.Fatalf("%d reservation requests sent, want 3", n)
	}
}

// A node's UpdateNode or EpochSyncDone signed by another node's BLS key
// is refused, whatever the body names.
func TestNodeKeyOfAnotherNode(t *testing.T) {
	f := newFixture(t, overHTTP, []uint64{100, 100, 100, 100})
	ctx, base := f.ctx, f.h.base
	a, b := f.nodes[0], f.nodes[1]
	// A client holding only node b's key cannot sign for a.
	cb := NewClient(base, nil, ClientNodeKey(f.keys[b.ID]))
	_, err := cb.UpdateNode(ctx, UpdateNodeRequest{Owner: a.Owner, NodeID: a.ID, PeerID: "12D3KooWevil"})
	var mk *MissingKeyError
	if !errors.As(err, &mk) || mk.Scheme != SchemeNode || mk.Signer != a.ID {
		t.Fatalf("update of another node by a client without its key: %v", err)
	}
	if err := cb.EpochSyncDone(ctx, a.ID, f.epoch()); !errors.Is(err, ErrNoKey) {
		t.Fatalf("sync done for another node: %v", err)
	}
	before := f.h.digest(t)
	// Forged on the wire: b's key, a named as the signer.
	path := "/v1/nodes/" + a.ID.String() + "/update"
	body := mustJSON(UpdateNodeRequest{Owner: a.Owner, NodeID: a.ID, PeerID: "12D3KooWevil", Addresses: []string{"/ip4/127.0.0.1/tcp/1"}})
	r := signedRequest(t, base, SchemeNode, a.ID, nodeSigner(f.keys[b.ID]), "POST", path, body, time.Now().Add(time.Minute))
	if status, code := refusal(t, r); status != 401 || code != "unauthorized" {
		t.Fatalf("update signed by another node's key: %d %s", status, code)
	}
	// b signing as itself, for a's path.
	r = signedRequest(t, base, SchemeNode, b.ID, nodeSigner(f.keys[b.ID]), "POST", path, body, time.Now().Add(time.Minute))
	if status, code := refusal(t, r); status != 401 || code != "unauthorized" {
		t.Fatalf("update of a signed by b as b: %d %s", status, code)
	}
	if f.h.digest(t) != before {
		t.Fatal("refused node updates changed the state")
	}
	if n, _ := f.c.Node(ctx, a.ID); n.PeerID != a.PeerID {
		t.Fatalf("node moved to %s", n.PeerID)
	}
}

// The faucet is off unless the service is started with it; when on, it
// is limited per account and per client address.
func TestFaucetOffAndLimited(t *testing.T) {
	ctx := context.Background()
	l, err := Open(ctx, NewMemDatastore(), WithLogger(quietLogger()), WithShards(testShards))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	off := httptest.NewServer(NewServer(l))
	defer off.Close()
	if _, err := NewClient(off.URL, nil).Faucet(ctx, acct(1), 10); !errors.Is(err, ErrFaucetDisabled) {
		t.Fatalf("faucet of a service started without it: %v", err)
	}
	if ai, err := NewClient(off.URL, nil).AuthInfo(ctx); err != nil || ai.Faucet {
		t.Fatalf("auth info: %+v %v", ai, err)
	}
	if _, err := l.Account(ctx, acct(1)); !errors.Is(err, ErrNotFound) {
		t.Fatal("refused faucet call funded the account")
	}

	lim := FaucetLimits{AccountEvery: time.Hour, AccountBurst: 3, IPEvery: time.Hour, IPBurst: 5}
	l2, err := Open(ctx, NewMemDatastore(), WithLogger(quietLogger()), WithShards(testShards), WithFaucet(lim))
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	on := httptest.NewServer(NewServer(l2))
	defer on.Close()
	c := NewClient(on.URL, nil)
	for i := range 3 {
		if _, err := c.Faucet(ctx, acct(1), 10); err != nil {
			t.Fatalf("faucet %d: %v", i, err)
		}
	}
	if _, err := c.Faucet(ctx, acct(1), 10); !errors.Is(err, ErrRateLimited) {
		t.Fatalf("fourth payment to one account: %v", err)
	}
	// Other accounts, same address: the address's bucket (5) runs out.
	if _, err := c.Faucet(ctx, acct(2), 10); err != nil {
		t.Fatal(err)
	}
	_, err = c.Faucet(ctx, acct(3), 10)
	if !errors.Is(err, ErrRateLimited) || !strings.Contains(err.Error(), "127.0.0.1") {
		t.Fatalf("sixth payment from one address: %v", err)
	}
	if a, _ := l2.Account(ctx, acct(1)); a.Balance != 30 {
		t.Fatalf("balance %d after three payments", a.Balance)
	}
	if _, err := l2.Account(ctx, acct(3)); !errors.Is(err, ErrNotFound) {
		t.Fatal("rate-limited payment was made")
	}
	// The in-process faucet is for trusted callers and not limited.
	if _, err := l2.Faucet(ctx, acct(3), 1); err != nil {
		t.Fatal(err)
	}
}

// A client without keys fails with a typed error naming the key and
// sends nothing.
func TestClientMissingKey(t *testing.T) {
	var sent int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { sent++; w.WriteHeader(500) }))
	defer srv.Close()
	c := NewClient(srv.URL, nil)
	ctx := context.Background()
	checks := map[string]error{}
	_, checks["stake"] = c.Stake(ctx, acct(1), acct(2), 1)
	_, checks["unstake"] = c.Unstake(ctx, acct(1), acct(2), 1)
	_, _, checks["reserve"] = c.ReserveSpace(ctx, acct(1), 1, 1)
	_, checks["register blob"] = c.RegisterBlob(ctx, RegisterBlobRequest{Owner: acct(1)})
	_, checks["register node"] = c.RegisterNode(ctx, RegisterNodeRequest{Owner: acct(1)})
	_, checks["delete"] = c.DeleteBlob(ctx, acct(1), acct(2))
	_, _, checks["extend"] = c.ExtendBlob(ctx, acct(1), acct(2), 1)
	_, checks["advance"] = c.AdvanceEpoch(ctx)
	for what, err := range checks {
		var mk *MissingKeyError
		if !errors.As(err, &mk) || !errors.Is(err, ErrNoKey) {
			t.Errorf("%s: %v", what, err)
		}
		if what != "advance" && (mk == nil || mk.Signer != acct(1) || !strings.Contains(err.Error(), acct(1).String())) {
			t.Errorf("%s: the error does not name the account: %v", what, err)
		}
	}
	if sent != 0 {
		t.Fatalf("%d requests sent without a key", sent)
	}
	// A payer other than the owner signs a registration.
	c2 := NewClient(srv.URL, nil, ClientAccountKey(acctKey(1)))
	var mk *MissingKeyError
	if _, err := c2.RegisterBlob(ctx, RegisterBlobRequest{Owner: acct(1), Payer: acct(2)}); !errors.As(err, &mk) || mk.Signer != acct(2) {
		t.Fatalf("registration paid by another: %v", err)
	}
}

// A publisher's registration for another owner: the payer pays and signs,
// the owner owns the object and can delete it (and gets the storage).
func TestRegisterPaidByPayer(t *testing.T) {
	for name, nh := range map[string]newHarness{"ledger": inProcess, "http": overHTTP} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, nh, []uint64{100, 100, 100, 100})
			ctx := f.ctx
			payer, owner := f.user, acct(321)
			before := f.balance(payer)
			b := mkBlob(5, 1000)
			r, err := f.c.RegisterBlob(ctx, RegisterBlobRequest{Owner: owner, Payer: payer, BlobID: b.id, RootHash: b.root,
				Size: b.size, EncodingType: codec.EncodingTypeRS2, Deletable: true, EpochsAhead: 2})
			if err != nil {
				t.Fatal(err)
			}
			if r.Blob.Owner != owner || r.Blob.Storage.Owner != owner || f.balance(payer) != before-r.StorageCost-r.WriteCost || f.balance(owner) != 0 {
				t.Fatalf("paid registration: %+v, payer %d → %d", r, before, f.balance(payer))
			}
			if _, err := f.c.DeleteBlob(ctx, payer, r.Blob.ObjectID); !errors.Is(err, ErrNotOwner) {
				t.Fatalf("delete by the payer: %v", err)
			}
			st, err := f.c.DeleteBlob(ctx, owner, r.Blob.ObjectID)
			if err != nil || st.Owner != owner {
				t.Fatalf("delete by the owner: %+v %v", st, err)
			}
		})
	}
}

func (f *fixture) balance(a ID) uint64 {
	f.t.Helper()
	x, err := f.c.Account(f.ctx, a)
	if errors.Is(err, ErrNotFound) {
		return 0
	}
	if err != nil {
		f.t.Fatal(err)
	}
	return x.Balance
}

func TestParseAuthHeader(t *testing.T) {
	k := acctKey(1)
	var sess [SessionSize]byte
	e := envelope(t, sess, SchemeAccount, acct(1), acctSigner(k), "POST", "/v1/stake", []byte("{}"), time.UnixMilli(1_800_000_000_000))
	h := e.Header()
	back, err := ParseAuthHeader(h)
	if err != nil || back.Header() != h {
		t.Fatalf("round trip: %v\n%s\n%s", err, h, back.Header())
	}
	nk := seedKey(t, 1)
	ne := envelope(t, sess, SchemeNode, acct(2), nodeSigner(nk), "POST", "/v1/stake", nil, time.UnixMilli(1))
	if back, err := ParseAuthHeader(ne.Header()); err != nil || back.Header() != ne.Header() || back.PublicKey != nil {
		t.Fatalf("bls round trip: %v", err)
	}
	for _, bad := range []string{
		"", "v2" + h[2:], h + " sig=00", h + " x=1", strings.Replace(h, "scheme=ed25519", "scheme=rsa", 1),
		strings.Replace(h, " key=", " kee=", 1), strings.Replace(h, "signer=0x", "signer=", 1),
		strings.Replace(h, "expires=1800000000000", "expires=-1", 1), strings.Replace(h, "expires=1800000000000", "expires=01", 1),
		strings.Replace(h, "expires=1800000000000", "expires=1e9", 1), strings.Replace(h, " ", "  ", 1),
		strings.ToUpper(h[:3]) + h[3:], strings.Replace(ne.Header(), " session=", " key="+strings.Repeat("00", 32)+" session=", 1),
		h[:len(h)-2], strings.Replace(h, "scheme=ed25519", "scheme=bls", 1),
	} {
		if _, err := ParseAuthHeader(bad); !errors.Is(err, ErrUnauthorized) {
			t.Errorf("ParseAuthHeader(%.80q): %v", bad, err)
		}
	}
	// The message is bound to every field.
	m := AuthMessage(&e, "POST", "/v1/stake", []byte("{}"))
	if !strings.HasPrefix(string(m), AuthDomain) || m[len(AuthDomain)] != byte(SchemeAccount) {
		t.Fatal("message does not start with the intent prefix and scheme")
	}
	variants := [][]byte{
		AuthMessage(&e, "PUT", "/v1/stake", []byte("{}")),
		AuthMessage(&e, "POST", "/v1/unstake", []byte("{}")),
		AuthMessage(&e, "POST", "/v1/stake", []byte("{ }")),
	}
	e2 := e
	e2.ExpiresMs++
	variants = append(variants, AuthMessage(&e2, "POST", "/v1/stake", []byte("{}")))
	e2 = e
	e2.Nonce[0] ^= 1
	variants = append(variants, AuthMessage(&e2, "POST", "/v1/stake", []byte("{}")))
	for i, v := range variants {
		if bytes.Equal(v, m) {
			t.Errorf("variant %d signs the same bytes", i)
		}
	}
}

func TestNonceCacheBounded(t *testing.T) {
	c := newNonceCache(4)
	now := int64(1000)
	for i := range 4 {
		if ok, err := c.add(nonceKey{nonce: [NonceSize]byte{byte(i)}}, now+10, now); !ok || err != nil {
			t.Fatal(ok, err)
		}
	}
	if ok, _ := c.add(nonceKey{nonce: [NonceSize]byte{0}}, now+10, now); ok {
		t.Fatal("replay accepted")
	}
	if _, err := c.add(nonceKey{nonce: [NonceSize]byte{9}}, now+10, now); !errors.Is(err, ErrRateLimited) {
		t.Fatalf("full cache: %v", err)
	}
	// Once they expire, there is room again.
	if ok, err := c.add(nonceKey{nonce: [NonceSize]byte{9}}, now+100, now+11); !ok || err != nil || c.len() != 1 {
		t.Fatalf("after expiry: %v %v %d", ok, err, c.len())
	}
}

// FuzzAuthHeader: the server's parser of the Floe-Auth header never
// panics, and whatever it accepts prints back to the same header.
func FuzzAuthHeader(f *testing.F) {
	var sess [SessionSize]byte
	e := envelope(f, sess, SchemeAccount, acct(1), acctSigner(acctKey(1)), "POST", "/v1/stake", nil, time.UnixMilli(5))
	f.Add(e.Header())
	ne := envelope(f, sess, SchemeNode, acct(1), nodeSigner(seedKey(f, 1)), "POST", "/v1/stake", nil, time.UnixMilli(5))
	f.Add(ne.Header())
	f.Add("v1")
	f.Add("v1 scheme=bls scheme=bls")
	f.Fuzz(func(t *testing.T, s string) {
		e, err := ParseAuthHeader(s)
		if err != nil {
			if !errors.Is(err, ErrUnauthorized) {
				t.Fatalf("%q: error %v is not ErrUnauthorized", s, err)
			}
			return
		}
		if e.Header() != s {
			t.Fatalf("accepted %q, prints %q", s, e.Header())
		}
		back, err := ParseAuthHeader(e.Header())
		if err != nil || back.Header() != s {
			t.Fatalf("round trip of %q: %v", s, err)
		}
	})
}

// FuzzSignedRequest: whatever Floe-Auth header and body reach a mutation,
// the service answers 4xx or 200, never 5xx, and a refusal changes
// nothing. The seeds include validly signed requests; the fuzzer mutates
// their headers and bodies.
func FuzzSignedRequest(f *testing.F) {
	ctx := context.Background()
	ds := NewMemDatastore()
	l, err := Open(ctx, ds, WithLogger(quietLogger()), WithShards(testShards))
	if err != nil {
		f.Fatal(err)
	}
	defer l.Close()
	if _, err := l.Faucet(ctx, acct(1), 1e9); err != nil {
		f.Fatal(err)
	}
	srv := NewServer(l)
	ts := httptest.NewServer(srv)
	defer ts.Close()
	k := acctSigner(acctKey(1))
	for _, s := range []struct{ path, body string }{
		{"/v1/storage", `{"owner":"` + acct(1).String() + `","size":1,"epochs_ahead":1}`},
		{"/v1/stake", `{"staker":"` + acct(1).String() + `","node":"` + acct(2).String() + `","amount":1}`},
		{"/v1/epoch/sync-done", `{"node":"` + acct(1).String() + `","epoch":0}`},
	} {
		e := envelope(f, srv.session, SchemeAccount, acct(1), k, "POST", s.path, []byte(s.body), time.Now().Add(time.Hour/2))
		f.Add(s.path, e.Header(), s.body)
	}
	f.Fuzz(func(t *testing.T, path, hdr, body string) {
		if len(body) > maxRequestBody || len(hdr) > 2*maxAuthHeader || !strings.HasPrefix(path, "/v1/") {
			return
		}
		before, _, _ := StateDigest(ctx, ds)
		req, err := http.NewRequest("POST", "http://x"+pathOnly(path), strings.NewReader(body))
		if err != nil {
			return
		}
		if strings.ContainsAny(hdr, "\r\n\x00") {
			return
		}
		req.Header.Set(AuthHeader, hdr)
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("%s %q %q: %d %s", path, hdr, body, w.Code, w.Body)
		}
		if w.Code >= 400 {
			if after, _, _ := StateDigest(ctx, ds); after != before {
				t.Fatalf("refused request changed state: %s %q → %d %s", path, hdr, w.Code, w.Body)
			}
		}
	})
}
