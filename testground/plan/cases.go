package plan

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/multiformats/go-multiaddr"

	"floe/chainlink"
	"floe/chainlink/account"
	"floe/chainlink/bls"
	"floe/codec"
	"floe/node"
	"floe/p2p"
	"floe/p2p/host"
)

// Who is a node instance's announcement on topic "who" (once, after its
// nodes registered).
type Who struct {
	Seq       int64    `json:"seq"`
	Group     string   `json:"group"`
	NodeIDs   []string `json:"node_ids"`
	Byzantine string   `json:"byzantine,omitempty"`
	Flaky     bool     `json:"flaky,omitempty"`
	Spare     bool     `json:"spare,omitempty"`
}

func (ns *Nodes) announce(ctx context.Context, flaky, spare bool) error {
	w := Who{Seq: ns.e.Seq, Group: ns.e.RE.TestGroupID, Byzantine: ns.byz, Flaky: flaky, Spare: spare}
	for _, n := range ns.nodes {
		if n != nil {
			w.NodeIDs = append(w.NodeIDs, n.ID().String())
		}
	}
	return publish(ctx, ns.e, "who", w)
}

func whoAll(ctx context.Context, e *Env) ([]Who, error) {
	return collect[Who](ctx, e, "who", e.RE.TestInstanceCount-1)
}

// blob makes size pseudo-random bytes (seeded: the same run stores the
// same blobs).
func blob(size int64, seed uint64) []byte {
	b := make([]byte, size)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16), 0xf1, 0x0e})
	_, _ = r.Read(b)
	return b
}

// nodeMain is the node role of store-read, scale and byzantine: start,
// announce, follow the steps.
func nodeMain(ctx context.Context, e *Env) error {
	ns, err := startNodes(ctx, e, e.P.String("byzantine", ""))
	if err != nil {
		return err
	}
	defer ns.Close()
	if !e.Restart {
		if err := ns.announce(ctx, false, false); err != nil {
			return err
		}
	}
	return ns.serve(ctx)
}

// timedStore stores data and records store_ms and the store's phases.
func (c *Client) timedStore(ctx context.Context, e *Env, data []byte, tags ...string) (*node.StoreResult, error) {
	t0 := time.Now()
	res, err := c.Writer.Store(ctx, data, node.StoreOptions{Epochs: uint32(e.P.Int("epochs_ahead", 5))})
	if err != nil {
		return nil, fmt.Errorf("store of %d bytes: %w", len(data), err)
	}
	e.Record("store_ms", ms(time.Since(t0)), tags...)
	for ph, d := range res.Phases {
		e.Record("store_"+ph+"_ms", ms(d), tags...)
	}
	return res, nil
}

// timedRead reads id, checks it against want and records read_ms.
func (c *Client) timedRead(ctx context.Context, e *Env, id codec.BlobID, want []byte, tags ...string) (*node.ReadResult, error) {
	t0 := time.Now()
	res, err := c.Reader.Read(ctx, id, node.ReadOptions{})
	if err != nil {
		return nil, fmt.Errorf("read of %s: %w", id, err)
	}
	e.Record("read_ms", ms(time.Since(t0)), tags...)
	if !bytes.Equal(res.Data, want) {
		return nil, fmt.Errorf("read of %s: %d bytes differ from the %d stored", id, len(res.Data), len(want))
	}
	return res, nil
}

// StoreRead (cases store-read and scale) stores and reads back blobs of
// each size in sizes, repeats times each, recording store_ms, read_ms,
// the store's phases and the bytes sent and received per storage node
// and by the client, tagged with the size.
//
// Parameters: sizes (list of sizes, e.g. "1KiB,1MiB,64MiB"), repeats,
// n_shards, transport (tcp|quic|both), nodes_per_instance.
func StoreRead(ctx context.Context, e *Env) error {
	if e.Role != "client" {
		return nodeMain(ctx, e)
	}
	c, err := startClient(ctx, e)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := whoAll(ctx, e); err != nil {
		return err
	}
	instances := e.RE.TestInstanceCount - 1
	k := 0
	prev, err := c.step(ctx, e, k, instances)
	if err != nil {
		return err
	}
	k++
	reps := e.P.Int("repeats", 3)
	for si, size := range e.P.Sizes("sizes", "1KiB,1MiB") {
		tag := "size=" + FormatSize(size)
		for r := range reps {
			data := blob(size, uint64(si*1000+r))
			w0 := c.wbw.GetBandwidthTotals()
			res, err := c.timedStore(ctx, e, data, tag)
			if err != nil {
				return err
			}
			e.Record("client_sent_bytes", float64(c.wbw.GetBandwidthTotals().TotalOut-w0.TotalOut), tag, "op=store")
			cur, err := c.step(ctx, e, k, instances)
			if err != nil {
				return err
			}
			k++
			recordBytes(e, prev, cur, tag, "op=store")
			prev = cur
			r0 := c.rbw.GetBandwidthTotals()
			if _, err := c.timedRead(ctx, e, res.BlobID, data, tag); err != nil {
				return err
			}
			e.Record("client_recv_bytes", float64(c.rbw.GetBandwidthTotals().TotalIn-r0.TotalIn), tag, "op=read")
			if cur, err = c.step(ctx, e, k, instances); err != nil {
				return err
			}
			k++
			recordBytes(e, prev, cur, tag, "op=read")
			prev = cur
		}
		e.RE.RecordMessage("size %s: %d stores and reads done", FormatSize(size), reps)
	}
	return c.finish(ctx, e)
}

// Byzantine runs honest nodes beside a group whose byzantine parameter
// is corrupt (serves flipped bytes), withhold (serves nothing) or
// bad-confirm (signs wrong confirmations). The client stores and reads
// blobs blobs of size size, checks every read, audits every member and
// asks every member for a storage confirmation of every blob (checked as
// a publisher checks it), records read_ms, store_ms, the members caught
// (audit_failed_nodes, read_liars, store_failed_nodes, bad_confirm_nodes) and, with expect_detected > 0, fails
// unless at least that many Byzantine members were caught.
func Byzantine(ctx context.Context, e *Env) error {
	if e.Role != "client" {
		return nodeMain(ctx, e)
	}
	c, err := startClient(ctx, e)
	if err != nil {
		return err
	}
	defer c.Close()
	who, err := whoAll(ctx, e)
	if err != nil {
		return err
	}
	byz := map[string]string{}
	modes := map[string]bool{}
	for _, w := range who {
		for _, id := range w.NodeIDs {
			if w.Byzantine != "" {
				byz[id] = w.Byzantine
				modes[w.Byzantine] = true
			}
		}
	}
	mode := "none"
	for m := range modes {
		mode = m
	}
	tag := []string{"byz=" + mode, "f=" + strconv.Itoa(len(byz)), "size=" + FormatSize(e.P.Size("size", 1<<20))}
	var ids []codec.BlobID
	liars := map[string]bool{}
	storeFailed := map[string]bool{}
	for i := range e.P.Int("blobs", 3) {
		data := blob(e.P.Size("size", 1<<20), uint64(i))
		res, err := c.timedStore(ctx, e, data, tag...)
		if err != nil {
			return err
		}
		for _, f := range res.Failed {
			storeFailed[f.NodeID.String()] = true
		}
		rr, err := c.timedRead(ctx, e, res.BlobID, data, tag...)
		if err != nil {
			return err
		}
		for _, l := range rr.Liars {
			liars[l.NodeID.String()] = true
		}
		ids = append(ids, res.BlobID)
	}
	caught := map[string]bool{}
	for _, w := range who {
		for _, s := range w.NodeIDs {
			id, err := chainlink.ParseID(s)
			if err != nil {
				return err
			}
			rep, err := c.Reader.Audit(ctx, id, 0, ids)
			if err != nil {
				return fmt.Errorf("audit of %s: %w", s, err)
			}
			if !rep.OK() {
				caught[s] = true
				e.RE.RecordMessage("audit: %s (byzantine=%q) served %d of %d slivers (%d missing, %d invalid)",
					s, byz[s], rep.Served, rep.Checked, len(rep.Missing), len(rep.Invalid))
				if byz[s] == "" {
					return fmt.Errorf("honest node %s failed its audit: %d of %d", s, rep.Served, rep.Checked)
				}
			}
		}
	}
	// A member's own confirmation may come after the store's quorum (the
	// publisher then no longer waits for it), so each member is also asked
	// for a confirmation of every blob and it is checked as a publisher
	// checks it.
	badConfirm, err := c.confirmAudit(ctx, e, ids)
	if err != nil {
		return err
	}
	for s := range badConfirm {
		e.RE.RecordMessage("confirmation audit: %s (byzantine=%q) signed a bad confirmation", s, byz[s])
		if byz[s] == "" {
			return fmt.Errorf("honest node %s signed a bad confirmation", s)
		}
	}
	detected := 0
	for id := range byz {
		if caught[id] || liars[id] || storeFailed[id] || badConfirm[id] {
			detected++
		}
	}
	e.Record("bad_confirm_nodes", float64(len(badConfirm)), tag...)
	e.Record("audit_failed_nodes", float64(len(caught)), tag...)
	e.Record("read_liars", float64(len(liars)), tag...)
	e.Record("store_failed_nodes", float64(len(storeFailed)), tag...)
	e.Record("byzantine_detected", float64(detected), tag...)
	e.RE.RecordMessage("byzantine %s: %d of %d detected (audit %d, read liars %d, store failures %d, bad confirmations %d)",
		mode, detected, len(byz), len(caught), len(liars), len(storeFailed), len(badConfirm))
	if want := e.P.Int("expect_detected", 0); detected < want {
		return fmt.Errorf("%d Byzantine nodes detected, want at least %d", detected, want)
	}
	for id := range storeFailed {
		if byz[id] == "" {
			e.RE.RecordMessage("note: honest node %s missed a confirmation", id)
		}
	}
	return c.finish(ctx, e)
}

// Recovered is a flaky instance's report on topic "recovered".
type Recovered struct {
	Seq              int64   `json:"seq"`
	Ms               float64 `json:"ms"`
	RecoveryBytes    int64   `json:"recovery_bytes"`
	SliversRecovered int64   `json:"slivers_recovered"`
}

// Written is the client's list of the blobs stored while the flaky nodes
// were down (topic "written").
type Written struct {
	IDs []string `json:"ids"`
}

// Recovery has a group of flaky nodes (flaky=true) down while the client
// stores blobs blobs of size size, then back: they rebuild what they
// missed from recovery symbols. Down means a clean stop by the instance
// itself (down=close, the default: works under any runner) or a SIGKILL
// by the local runner's schedule (down=kill: the composition kills the
// group at state "writes-begin", enters "flaky-down" for it, and restarts
// it at "writes-done"). Records recovery_ms (restart to every sliver
// held), recovery_bytes and slivers_recovered per flaky node, read_ms of
// the blobs; every flaky node must then pass an audit.
func Recovery(ctx context.Context, e *Env) error {
	if e.Role != "client" {
		return recoveryNode(ctx, e)
	}
	c, err := startClient(ctx, e)
	if err != nil {
		return err
	}
	defer c.Close()
	who, err := whoAll(ctx, e)
	if err != nil {
		return err
	}
	var flaky []Who
	for _, w := range who {
		if w.Flaky {
			flaky = append(flaky, w)
		}
	}
	size := e.P.Size("size", 1<<20)
	tag := []string{"size=" + FormatSize(size), "down=" + e.P.String("down", "close"), "flaky=" + strconv.Itoa(len(flaky)*e.PerInstance)}
	if err := e.signal(ctx, "writes-begin"); err != nil {
		return err
	}
	if err := e.wait(ctx, "flaky-down", len(flaky)); err != nil {
		return err
	}
	var ids []codec.BlobID
	var datas [][]byte
	var w Written
	for i := range e.P.Int("blobs", 3) {
		data := blob(size, uint64(i))
		res, err := c.timedStore(ctx, e, data, tag...)
		if err != nil {
			return err
		}
		ids, datas = append(ids, res.BlobID), append(datas, data)
		w.IDs = append(w.IDs, res.BlobID.String())
	}
	if err := publish(ctx, e, "written", w); err != nil {
		return err
	}
	if err := e.signal(ctx, "writes-done"); err != nil {
		return err
	}
	recs, err := collect[Recovered](ctx, e, "recovered", len(flaky))
	if err != nil {
		return err
	}
	for _, r := range recs {
		e.Record("recovery_ms", r.Ms, tag...)
		e.Record("recovery_bytes", float64(r.RecoveryBytes)/float64(e.PerInstance), tag...)
		e.Record("slivers_recovered", float64(r.SliversRecovered)/float64(e.PerInstance), tag...)
	}
	for i, id := range ids {
		if _, err := c.timedRead(ctx, e, id, datas[i], tag...); err != nil {
			return err
		}
	}
	for _, f := range flaky {
		for _, s := range f.NodeIDs {
			id, err := chainlink.ParseID(s)
			if err != nil {
				return err
			}
			rep, err := c.Reader.Audit(ctx, id, 0, ids)
			if err != nil {
				return fmt.Errorf("audit of %s: %w", s, err)
			}
			if !rep.OK() {
				return fmt.Errorf("flaky node %s holds %d of %d slivers after recovery", s, rep.Served, rep.Checked)
			}
		}
	}
	return c.finish(ctx, e)
}

func recoveryNode(ctx context.Context, e *Env) error {
	flaky := e.P.Bool("flaky", false)
	ns, err := startNodes(ctx, e, "")
	if err != nil {
		return err
	}
	defer ns.Close()
	if !e.Restart {
		if err := ns.announce(ctx, flaky, false); err != nil {
			return err
		}
	}
	if !flaky {
		return ns.serve(ctx)
	}
	var t0 time.Time
	if e.Restart {
		t0 = time.Now() // restarted by the runner after "writes-done"
	} else {
		if err := e.wait(ctx, "writes-begin", 1); err != nil {
			return err
		}
		if e.P.String("down", "close") == "kill" {
			// The runner kills this instance now and restarts it later.
			return ns.serve(ctx)
		}
		for k := range ns.nodes {
			if err := ns.stop(k); err != nil {
				return err
			}
		}
		if err := e.signal(ctx, "flaky-down"); err != nil {
			return err
		}
		if err := e.wait(ctx, "writes-done", 1); err != nil {
			return err
		}
		t0 = time.Now()
		for k := range ns.nodes {
			if err := ns.start(ctx, k); err != nil {
				return err
			}
		}
	}
	ws, err := collect[Written](ctx, e, "written", 1)
	if err != nil {
		return err
	}
	want := int64(len(ws[0].IDs))
	for {
		done := true
		for _, n := range ns.nodes {
			st, err := n.Status(ctx)
			if err != nil || st.SliversAssigned < 2*want*int64(len(st.Shards)) || st.SliversHeld < st.SliversAssigned {
				done = false
			}
		}
		if done {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("recovery not done: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	r := Recovered{Seq: e.Seq, Ms: ms(time.Since(t0))}
	for _, n := range ns.nodes {
		s := n.Stats()
		r.RecoveryBytes += s.RecoveryBytes
		r.SliversRecovered += s.SliversRecovered
	}
	if err := publish(ctx, e, "recovered", r); err != nil {
		return err
	}
	return ns.serve(ctx)
}

// ChurnPlan is the client's plan for epoch change K (topic "churn-K"):
// which instances join (start their nodes, which enter the next
// committee) and which leave (withdraw all their stake).
type ChurnPlan struct {
	Join  []int64 `json:"join"`
	Leave []int64 `json:"leave"`
}

// Churn runs epochs epoch changes. Before each, the client picks join
// spare instances (group parameter spare=true: nodes not started until
// then) and leave active ones (they unstake everything and keep serving
// until their shards have moved). It stores one blob of size size before
// the churn and one during each change, and after each change records
// epoch_change_ms (advance to EpochChangeDone), shards_moved and read_ms
// of every blob stored so far (each read is checked).
func Churn(ctx context.Context, e *Env) error {
	if e.Role != "client" {
		return churnNode(ctx, e)
	}
	c, err := startClient(ctx, e)
	if err != nil {
		return err
	}
	defer c.Close()
	who, err := whoAll(ctx, e)
	if err != nil {
		return err
	}
	var active, spare []int64
	for _, w := range who {
		if w.Spare {
			spare = append(spare, w.Seq)
		} else {
			active = append(active, w.Seq)
		}
	}
	slices.Sort(active)
	slices.Sort(spare)
	running := len(active) * e.PerInstance
	size := e.P.Size("size", 256<<10)
	join, leave := e.P.Int("join", 1), e.P.Int("leave", 1)
	var ids []codec.BlobID
	var datas [][]byte
	storeOne := func(seed int, tags ...string) error {
		data := blob(size, uint64(seed))
		res, err := c.timedStore(ctx, e, data, tags...)
		if err != nil {
			return err
		}
		ids, datas = append(ids, res.BlobID), append(datas, data)
		return nil
	}
	base := []string{"size=" + FormatSize(size), "join=" + strconv.Itoa(join), "leave=" + strconv.Itoa(leave)}
	if err := storeOne(0, append(base, "phase=before")...); err != nil {
		return err
	}
	for k := 1; k <= e.P.Int("epochs", 3); k++ {
		var p ChurnPlan
		for range join {
			if len(spare) > 0 {
				p.Join = append(p.Join, spare[0])
				spare = spare[1:]
			}
		}
		// Leave: the oldest active instances, keeping a committee of at
		// least four members' worth.
		for range leave {
			if len(active) > 4 {
				p.Leave = append(p.Leave, active[0])
				active = active[1:]
			}
		}
		active = append(active, p.Join...)
		if err := publish(ctx, e, "churn-"+strconv.Itoa(k), p); err != nil {
			return err
		}
		if err := e.wait(ctx, "churn-"+strconv.Itoa(k)+"-acted", len(who)); err != nil {
			return err
		}
		running += len(p.Join) * e.PerInstance
		st0, err := c.Ledger.EpochState(ctx)
		if err != nil {
			return err
		}
		old, err := c.Ledger.Committee(ctx, st0.Epoch)
		if err != nil {
			return err
		}
		t0 := time.Now()
		st, err := c.Ledger.AdvanceEpoch(ctx)
		if err != nil {
			return err
		}
		epochTag := append(slices.Clone(base), "epoch="+strconv.Itoa(int(st.Epoch)))
		if err := storeOne(k, append(epochTag, "phase=during")...); err != nil {
			return err
		}
		if err := c.waitChangeDone(ctx); err != nil {
			return err
		}
		e.Record("epoch_change_ms", ms(time.Since(t0)), base...)
		if err := e.wait(ctx, "epoch-"+strconv.Itoa(int(st.Epoch)), running); err != nil {
			return err
		}
		cur, err := c.Ledger.Committee(ctx, st.Epoch)
		if err != nil {
			return err
		}
		e.Record("shards_moved", float64(shardsMoved(old, cur)), base...)
		e.Record("committee_size", float64(len(cur.Members)), base...)
		for i, id := range ids {
			if _, err := c.timedRead(ctx, e, id, datas[i], append(base, "phase=after")...); err != nil {
				return fmt.Errorf("epoch %d: %w", st.Epoch, err)
			}
		}
		e.RE.RecordMessage("epoch %d: joined %v, left %v, %d members, %d shards moved, %d blobs read back",
			st.Epoch, p.Join, p.Leave, len(cur.Members), shardsMoved(old, cur), len(ids))
	}
	return c.finish(ctx, e)
}

func shardsMoved(a, b *chainlink.Committee) int {
	owner := map[uint16]chainlink.ID{}
	for _, m := range a.Members {
		for _, s := range m.Shards {
			owner[uint16(s)] = m.NodeID
		}
	}
	moved := 0
	for _, m := range b.Members {
		for _, s := range m.Shards {
			if owner[uint16(s)] != m.NodeID {
				moved++
			}
		}
	}
	return moved
}

func churnNode(ctx context.Context, e *Env) error {
	spare := e.P.Bool("spare", false)
	var ns *Nodes
	var err error
	if !spare {
		if ns, err = startNodes(ctx, e, ""); err != nil {
			return err
		}
		defer ns.Close()
	} else if !e.Restart {
		// A spare counts as registered for the first committee's barrier
		// only once it joins; it enters "registered" now so the client's
		// wait is over all instances, and stays out of the committee
		// until it starts its nodes.
		for range e.PerInstance {
			if err := e.signal(ctx, "registered"); err != nil {
				return err
			}
			if err := e.signal(ctx, "epoch-1"); err != nil {
				return err
			}
		}
	}
	if !e.Restart {
		w := Who{Seq: e.Seq, Group: e.RE.TestGroupID, Spare: spare}
		if ns != nil {
			for _, n := range ns.nodes {
				w.NodeIDs = append(w.NodeIDs, n.ID().String())
			}
		}
		if err := publish(ctx, e, "who", w); err != nil {
			return err
		}
	}
	for k := 1; k <= e.P.Int("epochs", 3); k++ {
		plans, err := collect[ChurnPlan](ctx, e, "churn-"+strconv.Itoa(k), 1)
		if err != nil {
			return err
		}
		p := plans[0]
		switch {
		case slices.Contains(p.Join, e.Seq) && ns == nil:
			infos, err := collect[LedgerInfo](ctx, e, "ledger", 1)
			if err != nil {
				return err
			}
			ns = &Nodes{e: e, url: infos[0].URL}
			defer ns.Close()
			for j := range e.PerInstance {
				if err := ns.start(ctx, j); err != nil {
					return err
				}
			}
			go ns.watchEpochs(ctx)
		case slices.Contains(p.Leave, e.Seq) && ns != nil:
			if err := ns.unstakeAll(ctx); err != nil {
				return err
			}
		}
		if err := e.signal(ctx, "churn-"+strconv.Itoa(k)+"-acted"); err != nil {
			return err
		}
	}
	return e.wait(ctx, "done", 1)
}

// unstakeAll withdraws each node's own stake, signed by its owner key.
func (ns *Nodes) unstakeAll(ctx context.Context) error {
	for k, n := range ns.nodes {
		if n == nil {
			continue
		}
		key, _, err := account.LoadOrCreate(ns.cfgs[k].DataDir + "/" + node.OwnerKeyFile)
		if err != nil {
			return err
		}
		ch := chainlink.NewClient(ns.url, nil, chainlink.ClientAccountKey(key))
		if _, err := ch.Unstake(ctx, ns.cfgs[k].Owner, n.ID(), ns.cfgs[k].Stake); err != nil {
			return fmt.Errorf("unstake %s: %w", n.ID(), err)
		}
	}
	return nil
}

// confirmAudit asks every member of the current committee, from a host of
// its own, for a storage confirmation of each of ids (permanent blobs, as
// the plan stores them) and returns the members whose answer is missing,
// for another message, or not signed by their key.
func (c *Client) confirmAudit(ctx context.Context, e *Env, ids []codec.BlobID) (map[string]bool, error) {
	st, err := c.Ledger.EpochState(ctx)
	if err != nil {
		return nil, err
	}
	cm, err := c.Ledger.Committee(ctx, st.Epoch)
	if err != nil {
		return nil, err
	}
	params, err := codec.NewParams(st.NShards)
	if err != nil {
		return nil, err
	}
	hc := host.ClientConfig()
	transportConfig(&hc, e.P.String("transport", "tcp"))
	h, err := host.New(hc)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	pc, err := p2p.NewClient(h, p2p.DefaultClientConfig(Network, params))
	if err != nil {
		return nil, err
	}
	bad := map[string]bool{}
	for _, m := range cm.Members {
		pid, err := peer.Decode(m.PeerID)
		if err != nil {
			return nil, fmt.Errorf("member %s: peer ID: %w", m.NodeID, err)
		}
		var addrs []multiaddr.Multiaddr
		for _, a := range m.Addresses {
			if ma, err := multiaddr.NewMultiaddr(a); err == nil {
				addrs = append(addrs, ma)
			}
		}
		h.Peerstore().AddAddrs(pid, addrs, time.Hour)
		for _, id := range ids {
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			sm, err := pc.GetConfirmation(cctx, pid, p2p.ConfirmationRequest{ID: id})
			cancel()
			want := codec.StorageConfirmationMessage(st.Epoch, id, codec.BlobPersistence{})
			switch {
			case err != nil:
				e.RE.RecordMessage("confirmation audit: %s: %v", m.NodeID, err)
				bad[m.NodeID.String()] = true
			case !bytes.Equal(sm.Message, want):
				e.RE.RecordMessage("confirmation audit: %s confirmed another message", m.NodeID)
				bad[m.NodeID.String()] = true
			case bls.Verify(m.PublicKey, sm.Message, bls.Signature(sm.Signature)) != nil:
				bad[m.NodeID.String()] = true
			}
		}
	}
	return bad, nil
}
