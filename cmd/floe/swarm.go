package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"floe/chainlink"
	"floe/codec"
	"floe/node"
	"floe/node/gateway"
)

// quietLogger logs warnings and errors of the libraries to stderr; clients
// print their own results.
func quietLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func newDevnetCommand() *cobra.Command {
	var (
		cfg node.DevnetConfig
		gw  string
	)
	cmd := &cobra.Command{
		Use:   "devnet",
		Short: "Run a local swarm (the embedded ledger and storage nodes on loopback) in this process",
		Long: `Run a local swarm: the embedded ledger, served over HTTP on loopback, and
--nodes storage nodes on loopback. It prints "ready" once every node holds its
shards, and writes a client config (client.json) into --dir that
'floe store/read/status --config' accept. Stop it with Ctrl-C; starting it
again on the same --dir resumes the swarm with its blobs.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			cfg.Logger = quietLogger(cmd.ErrOrStderr())
			d, err := node.StartDevnet(ctx, cfg)
			if err != nil {
				return err
			}
			defer d.Close()
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "ledger: %s\n", d.LedgerURL())
			for _, n := range d.Nodes() {
				fmt.Fprintf(out, "node %s: %d shards, %s\n", n.PeerID(), len(n.Shards()), n.AddrInfo().Addrs)
			}
			fmt.Fprintf(out, "client config: %s\n", d.ClientConfigPath())
			var wait func() error
			if gw != "" {
				if wait, err = startGateway(ctx, d.ClientConfig(), gw, false, gateway.Config{Logger: cfg.Logger}, out); err != nil {
					return err
				}
			}
			fmt.Fprintln(out, "ready")
			<-ctx.Done()
			fmt.Fprintln(cmd.ErrOrStderr(), "stopping")
			if wait != nil {
				if err := wait(); err != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "gateway: %v\n", err)
				}
			}
			return d.Close()
		},
	}
	f := cmd.Flags()
	f.IntVar(&cfg.Nodes, "nodes", 4, "number of storage nodes")
	f.IntVar(&cfg.Shards, "shards", 100, "number of shards (fixed when the devnet is first created)")
	f.StringVar(&cfg.Dir, "dir", "floe-devnet", "directory of the swarm's state and client config")
	f.StringVar(&cfg.LedgerListen, "ledger-listen", "127.0.0.1:0", "loopback address to serve the ledger on")
	f.DurationVar(&cfg.EpochDuration, "epoch-duration", 0, "advance epochs automatically (0: only on request)")
	f.StringVar(&gw, "gateway", "", "also serve the Walrus aggregator/publisher HTTP API on this loopback address (e.g. 127.0.0.1:31415)")
	return cmd
}

// clientFlags are the flags shared by the client commands.
type clientFlags struct{ config string }

func (c *clientFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&c.config, "config", filepath.Join("floe-devnet", node.ClientConfigFile), "client config (written by 'floe devnet')")
}

func (c *clientFlags) open(ctx context.Context, stderr io.Writer) (*node.Client, error) {
	cfg, err := node.LoadClientConfig(c.config)
	if err != nil {
		return nil, err
	}
	return node.NewClient(ctx, cfg, node.WithClientLogger(quietLogger(stderr)))
}

func newStoreCommand() *cobra.Command {
	var (
		cf     clientFlags
		opts   node.StoreOptions
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "store FILE",
		Short: "Store a file on the swarm and print its blob ID",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			fi, err := os.Stat(args[0])
			if err != nil {
				return err
			}
			if !fi.Mode().IsRegular() {
				return fmt.Errorf("%s is not a regular file", args[0])
			}
			c, err := cf.open(cmd.Context(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer c.Close()
			if max := c.Params().MaxBlobSize(); uint64(fi.Size()) > max {
				return fmt.Errorf("%s: %d bytes: %w (maximum %d)", args[0], fi.Size(), node.ErrTooLarge, max)
			}
			data, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			bar := newProgressBar(cmd.ErrOrStderr())
			opts.Progress = bar.update
			res, err := c.Store(cmd.Context(), data, opts)
			bar.finish()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(res)
			}
			fmt.Fprintln(out, res.BlobID)
			if res.AlreadyCertified {
				fmt.Fprintf(cmd.ErrOrStderr(), "already certified until epoch %d: nothing stored\n", res.EndEpoch)
			} else {
				fmt.Fprintf(cmd.ErrOrStderr(), "certified: %d bytes until epoch %d, object %s, cost %d\n", len(data), res.EndEpoch, res.Blob.ObjectID, res.Cost)
			}
			return nil
		},
	}
	cf.add(cmd)
	f := cmd.Flags()
	f.Uint32Var(&opts.Epochs, "epochs", 1, "storage period in epochs from the current one")
	f.BoolVar(&opts.Deletable, "deletable", false, "register a deletable blob")
	f.BoolVar(&opts.Force, "force", false, "store a new object even if the blob is already certified")
	f.BoolVar(&asJSON, "json", false, "print the whole result as JSON")
	return cmd
}

func newReadCommand() *cobra.Command {
	var (
		cf           clientFlags
		out          string
		strict, skip bool
	)
	cmd := &cobra.Command{
		Use:   "read BLOB_ID",
		Short: "Read a blob from the swarm and write its bytes to stdout or -o",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := codec.ParseBlobID(args[0])
			if err != nil {
				return err
			}
			if strict && skip {
				return errors.New("--strict and --skip-check exclude each other")
			}
			c, err := cf.open(cmd.Context(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer c.Close()
			opts := node.ReadOptions{}
			switch {
			case strict:
				opts.Check = codec.CheckStrict
			case skip:
				opts.Check = codec.CheckSkip
			}
			bar := newProgressBar(cmd.ErrOrStderr())
			opts.Progress = bar.update
			res, err := c.Read(cmd.Context(), id, opts)
			bar.finish()
			if res != nil {
				for _, l := range res.Liars {
					fmt.Fprintf(cmd.ErrOrStderr(), "node %s (peer %s) lied: %s\n", l.NodeID, l.PeerID, l.Reason)
				}
			}
			if err != nil {
				return err
			}
			if out == "" || out == "-" {
				_, err = cmd.OutOrStdout().Write(res.Data)
				return err
			}
			// A failed read never leaves a truncated file behind.
			return node.WriteFileAtomic(out, res.Data, 0o644)
		},
	}
	cf.add(cmd)
	cmd.Flags().StringVarP(&out, "output", "o", "", "write the blob here instead of stdout")
	cmd.Flags().BoolVar(&strict, "strict", false, "strict consistency check (re-encode the whole blob)")
	cmd.Flags().BoolVar(&skip, "skip-check", false, "skip the consistency check")
	return cmd
}

func newStatusCommand() *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use:   "status BLOB_ID",
		Short: "Print a blob's status on the chain",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := codec.ParseBlobID(args[0])
			if err != nil {
				return err
			}
			c, err := cf.open(cmd.Context(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer c.Close()
			st, err := c.Status(cmd.Context(), id)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			switch {
			case st.Invalid:
				fmt.Fprintf(out, "%s: invalid (inconsistently encoded)\n", id)
			case !st.Exists:
				fmt.Fprintf(out, "%s: nonexistent\n", id)
			case st.Certified():
				fmt.Fprintf(out, "%s: certified until epoch %d (%d objects)\n", id, st.CertifiedEndEpoch, len(st.Objects))
			default:
				fmt.Fprintf(out, "%s: registered, not certified (%d objects)\n", id, len(st.Objects))
			}
			return nil
		},
	}
	cf.add(cmd)
	return cmd
}

func newNodeCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "node", Short: "Run a storage node"}
	var config string
	run := &cobra.Command{
		Use:   "run",
		Short: "Run a storage node from its config file until SIGINT/SIGTERM",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := node.LoadConfig(config)
			if err != nil {
				return err
			}
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			ctx := cmd.Context()
			startCtx, cancel := context.WithTimeout(ctx, time.Minute)
			n, err := node.New(startCtx, cfg, node.Options{Logger: log})
			cancel()
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "node %s peer %s serving on %s\n", n.ID(), n.PeerID(), n.AddrInfo().Addrs)
			<-ctx.Done()
			log.Info("shutting down")
			return n.Close()
		},
	}
	run.Flags().StringVar(&config, "config", "", "node config file (see 'floe node init')")
	_ = run.MarkFlagRequired("config")

	var icfg node.Config
	var dir, owner string
	initCmd := &cobra.Command{
		Use:   "init",
		Short: "Write a node config file into --dir",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				return errors.New("--dir is required")
			}
			if owner == "" {
				return errors.New("--owner is required (the account that stakes for the node)")
			}
			id, err := chainlink.ParseID(owner)
			if err != nil {
				return fmt.Errorf("--owner: %w", err)
			}
			icfg.Owner = id
			if icfg.Name == "" {
				icfg.Name = filepath.Base(dir)
			}
			icfg.DataDir = dir
			if err := icfg.Validate(); err != nil {
				return err
			}
			icfg.DataDir = "." // relative to the config file
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			path := filepath.Join(dir, "node.json")
			if _, err := os.Stat(path); err == nil {
				return fmt.Errorf("%s exists; not overwriting", path)
			}
			if err := node.WriteJSON(path, icfg); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), path)
			return nil
		},
	}
	f := initCmd.Flags()
	f.StringVar(&dir, "dir", "", "the node's data directory (the config is written there as node.json)")
	f.StringVar(&icfg.Name, "name", "", "node name on the chain (default: the directory's name)")
	f.StringVar(&icfg.Network, "network", "local", "network name")
	f.StringSliceVar(&icfg.Listen, "listen", []string{"/ip4/127.0.0.1/tcp/0"}, "libp2p listen multiaddrs")
	f.StringSliceVar(&icfg.Bootstrap, "bootstrap", nil, "bootstrap peers (multiaddrs with /p2p/ID)")
	f.StringVar(&icfg.Ledger, "ledger", "http://127.0.0.1:7070", "ledger service URL")
	f.StringVar(&owner, "owner", "", "owner account (0x + 64 hex digits)")
	f.Uint64Var(&icfg.Stake, "stake", 1_000_000, "stake moved from the owner's balance to the node")
	f.BoolVar(&icfg.Faucet, "faucet", false, "take the stake from the ledger's faucet first (local ledgers)")
	f.DurationVar((*time.Duration)(&icfg.ShardSyncFallback), "shard-sync-fallback", 0,
		"how long to pull a gained shard from its previous owner before recovering the rest (default 10m)")
	f.DurationVar((*time.Duration)(&icfg.ShardDropGrace), "shard-drop-grace", 0,
		"how long to keep serving a lost shard after the epoch change is done (default 10m)")
	cmd.AddCommand(run, initCmd, newNodeStatusCommand())
	return cmd
}

// progressBar draws one line on a terminal; elsewhere it draws nothing.
type progressBar struct {
	w     io.Writer
	on    bool
	phase string
	last  time.Time
}

func newProgressBar(w io.Writer) *progressBar {
	f, ok := w.(*os.File)
	on := false
	if ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			on = true
		}
	}
	return &progressBar{w: w, on: on}
}

func (b *progressBar) update(p node.Progress) {
	if !b.on || p.Total <= 0 {
		return
	}
	if p.Phase == b.phase && p.Done < p.Total && time.Since(b.last) < 50*time.Millisecond {
		return
	}
	b.phase, b.last = p.Phase, time.Now()
	const width = 30
	fill := int(int64(width) * min(p.Done, p.Total) / p.Total)
	fmt.Fprintf(b.w, "\r%-10s [%s%s] %3d%%", p.Phase, strings.Repeat("=", fill), strings.Repeat(" ", width-fill), 100*min(p.Done, p.Total)/p.Total)
}

func (b *progressBar) finish() {
	if b.on && b.phase != "" {
		fmt.Fprint(b.w, "\r\033[K")
	}
}
