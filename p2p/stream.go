package p2p

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
)

// Timeouts bound how long either side of a stream waits for the other.
type Timeouts struct {
	// Idle is the longest a peer may stay silent while a frame (or a status)
	// is expected, and the base allowance for every frame.
	Idle time.Duration
	// MinRate is the slowest transfer, in bytes per second, a peer may
	// sustain on a frame: a frame of L bytes must arrive within
	// Idle + L/MinRate. It cuts off peers that trickle bytes to hold a
	// stream (and its memory) open.
	MinRate int
	// Handler bounds one Handler call on the server, or the whole exchange
	// on the client when the caller's context has no earlier deadline.
	Handler time.Duration
	// Request bounds how long a server waits for a request (its first
	// frames, at most a few KiB) once the stream is open, whatever the
	// payload timeouts: a stream that is opened and left idle holds a slot
	// for this long at most. Zero means Idle.
	Request time.Duration
}

// DefaultTimeouts suit a storage node on a wide-area network: ten seconds of
// silence, 512 KiB/s at worst, one minute per request, two seconds to send
// a request.
func DefaultTimeouts() Timeouts {
	return Timeouts{Idle: 10 * time.Second, MinRate: 512 << 10, Handler: time.Minute, Request: 2 * time.Second}
}

// Validate refuses zero or negative timeouts.
func (t Timeouts) Validate() error {
	if t.Idle <= 0 || t.MinRate <= 0 || t.Handler <= 0 || t.Request < 0 {
		return fmt.Errorf("p2p: timeouts must be positive: %+v", t)
	}
	return nil
}

// forRequest returns the timeouts for reading a request: Idle is the
// request deadline.
func (t Timeouts) forRequest() Timeouts {
	if t.Request > 0 {
		t.Idle = min(t.Idle, t.Request)
	}
	return t
}

// allowance is the time a frame of n bytes may take.
func (t Timeouts) allowance(n int) time.Duration {
	return t.Idle + time.Duration(int64(n)*int64(time.Second)/int64(t.MinRate))
}

// frameConn reads and writes frames on a stream with a deadline per frame.
type frameConn struct {
	s network.Stream
	t Timeouts
	// slot is the server's admission slot of the stream (nil on clients).
	slot *slot
}

// request returns the conn for reading a request: under the request
// deadline.
func (c frameConn) request() frameConn {
	c.t = c.t.forRequest()
	return c
}

// requested tells the server's admission that the request has arrived: the
// stream is no longer one that may be shed for idling.
func (c frameConn) requested() {
	if c.slot != nil {
		c.slot.requested()
	}
}

func (c frameConn) readFrame(max int) ([]byte, error) {
	_ = c.s.SetReadDeadline(time.Now().Add(c.t.Idle))
	n, err := readFrameHeader(c.s, max)
	if err != nil {
		return nil, err
	}
	_ = c.s.SetReadDeadline(time.Now().Add(c.t.allowance(n)))
	return readFrameBody(c.s, n)
}

func (c frameConn) readByte() (byte, error) {
	_ = c.s.SetReadDeadline(time.Now().Add(c.t.Idle))
	var b [1]byte
	_, err := io.ReadFull(c.s, b[:])
	return b[0], err
}

// write writes b (any number of complete frames or status bytes).
func (c frameConn) write(b []byte) error {
	_ = c.s.SetWriteDeadline(time.Now().Add(c.t.allowance(len(b))))
	_, err := c.s.Write(b)
	return err
}

// writeChunk is the step of writeChunked.
const writeChunk = 64 << 10

// writeChunked writes b in steps of writeChunk bytes, each under its own
// deadline: the deadline moves on as the bytes do, so a long write on a
// link shared with other streams fails only when it stops progressing
// (Idle without a step done), not when the whole of b is slower than
// one allowance.
func (c frameConn) writeChunked(b []byte) error {
	for len(b) > 0 {
		n := min(len(b), writeChunk)
		if err := c.write(b[:n]); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// writeFrame writes one frame without copying a large payload.
func (c frameConn) writeFrame(payload []byte) error {
	_ = c.s.SetWriteDeadline(time.Now().Add(c.t.allowance(len(payload))))
	return writeFrame(c.s, payload)
}

// expectEOF checks that the peer sent nothing after its request.
func (c frameConn) expectEOF() error {
	_ = c.s.SetReadDeadline(time.Now().Add(c.t.Idle))
	var b [1]byte
	n, err := c.s.Read(b[:])
	if n > 0 {
		return errTrailing
	}
	if err == io.EOF {
		return nil
	}
	return err
}

// appendStatus appends a status and, unless it is OK, a frame with msg
// truncated to maxMsg bytes.
func appendStatus(b []byte, s Status, msg string, maxMsg int) []byte {
	b = append(b, byte(s))
	if s == StatusOK {
		return b
	}
	if len(msg) > maxMsg {
		msg = msg[:maxMsg]
	}
	return appendFrame(b, []byte(msg))
}

// appendError appends the status and message for err.
func appendError(b []byte, err error, maxMsg int) []byte {
	if err == nil {
		return appendStatus(b, StatusOK, "", maxMsg)
	}
	return appendStatus(b, statusOf(err), err.Error(), maxMsg)
}

// readStatus reads a status (and its message) and returns the error it
// stands for, nil for OK. A transport failure or a protocol violation is
// returned as the second error.
func (c frameConn) readStatus(maxMsg int) (peerErr, err error) {
	b, err := c.readByte()
	if err != nil {
		return nil, unexpectedEOF(err)
	}
	s := Status(b)
	if !s.valid() {
		return nil, fmt.Errorf("%w: unknown status %d", ErrProtocol, b)
	}
	if s == StatusOK {
		return nil, nil
	}
	msg, err := c.readFrame(maxMsg)
	if err != nil {
		return nil, wireError(err)
	}
	return errorOf(s, string(msg)), nil
}

// isTimeout reports whether err comes from a passed deadline.
func isTimeout(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout()
}

// wireError classifies a read/write failure on the client side.
func wireError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrProtocol), errors.Is(err, ErrTimeout):
		return err
	case errors.Is(err, errFrameTooLarge), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		// A peer that ends its answer early truncated it.
		return fmt.Errorf("%w: %v", ErrProtocol, err)
	case isTimeout(err):
		return fmt.Errorf("%w: %v", ErrTimeout, err)
	}
	return fmt.Errorf("p2p: stream: %w", err)
}

// Retryable reports whether a request that failed with err may succeed with
// another peer: everything except an invalid request.
func Retryable(err error) bool {
	return err != nil && !errors.Is(err, ErrInvalidRequest)
}
