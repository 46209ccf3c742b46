package main

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"floe/codec"
	"floe/node"
)

func newBenchE2ECommand() *cobra.Command {
	var (
		nodes, shards, runs int
		size                int64
		noSync, asJSON      bool
		cpuProfile          string
		processes, keepLogs bool
		profiles            bool
		workDir, goMemLimit string
		clientMemory        string
	)
	cmd := &cobra.Command{
		Use:   "e2e",
		Short: "Store and read a blob on a devnet (one process, or --processes) and print the figures",
		Long: `Store and read a blob on a devnet (one process, or --processes) and print the figures.

In one process, each run stores a fresh random blob (phases encode, register,
distribute, certify), waits for the store's tail (the pushes that go on after
the quorum, to members still receiving their slivers), then reads the blob
back (status, metadata, slivers, decode) and checks its bytes.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runs < 1 {
				return fmt.Errorf("--runs must be at least 1")
			}
			if processes {
				cfg := procBenchConfig{nodes: nodes, shards: shards, runs: runs, size: size, noSync: noSync, dir: workDir, keepLogs: keepLogs, profiles: profiles}
				if goMemLimit != "" {
					cfg.env = append(cfg.env, "GOMEMLIMIT="+goMemLimit)
				}
				if clientMemory != "" {
					cfg.clientArgs = append(cfg.clientArgs, "--memory", clientMemory)
				}
				out := cmd.OutOrStdout()
				if asJSON {
					out = cmd.ErrOrStderr()
				}
				res, err := runProcBench(cmd.Context(), cfg, out)
				if err != nil {
					return err
				}
				if asJSON {
					return printJSON(cmd.OutOrStdout(), res)
				}
				return nil
			}
			if workDir != "" || goMemLimit != "" || clientMemory != "" || keepLogs || profiles {
				return fmt.Errorf("--dir, --gomemlimit, --client-memory, --keep-logs and --profiles need --processes")
			}
			p, err := codec.NewParams(shards)
			if err != nil {
				return err
			}
			if size < 0 || uint64(size) > p.MaxBlobSize() {
				return fmt.Errorf("--size %d outside [0, %d] at %d shards", size, p.MaxBlobSize(), shards)
			}
			dir, err := os.MkdirTemp("", "floe-bench-e2e-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			ctx := cmd.Context()
			d, err := node.StartDevnet(ctx, node.DevnetConfig{Nodes: nodes, Shards: shards, Dir: dir, NoSync: noSync, Logger: quietLogger(cmd.ErrOrStderr())})
			if err != nil {
				return err
			}
			defer d.Close()
			c, err := node.NewClient(ctx, d.ClientConfig(), node.WithClientLogger(quietLogger(cmd.ErrOrStderr())))
			if err != nil {
				return err
			}
			defer c.Close()
			if cpuProfile != "" {
				f, err := os.Create(cpuProfile)
				if err != nil {
					return err
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
				defer pprof.StopCPUProfile()
			}
			out := cmd.OutOrStdout()
			if asJSON {
				out = io.Discard
			}
			fmt.Fprintf(out, "e2e: %d nodes, n=%d, %d bytes, %d runs, GOMAXPROCS=%d, fsync=%v\n", nodes, shards, size, runs, runtime.GOMAXPROCS(0), !noSync)
			var storeT, readT []time.Duration
			phases := map[string][]time.Duration{}
			rng := rand.New(rand.NewPCG(7, 8))
			for r := range runs {
				blob := make([]byte, size)
				for i := 0; i+8 <= len(blob); i += 8 {
					v := rng.Uint64()
					for j := range 8 {
						blob[i+j] = byte(v >> (8 * j))
					}
				}
				runtime.GC()
				t := time.Now()
				res, err := c.Store(ctx, blob, node.StoreOptions{Epochs: 1})
				if err != nil {
					return fmt.Errorf("store: %w", err)
				}
				st := time.Since(t)
				// The read starts once the store's last pushes (to members
				// still receiving their slivers after the quorum) ended: it
				// measures the read, and the tail is a figure of its own.
				t = time.Now()
				if err := c.WaitPushes(ctx); err != nil {
					return fmt.Errorf("waiting for the store's last pushes: %w", err)
				}
				tail := time.Since(t)
				phases["store tail"] = append(phases["store tail"], tail)
				runtime.GC()
				t = time.Now()
				rr, err := c.Read(ctx, res.BlobID, node.ReadOptions{})
				if err != nil {
					return fmt.Errorf("read: %w", err)
				}
				rt := time.Since(t)
				if !bytes.Equal(rr.Data, blob) {
					return fmt.Errorf("read back different bytes")
				}
				storeT, readT = append(storeT, st), append(readT, rt)
				fmt.Fprintf(out, "  run %d: store %v (", r+1, st.Round(time.Millisecond))
				for _, ph := range []string{"encode", "register", "distribute", "certify"} {
					phases["store "+ph] = append(phases["store "+ph], res.Phases[ph])
					fmt.Fprintf(out, " %s %v", ph, res.Phases[ph].Round(time.Millisecond))
				}
				fmt.Fprintf(out, " ) tail %v  read %v (", tail.Round(time.Millisecond), rt.Round(time.Millisecond))
				for _, ph := range []string{"status", "metadata", "slivers", "decode"} {
					phases["read "+ph] = append(phases["read "+ph], rr.Phases[ph])
					fmt.Fprintf(out, " %s %v", ph, rr.Phases[ph].Round(time.Millisecond))
				}
				fmt.Fprintln(out, " )")
			}
			med := func(ds []time.Duration) time.Duration {
				s := slices.Clone(ds)
				slices.Sort(s)
				return s[len(s)/2]
			}
			mbps := func(d time.Duration) float64 { return float64(size) / d.Seconds() / 1e6 }
			fmt.Fprintf(out, "median store %v  %.1f MB/s\n", med(storeT).Round(time.Millisecond), mbps(med(storeT)))
			fmt.Fprintf(out, "median read  %v  %.1f MB/s\n", med(readT).Round(time.Millisecond), mbps(med(readT)))
			for _, ph := range []string{"store encode", "store register", "store distribute", "store certify", "store tail", "read status", "read metadata", "read slivers", "read decode"} {
				fmt.Fprintf(out, "  %-17s median %v\n", ph, med(phases[ph]).Round(time.Millisecond))
			}
			fmt.Fprintf(out, "peak RSS %.1f MiB\n", float64(peakRSS())/(1<<20))
			if asJSON {
				r := benchE2EResult{Nodes: nodes, NShards: shards, Size: size, Runs: runs, GOMAXPROCS: runtime.GOMAXPROCS(0), Fsync: !noSync,
					StoreMs: float64(med(storeT)) / 1e6, ReadMs: float64(med(readT)) / 1e6, StoreMBps: mbps(med(storeT)), ReadMBps: mbps(med(readT)),
					PhasesMs: map[string]float64{}, PeakRSS: peakRSS()}
				for ph, ds := range phases {
					r.PhasesMs[ph] = float64(med(ds)) / 1e6
				}
				return printJSON(cmd.OutOrStdout(), r)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&nodes, "nodes", 7, "storage nodes")
	f.IntVar(&shards, "shards", 1000, "shards")
	f.Int64Var(&size, "size", 64<<20, "blob size in bytes")
	f.IntVar(&runs, "runs", 3, "runs (medians are reported)")
	f.BoolVar(&noSync, "no-sync", false, "skip fsync in the nodes' stores")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the runs to this file")
	f.BoolVar(&asJSON, "json", false, "print the medians as JSON")
	f.BoolVar(&processes, "processes", false, "run the ledger, each node, and each store and read as its own floe process, and report each one's peak RSS")
	f.StringVar(&workDir, "dir", "", "with --processes: where the swarm and the blob files live (default $TMPDIR; a store needs about 11× the blob there)")
	f.StringVar(&goMemLimit, "gomemlimit", "", "with --processes: GOMEMLIMIT of every process (e.g. 768MiB)")
	f.BoolVar(&profiles, "profiles", false, "with --processes: every process (nodes, ledger, clients) writes a CPU profile into the kept logs' directory")
	f.BoolVar(&keepLogs, "keep-logs", false, "with --processes: keep every process's log (nodes and clients) in a directory beside --dir, and print where")
	f.StringVar(&clientMemory, "client-memory", "", "with --processes: --memory of floe store and floe read")
	return cmd
}

// benchE2EResult is what `floe bench e2e --json` prints: medians, times in
// milliseconds; PhasesMs by "store encode", "read slivers" and so on.
type benchE2EResult struct {
	Nodes      int                `json:"nodes"`
	NShards    int                `json:"n_shards"`
	Size       int64              `json:"size"`
	Runs       int                `json:"runs"`
	GOMAXPROCS int                `json:"gomaxprocs"`
	Fsync      bool               `json:"fsync"`
	StoreMs    float64            `json:"store_ms"`
	ReadMs     float64            `json:"read_ms"`
	StoreMBps  float64            `json:"store_mb_per_s"`
	ReadMBps   float64            `json:"read_mb_per_s"`
	PhasesMs   map[string]float64 `json:"phases_ms"`
	PeakRSS    int64              `json:"peak_rss_bytes"`
}
