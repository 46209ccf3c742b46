package plan

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/testground/sdk-go/network"
	"github.com/testground/sdk-go/runtime"
	"github.com/testground/sdk-go/sync"

	"floe/chainlink"
	"floe/chainlink/account"
	"floe/node"
	"floe/p2p/host"
)

// Environment variables the local runner adds to testground's contract.
const (
	// EnvIP is the instance's data-network address (shaped mode: its
	// namespace's address); unset means 127.0.0.1 (local:exec) or the
	// sidecar's data network (local:docker, cluster:k8s).
	EnvIP = "FLOE_TG_IP"
	// EnvRestart is "1" in an instance the runner restarted after a kill.
	EnvRestart = "FLOE_TG_RESTART"
	// EnvLink describes the shaped link ("lat=25ms,bw=20Mbit/s,...") for
	// the figures' tags; EnvCC is the kernel's TCP congestion control.
	EnvLink = "FLOE_TG_LINK"
	EnvCC   = "FLOE_TG_CC"
)

// Network is the floe network name of every plan run.
const Network = "tg"

// Env is what a case runs with.
type Env struct {
	RE      *runtime.RunEnv
	Sync    sync.Client
	P       *Params
	Role    string
	Seq     int64 // global sequence number, 1-based
	IP      string
	Restart bool
	Log     *slog.Logger
	// Tags are the run's parameters as figure tags: ",n=…,…".
	Tags string
	// Nodes is the number of storage nodes (instances × nodes_per_instance).
	Nodes int
	// PerInstance is nodes_per_instance.
	PerInstance int
}

// Case is one test case.
type Case func(ctx context.Context, e *Env) error

// Cases returns the plan's test cases by name.
func Cases() map[string]Case {
	return map[string]Case{
		"store-read": StoreRead,
		"scale":      StoreRead,
		"byzantine":  Byzantine,
		"recovery":   Recovery,
		"churn":      Churn,
	}
}

// Run adapts a case to sdk-go's invoker. It sets failed when the case
// returns an error, so that main can exit non-zero (sdk-go itself exits
// 0 after recording a failure).
func Run(c Case, failed *atomic.Bool) func(*runtime.RunEnv) error {
	return func(re *runtime.RunEnv) (err error) {
		defer func() {
			if err != nil {
				failed.Store(true)
			}
		}()
		p := NewParams(re.TestInstanceParams)
		timeout := p.Duration("timeout", 20*time.Minute)
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		sc, err := sync.NewBoundClient(ctx, re)
		if err != nil {
			return fmt.Errorf("sync service: %w", err)
		}
		defer sc.Close()
		e := &Env{RE: re, Sync: sc, P: p, Role: p.String("role", "node"), Restart: os.Getenv(EnvRestart) == "1"}
		e.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel(p.String("log_level", "warn"))}))
		e.IP = os.Getenv(EnvIP)
		if e.IP == "" {
			e.IP = "127.0.0.1"
			if re.TestSidecar {
				ip, err := network.NewClient(sc, re).GetDataNetworkIP()
				if err != nil {
					return err
				}
				e.IP = ip.String()
			}
		}
		e.PerInstance = p.Int("nodes_per_instance", 1)
		e.Nodes = (re.TestInstanceCount - 1) * e.PerInstance
		// The sequence number survives a restart in the instance's temp
		// directory (the runner keeps it).
		seqFile := filepath.Join(re.TestTempPath, "floe-tg.seq")
		if b, err := os.ReadFile(seqFile); err == nil && e.Restart {
			e.Seq, _ = strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		}
		if e.Seq == 0 {
			if e.Seq, err = sc.SignalEntry(ctx, "instance"); err != nil {
				return err
			}
			_ = os.WriteFile(seqFile, []byte(strconv.FormatInt(e.Seq, 10)), 0o644)
		}
		e.Tags = runTags(re, p, e.Nodes)
		if p.Err != nil {
			return p.Err
		}
		re.RecordMessage("floe %s: role %s, seq %d, ip %s, restart %v, tags %s", re.TestCase, e.Role, e.Seq, e.IP, e.Restart, e.Tags)
		return c(ctx, e)
	}
}

func logLevel(s string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return slog.LevelWarn
	}
	return l
}

// runTags are the tags every figure carries: nodes, shards, transport,
// the shaped link and the kernel's congestion control.
func runTags(re *runtime.RunEnv, p *Params, nodes int) string {
	tags := []string{
		"n=" + strconv.Itoa(nodes),
		"shards=" + strconv.Itoa(p.Int("n_shards", 100)),
		"transport=" + p.String("transport", "tcp"),
	}
	link := os.Getenv(EnvLink)
	if link == "" {
		link = "lat=0ms,bw=none"
	}
	tags = append(tags, link)
	cc := os.Getenv(EnvCC)
	if cc == "" {
		if b, err := os.ReadFile("/proc/sys/net/ipv4/tcp_congestion_control"); err == nil {
			cc = strings.TrimSpace(string(b))
		}
	}
	if cc != "" {
		tags = append(tags, "cc="+cc)
	}
	if ex := p.String("tags", ""); ex != "" {
		tags = append(tags, ex)
	}
	return "," + strings.Join(tags, ",")
}

// Record records a figure with the run's tags and extra ones ("size=1MiB").
func (e *Env) Record(name string, value float64, tags ...string) {
	full := name
	for _, t := range tags {
		full += "," + t
	}
	e.RE.R().RecordPoint(full+e.Tags, value)
}

// signal enters state.
func (e *Env) signal(ctx context.Context, state string) error {
	_, err := e.Sync.SignalEntry(ctx, sync.State(state))
	return err
}

// wait waits until state has target entries.
func (e *Env) wait(ctx context.Context, state string, target int) error {
	b, err := e.Sync.Barrier(ctx, sync.State(state), target)
	if err != nil {
		return err
	}
	select {
	case err := <-b.C:
		return err
	case <-ctx.Done():
		return fmt.Errorf("waiting for %s ×%d: %w", state, target, ctx.Err())
	}
}

// waitAny waits for the first of states to be entered once and returns its
// index. The barriers of the others are cancelled with ctx.
func (e *Env) waitAny(ctx context.Context, states ...string) (int, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type res struct {
		i   int
		err error
	}
	ch := make(chan res, len(states))
	for i, s := range states {
		b, err := e.Sync.Barrier(ctx, sync.State(s), 1)
		if err != nil {
			return -1, err
		}
		go func() {
			select {
			case err := <-b.C:
				ch <- res{i, err}
			case <-ctx.Done():
				ch <- res{i, ctx.Err()}
			}
		}()
	}
	r := <-ch
	return r.i, r.err
}

// publish publishes v on topic (a topic of one value type per name).
func publish[T any](ctx context.Context, e *Env, topic string, v T) error {
	_, err := e.Sync.Publish(ctx, sync.NewTopic(topic, v), v)
	return err
}

// collect reads n values from topic, then cancels the subscription (the
// topic must be quiet by then: each publisher sends one value).
func collect[T any](ctx context.Context, e *Env, topic string, n int) ([]T, error) {
	var zero T
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := make(chan T, n+1)
	sub, err := e.Sync.Subscribe(ctx, sync.NewTopic(topic, zero), ch)
	if err != nil {
		return nil, err
	}
	out := make([]T, 0, n)
	for len(out) < n {
		select {
		case v := <-ch:
			out = append(out, v)
		case err := <-sub.Done():
			if err == nil {
				err = errors.New("subscription ended")
			}
			return out, fmt.Errorf("topic %s: %w", topic, err)
		case <-ctx.Done():
			return out, fmt.Errorf("topic %s: %d of %d values: %w", topic, len(out), n, ctx.Err())
		}
	}
	return out, nil
}

// LedgerInfo is the client's announcement on topic "ledger".
type LedgerInfo struct {
	URL string `json:"url"`
}

// Counters are a node instance's byte counters (all its nodes), published
// on topic "bytes-K" after step K.
type Counters struct {
	Seq      int64 `json:"seq"`
	Sent     int64 `json:"sent"`
	Received int64 `json:"received"`
}

// --- the client role ---

// Client is the client role's ledger and light clients.
type Client struct {
	Ledger *chainlink.Ledger
	URL    string
	Writer *node.Client
	Reader *node.Client
	wbw    *byteCounter
	rbw    *byteCounter
	stop   func()
}

// startClient opens the ledger, serves it, announces it and waits for
// every node to register, then starts the first committee and waits for
// the nodes to take up their shards.
func startClient(ctx context.Context, e *Env) (*Client, error) {
	dir := filepath.Join(e.RE.TestTempPath, "ledger")
	opts := []chainlink.Option{
		chainlink.WithShards(e.P.Int("n_shards", 100)),
		chainlink.WithFaucet(chainlink.NoFaucetLimits),
		chainlink.WithLogger(e.Log.With("role", "ledger")),
	}
	if ip := net.ParseIP(e.IP); ip == nil || !ip.IsLoopback() {
		opts = append(opts, chainlink.WithAllowRemote())
	}
	l, err := chainlink.OpenDir(ctx, dir, opts...)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(e.IP, "0"))
	if err != nil {
		l.Close()
		return nil, err
	}
	sctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- chainlink.ServeListener(sctx, ln, l) }()
	c := &Client{Ledger: l, URL: "http://" + ln.Addr().String()}
	c.stop = func() { stop(); <-served; l.Close() }
	if err := publish(ctx, e, "ledger", LedgerInfo{URL: c.URL}); err != nil {
		c.Close()
		return nil, err
	}
	if err := e.wait(ctx, "registered", e.Nodes); err != nil {
		c.Close()
		return nil, err
	}
	st, err := l.AdvanceEpoch(ctx)
	if err != nil {
		c.Close()
		return nil, err
	}
	if err := e.wait(ctx, "epoch-"+strconv.Itoa(int(st.Epoch)), e.Nodes); err != nil {
		c.Close()
		return nil, err
	}
	mk := func(name string) (*node.Client, *byteCounter, error) {
		key, _, err := account.LoadOrCreate(filepath.Join(e.RE.TestTempPath, name+".key"))
		if err != nil {
			return nil, nil, err
		}
		cc := node.ClientConfig{Network: Network, Ledger: c.URL, Faucet: true, Timeout: node.Duration(e.P.Duration("op_timeout", 10*time.Minute))}
		cc.SetKey(key)
		bw := newByteCounter()
		hc := host.ClientConfig()
		hc.MaxMemory = 2 << 30
		hc.ExtraOptions = []libp2p.Option{libp2p.BandwidthReporter(bw)}
		transportConfig(&hc, e.P.String("transport", "tcp"))
		nc, err := node.NewClient(ctx, cc, node.WithClientChain(l), node.WithClientLogger(e.Log.With("role", name)), node.WithClientHostConfig(hc))
		return nc, bw, err
	}
	if c.Writer, c.wbw, err = mk("writer"); err != nil {
		c.Close()
		return nil, err
	}
	if c.Reader, c.rbw, err = mk("reader"); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Close stops the light clients and the ledger.
func (c *Client) Close() {
	if c.Writer != nil {
		c.Writer.Close()
	}
	if c.Reader != nil {
		c.Reader.Close()
	}
	c.stop()
}

// advance ends the epoch and waits for the live nodes (live of them) to
// take up their shards of the next.
func (c *Client) advance(ctx context.Context, e *Env, live int) (uint32, error) {
	st, err := c.Ledger.AdvanceEpoch(ctx)
	if err != nil {
		return 0, err
	}
	return st.Epoch, e.wait(ctx, "epoch-"+strconv.Itoa(int(st.Epoch)), live)
}

// waitChangeDone waits until the ledger's epoch change is done.
func (c *Client) waitChangeDone(ctx context.Context) error {
	for {
		st, err := c.Ledger.EpochState(ctx)
		if err != nil {
			return err
		}
		if st.Phase == chainlink.PhaseChangeDone {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("epoch %d change not done: %w", st.Epoch, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// step ends step k: it enters "step-k" and collects the node instances'
// counters; the caller records them.
func (c *Client) step(ctx context.Context, e *Env, k int, instances int) ([]Counters, error) {
	if err := e.signal(ctx, "step-"+strconv.Itoa(k)); err != nil {
		return nil, err
	}
	return collect[Counters](ctx, e, "bytes-"+strconv.Itoa(k), instances)
}

// finish enters "done".
func (c *Client) finish(ctx context.Context, e *Env) error { return e.signal(ctx, "done") }

// --- the node role ---

// Nodes are one instance's storage nodes.
type Nodes struct {
	e      *Env
	url    string
	byz    string
	nodes  []*node.Node
	bws    []*byteCounter
	cfgs   []node.Config
	epochs []uint32 // last epoch signalled, per node
}

// startNodes waits for the ledger's URL, starts the instance's nodes and
// enters "registered" for each (not again after a restart); a goroutine
// then enters "epoch-E" for each node that took up its shards of E.
func startNodes(ctx context.Context, e *Env, byz string) (*Nodes, error) {
	infos, err := collect[LedgerInfo](ctx, e, "ledger", 1)
	if err != nil {
		return nil, err
	}
	ns := &Nodes{e: e, url: infos[0].URL, byz: byz}
	for k := range e.PerInstance {
		if err := ns.start(ctx, k); err != nil {
			ns.Close()
			return nil, err
		}
		if !e.Restart {
			if err := e.signal(ctx, "registered"); err != nil {
				ns.Close()
				return nil, err
			}
		}
	}
	go ns.watchEpochs(ctx)
	return ns, nil
}

func transportConfig(hc *host.Config, transport string) {
	switch transport {
	case "quic":
		hc.DisableTCP = true
	case "tcp":
		hc.DisableQUIC = true
	}
}

func (ns *Nodes) listen() []string {
	switch ns.e.P.String("transport", "tcp") {
	case "quic":
		return []string{"/ip4/" + ns.e.IP + "/udp/0/quic-v1"}
	case "both":
		return []string{"/ip4/" + ns.e.IP + "/tcp/0", "/ip4/" + ns.e.IP + "/udp/0/quic-v1"}
	}
	return []string{"/ip4/" + ns.e.IP + "/tcp/0"}
}

// start starts (or restarts, from its directory) node k of the instance.
func (ns *Nodes) start(ctx context.Context, k int) error {
	e := ns.e
	for len(ns.nodes) <= k {
		ns.nodes = append(ns.nodes, nil)
		ns.bws = append(ns.bws, nil)
		ns.cfgs = append(ns.cfgs, node.Config{})
		ns.epochs = append(ns.epochs, 0)
	}
	dir := filepath.Join(e.RE.TestTempPath, "node-"+strconv.Itoa(k))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	owner, _, err := account.LoadOrCreate(filepath.Join(dir, node.OwnerKeyFile))
	if err != nil {
		return err
	}
	name := fmt.Sprintf("node-%d-%d", e.Seq, k)
	cfg := node.Config{
		Name: name, Network: Network, DataDir: dir, Listen: ns.listen(),
		Ledger: ns.url, Owner: chainlink.AccountID(owner), Stake: uint64(e.P.Int("stake", 1_000_000)), Faucet: true,
		NoSync: e.P.Bool("no_sync", true), StoreMemTable: e.P.Size("store_memtable", 4<<20),
		ShardSyncFallback: node.Duration(e.P.Duration("shard_sync_fallback", 10*time.Second)),
		ShardDropGrace:    node.Duration(e.P.Duration("shard_drop_grace", 30*time.Second)),
		Byzantine:         ns.byz,
	}
	if ns.cfgs[k].Listen != nil && cfg.Listen[0] == ns.cfgs[k].Listen[0] {
		cfg.Listen = ns.cfgs[k].Listen
	}
	bw := newByteCounter()
	hc := host.LoopbackConfig()
	hc.MaxMemory = e.P.Size("node_memory", 1<<30)
	transportConfig(&hc, e.P.String("transport", "tcp"))
	n, err := node.New(ctx, cfg, node.Options{
		Logger: e.Log.With("node", name), HostConfig: &hc,
		HostOptions: []libp2p.Option{libp2p.BandwidthReporter(bw)},
	})
	if err != nil {
		return fmt.Errorf("starting %s: %w", name, err)
	}
	ns.nodes[k], ns.bws[k], ns.cfgs[k] = n, bw, cfg
	return nil
}

// stop closes node k (a clean stop; the runner's SIGKILL is the other kind).
func (ns *Nodes) stop(k int) error {
	n := ns.nodes[k]
	ns.nodes[k] = nil
	if n == nil {
		return nil
	}
	return n.Close()
}

// watchEpochs enters "epoch-E" once per node when it has applied epoch E
// and planned its change (taken up its shards).
func (ns *Nodes) watchEpochs(ctx context.Context) {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for k, n := range ns.nodes {
			if n == nil {
				continue
			}
			st, err := n.Status(ctx)
			if err != nil {
				continue
			}
			e := min(st.Epoch, st.ChangeEpoch)
			if len(st.Shards) == 0 {
				e = st.Epoch
			}
			for ns.epochs[k] < e {
				ns.epochs[k]++
				_ = ns.e.signal(ctx, "epoch-"+strconv.Itoa(int(ns.epochs[k])))
			}
		}
	}
}

// counters sums the byte counters of the instance's nodes.
func (ns *Nodes) counters() Counters {
	c := Counters{Seq: ns.e.Seq}
	for _, bw := range ns.bws {
		if bw != nil {
			t := bw.GetBandwidthTotals()
			c.Sent += t.TotalOut
			c.Received += t.TotalIn
		}
	}
	return c
}

// serve follows the client's steps until "done": after each step it
// publishes the instance's counters.
func (ns *Nodes) serve(ctx context.Context) error {
	for k := 0; ; k++ {
		i, err := ns.e.waitAny(ctx, "step-"+strconv.Itoa(k), "done")
		if err != nil {
			return err
		}
		if i == 1 {
			return nil
		}
		if err := publish(ctx, ns.e, "bytes-"+strconv.Itoa(k), ns.counters()); err != nil {
			return err
		}
	}
}

// Close stops every node.
func (ns *Nodes) Close() {
	for k := range ns.nodes {
		_ = ns.stop(k)
	}
}

// --- figures ---

// recordBytes records, for a step, the median and maximum bytes sent and
// received per storage node (each instance's counters divided by its
// nodes) since the previous step, and the client's.
func recordBytes(e *Env, prev, cur []Counters, tags ...string) {
	before := map[int64]Counters{}
	for _, c := range prev {
		before[c.Seq] = c
	}
	var sent, recv []float64
	for _, c := range cur {
		b := before[c.Seq]
		sent = append(sent, float64(c.Sent-b.Sent)/float64(e.PerInstance))
		recv = append(recv, float64(c.Received-b.Received)/float64(e.PerInstance))
	}
	if len(sent) == 0 {
		return
	}
	e.Record("node_sent_bytes", median(sent), tags...)
	e.Record("node_recv_bytes", median(recv), tags...)
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
