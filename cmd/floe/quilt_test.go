package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"floe/chainlink"
	"floe/codec"
	"floe/node"
)

// runSplit runs floe in process and returns stdout, stderr and the error.
func runSplit(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	cmd, _ := newRootCommand()
	var out, errb bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	cmd.SetArgs(args)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err := cmd.ExecuteContext(ctx)
	return out.String(), errb.String(), err
}

func mustRunQ(t *testing.T, args ...string) string {
	t.Helper()
	out, stderr, err := runSplit(t, args...)
	if err != nil {
		t.Fatalf("floe %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return out
}

// store-quilt, list-patches, read-quilt and attr against an in-process
// devnet, their --json output parsed back, and their refusals.
func TestQuiltAndAttrCommands(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, err := node.StartDevnet(ctx, node.DevnetConfig{Nodes: 4, Shards: 20, Dir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	cfg := d.ClientConfigPath()

	dir := t.TempDir()
	files := map[string][]byte{
		"index.html":         []byte("<!doctype html><title>q</title>"),
		"css/site.css":       []byte("body { color: red }"),
		"img/pixel.bin":      bytes.Repeat([]byte{0xab}, 5000),
		"données/été.txt":    []byte("non-ASCII identifiers"),
		"deep/a/b/c/d/e.txt": []byte("e"),
	}
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var st quiltStoreOutput
	if err := json.Unmarshal([]byte(mustRunQ(t, "store-quilt", "--config", cfg, "--dir", dir, "--tag", "site=test", "--json")), &st); err != nil {
		t.Fatal(err)
	}
	if len(st.StoredQuiltBlobs) != len(files) || !st.TypeAttribute || st.Blob.ObjectID.IsZero() {
		t.Fatalf("store-quilt: %+v", st)
	}
	// The text form: the quilt ID, then patch ID and identifier lines.
	text := mustRunQ(t, "store-quilt", "--config", cfg, "--dir", dir, "--tag", "site=test")
	lines := strings.Split(strings.TrimSpace(text), "\n")
	if lines[0] != st.QuiltID.String() || len(lines) != 1+len(files) ||
		lines[1] != st.StoredQuiltBlobs[0].PatchID.String()+"\t"+st.StoredQuiltBlobs[0].Identifier {
		t.Fatalf("store-quilt text:\n%s", text)
	}

	var list []patchOutput
	if err := json.Unmarshal([]byte(mustRunQ(t, "list-patches", "--config", cfg, st.QuiltID.String(), "--json")), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != len(files) {
		t.Fatalf("list-patches: %+v", list)
	}
	for i, p := range list {
		if p.PatchID != st.StoredQuiltBlobs[i].PatchID || p.Tags["site"] != "test" || string(files[p.Identifier]) == "" {
			t.Fatalf("patch %d: %+v", i, p)
		}
	}
	if out := mustRunQ(t, "list-patches", "--config", cfg, st.QuiltID.String()); !strings.Contains(out, "données/été.txt") {
		t.Fatalf("list-patches text:\n%s", out)
	}

	// One file to stdout, by identifier and by patch ID.
	if got := mustRunQ(t, "read-quilt", "--config", cfg, st.QuiltID.String(), "css/site.css"); got != string(files["css/site.css"]) {
		t.Fatalf("read-quilt by identifier: %q", got)
	}
	for _, p := range st.StoredQuiltBlobs {
		if got := mustRunQ(t, "read-quilt", "--config", cfg, "--patch-id", p.PatchID.String()); got != string(files[p.Identifier]) {
			t.Fatalf("read-quilt --patch-id %s: %d bytes", p.Identifier, len(got))
		}
	}
	// Several into a directory, with --json.
	outDir := t.TempDir()
	var read []quiltFileOutput
	if err := json.Unmarshal([]byte(mustRunQ(t, "read-quilt", "--config", cfg, "--out-dir", outDir, "--json",
		st.QuiltID.String(), "données/été.txt", "deep/a/b/c/d/e.txt", "img/pixel.bin")), &read); err != nil {
		t.Fatal(err)
	}
	for _, r := range read {
		got, err := os.ReadFile(filepath.Join(outDir, filepath.FromSlash(r.Identifier)))
		if err != nil || !bytes.Equal(got, files[r.Identifier]) || r.Full || r.Slivers < 1 {
			t.Fatalf("read %+v: %v", r, err)
		}
	}

	// Attributes of the quilt's object.
	obj := st.Blob.ObjectID.String()
	var a attrOutput
	json.Unmarshal([]byte(mustRunQ(t, "attr", "get", "--config", cfg, obj, "--json")), &a)
	if a.Attributes[chainlink.AttrBlobType] != chainlink.AttrBlobTypeQuilt {
		t.Fatalf("attr get: %+v", a)
	}
	out := mustRunQ(t, "attr", "set", "--config", cfg, obj, "content-type=text/html", "link=<https://x>")
	if out != "_walrusBlobType=quilt\ncontent-type=text/html\nlink=<https://x>\n" {
		t.Fatalf("attr set:\n%s", out)
	}
	if out := mustRunQ(t, "attr", "get", "--config", cfg, obj, "content-type"); out != "text/html\n" {
		t.Fatalf("attr get KEY: %q", out)
	}
	if out := mustRunQ(t, "attr", "rm", "--config", cfg, obj, "link"); out != "_walrusBlobType=quilt\ncontent-type=text/html\n" {
		t.Fatalf("attr rm:\n%s", out)
	}
	if out := mustRunQ(t, "attr", "rm", "--config", cfg, obj, "--all"); out != "" {
		t.Fatalf("attr rm --all:\n%s", out)
	}

	// Refusals: usage errors, typed input errors, nothing stored.
	for _, tc := range []struct {
		args  []string
		usage bool
		want  string
	}{
		{[]string{"store-quilt", "--config", cfg}, true, "FILE arguments or --dir"},
		{[]string{"store-quilt", "--config", cfg, "--tag", "novalue", filepath.Join(dir, "index.html")}, true, "key=value"},
		{[]string{"store-quilt", "--config", cfg, filepath.Join(dir, "index.html"), filepath.Join(dir, "index.html")}, false, "duplicate quilt identifier"},
		{[]string{"read-quilt", "--config", cfg, st.QuiltID.String()}, true, "at least one IDENTIFIER"},
		{[]string{"read-quilt", "--config", cfg, st.QuiltID.String(), "a", "b"}, true, "--out-dir"},
		{[]string{"read-quilt", "--config", cfg, st.QuiltID.String(), "nope.txt"}, false, "quilt patch not found"},
		{[]string{"read-quilt", "--config", cfg, "--patch-id", "xyz"}, false, "invalid quilt patch ID"},
		{[]string{"attr", "rm", "--config", cfg, obj}, true, "KEYs or --all"},
		{[]string{"attr", "rm", "--config", cfg, obj, "absent"}, false, "not found"},
		{[]string{"attr", "set", "--config", cfg, obj, "novalue"}, true, "KEY=VALUE"},
		{[]string{"attr", "get", "--config", cfg, chainlink.ID{1}.String()}, false, "not found"},
	} {
		_, _, err := runSplit(t, tc.args...)
		if err == nil || isUsage(err) != tc.usage || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("floe %s: %v (usage %v), want %q", strings.Join(tc.args, " "), err, err != nil && isUsage(err), tc.want)
		}
	}
	// A patch ID names a quilt's columns: one of another quilt is refused.
	bad := st.StoredQuiltBlobs[0].PatchID
	bad.QuiltID = codec.BlobID{1}
	if _, _, err := runSplit(t, "read-quilt", "--config", cfg, "--patch-id", bad.String()); err == nil {
		t.Errorf("read-quilt of an unknown quilt succeeded")
	}
}
