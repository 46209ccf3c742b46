package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	ma "github.com/multiformats/go-multiaddr"

	"floe/chainlink"
	"floe/codec"
	"floe/p2p"
	"floe/store"
)

// Epoch change on a storage node (F13.3).
//
// At EpochChangeStart of epoch e the node compares the shards the committee
// of e assigns it with those it held (the store's shard list):
//
//   - A gained shard is pulled from its previous owner over the sync-shard
//     protocol: primary then secondary slivers of every blob certified
//     before e, in blob-ID order from a persisted cursor, in batches bounded
//     by count and bytes, each sliver verified against the blob's metadata
//     before it is stored. What the previous owner does not supply (it is
//     down past the fallback wait, it lies, or it lacks a sliver) is rebuilt
//     from recovery symbols. The shard is complete when the store holds both
//     slivers of every certified, unexpired blob on it: a data check, not a
//     claim of the sync.
//   - A lost shard is retained and served (reads, recovery symbols, sync to
//     its new owner) until EpochChangeDone plus a grace period, then
//     dropped.
//   - When every gained shard is complete the node reports EpochSyncDone;
//     a node that gained nothing reports at once.
//
// The plan and each shard's progress are persisted (epoch-change.json,
// written atomically before the event's cursor can be saved past it), so a
// node killed mid-sync resumes where it was.

const migrationFile = "epoch-change.json"

// Defaults of the epoch-change settings (Config).
const (
	defaultSyncFallback    = 10 * time.Minute
	defaultShardDropGrace  = 10 * time.Minute
	defaultShardSyncs      = 2
	syncBatchSlivers       = 64
	syncBatchBytes         = 16 << 20
	migrationStateVersion  = 1
	maxSourceLookback      = 4
	syncRetryBackoff       = 500 * time.Millisecond
	syncRetryBackoffMax    = 10 * time.Second
	gapCheckBatch          = 1024
	gapRecheck             = 500 * time.Millisecond
	migrationTick          = time.Second
	maxConcurrentMetaFetch = 4
	progressSaveEvery      = 250 * time.Millisecond
)

// migrationState is the persisted plan of the last epoch change.
type migrationState struct {
	Version int `json:"version"`
	// Epoch is the epoch whose change this is.
	Epoch uint32 `json:"epoch"`
	// PlannedUnixMs is when the node planned it; the fallback wait counts
	// from here.
	PlannedUnixMs int64 `json:"planned_unix_ms"`
	// Gained are the shards gained at Epoch (or earlier and still
	// incomplete), by shard index.
	Gained map[int]*shardSync `json:"gained,omitempty"`
	// Retained are shards lost and still kept and served.
	Retained map[int]*retainedShard `json:"retained,omitempty"`
	// Reported is set once EpochSyncDone for Epoch was sent (or refused
	// because it no longer applies).
	Reported bool `json:"reported,omitempty"`
	// Liars are sources caught serving data that fails verification in
	// this change: no shard is pulled from them again until the next one.
	Liars []chainlink.ID `json:"liars,omitempty"`
}

// shardSync is the progress of one gained shard.
type shardSync struct {
	// Source is the previous owner to pull from (zero: none).
	Source chainlink.ID `json:"source,omitzero"`
	// Next is where the sync of each sliver type continues (inclusive).
	Next [2]codec.BlobID `json:"next"`
	// Streamed: the source said it has nothing more of that type.
	Streamed [2]bool `json:"streamed"`
	// SourceFailed: the source served data failing verification, or
	// could not be used; the rest comes from recovery.
	SourceFailed bool `json:"source_failed,omitempty"`
	Complete     bool `json:"complete,omitempty"`
	// Slivers and Bytes count what the sync delivered and stored;
	// MetadataBytes the metadata fetched for it.
	Slivers       int64 `json:"slivers"`
	Bytes         int64 `json:"bytes"`
	MetadataBytes int64 `json:"metadata_bytes"`
	// Recovered counts the blobs this shard's gap check sent to recovery
	// (a recovery rebuilds every missing sliver of a blob, so slivers of
	// this shard may also come with another shard's).
	Recovered       int64 `json:"recovered"`
	CompletedUnixMs int64 `json:"completed_unix_ms,omitempty"`
}

// retainedShard is a lost shard still kept.
type retainedShard struct {
	LostAt uint32 `json:"lost_at"`
	// DropAfterUnixMs is set when EpochChangeDone of an epoch ≥ LostAt is
	// seen: the grace period's end.
	DropAfterUnixMs int64 `json:"drop_after_unix_ms,omitempty"`
}

func (s *migrationState) clone() migrationState {
	out := *s
	out.Gained = make(map[int]*shardSync, len(s.Gained))
	for k, v := range s.Gained {
		c := *v
		out.Gained[k] = &c
	}
	out.Retained = make(map[int]*retainedShard, len(s.Retained))
	for k, v := range s.Retained {
		c := *v
		out.Retained[k] = &c
	}
	return out
}

// migration drives the node's epoch changes. Its state has its own lock,
// never held while calling the store, the chain or peers.
type migration struct {
	n    *Node
	path string

	mu      sync.Mutex
	st      migrationState
	running map[int]bool // shard workers alive
	kick    chan struct{}
	gate    <-chan struct{} // Options.ShardSyncGate
	workers sync.WaitGroup

	// Shard progress is saved at most every progressSaveEvery: each save
	// marshals every gained shard and syncs a file, and a node gaining a
	// thousand shards at once saved a thousand times (two seconds of CPU
	// at every devnet start). A progress write lost to a crash costs a
	// batch synced again or a gap check redone on resume.
	saveEvery  time.Duration // progressSaveEvery; tests change it
	saves      int           // state files written
	lastSave   time.Time
	dirty      bool        // progress not yet saved
	flushTimer *time.Timer // pending save of dirty progress
	stopped    bool        // loop ended: save at once
}

func newMigration(n *Node, gate <-chan struct{}) (*migration, error) {
	m := &migration{n: n, path: filepath.Join(n.cfg.DataDir, migrationFile), running: map[int]bool{}, kick: make(chan struct{}, 1), gate: gate, saveEvery: progressSaveEvery}
	b, err := os.ReadFile(m.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		m.st = migrationState{Version: migrationStateVersion}
	case err != nil:
		return nil, fmt.Errorf("epoch-change state: %w", err)
	default:
		if m.st, err = parseMigrationState(b, n.params.NShards); err != nil {
			return nil, fmt.Errorf("%w: epoch-change state %s: %v", ErrConfig, m.path, err)
		}
	}
	if err := m.st.check(n.params.NShards); err != nil {
		return nil, fmt.Errorf("%w: epoch-change state %s: %v", ErrConfig, m.path, err)
	}
	return m, nil
}

// parseMigrationState decodes a persisted state and checks it against the
// shard count: every shard index in range, no nil entries.
func parseMigrationState(b []byte, nShards int) (migrationState, error) {
	var st migrationState
	if err := json.Unmarshal(b, &st); err != nil {
		return st, err
	}
	if st.Version != migrationStateVersion {
		return st, fmt.Errorf("version %d, want %d", st.Version, migrationStateVersion)
	}
	return st, st.check(nShards)
}

func (s *migrationState) check(nShards int) error {
	if s.Gained == nil {
		s.Gained = map[int]*shardSync{}
	}
	if s.Retained == nil {
		s.Retained = map[int]*retainedShard{}
	}
	for k, g := range s.Gained {
		if k < 0 || k >= nShards || g == nil {
			return fmt.Errorf("gained shard %d of %d", k, nShards)
		}
	}
	for k, r := range s.Retained {
		if k < 0 || k >= nShards || r == nil {
			return fmt.Errorf("retained shard %d of %d", k, nShards)
		}
	}
	if len(s.Liars) > chainlink.MaxActiveSetSize {
		return fmt.Errorf("%d liars", len(s.Liars))
	}
	return nil
}

// saveLocked persists the state, with any progress not yet saved; m.mu is
// held.
func (m *migration) saveLocked() error {
	b, err := json.MarshalIndent(&m.st, "", " ")
	if err != nil {
		return err
	}
	if err := WriteFileAtomic(m.path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("saving epoch-change state: %w", err)
	}
	m.saves++
	m.lastSave, m.dirty = time.Now(), false
	return nil
}

// saveProgressLocked persists shard progress now if the last save is
// progressSaveEvery old, else within that; m.mu is held.
func (m *migration) saveProgressLocked() {
	wait := m.saveEvery - time.Since(m.lastSave)
	if m.stopped || wait <= 0 {
		if err := m.saveLocked(); err != nil {
			m.n.log.Error("saving epoch-change state", "err", err)
		}
		return
	}
	m.dirty = true
	if m.flushTimer == nil {
		m.flushTimer = time.AfterFunc(wait, m.flush)
	}
}

// flush saves progress not yet saved. The pending timer calls it, and the
// loop as it ends (after its workers), so nothing stays unsaved.
func (m *migration) flush() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.flushTimer != nil {
		m.flushTimer.Stop()
		m.flushTimer = nil
	}
	if m.dirty {
		if err := m.saveLocked(); err != nil {
			m.n.log.Error("saving epoch-change state", "err", err)
		}
	}
}

func (m *migration) signal() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

func (m *migration) snapshot() migrationState {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.st.clone()
}

// serves reports whether the node holds shard's data: assigned now, or
// lost and retained.
func (m *migration) serves(shard int) bool {
	if m.n.holds(shard) {
		return true
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.st.Retained[shard] != nil
}

// deferRecovery reports whether missing slivers of shard should wait for
// the shard's sync rather than be recovered now (recovery costs far more
// bytes than a sync).
func (m *migration) deferRecovery(shard int) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	g := m.st.Gained[shard]
	if g == nil || g.Complete || g.SourceFailed || g.Source.IsZero() || (g.Streamed[0] && g.Streamed[1]) {
		return false
	}
	return time.Since(time.UnixMilli(m.st.PlannedUnixMs)) < time.Duration(m.n.cfg.ShardSyncFallback)
}

// plan takes up the committee of epoch (the chain's current one): it
// records gained and lost shards, persists the plan, then switches the
// store to the new assignment. Planning an epoch twice is a no-op.
func (m *migration) plan(ctx context.Context, v *committeeView) error {
	n := m.n
	epoch := v.Epoch
	m.mu.Lock()
	planned := m.st.Epoch >= epoch && m.st.PlannedUnixMs != 0
	m.mu.Unlock()
	if planned {
		return nil
	}
	assigned := n.assignedIn(v)
	held := n.store.Shards()
	// Sources of newly gained shards: the latest earlier owner that is not
	// this node.
	sources := map[int]chainlink.ID{}
	earlier := earlierViews{}
	for _, s := range assigned {
		if !slices.Contains(held, s) {
			src, err := m.previousOwner(ctx, epoch, s, earlier)
			if err != nil {
				return err
			}
			sources[s] = src
		}
	}

	m.mu.Lock()
	old := m.st.clone()
	next := migrationState{
		Version: migrationStateVersion, Epoch: epoch, PlannedUnixMs: time.Now().UnixMilli(),
		Gained: map[int]*shardSync{}, Retained: map[int]*retainedShard{},
	}
	for _, s := range assigned {
		if g := old.Gained[s]; g != nil && !g.Complete && slices.Contains(held, s) {
			next.Gained[s] = g // still incomplete from an earlier change: go on
			continue
		}
		if src, ok := sources[s]; ok {
			next.Gained[s] = &shardSync{Source: src}
		}
	}
	for s, r := range old.Retained {
		if !slices.Contains(assigned, s) {
			next.Retained[s] = r
		}
	}
	for _, s := range held {
		if !slices.Contains(assigned, s) {
			if _, ok := next.Retained[s]; !ok {
				next.Retained[s] = &retainedShard{LostAt: epoch}
			}
		}
	}
	prev := m.st
	m.st = next
	if err := m.saveLocked(); err != nil {
		m.st = prev
		m.mu.Unlock()
		return err
	}
	m.mu.Unlock()

	if err := m.takeUp(ctx, assigned); err != nil {
		return err
	}
	var gained, lost []int
	for s := range next.Gained {
		gained = append(gained, s)
	}
	for s, r := range next.Retained {
		if r.LostAt == epoch {
			lost = append(lost, s)
		}
	}
	slices.Sort(gained)
	slices.Sort(lost)
	n.log.Info("epoch change planned", "epoch", epoch, "shards", len(assigned), "gained", gained, "lost", lost, "retained", len(next.Retained))
	m.signal()
	return nil
}

// takeUp makes assigned the node's shards (the store's list, what the
// handler accepts) and advertises them and the retained ones on the DHT.
func (m *migration) takeUp(ctx context.Context, assigned []int) error {
	n := m.n
	if err := n.store.SetShards(ctx, assigned); err != nil {
		return err
	}
	n.mu.Lock()
	n.shards = make(map[int]bool, len(assigned))
	for _, s := range assigned {
		n.shards[s] = true
	}
	n.mu.Unlock()
	if n.disc != nil {
		adv := slices.Clone(assigned)
		m.mu.Lock()
		for s := range m.st.Retained {
			if !slices.Contains(adv, s) {
				adv = append(adv, s)
			}
		}
		m.mu.Unlock()
		slices.Sort(adv)
		ds := make([]uint16, len(adv))
		for i, s := range adv {
			ds[i] = uint16(s)
		}
		n.disc.SetShards(ds)
	}
	return nil
}

// assignedIn returns the node's shards in committee v, ascending.
func (n *Node) assignedIn(v *committeeView) []int {
	var out []int
	if i := v.Index(n.id); i >= 0 {
		for _, s := range v.Members[i].Shards {
			out = append(out, int(s))
		}
	}
	slices.Sort(out)
	return out
}

// earlierViews are the committees of earlier epochs one planning pass has
// looked up, and the epochs that had none: each is asked of the chain once
// per pass, not once per gained shard (the first epoch, whose predecessor
// has no committee, cost one chain round trip per shard, 3 s on 100 ms
// links, while the node refused the shards it was taking up).
type earlierViews map[uint32]earlierView

type earlierView struct {
	v   *committeeView
	err error
}

func (e earlierViews) get(ctx context.Context, c *committees, epoch uint32) (*committeeView, error) {
	if got, ok := e[epoch]; ok {
		return got.v, got.err
	}
	v, err := c.get(ctx, epoch)
	if err == nil || errors.Is(err, ErrNoCommittee) {
		e[epoch] = earlierView{v, err}
	}
	return v, err
}

// previousOwner returns the most recent owner of shard before epoch that is
// not this node (zero: none within maxSourceLookback epochs).
func (m *migration) previousOwner(ctx context.Context, epoch uint32, shard int, earlier earlierViews) (chainlink.ID, error) {
	for back := uint32(1); back <= maxSourceLookback && back <= epoch; back++ {
		v, err := earlier.get(ctx, m.n.comms, epoch-back)
		if errors.Is(err, ErrNoCommittee) {
			return chainlink.ID{}, nil
		}
		if err != nil {
			return chainlink.ID{}, err
		}
		if o := v.owners[shard]; o >= 0 {
			if id := v.Members[o].NodeID; id != m.n.id {
				return id, nil
			}
		}
	}
	return chainlink.ID{}, nil
}

// changeDone records EpochChangeDone of epoch: retained shards lost at or
// before it may go after the grace period.
func (m *migration) changeDone(epoch uint32) {
	m.mu.Lock()
	defer m.mu.Unlock()
	changed := false
	drop := time.Now().Add(time.Duration(m.n.cfg.ShardDropGrace)).UnixMilli()
	for _, r := range m.st.Retained {
		if r.LostAt <= epoch && r.DropAfterUnixMs == 0 {
			r.DropAfterUnixMs = drop
			changed = true
		}
	}
	if changed {
		if err := m.saveLocked(); err != nil {
			m.n.log.Error("saving epoch-change state", "err", err)
		}
		m.signal()
	}
}

// loop runs the epoch-change work until ctx ends: shard workers, the
// sync-done report and the drop of retained shards.
func (m *migration) loop(ctx context.Context) {
	defer func() {
		m.workers.Wait()
		m.mu.Lock()
		m.stopped = true
		m.mu.Unlock()
		m.flush()
	}()
	t := time.NewTicker(migrationTick)
	defer t.Stop()
	for {
		m.step(ctx)
		select {
		case <-ctx.Done():
			return
		case <-m.kick:
		case <-t.C:
		}
	}
}

func (m *migration) step(ctx context.Context) {
	n := m.n
	m.dropRetained(ctx)
	m.mu.Lock()
	st := m.st.clone()
	var todo []int
	for s, g := range st.Gained {
		if !g.Complete {
			todo = append(todo, s)
		}
	}
	slices.Sort(todo)
	for _, s := range todo {
		if len(m.running) >= n.cfg.ShardSyncs {
			break
		}
		if m.running[s] {
			continue
		}
		m.running[s] = true
		m.workers.Add(1)
		go m.shardWorker(ctx, st.Epoch, s)
	}
	m.mu.Unlock()
	if len(todo) == 0 && !st.Reported && st.PlannedUnixMs != 0 {
		m.report(ctx, st.Epoch)
	}
}

// report sends EpochSyncDone for epoch, once every gained shard is complete.
func (m *migration) report(ctx context.Context, epoch uint32) {
	n := m.n
	if n.Epoch() != epoch || n.currentView() == nil || n.currentView().Index(n.id) < 0 {
		m.setReported(epoch) // not a member, or the chain moved on: nothing to report
		return
	}
	err := n.chain.EpochSyncDone(ctx, n.id, epoch)
	switch {
	case err == nil:
		n.log.Info("epoch sync done reported", "epoch", epoch, "shards", len(n.Shards()))
	case errors.Is(err, chainlink.ErrSyncDone), errors.Is(err, chainlink.ErrWrongEpoch), errors.Is(err, chainlink.ErrNotInCommittee):
		n.log.Debug("epoch sync done not needed", "epoch", epoch, "err", err)
	default:
		if ctx.Err() == nil {
			n.log.Warn("reporting epoch sync done", "epoch", epoch, "err", err)
		}
		return // retried at the next step
	}
	m.setReported(epoch)
}

func (m *migration) setReported(epoch uint32) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.st.Epoch == epoch && !m.st.Reported {
		m.st.Reported = true
		if err := m.saveLocked(); err != nil {
			m.n.log.Error("saving epoch-change state", "err", err)
		}
	}
}

// dropRetained deletes retained shards whose grace period is over.
func (m *migration) dropRetained(ctx context.Context) {
	n := m.n
	now := time.Now().UnixMilli()
	m.mu.Lock()
	var due []int
	for s, r := range m.st.Retained {
		if r.DropAfterUnixMs != 0 && now >= r.DropAfterUnixMs {
			due = append(due, s)
		}
	}
	m.mu.Unlock()
	slices.Sort(due)
	for _, s := range due {
		if n.holds(s) {
			continue // assigned again
		}
		ps, err := n.store.DropShard(ctx, s)
		if err != nil {
			if ctx.Err() == nil {
				n.log.Warn("dropping a lost shard", "shard", s, "err", err)
			}
			continue
		}
		n.stats.shardsDropped.Add(1)
		n.symbols.dropIf(func(k symbolKey) bool { return n.params.ShardOfPair(k.id, k.pair) == s })
		n.log.Info("dropped lost shard", "shard", s, "slivers", ps.Slivers, "bytes", ps.Bytes)
		n.freed(ps.Bytes, n.store.Usage().Total)
		m.mu.Lock()
		delete(m.st.Retained, s)
		if err := m.saveLocked(); err != nil {
			n.log.Error("saving epoch-change state", "err", err)
		}
		m.mu.Unlock()
	}
}

// update applies f to the progress of shard in epoch and persists it
// (within progressSaveEvery); false if the plan changed meanwhile.
func (m *migration) update(epoch uint32, shard int, f func(*shardSync)) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	g := m.st.Gained[shard]
	if m.st.Epoch != epoch || g == nil {
		return false
	}
	f(g)
	m.saveProgressLocked()
	return true
}

func (m *migration) entry(epoch uint32, shard int) (shardSync, time.Time, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	g := m.st.Gained[shard]
	if m.st.Epoch != epoch || g == nil {
		return shardSync{}, time.Time{}, false
	}
	return *g, time.UnixMilli(m.st.PlannedUnixMs), true
}

// shardWorker brings one gained shard to completion: sync from the
// previous owner, then recovery of whatever is still missing.
func (m *migration) shardWorker(ctx context.Context, epoch uint32, shard int) {
	defer m.workers.Done()
	defer func() {
		m.mu.Lock()
		delete(m.running, shard)
		m.mu.Unlock()
		m.signal()
	}()
	n := m.n
	if m.gate != nil {
		select {
		case <-m.gate:
		case <-ctx.Done():
			return
		}
	}
	g, planned, ok := m.entry(epoch, shard)
	if !ok {
		return
	}
	if g.Slivers > 0 {
		n.log.Info("resuming shard sync", "epoch", epoch, "shard", shard, "synced_slivers", g.Slivers,
			"primary_done", g.Streamed[codec.Primary], "secondary_done", g.Streamed[codec.Secondary])
	}
	if !g.Source.IsZero() && !g.SourceFailed {
		m.syncFromSource(ctx, epoch, shard, planned)
	}
	backoff := gapRecheck
	for ctx.Err() == nil {
		if _, _, ok := m.entry(epoch, shard); !ok {
			return
		}
		gaps, checked, err := n.shardGaps(ctx, shard)
		if err != nil {
			if ctx.Err() == nil {
				n.log.Warn("checking a gained shard", "shard", shard, "err", err)
			}
			sleep(ctx, backoff)
			continue
		}
		if len(gaps) == 0 {
			m.update(epoch, shard, func(g *shardSync) {
				g.Complete = true
				g.CompletedUnixMs = time.Now().UnixMilli()
			})
			n.stats.shardsMigrated.Add(1)
			g, _, _ := m.entry(epoch, shard)
			n.log.Info("gained shard complete", "epoch", epoch, "shard", shard, "blobs", checked,
				"synced_slivers", g.Slivers, "synced_bytes", g.Bytes, "metadata_bytes", g.MetadataBytes,
				"recovered_slivers", g.Recovered, "took", time.Since(planned).Round(time.Millisecond))
			return
		}
		queued := 0
		for _, gap := range gaps {
			if !n.recq.has(gap.Blob) {
				n.recq.add(gap.Blob, 0)
				queued++
			}
		}
		if queued > 0 {
			m.update(epoch, shard, func(g *shardSync) { g.Recovered += int64(queued) })
			n.log.Info("recovering what the shard sync did not deliver", "shard", shard, "blobs", queued)
		}
		sleep(ctx, backoff)
		backoff = min(2*backoff, 5*time.Second)
	}
}

// syncFromSource pulls both sliver types of shard from the source until it
// has nothing more, it lies, or it stays unreachable past the fallback
// wait.
func (m *migration) syncFromSource(ctx context.Context, epoch uint32, shard int, planned time.Time) {
	n := m.n
	deadline := planned.Add(time.Duration(n.cfg.ShardSyncFallback))
	g, _, _ := m.entry(epoch, shard)
	if m.isLiar(g.Source) {
		m.update(epoch, shard, func(g *shardSync) { g.SourceFailed = true })
		return
	}
	src, err := n.chain.Node(ctx, g.Source)
	if err != nil {
		n.log.Warn("shard sync source unknown to the chain; recovering instead", "shard", shard, "source", g.Source, "err", err)
		m.update(epoch, shard, func(g *shardSync) { g.SourceFailed = true })
		return
	}
	pid, err := peer.Decode(src.PeerID)
	if err != nil {
		m.update(epoch, shard, func(g *shardSync) { g.SourceFailed = true })
		return
	}
	addPeerAddrs(n.host.Peerstore(), pid, src.Addresses)
	log := n.log.With("shard", shard, "source", src.ID, "source_name", src.Name, "source_peer", pid)
	for _, t := range []codec.SliverType{codec.Primary, codec.Secondary} {
		backoff := syncRetryBackoff
		for ctx.Err() == nil {
			g, _, ok := m.entry(epoch, shard)
			if !ok || g.SourceFailed {
				return
			}
			if g.Streamed[t] {
				break
			}
			if n.Epoch() != epoch {
				return // a newer change will plan again
			}
			req := p2p.NewSyncRequest(n.pk, codec.SyncShardRequest{
				Shard: uint16(shard), Type: t, Start: g.Next[t], Count: syncBatchSlivers, Epoch: epoch,
			}, func(msg []byte) [codec.BLSSignatureSize]byte { return n.key.Sign(msg) })
			batch, err := n.client.SyncShard(ctx, pid, req)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				if time.Now().After(deadline) {
					log.Warn("previous owner unavailable past the fallback wait; recovering the shard instead", "err", err)
					m.update(epoch, shard, func(g *shardSync) { g.SourceFailed = true })
					return
				}
				log.Debug("shard sync batch failed; retrying", "type", t, "err", err, "retry_in", backoff)
				sleep(ctx, backoff)
				// The source may be back (restarted, perhaps elsewhere).
				if nd, err := n.chain.Node(ctx, g.Source); err == nil {
					addPeerAddrs(n.host.Peerstore(), pid, nd.Addresses)
				}
				n.host.ForgetDialFailures(pid)
				backoff = min(2*backoff, syncRetryBackoffMax)
				continue
			}
			backoff = syncRetryBackoff
			stored, bytes, metaBytes, lie := n.storeSynced(ctx, pid, shard, t, batch.Items)
			nextID, more := g.Next[t], !batch.Done
			if len(batch.Items) > 0 {
				nextID = batch.Items[len(batch.Items)-1].ID
				if !incrementID(&nextID) {
					more = false
				}
			} else if more {
				more = false // a server that sends nothing and is not done cannot be followed
			}
			m.update(epoch, shard, func(g *shardSync) {
				g.Slivers += int64(stored)
				g.Bytes += bytes
				g.MetadataBytes += metaBytes
				g.Next[t] = nextID
				g.Streamed[t] = !more
				if lie != nil {
					g.SourceFailed = true
				}
			})
			n.stats.syncSlivers.Add(int64(stored))
			n.stats.syncBytes.Add(bytes)
			if lie != nil {
				m.addLiar(epoch, g.Source)
				n.stats.syncLiars.Add(1)
				log.Error("previous owner served a sliver that fails verification; not asking it again this epoch, recovering the rest", "type", t, "err", lie)
				return
			}
		}
	}
}

func (m *migration) isLiar(id chainlink.ID) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Contains(m.st.Liars, id)
}

func (m *migration) addLiar(epoch uint32, id chainlink.ID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.st.Epoch == epoch && !slices.Contains(m.st.Liars, id) {
		m.st.Liars = append(m.st.Liars, id)
		if err := m.saveLocked(); err != nil {
			m.n.log.Error("saving epoch-change state", "err", err)
		}
	}
}

// storeSynced verifies and stores the slivers of one sync batch. It
// returns how many it stored, their bytes, the metadata bytes fetched, and
// a non-nil error if the source served something that fails verification.
func (n *Node) storeSynced(ctx context.Context, source peer.ID, shard int, t codec.SliverType, items []p2p.SyncItem) (stored int, bytes, metaBytes int64, lie error) {
	type job struct {
		item  p2p.SyncItem
		pair  int
		meta  verifiedMeta
		merr  error
		mread int64
	}
	jobs := make([]*job, 0, len(items))
	for _, it := range items {
		st, err := n.store.State(ctx, it.ID)
		if err != nil || !st.Registered || !st.Certified || st.Gone(uint64(n.Epoch())) {
			continue // not a blob this node knows to keep
		}
		jobs = append(jobs, &job{item: it, pair: n.params.PairOfShard(it.ID, shard)})
	}
	// Metadata this node lacks (it is new to the blob), a few at a time.
	sem := make(chan struct{}, maxConcurrentMetaFetch)
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			j.meta, j.mread, j.merr = n.metadataFrom(ctx, j.item.ID, source)
		}()
	}
	wg.Wait()
	for _, j := range jobs {
		metaBytes += j.mread
		if j.merr != nil {
			continue // recovered later by the gap check
		}
		sl, err := codec.UnmarshalSliver(j.item.Data, t)
		if err != nil {
			return stored, bytes, metaBytes, fmt.Errorf("%s sliver of blob %s: %w", t, j.item.ID, err)
		}
		if want := n.params.SliverIndex(t, j.pair); sl.Index != want {
			return stored, bytes, metaBytes, fmt.Errorf("%s sliver of blob %s has index %d, want %d", t, j.item.ID, sl.Index, want)
		}
		if errs := codec.VerifySlivers(n.params, j.meta.m, []codec.Sliver{sl}); errs[0] != nil {
			return stored, bytes, metaBytes, fmt.Errorf("%s sliver of blob %s: %w", t, j.item.ID, errs[0])
		}
		if err := n.store.PutSliver(ctx, j.item.ID, j.pair, t, j.item.Data); err != nil {
			if !errors.Is(err, store.ErrBlobGone) {
				n.log.Warn("storing a synced sliver", "blob", j.item.ID, "err", err)
			}
			continue
		}
		stored++
		bytes += int64(len(j.item.Data))
	}
	return stored, bytes, metaBytes, nil
}

// metadataFrom returns a blob's verified metadata from the store, else
// fetches it from peer first, then from the committees' members.
func (n *Node) metadataFrom(ctx context.Context, id codec.BlobID, first peer.ID) (verifiedMeta, int64, error) {
	if vm, err := n.metadata(ctx, id); err == nil {
		return vm, 0, nil
	}
	var fetched int64
	if first != "" {
		raw, err := n.client.GetMetadata(ctx, first, id)
		fetched += int64(len(raw))
		if err == nil {
			if vm, err := n.keepMetadata(ctx, id, raw); err == nil {
				return vm, fetched, nil
			}
			n.log.Warn("peer served bad metadata", "peer", first, "blob", id)
		}
	}
	var views []*committeeView
	if v := n.currentView(); v != nil {
		views = append(views, v)
	}
	if pv := n.previousView(ctx); pv != nil {
		views = append(views, pv)
	}
	for _, v := range views {
		vm, b, err := n.fetchMetadata(ctx, v, id)
		fetched += b
		if err == nil {
			return vm, fetched, nil
		}
	}
	return verifiedMeta{}, fetched, fmt.Errorf("%w: no peer served valid metadata for %s", ErrUnavailable, id)
}

// keepMetadata verifies fetched metadata against the blob ID and stores it.
func (n *Node) keepMetadata(ctx context.Context, id codec.BlobID, raw []byte) (verifiedMeta, error) {
	gotID, m, err := codec.UnmarshalMetadataWithID(raw)
	if err != nil || gotID != id || len(m.Hashes) != n.params.NShards || codec.VerifyMetadata(n.params, id, &m) != nil {
		return verifiedMeta{}, fmt.Errorf("%w: metadata of %s fails verification", errLied, id)
	}
	if err := n.store.PutMetadata(ctx, id, raw); err != nil {
		return verifiedMeta{}, err
	}
	vm := verifiedMeta{m: &m, raw: raw}
	n.meta.put(id, vm, 1)
	return vm, nil
}

// shardGaps lists the certified, unexpired blobs whose slivers on shard the
// store lacks, and how many such blobs it checked.
func (n *Node) shardGaps(ctx context.Context, shard int) ([]store.ShardGap, int, error) {
	epoch := uint64(n.Epoch())
	keep := func(_ codec.BlobID, st store.BlobState) bool { return st.Certified && !st.Gone(epoch) }
	var gaps []store.ShardGap
	checked := 0
	var from codec.BlobID
	for {
		b, err := n.store.ShardGaps(ctx, shard, from, gapCheckBatch, keep)
		if err != nil {
			return nil, checked, err
		}
		gaps = append(gaps, b.Gaps...)
		checked += b.Checked
		if b.Done {
			return gaps, checked, nil
		}
		from = b.Next
	}
}

// addPeerAddrs adds a peer's registered addresses to a peerstore.
func addPeerAddrs(ps peerstore.Peerstore, p peer.ID, addrs []string) {
	for _, a := range addrs {
		if addr, err := ma.NewMultiaddr(a); err == nil {
			ps.AddAddrs(p, []ma.Multiaddr{addr}, time.Hour)
		}
	}
}

// incrementID adds one to id as a big-endian number; false on overflow.
func incrementID(id *codec.BlobID) bool {
	for i := len(id) - 1; i >= 0; i-- {
		id[i]++
		if id[i] != 0 {
			return true
		}
	}
	return false
}

// ShardSyncStatus is the progress of one gained shard, as a status report
// shows it.
type ShardSyncStatus struct {
	Shard int `json:"shard"`
	shardSync
}

// RetainedShardStatus is a lost shard still served.
type RetainedShardStatus struct {
	Shard int `json:"shard"`
	retainedShard
}

func (s migrationState) gainedList() []ShardSyncStatus {
	out := make([]ShardSyncStatus, 0, len(s.Gained))
	for k, g := range s.Gained {
		out = append(out, ShardSyncStatus{Shard: k, shardSync: *g})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Shard < out[j].Shard })
	return out
}

func (s migrationState) retainedList() []RetainedShardStatus {
	out := make([]RetainedShardStatus, 0, len(s.Retained))
	for k, r := range s.Retained {
		out = append(out, RetainedShardStatus{Shard: k, retainedShard: *r})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Shard < out[j].Shard })
	return out
}

// resume picks up the persisted state at start: a data directory from
// before epoch changes were planned takes its store's shards as the plan of
// the current epoch, retained shards of a change that finished while the
// node was down get their grace period, and the DHT learns what is held.
func (m *migration) resume(ctx context.Context, cursor uint64) error {
	n := m.n
	st, err := n.chain.EpochState(ctx)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrChain, err)
	}
	m.mu.Lock()
	changed := false
	if m.st.PlannedUnixMs == 0 && cursor > 0 && len(n.store.Shards()) > 0 {
		m.st.Epoch, m.st.PlannedUnixMs, m.st.Reported = n.Epoch(), time.Now().UnixMilli(), true
		changed = true
	}
	if st.Phase == chainlink.PhaseChangeDone {
		drop := time.Now().Add(time.Duration(n.cfg.ShardDropGrace)).UnixMilli()
		for _, r := range m.st.Retained {
			if r.LostAt <= st.Epoch && r.DropAfterUnixMs == 0 {
				r.DropAfterUnixMs = drop
				changed = true
			}
		}
	}
	var err2 error
	if changed {
		err2 = m.saveLocked()
	}
	planned := m.st.Epoch
	m.mu.Unlock()
	if err2 != nil {
		return err2
	}
	// A crash between persisting a plan and taking it up leaves the store
	// on the old shards: the plan's epoch's committee says which are ours.
	held := n.store.Shards()
	if v := n.currentView(); v != nil && v.Epoch == planned {
		held = n.assignedIn(v)
	}
	return m.takeUp(ctx, held)
}
