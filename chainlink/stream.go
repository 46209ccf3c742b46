package chainlink

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
)

// MaxEventBatch is the most events one EventsAfter call returns.
const MaxEventBatch = 1000

// EventsAfter returns up to limit events with cursor > after, without
// waiting, and the ledger's last cursor.
func (l *Ledger) EventsAfter(ctx context.Context, after uint64, limit int) ([]Event, uint64, error) {
	if err := l.lock(ctx); err != nil {
		return nil, 0, err
	}
	last := l.m.LastEvent
	l.mu.Unlock()
	return l.readEvents(ctx, after, last, limit)
}

func (l *Ledger) readEvents(ctx context.Context, after, last uint64, limit int) ([]Event, uint64, error) {
	if limit <= 0 || limit > MaxEventBatch {
		limit = MaxEventBatch
	}
	var out []Event
	for seq := after + 1; seq <= last && len(out) < limit; seq++ {
		b, err := l.ds.Get(ctx, keyEvent(seq))
		if err != nil {
			return out, last, fmt.Errorf("chainlink: read event %d: %w", seq, err)
		}
		var e Event
		if err := json.Unmarshal(b, &e); err != nil || e.Cursor != seq {
			return out, last, fmt.Errorf("chainlink: corrupt event %d: %v", seq, err)
		}
		out = append(out, e)
	}
	return out, last, nil
}

// WaitEvents is EventsAfter that waits until at least one event exists
// after cursor, ctx ends or the ledger closes. It returns no events and no
// error when ctx ends (the long-poll timeout of the HTTP service).
func (l *Ledger) WaitEvents(ctx context.Context, after uint64, limit int) ([]Event, uint64, error) {
	for {
		if err := l.lock(context.WithoutCancel(ctx)); err != nil {
			return nil, 0, err
		}
		last, ch := l.m.LastEvent, l.notify
		l.mu.Unlock()
		if last > after {
			return l.readEvents(ctx, after, last, limit)
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, last, nil
		case <-l.stop:
			return nil, last, ErrClosed
		}
	}
}

// Events implements Chain.
func (l *Ledger) Events(ctx context.Context, after uint64) (EventStream, error) {
	if err := l.lock(ctx); err != nil {
		return nil, err
	}
	l.mu.Unlock()
	return newStream(after, func(ctx context.Context, after uint64) ([]Event, error) {
		evs, _, err := l.WaitEvents(ctx, after, MaxEventBatch)
		if err == nil && len(evs) == 0 {
			err = ctx.Err()
		}
		return evs, err
	}), nil
}

// stream is an EventStream over a batch-fetching function.
type stream struct {
	fetch  func(ctx context.Context, after uint64) ([]Event, error)
	cursor uint64
	buf    []Event

	once sync.Once
	done chan struct{}
}

func newStream(after uint64, fetch func(context.Context, uint64) ([]Event, error)) *stream {
	return &stream{fetch: fetch, cursor: after, done: make(chan struct{})}
}

// Next returns the next event.
func (s *stream) Next(ctx context.Context) (Event, error) {
	for len(s.buf) == 0 {
		select {
		case <-s.done:
			return Event{}, ErrClosed
		default:
		}
		fctx, cancel := context.WithCancel(ctx)
		go func() {
			select {
			case <-s.done:
				cancel()
			case <-fctx.Done():
			}
		}()
		evs, err := s.fetch(fctx, s.cursor)
		closed := false
		select {
		case <-s.done:
			closed = true
		default:
		}
		cancel()
		if closed {
			return Event{}, ErrClosed
		}
		if err != nil {
			if ctx.Err() != nil {
				return Event{}, ctx.Err()
			}
			return Event{}, err
		}
		// Keep only what follows the cursor, in order (defensive against a
		// server that repeats itself).
		for _, e := range evs {
			if e.Cursor == s.cursor+uint64(len(s.buf))+1 {
				s.buf = append(s.buf, e)
			}
		}
	}
	e := s.buf[0]
	s.buf = s.buf[1:]
	s.cursor = e.Cursor
	return e, nil
}

// Cursor is the cursor of the last event returned.
func (s *stream) Cursor() uint64 { return s.cursor }

// Close ends the stream; a blocked Next returns ErrClosed.
func (s *stream) Close() error {
	s.once.Do(func() { close(s.done) })
	return nil
}
