package main

import (
	"fmt"
	"os"
	"runtime/debug"

	"github.com/spf13/cobra"

	"floe/codec"
)

func newBlobIDCommand() *cobra.Command {
	var (
		nShards   int
		asJSON    bool
		spillDir  string
		minStream int64
	)
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
			if fi.Size() < minStream {
				// The encoder's live memory is about 1.6× the file; a soft
				// limit makes the GC keep the peak within 2× + 64 MiB.
				debug.SetMemoryLimit(2*fi.Size() + 48<<20)
			}
			// Larger files are encoded streamed, through a spill file.
			id, size, err := fileBlobID(cmd.Context(), p, args[0], spillDir, minStream)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), struct {
					File    string       `json:"file"`
					BlobID  codec.BlobID `json:"blob_id"`
					Size    int          `json:"size"`
					NShards int          `json:"n_shards"`
				}{args[0], id, int(size), nShards})
			}
			fmt.Fprintln(cmd.OutOrStdout(), id)
			return nil
		},
	}
	cmd.Flags().IntVar(&nShards, "n-shards", 1000, "number of shards of the network (Walrus mainnet/testnet: 1000)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the blob ID, size and number of shards as JSON")
	addStreamMin(cmd, &minStream)
	cmd.Flags().StringVar(&spillDir, "spill-dir", "", "directory of the temporary spill of files of 64 MiB or more (about 5× the file; default $TMPDIR)")
	return cmd
}
