package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/spf13/cobra"

	"floe/chainlink"
	"floe/chainlink/account"
	"floe/chainlink/bls"
	"floe/node"
)

const defaultLedgerURL = "http://127.0.0.1:7070"

// stakeFlags are the flags stake and unstake share.
type stakeFlags struct {
	ledger       string
	staker       string
	key          string
	clientConfig string
	nodeID       string
	nodeConfig   string
	amount       uint64
	asJSON       bool
}

func (f *stakeFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.ledger, "ledger", defaultLedgerURL, "ledger service URL; with --node-config or --config that config's ledger unless this is given")
	fl.StringVar(&f.staker, "staker", "", "staking account (0x + 64 hex digits), checked against the signing key; default: the key's account")
	fl.StringVar(&f.key, "key", "", "the staker's account key file, which signs the request")
	fl.StringVar(&f.clientConfig, "config", "", "a client config (client.json) whose account_key signs the request")
	fl.StringVar(&f.nodeID, "node", "", "on-chain ID of the node (0x + 64 hex digits)")
	fl.StringVar(&f.nodeConfig, "node-config", "", "the node's node.json (see 'floe node init'): the node is found on the chain from it")
	fl.Uint64Var(&f.amount, "amount", 0, "amount to move")
	fl.BoolVar(&f.asJSON, "json", false, "print the result as JSON")
}

// target is the resolved staker, node and ledger of a stake command.
type target struct {
	chain  *chainlink.Client
	staker chainlink.ID
	node   chainlink.Node
	// via says how the node was found (node ID, peer ID, owner and name).
	via string
}

func (f *stakeFlags) resolve(cmd *cobra.Command) (*target, error) {
	ctx := cmd.Context()
	switch {
	case f.nodeID != "" && f.nodeConfig != "":
		return nil, errors.New("--node and --node-config exclude each other")
	case f.nodeID == "" && f.nodeConfig == "":
		return nil, errors.New("say which node: --node NODE_ID or --node-config PATH")
	}
	var cfg *node.Config
	if f.nodeConfig != "" {
		c, err := node.LoadConfig(f.nodeConfig)
		if err != nil {
			return nil, fmt.Errorf("--node-config: %w", err)
		}
		cfg = &c
	}
	ledger := f.ledger
	if cfg != nil && !cmd.Flags().Changed("ledger") && cfg.Ledger != "" {
		ledger = cfg.Ledger
	}
	key, err := f.signingKey(cfg)
	if err != nil {
		return nil, err
	}
	staker := chainlink.AccountID(key)
	if f.staker != "" {
		id, err := chainlink.ParseID(f.staker)
		if err != nil {
			return nil, fmt.Errorf("--staker: %w", err)
		}
		if id != staker {
			return nil, fmt.Errorf("--staker %s: the signing key is the key of %s (a request acts only for its signer)", id, staker)
		}
	}
	if f.clientConfig != "" && cfg == nil && !cmd.Flags().Changed("ledger") {
		if cc, err := node.LoadClientConfig(f.clientConfig); err == nil {
			ledger = cc.Ledger
		}
	}
	t := &target{chain: chainlink.NewClient(ledger, nil, chainlink.ClientAccountKey(key)), staker: staker}
	if f.nodeID != "" {
		id, err := chainlink.ParseID(f.nodeID)
		if err != nil {
			return nil, fmt.Errorf("--node: %w", err)
		}
		n, err := t.chain.Node(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("node %s on ledger %s: %w", id, ledger, err)
		}
		t.node, t.via = n, "node ID"
		return t, nil
	}
	n, via, err := findConfiguredNode(ctx, t.chain, *cfg)
	if err != nil {
		return nil, fmt.Errorf("%s on ledger %s: %w", f.nodeConfig, ledger, err)
	}
	t.node, t.via = n, via
	return t, nil
}

// signingKey is the staker's account key: --key, else the account_key of
// --config, else (with --node-config) the node owner's key.
func (f *stakeFlags) signingKey(cfg *node.Config) (*account.Key, error) {
	n := 0
	for _, s := range []string{f.key, f.clientConfig} {
		if s != "" {
			n++
		}
	}
	if n > 1 {
		return nil, errors.New("--key and --config exclude each other")
	}
	switch {
	case f.key != "":
		k, err := account.Load(f.key)
		if err != nil {
			return nil, fmt.Errorf("--key: %w", err)
		}
		return k, nil
	case f.clientConfig != "":
		cc, err := node.LoadClientConfig(f.clientConfig)
		if err != nil {
			return nil, fmt.Errorf("--config: %w", err)
		}
		if cc.Key() == nil {
			return nil, fmt.Errorf("--config %s has no account_key to sign with", f.clientConfig)
		}
		return cc.Key(), nil
	case cfg != nil:
		path := cfg.OwnerKey
		if path == "" {
			path = filepath.Join(cfg.DataDir, node.OwnerKeyFile)
		}
		k, err := account.Load(path)
		if err != nil {
			return nil, fmt.Errorf("the owner key of --node-config (give --key for another staker): %w", err)
		}
		if chainlink.AccountID(k) != cfg.Owner {
			return nil, fmt.Errorf("%s is the key of %s, but the node's owner is %s", path, k.Address(), cfg.Owner)
		}
		return k, nil
	}
	return nil, errors.New("say whose key signs: --key PATH (the staker's account key), --config CLIENT.json, or --node-config (the node's owner)")
}

// findConfiguredNode finds a node's on-chain record from its config. The
// node registers under its BLS key and keeps its peer ID and addresses up
// to date at every start, so the peer ID of its libp2p identity
// (DATA_DIR/identity.key, the standard libp2p key encoding) names it
// exactly. A node that has no identity yet, or whose peer ID is not on the
// chain, is looked up by owner and name, which must then be unique.
func findConfiguredNode(ctx context.Context, chain chainlink.Chain, cfg node.Config) (chainlink.Node, string, error) {
	nodes, err := chain.Nodes(ctx)
	if err != nil {
		return chainlink.Node{}, "", fmt.Errorf("listing nodes: %w", err)
	}
	pid, err := peerIDOf(filepath.Join(cfg.DataDir, "identity.key"))
	switch {
	case err == nil:
		for _, n := range nodes {
			if n.PeerID == pid {
				return n, "peer ID " + pid, nil
			}
		}
	case !errors.Is(err, fs.ErrNotExist):
		return chainlink.Node{}, "", err
	}
	var match []chainlink.Node
	for _, n := range nodes {
		if n.Owner == cfg.Owner && n.Name == cfg.Name {
			match = append(match, n)
		}
	}
	switch len(match) {
	case 1:
		return match[0], "owner and name", nil
	case 0:
		what := fmt.Sprintf("owner %s and name %q", cfg.Owner, cfg.Name)
		if pid != "" {
			what = "peer ID " + pid + " or " + what
		}
		return chainlink.Node{}, "", fmt.Errorf("%w: no node registered with %s (has the node run once?)", chainlink.ErrNotFound, what)
	default:
		ids := make([]string, len(match))
		for i, n := range match {
			ids[i] = n.ID.String()
		}
		return chainlink.Node{}, "", fmt.Errorf("%w: %d nodes of owner %s are named %q (%s); give --node",
			chainlink.ErrBadRequest, len(match), cfg.Owner, cfg.Name, strings.Join(ids, ", "))
	}
}

// peerIDOf returns the peer ID of a libp2p identity key file, without
// creating one.
func peerIDOf(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	k, err := crypto.UnmarshalPrivateKey(b)
	if err != nil {
		return "", fmt.Errorf("identity %s: %w", path, err)
	}
	id, err := peer.IDFromPrivateKey(k)
	if err != nil {
		return "", fmt.Errorf("identity %s: %w", path, err)
	}
	return id.String(), nil
}

// stakeResult is what stake and unstake print with --json.
type stakeResult struct {
	Action string       `json:"action"`
	Node   chainlink.ID `json:"node"`
	Name   string       `json:"name"`
	// FoundBy says how the node was identified.
	FoundBy string       `json:"found_by"`
	Staker  chainlink.ID `json:"staker"`
	Amount  uint64       `json:"amount"`
	// NodeStake is the node's stake now, StakerStake the staker's part.
	NodeStake   uint64 `json:"node_stake"`
	StakerStake uint64 `json:"staker_stake"`
	// Balance is the staker's balance now.
	Balance uint64 `json:"balance"`
	// Epoch is the epoch of the request; EffectiveEpoch the first
	// committee that reflects it.
	Epoch          uint32 `json:"epoch"`
	EffectiveEpoch uint32 `json:"effective_epoch"`
	// Unstake: the withdrawal is credited at the advance to CreditEpoch;
	// Pending is the staker's total then due from this node.
	CreditEpoch uint32 `json:"credit_epoch,omitempty"`
	Pending     uint64 `json:"pending,omitempty"`
	// LeavesCommittee: the node has no stake left, so the committee of
	// EffectiveEpoch does not include it.
	LeavesCommittee bool `json:"leaves_committee,omitempty"`
}

func newStakeCommand() *cobra.Command {
	var (
		f      stakeFlags
		faucet bool
	)
	cmd := &cobra.Command{
		Use:   "stake",
		Short: "Stake with a storage node; the stake counts from the next committee",
		Long: `Move --amount from the staker's balance to a node's stake. The node is named
by its on-chain ID (--node) or by its config (--node-config). The staker is the
account whose key signs the request: --key PATH, or the account_key of a
client config (--config), or, with --node-config, the node's owner key
(owner_key, else owner.key in its directory); the ledger defaults to that
config's. The stake counts from the committee selected at the next epoch
change.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.amount == 0 {
				return errors.New("--amount must be positive")
			}
			t, err := f.resolve(cmd)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if faucet {
				if _, err := t.chain.Faucet(ctx, t.staker, f.amount); err != nil {
					return fmt.Errorf("faucet for %s: %w", t.staker, err)
				}
			}
			n, err := t.chain.Stake(ctx, t.staker, t.node.ID, f.amount)
			if err != nil {
				return fmt.Errorf("stake %d from %s with node %s: %w", f.amount, t.staker, t.node.ID, err)
			}
			es, err := t.chain.EpochState(ctx)
			if err != nil {
				return fmt.Errorf("staked, but reading the epoch failed: %w", err)
			}
			acct, err := t.chain.Account(ctx, t.staker)
			if err != nil {
				return fmt.Errorf("staked, but reading the balance failed: %w", err)
			}
			r := stakeResult{
				Action: "stake", Node: n.ID, Name: n.Name, FoundBy: t.via, Staker: t.staker, Amount: f.amount,
				NodeStake: n.Stake, StakerStake: n.Stakers[t.staker.String()], Balance: acct.Balance,
				Epoch: es.Epoch, EffectiveEpoch: es.Epoch + 1,
			}
			if f.asJSON {
				return printJSON(cmd.OutOrStdout(), r)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "staked %d from %s with node %s (%s)\n", r.Amount, r.Staker, r.Node, r.Name)
			fmt.Fprintf(out, "node stake now %d (this staker's: %d); it counts from the committee of epoch %d\n",
				r.NodeStake, r.StakerStake, r.EffectiveEpoch)
			fmt.Fprintf(out, "balance now %d\n", r.Balance)
			return nil
		},
	}
	f.add(cmd)
	cmd.Flags().BoolVar(&faucet, "faucet", false, "fund the staker with --amount from the ledger's faucet first (devnet ledgers)")
	return cmd
}

func newUnstakeCommand() *cobra.Command {
	var (
		f   stakeFlags
		all bool
	)
	cmd := &cobra.Command{
		Use:   "unstake",
		Short: "Withdraw stake from a storage node; the funds return two epochs later",
		Long: `Withdraw --amount (or --all) of the staker's stake in a node. The amount leaves
the node's stake at once: the committee selected at the next epoch change no
longer counts it, and a node left with no stake leaves that committee. The
funds are credited back to the staker's balance at the advance to epoch e+2
(e is the current epoch), once the next committee has taken over the node's
shards; a leaving node must keep serving until then. The staker signs, as
for 'floe stake' (--key, --config, or the owner key of --node-config).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case all && cmd.Flags().Changed("amount"):
				return errors.New("--amount and --all exclude each other")
			case !all && f.amount == 0:
				return errors.New("say how much: --amount N (positive) or --all")
			}
			t, err := f.resolve(cmd)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			amount := f.amount
			if all {
				amount = t.node.Stakers[t.staker.String()]
				if amount == 0 {
					return fmt.Errorf("%w: %s has nothing staked with node %s", chainlink.ErrNoStake, t.staker, t.node.ID)
				}
			}
			n, err := t.chain.Unstake(ctx, t.staker, t.node.ID, amount)
			if err != nil {
				return fmt.Errorf("unstake %d of %s from node %s: %w", amount, t.staker, t.node.ID, err)
			}
			// The request's withdrawal is the staker's latest one.
			var w chainlink.Withdrawal
			for _, x := range n.Withdrawals {
				if x.Staker == t.staker && x.CreditEpoch >= w.CreditEpoch {
					w = x
				}
			}
			if w.CreditEpoch < 2 {
				return fmt.Errorf("unstaked %d, but the ledger lists no pending withdrawal for %s on node %s", amount, t.staker, t.node.ID)
			}
			var balance uint64
			if acct, err := t.chain.Account(ctx, t.staker); err == nil {
				balance = acct.Balance
			} else if !errors.Is(err, chainlink.ErrNotFound) {
				return fmt.Errorf("unstaked, but reading the balance failed: %w", err)
			}
			r := stakeResult{
				Action: "unstake", Node: n.ID, Name: n.Name, FoundBy: t.via, Staker: t.staker, Amount: amount,
				NodeStake: n.Stake, StakerStake: n.Stakers[t.staker.String()], Balance: balance,
				Epoch: w.CreditEpoch - 2, EffectiveEpoch: w.CreditEpoch - 1,
				CreditEpoch: w.CreditEpoch, Pending: w.Amount, LeavesCommittee: n.Stake == 0,
			}
			if f.asJSON {
				return printJSON(cmd.OutOrStdout(), r)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "unstaked %d of %s from node %s (%s) in epoch %d\n", r.Amount, r.Staker, r.Node, r.Name, r.Epoch)
			if r.LeavesCommittee {
				fmt.Fprintf(out, "node stake now 0: the node leaves the committee at epoch %d; keep it running until epoch %d begins\n",
					r.EffectiveEpoch, r.CreditEpoch)
			} else {
				fmt.Fprintf(out, "node stake now %d (this staker's: %d); the committee of epoch %d counts that\n",
					r.NodeStake, r.StakerStake, r.EffectiveEpoch)
			}
			fmt.Fprintf(out, "withdrawal pending, earning nothing: %d credited to %s at the advance to epoch %d (balance now %d)\n",
				r.Pending, r.Staker, r.CreditEpoch, r.Balance)
			return nil
		},
	}
	f.add(cmd)
	cmd.Flags().BoolVar(&all, "all", false, "withdraw all of the staker's stake in the node")
	return cmd
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// ledgerStatus is what `floe ledger status --json` prints.
type ledgerStatus struct {
	Epoch chainlink.EpochState `json:"epoch"`
	// QuorumWeight is the sync-done weight that completes the change.
	QuorumWeight int `json:"quorum_weight"`
	// Committee is the committee shown (nil if that epoch has none yet).
	Committee   *committeeStatus   `json:"committee"`
	Withdrawals []withdrawalStatus `json:"withdrawals"`
}

type committeeStatus struct {
	Epoch   uint32         `json:"epoch"`
	NShards int            `json:"n_shards"`
	Members []memberStatus `json:"members"`
}

type memberStatus struct {
	NodeID chainlink.ID `json:"node_id"`
	Name   string       `json:"name"`
	// Stake is the node's stake when the committee was selected,
	// CurrentStake its stake now (what the next selection counts).
	Stake        uint64 `json:"stake"`
	CurrentStake uint64 `json:"current_stake"`
	Shards       int    `json:"shards"`
	// SyncDone is set for the current epoch's committee only: whether the
	// member reported EpochSyncDone.
	SyncDone *bool `json:"sync_done,omitempty"`
}

type withdrawalStatus struct {
	NodeID      chainlink.ID `json:"node_id"`
	Name        string       `json:"name"`
	Staker      chainlink.ID `json:"staker"`
	Amount      uint64       `json:"amount"`
	CreditEpoch uint32       `json:"credit_epoch"`
}

func quorumWeight(n int) int {
	for w := 0; w <= n; w++ {
		if bls.Quorum.Reached(w, n) {
			return w
		}
	}
	return n
}

func readLedgerStatus(ctx context.Context, chain chainlink.Chain, epoch *uint32) (*ledgerStatus, error) {
	es, err := chain.EpochState(ctx)
	if err != nil {
		return nil, err
	}
	nodes, err := chain.Nodes(ctx)
	if err != nil {
		return nil, err
	}
	byID := make(map[chainlink.ID]chainlink.Node, len(nodes))
	for _, n := range nodes {
		byID[n.ID] = n
	}
	st := &ledgerStatus{Epoch: es, QuorumWeight: quorumWeight(es.NShards), Withdrawals: []withdrawalStatus{}}
	e := es.Epoch
	if epoch != nil {
		e = *epoch
	}
	c, err := chain.Committee(ctx, e)
	switch {
	case err == nil:
		cs := &committeeStatus{Epoch: c.Epoch, NShards: c.NShards, Members: []memberStatus{}}
		for _, m := range c.Members {
			ms := memberStatus{NodeID: m.NodeID, Name: byID[m.NodeID].Name, Stake: m.Stake,
				CurrentStake: byID[m.NodeID].Stake, Shards: m.Weight}
			if c.Epoch == es.Epoch {
				_, done := slices.BinarySearchFunc(es.SyncDoneNodes, m.NodeID, chainlink.ID.Compare)
				ms.SyncDone = &done
			}
			cs.Members = append(cs.Members, ms)
		}
		st.Committee = cs
	case errors.Is(err, chainlink.ErrNotFound) && epoch == nil:
		// No committee yet (a new ledger): nothing to show.
	default:
		return nil, fmt.Errorf("committee of epoch %d: %w", e, err)
	}
	for _, n := range nodes { // sorted by node ID
		for _, w := range n.Withdrawals {
			st.Withdrawals = append(st.Withdrawals, withdrawalStatus{NodeID: n.ID, Name: n.Name, Staker: w.Staker,
				Amount: w.Amount, CreditEpoch: w.CreditEpoch})
		}
	}
	return st, nil
}

func printLedgerStatus(w io.Writer, st *ledgerStatus) {
	es := st.Epoch
	advance := "on request only"
	if es.DurationMs > 0 {
		advance = "every " + (time.Duration(es.DurationMs) * time.Millisecond).String()
	}
	fmt.Fprintf(w, "epoch %d, phase %s, started %s (epochs advance %s)\n", es.Epoch, es.Phase,
		time.UnixMilli(es.StartUnixMs).UTC().Format(time.RFC3339), advance)
	fmt.Fprintf(w, "sync done: %d of %d shards reported by %d members (the change is done at %d)\n",
		es.SyncDoneWeight, es.NShards, len(es.SyncDoneNodes), st.QuorumWeight)
	if st.Committee == nil {
		fmt.Fprintf(w, "no committee in epoch %d\n", es.Epoch)
	} else {
		c := st.Committee
		fmt.Fprintf(w, "committee of epoch %d: %d members, %d shards\n", c.Epoch, len(c.Members), c.NShards)
		tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "  NODE ID\tNAME\tSTAKE\tSTAKE NOW\tSHARDS\tSYNC")
		for _, m := range c.Members {
			sync := "-"
			if m.SyncDone != nil {
				sync = "pending"
				if *m.SyncDone {
					sync = "done"
				}
			}
			fmt.Fprintf(tw, "  %s\t%s\t%d\t%d\t%d\t%s\n", m.NodeID, m.Name, m.Stake, m.CurrentStake, m.Shards, sync)
		}
		tw.Flush()
	}
	if len(st.Withdrawals) == 0 {
		fmt.Fprintln(w, "pending withdrawals: none")
		return
	}
	fmt.Fprintf(w, "pending withdrawals: %d\n", len(st.Withdrawals))
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "  NODE ID\tNAME\tSTAKER\tAMOUNT\tCREDIT EPOCH")
	for _, x := range st.Withdrawals {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%d\n", x.NodeID, x.Name, x.Staker, x.Amount, x.CreditEpoch)
	}
	tw.Flush()
}

func newLedgerStatusCommand() *cobra.Command {
	var (
		ledgerURL string
		epoch     uint32
		asJSON    bool
	)
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the epoch, the progress of its change, the committee and pending withdrawals",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var e *uint32
			if cmd.Flags().Changed("epoch") {
				e = &epoch
			}
			st, err := readLedgerStatus(cmd.Context(), chainlink.NewClient(ledgerURL, nil), e)
			if err != nil {
				return fmt.Errorf("ledger %s: %w", ledgerURL, err)
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), st)
			}
			printLedgerStatus(cmd.OutOrStdout(), st)
			return nil
		},
	}
	cmd.Flags().StringVar(&ledgerURL, "ledger", defaultLedgerURL, "ledger service URL")
	cmd.Flags().Uint32Var(&epoch, "epoch", 0, "show this epoch's committee instead of the current one")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the status as JSON")
	return cmd
}
