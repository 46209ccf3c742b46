package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"floe/codec"
	"floe/node"
)

// storeInput is one FILE argument of `floe store`: a file, or stdin ("-").
type storeInput struct {
	name string
	size int64 // -1 for stdin: known once read
}

// read returns the input's bytes, at most max of them.
func (in storeInput) read(stdin io.Reader, max uint64) ([]byte, error) {
	if in.name != "-" {
		return os.ReadFile(in.name)
	}
	data, err := io.ReadAll(io.LimitReader(stdin, int64(max)+1))
	if err != nil {
		return nil, fmt.Errorf("reading stdin: %w", err)
	}
	if uint64(len(data)) > max {
		return nil, fmt.Errorf("stdin: more than %d bytes: %w (maximum %d)", max, node.ErrTooLarge, max)
	}
	return data, nil
}

// storeOutput is one element of `floe store --json`: the file and what
// storing it did.
type storeOutput struct {
	File string `json:"file"`
	*node.StoreResult
}

// dryRunOutput is one element of `floe store --dry-run --json`.
type dryRunOutput struct {
	File   string       `json:"file"`
	BlobID codec.BlobID `json:"blob_id"`
	DryRun bool         `json:"dry_run"`
	storeCost
	// CertifiedUntil is the blob's certified end epoch if it is stored
	// already (0: not certified): storing it for no longer than that pays
	// nothing unless --force or --deletable.
	CertifiedUntil uint32 `json:"certified_until,omitempty"`
}

func newStoreCommand() *cobra.Command {
	var (
		cf     clientFlags
		opts   node.StoreOptions
		epochs = epochsValue{n: 1}
		dryRun bool
		asJSON bool
		sf     streamFlags
	)
	cmd := &cobra.Command{
		Use:   "store FILE... (or - for stdin)",
		Short: "Store files (or stdin: -) on the swarm and print their blob IDs",
		Long: `Store each FILE on the swarm (one after another), "-" meaning stdin: encode,
register and pay (signed with the account_key of --config), push the
slivers to the committee, and certify. For one input it prints the blob ID;
for several, one line per input: the blob ID, a tab, the file name. The
details (object, end epoch, cost) go to stderr, or all of it to stdout as
JSON with --json (an object for one input, an array for several).

--epochs N stores for N epochs from the current one; --epochs max for as
long as the chain allows. --dry-run encodes, prints the blob ID, the encoded
size and what the store would cost, and stores and pays nothing.

Files of 64 MiB and more are encoded from the file as they are read, their
slivers spilled to a temporary file in --spill-dir (about 5× the file,
removed however the store ends) and pushed from there, with at most
--memory of slivers in memory: any size up to the protocol maximum.

Storing bytes that are already certified long enough pays nothing unless
--force (or --deletable). On a terminal a progress bar shows the bytes
encoded, pushed, and the throughput and time left; on a pipe, nothing.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !epochs.max && epochs.n < 1 {
				return fmt.Errorf("--epochs %d: want at least 1 (or max)", epochs.n)
			}
			var inputs []storeInput
			stdin := false
			for _, a := range args {
				if a == "-" {
					if stdin {
						return errors.New("stdin (-) given twice")
					}
					stdin = true
					inputs = append(inputs, storeInput{name: a, size: -1})
					continue
				}
				fi, err := os.Stat(a)
				if err != nil {
					return err
				}
				if !fi.Mode().IsRegular() {
					return fmt.Errorf("%s is not a regular file", a)
				}
				inputs = append(inputs, storeInput{name: a, size: fi.Size()})
			}
			ctx := cmd.Context()
			out, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
			many := len(inputs) > 1
			if dryRun {
				_, ch, st, err := chainOf(ctx, cf.config)
				if err != nil {
					return err
				}
				n, err := epochs.resolve("--epochs", st)
				if err != nil {
					return err
				}
				p, err := codec.NewParams(st.NShards)
				if err != nil {
					return err
				}
				var results []dryRunOutput
				for _, in := range inputs {
					if in.size > 0 && uint64(in.size) > p.MaxBlobSize() {
						return fmt.Errorf("%s: %d bytes: %w (maximum %d)", in.name, in.size, node.ErrTooLarge, p.MaxBlobSize())
					}
					var id codec.BlobID
					var size int64
					if in.name == "-" {
						data, err := in.read(cmd.InOrStdin(), p.MaxBlobSize())
						if err != nil {
							return err
						}
						if _, id, err = codec.ComputeMetadata(p, data); err != nil {
							return fmt.Errorf("%s: encoding: %w", in.name, err)
						}
						size = int64(len(data))
					} else if id, size, err = fileBlobID(ctx, p, in.name, sf.spillDir, sf.min); err != nil {
						return fmt.Errorf("%s: encoding: %w", in.name, err)
					}
					c, err := costOf(st, uint64(size), n)
					if err != nil {
						return fmt.Errorf("%s: %w", in.name, err)
					}
					r := dryRunOutput{File: in.name, BlobID: id, DryRun: true, storeCost: c}
					bs, err := ch.BlobStatus(ctx, id)
					if err != nil {
						return fmt.Errorf("%w: %w", node.ErrChain, err)
					}
					if bs.Certified() {
						r.CertifiedUntil = bs.CertifiedEndEpoch
					}
					results = append(results, r)
					if asJSON {
						continue
					}
					name := ""
					if many {
						name = "\t" + in.name
					}
					fmt.Fprintf(out, "%s%s\n", id, name)
					note := ""
					if r.CertifiedUntil >= c.EndEpoch && !opts.Force && !opts.Deletable {
						note = fmt.Sprintf("; already certified until epoch %d, so a store would pay nothing", r.CertifiedUntil)
					}
					fmt.Fprintf(stderr, "dry run: %s: %d bytes, encoded %d bytes, %d epochs (until epoch %d): storage %d + write %d = %d%s; nothing stored\n",
						in.name, c.Size, c.EncodedLength, c.Epochs, c.EndEpoch, c.StorageCost, c.WriteCost, c.Cost, note)
				}
				if asJSON {
					if many {
						return printJSON(out, results)
					}
					return printJSON(out, results[0])
				}
				return nil
			}
			c, err := cf.open(ctx, stderr)
			if err != nil {
				return err
			}
			defer c.Close()
			st, err := c.Chain().EpochState(ctx)
			if err != nil {
				return fmt.Errorf("%w: %w", node.ErrChain, err)
			}
			if opts.Epochs, err = epochs.resolve("--epochs", st); err != nil {
				return err
			}
			max := c.Params().MaxBlobSize()
			for _, in := range inputs {
				if in.size > 0 && uint64(in.size) > max {
					return fmt.Errorf("%s: %d bytes: %w (maximum %d)", in.name, in.size, node.ErrTooLarge, max)
				}
			}
			if opts.MemoryBudget, err = sf.budget(); err != nil {
				return err
			}
			opts.SpillDir = sf.spillDir
			var results []storeOutput
			for _, in := range inputs {
				bar := newProgressBar(stderr)
				if many {
					bar.label = in.name
				}
				opts.Progress = bar.update
				var res *node.StoreResult
				var size int64
				if in.size >= sf.min {
					// Encoded from the file into a spill, memory bounded
					// by --memory whatever its size.
					res, size, err = storeFile(ctx, c, in.name, opts)
				} else {
					var data []byte
					if data, err = in.read(cmd.InOrStdin(), max); err != nil {
						bar.finish()
						return err
					}
					size = int64(len(data))
					res, err = c.Store(ctx, data, opts)
				}
				bar.finish()
				if err != nil {
					if many {
						return fmt.Errorf("%s: %w", in.name, err)
					}
					return err
				}
				results = append(results, storeOutput{File: in.name, StoreResult: res})
				if asJSON {
					continue
				}
				name, prefix := "", ""
				if many {
					name, prefix = "\t"+in.name, in.name+": "
				}
				fmt.Fprintf(out, "%s%s\n", res.BlobID, name)
				if res.AlreadyCertified {
					fmt.Fprintf(stderr, "%salready certified until epoch %d: nothing stored\n", prefix, res.EndEpoch)
				} else {
					fmt.Fprintf(stderr, "%scertified: %d bytes until epoch %d, object %s, cost %d\n", prefix, size, res.EndEpoch, res.Blob.ObjectID, res.Cost)
				}
			}
			if asJSON {
				if many {
					return printJSON(out, results)
				}
				return printJSON(out, results[0])
			}
			return nil
		},
	}
	cf.add(cmd)
	sf.add(cmd, "bound on the sliver bytes a store of a file of 64 MiB or more loads and has in flight at once")
	f := cmd.Flags()
	f.Var(&epochs, "epochs", "storage period in epochs from the current one, or max (the longest the chain allows)")
	f.BoolVar(&opts.Deletable, "deletable", false, "register a deletable blob ('floe delete' deletes it)")
	f.BoolVar(&opts.Force, "force", false, "store a new object even if the blob is already certified")
	f.BoolVar(&dryRun, "dry-run", false, "print the blob ID, encoded size and cost; store and pay nothing")
	f.BoolVar(&asJSON, "json", false, "print the results as JSON")
	return cmd
}
