// Command floe is the single binary of floe: storage node, client, local
// devnet and tools.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/spf13/cobra"

	"floe/node"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	root, stopProfile := newRootCommand()
	err := root.ExecuteContext(ctx)
	stopProfile()
	interrupted := ctx.Err() != nil
	stop()
	if err != nil && interrupted {
		// Ctrl-C: say so (not the context error it caused), and what a
		// store left behind, and exit as shells expect.
		msg := "interrupted"
		var ie *node.InterruptedStoreError
		if errors.As(err, &ie) {
			msg += ": " + ie.Left()
		}
		fmt.Fprintf(os.Stderr, "floe: %s\n", oneLine(msg))
		os.Exit(exitInterrupted)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "floe: %s\n", oneLine(err.Error()))
		if isUsage(err) {
			os.Exit(exitUsage)
		}
		os.Exit(exitError)
	}
}

// newRootCommand returns floe's command tree and a function that ends the
// --cpu-profile, if one was asked for (call it after Execute).
func newRootCommand() (*cobra.Command, func()) {
	root := &cobra.Command{
		Use:   "floe",
		Short: "floe: a Walrus-compatible decentralized blob store on libp2p",
		Long: `floe: a Walrus-compatible decentralized blob store on libp2p.

Start with 'floe devnet' (a local swarm), then 'floe info', 'floe health',
'floe store FILE' and 'floe read BLOB_ID'. The client commands read their
swarm from --config (default: the client.json of a devnet started with the
defaults). Every command that prints data takes --json. The configuration
files and flags are described in cmd/floe/CONFIG.md.

Exit status: 0 success; 1 an error (one line on stderr, starting "floe: ");
2 a command line that does not parse (unknown command or flag, a flag value
of the wrong type, a wrong number of arguments, a required flag missing);
130 interrupted (Ctrl-C or SIGTERM).`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newBlobIDCommand(), newBenchCommand(), newLedgerCommand(),
		newDevnetCommand(), newStoreCommand(), newReadCommand(), newStatusCommand(), newNodeCommand(), newGatewayCommand(),
		newStakeCommand(), newUnstakeCommand(), newAuditCommand(),
		newInfoCommand(), newHealthCommand(), newBlobsCommand(), newDeleteCommand(), newExtendCommand(), newVersionCommand(),
		newStoreQuiltCommand(), newReadQuiltCommand(), newListPatchesCommand(), newAttrCommand(), newSiteCommand())
	var profile string
	root.PersistentFlags().StringVar(&profile, "cpu-profile", "", "write a CPU profile of the whole command to this file (a node's, until it stops)")
	stopProfile := func() {}
	root.PersistentPreRunE = func(*cobra.Command, []string) error {
		if profile == "" {
			return nil
		}
		f, err := os.Create(profile)
		if err != nil {
			return fmt.Errorf("--cpu-profile: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			_ = f.Close()
			return fmt.Errorf("--cpu-profile: %w", err)
		}
		stopProfile = func() {
			pprof.StopCPUProfile()
			_ = f.Close()
		}
		return nil
	}
	markUsage(root)
	return root, func() { stopProfile() }
}
