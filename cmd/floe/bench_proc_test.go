package main

import (
	"crypto/sha256"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// procCPU reads a running process's CPU time from /proc; it must agree
// with the kernel's own accounting of this process (getrusage) to the
// clock tick, and grow with work done.
func TestProcCPUFollowsTheProcess(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("/proc/PID/stat is Linux's")
	}
	rusage := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			t.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	before := procCPU(os.Getpid())
	if before < 0 {
		t.Fatal("no CPU time for this process")
	}
	// Burn about 200 ms of CPU.
	buf := make([]byte, 1<<20)
	for end := rusage() + 200*time.Millisecond; rusage() < end; {
		for range 16 {
			sum := sha256.Sum256(buf)
			buf[0] = sum[0]
		}
	}
	after, ru := procCPU(os.Getpid()), rusage()
	if after-before < 100*time.Millisecond {
		t.Fatalf("CPU time grew %v across 200 ms of work", after-before)
	}
	if d := ru - after; d < -20*time.Millisecond || d > 50*time.Millisecond {
		t.Fatalf("/proc says %v, getrusage %v", after, ru)
	}
	if procCPU(-1) != -1 {
		t.Fatal("a process that does not exist has a CPU time")
	}
}
