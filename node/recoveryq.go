package node

import (
	"container/heap"
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"floe/codec"
)

// Recovery retry bounds: a failed blob waits minRecoveryBackoff, doubling
// per failure up to maxRecoveryBackoff (±20% jitter, so nodes that failed
// together do not retry together).
const (
	minRecoveryBackoff = time.Second
	maxRecoveryBackoff = 2 * time.Minute
)

// recoveryQueue schedules blob recoveries. A blob is in the queue at most
// once; a failure puts it back with backoff instead of holding a worker;
// up to max workers run, started when work is due and gone when none is.
// It owns its goroutines: loop runs until ctx ends and waits for them.
type recoveryQueue struct {
	run func(context.Context, codec.BlobID) error
	log *slog.Logger
	max int

	mu      sync.Mutex
	items   map[codec.BlobID]*recoveryItem
	due     recoveryHeap
	running int
	done    int64 // recoveries finished
	failed  int64 // attempts that failed
	wake    chan struct{}
	workers sync.WaitGroup
}

type recoveryItem struct {
	id codec.BlobID
	// cursor is the chain event that asked for the recovery (0: none);
	// the node's persisted cursor stays before the oldest.
	cursor   uint64
	attempts int
	next     time.Time
	active   bool // a worker holds it
	again    bool // asked for again while active: run once more
	index    int  // in due; -1 when not
}

func newRecoveryQueue(max int, log *slog.Logger, run func(context.Context, codec.BlobID) error) *recoveryQueue {
	return &recoveryQueue{
		run: run, log: log, max: max,
		items: map[codec.BlobID]*recoveryItem{}, wake: make(chan struct{}, 1),
	}
}

// add asks for a recovery of id; cursor is the event that asked (0: none).
func (q *recoveryQueue) add(id codec.BlobID, cursor uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if it := q.items[id]; it != nil {
		if cursor != 0 && (it.cursor == 0 || cursor < it.cursor) {
			it.cursor = cursor
		}
		if it.active {
			it.again = true
		}
		return
	}
	it := &recoveryItem{id: id, cursor: cursor, next: time.Now(), index: -1}
	q.items[id] = it
	heap.Push(&q.due, it)
	q.signal()
}

func (q *recoveryQueue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// minCursor returns the oldest event cursor still waiting for its
// recovery, 0 if none.
func (q *recoveryQueue) minCursor() uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	var c uint64
	for _, it := range q.items {
		if it.cursor != 0 && (c == 0 || it.cursor < c) {
			c = it.cursor
		}
	}
	return c
}

// has reports whether id is queued or being recovered.
func (q *recoveryQueue) has(id codec.BlobID) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.items[id] != nil
}

// recoveryCounts is a snapshot for status reports.
type recoveryCounts struct {
	Pending int   `json:"pending"` // queued or running
	Running int   `json:"running"`
	Failing int   `json:"failing"` // queued after at least one failure
	Done    int64 `json:"done"`
	Failed  int64 `json:"failed_attempts"`
}

func (q *recoveryQueue) counts() recoveryCounts {
	q.mu.Lock()
	defer q.mu.Unlock()
	c := recoveryCounts{Pending: len(q.items), Running: q.running, Done: q.done, Failed: q.failed}
	for _, it := range q.items {
		if it.attempts > 0 {
			c.Failing++
		}
	}
	return c
}

// loop starts workers for due items until ctx ends, then waits for them.
func (q *recoveryQueue) loop(ctx context.Context) {
	defer q.workers.Wait()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		q.mu.Lock()
		now := time.Now()
		for q.running < q.max && q.due.Len() > 0 && !q.due[0].next.After(now) {
			it := heap.Pop(&q.due).(*recoveryItem)
			it.active = true
			q.running++
			q.workers.Add(1)
			go q.work(ctx, it)
		}
		wait := time.Hour
		if q.running < q.max && q.due.Len() > 0 {
			wait = q.due[0].next.Sub(now)
		}
		q.mu.Unlock()
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-q.wake:
		case <-timer.C:
		}
	}
}

func (q *recoveryQueue) work(ctx context.Context, it *recoveryItem) {
	defer q.workers.Done()
	err := q.run(ctx, it.id)
	q.mu.Lock()
	defer q.mu.Unlock()
	defer q.signal()
	q.running--
	it.active = false
	if ctx.Err() != nil {
		return // stopping: the persisted cursor brings it back on restart
	}
	switch {
	case err == nil && !it.again:
		delete(q.items, it.id)
		q.done++
		return
	case err == nil:
		it.attempts, it.next = 0, time.Now()
	default:
		it.attempts++
		q.failed++
		backoff := minRecoveryBackoff << min(it.attempts-1, 16)
		backoff = min(backoff, maxRecoveryBackoff)
		backoff = time.Duration(float64(backoff) * (0.8 + 0.4*rand.Float64()))
		it.next = time.Now().Add(backoff)
		q.log.Warn("recovery failed; retrying later", "blob", it.id, "attempt", it.attempts, "retry_in", backoff.Round(time.Millisecond), "err", err)
	}
	it.again = false
	heap.Push(&q.due, it)
}

// recoveryHeap orders waiting items by their next attempt.
type recoveryHeap []*recoveryItem

func (h recoveryHeap) Len() int           { return len(h) }
func (h recoveryHeap) Less(i, j int) bool { return h[i].next.Before(h[j].next) }
func (h recoveryHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *recoveryHeap) Push(x any) {
	it := x.(*recoveryItem)
	it.index = len(*h)
	*h = append(*h, it)
}
func (h *recoveryHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	old[len(old)-1] = nil
	it.index = -1
	*h = old[:len(old)-1]
	return it
}
