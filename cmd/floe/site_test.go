package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"floe/node"
	"floe/node/gateway"
)

// floe site publish, update, list and show on an in-process devnet, the
// site read back through a gateway.
func TestSiteCommands(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	quiet := slog.New(slog.DiscardHandler)
	d, err := node.StartDevnet(ctx, node.DevnetConfig{Nodes: 4, Shards: 20, Dir: t.TempDir(), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	cfg := d.ClientConfigPath()
	c, err := node.NewClient(ctx, d.ClientConfig(), node.WithClientLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gctx, gcancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() { errc <- gateway.Serve(gctx, ln, c, gateway.Config{Logger: quiet}) }()
	defer func() {
		gcancel()
		if err := <-errc; err != nil {
			t.Errorf("gateway: %v", err)
		}
	}()
	gw := "http://" + ln.Addr().String()
	get := func(u string) (int, string) {
		t.Helper()
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	dir := t.TempDir()
	for name, data := range map[string]string{"index.html": "<h1>one</h1>", "a/b.css": "b{}", "404.html": "lost"} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(data), 0o644)
	}
	var pub siteOutput
	if err := json.Unmarshal([]byte(mustRunQ(t, "site", "publish", "--config", cfg, "--gateway", gw, "--name", "cli", dir, "--json")), &pub); err != nil {
		t.Fatal(err)
	}
	if pub.URL != gw+"/sites/"+pub.SiteID.String()+"/" || pub.Stored != 3 || pub.Manifest.Name != "cli" {
		t.Fatalf("publish: %+v", pub)
	}
	if code, body := get(pub.URL); code != 200 || body != "<h1>one</h1>" {
		t.Fatalf("GET %s: %d %q", pub.URL, code, body)
	}
	if code, body := get(pub.URL + "x"); code != 404 || body != "lost" {
		t.Fatalf("GET missing: %d %q", code, body)
	}

	// The text form of an update: the site ID and URL on stdout.
	os.WriteFile(filepath.Join(dir, "index.html"), []byte("<h1>two</h1>"), 0o644)
	out, stderr, err := runSplit(t, "site", "update", "--config", cfg, "--gateway", gw, pub.SiteID.String(), dir)
	if err != nil || out != pub.SiteID.String()+"\n"+pub.URL+"\n" || !strings.Contains(stderr, "1 files stored in 1 quilt(s), 2 unchanged, 0 removed") {
		t.Fatalf("site update: %v\n%s%s", err, out, stderr)
	}
	if code, body := get(pub.URL); code != 200 || body != "<h1>two</h1>" {
		t.Fatalf("GET after update: %d %q", code, body)
	}
	_, stderr, err = runSplit(t, "site", "update", "--config", cfg, pub.SiteID.String(), dir)
	if err != nil || !strings.Contains(stderr, "nothing changed") {
		t.Fatalf("update without changes: %v %s", err, stderr)
	}

	var sites []node.SiteInfo
	if err := json.Unmarshal([]byte(mustRunQ(t, "site", "list", "--config", cfg, "--json")), &sites); err != nil {
		t.Fatal(err)
	}
	if len(sites) != 1 || sites[0].SiteID != pub.SiteID || sites[0].Name != "cli" {
		t.Fatalf("site list: %+v", sites)
	}
	show := mustRunQ(t, "site", "show", "--config", cfg, pub.SiteID.String())
	if !strings.Contains(show, "/a/b.css") || !strings.Contains(show, "text/css; charset=utf-8") || !strings.Contains(show, `404 page "/404.html"`) {
		t.Fatalf("site show:\n%s", show)
	}
	// Refusals.
	for _, args := range [][]string{
		{"site", "publish", "--config", cfg, filepath.Join(dir, "nope")},
		{"site", "update", "--config", cfg, "0xzz", dir},
		{"site", "show", "--config", cfg, sites[0].ManifestID.String()},
	} {
		if _, _, err := runSplit(t, args...); err == nil {
			t.Errorf("floe %s succeeded", strings.Join(args, " "))
		}
	}
}
