package store

// Crash test (helper B's file): a child process writes slivers through the
// pebble-backed Store and reports each one after PutSliver returns; the
// parent SIGKILLs it at random moments, reopens the store and checks that
// every reported sliver reads back intact, that no sliver exists with
// partial or wrong content, and that data and index entries agree (Check).

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"floe/codec"
)

const (
	crashEnvDir = "FLOE_STORE_CRASH_DIR"
	crashEnvRun = "FLOE_STORE_CRASH_RUN"
	crashN      = 10 // shards of the crash-test blobs
	crashBlobs  = 40 // blobs a child writes at most (then it idles)
	crashRuns   = 24 // SIGKILLs
)

// crashBlob is the blob ID of blob j of child run `run`.
func crashBlob(run, j int) codec.BlobID {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:], uint64(run))
	binary.LittleEndian.PutUint64(b[8:], uint64(j))
	return sha256.Sum256(append([]byte("crash"), b[:]...))
}

// crashData is the content of sliver (pair, t) of blob j of run: 1 B to
// 12 KiB, derived from the address so the parent can recompute it.
func crashData(run, j, pair int, t codec.SliverType) []byte {
	seed := sha256.Sum256(fmt.Appendf(nil, "%d/%d/%d/%d", run, j, pair, t))
	n := 1 + int(binary.LittleEndian.Uint32(seed[:]))%(12<<10)
	out := make([]byte, 0, n+32)
	h := seed
	for len(out) < n {
		h = sha256.Sum256(h[:])
		out = append(out, h[:]...)
	}
	return out[:n]
}

// TestCrashChild is the child half of TestCrash; it does nothing unless
// started by TestCrash.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashEnvDir)
	if dir == "" {
		t.Skip("child of TestCrash only")
	}
	run, err := strconv.Atoi(os.Getenv(crashEnvRun))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s, err := Open(ctx, Options{Path: dir, Logger: discardLogger()})
	if err != nil {
		fmt.Fprintf(os.Stdout, "E open: %v\n", err)
		os.Exit(3)
	}
	for j := 0; j < crashBlobs; j++ {
		id := crashBlob(run, j)
		if err := s.Register(ctx, id, Registration{NShards: crashN, EndEpoch: 1 << 40}); err != nil {
			fmt.Fprintf(os.Stdout, "E register: %v\n", err)
			os.Exit(3)
		}
		for pair := 0; pair < crashN; pair++ {
			for _, st := range []codec.SliverType{codec.Primary, codec.Secondary} {
				if err := s.PutSliver(ctx, id, pair, st, crashData(run, j, pair, st)); err != nil {
					fmt.Fprintf(os.Stdout, "E put: %v\n", err)
					os.Exit(3)
				}
				// Reported only after PutSliver returned: this sliver
				// must survive any kill from now on.
				if _, err := fmt.Fprintf(os.Stdout, "W %d %d %d\n", j, pair, st); err != nil {
					os.Exit(3)
				}
			}
		}
	}
	fmt.Fprintln(os.Stdout, "D")
	time.Sleep(time.Hour) // wait for the kill
}

// discardLogger keeps test output clean.
func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

type crashSliver struct {
	run, j, pair int
	t            codec.SliverType
}

// TestCrash SIGKILLs a writing child crashRuns times at random moments.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns child processes")
	}
	if os.Getenv(crashEnvDir) != "" {
		t.Skip("already the child")
	}
	dir := t.TempDir()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	var reported []crashSliver
	attempted := map[crashSliver]bool{}
	totalWritten := 0
	for run := 0; run < crashRuns; run++ {
		t0 := time.Now()
		lines, err := crashOnce(t, dir, run, time.Duration(rng.IntN(60))*time.Millisecond)
		if err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		t.Logf("run %d: child %v", run, time.Since(t0))
		n := 0
		for _, l := range lines {
			f := strings.Fields(l)
			if len(f) != 4 || f[0] != "W" {
				if l != "D" {
					t.Fatalf("run %d: child said %q", run, l)
				}
				continue
			}
			j, _ := strconv.Atoi(f[1])
			p, _ := strconv.Atoi(f[2])
			ty, _ := strconv.Atoi(f[3])
			c := crashSliver{run, j, p, codec.SliverType(ty)}
			reported = append(reported, c)
			n++
		}
		totalWritten += n
		// Every slot up to the next one after the last reported sliver may
		// hold data: (blob, pair, type) in write order.
		for k := 0; k <= n && k < crashBlobs*crashN*2; k++ {
			attempted[crashSliver{run, k / (2 * crashN), (k / 2) % crashN, codec.SliverType(k % 2)}] = true
		}
		crashVerify(t, dir, run, reported, attempted)
	}
	t.Logf("%d kills, %d slivers reported written, all intact", crashRuns, totalWritten)
	if totalWritten == 0 {
		t.Fatal("children never wrote anything; the test proved nothing")
	}
}

// crashOnce starts a child, lets it write for about `after` once it has
// written its first sliver, SIGKILLs it, reaps it and returns the complete
// lines it printed.
func crashOnce(t *testing.T, dir string, run int, after time.Duration) ([]string, error) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnvDir+"="+dir, crashEnvRun+"="+strconv.Itoa(run))
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	linesCh := make(chan string, 1024)
	go func() {
		defer close(linesCh)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() { // only complete, newline-terminated lines
			linesCh <- sc.Text()
		}
	}()
	var lines []string
	timer := time.NewTimer(10 * time.Second) // safety net, never expected
	defer timer.Stop()
	var kill <-chan time.Time
	killed := false
	for !killed {
		select {
		case l, ok := <-linesCh:
			if !ok {
				killed = true // child exited on its own (an error)
				break
			}
			lines = append(lines, l)
			if kill == nil {
				kill = time.After(after)
			}
		case <-kill:
			killed = true
		case <-timer.C:
			killed = true
		}
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	for l := range linesCh { // drain what the child printed before dying
		lines = append(lines, l)
	}
	werr := cmd.Wait() // reap
	var ee *exec.ExitError
	if errors.As(werr, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			return lines, nil
		}
	}
	return lines, fmt.Errorf("child ended with %v, not SIGKILL; output %q", werr, lines)
}

// crashVerify reopens the store and checks it.
func crashVerify(t *testing.T, dir string, run int, reported []crashSliver, attempted map[crashSliver]bool) {
	t.Helper()
	ctx := context.Background()
	t0 := time.Now()
	s, err := Open(ctx, Options{Path: dir, Logger: discardLogger()})
	if err != nil {
		t.Fatalf("after kill %d: reopen: %v", run, err)
	}
	defer func() { t.Logf("run %d: verify %v", run, time.Since(t0)) }()
	defer s.Close()
	for _, c := range reported {
		if c.run != run && run != crashRuns-1 {
			continue // earlier runs' slivers: checked after their own kill and at the end
		}
		got, err := s.GetSliver(ctx, crashBlob(c.run, c.j), c.pair, c.t)
		if err != nil {
			t.Fatalf("after kill %d: reported sliver %+v: %v", run, c, err)
		}
		if string(got) != string(crashData(c.run, c.j, c.pair, c.t)) {
			t.Fatalf("after kill %d: reported sliver %+v has wrong content", run, c)
		}
	}
	// The sliver in flight at the kill (and any other attempted one) is
	// either absent or complete, never partial.
	for c := range attempted {
		if c.run != run {
			continue
		}
		got, err := s.GetSliver(ctx, crashBlob(c.run, c.j), c.pair, c.t)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			t.Fatalf("after kill %d: sliver %+v: %v", run, c, err)
		}
		if string(got) != string(crashData(c.run, c.j, c.pair, c.t)) {
			t.Fatalf("after kill %d: sliver %+v is partial or wrong", run, c)
		}
	}
	rep, err := s.Check(ctx)
	if err != nil {
		t.Fatalf("after kill %d: check: %v", run, err)
	}
	if !rep.OK() {
		t.Fatalf("after kill %d: check: corrupt %v, inconsistent %v", run, rep.Corrupt, rep.Inconsistent)
	}
	// Accounting recomputed on open matches the data.
	u := s.Usage()
	var want int64
	for _, c := range reported {
		want += int64(len(crashData(c.run, c.j, c.pair, c.t)))
	}
	if u.Total < want {
		t.Fatalf("after kill %d: usage %d bytes < %d bytes of reported slivers", run, u.Total, want)
	}
}
