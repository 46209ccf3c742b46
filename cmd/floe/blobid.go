package main

import (
	"fmt"
	"os"
	"runtime/debug"

	"github.com/spf13/cobra"

	"floe/codec"
)

func newBlobIDCommand() *cobra.Command {
	var nShards int
	cmd := &cobra.Command{
		Use:   "blob-id FILE",
		Short: "Print the Walrus blob ID of a file (RS2)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := codec.NewParams(nShards)
			if err != nil {
				return err
			}
			fi, err := os.Stat(args[0])
			if err != nil {
				return err
			}
			if !fi.Mode().IsRegular() {
				return fmt.Errorf("%s is not a regular file", args[0])
			}
			if uint64(fi.Size()) > p.MaxBlobSize() {
				return fmt.Errorf("%s: %d bytes exceeds the maximum blob size %d at %d shards", args[0], fi.Size(), p.MaxBlobSize(), nShards)
			}
			// The encoder's live memory is about 1.6× the file; a soft limit
			// makes the GC keep the peak within 2× + 64 MiB as promised.
			debug.SetMemoryLimit(2*fi.Size() + 48<<20)
			blob, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			_, id, err := codec.ComputeMetadata(p, blob)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), id)
			return nil
		},
	}
	cmd.Flags().IntVar(&nShards, "n-shards", 1000, "number of shards of the network (Walrus mainnet/testnet: 1000)")
	return cmd
}
