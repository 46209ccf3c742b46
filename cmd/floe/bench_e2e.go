package main

import (
	"bytes"
	"fmt"
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
		noSync              bool
		cpuProfile          string
	)
	cmd := &cobra.Command{
		Use:   "e2e",
		Short: "Store and read a blob on a single-process devnet and print each phase",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runs < 1 {
				return fmt.Errorf("--runs must be at least 1")
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
				fmt.Fprintf(out, " )  read %v (", rt.Round(time.Millisecond))
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
			for _, ph := range []string{"store encode", "store register", "store distribute", "store certify", "read status", "read metadata", "read slivers", "read decode"} {
				fmt.Fprintf(out, "  %-17s median %v\n", ph, med(phases[ph]).Round(time.Millisecond))
			}
			fmt.Fprintf(out, "peak RSS %.1f MiB\n", float64(peakRSS())/(1<<20))
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
	return cmd
}
