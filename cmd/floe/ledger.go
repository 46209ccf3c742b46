package main

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
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
		faucet         bool
		logs           logFlags
	)
	serve := &cobra.Command{
		Use:   "serve",
		Short: "Serve the ledger over HTTP/JSON on loopback so several processes share it",
		Long: `Serve the ledger stored in --dir over HTTP/JSON on a loopback address.

Every state-changing request must be signed by the key that acts: an
account's ed25519 key (owner.key, client.key: the client commands sign for
you) or a node's BLS key. Advancing the epoch needs the admin token, which
this command creates in --dir/admin.token (mode 0600) on first start and
prints the path of; 'floe ledger advance --ledger-dir DIR' reads it. The
faucet is off unless --faucet is given (devnets); it is then rate-limited
per account and per client address.`,
		Args: cobra.NoArgs,
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
			// The service speaks plain HTTP: loopback only, checked before
			// anything is opened.
			if h, _, err := net.SplitHostPort(listen); err != nil {
				return fmt.Errorf("--listen %q: %w", listen, err)
			} else if !isLoopbackHost(h) {
				return fmt.Errorf("--listen %q is not a loopback address: the ledger service speaks plain HTTP", listen)
			}
			log := logs.logger(cmd.ErrOrStderr())
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("--listen %s: %w", listen, err)
			}
			tokenPath := filepath.Join(dir, chainlink.AdminTokenFile)
			token, created, err := chainlink.LoadOrCreateAdminToken(tokenPath)
			if err != nil {
				ln.Close()
				return err
			}
			ctx := cmd.Context()
			opts := []chainlink.Option{chainlink.WithShards(shards), chainlink.WithEpochDuration(epoch),
				chainlink.WithMaxEpochsAhead(maxEpochsAhead), chainlink.WithLogger(log), chainlink.WithAdminToken(token)}
			if faucet {
				opts = append(opts, chainlink.WithFaucet(chainlink.DefaultFaucetLimits))
			}
			l, err := chainlink.OpenDir(ctx, dir, opts...)
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
			verb := "admin token"
			if created {
				verb = "admin token created"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %s\n", verb, tokenPath)
			log.Info("ledger serving", "listen", listen, "dir", dir, "shards", st.NShards, "max_epochs_ahead", st.MaxEpochsAhead,
				"epoch", st.Epoch, "faucet", faucet, "admin_token", tokenPath)
			return chainlink.ServeListener(ctx, ln, l)
		},
	}
	serve.Flags().StringVar(&listen, "listen", "127.0.0.1:7070", "address to serve on (loopback only)")
	serve.Flags().StringVar(&dir, "dir", "", "directory of the ledger's state (created if missing)")
	serve.Flags().IntVar(&shards, "shards", 1000, "number of shards of the network (used when the ledger is created)")
	serve.Flags().DurationVar(&epoch, "epoch", time.Hour, "epoch duration")
	serve.Flags().Uint32Var(&maxEpochsAhead, "max-epochs-ahead", 53, "longest storage reservation in epochs")
	serve.Flags().BoolVar(&faucet, "faucet", false, "serve the faucet (devnets; rate-limited per account and per client address)")
	logs.add(serve, slog.LevelInfo)
	var ledgerURL, tokenFile, ledgerDir string
	var advanceJSON bool
	advance := &cobra.Command{
		Use:   "advance",
		Short: "End the current epoch now: select the next committee (the first one, on a new swarm)",
		Long: `End the current epoch now. It needs the ledger's admin token: the file
--admin-token-file, else admin.token in --ledger-dir (the --dir of 'floe ledger
serve'; for a devnet, its --dir/ledger), else the file named by
$FLOE_ADMIN_TOKEN_FILE. There is no other default: the token is the key to
the epoch clock.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path, err := adminTokenPath(tokenFile, ledgerDir)
			if err != nil {
				return err
			}
			token, err := chainlink.ReadAdminToken(path)
			if err != nil {
				return fmt.Errorf("admin token: %w", err)
			}
			st, err := chainlink.NewClient(ledgerURL, nil, chainlink.ClientAdminToken(token)).AdvanceEpoch(cmd.Context())
			if err != nil {
				return err
			}
			if advanceJSON {
				return printJSON(cmd.OutOrStdout(), st)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "epoch %d\n", st.Epoch)
			return nil
		},
	}
	advance.Flags().StringVar(&ledgerURL, "ledger", "http://127.0.0.1:7070", "ledger service URL")
	advance.Flags().StringVar(&tokenFile, "admin-token-file", "", "file holding the ledger's admin token")
	advance.Flags().StringVar(&ledgerDir, "ledger-dir", "", "the ledger's --dir: its admin.token is used")
	advance.Flags().BoolVar(&advanceJSON, "json", false, "print the new epoch state as JSON")
	cmd.AddCommand(serve, advance, newLedgerStatusCommand())
	return cmd
}

// adminTokenEnv names an admin token file when no flag does.
const adminTokenEnv = "FLOE_ADMIN_TOKEN_FILE"

// adminTokenPath picks the admin token file: --admin-token-file, else
// admin.token in --ledger-dir, else $FLOE_ADMIN_TOKEN_FILE.
func adminTokenPath(file, dir string) (string, error) {
	switch {
	case file != "" && dir != "":
		return "", fmt.Errorf("--admin-token-file and --ledger-dir exclude each other")
	case file != "":
		return file, nil
	case dir != "":
		return filepath.Join(dir, chainlink.AdminTokenFile), nil
	case os.Getenv(adminTokenEnv) != "":
		return os.Getenv(adminTokenEnv), nil
	}
	return "", fmt.Errorf("advancing the epoch needs the ledger's admin token: give --ledger-dir DIR (the --dir of 'floe ledger serve', " +
		"which keeps it in DIR/admin.token) or --admin-token-file PATH")
}
