package runner

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestTableGroupsAndQuantiles(t *testing.T) {
	dir := t.TempDir()
	var lines []string
	// store_ms at 1KiB: 1..20 (median 10.5, p95 nearest rank 19, max 20);
	// at 64MiB: 100, 200; read_ms once. Tags n and cc are common.
	for v := 1; v <= 20; v++ {
		lines = append(lines, `{"name":"store_ms,size=1KiB,n=10,cc=bbr","measures":{"value":`+itoa(v)+`}}`)
	}
	lines = append(lines,
		`{"name":"store_ms,size=64MiB,n=10,cc=bbr","measures":{"value":100}}`,
		`{"name":"store_ms,size=64MiB,n=10,cc=bbr","measures":{"value":200}}`,
		`{"name":"read_ms,size=1KiB,n=10,cc=bbr","measures":{"value":7}}`,
		`not json`,
	)
	p := filepath.Join(dir, "client", "0", "results.out")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pts, err := ReadResults(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(pts) != 23 {
		t.Fatalf("%d points, want 23", len(pts))
	}
	var b bytes.Buffer
	if err := WriteTable(&b, pts, TableOptions{}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"Common to every row: cc=bbr, n=10",
		"| metric | size | n | median | p95 | max |",
		"| store_ms | 1KiB | 20 | 10 ms | 19 ms | 20 ms |",
		"| store_ms | 64MiB | 2 | 150 ms | 200 ms | 200 ms |",
		"| read_ms | 1KiB | 1 | 7 ms | 7 ms | 7 ms |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	// 1KiB sorts before 64MiB, store before read.
	if strings.Index(out, "| store_ms | 1KiB") > strings.Index(out, "| store_ms | 64MiB") ||
		strings.Index(out, "| store_ms | 64MiB") > strings.Index(out, "| read_ms") {
		t.Errorf("rows out of order:\n%s", out)
	}
	b.Reset()
	if err := WriteTable(&b, pts, TableOptions{Metrics: []string{"read_ms"}}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "store_ms") {
		t.Errorf("metric filter kept store_ms:\n%s", b.String())
	}
}

func itoa(v int) string { return strconv.Itoa(v) }

func TestLoadComposition(t *testing.T) {
	c, err := Load("../compositions/smoke.toml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Global.Case != "byzantine" || c.Global.TotalInstances != 6 || len(c.Groups) != 3 {
		t.Fatalf("smoke: case %q, %d instances, %d groups", c.Global.Case, c.Global.TotalInstances, len(c.Groups))
	}
	m, err := LoadManifest("../manifest.toml")
	if err != nil {
		t.Fatal(err)
	}
	d, err := m.Defaults("byzantine", 6)
	if err != nil {
		t.Fatal(err)
	}
	if d["n_shards"] != "100" || d["blobs"] != "3" {
		t.Fatalf("byzantine defaults %v", d)
	}
	if _, err := m.Defaults("byzantine", 1); err == nil {
		t.Fatal("1 instance accepted for a case of at least 3")
	}
	if _, err := m.Defaults("nope", 6); err == nil {
		t.Fatal("unknown case accepted")
	}
	bad := filepath.Join(t.TempDir(), "bad.toml")
	_ = os.WriteFile(bad, []byte("[global]\ncase = \"byzantine\"\ntotal_instances = 3\n[[groups]]\nid = \"a\"\ninstances = { count = 2 }\n"), 0o644)
	if _, err := Load(bad); err == nil {
		t.Fatal("total_instances 3 with groups of 2 accepted")
	}
}

func TestOutcome(t *testing.T) {
	dir := t.TempDir()
	if o := outcome(dir); o != "no run.out" {
		t.Fatalf("outcome without run.out: %q", o)
	}
	write := func(s string) { _ = os.WriteFile(filepath.Join(dir, "run.out"), []byte(s), 0o644) }
	write(`{"event":{"start_event":{}}}` + "\n")
	if o := outcome(dir); !strings.HasPrefix(o, "no outcome") {
		t.Fatalf("outcome of a killed instance: %q", o)
	}
	write(`{"event":{"failure_event":{"error":"2 Byzantine nodes detected, want 3"}}}` + "\n")
	if o := outcome(dir); o != "failure: 2 Byzantine nodes detected, want 3" {
		t.Fatalf("failure outcome: %q", o)
	}
	write(`{"event":{"success_event":{}}}` + "\n")
	if o := outcome(dir); o != "success" {
		t.Fatalf("success outcome: %q", o)
	}
}
