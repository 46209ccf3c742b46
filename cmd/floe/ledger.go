package main

import (
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/spf13/cobra"

	"floe/chainlink"
	"floe/node"
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
			switch {
			case shards < 1:
				return fmt.Errorf("--shards %d: want a positive number of shards", shards)
			case epoch < 0:
				return fmt.Errorf("--epoch %v: must not be negative (0: epochs advance only on request)", epoch)
			case maxEpochsAhead < 1:
				return fmt.Errorf("--max-epochs-ahead %d: want at least 1", maxEpochsAhead)
			}
			// The service has no authentication: loopback only, checked
			// before anything is opened.
			if h, _, err := net.SplitHostPort(listen); err != nil {
				return fmt.Errorf("--listen %q: %w", listen, err)
			} else if !isLoopbackHost(h) {
				return fmt.Errorf("--listen %q is not a loopback address: the ledger service has no authentication", listen)
			}
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("--listen %s: %w", listen, err)
			}
			ctx := cmd.Context()
			l, err := chainlink.OpenDir(ctx, dir,
				chainlink.WithShards(shards), chainlink.WithEpochDuration(epoch),
				chainlink.WithMaxEpochsAhead(maxEpochsAhead), chainlink.WithLogger(log))
			if err != nil {
				ln.Close()
				return node.ExplainDirLock(dir, err)
			}
			defer l.Close()
			st, err := l.EpochState(ctx)
			if err != nil {
				ln.Close()
				return err
			}
			// Shards and the longest reservation are fixed when the ledger
			// is created: report the ledger's own, and say when a flag given
			// was not applied.
			if st.NShards != shards && cmd.Flags().Changed("shards") {
				log.Warn(fmt.Sprintf("ledger has %d shards (the --shards flag is ignored for an existing ledger)", st.NShards))
			}
			if st.MaxEpochsAhead != maxEpochsAhead && cmd.Flags().Changed("max-epochs-ahead") {
				log.Warn(fmt.Sprintf("ledger allows reservations of %d epochs ahead (the --max-epochs-ahead flag is ignored for an existing ledger)", st.MaxEpochsAhead))
			}
			log.Info("ledger serving", "listen", listen, "dir", dir, "shards", st.NShards, "max_epochs_ahead", st.MaxEpochsAhead, "epoch", st.Epoch)
			return chainlink.ServeListener(ctx, ln, l)
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
