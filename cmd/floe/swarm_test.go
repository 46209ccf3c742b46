package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"floe/chainlink"
	"floe/chainlink/account"
	"floe/node"
)

// These tests run the swarm as operators do: `floe ledger serve`, one
// `floe node run` process per node, and the client commands, so that
// faults are real process deaths (SIGKILL) and restarts.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// floeBinary builds the floe binary once per test run.
func floeBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "floe-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "floe")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

type proc struct {
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

type procSwarm struct {
	t         *testing.T
	bin, dir  string
	ledgerURL string
	chain     *chainlink.Client
	ledger    *proc
	nodes     []*proc
	configs   []string
	client    string // client config path
	// initArgs are extra `floe node init` flags of addNode; nodeIDs the
	// on-chain IDs of the nodes addNode started.
	initArgs []string
	nodeIDs  []chainlink.ID
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// start runs the binary with output appended to logPath.
func (s *procSwarm) start(logPath string, args ...string) *proc {
	s.t.Helper()
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		s.t.Fatal(err)
	}
	cmd := exec.Command(s.bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	p := &proc{cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() { cmd.Wait(); f.Close(); close(p.done) }()
	s.t.Cleanup(func() { p.kill() })
	return p
}

func (p *proc) kill() {
	select {
	case <-p.done:
	default:
		p.cmd.Process.Kill()
		<-p.done
	}
}

// stop sends SIGTERM and waits for a clean exit.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		if !p.cmd.ProcessState.Success() {
			t.Fatalf("%s exited with %v after SIGTERM; log:\n%s", p.log, p.cmd.ProcessState, tail(p.log))
		}
	case <-time.After(20 * time.Second):
		p.kill()
		t.Fatalf("%s did not stop within 20 s of SIGTERM", p.log)
	}
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// waitLog waits until the log holds at least count lines matching re.
func waitLog(t *testing.T, path string, re *regexp.Regexp, count int, timeout time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var lines []string
		if f, err := os.Open(path); err == nil {
			sc := bufio.NewScanner(f)
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			for sc.Scan() {
				if re.MatchString(sc.Text()) {
					lines = append(lines, sc.Text())
				}
			}
			f.Close()
		}
		if len(lines) >= count {
			return lines
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: waited %v for %d lines matching %q; log:\n%s", path, timeout, count, re, tail(path))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// randomAccount is the address of a fresh account key the test does not
// keep: for configs that are refused before they sign anything.
func randomAccount(t *testing.T) chainlink.ID {
	k, err := account.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	return chainlink.AccountID(k)
}

// newAccountKey creates an account key file and returns its path and
// address: a client's account_key.
func newAccountKey(t *testing.T) (string, chainlink.ID) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "account.key")
	k, _, err := account.LoadOrCreate(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, chainlink.AccountID(k)
}

// clientConfig is a client config of the swarm at ledgerURL that signs
// with a new account key.
func clientConfig(t *testing.T, ledgerURL string) node.ClientConfig {
	key, _ := newAccountKey(t)
	return node.ClientConfig{Network: "proctest", Ledger: ledgerURL, AccountKey: key, Faucet: true}
}

// adminClient is a ledger client holding the admin token that `floe
// ledger serve` wrote into its dir.
func adminClient(t *testing.T, ledgerURL, ledgerDir string) *chainlink.Client {
	t.Helper()
	token, err := chainlink.ReadAdminToken(filepath.Join(ledgerDir, chainlink.AdminTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	return chainlink.NewClient(ledgerURL, nil, chainlink.ClientAdminToken(token))
}

// newProcSwarm starts a ledger and n nodes (byzantine ones serve corrupted
// data) and the first committee.
func newProcSwarm(t *testing.T, nodes, shards int, byzantine ...int) *procSwarm {
	t.Helper()
	s := &procSwarm{t: t, bin: floeBinary(t), dir: t.TempDir()}
	port := freePort(t)
	s.ledgerURL = "http://127.0.0.1:" + strconv.Itoa(port)
	s.ledger = s.start(filepath.Join(s.dir, "ledger.log"), "ledger", "serve", "--listen", "127.0.0.1:"+strconv.Itoa(port),
		"--dir", filepath.Join(s.dir, "ledger"), "--shards", strconv.Itoa(shards), "--epoch", "1h", "--faucet")
	probe := chainlink.NewClient(s.ledgerURL, nil)
	ctx := context.Background()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := probe.EpochState(ctx); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ledger did not come up:\n%s", tail(s.ledger.log))
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.chain = adminClient(t, s.ledgerURL, filepath.Join(s.dir, "ledger"))
	for i := range nodes {
		dir := filepath.Join(s.dir, "node-"+strconv.Itoa(i))
		// The owner key is created in the node's directory.
		cmd := exec.Command(s.bin, "node", "init", "--dir", dir, "--network", "proctest", "--ledger", s.ledgerURL, "--faucet")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("node init: %v\n%s%s", err, out, stderr.String())
		}
		cfgPath := strings.TrimSpace(string(out))
		for _, b := range byzantine {
			if b == i {
				var c map[string]any
				raw, _ := os.ReadFile(cfgPath)
				json.Unmarshal(raw, &c)
				c["byzantine"] = node.ByzantineCorrupt
				raw, _ = json.Marshal(c)
				os.WriteFile(cfgPath, raw, 0o644)
			}
		}
		s.configs = append(s.configs, cfgPath)
		s.nodes = append(s.nodes, nil)
		s.startNode(i)
	}
	for i := range nodes {
		waitLog(t, s.nodes[i].log, regexp.MustCompile(`serving on`), 1, 30*time.Second)
	}
	if _, err := s.chain.AdvanceEpoch(ctx); err != nil {
		t.Fatal(err)
	}
	s.waitEpoch(1)
	s.client = filepath.Join(s.dir, "client.json")
	if err := node.WriteJSON(s.client, clientConfig(t, s.ledgerURL)); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *procSwarm) startNode(i int) {
	s.nodes[i] = s.start(filepath.Join(filepath.Dir(s.configs[i]), "node.log"), "node", "run", "--config", s.configs[i])
}

// waitEpoch waits until every running node applied epoch e.
func (s *procSwarm) waitEpoch(e uint32) {
	re := regexp.MustCompile(fmt.Sprintf(`msg="epoch applied".* epoch=%d `, e))
	for _, p := range s.nodes {
		if p != nil {
			waitLog(s.t, p.log, re, 1, 30*time.Second)
		}
	}
}

// floe runs a client command and returns stdout, stderr and the error.
func (s *procSwarm) floe(args ...string) (string, string, error) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

func (s *procSwarm) store(file string, args ...string) string {
	s.t.Helper()
	out, stderr, err := s.floe(append([]string{"store", "--config", s.client, file}, args...)...)
	if err != nil {
		s.t.Fatalf("floe store: %v\n%s", err, stderr)
	}
	return strings.TrimSpace(out)
}

// read reads a blob and checks its bytes against want; it returns stderr.
func (s *procSwarm) read(id string, want []byte) string {
	s.t.Helper()
	out := filepath.Join(s.dir, "read.out")
	// "--": a blob ID may begin with '-'.
	_, stderr, err := s.floe("read", "--config", s.client, "-o", out, "--", id)
	if err != nil {
		s.t.Fatalf("floe read %s: %v\n%s", id, err, stderr)
	}
	got, err := os.ReadFile(out)
	if err != nil || !bytes.Equal(got, want) {
		s.t.Fatalf("floe read %s: %d bytes differ from the %d stored (%v)", id, len(got), len(want), err)
	}
	return stderr
}

func writeRandom(t *testing.T, dir, name string, size int) (string, []byte) {
	t.Helper()
	b := make([]byte, size)
	rand.Read(b)
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p, b
}

var recoveredRE = regexp.MustCompile(`msg="recovered slivers".* pairs=(\d+) bytes_fetched=(\d+) bytes_per_pair=(\d+)`)

// Faults with real processes: a store certifies and reads succeed with the
// nodes of up to f shards SIGKILLed; the killed node, restarted, recovers
// its slivers with O(blob/n) bytes per pair and then serves reads that need
// it; all nodes restarted still serve every blob; an expired blob is gone.
func TestProcessSwarmFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process swarm test")
	}
	const shards = 20 // f = 6; 4 nodes of 5 shards each
	s := newProcSwarm(t, 4, shards)

	s.nodes[3].kill() // SIGKILL: 5 shards ≤ f
	f1, b1 := writeRandom(t, s.dir, "blob1", 1<<20)
	id1 := s.store(f1, "--epochs", "5")
	s.read(id1, b1)

	s.startNode(3)
	m := recoveredRE.FindStringSubmatch(waitLog(t, s.nodes[3].log, recoveredRE, 1, time.Minute)[0])
	pairs, _ := strconv.Atoi(m[1])
	perPair, _ := strconv.Atoi(m[3])
	t.Logf("restarted node recovered %d pairs, %s bytes, %d bytes per pair (blob/n = %d)", pairs, m[2], perPair, len(b1)/shards)
	if pairs != 5 || perPair > 8*len(b1)/shards {
		t.Fatalf("recovery: %d pairs, %d bytes per pair; want 5 pairs and at most 8·blob/n = %d", pairs, perPair, 8*len(b1)/shards)
	}
	// With nodes 0 and 1 stopped only nodes 2 and 3 hold slivers: 10 of
	// the 8 primary slivers a read needs, so the read needs node 3's
	// recovered ones.
	s.nodes[0].stop(t)
	s.nodes[1].stop(t)
	s.read(id1, b1)

	// All nodes restarted.
	s.nodes[2].stop(t)
	s.nodes[3].stop(t)
	for i := range s.nodes {
		s.startNode(i)
	}
	for i := range s.nodes {
		waitLog(t, s.nodes[i].log, regexp.MustCompile(`serving on`), 2, 30*time.Second)
	}
	s.read(id1, b1)

	// Expiry: a blob stored for one epoch is gone from every node after
	// the epoch ends.
	f2, b2 := writeRandom(t, s.dir, "blob2", 3000)
	id2 := s.store(f2, "--epochs", "1")
	s.read(id2, b2)
	if out, stderr, err := s.floe("ledger", "advance", "--ledger", s.ledgerURL, "--ledger-dir", filepath.Join(s.dir, "ledger")); err != nil {
		t.Fatalf("ledger advance: %v %s", err, stderr)
	} else if strings.TrimSpace(out) != "epoch 2" {
		t.Fatalf("ledger advance printed %q", out)
	}
	for i := range s.nodes {
		waitLog(t, s.nodes[i].log, regexp.MustCompile(`msg="expired blobs".* epoch=2 blobs=1 `), 1, 30*time.Second)
	}
	if _, stderr, err := s.floe("read", "--config", s.client, "--", id2); err == nil || !strings.Contains(stderr, "not found") {
		t.Fatalf("reading the expired blob: %v %q", err, stderr)
	}
	s.read(id1, b1)
}

// Reads return the right bytes while a node (5 of 20 shards ≤ f) serves
// corrupted slivers and metadata, and the client names that node only.
func TestProcessSwarmByzantine(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process swarm test")
	}
	s := newProcSwarm(t, 4, 20, 2)
	liar := waitLog(t, s.nodes[2].log, regexp.MustCompile(`serving on`), 1, time.Second)[0]
	liarPeer := regexp.MustCompile(`peer (\S+)`).FindStringSubmatch(liar)[1]
	reports := 0
	for i := range 5 {
		f, b := writeRandom(t, s.dir, "blob"+strconv.Itoa(i), 40_000+i)
		id := s.store(f)
		stderr := s.read(id, b)
		for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
			if !strings.Contains(line, "lied") {
				continue
			}
			if !strings.Contains(line, liarPeer) {
				t.Fatalf("an honest node was reported: %s (the liar is %s)", line, liarPeer)
			}
			reports++
		}
	}
	if reports == 0 {
		t.Fatal("the corrupting node was never reported")
	}
}

// Bad input gives one clear line and a non-zero exit.
func TestProcessClientErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process swarm test")
	}
	bin := floeBinary(t)
	dir := t.TempDir()
	// A ledger with no nodes: the committee is empty.
	port := freePort(t)
	s := &procSwarm{t: t, bin: bin, dir: dir}
	s.ledgerURL = "http://127.0.0.1:" + strconv.Itoa(port)
	s.ledger = s.start(filepath.Join(dir, "ledger.log"), "ledger", "serve", "--listen", "127.0.0.1:"+strconv.Itoa(port),
		"--dir", filepath.Join(dir, "ledger"), "--shards", "20")
	waitLog(t, s.ledger.log, regexp.MustCompile(`ledger serving`), 2, 20*time.Second)
	s.client = filepath.Join(dir, "client.json")
	if err := node.WriteJSON(s.client, clientConfig(t, s.ledgerURL)); err != nil {
		t.Fatal(err)
	}
	unreachable := filepath.Join(dir, "unreachable.json")
	if err := node.WriteJSON(unreachable, node.ClientConfig{Network: "proctest", Ledger: "http://127.0.0.1:" + strconv.Itoa(freePort(t)), Account: randomAccount(t)}); err != nil {
		t.Fatal(err)
	}
	file, _ := writeRandom(t, dir, "f", 100)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"read", "--config", s.client, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}, "blob not found"},
		{[]string{"read", "--config", s.client, "not-a-blob-id"}, "invalid blob ID"},
		{[]string{"status", "--config", s.client, "AAAA"}, "invalid blob ID"},
		{[]string{"store", "--config", unreachable, file}, "chain unavailable"},
		{[]string{"read", "--config", unreachable, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}, "chain unavailable"},
		{[]string{"store", "--config", s.client, file}, "empty committee"},
		{[]string{"store", "--config", filepath.Join(dir, "missing.json"), file}, "no such file"},
		{[]string{"store", "--config", s.client, filepath.Join(dir, "missing")}, "no such file"},
	} {
		start := time.Now()
		out, stderr, err := s.floe(tc.args...)
		if err == nil {
			t.Fatalf("%v succeeded: %q", tc.args, out)
		}
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		if len(lines) != 1 || !strings.HasPrefix(lines[0], "floe: ") || !strings.Contains(lines[0], tc.want) {
			t.Fatalf("%v: stderr %q, want one line containing %q", tc.args, stderr, tc.want)
		}
		if strings.Contains(stderr, "panic") || time.Since(start) > 15*time.Second {
			t.Fatalf("%v: panicked or took %v", tc.args, time.Since(start))
		}
	}
}
