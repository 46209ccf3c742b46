package main

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/spf13/cobra"

	"floe/chainlink"
	"floe/codec"
	"floe/node"
)

// infoResult is what `floe info --json` prints.
type infoResult struct {
	Epoch uint32               `json:"epoch"`
	Phase chainlink.EpochPhase `json:"phase"`
	// EpochStart is when the epoch began; EpochDurationMs its length (0:
	// epochs advance only on request).
	EpochStart      time.Time `json:"epoch_start"`
	EpochDurationMs int64     `json:"epoch_duration_ms"`
	NShards         int       `json:"n_shards"`
	MaxBlobSize     uint64    `json:"max_blob_size"`
	MaxEpochsAhead  uint32    `json:"max_epochs_ahead"`
	// Prices are per PriceUnit bytes of the encoded length: storage per
	// epoch, write once.
	PriceUnit           uint64       `json:"price_unit_bytes"`
	StoragePricePerUnit uint64       `json:"storage_price_per_unit"`
	WritePricePerUnit   uint64       `json:"write_price_per_unit"`
	SyncDoneWeight      int          `json:"sync_done_weight"`
	Committee           []infoMember `json:"committee"`
	// Cost is the encoded size and cost of --size bytes for --epochs.
	Cost *storeCost `json:"cost,omitempty"`
}

type infoMember struct {
	NodeID    chainlink.ID `json:"node_id"`
	Name      string       `json:"name"`
	PeerID    string       `json:"peer_id"`
	Addresses []string     `json:"addresses"`
	// RESTURL is the member's Walrus storage-node REST API from its chain
	// record ("" when it serves none).
	RESTURL  string   `json:"rest_url,omitempty"`
	Shards   int      `json:"shards"`
	ShardIDs []uint16 `json:"shard_ids"`
	Stake    uint64   `json:"stake"`
}

func newInfoCommand() *cobra.Command {
	var (
		cf     clientFlags
		size   string
		epochs = epochsValue{n: 1}
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "info",
		Short: "Print the swarm's epoch, committee, shards, prices and maximum blob size",
		Long: `Print what the chain says about the swarm: the epoch and the state of its
change, the committee with the shards of each member, the number of shards,
the prices and the largest blob. With --size N it also prints the encoded
size of N bytes and what storing them for --epochs costs.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			_, ch, st, err := chainOf(ctx, cf.config)
			if err != nil {
				return err
			}
			p, err := codec.NewParams(st.NShards)
			if err != nil {
				return err
			}
			res := infoResult{
				Epoch: st.Epoch, Phase: st.Phase, EpochStart: time.UnixMilli(st.StartUnixMs).UTC(), EpochDurationMs: st.DurationMs,
				NShards: st.NShards, MaxBlobSize: p.MaxBlobSize(), MaxEpochsAhead: st.MaxEpochsAhead, PriceUnit: chainlink.BytesPerUnit,
				StoragePricePerUnit: st.StoragePricePerUnit, WritePricePerUnit: st.WritePricePerUnit, SyncDoneWeight: st.SyncDoneWeight,
				Committee: []infoMember{},
			}
			if size != "" {
				n, err := parseSize(size)
				if err != nil {
					return fmt.Errorf("--size: %w", err)
				}
				e, err := epochs.resolve("--epochs", st)
				if err != nil {
					return err
				}
				c, err := costOf(st, n, e)
				if err != nil {
					return fmt.Errorf("--size %s: %w", size, err)
				}
				res.Cost = &c
			} else if cmd.Flags().Changed("epochs") {
				return errors.New("--epochs prices --size: give both")
			}
			names := map[chainlink.ID]string{}
			if ns, err := ch.Nodes(ctx); err == nil {
				for _, n := range ns {
					names[n.ID] = n.Name
				}
			}
			if cm, err := ch.Committee(ctx, st.Epoch); err == nil {
				for _, m := range cm.Members {
					res.Committee = append(res.Committee, infoMember{NodeID: m.NodeID, Name: names[m.NodeID], PeerID: m.PeerID,
						Addresses: m.Addresses, RESTURL: m.NetworkAddress, Shards: m.Weight, ShardIDs: m.Shards, Stake: m.Stake})
				}
			} else if !errors.Is(err, chainlink.ErrNotFound) {
				return fmt.Errorf("%w: committee: %w", node.ErrChain, err)
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return printJSON(out, res)
			}
			dur := "advances on request"
			if st.DurationMs > 0 {
				dur = fmt.Sprintf("lasts %v", time.Duration(st.DurationMs)*time.Millisecond)
			}
			fmt.Fprintf(out, "epoch:           %d (%s; started %s, %s)\n", st.Epoch, phaseText(st), res.EpochStart.Format(time.RFC3339), dur)
			fmt.Fprintf(out, "shards:          %d (a quorum is %d, at most %d faulty)\n", st.NShards, quorumWeight(st.NShards), p.MaxFaulty())
			fmt.Fprintf(out, "max blob size:   %d bytes (%s)\n", res.MaxBlobSize, humanBytes(res.MaxBlobSize))
			fmt.Fprintf(out, "storage period:  1 to %d epochs ahead\n", st.MaxEpochsAhead)
			fmt.Fprintf(out, "prices:          storage %d per MiB of encoded size per epoch, write %d per MiB of encoded size\n",
				st.StoragePricePerUnit, st.WritePricePerUnit)
			if c := res.Cost; c != nil {
				fmt.Fprintf(out, "storing %d bytes: encoded %d bytes (%s); for %d epochs (until epoch %d): storage %d + write %d = %d\n",
					c.Size, c.EncodedLength, humanBytes(c.EncodedLength), c.Epochs, c.EndEpoch, c.StorageCost, c.WriteCost, c.Cost)
			}
			if len(res.Committee) == 0 {
				fmt.Fprintf(out, "committee:       none in epoch %d (no node has joined yet)\n", st.Epoch)
				return nil
			}
			fmt.Fprintf(out, "committee:       %d members\n", len(res.Committee))
			w := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
			fmt.Fprintln(w, "  NODE\tNAME\tSHARDS\tSTAKE\tPEER\tREST")
			for _, m := range res.Committee {
				rest := m.RESTURL
				if rest == "" {
					rest = "-"
				}
				fmt.Fprintf(w, "  %s\t%s\t%d\t%d\t%s\t%s\n", m.NodeID, m.Name, m.Shards, m.Stake, m.PeerID, rest)
			}
			return w.Flush()
		},
	}
	cf.add(cmd)
	cmd.Flags().StringVar(&size, "size", "", "also print the encoded size and cost of storing this many bytes (or with KiB/MiB/GiB)")
	cmd.Flags().Var(&epochs, "epochs", "the storage period --size is priced for: epochs, or max")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return cmd
}

func phaseText(st chainlink.EpochState) string {
	switch st.Phase {
	case chainlink.PhaseChangeSync:
		return fmt.Sprintf("change in progress: members of %d of %d shards reported their sync done", st.SyncDoneWeight, st.NShards)
	case chainlink.PhaseChangeDone:
		return "change done"
	}
	return string(st.Phase)
}

// parseSize is parseByteSize that also takes 0 (an empty blob).
func parseSize(s string) (uint64, error) {
	if strings.TrimSpace(s) == "0" {
		return 0, nil
	}
	n, err := parseByteSize(s)
	return uint64(n), err
}

// healthMember is one member's line of `floe health`.
type healthMember struct {
	NodeID chainlink.ID `json:"node_id"`
	Name   string       `json:"name"`
	PeerID string       `json:"peer_id"`
	// Committees are "current" and/or "previous": the committees the
	// member is in (none: a registered node asked for with --node).
	Committees []string `json:"committees"`
	// State is ok, recovering (reachable, in the current epoch, still
	// rebuilding slivers it lacks: it does so by itself), behind (it has
	// not applied the current epoch), unreachable, or left (a previous
	// member no longer needed).
	State     string `json:"state"`
	Reachable bool   `json:"reachable"`
	Error     string `json:"error,omitempty"`
	Epoch     uint32 `json:"epoch"`
	// Shards is what the member reports (what the chain assigns it, if
	// it is unreachable).
	Shards          int    `json:"shards"`
	SliversHeld     int64  `json:"slivers_held"`
	SliversAssigned int64  `json:"slivers_assigned"`
	Syncing         int    `json:"syncing"`
	Version         string `json:"version,omitempty"`
}

// healthReport is what `floe health --json` prints.
type healthReport struct {
	Epoch uint32               `json:"epoch"`
	Phase chainlink.EpochPhase `json:"phase"`
	// SyncDoneWeight is the shards of the members that reported their
	// epoch-change sync done (a quorum of NShards ends the change).
	SyncDoneWeight int            `json:"sync_done_weight"`
	NShards        int            `json:"n_shards"`
	Healthy        bool           `json:"healthy"`
	Members        []healthMember `json:"members"`
}

func newHealthCommand() *cobra.Command {
	var (
		cf      clientFlags
		nodeID  string
		timeout time.Duration
		asJSON  bool
	)
	cmd := &cobra.Command{
		Use:   "health",
		Short: "Ask every committee member (current and previous) over libp2p whether it is up, current and complete",
		Long: `Ask every member of the current and the previous committee (or only --node)
for its status over the node-status protocol, as any client of the swarm
can: whether it is reachable, the epoch it applied, its shards, the slivers
it holds against those its shards are assigned, and its version.

A member's state is ok; recovering (reachable and current, still rebuilding
slivers it lacks: it does so by itself); behind (it has not applied the
current epoch); unreachable; or left (a previous member that is no longer
needed once the epoch change is done). The command exits 1 if a member is
behind or unreachable (a previous member only while the change is in
progress), after printing the report.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if timeout <= 0 {
				return fmt.Errorf("--timeout %v: must be positive", timeout)
			}
			var only chainlink.ID
			if nodeID != "" {
				id, err := chainlink.ParseID(nodeID)
				if err != nil {
					return fmt.Errorf("--node: %w", err)
				}
				only = id
			}
			ctx := cmd.Context()
			c, err := cf.open(ctx, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer c.Close()
			rep, err := checkHealth(ctx, c, only, timeout)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				if err := printJSON(out, rep); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(out, "epoch %d (%s)\n", rep.Epoch, phaseText(chainlink.EpochState{Phase: rep.Phase, NShards: rep.NShards, SyncDoneWeight: rep.SyncDoneWeight}))
				w := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
				fmt.Fprintln(w, "NODE\tNAME\tCOMMITTEE\tSTATE\tEPOCH\tSHARDS\tSLIVERS HELD/ASSIGNED\tVERSION")
				for _, m := range rep.Members {
					committees := strings.Join(m.Committees, "+")
					if committees == "" {
						committees = "-"
					}
					if !m.Reachable {
						fmt.Fprintf(w, "%s\t%s\t%s\t%s\t\t%d\t\t%s\n", short(m.NodeID), m.Name, committees, m.State, m.Shards, m.Error)
						continue
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%d\t%d/%d\t%s\n", short(m.NodeID), m.Name, committees, m.State, m.Epoch, m.Shards,
						m.SliversHeld, m.SliversAssigned, m.Version)
				}
				if err := w.Flush(); err != nil {
					return err
				}
			}
			if !rep.Healthy {
				var bad []string
				for _, m := range rep.Members {
					if unhealthy(m.State) {
						bad = append(bad, fmt.Sprintf("%s %s", short(m.NodeID), m.State))
					}
				}
				return fmt.Errorf("%d of %d members unhealthy: %s", len(bad), len(rep.Members), strings.Join(bad, ", "))
			}
			return nil
		},
	}
	cf.add(cmd)
	cmd.Flags().StringVar(&nodeID, "node", "", "ask only this node (0x + 64 hex digits; any registered node)")
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Second, "how long to wait for each member's answer")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

func unhealthy(state string) bool { return state == "behind" || state == "unreachable" }

// checkHealth asks the members of the current and previous committees
// (or only the node only) for their status, all at once.
func checkHealth(ctx context.Context, c *node.Client, only chainlink.ID, timeout time.Duration) (healthReport, error) {
	ch := c.Chain()
	st, err := ch.EpochState(ctx)
	if err != nil {
		return healthReport{}, fmt.Errorf("%w: %w", node.ErrChain, err)
	}
	rep := healthReport{Epoch: st.Epoch, Phase: st.Phase, SyncDoneWeight: st.SyncDoneWeight, NShards: st.NShards, Healthy: true, Members: []healthMember{}}
	names := map[chainlink.ID]string{}
	nodes, err := ch.Nodes(ctx)
	if err != nil {
		return rep, fmt.Errorf("%w: nodes: %w", node.ErrChain, err)
	}
	for _, n := range nodes {
		names[n.ID] = n.Name
	}
	type entry struct {
		m    healthMember
		addr []string
	}
	var entries []*entry
	byID := map[chainlink.ID]*entry{}
	for _, e := range []struct {
		epoch uint32
		name  string
	}{{st.Epoch, "current"}, {st.Epoch - 1, "previous"}} {
		if e.name == "previous" && st.Epoch == 0 {
			break
		}
		cm, err := ch.Committee(ctx, e.epoch)
		if errors.Is(err, chainlink.ErrNotFound) {
			continue
		}
		if err != nil {
			return rep, fmt.Errorf("%w: committee %d: %w", node.ErrChain, e.epoch, err)
		}
		for _, m := range cm.Members {
			if !only.IsZero() && m.NodeID != only {
				continue
			}
			en := byID[m.NodeID]
			if en == nil {
				en = &entry{m: healthMember{NodeID: m.NodeID, Name: names[m.NodeID], PeerID: m.PeerID, Shards: m.Weight}, addr: m.Addresses}
				if e.name == "previous" {
					en.m.Shards = 0 // it holds none in the current epoch
				}
				byID[m.NodeID] = en
				entries = append(entries, en)
			}
			en.m.Committees = append(en.m.Committees, e.name)
		}
	}
	if only.IsZero() && len(entries) == 0 {
		return rep, fmt.Errorf("%w: no committee in epoch %d (no node has joined yet)", node.ErrNoCommittee, st.Epoch)
	}
	if !only.IsZero() && len(entries) == 0 {
		nd, err := ch.Node(ctx, only)
		if errors.Is(err, chainlink.ErrNotFound) {
			return rep, fmt.Errorf("--node %s: no such node on the chain", only)
		}
		if err != nil {
			return rep, fmt.Errorf("%w: node %s: %w", node.ErrChain, only, err)
		}
		entries = append(entries, &entry{m: healthMember{NodeID: nd.ID, Name: nd.Name, PeerID: nd.PeerID, Committees: []string{}}, addr: nd.Addresses})
	}
	var wg sync.WaitGroup
	for _, en := range entries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := &en.m
			pi, err := addrInfo(m.PeerID, en.addr)
			var ns node.NodeStatus
			if err == nil {
				sctx, cancel := context.WithTimeout(ctx, timeout)
				ns, err = c.NodeStatus(sctx, pi)
				cancel()
			}
			if err != nil {
				m.Error = oneLine(err.Error())
				m.State = "unreachable"
				return
			}
			m.Reachable = true
			m.Epoch, m.Shards, m.SliversHeld, m.SliversAssigned = ns.Epoch, len(ns.Shards), ns.SliversHeld, ns.SliversAssigned
			m.Syncing, m.Version = ns.Syncing, ns.Version
			switch {
			case ns.Epoch < st.Epoch:
				m.State = "behind"
			case ns.SliversHeld < ns.SliversAssigned:
				m.State = "recovering"
			default:
				m.State = "ok"
			}
		}()
	}
	wg.Wait()
	for _, en := range entries {
		m := &en.m
		// A member of the previous committee only is needed while the
		// change is in progress (it serves the shards it lost).
		if !slices.Contains(m.Committees, "current") && len(m.Committees) > 0 && st.Phase == chainlink.PhaseChangeDone && unhealthy(m.State) {
			m.State = "left"
		}
		if unhealthy(m.State) {
			rep.Healthy = false
		}
		rep.Members = append(rep.Members, *m)
	}
	return rep, nil
}

// addrInfo makes a peer's dialling information from what the chain holds.
func addrInfo(peerID string, addrs []string) (peer.AddrInfo, error) {
	id, err := peer.Decode(peerID)
	if err != nil {
		return peer.AddrInfo{}, fmt.Errorf("registered peer ID %q: %v", peerID, err)
	}
	pi := peer.AddrInfo{ID: id}
	for _, a := range addrs {
		if m, err := ma.NewMultiaddr(a); err == nil {
			pi.Addrs = append(pi.Addrs, m)
		}
	}
	return pi, nil
}

// versionInfo is what `floe version --json` prints.
type versionInfo struct {
	Version   string `json:"version"`
	Module    string `json:"module"`
	GoVersion string `json:"go_version"`
	OS        string `json:"os"`
	Arch      string `json:"arch"`
	// VCS fields are empty when the binary was built without VCS
	// information (-buildvcs=false, or outside a checkout).
	VCS        string `json:"vcs,omitempty"`
	Revision   string `json:"revision,omitempty"`
	CommitTime string `json:"commit_time,omitempty"`
	Modified   bool   `json:"modified,omitempty"`
}

func readVersion() versionInfo {
	v := versionInfo{Version: node.Version(), Module: "floe", GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Path != "" {
			v.Module = bi.Main.Path
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs":
				v.VCS = s.Value
			case "vcs.revision":
				v.Revision = s.Value
			case "vcs.time":
				v.CommitTime = s.Value
			case "vcs.modified":
				v.Modified = s.Value == "true"
			}
		}
	}
	return v
}

func newVersionCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print floe's version, the commit it was built from and the Go version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := readVersion()
			out := cmd.OutOrStdout()
			if asJSON {
				return printJSON(out, v)
			}
			fmt.Fprintf(out, "floe %s (module %s, %s %s/%s)\n", v.Version, v.Module, v.GoVersion, v.OS, v.Arch)
			if v.Revision != "" {
				mod := ""
				if v.Modified {
					mod = ", with uncommitted changes"
				}
				fmt.Fprintf(out, "built from %s commit %s of %s%s\n", v.VCS, v.Revision, v.CommitTime, mod)
			} else {
				fmt.Fprintln(out, "built without VCS information (-buildvcs=false or outside a checkout)")
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return cmd
}
