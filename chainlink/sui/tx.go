package sui

import (
	"fmt"
)

// The BCS form of Sui's TransactionData (sui-types transaction.rs; the same
// layout as @mysten/sui's bcs.TransactionData). Enum variants are listed in
// their wire order; the numbers are the BCS variant indices.

// CallArgKind is the variant of a CallArg.
type CallArgKind uint8

// CallArg variants.
const (
	CallArgPure            CallArgKind = 0
	CallArgObject          CallArgKind = 1
	CallArgFundsWithdrawal CallArgKind = 2
)

// ObjectArgKind is the variant of an ObjectArg.
type ObjectArgKind uint8

// ObjectArg variants.
const (
	ObjectImmOrOwned ObjectArgKind = 0
	ObjectShared     ObjectArgKind = 1
	ObjectReceiving  ObjectArgKind = 2
)

// CallArg is one input of a programmable transaction.
type CallArg struct {
	Kind CallArgKind
	// Pure is the BCS of a pure value.
	Pure []byte
	// Object: Ref for ImmOrOwned and Receiving, Shared for shared objects.
	ObjectKind ObjectArgKind
	Ref        ObjectRef
	Shared     SharedObject
	// Withdrawal is a FundsWithdrawal from an address balance.
	Withdrawal FundsWithdrawal
}

// FundsWithdrawal reserves up to MaxAmount of a balance type from an
// address balance (Sui's address balances; @mysten/sui's coinWithBalance
// uses them for coin::redeem_funds).
type FundsWithdrawal struct {
	MaxAmount uint64
	// Type is the balance's coin type (WithdrawalType::Balance(T)).
	Type TypeTag
	From WithdrawFrom
}

// WithdrawFrom says whose address balance pays.
type WithdrawFrom struct {
	Kind      WithdrawFromKind
	Funder    Address // SenderAllowance
	Allowance Address // SenderAllowance
}

// WithdrawFromKind is the variant of WithdrawFrom.
type WithdrawFromKind uint8

// WithdrawFrom variants.
const (
	WithdrawFromSender          WithdrawFromKind = 0
	WithdrawFromSponsor         WithdrawFromKind = 1
	WithdrawFromSenderAllowance WithdrawFromKind = 2
)

// PureArg returns a Pure input holding bcs.
func PureArg(bcs []byte) CallArg { return CallArg{Kind: CallArgPure, Pure: bcs} }

// OwnedArg returns an ImmOrOwnedObject input.
func OwnedArg(r ObjectRef) CallArg {
	return CallArg{Kind: CallArgObject, ObjectKind: ObjectImmOrOwned, Ref: r}
}

// SharedArg returns a SharedObject input.
func SharedArg(s SharedObject) CallArg {
	return CallArg{Kind: CallArgObject, ObjectKind: ObjectShared, Shared: s}
}

// objectID returns the object an input names, if any.
func (a *CallArg) objectID() (Address, bool) {
	if a.Kind != CallArgObject {
		return Address{}, false
	}
	if a.ObjectKind == ObjectShared {
		return a.Shared.ObjectID, true
	}
	return a.Ref.ObjectID, true
}

// ArgumentKind is the variant of an Argument.
type ArgumentKind uint8

// Argument variants.
const (
	ArgGasCoin      ArgumentKind = 0
	ArgInput        ArgumentKind = 1
	ArgResult       ArgumentKind = 2
	ArgNestedResult ArgumentKind = 3
)

// Argument refers to the gas coin, an input, the result of a command, or
// one value of a command's results.
type Argument struct {
	Kind ArgumentKind
	// Index is the input or command index; Sub the position within a
	// command's results (NestedResult).
	Index uint16
	Sub   uint16
}

// Input, Result and NestedResult build Arguments.
func Input(i int) Argument  { return Argument{Kind: ArgInput, Index: uint16(i)} }
func Result(i int) Argument { return Argument{Kind: ArgResult, Index: uint16(i)} }
func NestedResult(i, j int) Argument {
	return Argument{Kind: ArgNestedResult, Index: uint16(i), Sub: uint16(j)}
}

// GasCoin is the gas coin argument.
var GasCoin = Argument{Kind: ArgGasCoin}

func (a Argument) String() string {
	switch a.Kind {
	case ArgGasCoin:
		return "GasCoin"
	case ArgInput:
		return fmt.Sprintf("Input(%d)", a.Index)
	case ArgResult:
		return fmt.Sprintf("Result(%d)", a.Index)
	default:
		return fmt.Sprintf("NestedResult(%d,%d)", a.Index, a.Sub)
	}
}

// CommandKind is the variant of a Command.
type CommandKind uint8

// Command variants.
const (
	CmdMoveCall        CommandKind = 0
	CmdTransferObjects CommandKind = 1
	CmdSplitCoins      CommandKind = 2
	CmdMergeCoins      CommandKind = 3
	CmdPublish         CommandKind = 4
	CmdMakeMoveVec     CommandKind = 5
	CmdUpgrade         CommandKind = 6
	numCommandKinds
)

var commandNames = [...]string{"MoveCall", "TransferObjects", "SplitCoins", "MergeCoins", "Publish", "MakeMoveVec", "Upgrade"}

func (k CommandKind) String() string {
	if int(k) < len(commandNames) {
		return commandNames[k]
	}
	return fmt.Sprintf("command(%d)", k)
}

// MoveCall calls package::module::function<TypeArgs>(Args).
type MoveCall struct {
	Package  Address
	Module   string
	Function string
	TypeArgs []TypeTag
	Args     []Argument
}

// Command is one command of a programmable transaction. Which fields are
// set depends on Kind:
//
//	MoveCall         Call
//	TransferObjects  Objects, Address
//	SplitCoins       Coin, Amounts
//	MergeCoins       Coin (destination), Objects (sources)
//	MakeMoveVec      VecType (nil: inferred), Objects (elements)
//	Publish          Modules, Dependencies
//	Upgrade          Modules, Dependencies, UpgradePackage, Coin (ticket)
type Command struct {
	Kind           CommandKind
	Call           *MoveCall
	Objects        []Argument
	Address        Argument
	Coin           Argument
	Amounts        []Argument
	VecType        *TypeTag
	Modules        [][]byte
	Dependencies   []Address
	UpgradePackage Address
}

// ProgrammableTransaction is a PTB: inputs and the commands that use them.
type ProgrammableTransaction struct {
	Inputs   []CallArg
	Commands []Command
}

// GasData pays for a transaction: the coins, their owner, price and budget.
type GasData struct {
	Payment []ObjectRef
	Owner   Address
	Price   uint64
	Budget  uint64
}

// ExpirationKind is the variant of a TransactionExpiration.
type ExpirationKind uint8

// TransactionExpiration variants.
const (
	ExpireNone        ExpirationKind = 0
	ExpireEpoch       ExpirationKind = 1
	ExpireValidDuring ExpirationKind = 2
	ExpireValidity    ExpirationKind = 3
)

// Expiration is when a transaction stops being valid. floe builds
// transactions without one (ExpireNone), as the SDK does when gas coins
// are given; the other forms are decoded so that any transaction can be
// read.
type Expiration struct {
	Kind  ExpirationKind
	Epoch uint64 // ExpireEpoch
	// ValidDuring / Validity.
	MinEpoch, MaxEpoch, MinTimestamp, MaxTimestamp *uint64
	Chain                                          Digest
	Nonce                                          uint32
	// Validity only.
	AllowedProposers *AllowedProposers
}

// AllowedProposers restricts which validators may propose the transaction.
type AllowedProposers struct {
	Epoch     uint64
	Proposers []uint32
}

// TransactionData is TransactionData::V1 with a programmable transaction
// kind: the only kind a user signs.
type TransactionData struct {
	Kind       ProgrammableTransaction
	Sender     Address
	Gas        GasData
	Expiration Expiration
}

// Bounds of a decoded transaction: Sui's protocol limits (max_input_objects
// 2048, max_programmable_tx_commands 1024, max_pure_argument_size 16 KiB,
// max_gas_payment_objects 256, max_modules_in_publish 64) or looser.
const (
	MaxTxBytes       = 128 << 10
	maxInputs        = 2048
	maxCommands      = 1024
	maxPureBytes     = 16 << 10
	maxGasPayment    = 256
	maxCallArgs      = 1024
	maxModules       = 64
	maxProposers     = 1024
	maxDependencies  = 256
	maxCommandOperds = 2048
)

// Marshal returns the BCS of the transaction data: the bytes that are
// signed and whose digest names the transaction.
func (t *TransactionData) Marshal() []byte {
	var e encoder
	e.uleb(0) // TransactionData::V1
	e.uleb(0) // TransactionKind::ProgrammableTransaction
	t.Kind.encode(&e)
	e.fixed(t.Sender[:])
	e.uleb(len(t.Gas.Payment))
	for i := range t.Gas.Payment {
		t.Gas.Payment[i].encode(&e)
	}
	e.fixed(t.Gas.Owner[:])
	e.u64(t.Gas.Price)
	e.u64(t.Gas.Budget)
	t.Expiration.encode(&e)
	return e.bytes()
}

// UnmarshalTransactionData decodes the BCS of a TransactionData. It accepts
// only V1 with a programmable transaction (what users sign; system
// transactions are never submitted), and refuses anything past Sui's
// limits or with trailing bytes.
func UnmarshalTransactionData(b []byte) (*TransactionData, error) {
	if len(b) > MaxTxBytes {
		return nil, fmt.Errorf("%w: transaction of %d bytes, at most %d", ErrBCS, len(b), MaxTxBytes)
	}
	d := newDecoder(b)
	if v := d.variant("TransactionData", 1); d.err() == nil && v != 0 {
		d.fail("TransactionData version %d", v)
	}
	// TransactionKind has 11 variants; only ProgrammableTransaction (0) is
	// a user transaction.
	if k := d.variant("TransactionKind", 11); d.err() == nil && k != 0 {
		d.fail("transaction kind %d is not a programmable transaction", k)
	}
	t := new(TransactionData)
	t.Kind.decode(d)
	d.fixed(t.Sender[:])
	n := d.length("gas payment", maxGasPayment, 73)
	if n > 0 {
		t.Gas.Payment = make([]ObjectRef, n)
		for i := range t.Gas.Payment {
			t.Gas.Payment[i].decode(d)
		}
	}
	d.fixed(t.Gas.Owner[:])
	t.Gas.Price = d.u64()
	t.Gas.Budget = d.u64()
	t.Expiration.decode(d)
	if err := d.done(); err != nil {
		return nil, err
	}
	return t, nil
}

func (p *ProgrammableTransaction) encode(e *encoder) {
	e.uleb(len(p.Inputs))
	for i := range p.Inputs {
		p.Inputs[i].encode(e)
	}
	e.uleb(len(p.Commands))
	for i := range p.Commands {
		p.Commands[i].encode(e)
	}
}

func (p *ProgrammableTransaction) decode(d *decoder) {
	n := d.length("inputs", maxInputs, 2)
	if n > 0 {
		p.Inputs = make([]CallArg, n)
		for i := range p.Inputs {
			p.Inputs[i].decode(d)
		}
	}
	n = d.length("commands", maxCommands, 2)
	if n > 0 {
		p.Commands = make([]Command, n)
		for i := range p.Commands {
			p.Commands[i].decode(d)
		}
	}
}

func (a *CallArg) encode(e *encoder) {
	e.uleb(int(a.Kind))
	switch a.Kind {
	case CallArgPure:
		e.vecU8(a.Pure)
	case CallArgObject:
		e.uleb(int(a.ObjectKind))
		switch a.ObjectKind {
		case ObjectShared:
			e.fixed(a.Shared.ObjectID[:])
			e.u64(a.Shared.InitialSharedVersion)
			e.bool(a.Shared.Mutable)
		default:
			a.Ref.encode(e)
		}
	case CallArgFundsWithdrawal:
		w := &a.Withdrawal
		e.uleb(0) // Reservation::MaxAmountU64
		e.u64(w.MaxAmount)
		e.uleb(0) // WithdrawalType::Balance
		w.Type.encode(e)
		e.uleb(int(w.From.Kind))
		if w.From.Kind == WithdrawFromSenderAllowance {
			e.fixed(w.From.Funder[:])
			e.fixed(w.From.Allowance[:])
		}
	}
}

func (a *CallArg) decode(d *decoder) {
	a.Kind = CallArgKind(d.variant("CallArg", 3))
	switch a.Kind {
	case CallArgPure:
		a.Pure = d.vecU8("pure argument", maxPureBytes)
	case CallArgObject:
		a.ObjectKind = ObjectArgKind(d.variant("ObjectArg", 3))
		switch a.ObjectKind {
		case ObjectShared:
			d.fixed(a.Shared.ObjectID[:])
			a.Shared.InitialSharedVersion = d.u64()
			a.Shared.Mutable = d.bool()
		default:
			a.Ref.decode(d)
		}
	case CallArgFundsWithdrawal:
		w := &a.Withdrawal
		d.variant("Reservation", 1)
		w.MaxAmount = d.u64()
		d.variant("WithdrawalType", 1)
		w.Type.decode(d, 0)
		w.From.Kind = WithdrawFromKind(d.variant("WithdrawFrom", 3))
		if w.From.Kind == WithdrawFromSenderAllowance {
			d.fixed(w.From.Funder[:])
			d.fixed(w.From.Allowance[:])
		}
	}
}

func (a Argument) encode(e *encoder) {
	e.uleb(int(a.Kind))
	switch a.Kind {
	case ArgInput, ArgResult:
		e.u16(a.Index)
	case ArgNestedResult:
		e.u16(a.Index)
		e.u16(a.Sub)
	}
}

func (a *Argument) decode(d *decoder) {
	a.Kind = ArgumentKind(d.variant("Argument", 4))
	switch a.Kind {
	case ArgInput, ArgResult:
		a.Index = d.u16()
	case ArgNestedResult:
		a.Index = d.u16()
		a.Sub = d.u16()
	}
}

func encodeArgs(e *encoder, args []Argument) {
	e.uleb(len(args))
	for _, a := range args {
		a.encode(e)
	}
}

func decodeArgs(d *decoder, what string, max int) []Argument {
	n := d.length(what, max, 1)
	if n == 0 {
		return nil
	}
	args := make([]Argument, n)
	for i := range args {
		args[i].decode(d)
	}
	return args
}

func (c *Command) encode(e *encoder) {
	e.uleb(int(c.Kind))
	switch c.Kind {
	case CmdMoveCall:
		m := c.Call
		e.fixed(m.Package[:])
		e.str(m.Module)
		e.str(m.Function)
		e.uleb(len(m.TypeArgs))
		for i := range m.TypeArgs {
			m.TypeArgs[i].encode(e)
		}
		encodeArgs(e, m.Args)
	case CmdTransferObjects:
		encodeArgs(e, c.Objects)
		c.Address.encode(e)
	case CmdSplitCoins:
		c.Coin.encode(e)
		encodeArgs(e, c.Amounts)
	case CmdMergeCoins:
		c.Coin.encode(e)
		encodeArgs(e, c.Objects)
	case CmdPublish:
		encodeModules(e, c.Modules, c.Dependencies)
	case CmdMakeMoveVec:
		e.option(c.VecType != nil)
		if c.VecType != nil {
			c.VecType.encode(e)
		}
		encodeArgs(e, c.Objects)
	case CmdUpgrade:
		encodeModules(e, c.Modules, c.Dependencies)
		e.fixed(c.UpgradePackage[:])
		c.Coin.encode(e)
	}
}

func encodeModules(e *encoder, modules [][]byte, deps []Address) {
	e.uleb(len(modules))
	for _, m := range modules {
		e.vecU8(m)
	}
	e.uleb(len(deps))
	for _, a := range deps {
		e.fixed(a[:])
	}
}

func (c *Command) decode(d *decoder) {
	c.Kind = CommandKind(d.variant("Command", int(numCommandKinds)))
	switch c.Kind {
	case CmdMoveCall:
		m := new(MoveCall)
		d.fixed(m.Package[:])
		m.Module = decodeIdentifier(d, "module")
		m.Function = decodeIdentifier(d, "function")
		if n := d.length("type arguments", maxTypeParams, 1); n > 0 {
			m.TypeArgs = make([]TypeTag, n)
			for i := range m.TypeArgs {
				m.TypeArgs[i].decode(d, 0)
			}
		}
		m.Args = decodeArgs(d, "move call arguments", maxCallArgs)
		c.Call = m
	case CmdTransferObjects:
		c.Objects = decodeArgs(d, "objects to transfer", maxCommandOperds)
		c.Address.decode(d)
	case CmdSplitCoins:
		c.Coin.decode(d)
		c.Amounts = decodeArgs(d, "split amounts", maxCommandOperds)
	case CmdMergeCoins:
		c.Coin.decode(d)
		c.Objects = decodeArgs(d, "coins to merge", maxCommandOperds)
	case CmdPublish:
		c.Modules, c.Dependencies = decodeModules(d)
	case CmdMakeMoveVec:
		if d.option() {
			c.VecType = new(TypeTag)
			c.VecType.decode(d, 0)
		}
		c.Objects = decodeArgs(d, "vector elements", maxCommandOperds)
	case CmdUpgrade:
		c.Modules, c.Dependencies = decodeModules(d)
		d.fixed(c.UpgradePackage[:])
		c.Coin.decode(d)
	}
}

func decodeModules(d *decoder) ([][]byte, []Address) {
	n := d.length("modules", maxModules, 1)
	var mods [][]byte
	for range n {
		mods = append(mods, d.vecU8("module", MaxTxBytes))
	}
	n = d.length("dependencies", maxDependencies, 32)
	var deps []Address
	for range n {
		var a Address
		d.fixed(a[:])
		deps = append(deps, a)
	}
	return mods, deps
}

func decodeOptU64(d *decoder) *uint64 {
	if !d.option() {
		return nil
	}
	v := d.u64()
	return &v
}

func encodeOptU64(e *encoder, v *uint64) {
	e.option(v != nil)
	if v != nil {
		e.u64(*v)
	}
}

func (x *Expiration) encode(e *encoder) {
	e.uleb(int(x.Kind))
	switch x.Kind {
	case ExpireEpoch:
		e.u64(x.Epoch)
	case ExpireValidDuring, ExpireValidity:
		encodeOptU64(e, x.MinEpoch)
		encodeOptU64(e, x.MaxEpoch)
		encodeOptU64(e, x.MinTimestamp)
		encodeOptU64(e, x.MaxTimestamp)
		e.vecU8(x.Chain[:])
		e.u32(x.Nonce)
		if x.Kind == ExpireValidity {
			e.option(x.AllowedProposers != nil)
			if p := x.AllowedProposers; p != nil {
				e.u64(p.Epoch)
				e.uleb(len(p.Proposers))
				for _, v := range p.Proposers {
					e.u32(v)
				}
			}
		}
	}
}

func (x *Expiration) decode(d *decoder) {
	x.Kind = ExpirationKind(d.variant("TransactionExpiration", 4))
	switch x.Kind {
	case ExpireEpoch:
		x.Epoch = d.u64()
	case ExpireValidDuring, ExpireValidity:
		x.MinEpoch = decodeOptU64(d)
		x.MaxEpoch = decodeOptU64(d)
		x.MinTimestamp = decodeOptU64(d)
		x.MaxTimestamp = decodeOptU64(d)
		if n := d.length("chain digest", 32, 1); d.err() == nil && n != 32 {
			d.fail("chain digest of %d bytes, want 32", n)
		}
		d.fixed(x.Chain[:])
		x.Nonce = d.u32()
		if x.Kind == ExpireValidity && d.option() {
			p := &AllowedProposers{Epoch: d.u64()}
			n := d.length("allowed proposers", maxProposers, 4)
			if d.err() == nil && n == 0 {
				d.fail("allowed proposers must not be empty")
			}
			for range n {
				v := d.u32()
				if k := len(p.Proposers); k > 0 && v <= p.Proposers[k-1] {
					d.fail("allowed proposers must be strictly increasing")
				}
				p.Proposers = append(p.Proposers, v)
			}
			x.AllowedProposers = p
		}
	}
}
