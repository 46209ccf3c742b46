package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"syscall"
	"text/tabwriter"
	"time"

	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/pbnjay/memory"
	"github.com/spf13/cobra"

	"floe/chainlink"
	"floe/codec"
	"floe/node"
	"floe/p2p"
	"floe/p2p/host"
)

// limitsReport is what `floe node limits --json` prints.
type limitsReport struct {
	Config  string `json:"config"`
	Network string `json:"network"`
	NShards int    `json:"n_shards"`
	// Memory and FDs are what the limits are scaled from, and where each
	// comes from (the config key, or the machine).
	Memory       int64  `json:"memory"`
	MemorySource string `json:"memory_source"`
	FDs          int    `json:"fds"`
	FDsSource    string `json:"fds_source"`
	// MachineMemory and FDLimit are this machine's memory and this
	// process's soft file-descriptor limit.
	MachineMemory uint64        `json:"machine_memory"`
	FDLimit       int           `json:"fd_limit"`
	Scopes        []scopeLimits `json:"scopes"`
	// Keys are the config keys (and node init flags) that change the
	// limits.
	Keys []limitKey `json:"keys"`
}

// scopeLimits are one resource-manager scope's limits; -1 is unlimited.
type scopeLimits struct {
	Scope           string `json:"scope"`
	StreamsInbound  int64  `json:"streams_inbound"`
	StreamsOutbound int64  `json:"streams_outbound"`
	Streams         int64  `json:"streams"`
	ConnsInbound    int64  `json:"conns_inbound"`
	ConnsOutbound   int64  `json:"conns_outbound"`
	Conns           int64  `json:"conns"`
	FD              int64  `json:"fd"`
	Memory          int64  `json:"memory"`
}

type limitKey struct {
	Key    string `json:"key"`
	Flag   string `json:"flag,omitempty"`
	Effect string `json:"effect"`
}

var limitKeys = []limitKey{
	{"max_memory", "--max-memory", "the memory every limit is scaled from (bytes; 0: a quarter of the machine's memory, or GOMEMLIMIT when lower; at most the machine's)"},
	{"max_fds", "--max-fds", "the file descriptors libp2p may use, and the connection limits scaled with them (0: half the process's soft limit; at most that limit)"},
	{"network", "--network", "names the floe stream protocols the per-protocol limits apply to"},
	{"(the chain's n_shards)", "", "the per-peer memory of the floe service and protocols (a peer may send a batch of the largest slivers)"},
}

func newNodeLimitsCommand() *cobra.Command {
	var (
		config string
		shards int
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "limits --config node.json",
		Short: "Print the libp2p resource-manager limits the node would derive on this machine, and the config keys that change them",
		Long: `Print the libp2p resource-manager limits 'floe node run --config' would use
on this machine: the memory and file descriptors they are scaled from (the
max_memory and max_fds keys of node.json, else a quarter of the machine's
memory, or the Go memory limit (GOMEMLIMIT) when that is lower, and half
the process's file-descriptor limit) and the limits of each scope: the system, transient, per peer, per connection and stream, the
floe service and each floe stream protocol. The per-peer memory of the floe
protocols follows the chain's number of shards: it is asked from the
config's ledger unless --shards gives it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := node.LoadConfig(config)
			if err != nil {
				return err
			}
			n := shards
			if n == 0 {
				if cfg.Ledger == "" {
					return fmt.Errorf("%s has no ledger to ask the number of shards: give --shards N", config)
				}
				ctx, cancel := context.WithTimeout(cmd.Context(), 5*time.Second)
				st, err := chainlink.NewClient(cfg.Ledger, nil).EpochState(ctx)
				cancel()
				if err != nil {
					return fmt.Errorf("%w: %s: %w (give --shards N to skip asking)", node.ErrChain, cfg.Ledger, err)
				}
				n = st.NShards
			}
			params, err := codec.NewParams(n)
			if err != nil {
				return fmt.Errorf("--shards: %w", err)
			}
			// As node.New builds the host's config.
			hc := host.DefaultConfig()
			hc.ListenAddrs, hc.AnnounceAddrs = cfg.Listen, cfg.Announce
			if cfg.MaxMemory > 0 {
				hc.MaxMemory = cfg.MaxMemory
			}
			if cfg.MaxFDs > 0 {
				hc.MaxFDs = cfg.MaxFDs
			}
			hc.AdjustLimits = func(l *rcmgr.ScalingLimitConfig) { p2p.AddProtocolLimits(l, cfg.Network, params) }
			if err := hc.Validate(); err != nil {
				return fmt.Errorf("the node would not start with %s: %w", config, err)
			}
			rep := limitsReport{Config: config, Network: cfg.Network, NShards: n, MachineMemory: memory.TotalMemory(), FDLimit: softFDLimit(), Keys: limitKeys}
			rep.Memory, rep.MemorySource = hc.MaxMemory, "max_memory in the config"
			if hc.MaxMemory == 0 {
				var source string
				rep.Memory, source = host.DefaultMaxMemory()
				rep.MemorySource = source + " (max_memory not set)"
			}
			rep.FDs, rep.FDsSource = hc.MaxFDs, "max_fds in the config"
			if hc.MaxFDs == 0 {
				rep.FDs = rep.FDLimit / 2
				rep.FDsSource = fmt.Sprintf("half the process's soft limit of %d (max_fds not set)", rep.FDLimit)
				if rep.FDs <= 0 {
					rep.FDs, rep.FDsSource = 4096, "4096 (the process's limit is unknown; max_fds not set)"
				}
			}
			rep.Scopes = scopesOf(host.Limits(hc).ToPartialLimitConfig())
			out := cmd.OutOrStdout()
			if asJSON {
				return printJSON(out, rep)
			}
			fmt.Fprintf(out, "%s: network %q, %d shards\n", config, rep.Network, rep.NShards)
			fmt.Fprintf(out, "scaled from memory %s (%d bytes): %s\n", humanBytes(uint64(rep.Memory)), rep.Memory, rep.MemorySource)
			fmt.Fprintf(out, "scaled from %d file descriptors: %s\n\n", rep.FDs, rep.FDsSource)
			w := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
			fmt.Fprintln(w, "SCOPE\tSTREAMS IN/OUT/ALL\tCONNS IN/OUT/ALL\tFDS\tMEMORY")
			for _, s := range rep.Scopes {
				fmt.Fprintf(w, "%s\t%s/%s/%s\t%s/%s/%s\t%s\t%s\n", s.Scope, limitText(s.StreamsInbound), limitText(s.StreamsOutbound), limitText(s.Streams),
					limitText(s.ConnsInbound), limitText(s.ConnsOutbound), limitText(s.Conns), limitText(s.FD), memText(s.Memory))
			}
			if err := w.Flush(); err != nil {
				return err
			}
			fmt.Fprintln(out, "\nwhat changes them (node.json key, 'floe node init' flag):")
			for _, k := range rep.Keys {
				flag := ""
				if k.Flag != "" {
					flag = " (" + k.Flag + ")"
				}
				fmt.Fprintf(out, "  %s%s: %s\n", k.Key, flag, k.Effect)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&config, "config", "", "node config file (see 'floe node init')")
	cmd.Flags().IntVar(&shards, "shards", 0, "the network's number of shards (default: ask the config's ledger)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	_ = cmd.MarkFlagRequired("config")
	return cmd
}

func softFDLimit() int {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0
	}
	return int(min(l.Cur, 1<<30))
}

// scopesOf lists the scopes of a concrete limit configuration: the
// fixed ones, then the services and protocols by name.
func scopesOf(p rcmgr.PartialLimitConfig) []scopeLimits {
	out := []scopeLimits{
		scope("system", p.System), scope("transient", p.Transient), scope("peer (each)", p.PeerDefault),
		scope("connection (each)", p.Conn), scope("stream (each)", p.Stream),
	}
	for _, name := range sortedKeys(p.Service) {
		out = append(out, scope("service "+name, p.Service[name]))
		if l, ok := p.ServicePeer[name]; ok {
			out = append(out, scope("service "+name+" per peer", l))
		}
	}
	for _, id := range sortedKeys(p.Protocol) {
		out = append(out, scope("protocol "+string(id), p.Protocol[id]))
		if l, ok := p.ProtocolPeer[id]; ok {
			out = append(out, scope("protocol "+string(id)+" per peer", l))
		}
	}
	return out
}

func sortedKeys[K ~string, V any](m map[K]V) []K {
	ks := make([]K, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func scope(name string, l rcmgr.ResourceLimits) scopeLimits {
	v := func(x rcmgr.LimitVal) int64 {
		if x == rcmgr.Unlimited {
			return -1
		}
		return int64(x)
	}
	mem := int64(l.Memory)
	if l.Memory == rcmgr.Unlimited64 {
		mem = -1
	}
	return scopeLimits{Scope: name, StreamsInbound: v(l.StreamsInbound), StreamsOutbound: v(l.StreamsOutbound), Streams: v(l.Streams),
		ConnsInbound: v(l.ConnsInbound), ConnsOutbound: v(l.ConnsOutbound), Conns: v(l.Conns), FD: v(l.FD), Memory: mem}
}

func limitText(v int64) string {
	if v < 0 {
		return "∞"
	}
	return strconv.FormatInt(v, 10)
}

func memText(v int64) string {
	if v < 0 {
		return "∞"
	}
	return humanBytes(uint64(v))
}
