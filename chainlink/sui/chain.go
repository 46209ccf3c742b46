package sui

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	pb "github.com/block-vision/sui-go-sdk/pb/sui/rpc/v2"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"floe/chainlink"
	"floe/chainlink/account"
	"floe/codec"
)

func mask(paths ...string) *fieldmaskpb.FieldMask { return &fieldmaskpb.FieldMask{Paths: paths} }

// ---------------------------------------------------------------- reads

// inner reads the System and Staking objects and their versioned states.
func (c *Client) inner(ctx context.Context) (*SystemStateInnerV1, *StakingInnerV1, error) {
	objs, err := c.objects(ctx, []Address{c.cfg.System, c.cfg.Staking})
	if err != nil {
		return nil, nil, err
	}
	sys, err := UnmarshalSystem(objs[0].bcs)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", chainlink.ErrUnavailable, err)
	}
	st, err := UnmarshalStaking(objs[1].bcs)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", chainlink.ErrUnavailable, err)
	}
	fields, err := c.objects(ctx, []Address{VersionedFieldID(c.cfg.System, sys.Version), VersionedFieldID(c.cfg.Staking, st.Version)})
	if err != nil {
		return nil, nil, err
	}
	sf, err := UnmarshalSystemStateField(fields[0].bcs)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", chainlink.ErrUnavailable, err)
	}
	kf, err := UnmarshalStakingField(fields[1].bcs)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", chainlink.ErrUnavailable, err)
	}
	return &sf.Value, &kf.Value, nil
}

func (c *Client) prices(sys *SystemStateInnerV1, st *StakingInnerV1) Prices {
	return Prices{NShards: int(st.NShards), StoragePrice: sys.StoragePricePerUnitSize, WritePrice: sys.WritePricePerUnitSize}
}

// EpochState implements chainlink.Chain. SyncDoneNodes comes from the
// event index (ShardsReceived of the epoch).
func (c *Client) EpochState(ctx context.Context) (chainlink.EpochState, error) {
	sys, st, err := c.inner(ctx)
	if err != nil {
		return chainlink.EpochState{}, err
	}
	es := EpochStateOf(sys, st)
	if err := c.idx.catchUp(ctx); err != nil {
		return chainlink.EpochState{}, err
	}
	// The chain keeps the weight only while the change runs; the nodes
	// that reported, and the weight after the change is done, come from
	// the ShardsReceived events of the epoch.
	es.SyncDoneNodes = c.idx.syncDone(es.Epoch)
	if es.Phase == chainlink.PhaseChangeDone {
		w := 0
		for _, n := range es.SyncDoneNodes {
			w += len(st.Committee.Shards(n))
		}
		es.SyncDoneWeight = w
	}
	return es, nil
}

func (c *Client) pools(ctx context.Context, ids []Address) (map[Address]*StakingPool, error) {
	objs, err := c.objects(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make(map[Address]*StakingPool, len(ids))
	for i, o := range objs {
		p, err := UnmarshalStakingPool(o.bcs)
		if err != nil {
			return nil, fmt.Errorf("%w: pool %s: %v", chainlink.ErrUnavailable, ids[i], err)
		}
		out[ids[i]] = p
	}
	return out, nil
}

// Committee implements chainlink.Chain: the current, previous and next
// committees are on chain; older ones are ErrNotFound.
func (c *Client) Committee(ctx context.Context, epoch uint32) (*chainlink.Committee, error) {
	sys, st, err := c.inner(ctx)
	if err != nil {
		return nil, err
	}
	cm, ok := committeeOf(st, epoch)
	if !ok {
		return nil, fmt.Errorf("%w: committee of epoch %d (the chain holds %d±1)", chainlink.ErrNotFound, epoch, st.Epoch)
	}
	if len(cm) == 0 {
		return nil, fmt.Errorf("%w: no committee in epoch %d", chainlink.ErrNotFound, epoch)
	}
	ids := make([]Address, len(cm))
	for i, e := range cm {
		ids[i] = e.NodeID
	}
	pools, err := c.pools(ctx, ids)
	if err != nil {
		return nil, err
	}
	return CommitteeOf(st, sys, pools, epoch)
}

// Account implements chainlink.Chain: the WAL balance of addr (coins and
// address balance). ErrNotFound when it holds none: Sui does not tell
// "never held" from "spent all".
func (c *Client) Account(ctx context.Context, addr chainlink.ID) (chainlink.Account, error) {
	r, err := c.state.GetBalance(ctx, &pb.GetBalanceRequest{Owner: proto.String(addr.String()), CoinType: proto.String(c.dep.WAL.String())})
	if err != nil {
		return chainlink.Account{}, rpcErr("get balance", err)
	}
	b := r.GetBalance().GetBalance()
	if b == 0 {
		return chainlink.Account{}, fmt.Errorf("%w: %s holds no WAL", chainlink.ErrNotFound, addr)
	}
	return chainlink.Account{Address: addr, Balance: b}, nil
}

// Node implements chainlink.Chain: the StakingPool, the owner that
// registered it, and the stake of the stakers the index saw stake with it.
func (c *Client) Node(ctx context.Context, id chainlink.ID) (chainlink.Node, error) {
	if err := c.idx.catchUp(ctx); err != nil {
		return chainlink.Node{}, err
	}
	o, err := c.object(ctx, id)
	if err != nil {
		return chainlink.Node{}, err
	}
	if o.typ != c.walrusType("staking_pool", "StakingPool") {
		return chainlink.Node{}, fmt.Errorf("%w: %s is not a storage node", chainlink.ErrNotFound, id)
	}
	p, err := UnmarshalStakingPool(o.bcs)
	if err != nil {
		return chainlink.Node{}, fmt.Errorf("%w: pool %s: %v", chainlink.ErrUnavailable, id, err)
	}
	info, _ := c.idx.node(id)
	n, err := NodeOf(p, info.owner)
	if err != nil {
		return chainlink.Node{}, err
	}
	for _, staker := range info.stakers {
		sws, err := c.stakedWal(ctx, staker, id)
		if err != nil {
			return chainlink.Node{}, err
		}
		for _, sw := range sws {
			if w, ok := WithdrawalOf(sw.sw, staker); ok {
				n.Withdrawals = append(n.Withdrawals, w)
				continue
			}
			if n.Stakers == nil {
				n.Stakers = map[string]uint64{}
			}
			n.Stakers[staker.String()] += sw.sw.Principal
		}
	}
	slices.SortFunc(n.Withdrawals, func(a, b chainlink.Withdrawal) int {
		if a.CreditEpoch != b.CreditEpoch {
			return int(a.CreditEpoch) - int(b.CreditEpoch)
		}
		return a.Staker.Compare(b.Staker)
	})
	return n, nil
}

type stakedWalObj struct {
	o  *obj
	sw *StakedWal
}

func (c *Client) stakedWal(ctx context.Context, staker, node Address) ([]stakedWalObj, error) {
	objs, err := c.owned(ctx, staker, c.walrusType("staked_wal", "StakedWal"))
	if err != nil {
		return nil, err
	}
	var out []stakedWalObj
	for _, o := range objs {
		sw, err := UnmarshalStakedWal(o.bcs)
		if err != nil {
			return nil, fmt.Errorf("%w: StakedWal %s: %v", chainlink.ErrUnavailable, o.ref.ObjectID, err)
		}
		if sw.NodeID == node {
			out = append(out, stakedWalObj{o, sw})
		}
	}
	return out, nil
}

// Nodes implements chainlink.Chain: every node the index saw register.
func (c *Client) Nodes(ctx context.Context) ([]chainlink.Node, error) {
	if err := c.idx.catchUp(ctx); err != nil {
		return nil, err
	}
	ids := c.idx.nodeIDs()
	out := make([]chainlink.Node, 0, len(ids))
	for _, id := range ids {
		n, err := c.Node(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

// Blob implements chainlink.Chain.
func (c *Client) Blob(ctx context.Context, id chainlink.ID) (chainlink.Blob, error) {
	o, err := c.object(ctx, id)
	if err != nil {
		return chainlink.Blob{}, err
	}
	return c.blobOf(o)
}

func (c *Client) blobOf(o *obj) (chainlink.Blob, error) {
	if o.typ != c.walrusType("blob", "Blob") {
		return chainlink.Blob{}, fmt.Errorf("%w: %s is not a blob", chainlink.ErrNotFound, o.ref.ObjectID)
	}
	b, err := UnmarshalBlob(o.bcs)
	if err != nil {
		return chainlink.Blob{}, fmt.Errorf("%w: blob %s: %v", chainlink.ErrUnavailable, o.ref.ObjectID, err)
	}
	return BlobOf(b, o.owner), nil
}

// OwnedBlobs implements chainlink.Chain.
func (c *Client) OwnedBlobs(ctx context.Context, owner chainlink.ID) ([]chainlink.Blob, error) {
	objs, err := c.owned(ctx, owner, c.walrusType("blob", "Blob"))
	if err != nil {
		return nil, err
	}
	out := make([]chainlink.Blob, 0, len(objs))
	for _, o := range objs {
		b, err := c.blobOf(o)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	slices.SortFunc(out, func(a, b chainlink.Blob) int { return a.ObjectID.Compare(b.ObjectID) })
	return out, nil
}

// BlobStatus implements chainlink.Chain from the event index, once it has
// caught up with the chain (ErrIndexBehind if it cannot before ctx ends).
func (c *Client) BlobStatus(ctx context.Context, id codec.BlobID) (chainlink.BlobStatus, error) {
	if err := c.idx.catchUp(ctx); err != nil {
		return chainlink.BlobStatus{}, err
	}
	return c.idx.blobStatus(id), nil
}

// Events implements chainlink.Chain from the event index.
func (c *Client) Events(ctx context.Context, after uint64) (chainlink.EventStream, error) {
	return c.idx.stream(after), nil
}

// ---------------------------------------------------------------- transactions

// executed is what a successful transaction left: the objects it created
// or changed (latest versions) and its checkpoint.
type executed struct {
	digest     string
	objects    []*obj
	checkpoint uint64
}

func (x *executed) find(typ string) *obj {
	for _, o := range x.objects {
		if o.typ == typ {
			return o
		}
	}
	return nil
}

// gas picks the sender's SUI coin for gas.
func (c *Client) gas(ctx context.Context, sender Address) (GasData, error) {
	coins, err := c.owned(ctx, sender, suiCoinType)
	if err != nil {
		return GasData{}, err
	}
	if len(coins) == 0 {
		return GasData{}, fmt.Errorf("%w: %s has no SUI to pay gas", chainlink.ErrInsufficientFunds, sender)
	}
	price := c.cfg.GasPrice
	if price == 0 {
		price = defaultGasPrice
	}
	return GasData{Payment: []ObjectRef{coins[0].ref}, Owner: sender, Price: price, Budget: c.cfg.GasBudget}, nil
}

// walSource lists the sender's WAL coins for a coin-with-balance payment.
func (c *Client) walSource(ctx context.Context, sender Address) (WALPayment, error) {
	coins, err := c.owned(ctx, sender, c.walCoinType())
	if err != nil {
		return WALPayment{}, err
	}
	var src CoinSource
	for _, o := range coins {
		var bal uint64
		if len(o.bcs) == 40 { // Coin<T> {id, balance u64}
			bal = uint64(o.bcs[32]) | uint64(o.bcs[33])<<8 | uint64(o.bcs[34])<<16 | uint64(o.bcs[35])<<24 |
				uint64(o.bcs[36])<<32 | uint64(o.bcs[37])<<40 | uint64(o.bcs[38])<<48 | uint64(o.bcs[39])<<56
		}
		src.Coins = append(src.Coins, Coin{Ref: o.ref, Balance: bal})
	}
	return WALPayment{Source: src}, nil
}

// execute builds, signs and executes one transaction of key's address,
// maps a failure onto chainlink's sentinels and waits until the event
// index has read the transaction's checkpoint.
func (c *Client) execute(ctx context.Context, op string, key *account.Key, build func(Tx) (*TransactionData, error)) (*executed, error) {
	c.txMu.Lock()
	defer c.txMu.Unlock()
	sender := chainlink.AccountID(key)
	gas, err := c.gas(ctx, sender)
	if err != nil {
		return nil, fmt.Errorf("sui: %s: %w", op, err)
	}
	td, err := build(Tx{Sender: sender, Gas: gas})
	if err != nil {
		return nil, fmt.Errorf("sui: %s: %w", op, err)
	}
	raw := td.Marshal()
	sig := SignTransaction(key, raw)
	r, err := c.exec.ExecuteTransaction(ctx, &pb.ExecuteTransactionRequest{
		Transaction: &pb.Transaction{Bcs: &pb.Bcs{Name: proto.String("TransactionData"), Value: raw}},
		Signatures:  []*pb.UserSignature{{Bcs: &pb.Bcs{Name: proto.String("UserSignatureBytes"), Value: sig}}},
		ReadMask:    mask("digest", "effects", "checkpoint", "objects"),
	})
	if err != nil {
		return nil, rpcErr(op, err)
	}
	t := r.GetTransaction()
	if st := t.GetEffects().GetStatus(); !st.GetSuccess() {
		return nil, c.failure(op, st.GetError())
	}
	out := &executed{digest: t.GetDigest(), checkpoint: t.GetCheckpoint()}
	for _, o := range t.GetObjects().GetObjects() {
		x, err := objOf(o)
		if err != nil {
			return nil, err
		}
		out.objects = append(out.objects, x)
	}
	// A full node answers once the effects are final, often before the
	// transaction is in a checkpoint: then wait for its digest.
	if t.Checkpoint != nil {
		err = c.idx.waitCheckpoint(ctx, out.checkpoint)
	} else {
		err = c.idx.waitDigest(ctx, out.digest)
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// failure maps a failed execution status.
func (c *Client) failure(op string, e *pb.ExecutionError) error {
	if e == nil {
		return fmt.Errorf("sui: %s: %w: the transaction failed without an error", op, chainlink.ErrUnavailable)
	}
	switch e.GetKind() {
	case pb.ExecutionError_MOVE_ABORT:
		a := e.GetAbort()
		loc := a.GetLocation()
		pkg, _ := ParseAddress(loc.GetPackage())
		return fmt.Errorf("sui: %s: %w", op, MapAbort(pkg, loc.GetModule(), loc.GetFunctionName(), a.GetAbortCode(), c.packages...))
	case pb.ExecutionError_INSUFFICIENT_COIN_BALANCE, pb.ExecutionError_INSUFFICIENT_GAS:
		return fmt.Errorf("sui: %s: %w: %s", op, chainlink.ErrInsufficientFunds, e.GetDescription())
	}
	return fmt.Errorf("sui: %s: %w: %s (%s)", op, chainlink.ErrBadRequest, e.GetDescription(), e.GetKind())
}

// Faucet implements chainlink.Chain through a Sui faucet (FaucetURL):
// POST /v2/gas {"FixedAmountRequest":{"recipient"}} asks for gas; the
// extension field "wal_amount" asks a faucet that also mints WAL (the
// stand-in's) for amount WAL. A faucet that gives SUI only answers without
// "wal_credited", and Faucet then returns ErrNoFaucet: WAL must be bought
// with wal_exchange, which floe does not do by itself.
func (c *Client) Faucet(ctx context.Context, addr chainlink.ID, amount uint64) (chainlink.Account, error) {
	if c.cfg.FaucetURL == "" {
		return chainlink.Account{}, ErrNoFaucet
	}
	body, _ := json.Marshal(map[string]any{"FixedAmountRequest": map[string]string{"recipient": addr.String()}, "wal_amount": amount})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(c.cfg.FaucetURL, "/")+"/v2/gas", bytes.NewReader(body))
	if err != nil {
		return chainlink.Account{}, fmt.Errorf("%w: faucet: %v", chainlink.ErrBadRequest, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return chainlink.Account{}, fmt.Errorf("sui: faucet: %w: %v", chainlink.ErrUnavailable, err)
	}
	defer resp.Body.Close()
	var out struct {
		Status      any     `json:"status"`
		Error       string  `json:"error"`
		WALCredited *uint64 `json:"wal_credited"`
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode == http.StatusTooManyRequests {
		return chainlink.Account{}, fmt.Errorf("sui: faucet: %w", chainlink.ErrRateLimited)
	}
	if resp.StatusCode/100 != 2 || json.Unmarshal(b, &out) != nil || out.Error != "" {
		return chainlink.Account{}, fmt.Errorf("sui: faucet: %w: HTTP %d %s", chainlink.ErrUnavailable, resp.StatusCode, bytes.TrimSpace(b))
	}
	if out.WALCredited == nil || *out.WALCredited != amount {
		return chainlink.Account{}, fmt.Errorf("%w: the faucet gave SUI for gas but no WAL (exchange SUI for WAL with the deployment's wal_exchange)", ErrNoFaucet)
	}
	return c.Account(ctx, addr)
}

// RegisterNode implements chainlink.Chain: staking::register_candidate
// signed by the owner (the network address is the node's multiaddr with
// its peer ID, identity.go), then stake_with_pool for req.Stake.
func (c *Client) RegisterNode(ctx context.Context, req chainlink.RegisterNodeRequest) (chainlink.Node, error) {
	key, err := c.keyOf("RegisterNode", req.Owner)
	if err != nil {
		return chainlink.Node{}, err
	}
	if err := chainlink.CheckNetworkInfo(req.NetworkAddress, req.NetworkPublicKey); err != nil {
		return chainlink.Node{}, err
	}
	// The request's network key, else the configured one.
	netKey := req.NetworkPublicKey
	if len(netKey) == 0 {
		if c.cfg.NetworkKey == nil {
			return chainlink.Node{}, ErrNoNetworkKey
		}
		if netKey, err = NetworkPublicKey(&c.cfg.NetworkKey.PublicKey); err != nil {
			return chainlink.Node{}, err
		}
	}
	addr, err := FormatNodeAddress(req.PeerID, req.Addresses, req.NetworkAddress)
	if err != nil {
		return chainlink.Node{}, err
	}
	sys, st, err := c.inner(ctx)
	if err != nil {
		return chainlink.Node{}, err
	}
	if req.Stake > 0 {
		// Two transactions on Sui: refuse a stake the owner cannot pay
		// before registering, so a refused request leaves nothing behind.
		if a, err := c.Account(ctx, req.Owner); err != nil && !errors.Is(err, chainlink.ErrNotFound) {
			return chainlink.Node{}, err
		} else if a.Balance < req.Stake {
			return chainlink.Node{}, fmt.Errorf("%w: %s holds %d WAL, stake %d", chainlink.ErrInsufficientFunds, req.Owner, a.Balance, req.Stake)
		}
	}
	x, err := c.execute(ctx, "register_candidate", key, func(t Tx) (*TransactionData, error) {
		return c.dep.RegisterCandidateTx(t, Candidate{
			Name: req.Name, NetworkAddress: addr, PublicKey: req.PublicKey[:], ProofOfPossession: req.ProofOfPossession[:],
			NetworkPublicKey: netKey, StoragePrice: sys.StoragePricePerUnitSize, WritePrice: sys.WritePricePerUnitSize,
			NodeCapacity: max(sys.TotalCapacitySize/max(uint64(st.NShards), 1), 1<<40),
		})
	})
	if err != nil {
		return chainlink.Node{}, err
	}
	pool := x.find(c.walrusType("staking_pool", "StakingPool"))
	if pool == nil {
		return chainlink.Node{}, fmt.Errorf("%w: register_candidate created no StakingPool", chainlink.ErrUnavailable)
	}
	if req.Stake > 0 {
		return c.Stake(ctx, req.Owner, pool.ref.ObjectID, req.Stake)
	}
	return c.Node(ctx, pool.ref.ObjectID)
}

func (c *Client) nodeCap(ctx context.Context, node Address) (*account.Key, *obj, error) {
	if err := c.idx.catchUp(ctx); err != nil {
		return nil, nil, err
	}
	info, ok := c.idx.node(node)
	if !ok {
		return nil, nil, fmt.Errorf("%w: node %s", chainlink.ErrNotFound, node)
	}
	caps, err := c.owned(ctx, info.owner, c.walrusType("storage_node", "StorageNodeCap"))
	if err != nil {
		return nil, nil, err
	}
	for _, o := range caps {
		cp, err := UnmarshalStorageNodeCap(o.bcs)
		if err == nil && cp.NodeID == node {
			key, err := c.keyOf("node operation", info.owner)
			return key, o, err
		}
	}
	return nil, nil, fmt.Errorf("%w: %s holds no StorageNodeCap of node %s", chainlink.ErrNotOwner, info.owner, node)
}

// UpdateNode implements chainlink.Chain: staking::set_network_address with
// the node's StorageNodeCap, signed by its holder.
func (c *Client) UpdateNode(ctx context.Context, req chainlink.UpdateNodeRequest) (chainlink.Node, error) {
	if err := c.idx.catchUp(ctx); err != nil {
		return chainlink.Node{}, err
	}
	info, ok := c.idx.node(req.NodeID)
	if !ok {
		return chainlink.Node{}, fmt.Errorf("%w: node %s", chainlink.ErrNotFound, req.NodeID)
	}
	if info.owner != req.Owner {
		return chainlink.Node{}, fmt.Errorf("%w: %s does not hold node %s's capability", chainlink.ErrNotOwner, req.Owner, req.NodeID)
	}
	if err := chainlink.CheckNetworkInfo(req.NetworkAddress, req.NetworkPublicKey); err != nil {
		return chainlink.Node{}, err
	}
	addr, err := FormatNodeAddress(req.PeerID, req.Addresses, req.NetworkAddress)
	if err != nil {
		return chainlink.Node{}, err
	}
	if len(req.NetworkPublicKey) > 0 {
		// The adapter sets the network address only: the key registered
		// stays (Walrus's set_network_public_key is not used).
		cur, err := c.Node(ctx, req.NodeID)
		if err != nil {
			return chainlink.Node{}, err
		}
		if !bytes.Equal(cur.NetworkPublicKey, req.NetworkPublicKey) {
			return chainlink.Node{}, fmt.Errorf("%w: node %s: changing the network public key on Sui is not supported", chainlink.ErrBadRequest, req.NodeID)
		}
	}
	key, cp, err := c.nodeCap(ctx, req.NodeID)
	if err != nil {
		return chainlink.Node{}, err
	}
	if _, err := c.execute(ctx, "set_network_address", key, func(t Tx) (*TransactionData, error) {
		return c.dep.SetNetworkAddressTx(t, cp.ref, addr)
	}); err != nil {
		return chainlink.Node{}, err
	}
	return c.Node(ctx, req.NodeID)
}

// Stake implements chainlink.Chain: stake_with_pool with amount split off
// the staker's first WAL coin that holds it.
func (c *Client) Stake(ctx context.Context, staker, node chainlink.ID, amount uint64) (chainlink.Node, error) {
	key, err := c.keyOf("Stake", staker)
	if err != nil {
		return chainlink.Node{}, err
	}
	pay, err := c.walSource(ctx, staker)
	if err != nil {
		return chainlink.Node{}, err
	}
	var coin *ObjectRef
	for _, cn := range pay.Source.Coins {
		if cn.Balance >= amount {
			coin = &cn.Ref
			break
		}
	}
	if coin == nil {
		return chainlink.Node{}, fmt.Errorf("%w: %s has no WAL coin of %d", chainlink.ErrInsufficientFunds, staker, amount)
	}
	if _, err := c.execute(ctx, "stake_with_pool", key, func(t Tx) (*TransactionData, error) {
		return c.dep.StakeWithPoolTx(t, node, amount, *coin)
	}); err != nil {
		return chainlink.Node{}, err
	}
	return c.Node(ctx, node)
}

// Unstake implements chainlink.Chain: the first step of Sui's two,
// request_withdraw_stake on amount split off the staker's StakedWal of
// node. The WAL comes back only with withdraw_stake once the withdraw
// epoch has come (the stand-in credits it at that epoch change by itself,
// as the embedded ledger does).
func (c *Client) Unstake(ctx context.Context, staker, node chainlink.ID, amount uint64) (chainlink.Node, error) {
	key, err := c.keyOf("Unstake", staker)
	if err != nil {
		return chainlink.Node{}, err
	}
	if amount == 0 {
		return chainlink.Node{}, fmt.Errorf("%w: withdrawing nothing", chainlink.ErrBadRequest)
	}
	if err := c.idx.catchUp(ctx); err != nil {
		return chainlink.Node{}, err
	}
	if _, ok := c.idx.node(node); !ok {
		return chainlink.Node{}, fmt.Errorf("%w: node %s", chainlink.ErrNotFound, node)
	}
	sws, err := c.stakedWal(ctx, staker, node)
	if err != nil {
		return chainlink.Node{}, err
	}
	var pick *stakedWalObj
	for i := range sws {
		if sws[i].sw.State.Kind == StakedWalStaked && sws[i].sw.Principal >= amount {
			pick = &sws[i]
			break
		}
	}
	if pick == nil {
		return chainlink.Node{}, fmt.Errorf("%w: %s has no stake of %d with %s", chainlink.ErrInsufficientFunds, staker, amount, node)
	}
	if _, err := c.execute(ctx, "request_withdraw_stake", key, func(t Tx) (*TransactionData, error) {
		return c.dep.SplitAndRequestWithdrawTx(t, pick.o.ref, amount, pick.sw.Principal)
	}); err != nil {
		return chainlink.Node{}, err
	}
	return c.Node(ctx, node)
}

// AdvanceEpoch implements chainlink.Chain as far as Sui allows: it calls
// voting_end and initiate_epoch_change when they are due (both at once if
// both are) and returns an *EpochNotOverError otherwise. An epoch_duration
// of zero (the stand-in's "epochs advance on request") makes both due.
func (c *Client) AdvanceEpoch(ctx context.Context) (chainlink.EpochState, error) {
	key, err := c.defaultKey("AdvanceEpoch")
	if err != nil {
		return chainlink.EpochState{}, err
	}
	_, st, err := c.inner(ctx)
	if err != nil {
		return chainlink.EpochState{}, err
	}
	if st.EpochState.Kind == EpochStateSync {
		return chainlink.EpochState{}, fmt.Errorf("%w: epoch %d is still changing (sync weight %d)", ErrEpochNotOver, st.Epoch, st.EpochState.Weight)
	}
	now := uint64(time.Now().UnixMilli())
	start := st.EpochState.Timestamp
	voteAt, changeAt := start+st.EpochDuration/2, start+st.EpochDuration
	vote := st.EpochState.Kind == EpochStateDone
	if vote && now < voteAt {
		return chainlink.EpochState{}, &EpochNotOverError{Epoch: st.Epoch, Until: time.UnixMilli(int64(min(voteAt, 1<<62)))}
	}
	if now < changeAt {
		return chainlink.EpochState{}, &EpochNotOverError{Epoch: st.Epoch, Until: time.UnixMilli(int64(min(changeAt, 1<<62)))}
	}
	if _, err := c.execute(ctx, "epoch change", key, func(t Tx) (*TransactionData, error) {
		return c.dep.AdvanceEpochTx(t, vote, true)
	}); err != nil {
		return chainlink.EpochState{}, err
	}
	return c.EpochState(ctx)
}

// EpochSyncDone implements chainlink.Chain: staking::epoch_sync_done with
// the node's StorageNodeCap, signed by its holder.
func (c *Client) EpochSyncDone(ctx context.Context, node chainlink.ID, epoch uint32) error {
	key, cp, err := c.nodeCap(ctx, node)
	if err != nil {
		if errors.Is(err, chainlink.ErrNotFound) {
			return fmt.Errorf("%w: %v", chainlink.ErrNotInCommittee, err)
		}
		return err
	}
	_, err = c.execute(ctx, "epoch_sync_done", key, func(t Tx) (*TransactionData, error) {
		return c.dep.EpochSyncDoneTx(t, cp.ref, epoch)
	})
	return err
}

// ReserveSpace implements chainlink.Chain: system::reserve_space of size
// bytes (the storage amount, as the contract takes it).
func (c *Client) ReserveSpace(ctx context.Context, owner chainlink.ID, size uint64, epochsAhead uint32) (chainlink.Storage, uint64, error) {
	key, err := c.keyOf("ReserveSpace", owner)
	if err != nil {
		return chainlink.Storage{}, 0, err
	}
	sys, st, err := c.inner(ctx)
	if err != nil {
		return chainlink.Storage{}, 0, err
	}
	cost, err := mulCost(StorageUnits(size), sys.StoragePricePerUnitSize, uint64(epochsAhead))
	if err != nil {
		return chainlink.Storage{}, 0, err
	}
	pay, err := c.walSource(ctx, owner)
	if err != nil {
		return chainlink.Storage{}, 0, err
	}
	x, err := c.execute(ctx, "reserve_space", key, func(t Tx) (*TransactionData, error) {
		return c.dep.reserveRawTx(t, size, epochsAhead, owner, cost, pay)
	})
	if err != nil {
		return chainlink.Storage{}, 0, err
	}
	_ = st
	o := x.find(c.walrusType("storage_resource", "Storage"))
	if o == nil {
		return chainlink.Storage{}, 0, fmt.Errorf("%w: reserve_space created no Storage", chainlink.ErrUnavailable)
	}
	s, err := UnmarshalStorage(o.bcs)
	if err != nil {
		return chainlink.Storage{}, 0, fmt.Errorf("%w: %v", chainlink.ErrUnavailable, err)
	}
	return StorageOf(s, o.owner), cost, nil
}

// reserveRawTx is reserve_space of a raw storage amount (ReserveSpaceTx
// takes a blob size and reserves its encoded length).
func (d *Deployment) reserveRawTx(t Tx, amount uint64, epochs uint32, owner Address, cost uint64, wal WALPayment) (*TransactionData, error) {
	if epochs == 0 {
		return nil, fmt.Errorf("%w: storage needs at least one epoch", chainlink.ErrBadRequest)
	}
	b := d.newTx(&wal)
	storage := b.withWAL(cost, func(coin Argument) Argument {
		return b.call("system", "reserve_space", []Argument{
			b.system(), b.ptb.pure(u64Bytes(amount)), b.ptb.pure(u32Bytes(epochs)), coin,
		}, sigReserveSpace)
	})
	b.ptb.transferObjects([]Argument{storage}, b.ptb.pure(owner[:]))
	return b.build(t)
}

// RegisterBlob implements chainlink.Chain: the SDK's reserve_space +
// register_blob (or register_blob on req.StorageID), paid and signed by
// the payer (else the owner), the Blob transferred to the owner.
func (c *Client) RegisterBlob(ctx context.Context, req chainlink.RegisterBlobRequest) (chainlink.RegisterBlobResult, error) {
	payer := req.Payer
	if payer.IsZero() {
		payer = req.Owner
	}
	key, err := c.keyOf("RegisterBlob", payer)
	if err != nil {
		return chainlink.RegisterBlobResult{}, err
	}
	if req.EncodingType != EncodingRS2 {
		return chainlink.RegisterBlobResult{}, fmt.Errorf("%w: encoding type %d (Walrus registers RS2 only)", chainlink.ErrEncodingType, req.EncodingType)
	}
	sys, st, err := c.inner(ctx)
	if err != nil {
		return chainlink.RegisterBlobResult{}, err
	}
	prices := c.prices(sys, st)
	pay, err := c.walSource(ctx, payer)
	if err != nil {
		return chainlink.RegisterBlobResult{}, err
	}
	var res chainlink.RegisterBlobResult
	var build func(Tx) (*TransactionData, error)
	if req.StorageID.IsZero() {
		_, storageCost, writeCost, err := prices.Costs(req.Size, req.EpochsAhead)
		if err != nil {
			return res, err
		}
		res.StorageCost, res.WriteCost = storageCost, writeCost
		build = func(t Tx) (*TransactionData, error) {
			return c.dep.RegisterBlobTx(t, RegisterBlob{BlobID: req.BlobID, RootHash: req.RootHash, Size: req.Size, Deletable: req.Deletable,
				Epochs: req.EpochsAhead, Owner: req.Owner, Prices: prices}, pay)
		}
	} else {
		so, err := c.object(ctx, req.StorageID)
		if err != nil {
			return res, err
		}
		if so.owner != payer {
			return res, fmt.Errorf("%w: storage %s is not %s's", chainlink.ErrNotOwner, req.StorageID, payer)
		}
		_, _, writeCost, err := prices.Costs(req.Size, 1)
		if err != nil {
			return res, err
		}
		res.WriteCost = writeCost
		build = func(t Tx) (*TransactionData, error) {
			return c.dep.RegisterBlobWithStorageTx(t, RegisterWithStorage{Storage: so.ref, BlobID: req.BlobID, RootHash: req.RootHash,
				Size: req.Size, Deletable: req.Deletable, Owner: req.Owner, WriteCost: writeCost}, pay)
		}
	}
	x, err := c.execute(ctx, "register_blob", key, build)
	if err != nil {
		return res, err
	}
	o := x.find(c.walrusType("blob", "Blob"))
	if o == nil {
		return res, fmt.Errorf("%w: register_blob created no Blob", chainlink.ErrUnavailable)
	}
	if res.Blob, err = c.blobOf(o); err != nil {
		return res, err
	}
	return res, nil
}

// ownerKey reads an owned object and returns it with its owner's key.
func (c *Client) ownerKey(ctx context.Context, op string, id Address) (*obj, *account.Key, error) {
	o, err := c.object(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	key, err := c.keyOf(op, o.owner)
	return o, key, err
}

// CertifyBlob implements chainlink.Chain: system::certify_blob, signed by
// the blob's owner (the contract takes the Blob by &mut).
func (c *Client) CertifyBlob(ctx context.Context, blob chainlink.ID, cert chainlink.Certificate) (chainlink.Blob, error) {
	o, key, err := c.ownerKey(ctx, "CertifyBlob", blob)
	if err != nil {
		return chainlink.Blob{}, err
	}
	if _, err := c.execute(ctx, "certify_blob", key, func(t Tx) (*TransactionData, error) {
		return c.dep.CertifyBlobTx(t, o.ref, cert)
	}); err != nil {
		return chainlink.Blob{}, err
	}
	return c.Blob(ctx, blob)
}

// InvalidateBlobID implements chainlink.Chain, signed by Config.Key.
func (c *Client) InvalidateBlobID(ctx context.Context, cert chainlink.Certificate) (codec.BlobID, error) {
	key, err := c.defaultKey("InvalidateBlobID")
	if err != nil {
		return codec.BlobID{}, err
	}
	_, id, err := codec.ParseInvalidBlobID(cert.Message)
	if err != nil {
		return codec.BlobID{}, fmt.Errorf("%w: %v", chainlink.ErrBadMessage, err)
	}
	if _, err := c.execute(ctx, "invalidate_blob_id", key, func(t Tx) (*TransactionData, error) {
		return c.dep.InvalidateBlobIDTx(t, cert)
	}); err != nil {
		return codec.BlobID{}, err
	}
	return id, nil
}

// DeleteBlob implements chainlink.Chain.
func (c *Client) DeleteBlob(ctx context.Context, owner, blob chainlink.ID) (chainlink.Storage, error) {
	key, err := c.keyOf("DeleteBlob", owner)
	if err != nil {
		return chainlink.Storage{}, err
	}
	o, err := c.object(ctx, blob)
	if err != nil {
		return chainlink.Storage{}, err
	}
	if o.owner != owner {
		return chainlink.Storage{}, fmt.Errorf("%w: blob %s is not %s's", chainlink.ErrNotOwner, blob, owner)
	}
	x, err := c.execute(ctx, "delete_blob", key, func(t Tx) (*TransactionData, error) {
		return c.dep.DeleteBlobTx(t, o.ref, owner)
	})
	if err != nil {
		return chainlink.Storage{}, err
	}
	so := x.find(c.walrusType("storage_resource", "Storage"))
	if so == nil {
		return chainlink.Storage{}, fmt.Errorf("%w: delete_blob returned no Storage", chainlink.ErrUnavailable)
	}
	s, err := UnmarshalStorage(so.bcs)
	if err != nil {
		return chainlink.Storage{}, fmt.Errorf("%w: %v", chainlink.ErrUnavailable, err)
	}
	return StorageOf(s, so.owner), nil
}

// ExtendBlob implements chainlink.Chain: system::extend_blob takes the
// Blob by &mut, so on Sui only its owner can extend it: a payer that is
// not the owner gets ErrNotOwner.
func (c *Client) ExtendBlob(ctx context.Context, payer, blob chainlink.ID, epochs uint32) (chainlink.Blob, uint64, error) {
	key, err := c.keyOf("ExtendBlob", payer)
	if err != nil {
		return chainlink.Blob{}, 0, err
	}
	o, err := c.object(ctx, blob)
	if err != nil {
		return chainlink.Blob{}, 0, err
	}
	b, err := c.blobOf(o)
	if err != nil {
		return chainlink.Blob{}, 0, err
	}
	if o.owner != payer {
		return chainlink.Blob{}, 0, fmt.Errorf("%w: on Sui only the owner of blob %s can extend it (extend_blob takes &mut Blob)", chainlink.ErrNotOwner, blob)
	}
	sys, _, err := c.inner(ctx)
	if err != nil {
		return chainlink.Blob{}, 0, err
	}
	cost, err := mulCost(StorageUnits(b.Storage.Size), sys.StoragePricePerUnitSize, uint64(epochs))
	if err != nil {
		return chainlink.Blob{}, 0, err
	}
	pay, err := c.walSource(ctx, payer)
	if err != nil {
		return chainlink.Blob{}, 0, err
	}
	if _, err := c.execute(ctx, "extend_blob", key, func(t Tx) (*TransactionData, error) {
		return c.dep.ExtendBlobTx(t, ExtendBlob{Blob: o.ref, StorageSize: b.Storage.Size, Epochs: epochs, StoragePrice: sys.StoragePricePerUnitSize}, pay)
	}); err != nil {
		return chainlink.Blob{}, 0, err
	}
	nb, err := c.Blob(ctx, blob)
	return nb, cost, err
}

// WithdrawStake is the second step of unstaking on Sui, which
// chainlink.Chain does not have: staking::withdraw_stake of every
// StakedWal of staker that is withdrawing and whose withdraw epoch has
// come, the WAL transferred to staker. It returns the principal
// withdrawn, and ErrNotWithdrawable when nothing is due (the stand-in
// credits withdrawals at the epoch change by itself, as the ledger does,
// so there nothing ever is).
func (c *Client) WithdrawStake(ctx context.Context, staker chainlink.ID) (uint64, error) {
	key, err := c.keyOf("WithdrawStake", staker)
	if err != nil {
		return 0, err
	}
	_, st, err := c.inner(ctx)
	if err != nil {
		return 0, err
	}
	objs, err := c.owned(ctx, staker, c.walrusType("staked_wal", "StakedWal"))
	if err != nil {
		return 0, err
	}
	var total uint64
	for _, o := range objs {
		sw, err := UnmarshalStakedWal(o.bcs)
		if err != nil {
			return total, fmt.Errorf("%w: StakedWal %s: %v", chainlink.ErrUnavailable, o.ref.ObjectID, err)
		}
		if sw.State.Kind != StakedWalWithdrawing || sw.State.WithdrawEpoch > st.Epoch {
			continue
		}
		if _, err := c.execute(ctx, "withdraw_stake", key, func(t Tx) (*TransactionData, error) {
			return c.dep.WithdrawStakeTx(t, o.ref)
		}); err != nil {
			return total, err
		}
		total += sw.Principal
	}
	if total == 0 {
		return 0, fmt.Errorf("%w: %s has no stake due for withdrawal in epoch %d", ErrNotWithdrawable, staker, st.Epoch)
	}
	return total, nil
}
