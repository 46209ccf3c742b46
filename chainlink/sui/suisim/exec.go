package suisim

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	pb "github.com/block-vision/sui-go-sdk/pb/sui/rpc/v2"

	"floe/chainlink"
	"floe/chainlink/bls"
	"floe/chainlink/sui"
	"floe/codec"
)

// txError is a transaction that executed and failed: its effects say so.
type txError struct {
	kind     pb.ExecutionError_ExecutionErrorKind
	module   string
	function string
	code     uint64
	pkg      Address
	err      error
}

func (e *txError) Error() string { return e.err.Error() }

func unsupported(format string, args ...any) *txError {
	return &txError{kind: pb.ExecutionError_FEATURE_NOT_YET_SUPPORTED, err: fmt.Errorf("suisim: "+format, args...)}
}

// abortOf is the Walrus abort (abortTable) the contracts raise for a
// ledger error.
func (s *Sim) abortOf(function string, err error) *txError {
	for _, a := range abortTable {
		if errors.Is(err, a.err) {
			pkg := s.pkg
			if a.framework {
				pkg = sui.SuiFramework
			}
			fn := function
			if a.function != "" {
				fn = a.function
			}
			return &txError{kind: pb.ExecutionError_MOVE_ABORT, module: a.module, function: fn, code: a.code, pkg: pkg, err: err}
		}
	}
	return &txError{kind: pb.ExecutionError_MOVE_ABORT, module: "floe_sim", function: function, code: sui.SimAbortUnknown, pkg: s.pkg, err: err}
}

// val is a symbolic value of the programmable transaction.
type val struct {
	kind   string // pure, shared, coin, storage, blob, meta, cap, staked, none
	pure   []byte
	id     Address // input object
	obj    *ownedObj
	amount uint64
	known  bool // amount known (a split)
	node   Address
	// reserve: a storage this transaction reserves; register: a blob it
	// registers; storage: a Storage the ledger returned.
	reserve  *reserveReq
	register *chainlink.RegisterBlobRequest
	sent     *Address
}

type reserveReq struct {
	amount uint64
	epochs uint32
	used   bool
}

type ownedObj struct {
	o         *object
	node      Address
	principal uint64
	staked    bool
}

// op is the one ledger operation a transaction adds up to.
type op struct {
	name string
	run  func(ctx context.Context) ([]*object, []*object, error) // created, mutated
}

func (v *val) u64() (uint64, bool) {
	if v.kind != "pure" || len(v.pure) != 8 {
		return 0, false
	}
	return binary.LittleEndian.Uint64(v.pure), true
}
func (v *val) u32() (uint32, bool) {
	if v.kind != "pure" || len(v.pure) != 4 {
		return 0, false
	}
	return binary.LittleEndian.Uint32(v.pure), true
}
func (v *val) addr() (Address, bool) {
	var a Address
	if v.kind != "pure" || len(v.pure) != 32 {
		return a, false
	}
	copy(a[:], v.pure)
	return a, true
}

// vecU8 reads a BCS vector<u8> (or String) pure value.
func (v *val) vecU8() ([]byte, bool) {
	if v.kind != "pure" {
		return nil, false
	}
	n, k := uint64(0), 0
	for shift := 0; k < len(v.pure) && shift < 35; shift += 7 {
		b := v.pure[k]
		k++
		n |= uint64(b&0x7f) << shift
		if b < 0x80 {
			if uint64(len(v.pure)-k) != n {
				return nil, false
			}
			return v.pure[k:], true
		}
	}
	return nil, false
}

// execute runs a verified transaction of sender; s.mu is held.
func (s *Sim) execute(ctx context.Context, td *sui.TransactionData) ([]*object, []*object, error) {
	sender := td.Sender
	for _, g := range td.Gas.Payment {
		if g.ObjectID != s.gasCoin(sender).id {
			return nil, nil, &txError{kind: pb.ExecutionError_INVALID_GAS_OBJECT, err: fmt.Errorf("suisim: gas object %s is not %s's gas coin", g.ObjectID, sender)}
		}
	}
	owned, err := s.owned(ctx, sender, "")
	if err != nil {
		return nil, nil, err
	}
	byID := map[Address]*ownedObj{}
	nodes, err := s.l.Nodes(ctx)
	if err != nil {
		return nil, nil, err
	}
	for _, o := range owned {
		byID[o.id] = &ownedObj{o: o}
	}
	for i := range nodes {
		n := &nodes[i]
		if n.Owner == sender {
			byID[s.capOf(n, 0).id].node = n.ID
		}
		for _, sw := range s.stakedWalsOf(n, sender) {
			if oo := byID[sw.obj.id]; oo != nil {
				oo.node, oo.principal, oo.staked = sw.node, sw.principal, sw.staked
			}
		}
	}
	inputs := make([]*val, len(td.Kind.Inputs))
	for i, in := range td.Kind.Inputs {
		switch {
		case in.Kind == sui.CallArgPure:
			inputs[i] = &val{kind: "pure", pure: in.Pure}
		case in.Kind == sui.CallArgObject && in.ObjectKind == sui.ObjectShared:
			inputs[i] = &val{kind: "shared", id: in.Shared.ObjectID}
		case in.Kind == sui.CallArgObject && in.ObjectKind == sui.ObjectImmOrOwned:
			oo := byID[in.Ref.ObjectID]
			if oo == nil {
				return nil, nil, &txError{kind: pb.ExecutionError_INVALID_TRANSFER_OBJECT, err: fmt.Errorf("%w: input object %s is not owned by the sender %s", chainlink.ErrNotOwner, in.Ref.ObjectID, sender)}
			}
			inputs[i] = &val{kind: "object", id: in.Ref.ObjectID, obj: oo, node: oo.node, amount: oo.principal}
		default:
			return nil, nil, unsupported("input %d of kind %d", i, in.Kind)
		}
	}
	results := make([][]*val, len(td.Kind.Commands))
	arg := func(a sui.Argument) (*val, error) {
		switch a.Kind {
		case sui.ArgInput:
			if int(a.Index) < len(inputs) {
				return inputs[a.Index], nil
			}
		case sui.ArgResult, sui.ArgNestedResult:
			if int(a.Index) < len(results) && int(a.Sub) < len(results[a.Index]) {
				return results[a.Index][a.Sub], nil
			}
		case sui.ArgGasCoin:
			return &val{kind: "coin"}, nil
		}
		return nil, &txError{kind: pb.ExecutionError_COMMAND_ARGUMENT_ERROR, err: fmt.Errorf("suisim: bad argument %v", a)}
	}
	var ops []op
	for ci, cmd := range td.Kind.Commands {
		switch cmd.Kind {
		case sui.CmdSplitCoins:
			for _, am := range cmd.Amounts {
				a, err := arg(am)
				if err != nil {
					return nil, nil, err
				}
				n, ok := a.u64()
				if !ok {
					return nil, nil, unsupported("SplitCoins amount is not a pure u64")
				}
				results[ci] = append(results[ci], &val{kind: "coin", amount: n, known: true})
			}
		case sui.CmdMergeCoins:
		case sui.CmdTransferObjects:
			to, err := arg(cmd.Address)
			if err != nil {
				return nil, nil, err
			}
			addr, ok := to.addr()
			if !ok {
				return nil, nil, unsupported("TransferObjects to a non-address")
			}
			for _, oa := range cmd.Objects {
				v, err := arg(oa)
				if err != nil {
					return nil, nil, err
				}
				v.sent = &addr
			}
		case sui.CmdMoveCall:
			mc := cmd.Call
			args := make([]*val, len(mc.Args))
			for i, a := range mc.Args {
				v, err := arg(a)
				if err != nil {
					return nil, nil, err
				}
				args[i] = v
			}
			res, o, err := s.call(sender, mc, args, &ops)
			if err != nil {
				return nil, nil, err
			}
			if res != nil {
				results[ci] = []*val{res}
			}
			if o != nil {
				ops = append(ops, *o)
			}
		default:
			return nil, nil, unsupported("command %s", cmd.Kind)
		}
	}
	if len(ops) != 1 {
		return nil, nil, unsupported("a transaction of %d ledger operations (the stand-in runs exactly one)", len(ops))
	}
	return ops[0].run(ctx)
}

func (s *Sim) want(mc *sui.MoveCall, args []*val, n int) error {
	if len(args) != n {
		return &txError{kind: pb.ExecutionError_ARITY_MISMATCH, err: fmt.Errorf("suisim: %s::%s takes %d arguments, got %d", mc.Module, mc.Function, n, len(args))}
	}
	return nil
}

func badArg(mc *sui.MoveCall, i int) error {
	return &txError{kind: pb.ExecutionError_COMMAND_ARGUMENT_ERROR, err: fmt.Errorf("suisim: %s::%s argument %d has the wrong type", mc.Module, mc.Function, i)}
}

func certOf(mc *sui.MoveCall, args []*val) (chainlink.Certificate, error) {
	var c chainlink.Certificate
	sig, ok1 := args[0].vecU8()
	bitmap, ok2 := args[1].vecU8()
	msg, ok3 := args[2].vecU8()
	if !ok1 || !ok2 || !ok3 || len(sig) != len(bls.Signature{}) {
		return c, badArg(mc, 1)
	}
	copy(c.Signature[:], sig)
	c.Signers, c.Message = bitmap, msg
	return c, nil
}

// call interprets one Move call: its result value and, for a call that
// changes the ledger, the operation.
func (s *Sim) call(sender Address, mc *sui.MoveCall, args []*val, ops *[]op) (*val, *op, error) {
	if mc.Package == sui.SuiFramework && mc.Module == "coin" {
		switch mc.Function {
		case "destroy_zero", "send_funds":
			return nil, nil, nil
		case "redeem_funds":
			return &val{kind: "coin"}, nil, nil
		}
	}
	if mc.Package != s.pkg {
		return nil, nil, &txError{kind: pb.ExecutionError_FUNCTION_NOT_FOUND, err: fmt.Errorf("suisim: no function %s::%s::%s", mc.Package, mc.Module, mc.Function)}
	}
	fn := mc.Module + "::" + mc.Function
	switch fn {
	case "system::reserve_space":
		if err := s.want(mc, args, 4); err != nil {
			return nil, nil, err
		}
		amount, ok1 := args[1].u64()
		epochs, ok2 := args[2].u32()
		if !ok1 || !ok2 {
			return nil, nil, badArg(mc, 1)
		}
		v := &val{kind: "storage", reserve: &reserveReq{amount: amount, epochs: epochs}}
		return v, &op{name: "reserve_space", run: func(ctx context.Context) ([]*object, []*object, error) {
			if v.reserve.used {
				return nil, nil, nil
			}
			if v.sent == nil {
				return nil, nil, &txError{kind: pb.ExecutionError_UNUSED_VALUE_WITHOUT_DROP, err: errors.New("suisim: the reserved Storage is neither used nor transferred")}
			}
			if *v.sent != sender {
				return nil, nil, unsupported("storage bought for another address")
			}
			st, _, err := s.l.ReserveSpace(ctx, sender, amount, epochs)
			if err != nil {
				return nil, nil, s.abortOf("reserve_space", err)
			}
			if err := s.putStorage(ctx, &st); err != nil {
				return nil, nil, err
			}
			return []*object{s.storageObj(&st)}, nil, nil
		}}, nil
	case "system::register_blob":
		if err := s.want(mc, args, 8); err != nil {
			return nil, nil, err
		}
		idb, ok1 := args[2].pure, args[2].kind == "pure" && len(args[2].pure) == 32
		root, ok2 := args[3].pure, args[3].kind == "pure" && len(args[3].pure) == 32
		size, ok3 := args[4].u64()
		enc := args[5]
		del := args[6]
		if !ok1 || !ok2 || !ok3 || enc.kind != "pure" || len(enc.pure) != 1 || del.kind != "pure" || len(del.pure) != 1 || del.pure[0] > 1 {
			return nil, nil, badArg(mc, 2)
		}
		req := &chainlink.RegisterBlobRequest{Payer: sender, Size: size, EncodingType: enc.pure[0], Deletable: del.pure[0] == 1}
		copy(req.BlobID[:], idb)
		copy(req.RootHash[:], root)
		st := args[1]
		switch {
		case st.kind == "storage" && st.reserve != nil:
			st.reserve.used = true
			// reserve_space + register_blob is one ledger operation.
			for i, o := range *ops {
				if o.name == "reserve_space" {
					*ops = append((*ops)[:i], (*ops)[i+1:]...)
					break
				}
			}
			// The ledger reserves the encoded length itself.
			req.EpochsAhead = st.reserve.epochs
			enc, err := sui.EncodedBlobLength(size, s.nShards())
			if err == nil && enc != st.reserve.amount {
				return nil, nil, s.abortOf("register_blob", chainlink.ErrStorageTooSmall)
			}
		case st.kind == "object" && st.obj.o.typ == s.typ("storage_resource", "Storage"):
			req.StorageID = st.id
		default:
			return nil, nil, badArg(mc, 1)
		}
		v := &val{kind: "blob", register: req}
		return v, &op{name: "register_blob", run: func(ctx context.Context) ([]*object, []*object, error) {
			if v.sent == nil {
				return nil, nil, &txError{kind: pb.ExecutionError_UNUSED_VALUE_WITHOUT_DROP, err: errors.New("suisim: the registered Blob is not transferred")}
			}
			req.Owner = *v.sent
			r, err := s.l.RegisterBlob(ctx, *req)
			if err != nil {
				return nil, nil, s.abortOf("register_blob", err)
			}
			if !req.StorageID.IsZero() {
				s.dropStorage(ctx, req.StorageID)
			}
			return []*object{s.blobObj(&r.Blob)}, nil, nil
		}}, nil
	case "system::certify_blob":
		if err := s.want(mc, args, 5); err != nil {
			return nil, nil, err
		}
		if args[1].kind != "object" {
			return nil, nil, badArg(mc, 1)
		}
		cert, err := certOf(mc, args[2:])
		if err != nil {
			return nil, nil, err
		}
		id := args[1].id
		return nil, &op{name: "certify_blob", run: func(ctx context.Context) ([]*object, []*object, error) {
			b, err := s.l.CertifyBlob(ctx, id, cert)
			if err != nil {
				return nil, nil, s.abortOf("certify_blob", err)
			}
			return nil, []*object{s.blobObj(&b)}, nil
		}}, nil
	case "system::invalidate_blob_id":
		if err := s.want(mc, args, 4); err != nil {
			return nil, nil, err
		}
		cert, err := certOf(mc, args[1:])
		if err != nil {
			return nil, nil, err
		}
		return nil, &op{name: "invalidate_blob_id", run: func(ctx context.Context) ([]*object, []*object, error) {
			if _, err := s.l.InvalidateBlobID(ctx, cert); err != nil {
				return nil, nil, s.abortOf("invalidate_blob_id", err)
			}
			return nil, nil, nil
		}}, nil
	case "system::delete_blob":
		if err := s.want(mc, args, 2); err != nil {
			return nil, nil, err
		}
		if args[1].kind != "object" {
			return nil, nil, badArg(mc, 1)
		}
		id := args[1].id
		v := &val{kind: "storage"}
		return v, &op{name: "delete_blob", run: func(ctx context.Context) ([]*object, []*object, error) {
			if v.sent == nil || *v.sent != sender {
				return nil, nil, unsupported("the Storage of a deleted blob must go back to the sender")
			}
			st, err := s.l.DeleteBlob(ctx, sender, id)
			if err != nil {
				return nil, nil, s.abortOf("delete_blob", err)
			}
			if err := s.putStorage(ctx, &st); err != nil {
				return nil, nil, err
			}
			return []*object{s.storageObj(&st)}, nil, nil
		}}, nil
	case "system::extend_blob":
		if err := s.want(mc, args, 4); err != nil {
			return nil, nil, err
		}
		epochs, ok := args[2].u32()
		if args[1].kind != "object" || !ok {
			return nil, nil, badArg(mc, 1)
		}
		id := args[1].id
		return nil, &op{name: "extend_blob", run: func(ctx context.Context) ([]*object, []*object, error) {
			b, _, err := s.l.ExtendBlob(ctx, sender, id, epochs)
			if err != nil {
				return nil, nil, s.abortOf("extend_blob", err)
			}
			return nil, []*object{s.blobObj(&b)}, nil
		}}, nil
	case "node_metadata::new":
		return &val{kind: "meta"}, nil, nil
	case "staking::register_candidate":
		if err := s.want(mc, args, 11); err != nil {
			return nil, nil, err
		}
		name, ok1 := args[1].vecU8()
		addr, ok2 := args[2].vecU8()
		pk, ok3 := args[4].vecU8()
		netKey, ok4 := args[5].vecU8()
		pop, ok5 := args[6].vecU8()
		if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || args[3].kind != "meta" {
			return nil, nil, badArg(mc, 1)
		}
		if len(netKey) != sui.NetworkPublicKeySize {
			return nil, nil, &txError{kind: pb.ExecutionError_MOVE_ABORT, module: "storage_node", function: "new", code: 0, pkg: s.pkg, err: errors.New("suisim: network key")}
		}
		if len(pk) != len(bls.PublicKey{}) || len(pop) != len(bls.Signature{}) {
			return nil, nil, s.abortOf("register_candidate", chainlink.ErrInvalidPublicKey)
		}
		peer, addrs := sui.ParseNetworkAddress(string(addr))
		req := chainlink.RegisterNodeRequest{Owner: sender, Name: string(name), PeerID: peer, Addresses: addrs}
		if _, err := sui.ParseNetworkPublicKey(netKey); err == nil {
			// The ledger's record carries the REST URL apart and the key
			// (one the contract accepts but no client could pin stays out).
			req.PeerID, req.Addresses, req.NetworkAddress = sui.ParseNodeAddress(string(addr))
			req.NetworkPublicKey = slices.Clone(netKey)
		}
		copy(req.PublicKey[:], pk)
		copy(req.ProofOfPossession[:], pop)
		v := &val{kind: "cap"}
		return v, &op{name: "register_candidate", run: func(ctx context.Context) ([]*object, []*object, error) {
			if v.sent == nil {
				return nil, nil, &txError{kind: pb.ExecutionError_UNUSED_VALUE_WITHOUT_DROP, err: errors.New("suisim: the StorageNodeCap is not transferred")}
			}
			if *v.sent != sender {
				return nil, nil, unsupported("a StorageNodeCap for another address")
			}
			n, err := s.l.RegisterNode(ctx, req)
			if err != nil {
				return nil, nil, s.abortOf("register_candidate", err)
			}
			if err := s.putNetKey(ctx, n.ID, netKey); err != nil {
				return nil, nil, err
			}
			es, err := s.l.EpochState(ctx)
			if err != nil {
				return nil, nil, err
			}
			pool, err := s.poolObj(&n, es)
			if err != nil {
				return nil, nil, err
			}
			return []*object{pool, s.capOf(&n, 0)}, nil, nil
		}}, nil
	case "staking::stake_with_pool":
		if err := s.want(mc, args, 3); err != nil {
			return nil, nil, err
		}
		node, ok := args[2].addr()
		if !ok || args[1].kind != "coin" || !args[1].known {
			return nil, nil, badArg(mc, 1)
		}
		amount := args[1].amount
		return &val{kind: "staked"}, &op{name: "stake_with_pool", run: func(ctx context.Context) ([]*object, []*object, error) {
			n, err := s.l.Stake(ctx, sender, node, amount)
			if err != nil {
				return nil, nil, s.abortOf("stake_with_pool", err)
			}
			var out []*object
			for _, sw := range s.stakedWalsOf(&n, sender) {
				if sw.staked {
					out = append(out, sw.obj)
				}
			}
			return out, nil, nil
		}}, nil
	case "staked_wal::split":
		if err := s.want(mc, args, 2); err != nil {
			return nil, nil, err
		}
		amount, ok := args[1].u64()
		if !ok || args[0].kind != "object" || !args[0].obj.staked {
			return nil, nil, badArg(mc, 0)
		}
		if amount > args[0].obj.principal {
			return nil, nil, s.abortOf("split", chainlink.ErrInsufficientFunds)
		}
		return &val{kind: "staked", node: args[0].node, amount: amount, known: true}, nil, nil
	case "staking::request_withdraw_stake":
		if err := s.want(mc, args, 2); err != nil {
			return nil, nil, err
		}
		sw := args[1]
		if sw.kind == "object" && (sw.obj.node.IsZero() || !sw.obj.staked) || sw.kind != "object" && sw.kind != "staked" {
			return nil, nil, badArg(mc, 1)
		}
		node, amount := sw.node, sw.amount
		return nil, &op{name: "request_withdraw_stake", run: func(ctx context.Context) ([]*object, []*object, error) {
			if _, err := s.l.Unstake(ctx, sender, node, amount); err != nil {
				return nil, nil, s.abortOf("request_withdraw_stake", err)
			}
			return nil, nil, nil
		}}, nil
	case "staking::withdraw_stake":
		return nil, nil, s.abortOf("withdraw_stake", sui.ErrNotWithdrawable)
	case "staking::voting_end":
		return nil, nil, nil
	case "staking::initiate_epoch_change", "staking::initiate_epoch_change_v2":
		return nil, &op{name: "initiate_epoch_change", run: func(ctx context.Context) ([]*object, []*object, error) {
			if _, err := s.l.AdvanceEpoch(ctx); err != nil {
				return nil, nil, s.abortOf("initiate_epoch_change", err)
			}
			return nil, nil, nil
		}}, nil
	case "staking::epoch_sync_done":
		if err := s.want(mc, args, 4); err != nil {
			return nil, nil, err
		}
		epoch, ok := args[2].u32()
		if !ok || args[1].kind != "object" || args[1].obj.node.IsZero() {
			return nil, nil, badArg(mc, 1)
		}
		node := args[1].obj.node
		return nil, &op{name: "epoch_sync_done", run: func(ctx context.Context) ([]*object, []*object, error) {
			if err := s.l.EpochSyncDone(ctx, node, epoch); err != nil {
				return nil, nil, s.abortOf("epoch_sync_done", err)
			}
			return nil, nil, nil
		}}, nil
	case "staking::set_network_address":
		if err := s.want(mc, args, 3); err != nil {
			return nil, nil, err
		}
		addr, ok := args[2].vecU8()
		if !ok || args[1].kind != "object" || args[1].obj.node.IsZero() {
			return nil, nil, badArg(mc, 1)
		}
		node := args[1].obj.node
		return nil, &op{name: "set_network_address", run: func(ctx context.Context) ([]*object, []*object, error) {
			req := chainlink.UpdateNodeRequest{Owner: sender, NodeID: node}
			req.PeerID, req.Addresses = sui.ParseNetworkAddress(string(addr))
			if cur, err := s.l.Node(ctx, node); err == nil && len(cur.NetworkPublicKey) > 0 {
				// As at registration: the REST URL apart, the key kept.
				req.PeerID, req.Addresses, req.NetworkAddress = sui.ParseNodeAddress(string(addr))
				req.NetworkPublicKey = cur.NetworkPublicKey
			}
			n, err := s.l.UpdateNode(ctx, req)
			if err != nil {
				return nil, nil, s.abortOf("set_network_address", err)
			}
			es, err := s.l.EpochState(ctx)
			if err != nil {
				return nil, nil, err
			}
			pool, err := s.poolObj(&n, es)
			if err != nil {
				return nil, nil, err
			}
			return nil, []*object{pool}, nil
		}}, nil
	}
	return nil, nil, &txError{kind: pb.ExecutionError_FUNCTION_NOT_FOUND, err: fmt.Errorf("suisim: %s is not a function the stand-in runs", fn)}
}

func (s *Sim) nShards() int {
	es, err := s.l.EpochState(context.Background())
	if err != nil {
		return 0
	}
	return es.NShards
}

func (s *Sim) putStorage(ctx context.Context, st *chainlink.Storage) error {
	b, _ := json.Marshal(st)
	if err := s.ds.Put(ctx, datastoreKey(prefixStorage, st.ID), b); err != nil {
		return fmt.Errorf("suisim: remember storage: %w", err)
	}
	c := *st
	s.storages[st.ID] = &c
	return nil
}

func (s *Sim) dropStorage(ctx context.Context, id Address) {
	delete(s.storages, id)
	if err := s.ds.Delete(ctx, datastoreKey(prefixStorage, id)); err != nil {
		s.log.Warn("suisim: forget storage", "id", id, "err", err)
	}
}

func (s *Sim) putNetKey(ctx context.Context, node Address, key []byte) error {
	if err := s.ds.Put(ctx, datastoreKey(prefixNetKey, node), key); err != nil {
		return fmt.Errorf("suisim: remember network key: %w", err)
	}
	s.netKeys[node] = append([]byte(nil), key...)
	return nil
}

// abortTable maps ledger errors onto the aborts the Walrus contracts
// raise for the same rule (the inverse of chainlink/sui's table), the
// more specific sentinels first. Rules the contracts do not have get
// floe_sim aborts (chainlink/sui errors.go).
var abortTable = []struct {
	err       error
	framework bool
	module    string
	function  string
	code      uint64
}{
	{chainlink.ErrBlobIDMismatch, false, "blob", "new", 6},
	{chainlink.ErrAlreadyCertified, false, "blob", "", 5},
	{chainlink.ErrNotCertified, false, "blob", "", 0},
	{chainlink.ErrNotDeletable, false, "blob", "", 1},
	{chainlink.ErrExpired, false, "blob", "", 2},
	{chainlink.ErrStorageTooSmall, false, "blob", "", 3},
	{chainlink.ErrMessageMismatch, false, "blob", "certify_with_certified_msg", 6},
	{chainlink.ErrQuorum, false, "bls_aggregate", "", 2},
	{chainlink.ErrInvalidSignature, false, "bls_aggregate", "", 1},
	{chainlink.ErrBadBitmap, false, "bls_aggregate", "", 0},
	{chainlink.ErrBadMessage, false, "messages", "", 0},
	{chainlink.ErrWrongEpoch, false, "messages", "", 1},
	{chainlink.ErrTooFarAhead, false, "system_state_inner", "", 2},
	{chainlink.ErrBlobTooLarge, false, "system_state_inner", "", 1},
	{chainlink.ErrEncodingType, false, "encoding", "", 0},
	{chainlink.ErrSyncDone, false, "staking_inner", "", 2},
	{chainlink.ErrNotInCommittee, false, "staking_inner", "", 4},
	{chainlink.ErrNoStake, false, "staking_inner", "", 3},
	{sui.ErrNotWithdrawable, false, "staking_pool", "", 10},
	{chainlink.ErrNotOwner, false, "staking_pool", "", 15},
	{chainlink.ErrInsufficientFunds, true, "balance", "", 2},
	{chainlink.ErrAlreadyRegistered, false, "floe_sim", "", sui.SimAbortAlreadyRegistered},
	{chainlink.ErrNoCommittee, false, "floe_sim", "", sui.SimAbortNoCommittee},
	{chainlink.ErrInvalidPublicKey, false, "floe_sim", "", sui.SimAbortInvalidPublicKey},
	{chainlink.ErrNotFound, false, "staking_inner", "", 8},
	{chainlink.ErrBadRequest, false, "storage_resource", "", 0},
}

var _ = codec.EncodingTypeRS2
