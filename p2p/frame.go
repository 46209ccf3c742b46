package p2p

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Framing: every request and response part is a frame, a 4-byte big-endian
// length followed by that many bytes. A reader always passes the largest
// length it accepts; a longer declared length is a protocol violation and the
// stream is cut before any of the payload is read.
const frameHeaderSize = 4

// maxFrameLimit is the largest frame any decoder accepts, whatever the
// parameters: 1 GiB. It guards against overflow in limit arithmetic.
const maxFrameLimit = 1 << 30

// frameChunk is the most a frame reader allocates before the peer has sent
// that many bytes of a frame (see readFrameBody).
const frameChunk = 8 << 20

// errFrameTooLarge is wrapped in ErrProtocol/ErrInvalidRequest by callers.
var errFrameTooLarge = errors.New("frame too large")

// appendFrame appends a frame holding payload to dst.
func appendFrame(dst, payload []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(payload)))
	return append(dst, payload...)
}

// writeFrame writes one frame.
func writeFrame(w io.Writer, payload []byte) error {
	var h [frameHeaderSize]byte
	binary.BigEndian.PutUint32(h[:], uint32(len(payload)))
	if len(payload) <= 512 {
		// One write for small frames: fewer muxer frames on the wire.
		buf := make([]byte, 0, frameHeaderSize+len(payload))
		_, err := w.Write(appendFrame(buf, payload))
		return err
	}
	if _, err := w.Write(h[:]); err != nil {
		return err
	}
	_, err := w.Write(payload)
	return err
}

// readFrameHeader reads a frame length and checks it against max.
func readFrameHeader(r io.Reader, max int) (int, error) {
	var h [frameHeaderSize]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, err
	}
	n := binary.BigEndian.Uint32(h[:])
	if uint64(n) > uint64(max) || n > maxFrameLimit {
		return 0, fmt.Errorf("%w: %d bytes declared, at most %d accepted", errFrameTooLarge, n, max)
	}
	return int(n), nil
}

// readFrameBody reads a payload of n bytes without trusting the declared
// length up front: a frame of more than frameChunk bytes is read into a
// frameChunk buffer first, and only once the peer has sent that much is the
// whole frame allocated (and the first chunk copied over, once). A peer
// that declares a large frame and stalls costs at most frameChunk; one that
// sends frameChunk bytes and stalls costs the declared size, which its
// limit bounds.
func readFrameBody(r io.Reader, n int) ([]byte, error) {
	if n <= frameChunk {
		b := make([]byte, n)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, unexpectedEOF(err)
		}
		return b, nil
	}
	first := make([]byte, frameChunk)
	if _, err := io.ReadFull(r, first); err != nil {
		return nil, unexpectedEOF(err)
	}
	b := make([]byte, n)
	copy(b, first)
	if _, err := io.ReadFull(r, b[frameChunk:]); err != nil {
		return nil, unexpectedEOF(err)
	}
	return b, nil
}

// reserveChunk is the step in which readFrameBodyReserving commits memory
// and sets deadlines.
const reserveChunk = 1 << 20

// readFrameBodyReserving reads a payload of n bytes: memory is reserved
// (reserve) in steps of reserveChunk before each step is read, each step
// under its own deadline (set by deadline), and the buffer is allocated
// once the first step is reserved, as large as that step, and doubles as
// bytes arrive. A peer that declares a large frame and stalls holds one
// reserved step. (A buffer that started at 64 KiB and doubled zeroed and
// copied about three times each sliver a node was sent.)
func readFrameBodyReserving(r io.Reader, n int, reserve func(int) error, deadline func(int)) ([]byte, error) {
	if n == 0 {
		return []byte{}, nil
	}
	var b []byte
	for len(b) < n {
		step := min(reserveChunk, n-len(b))
		if err := reserve(step); err != nil {
			return nil, err
		}
		if b == nil {
			b = make([]byte, 0, step)
		}
		deadline(step)
		for end := len(b) + step; len(b) < end; {
			if len(b) == cap(b) {
				nb := make([]byte, len(b), min(n, 2*cap(b)))
				copy(nb, b)
				b = nb
			}
			k, err := io.ReadFull(r, b[len(b):min(end, cap(b))])
			b = b[:len(b)+k]
			if err != nil {
				return nil, unexpectedEOF(err)
			}
		}
	}
	return b, nil
}

func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// readFrame reads one frame of at most max bytes.
func readFrame(r io.Reader, max int) ([]byte, error) {
	n, err := readFrameHeader(r, max)
	if err != nil {
		return nil, err
	}
	return readFrameBody(r, n)
}
