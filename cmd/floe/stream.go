package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"

	"github.com/spf13/cobra"

	"floe/codec"
	"floe/node"
)

// streamMin is the file size from which `floe store`, `floe store
// --dry-run`, `floe blob-id` and `floe read -o` stream: they encode from
// the file and read into it with memory bounded by --memory, rather than
// holding the blob (and, for a store, its slivers: about 5× the file).
const streamMin = 64 << 20

// streamFlags are the memory flags of the commands that stream.
type streamFlags struct {
	memory   string
	spillDir string
	min      int64 // streamMin; lowered by tests (hidden --stream-min)
}

func (s *streamFlags) add(cmd *cobra.Command, memoryHelp string) {
	cmd.Flags().StringVar(&s.memory, "memory", "512MiB", memoryHelp)
	cmd.Flags().StringVar(&s.spillDir, "spill-dir", "", "directory of the temporary spill of a streamed encoding (about 5× the file; default $TMPDIR)")
	addStreamMin(cmd, &s.min)
}

// addStreamMin registers the hidden --stream-min, with which tests run the
// streamed paths on small files.
func addStreamMin(cmd *cobra.Command, v *int64) {
	cmd.Flags().Int64Var(v, "stream-min", streamMin, "files of this many bytes and more are streamed")
	_ = cmd.Flags().MarkHidden("stream-min")
}

// budget is --memory. Unless GOMEMLIMIT is set, it also sets the Go
// runtime's soft memory limit to the budget plus the rest of what a
// client holds (about 256 MiB), so the collector keeps the garbage of
// streamed slivers from doubling the peak.
func (s *streamFlags) budget() (int64, error) {
	n, err := parseByteSize(s.memory)
	if err != nil {
		return 0, fmt.Errorf("--memory: %w", err)
	}
	if n < 1<<20 {
		return 0, fmt.Errorf("--memory %s: want at least 1MiB", s.memory)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(n + 256<<20)
	}
	return n, nil
}

// fileBlobID is the metadata computation of a file: in memory below
// min bytes, streamed through a spill in spillDir from there.
func fileBlobID(ctx context.Context, p codec.Params, path, spillDir string, min int64) (codec.BlobID, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return codec.BlobID{}, 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return codec.BlobID{}, 0, err
	}
	if fi.Size() < min {
		data, err := os.ReadFile(path)
		if err != nil {
			return codec.BlobID{}, 0, err
		}
		_, id, err := codec.ComputeMetadata(p, data)
		return id, int64(len(data)), err
	}
	_, id, err := node.MetadataFrom(ctx, p, f, fi.Size(), spillDir)
	return id, fi.Size(), err
}

// storeFile stores a file with Client.StoreFrom, reading it as it
// encodes.
func storeFile(ctx context.Context, c *node.Client, path string, opts node.StoreOptions) (*node.StoreResult, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	res, err := c.StoreFrom(ctx, f, fi.Size(), opts)
	return res, fi.Size(), err
}

// readToFile streams a blob into path through a temporary file beside it,
// renamed into place once every byte is written and synced: a failed or
// interrupted read never leaves a truncated file at path.
func readToFile(ctx context.Context, c *node.Client, id codec.BlobID, path string, opts node.ReadOptions) (*node.ReadResult, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return nil, err
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	w := bufio.NewWriterSize(tmp, 1<<20)
	res, err := c.ReadTo(ctx, id, w, opts)
	if err != nil {
		return res, err
	}
	if err := w.Flush(); err != nil {
		return res, err
	}
	if err := tmp.Chmod(0o644); err != nil {
		return res, err
	}
	if err := tmp.Sync(); err != nil {
		return res, err
	}
	if err := tmp.Close(); err != nil {
		return res, err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return res, err
	}
	done = true
	return res, nil
}
