package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"slices"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"floe/codec"
)

func newBenchCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "bench", Short: "Benchmarks that print figures"}
	cmd.AddCommand(newBenchEncodeCommand(), newBenchE2ECommand())
	return cmd
}

// peakRSS is the process's peak resident set size in bytes.
func peakRSS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return -1
	}
	return ru.Maxrss * 1024
}

func newBenchEncodeCommand() *cobra.Command {
	var nShards, runs int
	var size int64
	var metadataOnly, asJSON bool
	cmd := &cobra.Command{
		Use:   "encode",
		Short: "Encode random data (metadata + all slivers) and print MB/s and peak memory",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := codec.NewParams(nShards)
			if err != nil {
				return err
			}
			if size < 0 || uint64(size) > p.MaxBlobSize() {
				return fmt.Errorf("--size %d outside [0, %d] at %d shards", size, p.MaxBlobSize(), nShards)
			}
			if runs < 1 {
				return fmt.Errorf("--runs must be at least 1")
			}
			blob := make([]byte, size)
			rng := rand.New(rand.NewPCG(1, 2))
			for i := range blob {
				blob[i] = byte(rng.Uint32())
			}
			s, _ := p.SymbolSize(uint64(size))
			out := cmd.OutOrStdout()
			if asJSON {
				out = io.Discard
			}
			what := "metadata + all slivers"
			if metadataOnly {
				what = "metadata only (blob ID)"
			}
			fmt.Fprintf(out, "encode %d bytes at n=%d (symbol %d B, %s), %d runs, GOMAXPROCS=%d\n", size, nShards, s, what, runs, runtime.GOMAXPROCS(0))
			var times []time.Duration
			for i := range runs {
				runtime.GC()
				start := time.Now()
				if metadataOnly {
					_, _, err = codec.ComputeMetadata(p, blob)
				} else {
					_, err = codec.Encode(p, blob)
				}
				if err != nil {
					return err
				}
				d := time.Since(start)
				times = append(times, d)
				fmt.Fprintf(out, "  run %d: %v\n", i+1, d.Round(time.Millisecond))
			}
			slices.Sort(times)
			med := times[len(times)/2]
			mbps := float64(size) / 1e6 / med.Seconds()
			if asJSON {
				r := benchEncodeResult{Size: size, NShards: nShards, SymbolSize: s, MetadataOnly: metadataOnly, GOMAXPROCS: runtime.GOMAXPROCS(0),
					MedianMs: float64(med) / 1e6, MBps: mbps, PeakRSS: peakRSS()}
				for _, d := range times {
					r.RunsMs = append(r.RunsMs, float64(d)/1e6)
				}
				return printJSON(cmd.OutOrStdout(), r)
			}
			fmt.Fprintf(out, "median %v  %.1f MB/s  peak RSS %.1f MiB\n", med.Round(time.Millisecond), mbps, float64(peakRSS())/(1<<20))
			return nil
		},
	}
	cmd.Flags().IntVar(&nShards, "n-shards", 1000, "number of shards")
	cmd.Flags().Int64Var(&size, "size", 1<<20, "blob size in bytes")
	cmd.Flags().IntVar(&runs, "runs", 5, "number of runs (the median is reported)")
	cmd.Flags().BoolVar(&metadataOnly, "metadata-only", false, "compute only the metadata and blob ID, as blob-id does")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the figures as JSON")
	return cmd
}

// benchEncodeResult is what `floe bench encode --json` prints (times in
// milliseconds, sorted).
type benchEncodeResult struct {
	Size         int64     `json:"size"`
	NShards      int       `json:"n_shards"`
	SymbolSize   int       `json:"symbol_size"`
	MetadataOnly bool      `json:"metadata_only"`
	GOMAXPROCS   int       `json:"gomaxprocs"`
	RunsMs       []float64 `json:"runs_ms"`
	MedianMs     float64   `json:"median_ms"`
	MBps         float64   `json:"mb_per_s"`
	PeakRSS      int64     `json:"peak_rss_bytes"`
}
