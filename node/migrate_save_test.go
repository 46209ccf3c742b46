package node

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// newSaveTestMigration is a migration planned for epoch 1 with gained
// shards 0..n-1, saving to a temporary directory.
func newSaveTestMigration(t *testing.T, gained int, every time.Duration) *migration {
	t.Helper()
	m := &migration{
		n:         &Node{log: slog.New(slog.DiscardHandler)},
		path:      filepath.Join(t.TempDir(), migrationFile),
		running:   map[int]bool{},
		kick:      make(chan struct{}, 1),
		saveEvery: every,
		st:        migrationState{Version: migrationStateVersion, Epoch: 1, PlannedUnixMs: 1, Gained: map[int]*shardSync{}, Retained: map[int]*retainedShard{}},
	}
	for s := range gained {
		m.st.Gained[s] = &shardSync{}
	}
	return m
}

// savedSlivers reads the state file back and sums the gained shards'
// synced slivers.
func savedSlivers(t *testing.T, m *migration) int64 {
	t.Helper()
	b, err := os.ReadFile(m.path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := parseMigrationState(b, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, g := range st.Gained {
		n += g.Slivers
	}
	return n
}

// A node gaining a thousand shards wrote the whole state file once per
// shard step; progress is now written at most every saveEvery, and what
// is pending is written when the loop ends.
func TestMigrationProgressSavesCoalesce(t *testing.T) {
	m := newSaveTestMigration(t, 1000, time.Hour)
	for s := range 1000 {
		if !m.update(1, s, func(g *shardSync) { g.Slivers++ }) {
			t.Fatalf("update of shard %d refused", s)
		}
	}
	if m.saves != 1 {
		t.Fatalf("%d saves for 1000 shard steps, want 1 (the first, then one per interval)", m.saves)
	}
	if got := savedSlivers(t, m); got != 1 {
		t.Fatalf("file holds %d slivers after the first save, want 1", got)
	}
	// The loop's end saves what is pending, before the node stops.
	m.flush()
	if m.saves != 2 {
		t.Fatalf("%d saves after the flush, want 2", m.saves)
	}
	if got := savedSlivers(t, m); got != 1000 {
		t.Fatalf("file holds %d slivers after the flush, want 1000", got)
	}
	m.flush() // nothing pending: no write
	if m.saves != 2 {
		t.Fatalf("a flush with nothing pending wrote the file (%d saves)", m.saves)
	}
	// Once stopped, a step is written at once.
	m.stopped = true
	m.update(1, 0, func(g *shardSync) { g.Slivers++ })
	if got := savedSlivers(t, m); got != 1001 || m.saves != 3 {
		t.Fatalf("after the loop ended: file holds %d slivers in %d saves, want 1001 in 3", got, m.saves)
	}
}

// Pending progress reaches the file within the interval without any
// later step to carry it.
func TestMigrationProgressSavedWithinInterval(t *testing.T) {
	m := newSaveTestMigration(t, 10, 50*time.Millisecond)
	for s := range 10 {
		m.update(1, s, func(g *shardSync) { g.Slivers += 2 })
	}
	deadline := time.Now().Add(10 * time.Second)
	for savedSlivers(t, m) != 20 {
		if time.Now().After(deadline) {
			t.Fatalf("progress not saved 10 s after the last step (file holds %d slivers)", savedSlivers(t, m))
		}
		time.Sleep(10 * time.Millisecond)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.dirty || m.flushTimer != nil {
		t.Fatalf("after the timed save: dirty %v, timer pending %v", m.dirty, m.flushTimer != nil)
	}
}
