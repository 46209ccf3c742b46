package node

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync/atomic"

	"floe/codec"
)

// encoding is an encoded blob as the publisher pushes it: in memory
// (codec.Encode) or in a spill file (codec.EncodeFrom). Slivers are read
// and marshalled one batch at a time, just before they are sent, so a
// store holds what its pushes have in flight, not a second copy of the
// blob's slivers.
type encoding interface {
	id() codec.BlobID
	meta() *codec.Metadata
	// sliverBCS returns the BCS SliverData of the sliver of type t of pair.
	sliverBCS(pair int, t codec.SliverType) ([]byte, error)
	// sliverBCSLen is the length of sliverBCS for type t (all slivers of a
	// type have the same size).
	sliverBCSLen(t codec.SliverType) int
}

// sliverBCSLen is the length of a BCS SliverData whose data is n bytes:
// the ULEB128 length, the data, symbol size and index (u16 each).
func sliverBCSLen(n int) int {
	l := 1
	for v := uint64(n); v >= 0x80; v >>= 7 {
		l++
	}
	return l + n + 4
}

type memEncoding struct{ b *codec.EncodedBlob }

func (m memEncoding) id() codec.BlobID      { return m.b.BlobID }
func (m memEncoding) meta() *codec.Metadata { return &m.b.Metadata }

func (m memEncoding) sliverBCS(pair int, t codec.SliverType) ([]byte, error) {
	sp := &m.b.Pairs[pair]
	if t == codec.Primary {
		return sp.Primary.MarshalBCS(), nil
	}
	return sp.Secondary.MarshalBCS(), nil
}

func (m memEncoding) sliverBCSLen(t codec.SliverType) int {
	if t == codec.Primary {
		return sliverBCSLen(len(m.b.Pairs[0].Primary.Data))
	}
	return sliverBCSLen(len(m.b.Pairs[0].Secondary.Data))
}

type spillEncoding struct{ b *codec.StreamedBlob }

func (s spillEncoding) id() codec.BlobID      { return s.b.BlobID }
func (s spillEncoding) meta() *codec.Metadata { return &s.b.Metadata }

func (s spillEncoding) sliverBCS(pair int, t codec.SliverType) ([]byte, error) {
	return s.b.SliverBCS(pair, t)
}

func (s spillEncoding) sliverBCSLen(t codec.SliverType) int {
	return sliverBCSLen(s.b.SliverSize(t))
}

// spillFile is the temporary file a streamed encoding writes its slivers
// to. Reads and writes fail once ctx ends, so an interrupted encode stops
// at its next access; written counts bytes for progress.
type spillFile struct {
	ctx     context.Context
	f       *os.File
	written atomic.Int64
	cleanup func() // removes the file where it could not be unlinked at once
}

// newSpillFile creates a spill of size bytes in dir (os.TempDir if empty).
// The file is removed from the directory at once where the system allows
// (the open descriptor keeps it), so nothing is left behind however the
// process ends; close releases its space.
func newSpillFile(ctx context.Context, dir string, size int64) (*spillFile, error) {
	f, err := os.CreateTemp(dir, "floe-spill-*")
	if err != nil {
		return nil, fmt.Errorf("creating the encoding's spill file: %w", err)
	}
	// Unlinking an open file works on Unix; elsewhere close removes it.
	unlinked := os.Remove(f.Name()) == nil
	if err := f.Truncate(size); err != nil {
		f.Close()
		if !unlinked {
			os.Remove(f.Name())
		}
		return nil, fmt.Errorf("sizing the encoding's spill file to %d bytes: %w", size, err)
	}
	s := &spillFile{ctx: ctx, f: f}
	if !unlinked {
		name := f.Name()
		s.cleanup = func() { os.Remove(name) }
	}
	return s, nil
}

func (s *spillFile) ReadAt(p []byte, off int64) (int, error) {
	if err := s.ctx.Err(); err != nil {
		return 0, err
	}
	return s.f.ReadAt(p, off)
}

func (s *spillFile) WriteAt(p []byte, off int64) (int, error) {
	if err := s.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := s.f.WriteAt(p, off)
	s.written.Add(int64(n))
	return n, err
}

func (s *spillFile) close() error {
	err := s.f.Close()
	if s.cleanup != nil {
		s.cleanup()
	}
	return err
}

// ctxReaderAt fails reads once ctx ends.
type ctxReaderAt struct {
	ctx context.Context
	r   io.ReaderAt
}

func (c ctxReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.ReadAt(p, off)
}

// MetadataFrom computes the metadata and blob ID of the size bytes of r
// as Store would, with the streamed encoder (codec.EncodeFrom): its slivers
// go to a temporary spill file in dir (about 5× size, removed before
// MetadataFrom returns), so memory stays bounded whatever size is.
// `floe blob-id` and `floe store --dry-run` use it for large files.
func MetadataFrom(ctx context.Context, p codec.Params, r io.ReaderAt, size int64, dir string) (codec.Metadata, codec.BlobID, error) {
	if size < 0 {
		return codec.Metadata{}, codec.BlobID{}, fmt.Errorf("%w: negative blob size %d", ErrInvalidOptions, size)
	}
	spillSize, err := codec.SpillSize(p, uint64(size))
	if err != nil {
		return codec.Metadata{}, codec.BlobID{}, err
	}
	sp, err := newSpillFile(ctx, dir, spillSize)
	if err != nil {
		return codec.Metadata{}, codec.BlobID{}, err
	}
	defer sp.close()
	b, err := codec.EncodeFrom(p, ctxReaderAt{ctx, r}, uint64(size), sp)
	if err != nil {
		return codec.Metadata{}, codec.BlobID{}, err
	}
	return b.Metadata, b.BlobID, nil
}
