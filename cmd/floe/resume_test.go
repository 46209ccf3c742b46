package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"floe/codec"
	"floe/node"
)

// A store interrupted after registration (Ctrl-C, then a SIGKILL) leaves
// its registration; running it again finishes that one: one charge, and
// the blob ends certified.
func TestProcessStoreResumesRegistration(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process swarm test")
	}
	const shards = 20
	s := newProcSwarm(t, 4, shards)
	file, data := writeRandom(t, s.dir, "resume", 300_000)
	p, _ := codec.NewParams(shards)
	_, id, err := codec.ComputeMetadata(p, data)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := node.LoadClientConfig(s.client)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// Freeze half the committee (SIGSTOP, by PID): pushes to it hang, so a
	// store registers and then waits for confirmations it cannot get.
	for _, i := range []int{0, 1} {
		if err := s.nodes[i].cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
	}
	frozen := true
	thaw := func() {
		if frozen {
			for _, i := range []int{0, 1} {
				s.nodes[i].cmd.Process.Signal(syscall.SIGCONT)
			}
			frozen = false
		}
	}
	t.Cleanup(thaw)

	// startStore runs `floe store` and waits until the blob is registered.
	startStore := func(objects int) (*exec.Cmd, *bytes.Buffer) {
		cmd := exec.Command(s.bin, "store", "--config", s.client, "--epochs", "3", file)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			st, err := s.chain.BlobStatus(ctx, id)
			if err == nil && len(st.Objects) >= objects {
				// Give the store a moment past registration, into the push.
				time.Sleep(300 * time.Millisecond)
				return cmd, &stderr
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("the store never registered the blob: %s", stderr.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	// Ctrl-C: exit 130, "interrupted", and how to finish.
	cmd, stderr := startStore(1)
	cmd.Process.Signal(os.Interrupt)
	err = cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 130 {
		t.Fatalf("interrupted store exited with %v; stderr %q", err, stderr.String())
	}
	if line := strings.TrimSpace(stderr.String()); !strings.HasPrefix(line, "floe: interrupted") || !strings.Contains(line, "storing the same bytes again finishes it") {
		t.Fatalf("interrupted store said %q", line)
	}
	acct, err := s.chain.Account(ctx, cfg.Account)
	if err != nil {
		t.Fatal(err)
	}
	paid := acct.Balance

	// Again, killed outright this time: it reuses the registration.
	cmd, _ = startStore(1)
	cmd.Process.Kill()
	cmd.Wait()

	thaw()
	out, errOut, err := s.floe("store", "--config", s.client, "--epochs", "3", "--json", file)
	if err != nil {
		t.Fatalf("store again: %v\n%s", err, errOut)
	}
	if !strings.Contains(out, `"reused_registration": true`) || !strings.Contains(out, `"cost": 0`) {
		t.Fatalf("the store did not reuse the registration: %s", out)
	}
	st, err := s.chain.BlobStatus(ctx, id)
	if err != nil || !st.Certified() || len(st.Objects) != 1 {
		t.Fatalf("after the resumed store: %+v %v; want one certified object", st, err)
	}
	acct, err = s.chain.Account(ctx, cfg.Account)
	if err != nil || acct.Balance != paid {
		t.Fatalf("balance %d after the resumed store, %d after the first charge: paid twice", acct.Balance, paid)
	}
	s.read(id.String(), data)
}
