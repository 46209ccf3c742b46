package main

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"floe/chainlink"
	"floe/node"
)

// attrOutput is what `floe attr ... --json` prints: the object's
// attributes after the command.
type attrOutput struct {
	ObjectID   chainlink.ID      `json:"object_id"`
	Attributes map[string]string `json:"attributes"`
}

// attrChain opens the chain of --config and its attribute interface.
func attrChain(cmd *cobra.Command, cf *clientFlags) (node.ClientConfig, chainlink.BlobAttributes, error) {
	cfg, ch, _, err := chainOf(cmd.Context(), cf.config)
	if err != nil {
		return cfg, nil, err
	}
	var c chainlink.Chain = ch
	ba, ok := c.(chainlink.BlobAttributes)
	if !ok {
		return cfg, nil, errors.New("the chain of this config keeps no blob attributes")
	}
	return cfg, ba, nil
}

func printAttrs(cmd *cobra.Command, asJSON bool, obj chainlink.ID, attrs map[string]string) error {
	if attrs == nil {
		attrs = map[string]string{}
	}
	out := cmd.OutOrStdout()
	if asJSON {
		return printJSON(out, attrOutput{ObjectID: obj, Attributes: attrs})
	}
	for _, k := range slices.Sorted(maps.Keys(attrs)) {
		fmt.Fprintf(out, "%s=%s\n", k, attrs[k])
	}
	return nil
}

func attrError(cf *clientFlags, op string, obj chainlink.ID, err error) error {
	switch {
	case errors.Is(err, chainlink.ErrNoKey):
		return fmt.Errorf("changing attributes needs the owner's key (account_key in %s): %w", cf.config, err)
	case errors.Is(err, chainlink.ErrNotFound):
		return fmt.Errorf("%s %s: %w", op, obj, err)
	case errors.Is(err, chainlink.ErrNotOwner):
		return fmt.Errorf("%s %s: the object is not this account's: %w", op, obj, err)
	}
	return fmt.Errorf("%s %s: %w", op, obj, err)
}

func newAttrCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "attr",
		Short: "Set, get and remove the attributes of a blob object",
		Long: `Blob attributes are key/value pairs a blob object carries on the chain (the
metadata dynamic field of a Walrus Blob). A gateway answers a read by object
ID (/v1/blobs/by-object-id/OBJECT_ID) with the headers the attributes
content-type, content-disposition, content-encoding, content-language,
content-location and link name. Only the object's owner (the account of
--config) changes them; anyone reads them. OBJECT_ID is the blob object's ID
(0x + 64 hex digits), not the blob ID.`,
	}
	cmd.AddCommand(newAttrSetCommand(), newAttrGetCommand(), newAttrRmCommand())
	return cmd
}

func newAttrSetCommand() *cobra.Command {
	var (
		cf     clientFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "set OBJECT_ID KEY=VALUE...",
		Short: "Insert or update attributes of a blob object of the account",
		Long: `Insert or update the KEY=VALUE pairs on a blob object the account of --config
owns, all or none, and print the object's attributes afterwards.`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			obj, err := chainlink.ParseID(args[0])
			if err != nil {
				return fmt.Errorf("object ID: %w", err)
			}
			set := map[string]string{}
			for _, a := range args[1:] {
				k, v, ok := strings.Cut(a, "=")
				if !ok || k == "" {
					return usageError{fmt.Errorf("%q: want KEY=VALUE", a)}
				}
				set[k] = v
			}
			cfg, ba, err := attrChain(cmd, &cf)
			if err != nil {
				return err
			}
			attrs, err := ba.SetBlobAttributes(cmd.Context(), cfg.Account, obj, set)
			if err != nil {
				return attrError(&cf, "setting attributes of", obj, err)
			}
			return printAttrs(cmd, asJSON, obj, attrs)
		},
	}
	cf.add(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the attributes as JSON")
	return cmd
}

func newAttrGetCommand() *cobra.Command {
	var (
		cf     clientFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "get OBJECT_ID [KEY]",
		Short: "Print the attributes of a blob object (KEY=VALUE lines), or one value",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			obj, err := chainlink.ParseID(args[0])
			if err != nil {
				return fmt.Errorf("object ID: %w", err)
			}
			_, ba, err := attrChain(cmd, &cf)
			if err != nil {
				return err
			}
			attrs, err := ba.BlobAttributes(cmd.Context(), obj)
			if err != nil {
				return attrError(&cf, "reading attributes of", obj, err)
			}
			if len(args) == 2 {
				v, ok := attrs[args[1]]
				if !ok {
					return fmt.Errorf("%w: blob object %s has no attribute %q", chainlink.ErrNotFound, obj, args[1])
				}
				if asJSON {
					return printJSON(cmd.OutOrStdout(), attrOutput{ObjectID: obj, Attributes: map[string]string{args[1]: v}})
				}
				fmt.Fprintln(cmd.OutOrStdout(), v)
				return nil
			}
			return printAttrs(cmd, asJSON, obj, attrs)
		},
	}
	cf.add(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the attributes as JSON")
	return cmd
}

func newAttrRmCommand() *cobra.Command {
	var (
		cf     clientFlags
		all    bool
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "rm OBJECT_ID KEY... | --all",
		Short: "Remove attributes of a blob object of the account",
		Long: `Remove the KEYs (all or none: a KEY the object does not have is an error and
nothing is removed), or with --all every attribute, from a blob object the
account of --config owns; print the attributes left.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if all == (len(args) > 1) {
				return usageError{errors.New("give KEYs or --all, not both (see 'floe attr rm --help')")}
			}
			obj, err := chainlink.ParseID(args[0])
			if err != nil {
				return fmt.Errorf("object ID: %w", err)
			}
			cfg, ba, err := attrChain(cmd, &cf)
			if err != nil {
				return err
			}
			attrs, err := ba.RemoveBlobAttributes(cmd.Context(), cfg.Account, obj, args[1:])
			if err != nil {
				return attrError(&cf, "removing attributes of", obj, err)
			}
			return printAttrs(cmd, asJSON, obj, attrs)
		},
	}
	cf.add(cmd)
	cmd.Flags().BoolVar(&all, "all", false, "remove every attribute")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the attributes left as JSON")
	return cmd
}
