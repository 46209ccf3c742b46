package chainlink

import (
	"context"
	"crypto/elliptic"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"floe/chainlink/bls"
	"floe/codec"
)

// Limits on request fields, so nothing unbounded enters the state.
const (
	maxNameLen      = 128
	maxPeerIDLen    = 128
	maxAddresses    = 16
	maxAddressLen   = 256
	maxMessageBytes = codec.MessageHeaderSize + codec.DigestSize + 1 + codec.SuiAddressSize
)

// Faucet implements Chain.
func (l *Ledger) Faucet(ctx context.Context, addr ID, amount uint64) (Account, error) {
	if amount == 0 || amount > l.cfg.FaucetLimit {
		return Account{}, fmt.Errorf("%w: faucet amount %d not in [1, %d]", ErrBadRequest, amount, l.cfg.FaucetLimit)
	}
	if err := l.lock(ctx); err != nil {
		return Account{}, err
	}
	defer l.mu.Unlock()
	if l.balance(addr) > ^uint64(0)-amount {
		return Account{}, fmt.Errorf("%w: balance would overflow", ErrBadRequest)
	}
	t := l.begin()
	a := l.credit(t, addr, amount)
	if err := l.commit(ctx, t); err != nil {
		return Account{}, err
	}
	return *a, nil
}

func checkNodeInfo(peerID string, addrs []string) error {
	if peerID == "" || len(peerID) > maxPeerIDLen {
		return fmt.Errorf("%w: peer ID must have 1..%d bytes", ErrBadRequest, maxPeerIDLen)
	}
	if len(addrs) > maxAddresses {
		return fmt.Errorf("%w: %d addresses, at most %d", ErrBadRequest, len(addrs), maxAddresses)
	}
	for _, a := range addrs {
		if a == "" || len(a) > maxAddressLen || strings.ContainsAny(a, "\x00\n") {
			return fmt.Errorf("%w: bad announce address %q", ErrBadRequest, a)
		}
	}
	return nil
}

// NetworkPublicKeySize is the size of a node's network public key: a
// P-256 point in SEC 1 compressed form, as Walrus writes it on chain.
const NetworkPublicKeySize = 33

// CheckNetworkInfo checks a node's REST API record: addr "" or an
// https://host:port URL (CheckNetworkAddress), key empty or a compressed
// P-256 point; an address needs a key (clients pin it). A key alone is
// allowed (on Sui every node has one).
func CheckNetworkInfo(addr string, key []byte) error {
	if addr != "" && len(key) == 0 {
		return fmt.Errorf("%w: a network address needs a network public key", ErrBadRequest)
	}
	if addr != "" {
		if err := CheckNetworkAddress(addr); err != nil {
			return err
		}
	}
	if len(key) == 0 {
		return nil
	}
	if len(key) != NetworkPublicKeySize || (key[0] != 2 && key[0] != 3) {
		return fmt.Errorf("%w: network public key of %d bytes, want a compressed P-256 point (%d)", ErrBadRequest, len(key), NetworkPublicKeySize)
	}
	if x, _ := elliptic.UnmarshalCompressed(elliptic.P256(), key); x == nil {
		return fmt.Errorf("%w: network public key is not a P-256 point", ErrBadRequest)
	}
	return nil
}

// CheckNetworkAddress checks a REST API URL: https://host:port and nothing
// more (no path, query or user), at most 256 bytes.
func CheckNetworkAddress(addr string) error {
	if len(addr) > maxAddressLen || strings.ContainsFunc(addr, func(r rune) bool { return r < 0x21 || r == 0x7f }) {
		return fmt.Errorf("%w: network address %q", ErrBadRequest, addr)
	}
	u, err := url.Parse(addr)
	if err != nil || u.Scheme != "https" || u.User != nil || u.Path != "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.Opaque != "" {
		return fmt.Errorf("%w: network address %q is not https://host:port", ErrBadRequest, addr)
	}
	host, port, err := net.SplitHostPort(u.Host)
	if p, perr := strconv.ParseUint(port, 10, 16); err != nil || host == "" || perr != nil || p == 0 {
		return fmt.Errorf("%w: network address %q is not https://host:port", ErrBadRequest, addr)
	}
	return nil
}

// RegisterNode implements Chain.
func (l *Ledger) RegisterNode(ctx context.Context, req RegisterNodeRequest) (Node, error) {
	if len(req.Name) > maxNameLen {
		return Node{}, fmt.Errorf("%w: name longer than %d", ErrBadRequest, maxNameLen)
	}
	if err := checkNodeInfo(req.PeerID, req.Addresses); err != nil {
		return Node{}, err
	}
	if err := CheckNetworkInfo(req.NetworkAddress, req.NetworkPublicKey); err != nil {
		return Node{}, err
	}
	if req.Owner.IsZero() {
		return Node{}, fmt.Errorf("%w: zero owner", ErrBadRequest)
	}
	if err := l.lock(ctx); err != nil {
		return Node{}, err
	}
	defer l.mu.Unlock()
	epoch := l.m.Epoch.Epoch
	if err := bls.VerifyProofOfPossession(req.PublicKey, epoch, req.Owner, req.ProofOfPossession); err != nil {
		return Node{}, fmt.Errorf("proof of possession for epoch %d: %w", epoch, err)
	}
	for _, n := range l.nodes {
		if n.PublicKey == req.PublicKey {
			return Node{}, fmt.Errorf("%w: BLS key already used by node %s", ErrAlreadyRegistered, n.ID)
		}
		if n.PeerID == req.PeerID {
			return Node{}, fmt.Errorf("%w: peer ID already used by node %s", ErrAlreadyRegistered, n.ID)
		}
	}
	if req.Stake > 0 && l.balance(req.Owner) < req.Stake {
		return Node{}, fmt.Errorf("%w: %s has %d, stakes %d", ErrInsufficientFunds, req.Owner, l.balance(req.Owner), req.Stake)
	}
	t := l.begin()
	n := &Node{
		ID: l.newObjectID(), Owner: req.Owner, Name: req.Name, PeerID: req.PeerID,
		Addresses: slices.Clone(req.Addresses), PublicKey: req.PublicKey, RegisteredEpoch: epoch,
		NetworkAddress: req.NetworkAddress, NetworkPublicKey: slices.Clone(req.NetworkPublicKey),
		Stakers: map[string]uint64{},
	}
	if n.Addresses == nil {
		n.Addresses = []string{}
	}
	l.nodes[n.ID] = n
	if req.Stake > 0 {
		_ = l.debit(t, req.Owner, req.Stake) // checked above
		n.Stakers[req.Owner.String()] = req.Stake
		n.Stake = req.Stake
	}
	t.put(keyID(prefNode, n.ID), n)
	l.emit(t, Event{Type: EventNodeRegistered, Epoch: epoch, NodeID: n.ID})
	if err := l.commit(ctx, t); err != nil {
		return Node{}, err
	}
	l.log.Info("node registered", "node", n.ID, "peer", n.PeerID, "stake", n.Stake)
	return cloneNode(n), nil
}

// UpdateNode implements Chain.
func (l *Ledger) UpdateNode(ctx context.Context, req UpdateNodeRequest) (Node, error) {
	if err := checkNodeInfo(req.PeerID, req.Addresses); err != nil {
		return Node{}, err
	}
	if err := CheckNetworkInfo(req.NetworkAddress, req.NetworkPublicKey); err != nil {
		return Node{}, err
	}
	if err := l.lock(ctx); err != nil {
		return Node{}, err
	}
	defer l.mu.Unlock()
	n := l.nodes[req.NodeID]
	if n == nil {
		return Node{}, fmt.Errorf("%w: node %s", ErrNotFound, req.NodeID)
	}
	if n.Owner != req.Owner {
		return Node{}, fmt.Errorf("%w: node %s", ErrNotOwner, req.NodeID)
	}
	for _, o := range l.nodes {
		if o != n && o.PeerID == req.PeerID {
			return Node{}, fmt.Errorf("%w: peer ID already used by node %s", ErrAlreadyRegistered, o.ID)
		}
	}
	t := l.begin()
	n.PeerID = req.PeerID
	n.Addresses = slices.Clone(req.Addresses)
	if n.Addresses == nil {
		n.Addresses = []string{}
	}
	n.NetworkAddress, n.NetworkPublicKey = req.NetworkAddress, slices.Clone(req.NetworkPublicKey)
	t.put(keyID(prefNode, n.ID), n)
	if err := l.commit(ctx, t); err != nil {
		return Node{}, err
	}
	return cloneNode(n), nil
}

// Stake implements Chain.
func (l *Ledger) Stake(ctx context.Context, staker, node ID, amount uint64) (Node, error) {
	if amount == 0 {
		return Node{}, fmt.Errorf("%w: zero stake", ErrBadRequest)
	}
	if err := l.lock(ctx); err != nil {
		return Node{}, err
	}
	defer l.mu.Unlock()
	n := l.nodes[node]
	if n == nil {
		return Node{}, fmt.Errorf("%w: node %s", ErrNotFound, node)
	}
	if n.Stake > ^uint64(0)-amount {
		return Node{}, fmt.Errorf("%w: stake would overflow", ErrBadRequest)
	}
	t := l.begin()
	if err := l.debit(t, staker, amount); err != nil {
		return Node{}, err
	}
	if n.Stakers == nil {
		n.Stakers = map[string]uint64{}
	}
	n.Stakers[staker.String()] += amount
	n.Stake += amount
	t.put(keyID(prefNode, n.ID), n)
	if err := l.commit(ctx, t); err != nil {
		return Node{}, err
	}
	return cloneNode(n), nil
}

// Unstake implements Chain.
func (l *Ledger) Unstake(ctx context.Context, staker, node ID, amount uint64) (Node, error) {
	if amount == 0 {
		return Node{}, fmt.Errorf("%w: zero amount", ErrBadRequest)
	}
	if err := l.lock(ctx); err != nil {
		return Node{}, err
	}
	defer l.mu.Unlock()
	n := l.nodes[node]
	if n == nil {
		return Node{}, fmt.Errorf("%w: node %s", ErrNotFound, node)
	}
	have := n.Stakers[staker.String()]
	if have < amount {
		return Node{}, fmt.Errorf("%w: %s staked %d with %s, withdraws %d", ErrInsufficientFunds, staker, have, node, amount)
	}
	credit := l.m.Epoch.Epoch + 2
	if credit < l.m.Epoch.Epoch {
		return Node{}, fmt.Errorf("%w: no epoch left to credit a withdrawal in", ErrBadRequest)
	}
	// One withdrawal per staker and credit epoch: the list stays bounded
	// (at most two credit epochs are pending at any time).
	w := Withdrawal{Staker: staker, Amount: amount, CreditEpoch: credit}
	i, found := slices.BinarySearchFunc(n.Withdrawals, w, compareWithdrawals)
	if found && n.Withdrawals[i].Amount > ^uint64(0)-amount {
		return Node{}, fmt.Errorf("%w: withdrawal would overflow", ErrBadRequest)
	}
	t := l.begin()
	if have == amount {
		delete(n.Stakers, staker.String())
	} else {
		n.Stakers[staker.String()] = have - amount
	}
	n.Stake -= amount
	if found {
		n.Withdrawals[i].Amount += amount
	} else {
		n.Withdrawals = slices.Insert(n.Withdrawals, i, w)
	}
	t.put(keyID(prefNode, n.ID), n)
	if err := l.commit(ctx, t); err != nil {
		return Node{}, err
	}
	l.log.Info("stake withdrawn", "node", n.ID, "staker", staker, "amount", amount, "credit_epoch", credit, "node_stake", n.Stake)
	return cloneNode(n), nil
}

// creditWithdrawals credits the withdrawals due by epoch e to their
// stakers, nodes in ID order, each node's in credit-epoch and staker order.
// A credit that would overflow the balance stays pending.
func (l *Ledger) creditWithdrawals(t *tx, e uint32) {
	ids := make([]ID, 0, len(l.nodes))
	for id, n := range l.nodes {
		if len(n.Withdrawals) > 0 && n.Withdrawals[0].CreditEpoch <= e {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, ID.Compare)
	for _, id := range ids {
		n := l.nodes[id]
		kept := n.Withdrawals[:0:0]
		for _, w := range n.Withdrawals {
			if w.CreditEpoch > e || l.balance(w.Staker) > ^uint64(0)-w.Amount {
				kept = append(kept, w)
				continue
			}
			l.credit(t, w.Staker, w.Amount)
			l.log.Info("withdrawal credited", "node", n.ID, "staker", w.Staker, "amount", w.Amount, "epoch", e)
		}
		if len(kept) == 0 {
			kept = nil
		}
		n.Withdrawals = kept
		t.put(keyID(prefNode, n.ID), n)
	}
}

// ---- epochs ----

// AdvanceEpoch implements Chain.
func (l *Ledger) AdvanceEpoch(ctx context.Context) (EpochState, error) {
	if err := l.lock(ctx); err != nil {
		return EpochState{}, err
	}
	defer l.mu.Unlock()
	if err := l.advanceLocked(ctx); err != nil {
		return EpochState{}, err
	}
	return l.epochState(), nil
}

// selectCommittee picks the active set by stake and apportions shards
// (F13.1, F13.2).
func (l *Ledger) selectCommittee(next uint32) (*Committee, error) {
	nShards := l.m.Epoch.NShards
	var cands []*Node
	for _, n := range l.nodes {
		if n.Stake >= l.cfg.MinStake && n.Stake > 0 {
			cands = append(cands, n)
		}
	}
	// Active set: the MaxActiveSetSize largest stakes (ties by node ID).
	slices.SortFunc(cands, func(a, b *Node) int {
		if a.Stake != b.Stake {
			if a.Stake > b.Stake {
				return -1
			}
			return 1
		}
		return a.ID.Compare(b.ID)
	})
	if len(cands) > MaxActiveSetSize {
		cands = cands[:MaxActiveSetSize]
	}
	c := &Committee{Epoch: next, NShards: nShards, Members: []Member{}}
	if len(cands) == 0 {
		return c, nil
	}
	// Apportion in node-ID order: earlier IDs win ties.
	slices.SortFunc(cands, func(a, b *Node) int { return a.ID.Compare(b.ID) })
	ids := make([]ID, len(cands))
	stakes := make([]uint64, len(cands))
	for i, n := range cands {
		ids[i], stakes[i] = n.ID, n.Stake
	}
	counts, err := Apportion(nShards, stakes)
	if err != nil {
		return nil, err
	}
	var assign []Assignment
	prev := l.committees[l.m.Epoch.Epoch]
	if prev == nil || len(prev.Members) == 0 {
		assign = InitialShards(ids, counts)
	} else {
		pa := make([]Assignment, len(prev.Members))
		for i, m := range prev.Members {
			pa[i] = Assignment{Node: m.NodeID, Shards: m.Shards}
		}
		if assign, err = TransitionShards(pa, ids, counts); err != nil {
			return nil, err
		}
	}
	for _, a := range assign {
		n := l.nodes[a.Node]
		c.Members = append(c.Members, Member{
			NodeID: n.ID, PeerID: n.PeerID, Addresses: slices.Clone(n.Addresses), PublicKey: n.PublicKey,
			NetworkAddress: n.NetworkAddress, NetworkPublicKey: slices.Clone(n.NetworkPublicKey),
			Shards: a.Shards, Weight: len(a.Shards), Stake: n.Stake,
		})
	}
	return c, nil
}

// payout distributes the fees of epoch e to the stakers of e's committee in
// proportion to stake; the rounding remainder rolls into the next epoch.
func (l *Ledger) payout(t *tx, e uint32) {
	fees := l.m.Buckets[e]
	delete(l.m.Buckets, e)
	c := l.committees[e]
	if fees == 0 {
		return
	}
	type share struct {
		addr  ID
		stake uint64
	}
	var shares []share
	var total uint64
	if c != nil {
		for _, m := range c.Members {
			n := l.nodes[m.NodeID]
			if n == nil {
				continue
			}
			keys := slices.Sorted(func(yield func(string) bool) {
				for k := range n.Stakers {
					if !yield(k) {
						return
					}
				}
			})
			for _, k := range keys {
				a, err := ParseID(k)
				if err != nil {
					continue
				}
				shares = append(shares, share{a, n.Stakers[k]})
				total += n.Stakers[k]
			}
		}
	}
	if total == 0 {
		l.m.Buckets[e+1] += fees
		return
	}
	var paid uint64
	for _, s := range shares {
		// fees·stake/total without overflow: 128-bit via big-ish arithmetic.
		amt := mulDiv(fees, s.stake, total)
		if amt == 0 {
			continue
		}
		a := l.credit(t, s.addr, amt)
		a.Rewards += amt
		t.put(keyID(prefAccount, a.Address), a) // again, with the rewards
		paid += amt
	}
	if rest := fees - paid; rest > 0 {
		l.m.Buckets[e+1] += rest
	}
}

func (l *Ledger) advanceLocked(ctx context.Context) error {
	cur := l.m.Epoch.Epoch
	next := cur + 1
	c, err := l.selectCommittee(next)
	if err != nil {
		return err
	}
	t := l.begin()
	l.payout(t, cur)
	l.creditWithdrawals(t, next)
	prev := l.committees[cur]
	l.committees[next] = c
	t.put(keyCommittee(next), c)
	l.m.Epoch.Epoch = next
	l.m.Epoch.StartUnixMs = l.cfg.Now().UnixMilli()
	l.m.Epoch.Phase = PhaseChangeSync
	l.m.Epoch.SyncDoneNodes, l.m.Epoch.SyncDoneWeight = nil, 0
	l.emit(t, Event{Type: EventEpochChangeStart, Epoch: next})
	// Only members that report count towards the change (F13.3,
	// staking_inner.move::epoch_sync_done), also those whose shards did not
	// move. With no previous committee nobody has anything to fetch, and
	// with an empty new one nobody can report: then the change is done now.
	if prev == nil || len(prev.Members) == 0 || len(c.Members) == 0 {
		l.m.Epoch.Phase = PhaseChangeDone
		l.emit(t, Event{Type: EventEpochChangeDone, Epoch: next})
	}
	if err := l.commit(ctx, t); err != nil {
		return err
	}
	if err := l.refreshVerifier(); err != nil {
		l.broken = err
		return err
	}
	l.log.Info("epoch advanced", "epoch", next, "members", len(c.Members), "phase", l.m.Epoch.Phase)
	return nil
}

// EpochSyncDone implements Chain.
func (l *Ledger) EpochSyncDone(ctx context.Context, node ID, epoch uint32) error {
	if err := l.lock(ctx); err != nil {
		return err
	}
	defer l.mu.Unlock()
	es := &l.m.Epoch
	if epoch != es.Epoch {
		return fmt.Errorf("%w: sync done for epoch %d in epoch %d", ErrWrongEpoch, epoch, es.Epoch)
	}
	c := l.committees[epoch]
	idx := -1
	if c != nil {
		idx = c.Index(node)
	}
	if idx < 0 {
		return fmt.Errorf("%w: %s in epoch %d", ErrNotInCommittee, node, epoch)
	}
	pos, done := slices.BinarySearchFunc(es.SyncDoneNodes, node, ID.Compare)
	if done {
		return fmt.Errorf("%w: %s in epoch %d", ErrSyncDone, node, epoch)
	}
	t := l.begin()
	m := c.Members[idx]
	es.SyncDoneNodes = slices.Insert(es.SyncDoneNodes, pos, node)
	es.SyncDoneWeight += m.Weight
	l.emit(t, Event{Type: EventShardsReceived, Epoch: epoch, NodeID: node, Shards: slices.Clone(m.Shards)})
	if es.Phase == PhaseChangeSync && bls.Quorum.Reached(es.SyncDoneWeight, c.NShards) {
		es.Phase = PhaseChangeDone
		l.emit(t, Event{Type: EventEpochChangeDone, Epoch: epoch})
		l.log.Info("epoch change done", "epoch", epoch, "sync_done_weight", es.SyncDoneWeight, "reported", len(es.SyncDoneNodes))
	}
	return l.commit(ctx, t)
}

func (l *Ledger) epochTimer() {
	defer l.wg.Done()
	d := l.cfg.EpochDuration
	tick := min(max(d/20, 10*time.Millisecond), time.Second)
	tk := time.NewTicker(tick)
	defer tk.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-tk.C:
		}
		l.mu.Lock()
		if l.broken == nil && !l.closed {
			start := time.UnixMilli(l.m.Epoch.StartUnixMs)
			if !l.cfg.Now().Before(start.Add(d)) {
				if err := l.advanceLocked(context.Background()); err != nil {
					l.log.Error("epoch timer", "err", err)
				}
			}
		}
		l.mu.Unlock()
	}
}

// ---- storage and blobs ----

func (l *Ledger) storageCost(size uint64, epochs uint32) (uint64, error) {
	c, ok := mulOK(l.m.Epoch.StoragePricePerUnit, Units(size))
	if ok {
		c, ok = mulOK(c, uint64(epochs))
	}
	if !ok {
		return 0, fmt.Errorf("%w: storage cost overflows", ErrBadRequest)
	}
	return c, nil
}

// payStorage charges payer for size bytes over [start, end) and pays the
// price per epoch into each epoch's bucket (F9.4).
func (l *Ledger) payStorage(t *tx, payer ID, size uint64, start, end uint32) (uint64, error) {
	cost, err := l.storageCost(size, end-start)
	if err != nil {
		return 0, err
	}
	if err := l.debit(t, payer, cost); err != nil {
		return 0, err
	}
	per := cost / uint64(end-start)
	for e := start; e < end; e++ {
		l.m.Buckets[e] += per
	}
	return cost, nil
}

func (l *Ledger) checkPeriod(epochsAhead uint32) error {
	if epochsAhead == 0 {
		return fmt.Errorf("%w: epochs ahead must be positive", ErrBadRequest)
	}
	if epochsAhead > l.m.Epoch.MaxEpochsAhead {
		return fmt.Errorf("%w: %d > %d", ErrTooFarAhead, epochsAhead, l.m.Epoch.MaxEpochsAhead)
	}
	return nil
}

// ReserveSpace implements Chain.
func (l *Ledger) ReserveSpace(ctx context.Context, owner ID, size uint64, epochsAhead uint32) (Storage, uint64, error) {
	if size == 0 {
		return Storage{}, 0, fmt.Errorf("%w: zero storage size", ErrBadRequest)
	}
	if err := l.lock(ctx); err != nil {
		return Storage{}, 0, err
	}
	defer l.mu.Unlock()
	if err := l.checkPeriod(epochsAhead); err != nil {
		return Storage{}, 0, err
	}
	t := l.begin()
	cur := l.m.Epoch.Epoch
	cost, err := l.payStorage(t, owner, size, cur, cur+epochsAhead)
	if err != nil {
		return Storage{}, 0, err
	}
	s := &Storage{ID: l.newObjectID(), Owner: owner, StartEpoch: cur, EndEpoch: cur + epochsAhead, Size: size}
	l.storages[s.ID] = s
	t.put(keyID(prefStorage, s.ID), s)
	if err := l.commit(ctx, t); err != nil {
		return Storage{}, 0, err
	}
	return *s, cost, nil
}

// RegisterBlob implements Chain.
func (l *Ledger) RegisterBlob(ctx context.Context, req RegisterBlobRequest) (RegisterBlobResult, error) {
	if req.EncodingType != codec.EncodingTypeRS2 {
		return RegisterBlobResult{}, fmt.Errorf("%w: %d", ErrEncodingType, req.EncodingType)
	}
	if want := codec.DeriveBlobID(req.EncodingType, req.Size, req.RootHash); want != req.BlobID {
		return RegisterBlobResult{}, fmt.Errorf("%w: given %s, derived %s", ErrBlobIDMismatch, req.BlobID, want)
	}
	payer := req.payer()
	if err := l.lock(ctx); err != nil {
		return RegisterBlobResult{}, err
	}
	defer l.mu.Unlock()
	p, err := codec.NewParams(l.m.Epoch.NShards)
	if err != nil {
		return RegisterBlobResult{}, err
	}
	enc, err := p.EncodedLength(req.Size)
	if err != nil {
		return RegisterBlobResult{}, fmt.Errorf("%w: %v", ErrBlobTooLarge, err)
	}
	cur := l.m.Epoch.Epoch
	writeCost, ok := mulOK(l.m.Epoch.WritePricePerUnit, Units(enc))
	if !ok {
		return RegisterBlobResult{}, fmt.Errorf("%w: write cost overflows", ErrBadRequest)
	}
	t := l.begin()
	var st *Storage
	var storageCost uint64
	if !req.StorageID.IsZero() {
		st = l.storages[req.StorageID]
		switch {
		case st == nil:
			return RegisterBlobResult{}, fmt.Errorf("%w: storage %s", ErrNotFound, req.StorageID)
		case st.Owner != payer:
			return RegisterBlobResult{}, fmt.Errorf("%w: storage %s", ErrNotOwner, req.StorageID)
		case cur < st.StartEpoch || cur >= st.EndEpoch:
			return RegisterBlobResult{}, fmt.Errorf("%w: storage %s covers [%d, %d), epoch %d", ErrExpired, st.ID, st.StartEpoch, st.EndEpoch, cur)
		case st.Size < enc:
			return RegisterBlobResult{}, fmt.Errorf("%w: %d < %d", ErrStorageTooSmall, st.Size, enc)
		}
		if l.balance(payer) < writeCost {
			return RegisterBlobResult{}, fmt.Errorf("%w: write cost %d", ErrInsufficientFunds, writeCost)
		}
		delete(l.storages, st.ID)
		t.del(keyID(prefStorage, st.ID))
	} else {
		if err := l.checkPeriod(req.EpochsAhead); err != nil {
			return RegisterBlobResult{}, err
		}
		c, err := l.storageCost(enc, req.EpochsAhead)
		if err != nil {
			return RegisterBlobResult{}, err
		}
		if c > ^uint64(0)-writeCost || l.balance(payer) < c+writeCost {
			return RegisterBlobResult{}, fmt.Errorf("%w: %s has %d, needs %d", ErrInsufficientFunds, payer, l.balance(payer), c+writeCost)
		}
		if storageCost, err = l.payStorage(t, payer, enc, cur, cur+req.EpochsAhead); err != nil {
			return RegisterBlobResult{}, err
		}
		st = &Storage{ID: l.newObjectID(), Owner: req.Owner, StartEpoch: cur, EndEpoch: cur + req.EpochsAhead, Size: enc}
	}
	if err := l.debit(t, payer, writeCost); err != nil {
		return RegisterBlobResult{}, err // checked above; unreachable
	}
	l.m.Buckets[cur] += writeCost
	b := &Blob{
		ObjectID: l.newObjectID(), Owner: req.Owner, RegisteredEpoch: cur, BlobID: req.BlobID,
		Size: req.Size, EncodingType: req.EncodingType, Storage: *st, Deletable: req.Deletable,
	}
	l.blobs[b.ObjectID] = b
	l.index(b)
	t.put(keyID(prefBlob, b.ObjectID), b)
	l.emit(t, Event{Type: EventBlobRegistered, Epoch: cur, BlobID: b.BlobID, Size: b.Size,
		EncodingType: b.EncodingType, EndEpoch: b.Storage.EndEpoch, Deletable: b.Deletable, ObjectID: b.ObjectID})
	if err := l.commit(ctx, t); err != nil {
		return RegisterBlobResult{}, err
	}
	return RegisterBlobResult{Blob: cloneBlob(b), StorageCost: storageCost, WriteCost: writeCost}, nil
}

// verifyCert checks the message epoch and the certificate against the
// current committee (F8.7).
func (l *Ledger) verifyCert(cert Certificate, intent byte, t bls.Threshold) (codec.MessageHeader, error) {
	if len(cert.Message) > maxMessageBytes {
		return codec.MessageHeader{}, fmt.Errorf("%w: %d bytes", ErrBadMessage, len(cert.Message))
	}
	h, _, err := codec.ParseMessageHeader(cert.Message)
	if err != nil {
		return h, fmt.Errorf("%w: %v", ErrBadMessage, err)
	}
	if h.Intent != intent {
		return h, fmt.Errorf("%w: intent %d, want %d", ErrBadMessage, h.Intent, intent)
	}
	if h.Epoch != l.m.Epoch.Epoch {
		return h, fmt.Errorf("%w: message epoch %d, current %d", ErrWrongEpoch, h.Epoch, l.m.Epoch.Epoch)
	}
	if l.verifier == nil {
		return h, fmt.Errorf("%w: epoch %d", ErrNoCommittee, h.Epoch)
	}
	if _, err := l.verifier.Verify(t, cert.Message, cert.Signature, cert.Signers); err != nil {
		return h, err
	}
	return h, nil
}

// CertifyBlob implements Chain.
func (l *Ledger) CertifyBlob(ctx context.Context, blob ID, cert Certificate) (Blob, error) {
	if err := l.lock(ctx); err != nil {
		return Blob{}, err
	}
	defer l.mu.Unlock()
	b := l.blobs[blob]
	if b == nil {
		return Blob{}, fmt.Errorf("%w: blob object %s", ErrNotFound, blob)
	}
	if _, err := l.verifyCert(cert, codec.IntentBlobCertification, bls.Quorum); err != nil {
		return Blob{}, err
	}
	msg, err := codec.ParseStorageConfirmation(cert.Message)
	if err != nil {
		return Blob{}, fmt.Errorf("%w: %v", ErrBadMessage, err)
	}
	cur := l.m.Epoch.Epoch
	switch {
	case msg.BlobID != b.BlobID:
		return Blob{}, fmt.Errorf("%w: message for blob %s, object holds %s", ErrMessageMismatch, msg.BlobID, b.BlobID)
	case b.CertifiedEpoch != nil:
		return Blob{}, fmt.Errorf("%w: in epoch %d", ErrAlreadyCertified, *b.CertifiedEpoch)
	case cur >= b.Storage.EndEpoch:
		return Blob{}, fmt.Errorf("%w: storage ended at epoch %d", ErrExpired, b.Storage.EndEpoch)
	case msg.Persistence != b.Persistence():
		return Blob{}, fmt.Errorf("%w: persistence type or object ID differs", ErrMessageMismatch)
	}
	t := l.begin()
	e := cur
	b.CertifiedEpoch = &e
	t.put(keyID(prefBlob, b.ObjectID), b)
	l.emit(t, Event{Type: EventBlobCertified, Epoch: cur, BlobID: b.BlobID, EndEpoch: b.Storage.EndEpoch,
		Deletable: b.Deletable, ObjectID: b.ObjectID})
	if err := l.commit(ctx, t); err != nil {
		return Blob{}, err
	}
	return cloneBlob(b), nil
}

// InvalidateBlobID implements Chain.
func (l *Ledger) InvalidateBlobID(ctx context.Context, cert Certificate) (codec.BlobID, error) {
	if err := l.lock(ctx); err != nil {
		return codec.BlobID{}, err
	}
	defer l.mu.Unlock()
	if _, err := l.verifyCert(cert, codec.IntentInvalidBlobID, bls.OneCorrect); err != nil {
		return codec.BlobID{}, err
	}
	epoch, id, err := codec.ParseInvalidBlobID(cert.Message)
	if err != nil {
		return id, fmt.Errorf("%w: %v", ErrBadMessage, err)
	}
	if _, done := l.invalid[id]; done {
		return id, nil
	}
	t := l.begin()
	l.invalid[id] = epoch
	t.put(keyInvalid(id), struct {
		BlobID codec.BlobID `json:"blob_id"`
		Epoch  uint32       `json:"epoch"`
	}{id, epoch})
	l.emit(t, Event{Type: EventInvalidBlobID, Epoch: epoch, BlobID: id})
	if err := l.commit(ctx, t); err != nil {
		return id, err
	}
	return id, nil
}

// DeleteBlob implements Chain.
func (l *Ledger) DeleteBlob(ctx context.Context, owner, blob ID) (Storage, error) {
	if err := l.lock(ctx); err != nil {
		return Storage{}, err
	}
	defer l.mu.Unlock()
	b := l.blobs[blob]
	cur := l.m.Epoch.Epoch
	switch {
	case b == nil:
		return Storage{}, fmt.Errorf("%w: blob object %s", ErrNotFound, blob)
	case b.Owner != owner:
		return Storage{}, fmt.Errorf("%w: blob object %s", ErrNotOwner, blob)
	case !b.Deletable:
		return Storage{}, fmt.Errorf("%w: %s is permanent", ErrNotDeletable, blob)
	case cur >= b.Storage.EndEpoch:
		return Storage{}, fmt.Errorf("%w: storage ended at epoch %d", ErrExpired, b.Storage.EndEpoch)
	}
	t := l.begin()
	delete(l.blobs, blob)
	l.unindex(b)
	t.del(keyID(prefBlob, blob))
	st := b.Storage
	l.storages[st.ID] = &st
	t.put(keyID(prefStorage, st.ID), st)
	l.emit(t, Event{Type: EventBlobDeleted, Epoch: cur, BlobID: b.BlobID, EndEpoch: st.EndEpoch,
		ObjectID: b.ObjectID, WasCertified: b.CertifiedEpoch != nil})
	if err := l.commit(ctx, t); err != nil {
		return Storage{}, err
	}
	return st, nil
}

// ExtendBlob implements Chain.
func (l *Ledger) ExtendBlob(ctx context.Context, payer, blob ID, epochs uint32) (Blob, uint64, error) {
	if epochs == 0 {
		return Blob{}, 0, fmt.Errorf("%w: zero extension", ErrBadRequest)
	}
	if err := l.lock(ctx); err != nil {
		return Blob{}, 0, err
	}
	defer l.mu.Unlock()
	b := l.blobs[blob]
	cur := l.m.Epoch.Epoch
	switch {
	case b == nil:
		return Blob{}, 0, fmt.Errorf("%w: blob object %s", ErrNotFound, blob)
	case cur >= b.Storage.EndEpoch:
		return Blob{}, 0, fmt.Errorf("%w: storage ended at epoch %d", ErrExpired, b.Storage.EndEpoch)
	case b.CertifiedEpoch == nil:
		return Blob{}, 0, fmt.Errorf("%w: only certified blobs are extended", ErrNotCertified)
	case uint64(b.Storage.EndEpoch)+uint64(epochs)-uint64(cur) > uint64(l.m.Epoch.MaxEpochsAhead):
		return Blob{}, 0, fmt.Errorf("%w: end epoch %d+%d, current %d", ErrTooFarAhead, b.Storage.EndEpoch, epochs, cur)
	}
	cost, err := l.storageCost(b.Storage.Size, epochs)
	if err != nil {
		return Blob{}, 0, err
	}
	if l.balance(payer) < cost {
		return Blob{}, 0, fmt.Errorf("%w: %s has %d, needs %d", ErrInsufficientFunds, payer, l.balance(payer), cost)
	}
	t := l.begin()
	end := b.Storage.EndEpoch + epochs
	if _, err := l.payStorage(t, payer, b.Storage.Size, b.Storage.EndEpoch, end); err != nil {
		return Blob{}, 0, err
	}
	b.Storage.EndEpoch = end
	t.put(keyID(prefBlob, b.ObjectID), b)
	l.emit(t, Event{Type: EventBlobCertified, Epoch: cur, BlobID: b.BlobID, EndEpoch: end,
		Deletable: b.Deletable, ObjectID: b.ObjectID, IsExtension: true})
	if err := l.commit(ctx, t); err != nil {
		return Blob{}, 0, err
	}
	return cloneBlob(b), cost, nil
}

// mulDiv returns a·b/c for c > 0 and a·b/c < 2^64.
func mulDiv(a, b, c uint64) uint64 {
	hi, lo := mulFull(a, b)
	q, _ := divFull(hi, lo, c)
	return q
}
