package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"floe/chainlink"
	"floe/chainlink/account"
	"floe/codec"
	"floe/node"
)

// The multi-process end-to-end benchmark (`floe bench e2e --processes`):
// the ledger and every storage node run as their own `floe ledger serve`
// and `floe node run` processes, and each store and read is a `floe store
// FILE` or `floe read -o FILE` process, so the peak RSS of each role is
// measured from outside it (the kernel's maxrss of the client processes,
// VmHWM of the nodes) and the blob never has to fit in the benchmark's
// memory: it is written to a file and compared by its SHA-256.

// procBenchConfig is what --processes runs.
type procBenchConfig struct {
	nodes, shards, runs int
	size                int64
	noSync              bool
	dir                 string   // where the swarm and the blob files live (default $TMPDIR)
	env                 []string // extra environment of every process (GOMEMLIMIT=…)
	clientArgs          []string // extra flags of floe store and floe read (--memory …)
	keepLogs            bool     // keep every process's log (the clients' too) after a run that passed
	profiles            bool     // every process writes a CPU profile beside its log (implies keepLogs)
}

// procBenchRun is one store and read.
type procBenchRun struct {
	StoreMs     float64 `json:"store_ms"`
	ReadMs      float64 `json:"read_ms"`
	StoreMaxRSS int64   `json:"store_peak_rss_bytes"`
	ReadMaxRSS  int64   `json:"read_peak_rss_bytes"`
	// CPU time (user + system) of the client process and of all nodes
	// together during each command: on one machine they share its cores,
	// so this says which side a phase's time went to.
	StoreCPUMs      float64 `json:"store_client_cpu_ms"`
	ReadCPUMs       float64 `json:"read_client_cpu_ms"`
	StoreNodesCPUMs float64 `json:"store_nodes_cpu_ms"`
	ReadNodesCPUMs  float64 `json:"read_nodes_cpu_ms"`
	BlobID          string  `json:"blob_id"`
	ByteIdentical   bool    `json:"byte_identical"`
}

// procBenchResult is what `floe bench e2e --processes --json` prints.
type procBenchResult struct {
	Nodes     int            `json:"nodes"`
	NShards   int            `json:"n_shards"`
	Size      int64          `json:"size"`
	Fsync     bool           `json:"fsync"`
	Env       []string       `json:"env,omitempty"`
	Runs      []procBenchRun `json:"runs"`
	StoreMs   float64        `json:"store_ms"` // medians
	ReadMs    float64        `json:"read_ms"`
	StoreMBps float64        `json:"store_mb_per_s"`
	ReadMBps  float64        `json:"read_mb_per_s"`
	// Medians of the runs' CPU times.
	StoreCPUMs      float64 `json:"store_client_cpu_ms"`
	ReadCPUMs       float64 `json:"read_client_cpu_ms"`
	StoreNodesCPUMs float64 `json:"store_nodes_cpu_ms"`
	ReadNodesCPUMs  float64 `json:"read_nodes_cpu_ms"`
	// Peak RSS per role over all runs: the store and read client
	// processes, each node (VmHWM), the ledger.
	StorePeakRSS  int64   `json:"store_peak_rss_bytes"`
	ReadPeakRSS   int64   `json:"read_peak_rss_bytes"`
	NodePeakRSS   []int64 `json:"node_peak_rss_bytes"`
	LedgerPeakRSS int64   `json:"ledger_peak_rss_bytes"`
}

// benchProc is a child process of the benchmark, its output in a log.
type benchProc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

// procBench owns the child processes it started and stops them by PID.
type procBench struct {
	bin, dir string
	env      []string
	procs    []*benchProc
	progress io.Writer
	clients  int  // client commands run so far: their logs are client-<k>-<command>.log
	profiles bool // pass --cpu-profile <dir>/<log name>.prof to every process
}

// withProfile adds --cpu-profile path to a floe command line, before its
// first flag (so after the subcommand's name, and before a "--").
func withProfile(args []string, path string) []string {
	k := len(args)
	for i, a := range args {
		if strings.HasPrefix(a, "-") {
			k = i
			break
		}
	}
	out := append([]string{}, args[:k]...)
	out = append(out, "--cpu-profile", path)
	return append(out, args[k:]...)
}

func (b *procBench) start(name string, args ...string) (*benchProc, error) {
	logPath := filepath.Join(b.dir, name+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer f.Close() // the child holds its own descriptor
	if b.profiles {
		args = withProfile(args, filepath.Join(b.dir, name+".prof"))
	}
	cmd := exec.Command(b.bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), b.env...)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &benchProc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	b.procs = append(b.procs, p)
	return p, nil
}

// stopAll interrupts every child (nodes first, the ledger last) and waits
// for it, killing what has not exited after 30 s.
func (b *procBench) stopAll() {
	for i := len(b.procs) - 1; i >= 0; i-- {
		p := b.procs[i]
		_ = p.cmd.Process.Signal(os.Interrupt)
		select {
		case <-p.done:
		case <-time.After(30 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
	b.procs = nil
}

// keepLogs copies the children's logs to a new directory beside the
// swarm's and returns its path.
func (b *procBench) keepLogs() (string, error) {
	kept, err := os.MkdirTemp(filepath.Dir(b.dir), "floe-bench-logs-")
	if err != nil {
		return "", err
	}
	logs, _ := filepath.Glob(filepath.Join(b.dir, "*.log"))
	profiles, _ := filepath.Glob(filepath.Join(b.dir, "*.prof"))
	logs = append(logs, profiles...)
	for _, p := range logs {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		if err := os.WriteFile(filepath.Join(kept, filepath.Base(p)), data, 0o644); err != nil {
			return "", err
		}
	}
	return kept, nil
}

// waitLog waits until the child's log has a line matching re.
func (b *procBench) waitLog(ctx context.Context, p *benchProc, re *regexp.Regexp, timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	for {
		data, _ := os.ReadFile(p.log)
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			if re.Match(sc.Bytes()) {
				return sc.Text(), nil
			}
		}
		select {
		case <-p.done:
			return "", fmt.Errorf("%s exited: %s", p.name, logTail(p.log))
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("%s: no %q in its log after %v: %s", p.name, re, timeout, logTail(p.log))
		}
	}
}

func logTail(path string) string {
	data, _ := os.ReadFile(path)
	if len(data) > 2000 {
		data = data[len(data)-2000:]
	}
	return string(data)
}

// clientUsage is what a client command cost: wall time, peak RSS (the
// kernel's maxrss of the process) and CPU time (user + system).
type clientUsage struct {
	wall time.Duration
	rss  int64
	cpu  time.Duration
}

// client runs a floe client command to completion and returns its stdout
// and usage.
func (b *procBench) client(ctx context.Context, args ...string) ([]byte, clientUsage, error) {
	b.clients++
	logName := fmt.Sprintf("client-%d-%s", b.clients, args[0])
	if b.profiles {
		args = withProfile(args, filepath.Join(b.dir, logName+".prof"))
	}
	cmd := exec.CommandContext(ctx, b.bin, args...)
	cmd.Env = append(os.Environ(), b.env...)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	// The client's log is kept beside the nodes' (a read that fell back
	// to decoding, say, says so only there).
	_ = os.WriteFile(filepath.Join(b.dir, logName+".log"), stderr.Bytes(), 0o644)
	u := clientUsage{wall: wall}
	if ps := cmd.ProcessState; ps != nil {
		if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
			u.rss = ru.Maxrss * 1024
		}
		u.cpu = ps.UserTime() + ps.SystemTime()
	}
	if err != nil {
		return nil, u, fmt.Errorf("floe %s: %w: %s", args[0], err, strings.TrimSpace(stderr.String()))
	}
	return out.Bytes(), u, nil
}

// procCPU is a running process's CPU time so far (user + system, Linux's
// /proc/PID/stat in clock ticks of 1/100 s), -1 if unknown.
func procCPU(pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	// The command name (field 2) is in parentheses and may hold spaces:
	// fields are counted after its closing one.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return -1
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 13 {
		return -1
	}
	// utime and stime are fields 14 and 15, f[11] and f[12] here.
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return -1
	}
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// nodesCPU is the CPU time of all nodes so far, -1 if any is unknown.
func nodesCPU(nodes []*benchProc) time.Duration {
	var total time.Duration
	for _, np := range nodes {
		c := procCPU(np.cmd.Process.Pid)
		if c < 0 {
			return -1
		}
		total += c
	}
	return total
}

// cpuSince is the CPU time the nodes spent since before, 0 if unknown.
func cpuSince(nodes []*benchProc, before time.Duration) time.Duration {
	now := nodesCPU(nodes)
	if now < 0 || before < 0 {
		return 0
	}
	return now - before
}

// vmHWM is a running process's peak resident set (Linux), -1 if unknown.
func vmHWM(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return -1
			}
			return kb * 1024
		}
	}
	return -1
}

func loopbackPort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// writeBlobFile writes size pseudo-random bytes (seeded) to path and
// returns their SHA-256.
func writeBlobFile(path string, size int64, seed uint64) ([32]byte, error) {
	f, err := os.Create(path)
	if err != nil {
		return [32]byte{}, err
	}
	defer f.Close()
	h := sha256.New()
	w := io.MultiWriter(f, h)
	rng := rand.New(rand.NewPCG(seed, seed^0x5851f42d4c957f2d))
	buf := make([]byte, 1<<20)
	for left := size; left > 0; {
		n := min(left, int64(len(buf)))
		for i := 0; i < int(n); i += 8 {
			v := rng.Uint64()
			for j := 0; j < 8 && i+j < int(n); j++ {
				buf[i+j] = byte(v >> (8 * j))
			}
		}
		if _, err := w.Write(buf[:n]); err != nil {
			return [32]byte{}, err
		}
		left -= n
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return sum, f.Close()
}

func fileSHA256(path string) ([32]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return [32]byte{}, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.CopyBuffer(h, f, make([]byte, 1<<20)); err != nil {
		return [32]byte{}, err
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return sum, nil
}

var (
	servingLine  = regexp.MustCompile(`^node (0x[0-9a-f]{64}) peer (\S+) serving on`)
	epochApplied = regexp.MustCompile(`msg="epoch applied".* epoch=1 `)
)

// runProcBench starts the swarm, runs the stores and reads and stops
// everything it started, on success and on failure.
func runProcBench(ctx context.Context, cfg procBenchConfig, out io.Writer) (_ *procBenchResult, err error) {
	p, err := codec.NewParams(cfg.shards)
	if err != nil {
		return nil, err
	}
	if cfg.size < 0 || uint64(cfg.size) > p.MaxBlobSize() {
		return nil, fmt.Errorf("--size %d outside [0, %d] at %d shards", cfg.size, p.MaxBlobSize(), cfg.shards)
	}
	bin, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding the floe binary: %w", err)
	}
	dir, err := os.MkdirTemp(cfg.dir, "floe-bench-proc-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	b := &procBench{bin: bin, dir: dir, env: cfg.env, profiles: cfg.profiles}
	defer b.stopAll()
	defer func() {
		// Stopped first, so their logs and profiles are complete.
		b.stopAll()
		switch {
		case err != nil:
			// The swarm's directory goes (it may hold gigabytes); its logs
			// stay for a look at what failed.
			if kept, kerr := b.keepLogs(); kerr == nil {
				err = fmt.Errorf("%w (the processes' logs are in %s)", err, kept)
			}
		case cfg.keepLogs || cfg.profiles:
			if kept, kerr := b.keepLogs(); kerr == nil {
				fmt.Fprintf(out, "the processes' logs are in %s\n", kept)
			}
		}
	}()

	port, err := loopbackPort()
	if err != nil {
		return nil, err
	}
	ledgerURL := "http://127.0.0.1:" + strconv.Itoa(port)
	ledgerDir := filepath.Join(dir, "ledger")
	ledger, err := b.start("ledger", "ledger", "serve", "--listen", "127.0.0.1:"+strconv.Itoa(port), "--dir", ledgerDir,
		"--shards", strconv.Itoa(cfg.shards), "--epoch", "24h", "--faucet")
	if err != nil {
		return nil, err
	}
	probe := chainlink.NewClient(ledgerURL, nil)
	for deadline := time.Now().Add(30 * time.Second); ; {
		if _, err := probe.EpochState(ctx); err == nil {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the ledger did not come up: %s", logTail(ledger.log))
		}
		time.Sleep(50 * time.Millisecond)
	}
	var nodes []*benchProc
	for i := range cfg.nodes {
		ndir := filepath.Join(dir, "node-"+strconv.Itoa(i))
		lport, err := loopbackPort()
		if err != nil {
			return nil, err
		}
		initOut, _, err := b.client(ctx, "node", "init", "--dir", ndir, "--network", "bench", "--ledger", ledgerURL,
			"--faucet", "--min-free-disk", "-1", "--listen", "/ip4/127.0.0.1/tcp/"+strconv.Itoa(lport))
		if err != nil {
			return nil, err
		}
		conf := strings.TrimSpace(string(initOut))
		if cfg.noSync {
			if err := patchJSON(conf, map[string]any{"no_sync": true}); err != nil {
				return nil, err
			}
		}
		np, err := b.start("node-"+strconv.Itoa(i), "node", "run", "--config", conf)
		if err != nil {
			return nil, err
		}
		if _, err := b.waitLog(ctx, np, servingLine, time.Minute); err != nil {
			return nil, err
		}
		nodes = append(nodes, np)
	}
	token, err := chainlink.ReadAdminToken(filepath.Join(ledgerDir, chainlink.AdminTokenFile))
	if err != nil {
		return nil, err
	}
	if _, err := chainlink.NewClient(ledgerURL, nil, chainlink.ClientAdminToken(token)).AdvanceEpoch(ctx); err != nil {
		return nil, fmt.Errorf("starting epoch 1: %w", err)
	}
	for _, np := range nodes {
		if _, err := b.waitLog(ctx, np, epochApplied, time.Minute); err != nil {
			return nil, err
		}
	}
	keyPath := filepath.Join(dir, "client.key")
	if _, _, err := account.LoadOrCreate(keyPath); err != nil {
		return nil, err
	}
	clientConf := filepath.Join(dir, node.ClientConfigFile)
	if err := node.WriteJSON(clientConf, node.ClientConfig{Network: "bench", Ledger: ledgerURL, AccountKey: keyPath, Faucet: true}); err != nil {
		return nil, err
	}

	res := &procBenchResult{Nodes: cfg.nodes, NShards: cfg.shards, Size: cfg.size, Fsync: !cfg.noSync, Env: cfg.env}
	fmt.Fprintf(out, "e2e --processes: %d node processes, n=%d, %d bytes, %d runs, fsync=%v, env %v\n",
		cfg.nodes, cfg.shards, cfg.size, cfg.runs, !cfg.noSync, cfg.env)
	for r := range cfg.runs {
		in, back := filepath.Join(dir, "blob.in"), filepath.Join(dir, "blob.out")
		sum, err := writeBlobFile(in, cfg.size, uint64(r+1))
		if err != nil {
			return nil, err
		}
		nodesBefore := nodesCPU(nodes)
		storeOut, su, err := b.client(ctx, append([]string{"store", "--config", clientConf, "--json", "--spill-dir", dir}, append(cfg.clientArgs, in)...)...)
		if err != nil {
			return nil, err
		}
		storeNodes := cpuSince(nodes, nodesBefore)
		var so storeOutput
		if err := json.Unmarshal(storeOut, &so); err != nil || so.StoreResult == nil {
			return nil, fmt.Errorf("floe store --json printed %q: %v", storeOut, err)
		}
		if err := os.Remove(in); err != nil {
			return nil, err
		}
		nodesBefore = nodesCPU(nodes)
		_, ru, err := b.client(ctx, append([]string{"read", "--config", clientConf, "--spill-dir", dir, "-o", back}, append(cfg.clientArgs, "--", so.BlobID.String())...)...)
		if err != nil {
			return nil, err
		}
		readNodes := cpuSince(nodes, nodesBefore)
		got, err := fileSHA256(back)
		if err != nil {
			return nil, err
		}
		if err := os.Remove(back); err != nil {
			return nil, err
		}
		run := procBenchRun{StoreMs: ms(su.wall), ReadMs: ms(ru.wall), StoreMaxRSS: su.rss, ReadMaxRSS: ru.rss,
			StoreCPUMs: ms(su.cpu), ReadCPUMs: ms(ru.cpu), StoreNodesCPUMs: ms(storeNodes), ReadNodesCPUMs: ms(readNodes),
			BlobID: so.BlobID.String(), ByteIdentical: got == sum}
		res.Runs = append(res.Runs, run)
		fmt.Fprintf(out, "  run %d: store %v (peak RSS %s, CPU client %v nodes %v)  read %v (peak RSS %s, CPU client %v nodes %v)  byte-identical %v\n", r+1,
			su.wall.Round(time.Millisecond), mib(su.rss), su.cpu.Round(10*time.Millisecond), storeNodes.Round(10*time.Millisecond),
			ru.wall.Round(time.Millisecond), mib(ru.rss), ru.cpu.Round(10*time.Millisecond), readNodes.Round(10*time.Millisecond), run.ByteIdentical)
		if !run.ByteIdentical {
			return res, errors.New("read back different bytes")
		}
		res.StorePeakRSS, res.ReadPeakRSS = max(res.StorePeakRSS, su.rss), max(res.ReadPeakRSS, ru.rss)
	}
	for _, np := range nodes {
		res.NodePeakRSS = append(res.NodePeakRSS, vmHWM(np.cmd.Process.Pid))
	}
	res.LedgerPeakRSS = vmHWM(ledger.cmd.Process.Pid)
	medMs := func(f func(procBenchRun) float64) float64 {
		v := make([]float64, len(res.Runs))
		for i, r := range res.Runs {
			v[i] = f(r)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	res.StoreMs = medMs(func(r procBenchRun) float64 { return r.StoreMs })
	res.ReadMs = medMs(func(r procBenchRun) float64 { return r.ReadMs })
	res.StoreMBps = float64(cfg.size) / res.StoreMs / 1e3
	res.ReadMBps = float64(cfg.size) / res.ReadMs / 1e3
	res.StoreCPUMs = medMs(func(r procBenchRun) float64 { return r.StoreCPUMs })
	res.ReadCPUMs = medMs(func(r procBenchRun) float64 { return r.ReadCPUMs })
	res.StoreNodesCPUMs = medMs(func(r procBenchRun) float64 { return r.StoreNodesCPUMs })
	res.ReadNodesCPUMs = medMs(func(r procBenchRun) float64 { return r.ReadNodesCPUMs })
	fmt.Fprintf(out, "median store %.0f ms  %.1f MB/s  (CPU: client %.0f ms, nodes %.0f ms)\n", res.StoreMs, res.StoreMBps, res.StoreCPUMs, res.StoreNodesCPUMs)
	fmt.Fprintf(out, "median read  %.0f ms  %.1f MB/s  (CPU: client %.0f ms, nodes %.0f ms)\n", res.ReadMs, res.ReadMBps, res.ReadCPUMs, res.ReadNodesCPUMs)
	fmt.Fprintf(out, "peak RSS: store client %s, read client %s, ledger %s, nodes", mib(res.StorePeakRSS), mib(res.ReadPeakRSS), mib(res.LedgerPeakRSS))
	for _, r := range res.NodePeakRSS {
		fmt.Fprintf(out, " %s", mib(r))
	}
	fmt.Fprintln(out)
	return res, nil
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// patchJSON sets keys of a JSON object file.
func patchJSON(path string, set map[string]any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	for k, v := range set {
		m[k] = v
	}
	return node.WriteJSON(path, m)
}
