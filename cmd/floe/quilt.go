package main

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"floe/codec"
	"floe/node"
)

// tagsValue is a repeatable --tag k=v flag.
type tagsValue map[string]string

func (v tagsValue) String() string {
	keys := slices.Sorted(maps.Keys(v))
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k + "=" + v[k]
	}
	return strings.Join(out, ",")
}
func (v tagsValue) Type() string { return "key=value" }
func (v tagsValue) Set(s string) error {
	k, val, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want key=value")
	}
	if _, dup := v[k]; dup {
		return fmt.Errorf("tag %q given twice", k)
	}
	v[k] = val
	return nil
}

// quiltInputs reads the files of a quilt: each FILE under its base name, or
// every regular file under dir under its slash-separated path relative to
// dir (symbolic links are not followed), each tagged with tags. At most
// max bytes in all.
func quiltInputs(files []string, dir string, tags map[string]string, max uint64) ([]codec.QuiltFile, error) {
	var out []codec.QuiltFile
	var total uint64
	add := func(identifier, file string) error {
		data, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		if total += uint64(len(data)); total > max {
			return fmt.Errorf("%w: the files have more than %d bytes, the most one quilt holds at this committee size", codec.ErrQuiltTooLarge, max)
		}
		out = append(out, codec.QuiltFile{Identifier: identifier, Tags: maps.Clone(tags), Data: data})
		return nil
	}
	if dir != "" {
		root := os.DirFS(dir)
		err := fs.WalkDir(root, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type().IsRegular() {
				return add(p, filepath.Join(dir, filepath.FromSlash(p)))
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("%s holds no regular file", dir)
		}
		return out, nil
	}
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			return nil, err
		}
		if !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("%s is not a regular file", f)
		}
		if err := add(filepath.Base(f), f); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// quiltStoreOutput is what `floe store-quilt --json` prints: the quilt's
// store result and its patches (F11.3's storedQuiltBlobs).
type quiltStoreOutput struct {
	QuiltID codec.BlobID `json:"quilt_id"`
	*node.StoreResult
	StoredQuiltBlobs []node.StoredQuiltPatch `json:"storedQuiltBlobs"`
	TypeAttribute    bool                    `json:"type_attribute"`
}

func newStoreQuiltCommand() *cobra.Command {
	var (
		cf     clientFlags
		opts   node.StoreOptions
		epochs = epochsValue{n: 1}
		dir    string
		tags   = tagsValue{}
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "store-quilt FILE... | --dir DIR",
		Short: "Store many small files as one quilt blob and print their quilt patch IDs",
		Long: `Store files as one quilt (Walrus QuiltV1): one blob whose index names every
file, each file in its own columns of the blob, so that one file is read from
the few slivers that hold it ('floe read-quilt'). Each FILE is stored under
its base name; with --dir, every regular file under DIR under its path
relative to DIR (slash-separated: css/site.css). --tag key=value (repeatable)
tags every file. Identifiers must be unique, non-empty UTF-8 without
control characters or trailing white space.

It prints the quilt ID (a blob ID), then one line per file: its quilt patch
ID, a tab, its identifier; --json prints the store result and the patches.
The blob object gets the attribute _walrusBlobType=quilt, as in Walrus.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if (dir == "") == (len(args) == 0) {
				return usageError{errors.New("give FILE arguments or --dir DIR, not both (see 'floe store-quilt --help')")}
			}
			ctx := cmd.Context()
			c, err := cf.open(ctx, cmd.ErrOrStderr())
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
			files, err := quiltInputs(args, dir, tags, c.Params().MaxBlobSize())
			if err != nil {
				return err
			}
			bar := newProgressBar(cmd.ErrOrStderr())
			opts.Progress = bar.update
			res, err := c.StoreQuilt(ctx, files, opts)
			bar.finish()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return printJSON(out, quiltStoreOutput{QuiltID: res.BlobID, StoreResult: res.StoreResult,
					StoredQuiltBlobs: res.Patches, TypeAttribute: res.TypeAttribute})
			}
			fmt.Fprintln(out, res.BlobID)
			for _, p := range res.Patches {
				fmt.Fprintf(out, "%s\t%s\n", p.PatchID, p.Identifier)
			}
			stderr := cmd.ErrOrStderr()
			if res.AlreadyCertified {
				fmt.Fprintf(stderr, "quilt of %d files already certified until epoch %d: nothing stored\n", len(files), res.EndEpoch)
			} else {
				fmt.Fprintf(stderr, "certified: quilt of %d files until epoch %d, object %s, cost %d\n", len(files), res.EndEpoch, res.Blob.ObjectID, res.Cost)
			}
			return nil
		},
	}
	cf.add(cmd)
	f := cmd.Flags()
	f.StringVar(&dir, "dir", "", "store every regular file under DIR, named by its path relative to DIR")
	f.Var(tags, "tag", "tag every file with key=value (repeatable)")
	f.Var(&epochs, "epochs", "storage period in epochs from the current one, or max (the longest the chain allows)")
	f.BoolVar(&opts.Deletable, "deletable", false, "register a deletable blob ('floe delete' deletes it)")
	f.BoolVar(&opts.Force, "force", false, "store a new object even if the quilt is already certified")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}

// quiltFileOutput is one file of `floe read-quilt --json` (its bytes go to
// the file named in File).
type quiltFileOutput struct {
	Identifier  string             `json:"identifier"`
	PatchID     codec.QuiltPatchID `json:"quilt_patch_id"`
	Tags        map[string]string  `json:"tags,omitempty"`
	Size        int                `json:"size"`
	File        string             `json:"file"`
	Slivers     int                `json:"slivers"`
	SliverBytes int64              `json:"sliver_bytes"`
	Full        bool               `json:"full_read"`
}

// localPath is where file identifier goes under dir: refused if the
// identifier is not a local relative path (../x, /etc/x).
func localPath(dir, identifier string) (string, error) {
	p := filepath.FromSlash(identifier)
	if !filepath.IsLocal(p) || path.Clean(identifier) != identifier {
		return "", fmt.Errorf("identifier %q is not a relative path inside --out-dir; read it alone with -o FILE", identifier)
	}
	return filepath.Join(dir, p), nil
}

func newReadQuiltCommand() *cobra.Command {
	var (
		cf       clientFlags
		patchIDs []string
		out      string
		outDir   string
		strict   bool
		asJSON   bool
	)
	cmd := &cobra.Command{
		Use:   "read-quilt QUILT_ID IDENTIFIER... | --patch-id ID...",
		Short: "Read files of a quilt by identifier or quilt patch ID",
		Long: `Read files of a quilt, fetching only the secondary slivers that hold each
(and, by identifier, those of the quilt's index); when one of them cannot be
had, the whole quilt is read. One file goes to stdout or to -o FILE; several
need --out-dir DIR, where each is written under its identifier (which must
then be a relative path). --json prints what was read (identifier, patch ID,
tags, size, file written, slivers and bytes fetched) and needs -o or
--out-dir. --strict reads and re-encodes the whole quilt.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			var quiltID codec.BlobID
			var ids []codec.QuiltPatchID
			var names []string
			switch {
			case len(patchIDs) > 0 && len(args) > 0:
				return usageError{errors.New("give QUILT_ID IDENTIFIER... or --patch-id ID..., not both (see 'floe read-quilt --help')")}
			case len(patchIDs) > 0:
				for _, s := range patchIDs {
					id, err := codec.ParseQuiltPatchID(s)
					if err != nil {
						return err
					}
					ids = append(ids, id)
				}
			case len(args) >= 2:
				var err error
				if quiltID, err = codec.ParseBlobID(args[0]); err != nil {
					return err
				}
				names = args[1:]
			default:
				return usageError{errors.New("want QUILT_ID and at least one IDENTIFIER, or --patch-id (see 'floe read-quilt --help')")}
			}
			n := len(ids) + len(names)
			switch {
			case out != "" && outDir != "":
				return usageError{errors.New("-o and --out-dir exclude each other")}
			case n > 1 && outDir == "":
				return usageError{fmt.Errorf("%d files to read: give --out-dir DIR", n)}
			case n == 1 && outDir != "":
				// fine: one file into the directory
			case asJSON && out == "" && outDir == "":
				return usageError{errors.New("--json prints what was read: give -o FILE or --out-dir DIR for the bytes")}
			}
			ctx := cmd.Context()
			c, err := cf.open(ctx, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer c.Close()
			opts := node.ReadOptions{}
			if strict {
				opts.Check = codec.CheckStrict
			}
			var results []quiltFileOutput
			write := func(res *node.QuiltReadResult) error {
				f := res.File
				r := quiltFileOutput{Identifier: f.Identifier, PatchID: res.PatchID, Tags: f.Tags, Size: len(f.Data),
					Slivers: res.Slivers, SliverBytes: res.SliverBytes, Full: res.Full}
				switch {
				case outDir != "":
					p, err := localPath(outDir, f.Identifier)
					if err != nil {
						return err
					}
					if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
						return err
					}
					if err := node.WriteFileAtomic(p, f.Data, 0o644); err != nil {
						return err
					}
					r.File = p
				case out != "" && out != "-":
					if err := node.WriteFileAtomic(out, f.Data, 0o644); err != nil {
						return err
					}
					r.File = out
				default:
					if _, err := cmd.OutOrStdout().Write(f.Data); err != nil {
						return err
					}
					r.File = "-"
				}
				results = append(results, r)
				return nil
			}
			for _, id := range ids {
				res, err := c.ReadQuiltPatch(ctx, id, opts)
				if err != nil {
					return fmt.Errorf("patch %s: %w", id, err)
				}
				if err := write(res); err != nil {
					return err
				}
			}
			for _, name := range names {
				res, err := c.ReadQuiltFile(ctx, quiltID, name, opts)
				if err != nil {
					return fmt.Errorf("%q: %w", name, err)
				}
				if err := write(res); err != nil {
					return err
				}
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), results)
			}
			if outDir != "" {
				for _, r := range results {
					fmt.Fprintf(cmd.ErrOrStderr(), "%s: %d bytes from %d sliver(s)\n", r.File, r.Size, r.Slivers)
				}
			}
			return nil
		},
	}
	cf.add(cmd)
	f := cmd.Flags()
	f.StringSliceVar(&patchIDs, "patch-id", nil, "read the file of this quilt patch ID (repeatable)")
	f.StringVarP(&out, "out", "o", "", "write the one file read to FILE (default stdout)")
	f.StringVar(&outDir, "out-dir", "", "write each file read under DIR/IDENTIFIER")
	f.BoolVar(&strict, "strict", false, "read and re-encode the whole quilt to check it")
	f.BoolVar(&asJSON, "json", false, "print what was read as JSON (needs -o or --out-dir)")
	return cmd
}

// patchOutput is one element of `floe list-patches --json`.
type patchOutput struct {
	Identifier string             `json:"identifier"`
	PatchID    codec.QuiltPatchID `json:"quilt_patch_id"`
	Tags       map[string]string  `json:"tags,omitempty"`
	// StartIndex and EndIndex are the patch's secondary slivers [start, end).
	StartIndex int `json:"start_index"`
	EndIndex   int `json:"end_index"`
}

func newListPatchesCommand() *cobra.Command {
	var (
		cf     clientFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "list-patches QUILT_ID",
		Short: "List the files of a quilt: identifiers, quilt patch IDs, tags",
		Long: `List the files of a quilt from its index, read from the secondary slivers
that hold it: one line per file with its quilt patch ID, its slivers
[start, end), its identifier and its tags; --json prints an array.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := codec.ParseBlobID(args[0])
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			c, err := cf.open(ctx, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer c.Close()
			res, err := c.ListQuiltPatches(ctx, id, node.ReadOptions{})
			if err != nil {
				return err
			}
			list := make([]patchOutput, len(res.Index.Patches))
			for i, p := range res.Index.Patches {
				list[i] = patchOutput{Identifier: p.Identifier, PatchID: p.ID(id), Tags: p.Tags, StartIndex: p.Start, EndIndex: p.End}
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return printJSON(out, list)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "PATCH ID\tSLIVERS\tIDENTIFIER\tTAGS")
			for _, p := range list {
				fmt.Fprintf(tw, "%s\t[%d, %d)\t%s\t%s\n", p.PatchID, p.StartIndex, p.EndIndex, p.Identifier, tagsValue(p.Tags))
			}
			return tw.Flush()
		},
	}
	cf.add(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the patches as JSON")
	return cmd
}
