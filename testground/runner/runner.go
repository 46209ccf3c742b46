package runner

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/testground/sdk-go/ptypes"
	"github.com/testground/sdk-go/runtime"

	"floe/testground/linkemu"
	"floe/testground/syncsvc"
)

// Options are a run's settings beyond the composition.
type Options struct {
	// PlanDir holds manifest.toml and the plan's main package.
	PlanDir string
	// Binary is a built plan; empty: built from PlanDir into the run's
	// directory.
	Binary string
	// Outputs is the outputs root (OUTPUTS/<plan>/<run>/…).
	Outputs string
	// Params override the composition's parameters for every group.
	Params map[string]string
	// Shaped and Link override the composition's [floe_tg] settings when
	// set (Link fields that are non-zero).
	Shaped bool
	Link   LinkSpec
	// Timeout overrides the composition's.
	Timeout time.Duration
	// KeepTemp keeps the instances' temp directories.
	KeepTemp bool
	Log      *slog.Logger
	// Stdout receives the runner's progress lines.
	Stdout io.Writer
}

// Result is what a run produced.
type Result struct {
	RunID  string
	Dir    string // OUTPUTS/<plan>/<run>
	Failed []string
	CC     string // the kernel's TCP congestion control
}

type instance struct {
	group   string
	idx     int
	env     []string
	outDir  string
	tmpDir  string
	ns      string // network namespace (shaped)
	mu      sync.Mutex
	cmd     *exec.Cmd
	killed  bool // killed by the schedule (its exit is expected)
	exited  chan struct{}
	starts  int
	lastErr error
	// restarts is how many restart events of the schedule name it: a
	// killed instance is final once it has been restarted that often.
	restarts int
}

// Run runs a composition and returns once every instance has exited (or
// the run failed: then the rest are killed).
func Run(ctx context.Context, comp *Composition, opt Options) (*Result, error) {
	log := opt.Log
	if log == nil {
		log = slog.Default()
	}
	out := opt.Stdout
	if out == nil {
		out = os.Stdout
	}
	man, err := LoadManifest(filepath.Join(opt.PlanDir, "manifest.toml"))
	if err != nil {
		return nil, err
	}
	plan := comp.Global.Plan
	if plan == "" {
		plan = man.Name
	}
	defaults, err := man.Defaults(comp.Global.Case, comp.Global.TotalInstances)
	if err != nil {
		return nil, err
	}
	local := comp.FloeTG
	if opt.Shaped {
		local.Shaped = true
	}
	mergeLink(&local.Link, opt.Link)
	timeout, err := parseDur(local.Timeout, 20*time.Minute)
	if err != nil {
		return nil, fmt.Errorf("floe_tg.timeout: %w", err)
	}
	if opt.Timeout > 0 {
		timeout = opt.Timeout
	}
	var rb [5]byte
	_, _ = rand.Read(rb[:])
	res := &Result{RunID: "r" + time.Now().UTC().Format("20060102T150405") + "-" + hex.EncodeToString(rb[:])}
	res.Dir = filepath.Join(opt.Outputs, plan, res.RunID)
	if err := os.MkdirAll(res.Dir, 0o755); err != nil {
		return nil, err
	}
	if b, err := os.ReadFile("/proc/sys/net/ipv4/tcp_congestion_control"); err == nil {
		res.CC = strings.TrimSpace(string(b))
	}
	bin := opt.Binary
	if bin == "" {
		bin = filepath.Join(res.Dir, "floe-plan")
		fmt.Fprintf(out, "building the plan in %s\n", opt.PlanDir)
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
		build.Dir = opt.PlanDir
		build.Env = append(os.Environ(), "CGO_ENABLED=1")
		build.Stdout, build.Stderr = out, out
		if err := build.Run(); err != nil {
			return nil, fmt.Errorf("building the plan: %w", err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	// The sync service, and in shaped mode the namespaces and links.
	srv := syncsvc.New(log.With("part", "sync"))
	var ln net.Listener
	var emu *linkemu.Network
	linkTag := "lat=0ms,bw=none"
	if local.Shaped {
		spec, err := local.Link.spec()
		if err != nil {
			return nil, err
		}
		if emu, err = linkemu.New(res.RunID[len(res.RunID)-6:], comp.Global.TotalInstances, spec, log.With("part", "linkemu")); err != nil {
			return nil, fmt.Errorf("shaped links: %w", err)
		}
		defer emu.Close()
		if ln, err = emu.ListenControl(); err != nil {
			return nil, err
		}
		linkTag = spec.Tag()
	} else if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		return nil, err
	}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	syncHost, syncPort, _ := net.SplitHostPort(ln.Addr().String())

	// Instances, as local:exec starts them.
	var insts []*instance
	global := 0
	for _, g := range comp.Groups {
		params := maps.Clone(defaults)
		maps.Copy(params, comp.Global.Run.TestParams)
		maps.Copy(params, g.Run.TestParams)
		maps.Copy(params, opt.Params)
		for i := range g.Instances.Count {
			in := &instance{group: g.ID, idx: i, exited: make(chan struct{})}
			in.outDir = filepath.Join(res.Dir, g.ID, strconv.Itoa(i))
			in.tmpDir = filepath.Join(res.Dir, "tmp", g.ID+"-"+strconv.Itoa(i))
			for _, d := range []string{in.outDir, in.tmpDir} {
				if err := os.MkdirAll(d, 0o755); err != nil {
					return nil, err
				}
			}
			rp := runtime.RunParams{
				TestPlan: plan, TestCase: comp.Global.Case, TestRun: res.RunID,
				TestInstanceCount: comp.Global.TotalInstances, TestInstanceParams: params,
				TestGroupID: g.ID, TestGroupInstanceCount: g.Instances.Count,
				TestOutputsPath: in.outDir, TestTempPath: in.tmpDir, TestStartTime: time.Now(),
				TestDisableMetrics: true, TestSidecar: false,
				TestSubnet: &ptypes.IPNet{IPNet: net.IPNet{IP: net.IPv4(127, 1, 0, 0), Mask: net.CIDRMask(16, 32)}},
			}
			env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
				"SYNC_SERVICE_HOST=" + syncHost, "SYNC_SERVICE_PORT=" + syncPort,
				"INFLUXDB_URL=http://127.0.0.1:8086", "REDIS_HOST=127.0.0.1",
				"FLOE_TG_LINK=" + linkTag, "FLOE_TG_CC=" + res.CC, "GOTRACEBACK=all"}
			if tmp := os.Getenv("TMPDIR"); tmp != "" {
				env = append(env, "TMPDIR="+tmp)
			}
			if emu != nil {
				in.ns = emu.Namespace(global)
				env = append(env, "FLOE_TG_IP="+emu.DataIP(global))
			}
			for k, v := range rp.ToEnvVars() {
				env = append(env, k+"="+v)
			}
			in.env = env
			insts = append(insts, in)
			global++
		}
	}
	writeJSON(filepath.Join(res.Dir, "run.json"), map[string]any{
		"run": res.RunID, "plan": plan, "case": comp.Global.Case, "composition": comp.Metadata.Name,
		"instances": comp.Global.TotalInstances, "shaped": local.Shaped, "link": local.Link, "link_tag": linkTag,
		"tcp_congestion_control": res.CC, "params_override": opt.Params, "started": time.Now().UTC(),
	})
	fmt.Fprintf(out, "run %s: case %s, %d instances, %s, cc=%s, outputs %s\n",
		res.RunID, comp.Global.Case, comp.Global.TotalInstances, linkTag, res.CC, res.Dir)

	for _, ev := range local.Schedule {
		if ev.Action != "restart" {
			continue
		}
		for _, in := range insts {
			if (ev.Group == "" || in.group == ev.Group) && (len(ev.Instances) == 0 || containsInt(ev.Instances, in.idx)) {
				in.restarts++
			}
		}
	}
	fail := make(chan string, len(insts)*4)
	for _, in := range insts {
		if err := in.start(bin, false, fail); err != nil {
			killAll(insts)
			return nil, err
		}
	}
	// The schedule.
	for _, ev := range local.Schedule {
		go runEvent(ctx, srv, comp, res.RunID, plan, ev, insts, bin, fail, out)
	}
	start := time.Now()
	done := make(chan struct{})
	go func() {
		for _, in := range insts {
			in.waitFinal(ctx)
		}
		close(done)
	}()
	select {
	case <-done:
	case f := <-fail:
		res.Failed = append(res.Failed, f)
		fmt.Fprintf(out, "FAIL %s; stopping the other instances\n", f)
	case <-ctx.Done():
		res.Failed = append(res.Failed, "timeout after "+timeout.String())
		fmt.Fprintf(out, "FAIL: timeout after %s; stopping the instances\n", timeout)
	}
	killAll(insts)
	// Outcomes from run.out, as testground reads them.
	for _, in := range insts {
		if o := outcome(in.outDir); o != "success" {
			res.Failed = appendUnique(res.Failed, fmt.Sprintf("%s[%03d]: %s", in.group, in.idx, o))
		}
	}
	fmt.Fprintf(out, "run %s ended after %s: %d instances, %d failures\n", res.RunID, time.Since(start).Round(time.Millisecond), len(insts), len(res.Failed))
	if !opt.KeepTemp {
		_ = os.RemoveAll(filepath.Join(res.Dir, "tmp"))
	}
	writeJSON(filepath.Join(res.Dir, "outcome.json"), map[string]any{"failed": res.Failed, "ended": time.Now().UTC()})
	return res, nil
}

func appendUnique(s []string, v string) []string {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}

func writeJSON(path string, v any) {
	b, _ := json.MarshalIndent(v, "", "  ")
	_ = os.WriteFile(path, append(b, '\n'), 0o644)
}

// outcome reads an instance's run.out: "success", or what went wrong.
func outcome(dir string) string {
	f, err := os.Open(filepath.Join(dir, "run.out"))
	if err != nil {
		return "no run.out"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	last := "no outcome event (killed?)"
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.Contains(line, `"success_event"`):
			last = "success"
		case strings.Contains(line, `"failure_event"`):
			last = "failure: " + eventError(line)
		case strings.Contains(line, `"crash_event"`):
			last = "crash: " + eventError(line)
		}
	}
	return last
}

func eventError(line string) string {
	var v struct {
		Event struct {
			Failure *struct{ Error string } `json:"failure_event"`
			Crash   *struct{ Error string } `json:"crash_event"`
		} `json:"event"`
	}
	if json.Unmarshal([]byte(line), &v) == nil {
		if v.Event.Failure != nil {
			return v.Event.Failure.Error
		}
		if v.Event.Crash != nil {
			return firstLine(v.Event.Crash.Error)
		}
	}
	return firstLine(line)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func (in *instance) tag() string { return fmt.Sprintf("%s[%03d]", in.group, in.idx) }

// start starts the instance's process; its exit is reported on fail
// unless the schedule killed it or it exited 0.
func (in *instance) start(bin string, restart bool, fail chan<- string) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	args := []string{bin}
	if in.ns != "" {
		args = append([]string{"ip", "netns", "exec", in.ns}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = in.env
	if restart {
		cmd.Env = append(append([]string(nil), in.env...), "FLOE_TG_RESTART=1")
	}
	logf, err := os.OpenFile(filepath.Join(in.outDir, "instance.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group: a kill reaches `ip netns exec`'s child too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("%s: %w", in.tag(), err)
	}
	in.cmd, in.killed, in.starts = cmd, false, in.starts+1
	exited := make(chan struct{})
	in.exited = exited
	go func() {
		err := cmd.Wait()
		logf.Close()
		in.mu.Lock()
		killed := in.killed
		in.lastErr = err
		in.mu.Unlock()
		close(exited)
		if err != nil && !killed {
			fail <- fmt.Sprintf("%s exited: %v (see %s)", in.tag(), err, filepath.Join(in.outDir, "instance.log"))
		}
	}()
	return nil
}

// kill SIGKILLs the instance's process group and waits for it.
func (in *instance) kill(expected bool) {
	in.mu.Lock()
	cmd, exited := in.cmd, in.exited
	if cmd == nil || cmd.Process == nil {
		in.mu.Unlock()
		return
	}
	if expected {
		in.killed = true
	} else {
		in.killed = true // the run is over: its exit is not a new failure
	}
	in.mu.Unlock()
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	<-exited
}

// waitFinal waits until the instance has exited and was not killed by
// the schedule (a killed instance may be restarted).
func (in *instance) waitFinal(ctx context.Context) {
	for {
		in.mu.Lock()
		exited := in.exited
		in.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-exited:
		}
		in.mu.Lock()
		killed, same := in.killed, in.exited == exited
		in.mu.Unlock()
		if !killed && same {
			return
		}
		if !same {
			continue // restarted
		}
		in.mu.Lock()
		final := in.starts-1 >= in.restarts
		in.mu.Unlock()
		if final {
			return
		}
		// Killed: wait for a restart, or the end of the run.
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func killAll(insts []*instance) {
	var wg sync.WaitGroup
	for _, in := range insts {
		wg.Add(1)
		go func() { defer wg.Done(); in.kill(false) }()
	}
	wg.Wait()
}

// stateKey is the sync-service key sdk-go gives a state.
func stateKey(run, plan, tc, state string) string {
	return fmt.Sprintf("run:%s:plan:%s:case:%s:states:%s", run, plan, tc, state)
}

func runEvent(ctx context.Context, srv *syncsvc.Server, comp *Composition, run, plan string, ev Event, insts []*instance, bin string, fail chan<- string, out io.Writer) {
	if ev.AtState != "" {
		if err := srv.WaitState(ctx, stateKey(run, plan, comp.Global.Case, ev.AtState), max(ev.AtCount, 1)); err != nil {
			return
		}
	} else {
		at, _ := parseDur(ev.At, 0)
		select {
		case <-ctx.Done():
			return
		case <-time.After(at):
		}
	}
	if after, _ := parseDur(ev.After, 0); after > 0 {
		select {
		case <-ctx.Done():
			return
		case <-time.After(after):
		}
	}
	for _, in := range insts {
		if ev.Group != "" && in.group != ev.Group {
			continue
		}
		if len(ev.Instances) > 0 && !containsInt(ev.Instances, in.idx) {
			continue
		}
		switch ev.Action {
		case "kill":
			fmt.Fprintf(out, "schedule: SIGKILL %s\n", in.tag())
			in.kill(true)
		case "restart":
			fmt.Fprintf(out, "schedule: restart %s\n", in.tag())
			if err := in.start(bin, true, fail); err != nil {
				fail <- err.Error()
			}
		}
		if ev.Signal != "" {
			srv.Signal(stateKey(run, plan, comp.Global.Case, ev.Signal))
		}
	}
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func mergeLink(dst *LinkSpec, src LinkSpec) {
	if src.Delay != "" {
		dst.Delay = src.Delay
	}
	if src.Jitter != "" {
		dst.Jitter = src.Jitter
	}
	if src.Bandwidth != "" {
		dst.Bandwidth = src.Bandwidth
	}
	if src.Loss != 0 {
		dst.Loss = src.Loss
	}
	if src.MTU != 0 {
		dst.MTU = src.MTU
	}
}

func (l LinkSpec) spec() (linkemu.Spec, error) {
	var s linkemu.Spec
	var err error
	if s.Delay, err = parseDur(l.Delay, 0); err != nil {
		return s, fmt.Errorf("link delay: %w", err)
	}
	if s.Jitter, err = parseDur(l.Jitter, 0); err != nil {
		return s, fmt.Errorf("link jitter: %w", err)
	}
	if s.Rate, err = linkemu.ParseRate(l.Bandwidth); err != nil {
		return s, err
	}
	if l.Loss < 0 || l.Loss >= 1 {
		return s, errors.New("link loss must be in [0, 1)")
	}
	s.Loss, s.MTU = l.Loss, l.MTU
	return s, nil
}
