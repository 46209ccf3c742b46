// Command floe is the single binary of floe: storage node, client, local
// devnet and tools.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"floe/node"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCommand().ExecuteContext(ctx)
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
		fmt.Fprintf(os.Stderr, "floe: %s\n", msg)
		os.Exit(130)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "floe: %v\n", err)
		os.Exit(1)
	}
}

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "floe",
		Short:         "floe: a Walrus-compatible decentralized blob store on libp2p",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newBlobIDCommand(), newBenchCommand(), newLedgerCommand(),
		newDevnetCommand(), newStoreCommand(), newReadCommand(), newStatusCommand(), newNodeCommand(), newGatewayCommand(),
		newStakeCommand(), newUnstakeCommand(), newAuditCommand())
	return root
}
