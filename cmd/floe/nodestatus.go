package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"floe/chainlink"
	"floe/codec"
)

// newNodeStatusCommand asks every member of the current and previous
// committee for its status over the node-status protocol.
func newNodeStatusCommand() *cobra.Command {
	var (
		cf     clientFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Ask every committee member (current and previous) for its epoch, shards and sync progress",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cf.open(cmd.Context(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer c.Close()
			sts, err := c.CommitteeStatus(cmd.Context())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(sts)
			}
			w := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NODE\tNAME\tEPOCH\tSHARDS\tSYNCING\tRETAINED\tREPORTED\tSLIVERS HELD/ASSIGNED\tSYNCED BYTES\tRECOVERIES PENDING\tSTORED\tDISK")
			for _, m := range sts {
				if m.Status == nil {
					fmt.Fprintf(w, "%s\t\t\t\t\t\t\tunreachable: %s\t\t\n", short(m.NodeID), m.Err)
					continue
				}
				s := m.Status
				stored := mib(s.StoredBytes)
				if s.SpaceLimit > 0 {
					stored += " of " + mib(s.SpaceLimit)
				}
				fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%d\t%d\t%v\t%d/%d\t%d\t%d\t%s\t%s\n", short(m.NodeID), s.Name, s.Epoch, len(s.Shards),
					s.Syncing, len(s.Retained), s.SyncReported, s.SliversHeld, s.SliversAssigned, s.Stats.SyncBytes, s.Recovery.Pending,
					stored, mib(s.DiskBytes))
			}
			return w.Flush()
		},
	}
	cf.add(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the full reports as JSON")
	return cmd
}

// newAuditCommand checks over the network that a member serves every
// sliver it is assigned of some blobs, each verified.
func newAuditCommand() *cobra.Command {
	var (
		cf     clientFlags
		nodeID string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "audit --node NODE_ID BLOB_ID...",
		Short: "Ask a committee member for all its slivers of the blobs and verify each",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := chainlink.ParseID(nodeID)
			if err != nil {
				return fmt.Errorf("--node: %w", err)
			}
			var blobs []codec.BlobID
			for _, a := range args {
				b, err := codec.ParseBlobID(a)
				if err != nil {
					return err
				}
				blobs = append(blobs, b)
			}
			c, err := cf.open(cmd.Context(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer c.Close()
			rep, err := c.Audit(cmd.Context(), id, 0, blobs)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(out, "node %s, epoch %d: %d blobs, %d of %d slivers served and verified\n", rep.NodeID, rep.Epoch, rep.Blobs, rep.Served, rep.Checked)
				for _, f := range rep.Missing {
					fmt.Fprintf(out, "missing %s sliver of %s on shard %d: %s\n", f.Type, f.Blob, f.Shard, f.Reason)
				}
				for _, f := range rep.Invalid {
					fmt.Fprintf(out, "invalid %s sliver of %s on shard %d: %s\n", f.Type, f.Blob, f.Shard, f.Reason)
				}
			}
			if !rep.OK() {
				return fmt.Errorf("node %s serves %d of %d slivers", rep.NodeID, rep.Served, rep.Checked)
			}
			return nil
		},
	}
	cf.add(cmd)
	cmd.Flags().StringVar(&nodeID, "node", "", "the member's node ID (0x + 64 hex digits)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	_ = cmd.MarkFlagRequired("node")
	return cmd
}

func short(id chainlink.ID) string { return id.String()[:10] }

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
