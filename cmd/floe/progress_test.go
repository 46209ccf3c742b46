package main

import (
	"bytes"
	"strings"
	"testing"

	"floe/node"
)

func TestProgressBar(t *testing.T) {
	var buf bytes.Buffer
	if newProgressBar(&buf).on {
		t.Fatal("progress bar drawn on something that is not a terminal")
	}
	b := &progressBar{w: &buf, on: true}
	b.update(node.Progress{Phase: "encode", Done: 0, Total: 100})
	b.update(node.Progress{Phase: "distribute", Done: 50, Total: 100})
	b.update(node.Progress{Phase: "distribute", Done: 100, Total: 100})
	b.finish()
	out := buf.String()
	for _, want := range []string{"encode", "  0%", " 50%", "100%", "[" + strings.Repeat("=", 30) + "]", "\r\033[K"} {
		if !strings.Contains(out, want) {
			t.Fatalf("progress output %q lacks %q", out, want)
		}
	}
}
