package sui

import (
	"errors"
	"fmt"

	"floe/chainlink"
)

// ptb builds a programmable transaction the way @mysten/sui 2.33.1's
// Transaction / TransactionDataBuilder does, so that the same sequence of
// calls yields the same bytes:
//
//   - inputs are appended in the order they are first named; an object
//     named twice is one input (the SDK dedups object inputs by ID), a pure
//     value is a new input every time (the SDK never dedups them);
//   - a shared object named by ID becomes a SharedObject input that is
//     mutable if any Move call takes it by value or &mut, or any
//     SplitCoins/MergeCoins/TransferObjects/MakeMoveVec uses it
//     (core-resolver.mjs isUsedAsMutable), immutable if every use is &;
//   - a coin of a given balance (the SDK's coinWithBalance intent) is a
//     placeholder command until Build, which expands it exactly as
//     CoinWithBalance.mjs resolveCoinBalance does (see resolveCoins).
type ptb struct {
	inputs []ptbInput
	cmds   []ptbCmd
}

type ptbInput struct {
	arg CallArg
	// byID: a shared object named by ID whose mutability Build derives
	// from its uses.
	byID bool
}

// paramRef is how a Move function takes a parameter.
type paramRef uint8

const (
	byValue paramRef = iota
	byImmRef
	byMutRef
)

type ptbCmd struct {
	Command
	// params are the reference kinds of the Move function's parameters
	// (TxContext dropped), for calls the SDK resolves through
	// getMoveFunction; nil for calls whose inputs are all resolved.
	params []paramRef
	// intent, if set, makes this command a coin-with-balance placeholder.
	intent *coinIntent
}

type coinIntent struct {
	coinType TypeTag
	amount   uint64
}

// pure adds a pure input.
func (p *ptb) pure(bcs []byte) Argument {
	p.inputs = append(p.inputs, ptbInput{arg: PureArg(bcs)})
	return Input(len(p.inputs) - 1)
}

// object adds an object input, or returns the existing input of the same
// object. A SharedObject given with Mutable set ORs into an existing one,
// as the SDK does for shared object refs.
func (p *ptb) object(arg CallArg, byID bool) Argument {
	id, _ := arg.objectID()
	for i := range p.inputs {
		if have, ok := p.inputs[i].arg.objectID(); ok && have == id {
			in := &p.inputs[i]
			if in.arg.ObjectKind == ObjectShared && arg.ObjectKind == ObjectShared && !byID {
				in.arg.Shared.Mutable = in.arg.Shared.Mutable || arg.Shared.Mutable
			}
			return Input(i)
		}
	}
	p.inputs = append(p.inputs, ptbInput{arg: arg, byID: byID})
	return Input(len(p.inputs) - 1)
}

// sharedByID names a shared object by its ID (tx.object(id) in the SDK).
func (p *ptb) sharedByID(s SharedObject) Argument {
	s.Mutable = false
	return p.object(SharedArg(s), true)
}

// owned names an owned object (tx.object(id) resolved to its ref).
func (p *ptb) owned(r ObjectRef) Argument { return p.object(OwnedArg(r), false) }

func (p *ptb) add(c ptbCmd) Argument {
	p.cmds = append(p.cmds, c)
	return Result(len(p.cmds) - 1)
}

func (p *ptb) moveCall(pkg Address, module, function string, typeArgs []TypeTag, args []Argument, params []paramRef) Argument {
	return p.add(ptbCmd{
		Command: Command{Kind: CmdMoveCall, Call: &MoveCall{Package: pkg, Module: module, Function: function, TypeArgs: typeArgs, Args: args}},
		params:  params,
	})
}

func (p *ptb) splitCoins(coin Argument, amounts ...Argument) Argument {
	return p.add(ptbCmd{Command: Command{Kind: CmdSplitCoins, Coin: coin, Amounts: amounts}})
}

func (p *ptb) transferObjects(objs []Argument, to Argument) Argument {
	return p.add(ptbCmd{Command: Command{Kind: CmdTransferObjects, Objects: objs, Address: to}})
}

// coinWithBalance adds a placeholder for a Coin<coinType> holding amount.
func (p *ptb) coinWithBalance(coinType TypeTag, amount uint64) Argument {
	return p.add(ptbCmd{intent: &coinIntent{coinType: coinType, amount: amount}})
}

// Coin is an owned coin and its balance.
type Coin struct {
	Ref     ObjectRef `json:"ref"`
	Balance uint64    `json:"balance,string"`
}

// CoinSource is what the sender holds of a coin type, for the
// coin-with-balance placeholders: its coins, in the order a listCoins call
// returns them (all are used, merged into the first), and its address
// balance.
type CoinSource struct {
	Coins          []Coin
	AddressBalance uint64
}

// Build errors.
var (
	// ErrInsufficientCoins: the coins and address balance of a type do not
	// cover what the transaction takes. It is a chainlink.ErrInsufficientFunds.
	ErrInsufficientCoins = fmt.Errorf("%w: not enough coins of the type", chainlink.ErrInsufficientFunds)
	errTooLarge          = errors.New("sui: transaction exceeds Sui's limits")
)

// build resolves the placeholders and returns the transaction data.
func (p *ptb) build(sender Address, gas GasData, sources map[string]CoinSource) (*TransactionData, error) {
	if err := p.resolveCoins(sender, sources); err != nil {
		return nil, err
	}
	p.resolveMutability()
	if len(p.inputs) > maxInputs || len(p.cmds) > maxCommands {
		return nil, fmt.Errorf("%w: %d inputs, %d commands", errTooLarge, len(p.inputs), len(p.cmds))
	}
	t := &TransactionData{Sender: sender, Gas: gas}
	for _, in := range p.inputs {
		t.Kind.Inputs = append(t.Kind.Inputs, in.arg)
	}
	for _, c := range p.cmds {
		t.Kind.Commands = append(t.Kind.Commands, c.Command)
	}
	if n := len(t.Marshal()); n > MaxTxBytes {
		return nil, fmt.Errorf("%w: %d bytes", errTooLarge, n)
	}
	return t, nil
}

// resolveMutability sets Mutable on shared objects named by ID
// (isUsedAsMutable).
func (p *ptb) resolveMutability() {
	for i := range p.inputs {
		in := &p.inputs[i]
		if !in.byID || in.arg.ObjectKind != ObjectShared {
			continue
		}
		mutable := false
		for _, c := range p.cmds {
			switch c.Kind {
			case CmdMoveCall:
				if c.params == nil {
					continue
				}
				for k, a := range c.Call.Args {
					if a.Kind == ArgInput && int(a.Index) == i && k < len(c.params) && c.params[k] != byImmRef {
						mutable = true
					}
				}
			case CmdSplitCoins, CmdMergeCoins, CmdTransferObjects, CmdMakeMoveVec:
				c.forArgs(func(a *Argument) {
					if a.Kind == ArgInput && int(a.Index) == i {
						mutable = true
					}
				})
			}
		}
		in.arg.Shared.Mutable = mutable
		in.byID = false
	}
}

// forArgs calls f on every argument of the command.
func (c *ptbCmd) forArgs(f func(*Argument)) {
	if c.intent != nil {
		return // a placeholder has no arguments
	}
	switch c.Kind {
	case CmdMoveCall:
		for i := range c.Call.Args {
			f(&c.Call.Args[i])
		}
	case CmdTransferObjects:
		for i := range c.Objects {
			f(&c.Objects[i])
		}
		f(&c.Address)
	case CmdSplitCoins:
		f(&c.Coin)
		for i := range c.Amounts {
			f(&c.Amounts[i])
		}
	case CmdMergeCoins:
		f(&c.Coin)
		for i := range c.Objects {
			f(&c.Objects[i])
		}
	case CmdMakeMoveVec:
		for i := range c.Objects {
			f(&c.Objects[i])
		}
	case CmdUpgrade:
		f(&c.Coin)
	}
}

// replace replaces command index with repl and remaps the arguments of the
// commands after it, as TransactionDataBuilder.replaceCommand(index, repl,
// result) does with a result argument: uses of the replaced command's
// result become result, later command indices shift.
func (p *ptb) replace(index int, repl []ptbCmd, result Argument) error {
	diff := len(repl) - 1
	cmds := make([]ptbCmd, 0, len(p.cmds)+diff)
	cmds = append(cmds, p.cmds[:index]...)
	cmds = append(cmds, repl...)
	cmds = append(cmds, p.cmds[index+1:]...)
	p.cmds = cmds
	var err error
	for ci := index + len(repl); ci < len(p.cmds); ci++ {
		c := &p.cmds[ci]
		if c.Kind == CmdMoveCall && c.intent == nil {
			// Copy: the call may be shared with the caller's template.
			call := *c.Call
			call.Args = append([]Argument(nil), call.Args...)
			c.Call = &call
		}
		c.forArgs(func(a *Argument) {
			switch a.Kind {
			case ArgResult:
				if int(a.Index) == index {
					*a = result
				} else if int(a.Index) > index {
					a.Index = uint16(int(a.Index) + diff)
				}
			case ArgNestedResult:
				if int(a.Index) == index {
					if a.Sub != 0 {
						err = fmt.Errorf("sui: NestedResult(%d,%d) of a coin placeholder", a.Index, a.Sub)
					}
					*a = result
				} else if int(a.Index) > index {
					a.Index = uint16(int(a.Index) + diff)
				}
			}
		})
	}
	return err
}

// maxMergeSources is how many coins the SDK merges per MergeCoins.
const maxMergeSources = 500

// resolveCoins expands the coin-with-balance placeholders as @mysten/sui
// 2.33.1 (CoinWithBalance.mjs resolveCoinBalance) does, for coin outputs of
// non-SUI types:
//
//   - a placeholder of amount 0 becomes 0x2::coin::zero<T>();
//   - the others of one type T are resolved together, at the first one:
//     if the address balance covers their total, a FundsWithdrawal input
//     of the total and 0x2::coin::redeem_funds<T> make the source coin;
//     otherwise every coin of the source (minus coins already used as
//     inputs) is added as an input, plus a redeem_funds of the shortfall
//     from the address balance if the coins are not enough; the first
//     coin is the base, the others are merged into it (500 per
//     MergeCoins);
//   - one SplitCoins of the base gives every placeholder its amount, in
//     placeholder order;
//   - then, if the address balance was drawn on, 0x2::coin::send_funds<T>
//     returns the base to the sender's address balance; else, if the
//     coins held exactly the total, 0x2::coin::destroy_zero<T> destroys
//     the emptied base; else the base stays with the sender;
//   - the placeholder commands are replaced, the first by these commands,
//     the others by nothing, and their results by the split coins.
func (p *ptb) resolveCoins(sender Address, sources map[string]CoinSource) error {
	type typeInfo struct {
		coinType TypeTag
		total    uint64
		amounts  []uint64
	}
	var order []string
	types := map[string]*typeInfo{}
	for i := range p.cmds {
		in := p.cmds[i].intent
		if in == nil {
			continue
		}
		if in.amount == 0 {
			p.cmds[i] = ptbCmd{Command: Command{Kind: CmdMoveCall, Call: &MoveCall{
				Package: SuiFramework, Module: "coin", Function: "zero", TypeArgs: []TypeTag{in.coinType},
			}}}
			continue
		}
		key := in.coinType.String()
		ti := types[key]
		if ti == nil {
			ti = &typeInfo{coinType: in.coinType}
			types[key] = ti
			order = append(order, key)
		}
		if ti.total+in.amount < ti.total {
			return fmt.Errorf("%w: coin amounts overflow u64", chainlink.ErrBadRequest)
		}
		ti.total += in.amount
		ti.amounts = append(ti.amounts, in.amount)
	}
	if len(order) == 0 {
		return nil
	}
	used := map[Address]bool{}
	for _, in := range p.inputs {
		if id, ok := in.arg.objectID(); ok {
			used[id] = true
		}
	}
	coins := map[string][]Coin{}
	for _, key := range order {
		src := sources[key]
		var have uint64
		for _, c := range src.Coins {
			if used[c.Ref.ObjectID] {
				continue
			}
			coins[key] = append(coins[key], c)
			have += c.Balance
		}
		if have+src.AddressBalance < types[key].total || have+src.AddressBalance < have {
			return fmt.Errorf("%w: %s: need %d, have %d in coins and %d in the address balance",
				ErrInsufficientCoins, key, types[key].total, have, src.AddressBalance)
		}
	}

	type state struct {
		results []Argument
		next    int
	}
	done := map[string]*state{}
	for index := 0; index < len(p.cmds); {
		in := p.cmds[index].intent
		if in == nil {
			index++
			continue
		}
		key := in.coinType.String()
		st := done[key]
		if st != nil {
			result := st.results[st.next]
			st.next++
			if err := p.replace(index, nil, result); err != nil {
				return err
			}
			continue
		}
		ti := types[key]
		src := sources[key]
		typeArgs := []TypeTag{ti.coinType}
		var repl []ptbCmd
		var srcs []Argument
		usedAB := false
		exact := false
		withdraw := func(amount uint64) {
			p.inputs = append(p.inputs, ptbInput{arg: CallArg{Kind: CallArgFundsWithdrawal, Withdrawal: FundsWithdrawal{
				MaxAmount: amount, Type: ti.coinType, From: WithdrawFrom{Kind: WithdrawFromSender},
			}}})
			repl = append(repl, ptbCmd{Command: Command{Kind: CmdMoveCall, Call: &MoveCall{
				Package: SuiFramework, Module: "coin", Function: "redeem_funds", TypeArgs: typeArgs,
				Args: []Argument{Input(len(p.inputs) - 1)},
			}}})
			srcs = append(srcs, Result(index+len(repl)-1))
			usedAB = true
		}
		if src.AddressBalance >= ti.total {
			withdraw(ti.total)
		} else {
			var loaded uint64
			for _, c := range coins[key] {
				p.inputs = append(p.inputs, ptbInput{arg: OwnedArg(c.Ref)})
				srcs = append(srcs, Input(len(p.inputs)-1))
				loaded += c.Balance
			}
			var short uint64
			if ti.total > loaded {
				short = ti.total - loaded
			}
			exact = loaded+short == ti.total
			if short > 0 {
				withdraw(short)
			}
		}
		base := srcs[0]
		rest := srcs[1:]
		for i := 0; i < len(rest); i += maxMergeSources {
			repl = append(repl, ptbCmd{Command: Command{Kind: CmdMergeCoins, Coin: base,
				Objects: append([]Argument(nil), rest[i:min(i+maxMergeSources, len(rest))]...)}})
		}
		split := index + len(repl)
		var amounts []Argument
		for _, a := range ti.amounts {
			amounts = append(amounts, p.pure(u64Bytes(a)))
		}
		repl = append(repl, ptbCmd{Command: Command{Kind: CmdSplitCoins, Coin: base, Amounts: amounts}})
		st = &state{}
		for i := range ti.amounts {
			st.results = append(st.results, NestedResult(split, i))
		}
		if usedAB {
			repl = append(repl, ptbCmd{Command: Command{Kind: CmdMoveCall, Call: &MoveCall{
				Package: SuiFramework, Module: "coin", Function: "send_funds", TypeArgs: typeArgs,
				Args: []Argument{base, p.pure(sender[:])},
			}}})
		} else if exact {
			repl = append(repl, ptbCmd{Command: Command{Kind: CmdMoveCall, Call: &MoveCall{
				Package: SuiFramework, Module: "coin", Function: "destroy_zero", TypeArgs: typeArgs,
				Args: []Argument{base},
			}}})
		}
		done[key] = st
		result := st.results[st.next]
		st.next++
		if err := p.replace(index, repl, result); err != nil {
			return err
		}
		index += len(repl)
	}
	return nil
}
