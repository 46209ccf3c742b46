package main

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"floe/chainlink"
	"floe/codec"
	"floe/node"
)

// Blob states, as `floe status` and `floe blobs list` print them.
const (
	stateCertified   = "certified"
	stateRegistered  = "registered" // not certified (yet)
	stateExpired     = "expired"
	stateInvalid     = "invalid"
	stateNonexistent = "nonexistent"
)

// blobStatusResult is what `floe status --json` prints.
type blobStatusResult struct {
	BlobID codec.BlobID `json:"blob_id"`
	// State is certified, registered (not certified), expired (its
	// storage ended; the chain still has the object), invalid
	// (inconsistently encoded) or nonexistent (never stored, or every
	// object deleted).
	State string `json:"state"`
	// Epoch is the chain's current epoch.
	Epoch uint32 `json:"epoch"`
	// EndEpoch is the first epoch the blob is no longer stored: the
	// certified end epoch; for a registered blob the latest end epoch of
	// its permanent objects (0 if only deletable ones); for an expired
	// blob the epoch it expired at.
	EndEpoch uint32 `json:"end_epoch"`
	// Objects are the live blob objects; the counts split them.
	Objects             []chainlink.ID `json:"objects"`
	PermanentEndEpoch   uint32         `json:"permanent_end_epoch"`
	PermanentCertified  bool           `json:"permanent_certified"`
	DeletableRegistered int            `json:"deletable_registered"`
	DeletableCertified  int            `json:"deletable_certified"`
	// InitialCertifiedEpoch is the earliest certification among the live
	// objects.
	InitialCertifiedEpoch *uint32 `json:"initial_certified_epoch,omitempty"`
	ExpiredEndEpoch       uint32  `json:"expired_end_epoch,omitempty"`
}

func blobStatusOf(st chainlink.BlobStatus, epoch uint32) blobStatusResult {
	r := blobStatusResult{
		BlobID: st.BlobID, Epoch: epoch, Objects: st.Objects, PermanentEndEpoch: st.PermanentEndEpoch,
		PermanentCertified: st.PermanentCertified, DeletableRegistered: st.DeletableRegistered,
		DeletableCertified: st.DeletableCertified, InitialCertifiedEpoch: st.InitialCertifiedEpoch, ExpiredEndEpoch: st.ExpiredEndEpoch,
	}
	if r.Objects == nil {
		r.Objects = []chainlink.ID{}
	}
	switch {
	case st.Invalid:
		r.State = stateInvalid
	case st.Exists && st.Certified():
		r.State, r.EndEpoch = stateCertified, st.CertifiedEndEpoch
	case st.Exists:
		r.State, r.EndEpoch = stateRegistered, st.PermanentEndEpoch
	case st.ExpiredEndEpoch > 0:
		r.State, r.EndEpoch = stateExpired, st.ExpiredEndEpoch
	default:
		r.State = stateNonexistent
	}
	return r
}

func newStatusCommand() *cobra.Command {
	var (
		cf     clientFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "status BLOB_ID",
		Short: "Print a blob's status on the chain: certified, registered, expired, invalid or nonexistent",
		Long: `Print a blob's status on the chain: certified (until its end epoch),
registered but not certified, expired (its storage ended), invalid
(inconsistently encoded) or nonexistent (never stored, or every object of it
deleted), with its objects: permanent ones and deletable ones, registered
and certified. Blob IDs may begin with '-': put '--' before them.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := codec.ParseBlobID(args[0])
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			_, ch, est, err := chainOf(ctx, cf.config)
			if err != nil {
				return err
			}
			st, err := ch.BlobStatus(ctx, id)
			if err != nil {
				return fmt.Errorf("%w: %w", node.ErrChain, err)
			}
			r := blobStatusOf(st, est.Epoch)
			out := cmd.OutOrStdout()
			if asJSON {
				return printJSON(out, r)
			}
			objs := fmt.Sprintf("%d objects", len(r.Objects))
			if r.DeletableRegistered > 0 {
				objs += fmt.Sprintf(", %d deletable (%d certified)", r.DeletableRegistered, r.DeletableCertified)
			}
			switch r.State {
			case stateInvalid:
				fmt.Fprintf(out, "%s: invalid (inconsistently encoded)\n", id)
			case stateNonexistent:
				fmt.Fprintf(out, "%s: nonexistent\n", id)
			case stateExpired:
				fmt.Fprintf(out, "%s: expired at epoch %d (now %d)\n", id, r.EndEpoch, r.Epoch)
			case stateCertified:
				fmt.Fprintf(out, "%s: certified until epoch %d (now %d; %s)\n", id, r.EndEpoch, r.Epoch, objs)
			default:
				fmt.Fprintf(out, "%s: registered, not certified (now %d; %s)\n", id, r.Epoch, objs)
			}
			return nil
		},
	}
	cf.add(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the status as JSON")
	return cmd
}

// ownedBlob is one line of `floe blobs list`.
type ownedBlob struct {
	chainlink.Blob
	// State is certified, registered (not certified) or expired.
	State string `json:"state"`
}

func blobState(b chainlink.Blob, epoch uint32) string {
	switch {
	case b.Storage.EndEpoch <= epoch:
		return stateExpired
	case b.CertifiedEpoch != nil:
		return stateCertified
	}
	return stateRegistered
}

func newBlobsCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "blobs", Short: "The blob objects of an account"}
	var (
		cf             clientFlags
		owner          string
		includeExpired bool
		asJSON         bool
	)
	list := &cobra.Command{
		Use:   "list",
		Short: "List the account's blob objects with their status (expired ones with --include-expired)",
		Long: `List the blob objects the account of --config owns (or --owner's): object
ID, blob ID, size, state (certified, registered: not certified, expired),
end epoch and whether it is deletable. Deleted objects are gone from the
chain; expired ones are listed with --include-expired.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			cfg, ch, st, err := chainOf(ctx, cf.config)
			if err != nil {
				return err
			}
			who := cfg.Account
			if owner != "" {
				if who, err = chainlink.ParseID(owner); err != nil {
					return fmt.Errorf("--owner: %w", err)
				}
			}
			bs, err := ch.OwnedBlobs(ctx, who)
			if err != nil {
				return fmt.Errorf("%w: %w", node.ErrChain, err)
			}
			list := []ownedBlob{}
			for _, b := range bs {
				ob := ownedBlob{Blob: b, State: blobState(b, st.Epoch)}
				if ob.State == stateExpired && !includeExpired {
					continue
				}
				list = append(list, ob)
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return printJSON(out, list)
			}
			if len(list) == 0 {
				fmt.Fprintf(out, "account %s owns no blob objects%s (epoch %d)\n", who, map[bool]string{false: " that have not expired", true: ""}[includeExpired], st.Epoch)
				return nil
			}
			w := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
			fmt.Fprintln(w, "OBJECT\tBLOB ID\tSIZE\tSTATE\tEND EPOCH\tDELETABLE")
			for _, b := range list {
				fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%d\t%v\n", b.ObjectID, b.BlobID, b.Size, b.State, b.Storage.EndEpoch, b.Deletable)
			}
			return w.Flush()
		},
	}
	cf.add(list)
	list.Flags().StringVar(&owner, "owner", "", "list this account's blobs instead (0x + 64 hex digits)")
	list.Flags().BoolVar(&includeExpired, "include-expired", false, "also list objects whose storage has ended")
	list.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	cmd.AddCommand(list)
	return cmd
}

// ownedObject fetches a blob object and checks, before anything is sent,
// what the ledger would refuse: an unknown object, another owner's, one
// whose storage ended.
func ownedObject(ctx context.Context, ch chainlink.Chain, arg string, account chainlink.ID, epoch uint32, needOwner bool) (chainlink.Blob, error) {
	obj, err := chainlink.ParseID(arg)
	if err != nil {
		if _, berr := codec.ParseBlobID(arg); berr == nil {
			return chainlink.Blob{}, fmt.Errorf("%s is a blob ID, not a blob object ID: 'floe status --json -- %s' lists its objects", arg, arg)
		}
		return chainlink.Blob{}, fmt.Errorf("object ID: %w", err)
	}
	b, err := ch.Blob(ctx, obj)
	switch {
	case errors.Is(err, chainlink.ErrNotFound):
		return b, fmt.Errorf("blob object %s not found (never registered, or deleted)", obj)
	case err != nil:
		return b, fmt.Errorf("%w: %w", node.ErrChain, err)
	case needOwner && b.Owner != account:
		return b, fmt.Errorf("%w: blob object %s belongs to %s, not to this account (%s)", chainlink.ErrNotOwner, obj, b.Owner, account)
	case b.Storage.EndEpoch <= epoch:
		return b, fmt.Errorf("%w: the storage of blob object %s ended at epoch %d (now %d)", chainlink.ErrExpired, obj, b.Storage.EndEpoch, epoch)
	}
	return b, nil
}

// deleteResult is what `floe delete --json` prints.
type deleteResult struct {
	ObjectID chainlink.ID `json:"object_id"`
	BlobID   codec.BlobID `json:"blob_id"`
	// Storage is the storage resource given back to the owner.
	Storage chainlink.Storage `json:"storage"`
	// BlobState is the blob ID's state after the deletion: other objects
	// may keep it stored.
	BlobState string `json:"blob_state"`
}

func newDeleteCommand() *cobra.Command {
	var (
		cf     clientFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "delete OBJECT_ID",
		Short: "Delete a deletable blob object of the account; its storage goes back to the account",
		Long: `Delete a deletable blob object the account of --config owns (signed with its
account_key). Its storage resource goes back to the account; storage nodes
drop the blob's slivers unless another object keeps the blob stored.
OBJECT_ID is the blob object's ID (0x + 64 hex digits: 'floe blobs list'
shows them), not the blob ID.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			cfg, ch, st, err := chainOf(ctx, cf.config)
			if err != nil {
				return err
			}
			b, err := ownedObject(ctx, ch, args[0], cfg.Account, st.Epoch, true)
			if err != nil {
				return err
			}
			if !b.Deletable {
				return fmt.Errorf("%w: blob object %s is permanent (stored without --deletable); it stays until epoch %d", chainlink.ErrNotDeletable, b.ObjectID, b.Storage.EndEpoch)
			}
			sto, err := ch.DeleteBlob(ctx, cfg.Account, b.ObjectID)
			if errors.Is(err, chainlink.ErrNoKey) {
				return fmt.Errorf("deleting needs the account's key (account_key in %s): %w", cf.config, err)
			}
			if err != nil {
				return fmt.Errorf("deleting %s: %w", b.ObjectID, err)
			}
			res := deleteResult{ObjectID: b.ObjectID, BlobID: b.BlobID, Storage: sto, BlobState: stateNonexistent}
			if bs, err := ch.BlobStatus(ctx, b.BlobID); err == nil {
				res.BlobState = blobStatusOf(bs, st.Epoch).State
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return printJSON(out, res)
			}
			fmt.Fprintf(out, "deleted blob object %s (blob %s, now %s); storage %s of %d bytes until epoch %d returned to %s\n",
				res.ObjectID, res.BlobID, res.BlobState, sto.ID, sto.Size, sto.EndEpoch, sto.Owner)
			return nil
		},
	}
	cf.add(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}

// extendResult is what `floe extend --json` prints.
type extendResult struct {
	Blob chainlink.Blob `json:"blob"`
	// Epochs were added to the end epoch, for Cost.
	Epochs       uint32 `json:"epochs"`
	PrevEndEpoch uint32 `json:"previous_end_epoch"`
	Cost         uint64 `json:"cost"`
}

func newExtendCommand() *cobra.Command {
	var (
		cf     clientFlags
		epochs epochsValue
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "extend OBJECT_ID --epochs N",
		Short: "Extend a certified blob object's storage by N epochs (or to the maximum: --epochs max), paid by the account",
		Long: `Extend the storage of a certified blob object by --epochs epochs, paid by the
account of --config (signed with its account_key). --epochs max extends it
as far as the chain allows (max_epochs_ahead from the current epoch). The
object may be another account's: whoever pays extends it, as on Walrus.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			cfg, ch, st, err := chainOf(ctx, cf.config)
			if err != nil {
				return err
			}
			b, err := ownedObject(ctx, ch, args[0], cfg.Account, st.Epoch, false)
			if err != nil {
				return err
			}
			if b.CertifiedEpoch == nil {
				return fmt.Errorf("%w: blob object %s is registered but not certified: store the same bytes again to finish it", chainlink.ErrNotCertified, b.ObjectID)
			}
			var room uint32 // epochs the chain still allows on top of the end epoch
			if last := st.Epoch + st.MaxEpochsAhead; b.Storage.EndEpoch < last {
				room = last - b.Storage.EndEpoch
			}
			var n uint32
			switch {
			case room == 0:
				return fmt.Errorf("%w: blob object %s is stored until epoch %d already, the most the chain allows", chainlink.ErrTooFarAhead, b.ObjectID, b.Storage.EndEpoch)
			case epochs.max:
				n = room
			case epochs.n < 1:
				return fmt.Errorf("--epochs %d: want at least 1 (or max)", epochs.n)
			case epochs.n > room:
				return fmt.Errorf("%w: blob object %s is stored until epoch %d; at most %d more epochs (--epochs max)", chainlink.ErrTooFarAhead, b.ObjectID, b.Storage.EndEpoch, room)
			default:
				n = epochs.n
			}
			nb, cost, err := ch.ExtendBlob(ctx, cfg.Account, b.ObjectID, n)
			if errors.Is(err, chainlink.ErrInsufficientFunds) && cfg.Faucet {
				if _, ferr := ch.Faucet(ctx, cfg.Account, 1_000_000_000_000); ferr == nil {
					nb, cost, err = ch.ExtendBlob(ctx, cfg.Account, b.ObjectID, n)
				}
			}
			if errors.Is(err, chainlink.ErrNoKey) {
				return fmt.Errorf("extending needs the account's key (account_key in %s): %w", cf.config, err)
			}
			if err != nil {
				return fmt.Errorf("extending %s: %w", b.ObjectID, err)
			}
			res := extendResult{Blob: nb, Epochs: n, PrevEndEpoch: b.Storage.EndEpoch, Cost: cost}
			out := cmd.OutOrStdout()
			if asJSON {
				return printJSON(out, res)
			}
			fmt.Fprintf(out, "extended blob object %s (blob %s) by %d epochs: stored until epoch %d (was %d), cost %d\n",
				nb.ObjectID, nb.BlobID, n, nb.Storage.EndEpoch, b.Storage.EndEpoch, cost)
			return nil
		},
	}
	cf.add(cmd)
	cmd.Flags().Var(&epochs, "epochs", "epochs to add, or max (as far as the chain allows)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	_ = cmd.MarkFlagRequired("epochs")
	return cmd
}
