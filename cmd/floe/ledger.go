package main

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"floe/chainlink"
)

func newLedgerCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "ledger", Short: "The embedded ledger (the chain of a local swarm)"}
	var (
		listen, dir    string
		shards         int
		epoch          time.Duration
		maxEpochsAhead uint32
	)
	serve := &cobra.Command{
		Use:   "serve",
		Short: "Serve the ledger over HTTP/JSON on loopback so several processes share it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				return fmt.Errorf("--dir is required: the ledger's state lives there")
			}
			log := slog.New(slog.NewTextHandler(os.Stderr, nil))
			log.Info("ledger serving", "listen", listen, "dir", dir, "shards", shards)
			return chainlink.Serve(cmd.Context(), listen, dir,
				chainlink.WithShards(shards), chainlink.WithEpochDuration(epoch),
				chainlink.WithMaxEpochsAhead(maxEpochsAhead), chainlink.WithLogger(log))
		},
	}
	serve.Flags().StringVar(&listen, "listen", "127.0.0.1:7070", "address to serve on (loopback only)")
	serve.Flags().StringVar(&dir, "dir", "", "directory of the ledger's state (created if missing)")
	serve.Flags().IntVar(&shards, "shards", 1000, "number of shards of the network (used when the ledger is created)")
	serve.Flags().DurationVar(&epoch, "epoch", time.Hour, "epoch duration")
	serve.Flags().Uint32Var(&maxEpochsAhead, "max-epochs-ahead", 53, "longest storage reservation in epochs")
	var ledgerURL string
	advance := &cobra.Command{
		Use:   "advance",
		Short: "End the current epoch now: select the next committee (the first one, on a new swarm)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := chainlink.NewClient(ledgerURL, nil).AdvanceEpoch(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "epoch %d\n", st.Epoch)
			return nil
		},
	}
	advance.Flags().StringVar(&ledgerURL, "ledger", "http://127.0.0.1:7070", "ledger service URL")
	cmd.AddCommand(serve, advance, newLedgerStatusCommand())
	return cmd
}
