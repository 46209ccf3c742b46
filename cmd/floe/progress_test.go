package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"floe/node"
)

func TestProgressBar(t *testing.T) {
	var buf bytes.Buffer
	if newProgressBar(&buf).on {
		t.Fatal("progress bar drawn on something that is not a terminal")
	}
	b := newProgressBar(&buf)
	b.update(node.Progress{Phase: "encode", Done: 0, Total: 100})
	b.finish()
	if buf.Len() != 0 {
		t.Fatalf("progress drawn on a pipe: %q", buf.String())
	}

	now := time.Unix(1000, 0)
	b = &progressBar{w: &buf, on: true, now: func() time.Time { return now }}
	step := func(d time.Duration, p node.Progress) string {
		now = now.Add(d)
		buf.Reset()
		b.update(p)
		return buf.String()
	}
	const mib = 1 << 20
	if out := step(0, node.Progress{Phase: "encode", Done: 0, Total: 64 * mib}); !strings.Contains(out, "encode") || !strings.Contains(out, "0 B/64.0 MiB") {
		t.Fatalf("start of encode: %q", out)
	}
	// Nothing reported for a while: the line still moves (a block, the
	// time spent), no percentage pretends to be 0.
	if out := step(time.Second, node.Progress{Phase: "encode", Done: 0, Total: 64 * mib}); !strings.Contains(out, "<=>") || strings.Contains(out, "0%") || !strings.Contains(out, "1s") {
		t.Fatalf("encode under way: %q", out)
	}
	if out := step(time.Second, node.Progress{Phase: "encode", Done: 64 * mib, Total: 64 * mib}); !strings.Contains(out, "100%") ||
		!strings.Contains(out, "64.0 MiB/64.0 MiB") || !strings.Contains(out, "32.0 MiB/s") || !strings.Contains(out, "["+strings.Repeat("=", 30)+"]") {
		t.Fatalf("end of encode: %q", out)
	}
	// Bytes, throughput and time left.
	step(0, node.Progress{Phase: "distribute", Done: 0, Total: 300 * mib})
	if out := step(2*time.Second, node.Progress{Phase: "distribute", Done: 100 * mib, Total: 300 * mib}); !strings.Contains(out, " 33%") ||
		!strings.Contains(out, "100.0 MiB/300.0 MiB") || !strings.Contains(out, "50.0 MiB/s") || !strings.Contains(out, "ETA 4s") {
		t.Fatalf("distribute: %q", out)
	}
	// Updates closer together than the redraw interval are not drawn.
	if out := step(10*time.Millisecond, node.Progress{Phase: "distribute", Done: 101 * mib, Total: 300 * mib}); out != "" {
		t.Fatalf("redrawn 10 ms later: %q", out)
	}
	// Steps (register, certify) have no byte counts.
	if out := step(0, node.Progress{Phase: "certify", Done: 0, Total: 1}); !strings.Contains(out, "certify") || strings.Contains(out, "MiB") {
		t.Fatalf("certify: %q", out)
	}
	buf.Reset()
	b.finish()
	if buf.String() != "\r\033[K" {
		t.Fatalf("finish wrote %q, want the line cleared", buf.String())
	}
}
