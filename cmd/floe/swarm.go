package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pbnjay/memory"
	"github.com/spf13/cobra"

	"floe/chainlink"
	"floe/chainlink/account"
	"floe/codec"
	"floe/node"
	"floe/node/gateway"
	"floe/p2p"
)

// quietLogger logs warnings and errors of the libraries to stderr; clients
// print their own results.
func quietLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// defaultDevnetDir is the default --dir of `floe devnet` and, with
// client.json, the default --config of the client commands, so that they
// find a devnet started with the defaults wherever they run.
var defaultDevnetDir = filepath.Join(os.TempDir(), "floe-devnet")

// devnetPIDFile is the file in a devnet's --dir that holds its PID while
// it runs (`floe devnet stop` reads it).
const devnetPIDFile = "devnet.pid"

func newDevnetCommand() *cobra.Command {
	var (
		cfg  node.DevnetConfig
		gw   string
		logs logFlags
	)
	cmd := &cobra.Command{
		Use:   "devnet",
		Short: "Run a local swarm (the embedded ledger and storage nodes on loopback) in this process",
		Long: `Run a local swarm: the embedded ledger, served over HTTP on loopback, and
--nodes storage nodes on loopback. It prints "ready" once every node holds its
shards, and writes a client config (client.json) into --dir that
'floe store/read/status --config' accept, and its PID into --dir/devnet.pid.
Stop it with Ctrl-C or 'floe devnet stop --dir DIR'; starting it again on
the same --dir resumes the swarm with its blobs.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkDevnetFlags(cfg, gw); err != nil {
				return err
			}
			ctx := cmd.Context()
			cfg.Logger = logs.logger(cmd.ErrOrStderr())
			d, err := node.StartDevnet(ctx, cfg)
			if err != nil {
				var inUse *node.DirInUseError
				if errors.As(err, &inUse) {
					if pid, perr := runningDevnet(cfg.Dir); perr == nil {
						return fmt.Errorf("a devnet (pid %d) is running on %s; stop it with 'floe devnet stop --dir %s'", pid, cfg.Dir, cfg.Dir)
					}
				}
				return err
			}
			defer d.Close()
			// The devnet holds its directory's lock from here on, so the PID
			// file is ours to write.
			pidPath := filepath.Join(cfg.Dir, devnetPIDFile)
			if err := writePIDFile(pidPath); err != nil {
				return err
			}
			defer removePIDFile(pidPath)
			out := cmd.OutOrStdout()
			if rpc := d.SuiRPC(); rpc != "" {
				fmt.Fprintf(out, "sui stand-in (sui.rpc.v2 gRPC): %s\n", rpc)
			} else {
				fmt.Fprintf(out, "ledger: %s\n", d.LedgerURL())
			}
			if st, err := d.Ledger.EpochState(ctx); err == nil && st.NShards != cfg.Shards {
				fmt.Fprintf(cmd.ErrOrStderr(), "the devnet's ledger has %d shards (the --shards flag is ignored for an existing devnet)\n", st.NShards)
			}
			for _, n := range d.Nodes() {
				fmt.Fprintf(out, "node %s: %d shards, %s\n", n.PeerID(), len(n.Shards()), n.AddrInfo().Addrs)
			}
			fmt.Fprintf(out, "client config: %s\n", d.ClientConfigPath())
			var wait func() error
			if gw != "" {
				if wait, err = startGateway(ctx, d.ClientConfig(), gw, "--gateway", false, gateway.Config{Logger: cfg.Logger}, out); err != nil {
					return err
				}
			}
			fmt.Fprintf(out, "pid: %d (%s; 'floe devnet stop --dir %s' stops it)\n", os.Getpid(), pidPath, cfg.Dir)
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
	f.StringVar(&cfg.Dir, "dir", defaultDevnetDir, "directory of the swarm's state and client config")
	f.StringVar(&cfg.LedgerListen, "ledger-listen", "127.0.0.1:0", "loopback address to serve the ledger on")
	f.DurationVar(&cfg.EpochDuration, "epoch-duration", 0, "advance epochs automatically (0: only on request)")
	f.StringVar(&cfg.Chain, "chain", "", "chain the swarm anchors on: ledger (default, served over HTTP) or sui-sim (the same ledger behind a loopback Sui sui.rpc.v2 stand-in, reached through the Sui adapter)")
	f.StringVar(&gw, "gateway", "", "also serve the Walrus aggregator/publisher HTTP API on this loopback address (e.g. 127.0.0.1:31415)")
	logs.add(cmd, slog.LevelWarn)
	cmd.AddCommand(newDevnetStopCommand())
	return cmd
}

// checkDevnetFlags refuses flag values the devnet would otherwise replace
// by defaults or find wrong only after it started.
func checkDevnetFlags(cfg node.DevnetConfig, gw string) error {
	switch {
	case cfg.Nodes < 1 || cfg.Nodes > chainlink.MaxActiveSetSize:
		return fmt.Errorf("--nodes %d: want 1 to %d", cfg.Nodes, chainlink.MaxActiveSetSize)
	case cfg.Shards < 1:
		return fmt.Errorf("--shards %d: want a positive number of shards", cfg.Shards)
	case cfg.Shards < cfg.Nodes:
		return fmt.Errorf("--shards %d: fewer shards than --nodes %d", cfg.Shards, cfg.Nodes)
	case cfg.EpochDuration < 0:
		return fmt.Errorf("--epoch-duration %v: must not be negative", cfg.EpochDuration)
	case cfg.Dir == "":
		return errors.New("--dir is required")
	}
	if h, _, err := net.SplitHostPort(cfg.LedgerListen); err != nil {
		return fmt.Errorf("--ledger-listen %q: %w", cfg.LedgerListen, err)
	} else if !isLoopbackHost(h) {
		return fmt.Errorf("--ledger-listen %q is not a loopback address: the devnet serves its ledger on loopback only", cfg.LedgerListen)
	}
	if gw != "" {
		if h, _, err := net.SplitHostPort(gw); err != nil {
			return fmt.Errorf("--gateway %q: %w", gw, err)
		} else if !isLoopbackHost(h) {
			return fmt.Errorf("--gateway %q is not a loopback address: the devnet serves its gateway on loopback only "+
				"(to serve beyond this host, run 'floe gateway --config %s --listen %s --allow-remote' beside the devnet)",
				gw, filepath.Join(cfg.Dir, node.ClientConfigFile), gw)
		}
	}
	return nil
}

func writePIDFile(path string) error {
	if err := node.WriteFileAtomic(path, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return fmt.Errorf("pid file: %w", err)
	}
	return nil
}

// removePIDFile removes path if it still names this process.
func removePIDFile(path string) {
	if pid, err := readPIDFile(path); err == nil && pid == os.Getpid() {
		os.Remove(path)
	}
}

func readPIDFile(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("%s does not hold a PID", path)
	}
	return pid, nil
}

// runningDevnet returns the PID in dir's devnet.pid after checking that it
// is a live `floe devnet` process of dir: on Linux, its command line must
// be floe's devnet command and its --dir (resolved against its working
// directory) must be dir. A stale file (a devnet that was killed, its PID
// since reused) is refused.
func runningDevnet(dir string) (int, error) {
	path := filepath.Join(dir, devnetPIDFile)
	pid, err := readPIDFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, fmt.Errorf("no devnet runs on %s (no %s)", dir, devnetPIDFile)
	}
	if err != nil {
		return 0, err
	}
	p, err := os.FindProcess(pid)
	if err == nil {
		err = p.Signal(syscall.Signal(0))
	}
	if err != nil {
		return 0, fmt.Errorf("%s is stale: process %d is not running", path, pid)
	}
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if errors.Is(err, os.ErrNotExist) {
		if _, serr := os.Stat("/proc/self/cmdline"); serr != nil {
			return pid, nil // no /proc on this system: liveness is all we can check
		}
		return 0, fmt.Errorf("%s is stale: process %d is not running", path, pid)
	}
	if err != nil {
		return 0, fmt.Errorf("checking process %d of %s: %w", pid, path, err)
	}
	args := strings.Split(strings.TrimSuffix(string(raw), "\x00"), "\x00")
	cwd, _ := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
	if !isDevnetOf(args, cwd, dir) {
		return 0, fmt.Errorf("%s is stale: process %d is not a floe devnet of %s (%s)", path, pid, dir, strings.Join(args, " "))
	}
	return pid, nil
}

// isDevnetOf says whether args (a command line) run `floe devnet` with
// --dir dir, a relative --dir taken from cwd.
func isDevnetOf(args []string, cwd, dir string) bool {
	if len(args) < 2 || args[1] != "devnet" {
		return false
	}
	their := defaultDevnetDir
	for i := 2; i < len(args); i++ {
		switch a := args[i]; {
		case a == "--dir" && i+1 < len(args):
			their = args[i+1]
			i++
		case strings.HasPrefix(a, "--dir="):
			their = strings.TrimPrefix(a, "--dir=")
		case !strings.HasPrefix(a, "-"):
			// devnet takes no arguments: a word is a subcommand
			// (stop) or a flag's value.
			if a == "stop" {
				return false
			}
		}
	}
	if !filepath.IsAbs(their) {
		if cwd == "" {
			return false
		}
		their = filepath.Join(cwd, their)
	}
	return sameDir(their, dir)
}

// sameDir says whether a and b name the same existing directory.
func sameDir(a, b string) bool {
	var real [2]string
	for i, p := range []string{a, b} {
		abs, err := filepath.Abs(p)
		if err != nil {
			return false
		}
		if real[i], err = filepath.EvalSymlinks(abs); err != nil {
			return false
		}
	}
	return real[0] == real[1]
}

func newDevnetStopCommand() *cobra.Command {
	var (
		dir     string
		timeout time.Duration
		asJSON  bool
	)
	cmd := &cobra.Command{
		Use:   "stop",
		Short: "Stop the devnet running on --dir (SIGINT to the PID in its devnet.pid) and wait for it to exit",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if timeout <= 0 {
				return fmt.Errorf("--timeout %v: must be positive", timeout)
			}
			pid, err := runningDevnet(dir)
			if err != nil {
				return err
			}
			p, err := os.FindProcess(pid)
			if err != nil {
				return err
			}
			if err := p.Signal(os.Interrupt); err != nil {
				return fmt.Errorf("signalling devnet (pid %d): %w", pid, err)
			}
			deadline := time.Now().Add(timeout)
			for processRunning(pid) {
				if time.Now().After(deadline) {
					return fmt.Errorf("devnet (pid %d) did not exit within %v of SIGINT", pid, timeout)
				}
				time.Sleep(50 * time.Millisecond)
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), struct {
					PID int    `json:"pid"`
					Dir string `json:"dir"`
				}{pid, dir})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "stopped devnet (pid %d) on %s\n", pid, dir)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", defaultDevnetDir, "the devnet's --dir")
	cmd.Flags().DurationVar(&timeout, "timeout", time.Minute, "how long to wait for the devnet to exit")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the stopped devnet's PID and directory as JSON")
	return cmd
}

// processRunning says whether pid is alive and not a zombie (an exited
// process its parent has not reaped yet).
func processRunning(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil || p.Signal(syscall.Signal(0)) != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		// Gone since the signal, unless this system has no /proc.
		_, serr := os.Stat("/proc/self/stat")
		return serr != nil
	}
	// The state follows the command name, which is in parentheses.
	if i := strings.LastIndexByte(string(stat), ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2] != 'Z'
	}
	return true
}

// clientFlags are the flags shared by the client commands.
type clientFlags struct{ config string }

func (c *clientFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&c.config, "config", filepath.Join(defaultDevnetDir, node.ClientConfigFile), "client config (written by 'floe devnet')")
}

func (c *clientFlags) open(ctx context.Context, stderr io.Writer) (*node.Client, error) {
	cfg, err := node.LoadClientConfig(c.config)
	if err != nil {
		return nil, err
	}
	opts, err := clientChainOptions(ctx, cfg, quietLogger(stderr))
	if err != nil {
		return nil, err
	}
	return node.NewClient(ctx, cfg, append(opts, node.WithClientLogger(quietLogger(stderr)))...)
}

func newReadCommand() *cobra.Command {
	var (
		cf           clientFlags
		out          string
		strict, skip bool
		sf           streamFlags
		transport    string
	)
	cmd := &cobra.Command{
		Use:   "read BLOB_ID",
		Short: "Read a blob from the swarm and write its bytes to stdout or -o",
		Long: `Read a certified blob and write its bytes to stdout or to -o FILE. The bytes
are written in order as their slivers arrive and verify, with at most
--memory of slivers held, whatever the blob's size; rows no node serves are
decoded from other slivers through a temporary spill in --spill-dir. -o
writes a temporary file beside FILE and renames it into place only once the
whole blob is there, so a failed read leaves no truncated FILE (on stdout a
failure after the first MiB leaves a prefix, and the exit status says so).
--strict re-encodes the whole blob to check it, in memory.

--transport rest reads through the committee members' Walrus storage-node
REST APIs instead of libp2p, as a Walrus client does: each member at the
URL its chain record names (network_address), pinned to the network key
the record names (network_public_key); the blob is held in memory.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := codec.ParseBlobID(args[0])
			if err != nil {
				return err
			}
			if strict && skip {
				return errors.New("--strict and --skip-check exclude each other")
			}
			switch transport {
			case "libp2p":
			case "rest":
				check := codec.CheckDefault
				switch {
				case strict:
					check = codec.CheckStrict
				case skip:
					check = codec.CheckSkip
				}
				return readREST(cmd, cf.config, id, out, check)
			default:
				return fmt.Errorf("--transport %q: want libp2p or rest", transport)
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
			if opts.MemoryBudget, err = sf.budget(); err != nil {
				return err
			}
			opts.SpillDir = sf.spillDir
			bar := newProgressBar(cmd.ErrOrStderr())
			opts.Progress = bar.update
			var res *node.ReadResult
			toStdout := out == "" || out == "-"
			switch {
			case strict:
				// The strict check re-encodes the whole blob: in memory.
				if res, err = c.Read(cmd.Context(), id, opts); err == nil {
					if toStdout {
						_, err = cmd.OutOrStdout().Write(res.Data)
					} else {
						err = node.WriteFileAtomic(out, res.Data, 0o644)
					}
				}
			case toStdout:
				w := bufio.NewWriterSize(cmd.OutOrStdout(), 1<<20)
				if res, err = c.ReadTo(cmd.Context(), id, w, opts); err == nil {
					err = w.Flush()
				}
			default:
				// A failed read never leaves a truncated file behind.
				res, err = readToFile(cmd.Context(), c, id, out, opts)
			}
			bar.finish()
			if res != nil {
				for _, l := range res.Liars {
					fmt.Fprintf(cmd.ErrOrStderr(), "node %s (peer %s) lied: %s\n", l.NodeID, l.PeerID, l.Reason)
				}
			}
			return err
		},
	}
	cf.add(cmd)
	cmd.Flags().StringVarP(&out, "output", "o", "", "write the blob here instead of stdout")
	cmd.Flags().BoolVar(&strict, "strict", false, "strict consistency check (re-encode the whole blob)")
	cmd.Flags().BoolVar(&skip, "skip-check", false, "skip the consistency check")
	cmd.Flags().StringVar(&transport, "transport", "libp2p", "libp2p, or rest: the nodes' REST APIs named by their chain records")
	sf.add(cmd, "bound on the sliver bytes a read holds at once (not with --strict, which holds the blob)")
	return cmd
}

func newNodeCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "node", Short: "Run a storage node"}
	var (
		config string
		logs   logFlags
	)
	run := &cobra.Command{
		Use:   "run",
		Short: "Run a storage node from its config file until SIGINT/SIGTERM",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := node.LoadConfig(config)
			if err != nil {
				return err
			}
			log := logs.logger(cmd.ErrOrStderr())
			cfg = boundNodeMemory(cfg, log)
			ctx := cmd.Context()
			startCtx, cancel := context.WithTimeout(ctx, time.Minute)
			chain, err := nodeChain(startCtx, cfg, log)
			if err != nil {
				cancel()
				return err
			}
			if c, ok := chain.(io.Closer); ok {
				defer c.Close() // after the node
			}
			n, err := node.New(startCtx, cfg, node.Options{Logger: log, Chain: chain})
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
	logs.add(run, slog.LevelInfo)

	var icfg node.Config
	var dir, ownerKey string
	var initJSON bool
	initCmd := &cobra.Command{
		Use:   "init",
		Short: "Write a node config file into --dir",
		Long: `Write a node config file (node.json) into --dir. The node's owner is the
account of an ed25519 key: --owner-key PATH (created there if missing), else
DIR/owner.key, created (mode 0600). Its address is written as "owner"; the
node signs its registration (and the stake it pays) with that key, and
'floe stake --node-config' signs with it too. Keep a copy: a lost key is a
lost account.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				return errors.New("--dir is required")
			}
			// Checked before anything is written: the rule of every layer
			// the name reaches (protocol IDs, DHT keys, gossip topics).
			if err := p2p.ValidateNetwork(icfg.Network); err != nil {
				return fmt.Errorf("--network: %v", err)
			}
			if icfg.ShardSyncFallback < 0 {
				return fmt.Errorf("--shard-sync-fallback %v: must not be negative", time.Duration(icfg.ShardSyncFallback))
			}
			if icfg.ShardDropGrace < 0 {
				return fmt.Errorf("--shard-drop-grace %v: must not be negative", time.Duration(icfg.ShardDropGrace))
			}
			if icfg.MaxMemory < 0 {
				return fmt.Errorf("--max-memory %d: must not be negative", icfg.MaxMemory)
			}
			if icfg.MaxFDs < 0 {
				return fmt.Errorf("--max-fds %d: must not be negative", icfg.MaxFDs)
			}
			if icfg.Name == "" {
				icfg.Name = filepath.Base(dir)
			}
			icfg.DataDir = dir
			icfg.Owner = chainlink.ID{1} // checked below, once the key is read
			if err := icfg.Validate(); err != nil {
				return err
			}
			path := filepath.Join(dir, "node.json")
			if _, err := os.Stat(path); err == nil {
				return fmt.Errorf("%s exists; not overwriting", path)
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			keyPath := filepath.Join(dir, node.OwnerKeyFile)
			if ownerKey != "" {
				abs, err := filepath.Abs(ownerKey)
				if err != nil {
					return fmt.Errorf("--owner-key: %w", err)
				}
				keyPath, icfg.OwnerKey = abs, abs
			}
			k, created, err := account.LoadOrCreate(keyPath)
			if err != nil {
				return fmt.Errorf("owner key: %w", err)
			}
			icfg.Owner = chainlink.AccountID(k)
			icfg.DataDir = "." // relative to the config file
			if err := node.WriteJSON(path, icfg); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if initJSON {
				return printJSON(out, nodeInitResult{Config: path, OwnerKey: keyPath, Owner: icfg.Owner, OwnerKeyCreated: created})
			}
			fmt.Fprintln(out, path)
			what := "owner key"
			if created {
				what = "owner key created"
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "%s: %s (owner %s)\n", what, keyPath, icfg.Owner)
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
	f.StringVar(&icfg.RestListen, "rest-listen", "", "serve the Walrus storage-node REST API (HTTPS) on this host:port (default: none)")
	f.StringVar(&icfg.RestAnnounce, "rest-announce", "", "the host:port clients reach the REST API at, published on chain (default: the bound address)")
	f.StringVar(&ownerKey, "owner-key", "", "the owner's account key file (created if missing; default: DIR/owner.key)")
	f.Uint64Var(&icfg.Stake, "stake", 1_000_000, "stake moved from the owner's balance to the node")
	f.Int64Var(&icfg.SpaceLimit, "space-limit", 0, "most payload bytes the node stores (0: no limit)")
	f.Int64Var(&icfg.MinFreeDisk, "min-free-disk", 0, "free disk bytes the node keeps for its database (default 256 MiB; negative: none)")
	f.BoolVar(&icfg.Faucet, "faucet", false, "take the stake from the ledger's faucet first (local ledgers)")
	f.Int64Var(&icfg.MaxMemory, "max-memory", 0, "memory (bytes) libp2p's resource limits are scaled from (default: a quarter of the machine's, or GOMEMLIMIT when lower)")
	f.IntVar(&icfg.MaxFDs, "max-fds", 0, "file descriptors libp2p may use (default: half the process's soft limit)")
	f.BoolVar(&initJSON, "json", false, "print the config's path, the owner and its key file as JSON")
	f.DurationVar((*time.Duration)(&icfg.ShardSyncFallback), "shard-sync-fallback", 0,
		"how long to pull a gained shard from its previous owner before recovering the rest (default 10m)")
	f.DurationVar((*time.Duration)(&icfg.ShardDropGrace), "shard-drop-grace", 0,
		"how long to keep serving a lost shard after the epoch change is done (default 10m)")
	cmd.AddCommand(run, initCmd, newNodeStatusCommand(), newNodeLimitsCommand())
	return cmd
}

// nodeInitResult is what `floe node init --json` prints.
type nodeInitResult struct {
	Config          string       `json:"config"`
	Owner           chainlink.ID `json:"owner"`
	OwnerKey        string       `json:"owner_key"`
	OwnerKeyCreated bool         `json:"owner_key_created"`
}

// boundNodeMemory makes GOMEMLIMIT, when set, the bound of the whole node
// process: libp2p's limits scale from it (unless max_memory is set), and
// the Go runtime's own limit becomes GOMEMLIMIT less what the node holds
// outside the Go heap (Config.OutsideGoHeap), but at least half of it.
// Without this a node at GOMEMLIMIT=768MiB reading out a 6 GiB blob peaked
// at 1002-1094 MiB: its Go heap filled to the limit and pebble's memory
// sat beside it.
func boundNodeMemory(cfg node.Config, log *slog.Logger) node.Config {
	if os.Getenv("GOMEMLIMIT") == "" {
		return cfg
	}
	limit := debug.SetMemoryLimit(-1)
	if limit <= 0 || limit == math.MaxInt64 {
		return cfg
	}
	if cfg.MaxMemory == 0 && int64(memory.TotalMemory()) > limit {
		cfg.MaxMemory = limit
	}
	goLimit := max(limit-cfg.OutsideGoHeap(), limit/2)
	debug.SetMemoryLimit(goLimit)
	log.Info("GOMEMLIMIT bounds the whole node: the Go heap gets what pebble's cache, memtables and the slivers being sent leave",
		"gomemlimit_mib", limit>>20, "go_heap_limit_mib", goLimit>>20, "libp2p_memory_mib", cfg.MaxMemory>>20)
	return cfg
}
