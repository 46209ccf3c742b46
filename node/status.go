package node

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"runtime/debug"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"floe/chainlink"
	"floe/codec"
	"floe/p2p"
)

// NodeStatus is what a storage node reports about itself over the
// node-status protocol: its epoch and shards, the progress of its epoch
// change, what it holds against what it is assigned, and its counters.
type NodeStatus struct {
	NodeID chainlink.ID `json:"node_id"`
	Name   string       `json:"name"`
	PeerID string       `json:"peer_id"`
	Epoch  uint32       `json:"epoch"`
	// Shards are the shards the committee of Epoch assigns the node.
	Shards []int `json:"shards"`
	// ChangeEpoch is the epoch of the last change the node planned;
	// SyncReported whether it reported EpochSyncDone for it.
	ChangeEpoch  uint32 `json:"change_epoch"`
	SyncReported bool   `json:"sync_reported"`
	// Gained are shards gained and their sync progress; Syncing counts
	// those not complete. Retained are lost shards still served.
	Gained   []ShardSyncStatus     `json:"gained,omitempty"`
	Syncing  int                   `json:"syncing"`
	Retained []RetainedShardStatus `json:"retained,omitempty"`
	// SliversAssigned is both slivers of every certified, unexpired blob
	// the node knows on every assigned shard; SliversHeld how many of those
	// it stores.
	SliversAssigned int64 `json:"slivers_assigned"`
	SliversHeld     int64 `json:"slivers_held"`
	// StoredBytes is the payload the store holds, SpaceLimit its cap (0:
	// none), DiskBytes what the store occupies on disk (its database's
	// logs and not yet reclaimed deletions included).
	StoredBytes int64          `json:"stored_bytes"`
	SpaceLimit  int64          `json:"space_limit,omitempty"`
	DiskBytes   int64          `json:"disk_bytes"`
	Recovery    recoveryCounts `json:"recovery"`
	Stats       Stats          `json:"stats"`
	// Version is the node's build (Version).
	Version string `json:"version,omitempty"`
	// RestURL is where the node serves the Walrus REST API, and
	// NetworkPublicKey (base64 of the compressed P-256 key) the key its
	// certificate is for, which clients pin; empty without rest_listen.
	RestURL          string `json:"rest_url,omitempty"`
	NetworkPublicKey []byte `json:"network_public_key,omitempty"`
}

// Version is the floe build this process runs: the main module's version
// as the Go toolchain stamped it (a tag, or a pseudo-version naming the
// commit, "+dirty" with uncommitted changes), else "(devel)" with the VCS
// revision when known.
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	if v != "" && v != "(devel)" {
		return v
	}
	v = "(devel)"
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && s.Value != "" {
			v += " " + s.Value[:min(12, len(s.Value))]
		}
	}
	return v
}

// Status computes the node's status report.
func (n *Node) Status(ctx context.Context) (NodeStatus, error) {
	ms := n.mig.snapshot()
	st := NodeStatus{
		NodeID: n.id, Name: n.cfg.Name, PeerID: n.host.ID().String(), Epoch: n.Epoch(), Shards: n.Shards(),
		ChangeEpoch: ms.Epoch, SyncReported: ms.Reported, Gained: ms.gainedList(), Retained: ms.retainedList(),
		Recovery: n.recq.counts(), Stats: n.Stats(), Version: Version(),
		RestURL: n.RESTURL(), NetworkPublicKey: n.NetworkPublicKey(),
	}
	u := n.store.Usage()
	st.StoredBytes, st.SpaceLimit, st.DiskBytes = u.Total, u.Limit, u.Disk
	for _, g := range st.Gained {
		if !g.Complete {
			st.Syncing++
		}
	}
	for _, s := range st.Shards {
		gaps, checked, err := n.shardGaps(ctx, s)
		if err != nil {
			return st, err
		}
		st.SliversAssigned += 2 * int64(checked)
		st.SliversHeld += 2 * int64(checked)
		for _, g := range gaps {
			if g.Primary {
				st.SliversHeld--
			}
			if g.Second {
				st.SliversHeld--
			}
		}
	}
	return st, nil
}

func (h *handler) NodeStatus(ctx context.Context, _ peer.ID) ([]byte, error) {
	st, err := h.n.Status(ctx)
	if err != nil {
		return nil, storeErr(err)
	}
	return json.Marshal(st)
}

// NodeStatus asks a storage node for its status report.
func (c *Client) NodeStatus(ctx context.Context, pi peer.AddrInfo) (NodeStatus, error) {
	var st NodeStatus
	c.host.Peerstore().AddAddrs(pi.ID, pi.Addrs, time.Hour)
	b, err := c.p2p.NodeStatus(ctx, pi.ID)
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("%w: node status of %s: %v", p2p.ErrProtocol, pi.ID, err)
	}
	return st, nil
}

// MemberStatus is one committee member's status report, or why there is
// none.
type MemberStatus struct {
	NodeID chainlink.ID `json:"node_id"`
	Status *NodeStatus  `json:"status,omitempty"`
	Err    string       `json:"error,omitempty"`
}

// CommitteeStatus asks every member of the current committee, and of the
// previous one (members that left but may still serve), for its status.
func (c *Client) CommitteeStatus(ctx context.Context) ([]MemberStatus, error) {
	st, err := c.chain.EpochState(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrChain, err)
	}
	var views []*committeeView
	if v, err := c.comms.get(ctx, st.Epoch); err == nil {
		views = append(views, v)
	}
	if st.Epoch > 0 {
		if v, err := c.comms.get(ctx, st.Epoch-1); err == nil {
			views = append(views, v)
		}
	}
	seen := map[chainlink.ID]bool{}
	var out []MemberStatus
	for _, v := range views {
		for i, m := range v.Members {
			if seen[m.NodeID] {
				continue
			}
			seen[m.NodeID] = true
			ms := MemberStatus{NodeID: m.NodeID}
			if v.peers[i].ID == "" {
				ms.Err = "no valid peer ID"
			} else if s, err := c.NodeStatus(ctx, v.peers[i]); err != nil {
				ms.Err = err.Error()
			} else {
				ms.Status = &s
			}
			out = append(out, ms)
		}
	}
	return out, nil
}

// auditRetries is how often Audit asks again after a stream failure.
const auditRetries = 3

// AuditReport says whether a member serves what it is assigned.
type AuditReport struct {
	NodeID chainlink.ID `json:"node_id"`
	Epoch  uint32       `json:"epoch"`
	Blobs  int          `json:"blobs"`
	// Checked counts the slivers asked for (both slivers of every pair
	// the member's shards hold for each blob); Served those that arrived
	// and verified against the blob's metadata.
	Checked int `json:"checked"`
	Served  int `json:"served"`
	// Missing and Invalid name what was absent or failed verification.
	Missing []SliverFault `json:"missing,omitempty"`
	Invalid []SliverFault `json:"invalid,omitempty"`
}

// SliverFault names one sliver of one blob.
type SliverFault struct {
	Blob   codec.BlobID     `json:"blob"`
	Shard  int              `json:"shard"`
	Type   codec.SliverType `json:"type"`
	Reason string           `json:"reason,omitempty"`
}

// OK reports whether the member served everything and all of it verified.
func (r AuditReport) OK() bool { return r.Checked == r.Served }

// Audit asks a member of the committee of epoch (0: the current one) for
// every sliver its shards there hold of each blob, and verifies each
// against the blob's metadata (read from other members and verified
// against the blob ID). It is how an operator or a test checks, over the
// network, that a node holds what it must.
func (c *Client) Audit(ctx context.Context, node chainlink.ID, epoch uint32, blobs []codec.BlobID) (AuditReport, error) {
	rep := AuditReport{NodeID: node}
	if epoch == 0 {
		st, err := c.chain.EpochState(ctx)
		if err != nil {
			return rep, fmt.Errorf("%w: %w", ErrChain, err)
		}
		epoch = st.Epoch
	}
	v, err := c.comms.get(ctx, epoch)
	if err != nil {
		return rep, err
	}
	rep.Epoch = v.Epoch
	i := v.Index(node)
	if i < 0 {
		return rep, fmt.Errorf("%w: node %s is not in committee %d", ErrInvalidOptions, node, v.Epoch)
	}
	pid, err := c.connect(v, i)
	if err != nil {
		return rep, err
	}
	var prev *committeeView
	if v.Epoch > 0 {
		prev, _ = c.comms.get(ctx, v.Epoch-1)
	}
	for _, id := range blobs {
		rep.Blobs++
		// Metadata from anyone but the audited node.
		var m *codec.Metadata
		var lastErr error
		for _, cv := range []*committeeView{v, prev} {
			if cv == nil || m != nil {
				continue
			}
			for _, j := range rand.Perm(len(cv.Members)) {
				if cv.Members[j].NodeID == node {
					continue
				}
				if m, lastErr = c.metadataFrom(ctx, cv, j, id); m != nil {
					break
				}
			}
		}
		if m == nil {
			return rep, fmt.Errorf("%w: no metadata for %s to audit against: %v", ErrUnavailable, id, lastErr)
		}
		shards := v.Members[i].Shards
		refs := make([]p2p.SliverRef, 0, 2*len(shards))
		for _, s := range shards {
			pair := uint16(v.params.PairOfShard(id, int(s)))
			refs = append(refs, p2p.SliverRef{Pair: pair, Type: codec.Primary}, p2p.SliverRef{Pair: pair, Type: codec.Secondary})
		}
		rep.Checked += len(refs)
		fault := func(r p2p.SliverRef, reason string) SliverFault {
			return SliverFault{Blob: id, Shard: v.params.ShardOfPair(id, int(r.Pair)), Type: r.Type, Reason: reason}
		}
		results, err := c.p2p.GetSlivers(ctx, pid, id, refs)
		for try := 0; err != nil && try < auditRetries && ctx.Err() == nil; try++ {
			// The audited node may have just restarted: forget failed
			// dials and try again with its current addresses.
			sleep(ctx, time.Duration(try+1)*200*time.Millisecond)
			if nd, nerr := c.chain.Node(ctx, node); nerr == nil {
				addPeerAddrs(c.host.Peerstore(), pid, nd.Addresses)
			}
			c.host.ForgetDialFailures(pid)
			results, err = c.p2p.GetSlivers(ctx, pid, id, refs)
		}
		if err != nil {
			for _, r := range refs {
				rep.Missing = append(rep.Missing, fault(r, err.Error()))
			}
			continue
		}
		for j, r := range results {
			if r.Err != nil {
				rep.Missing = append(rep.Missing, fault(refs[j], r.Err.Error()))
				continue
			}
			sl, err := codec.UnmarshalSliver(r.Data, refs[j].Type)
			if err == nil && sl.Index != v.params.SliverIndex(refs[j].Type, int(refs[j].Pair)) {
				err = fmt.Errorf("index %d", sl.Index)
			}
			if err == nil {
				err = codec.VerifySlivers(v.params, m, []codec.Sliver{sl})[0]
			}
			if err != nil {
				rep.Invalid = append(rep.Invalid, fault(refs[j], err.Error()))
				continue
			}
			rep.Served++
		}
	}
	return rep, nil
}
