package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"floe/chainlink"
	"floe/node"
	"floe/p2p"
	"floe/p2p/discovery"
	"floe/p2p/gossip"
)

// These tests start the real binary the way a user does and break each
// start: a busy port, a directory another floe uses, a bad flag. Each must
// exit 1 with one line on stderr (no panic, no goroutine dump) and leave
// nothing listening.

// runFailing runs floe with args, expects exit status 1 and exactly one
// line on stderr, starting with "floe: " and containing want, and returns
// that line.
func runFailing(t *testing.T, want string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, floeBinary(t), args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("floe %s: %v, want exit status 1\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	all := out.String() + errb.String()
	if strings.Contains(all, "panic:") || strings.Contains(all, "goroutine ") {
		t.Fatalf("floe %s panicked:\n%s", strings.Join(args, " "), all)
	}
	lines := strings.Split(strings.TrimSuffix(errb.String(), "\n"), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "floe: ") {
		t.Fatalf("floe %s: stderr is not one line starting with \"floe: \":\n%s", strings.Join(args, " "), errb.String())
	}
	if !strings.Contains(lines[0], want) {
		t.Fatalf("floe %s: %q does not say %q", strings.Join(args, " "), lines[0], want)
	}
	return lines[0]
}

// holdPort listens on a free loopback port until the test ends.
func holdPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

// checkFree fails the test if a port is still in use.
func checkFree(t *testing.T, ports ...int) {
	t.Helper()
	for _, p := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			t.Fatalf("port %d still in use after a failed start: %v", p, err)
		}
		ln.Close()
	}
}

func noFile(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("%s exists after a refused start (%v)", path, err)
	}
}

// startDevnetProc starts `floe devnet` (1 node, 10 shards) on dir and waits
// for "ready".
func startDevnetProc(t *testing.T, s *procSwarm, dir string) *proc {
	t.Helper()
	log := filepath.Join(s.dir, filepath.Base(dir)+".log")
	p := s.start(log, "devnet", "--dir", dir, "--nodes", "1", "--shards", "10")
	waitLog(t, log, regexp.MustCompile(`^ready$`), 1, 60*time.Second)
	return p
}

func TestStartupFailuresDevnet(t *testing.T) {
	s := &procSwarm{t: t, bin: floeBinary(t), dir: t.TempDir()}
	dir := filepath.Join(s.dir, "devnet")
	first := startDevnetProc(t, s, dir)
	pid, err := readPIDFile(filepath.Join(dir, devnetPIDFile))
	if err != nil || pid != first.cmd.Process.Pid {
		t.Fatalf("devnet.pid holds %d (%v), want %d", pid, err, first.cmd.Process.Pid)
	}
	if !strings.Contains(tail(first.log), "pid: "+strconv.Itoa(pid)) {
		t.Fatalf("devnet did not print its PID:\n%s", tail(first.log))
	}

	t.Run("dir in use", func(t *testing.T) {
		port := freePort(t)
		line := runFailing(t, "floe devnet stop --dir "+dir,
			"devnet", "--dir", dir, "--nodes", "1", "--shards", "10", "--ledger-listen", "127.0.0.1:"+strconv.Itoa(port))
		if !strings.Contains(line, "pid "+strconv.Itoa(pid)) {
			t.Fatalf("%q does not name the running devnet's PID %d", line, pid)
		}
		checkFree(t, port)
		// The running devnet kept its PID file and serves on.
		if p, err := readPIDFile(filepath.Join(dir, devnetPIDFile)); err != nil || p != pid {
			t.Fatalf("devnet.pid changed to %d (%v)", p, err)
		}
	})
	t.Run("dir locked by another floe", func(t *testing.T) {
		// A ledger served from a devnet's ledger directory, no devnet.pid.
		other := filepath.Join(s.dir, "other")
		lport := freePort(t)
		l := s.start(filepath.Join(s.dir, "other-ledger.log"), "ledger", "serve", "--listen", "127.0.0.1:"+strconv.Itoa(lport),
			"--dir", filepath.Join(other, "ledger"), "--shards", "10")
		waitLog(t, l.log, regexp.MustCompile(`ledger serving`), 1, 30*time.Second)
		port := freePort(t)
		runFailing(t, filepath.Join(other, "ledger")+" is locked: another floe process probably uses it",
			"devnet", "--dir", other, "--nodes", "1", "--shards", "10", "--ledger-listen", "127.0.0.1:"+strconv.Itoa(port))
		checkFree(t, port)
		noFile(t, filepath.Join(other, devnetPIDFile))
		l.stop(t)
	})
	t.Run("ledger port busy", func(t *testing.T) {
		busy := holdPort(t)
		d := filepath.Join(s.dir, "busy")
		runFailing(t, "address already in use",
			"devnet", "--dir", d, "--nodes", "1", "--shards", "10", "--ledger-listen", "127.0.0.1:"+strconv.Itoa(busy))
		noFile(t, filepath.Join(d, devnetPIDFile))
		noFile(t, filepath.Join(d, node.ClientConfigFile))
		// The failed start released the directory: a devnet starts on it.
		p := startDevnetProc(t, s, d)
		out := mustRunBinary(t, "devnet", "stop", "--dir", d)
		if !strings.Contains(out, "stopped devnet") {
			t.Fatalf("devnet stop: %q", out)
		}
		<-p.done
	})
	t.Run("ledger not loopback", func(t *testing.T) {
		d := filepath.Join(s.dir, "remote")
		runFailing(t, `--ledger-listen "0.0.0.0:0" is not a loopback address`, "devnet", "--dir", d, "--ledger-listen", "0.0.0.0:0")
		noFile(t, d)
	})
	t.Run("bad flags", func(t *testing.T) {
		d := filepath.Join(s.dir, "flags")
		for _, tc := range []struct {
			want string
			args []string
		}{
			{"--nodes 0", []string{"--nodes", "0"}},
			{"--nodes -2", []string{"--nodes", "-2"}},
			{"--shards 0", []string{"--shards", "0"}},
			{"--shards 3: fewer shards than --nodes 4", []string{"--shards", "3"}},
			{"--epoch-duration -1s", []string{"--epoch-duration", "-1s"}},
			// The message names flags devnet has, and the command that
			// serves beyond this host.
			{"'floe gateway --config " + filepath.Join(d, node.ClientConfigFile) + " --listen 0.0.0.0:31415 --allow-remote'", []string{"--gateway", "0.0.0.0:31415"}},
		} {
			line := runFailing(t, tc.want, append([]string{"devnet", "--dir", d}, tc.args...)...)
			if strings.Contains(line, "pass --allow-remote") || strings.Contains(line, "--listen \"") {
				t.Fatalf("%q suggests flags devnet does not have", line)
			}
		}
		noFile(t, d)
	})
	t.Run("gateway port busy", func(t *testing.T) {
		busy := holdPort(t)
		d := filepath.Join(s.dir, "gw")
		port := freePort(t)
		runFailing(t, "address already in use", "devnet", "--dir", d, "--nodes", "1", "--shards", "10",
			"--ledger-listen", "127.0.0.1:"+strconv.Itoa(port), "--gateway", "127.0.0.1:"+strconv.Itoa(busy))
		checkFree(t, port)
		noFile(t, filepath.Join(d, devnetPIDFile))
	})
	t.Run("stop", func(t *testing.T) {
		// Refused: no PID file, and a PID file naming a process that is
		// not a devnet of the directory (this test).
		runFailing(t, "no devnet runs on", "devnet", "stop", "--dir", filepath.Join(s.dir, "none"))
		stale := filepath.Join(s.dir, "stale")
		if err := os.MkdirAll(stale, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(stale, devnetPIDFile), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		runFailing(t, "is stale", "devnet", "stop", "--dir", stale)
		// The first devnet stops by its PID file, which it removes.
		start := time.Now()
		out := mustRunBinary(t, "devnet", "stop", "--dir", dir)
		if !strings.Contains(out, "stopped devnet (pid "+strconv.Itoa(pid)+")") {
			t.Fatalf("devnet stop: %q", out)
		}
		select {
		case <-first.done:
		case <-time.After(5 * time.Second):
			t.Fatal("devnet stop returned before the devnet exited")
		}
		if !first.cmd.ProcessState.Success() {
			t.Fatalf("devnet exited with %v:\n%s", first.cmd.ProcessState, tail(first.log))
		}
		noFile(t, filepath.Join(dir, devnetPIDFile))
		t.Logf("devnet stop took %v", time.Since(start))
		runFailing(t, "no devnet runs on", "devnet", "stop", "--dir", dir)
	})
}

// mustRunBinary runs floe and returns its stdout; it fails the test on a
// non-zero exit.
func mustRunBinary(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, floeBinary(t), args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("floe %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

func TestStartupFailuresProcesses(t *testing.T) {
	s := &procSwarm{t: t, bin: floeBinary(t), dir: t.TempDir()}
	lport := freePort(t)
	ledgerDir := filepath.Join(s.dir, "ledger")
	ledgerURL := "http://127.0.0.1:" + strconv.Itoa(lport)
	ledger := s.start(filepath.Join(s.dir, "ledger.log"), "ledger", "serve", "--listen", "127.0.0.1:"+strconv.Itoa(lport),
		"--dir", ledgerDir, "--shards", "10", "--faucet")
	waitLog(t, ledger.log, regexp.MustCompile(`ledger serving`), 1, 30*time.Second)

	t.Run("ledger port busy", func(t *testing.T) {
		d := filepath.Join(s.dir, "ledger2")
		runFailing(t, "address already in use", "ledger", "serve", "--listen", "127.0.0.1:"+strconv.Itoa(lport), "--dir", d)
		noFile(t, d)
	})
	t.Run("ledger dir locked", func(t *testing.T) {
		port := freePort(t)
		runFailing(t, ledgerDir+" is locked: another floe process probably uses it",
			"ledger", "serve", "--listen", "127.0.0.1:"+strconv.Itoa(port), "--dir", ledgerDir, "--shards", "10")
		checkFree(t, port)
	})
	t.Run("ledger bad flags", func(t *testing.T) {
		d := filepath.Join(s.dir, "ledger3")
		runFailing(t, "--shards 0", "ledger", "serve", "--dir", d, "--shards", "0")
		runFailing(t, "--max-epochs-ahead 0", "ledger", "serve", "--dir", d, "--max-epochs-ahead", "0")
		runFailing(t, "--epoch -1s", "ledger", "serve", "--dir", d, "--epoch", "-1s")
		runFailing(t, "not a loopback address", "ledger", "serve", "--dir", d, "--listen", "0.0.0.0:0")
		noFile(t, d)
	})

	// One owner for all the nodes: a key file of its own.
	owner, _ := newAccountKey(t)
	initNode := func(t *testing.T, name string, listen string) string {
		t.Helper()
		dir := filepath.Join(s.dir, name)
		out := mustRunBinary(t, "node", "init", "--dir", dir, "--network", "proctest", "--ledger", ledgerURL,
			"--owner-key", owner, "--faucet", "--listen", listen)
		return strings.TrimSpace(out)
	}
	t.Run("node port busy", func(t *testing.T) {
		busy := holdPort(t)
		cfg := initNode(t, "node-busy", "/ip4/127.0.0.1/tcp/"+strconv.Itoa(busy))
		runFailing(t, "address already in use", "node", "run", "--config", cfg)
		// Nothing registered, no cursor written over.
		nodes, err := chainlink.NewClient(ledgerURL, nil).Nodes(context.Background())
		if err != nil || len(nodes) != 0 {
			t.Fatalf("nodes on the chain after a failed start: %v %v", nodes, err)
		}
		noFile(t, filepath.Join(filepath.Dir(cfg), "chain.cursor"))
	})
	t.Run("node second copy", func(t *testing.T) {
		port := freePort(t)
		cfg := initNode(t, "node-0", "/ip4/127.0.0.1/tcp/"+strconv.Itoa(port))
		first := s.start(filepath.Join(s.dir, "node-0.log"), "node", "run", "--config", cfg)
		waitLog(t, first.log, regexp.MustCompile(`serving on`), 1, 30*time.Second)
		store := filepath.Join(filepath.Dir(cfg), "store")
		runFailing(t, store+" is locked: another floe process probably uses it", "node", "run", "--config", cfg)
		// Another node on the port the first listens on: refused too
		// (no SO_REUSEPORT sharing of the port between two nodes).
		other := initNode(t, "node-other", "/ip4/127.0.0.1/tcp/"+strconv.Itoa(port))
		runFailing(t, "address already in use", "node", "run", "--config", other)
		// The first copy still serves.
		select {
		case <-first.done:
			t.Fatalf("the running node exited:\n%s", tail(first.log))
		default:
		}
		first.stop(t)
		checkFree(t, port)
	})
	t.Run("gateway port busy", func(t *testing.T) {
		busy := holdPort(t)
		cc := filepath.Join(s.dir, "client.json")
		if err := node.WriteJSON(cc, node.ClientConfig{Network: "proctest", Ledger: ledgerURL, Account: randomAccount(t)}); err != nil {
			t.Fatal(err)
		}
		runFailing(t, "--listen 127.0.0.1:"+strconv.Itoa(busy)+": listen tcp", "gateway", "--config", cc, "--listen", "127.0.0.1:"+strconv.Itoa(busy))
		// A client that cannot reach its ledger: the listener is closed.
		port := freePort(t)
		unreachable := filepath.Join(s.dir, "unreachable.json")
		if err := node.WriteJSON(unreachable, node.ClientConfig{Network: "proctest", Ledger: "http://127.0.0.1:" + strconv.Itoa(freePort(t)), Account: randomAccount(t)}); err != nil {
			t.Fatal(err)
		}
		runFailing(t, "chain", "gateway", "--config", unreachable, "--listen", "127.0.0.1:"+strconv.Itoa(port))
		checkFree(t, port)
		runFailing(t, "--max-concurrent 0", "gateway", "--config", cc, "--max-concurrent", "0")
		runFailing(t, "--read-timeout 0s", "gateway", "--config", cc, "--read-timeout", "0")
	})
	t.Run("store epochs", func(t *testing.T) {
		f := filepath.Join(s.dir, "blob")
		if err := os.WriteFile(f, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		runFailing(t, "--epochs 0: want at least 1", "store", "--config", filepath.Join(s.dir, "client.json"), "--epochs", "0", f)
	})
	t.Run("ledger reports its own parameters", func(t *testing.T) {
		ledger.stop(t)
		port := freePort(t)
		p := s.start(filepath.Join(s.dir, "ledger-again.log"), "ledger", "serve", "--listen", "127.0.0.1:"+strconv.Itoa(port),
			"--dir", ledgerDir, "--shards", "1000")
		waitLog(t, p.log, regexp.MustCompile(`ledger serving`), 1, 30*time.Second)
		log := tail(p.log)
		if !strings.Contains(log, "ledger has 10 shards (the --shards flag is ignored for an existing ledger)") ||
			!strings.Contains(log, "shards=10") || strings.Contains(log, "shards=1000") {
			t.Fatalf("ledger serve on a 10-shard ledger with --shards 1000:\n%s", log)
		}
		p.stop(t)
	})
}

// badNetworks are names that discovery's DHT prefix, the gossip topics or
// the protocol IDs cannot take.
var badNetworks = []string{"Local", "_x", "Dev.Net", "-x", ".x", "dev/net", "", strings.Repeat("a", 65), "dev net", "dévnet"}

// TestNetworkNameOneRule: every layer the name reaches refuses the same
// names, and node init and node.New refuse them before any side effect.
func TestNetworkNameOneRule(t *testing.T) {
	for _, n := range append([]string{"devnet", "proctest", "a", "a.b-c_d", "0x", strings.Repeat("a", 64)}, badNetworks...) {
		ok := p2p.ValidateNetwork(n) == nil
		disc := discovery.DefaultConfig(n, discovery.ModeServer).Validate() == nil
		gos := gossip.DefaultConfig(n, func(context.Context, peer.ID, gossip.Attestation) gossip.Verdict { return gossip.Accept },
			func(context.Context, peer.ID, gossip.Notice) gossip.Verdict { return gossip.Accept }).Validate() == nil
		nc := node.Config{Network: n, DataDir: "x", Listen: []string{"/ip4/127.0.0.1/tcp/0"}, Owner: randomAccount(t)}
		cc := node.ClientConfig{Network: n, Ledger: "http://127.0.0.1:1", Account: randomAccount(t)}
		if disc != ok || gos != ok || (nc.Validate() == nil) != ok || (cc.Validate() == nil) != ok {
			t.Errorf("network %q: p2p %v, discovery %v, gossip %v, node config %v, client config %v",
				n, ok, disc, gos, nc.Validate(), cc.Validate())
		}
		if isBad := slices.Contains(badNetworks, n); isBad == ok {
			t.Errorf("network %q: accepted %v", n, ok)
		}
	}

	ctx := context.Background()
	l, err := chainlink.Open(ctx, chainlink.NewMemDatastore(), chainlink.WithShards(10))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, n := range []string{"Local", "_x", "Dev.Net"} {
		dir := filepath.Join(t.TempDir(), "node")
		runFailing(t, "--network: p2p: network name", "node", "init", "--dir", dir, "--network", n)
		noFile(t, dir)

		cfg := node.Config{Name: "n", Network: n, DataDir: dir, Listen: []string{"/ip4/127.0.0.1/tcp/0"},
			Owner: randomAccount(t), Stake: 1000, Faucet: true}
		if _, err := node.New(ctx, cfg, node.Options{Chain: l}); !errors.Is(err, node.ErrConfig) {
			t.Fatalf("node.New with network %q: %v, want ErrConfig", n, err)
		}
		noFile(t, dir)
		if nodes, err := l.Nodes(ctx); err != nil || len(nodes) != 0 {
			t.Fatalf("node.New with network %q registered %v (%v)", n, nodes, err)
		}
	}
}

// TestStartupCleansUp starts a devnet and a node in this process with a
// busy port: the constructors return an error (no panic) and release what
// they opened, so the same directory starts at once afterwards.
func TestStartupCleansUp(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	busy := holdPort(t)
	cfg := node.DevnetConfig{Nodes: 1, Shards: 10, Dir: dir, LedgerListen: "127.0.0.1:" + strconv.Itoa(busy), Logger: quietLogger(os.Stderr)}
	if d, err := node.StartDevnet(ctx, cfg); err == nil || d != nil {
		t.Fatalf("devnet on a busy port: %v", err)
	}
	cfg.LedgerListen = "0.0.0.0:0"
	if _, err := node.StartDevnet(ctx, cfg); !errors.Is(err, node.ErrConfig) {
		t.Fatalf("devnet on 0.0.0.0: %v", err)
	}
	cfg.LedgerListen = ""
	d, err := node.StartDevnet(ctx, cfg)
	if err != nil {
		t.Fatalf("devnet after a failed start on its directory: %v", err)
	}
	// A second devnet on the same directory: the lock, named.
	var inUse *node.DirInUseError
	if _, err := node.StartDevnet(ctx, cfg); !errors.As(err, &inUse) || inUse.Dir != filepath.Join(dir, "ledger") {
		t.Fatalf("second devnet on %s: %v", dir, err)
	}

	// A node whose listen port is busy, then the same node on a free one.
	ncfg := node.Config{Name: "extra", Network: "devnet", DataDir: filepath.Join(t.TempDir(), "extra"),
		Listen: []string{"/ip4/127.0.0.1/tcp/" + strconv.Itoa(busy)}, Owner: randomAccount(t), Stake: 1000, Faucet: true}
	if n, err := node.New(ctx, ncfg, node.Options{Chain: d.Ledger, Logger: quietLogger(os.Stderr)}); err == nil || n != nil {
		t.Fatalf("node on a busy port: %v", err)
	}
	ncfg.Listen = []string{"/ip4/127.0.0.1/tcp/0"}
	n, err := node.New(ctx, ncfg, node.Options{Chain: d.Ledger, Logger: quietLogger(os.Stderr)})
	if err != nil {
		t.Fatalf("node after a failed start on its directory: %v", err)
	}
	if _, err := node.New(ctx, ncfg, node.Options{Chain: d.Ledger, Logger: quietLogger(os.Stderr)}); !errors.As(err, &inUse) {
		t.Fatalf("second copy of a node: %v", err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestDefaultConfigMatchesDevnet: the client commands' default --config is
// the client.json that `floe devnet` writes with its default --dir, and
// `devnet stop` looks there too.
func TestDefaultConfigMatchesDevnet(t *testing.T) {
	devnet := newDevnetCommand()
	dir := devnet.Flags().Lookup("dir").DefValue
	want := filepath.Join(dir, node.ClientConfigFile)
	stop, _, err := devnet.Find([]string{"stop"})
	if err != nil || stop.Flags().Lookup("dir").DefValue != dir {
		t.Fatalf("devnet stop --dir defaults differ from devnet's %s (%v)", dir, err)
	}
	root, _ := newRootCommand()
	for _, path := range [][]string{{"store"}, {"read"}, {"status"}, {"node", "status"}, {"audit"}, {"gateway"},
		{"info"}, {"health"}, {"blobs", "list"}, {"delete"}, {"extend"}} {
		c, _, err := root.Find(path)
		if err != nil {
			t.Fatal(err)
		}
		if f := c.Flags().Lookup("config"); f == nil || f.DefValue != want {
			t.Errorf("floe %s --config defaults to %v, want %s", strings.Join(path, " "), f, want)
		}
	}
}

// The disk settings go from `node init` flags into node.json and back.
func TestNodeInitDiskSettings(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "n")
	out := mustRunBinary(t, "node", "init", "--dir", dir, "--network", "proctest",
		"--space-limit", "123456789", "--min-free-disk", "-1")
	cfg, err := node.LoadConfig(strings.TrimSpace(out))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.SpaceLimit != 123456789 || cfg.MinFreeDisk != -1 {
		t.Fatalf("node.json has space_limit %d, min_free_disk %d", cfg.SpaceLimit, cfg.MinFreeDisk)
	}
	runFailing(t, "space_limit", "node", "init", "--dir", filepath.Join(t.TempDir(), "m"), "--network", "proctest",
		"--space-limit", "-5")
}

// node init writes the REST API's listen and announce addresses, and
// refuses an announce address without a listener.
func TestNodeInitRESTSettings(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "n")
	out := mustRunBinary(t, "node", "init", "--dir", dir, "--network", "proctest",
		"--rest-listen", "127.0.0.1:0", "--rest-announce", "node.example:9185")
	cfg, err := node.LoadConfig(strings.TrimSpace(out))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RestListen != "127.0.0.1:0" || cfg.RestAnnounce != "node.example:9185" {
		t.Fatalf("node.json has rest_listen %q, rest_announce %q", cfg.RestListen, cfg.RestAnnounce)
	}
	runFailing(t, "rest_announce", "node", "init", "--dir", filepath.Join(t.TempDir(), "m"), "--network", "proctest",
		"--rest-announce", "node.example:9185")
}
