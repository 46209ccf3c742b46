package node

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"floe/chainlink"
	"floe/codec"
)

var testPatch = codec.QuiltPatchID{QuiltID: codec.BlobID{9}, Start: 1, End: 2}

func res(p string) SiteResource { return SiteResource{Path: p, PatchID: testPatch} }

func testManifest() *SiteManifest {
	return &SiteManifest{Version: 1, Name: "t", NotFound: "/404.html",
		Redirects: map[string]string{"/old.html": "/new.html", "/gone": "/"},
		Resources: []SiteResource{
			res("/404.html"), res("/docs/index.html"), res("/index.html"), res("/new.html"), res("/a b.txt"),
		}}
}

func TestSiteResolve(t *testing.T) {
	m := testManifest()
	m.Resources[0], m.Resources[4] = m.Resources[4], m.Resources[0]
	// sorted: "/404.html" "/a b.txt" "/docs/index.html" "/index.html" "/new.html"
	m.Resources = []SiteResource{res("/404.html"), res("/a b.txt"), res("/docs/index.html"), res("/index.html"), res("/new.html")}
	for _, tc := range []struct {
		path     string
		resource string
		status   int
		redirect string
	}{
		{"", "/index.html", 200, ""},
		{"/", "/index.html", 200, ""},
		{"/index.html", "/index.html", 200, ""},
		{"/docs/", "/docs/index.html", 200, ""},
		{"/docs", "", 0, "/docs/"},
		{"/docs/../index.html", "/index.html", 200, ""},
		{"/../../etc/passwd", "/404.html", 404, ""},
		{"/old.html", "", 0, "/new.html"},
		{"/gone/", "", 0, "/"},
		{"/a b.txt", "/a b.txt", 200, ""},
		{"/missing.png", "/404.html", 404, ""},
		{"/new.html/", "/404.html", 404, ""},
	} {
		a := m.Resolve(tc.path)
		got := ""
		if a.Resource != nil {
			got = a.Resource.Path
		}
		if got != tc.resource || a.Redirect != tc.redirect || (tc.redirect == "" && a.Status != tc.status) {
			t.Errorf("Resolve(%q) = %q %d redirect %q, want %q %d %q", tc.path, got, a.Status, a.Redirect, tc.resource, tc.status, tc.redirect)
		}
	}
	m.NotFound = ""
	if a := m.Resolve("/nope"); a.Resource != nil || a.Status != 404 {
		t.Errorf("no 404 page: %+v", a)
	}
}

func TestParseSiteManifest(t *testing.T) {
	good, _ := json.Marshal(testManifest())
	// testManifest's resources are not sorted: refused.
	if _, err := ParseSiteManifest(good); !errors.Is(err, ErrNotASite) {
		t.Errorf("unsorted resources: %v", err)
	}
	m := testManifest()
	m.Resources = []SiteResource{res("/404.html"), res("/index.html"), res("/new.html")}
	good, _ = json.Marshal(m)
	if _, err := ParseSiteManifest(good); err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string]string{
		"not JSON":            "{",
		"unknown field":       `{"version":1,"name":"","resources":[],"x":1}`,
		"version 2":           `{"version":2,"name":"","resources":[]}`,
		"relative path":       `{"version":1,"name":"","resources":[{"path":"a.html"}]}`,
		"unclean path":        `{"version":1,"name":"","resources":[{"path":"/a/../b"}]}`,
		"duplicate path":      `{"version":1,"name":"","resources":[{"path":"/a"},{"path":"/a"}]}`,
		"404 page missing":    `{"version":1,"name":"","resources":[{"path":"/a"}],"not_found":"/404.html"}`,
		"redirect off-site":   `{"version":1,"name":"","resources":[],"redirects":{"/a":"https://evil.example"}}`,
		"trailing data":       `{"version":1,"name":"","resources":[]} {}`,
		"newline in a path":   `{"version":1,"name":"","resources":[{"path":"/a\nb"}]}`,
		"redirect from ../":   `{"version":1,"name":"","resources":[],"redirects":{"/../a":"/b"}}`,
		"not_found relative":  `{"version":1,"name":"","resources":[{"path":"/a"}],"not_found":"a"}`,
		"resources not array": `{"version":1,"name":"","resources":{}}`,
	} {
		if _, err := ParseSiteManifest([]byte(b)); !errors.Is(err, ErrNotASite) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func FuzzParseSiteManifest(f *testing.F) {
	m := testManifest()
	m.Resources = []SiteResource{res("/404.html"), res("/index.html")}
	b, _ := json.Marshal(m)
	f.Add(b)
	f.Add([]byte(`{"version":1,"name":"","resources":[{"path":"/"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseSiteManifest(b)
		if err != nil {
			if !errors.Is(err, ErrNotASite) {
				t.Fatalf("error %v is not ErrNotASite", err)
			}
			return
		}
		// A valid manifest resolves every path without panicking, to a
		// resource it holds or a path of the site.
		for _, p := range []string{"", "/", "/index.html", "/a/", "/../x", "//x", "/a/./b"} {
			a := m.Resolve(p)
			if a.Resource != nil && m.Resource(a.Resource.Path) == nil {
				t.Fatalf("Resolve(%q) answered a resource it does not hold", p)
			}
			if a.Redirect != "" && checkSitePath(a.Redirect) != nil && a.Redirect[len(a.Redirect)-1] != '/' {
				t.Fatalf("Resolve(%q) redirects to %q", p, a.Redirect)
			}
		}
	})
}

func writeSite(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// A site on a devnet: published, listed, loaded, and updated with one
// changed file, one new and one removed: only those are stored.
func TestSitePublishUpdate(t *testing.T) {
	d := startDevnet(t, 4, 20)
	c := newTestClient(t, d)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	writeSite(t, dir, map[string]string{
		"index.html": "<h1>v1</h1>", "style.css": "h1{}", "data/x.json": `{"a":1}`, "404.html": "missing",
		"old.txt": "bye", SiteConfigFile: `{"name":"demo","headers":{"/index.html":{"X-Frame-Options":"DENY"}}}`,
	})
	pub, err := c.PublishSite(ctx, dir, "", StoreOptions{Epochs: 2})
	if err != nil {
		t.Fatal(err)
	}
	m := pub.Manifest
	if !pub.Changed || pub.Stored != 5 || len(pub.Quilts) != 1 || m.Name != "demo" || m.NotFound != "/404.html" || len(m.Resources) != 5 {
		t.Fatalf("publish: %+v", pub)
	}
	if r := m.Resource("/index.html"); r == nil || r.ContentType != "text/html; charset=utf-8" || r.Headers["X-Frame-Options"] != "DENY" {
		t.Fatalf("index.html: %+v", r)
	}
	if r := m.Resource("/data/x.json"); r == nil || r.ContentType != "application/json" {
		t.Fatalf("x.json: %+v", r)
	}
	// The patches hold the files.
	for _, r := range m.Resources {
		rd, err := c.ReadQuiltPatch(ctx, r.PatchID, ReadOptions{})
		if err != nil || len(rd.File.Data) != r.Size || rd.File.Tags["content-type"] != r.ContentType {
			t.Fatalf("%s: %v", r.Path, err)
		}
	}
	sites, err := ListSites(ctx, c.Chain(), d.ClientConfig().Account)
	if err != nil || len(sites) != 1 || sites[0].SiteID != pub.SiteID || sites[0].Name != "demo" || sites[0].ManifestID != pub.ManifestID {
		t.Fatalf("list: %+v, %v", sites, err)
	}

	// Nothing changed: nothing stored.
	same, err := c.UpdateSite(ctx, pub.SiteID, dir, StoreOptions{})
	if err != nil || same.Changed || same.Stored != 0 || same.Unchanged != 5 || same.ManifestID != pub.ManifestID {
		t.Fatalf("update without changes: %+v, %v", same, err)
	}
	writeSite(t, dir, map[string]string{"index.html": "<h1>v2</h1>", "new.html": "new"})
	os.Remove(filepath.Join(dir, "old.txt"))
	upd, err := c.UpdateSite(ctx, pub.SiteID, dir, StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !upd.Changed || upd.Stored != 2 || upd.Unchanged != 3 || upd.Removed != 1 || len(upd.Quilts) != 1 || upd.ManifestID == pub.ManifestID {
		t.Fatalf("update: %+v", upd)
	}
	got, id, err := c.LoadSite(ctx, pub.SiteID)
	if err != nil || id != upd.ManifestID || got.Resource("/old.txt") != nil {
		t.Fatalf("load after update: %v", err)
	}
	if got.Resource("/style.css").PatchID != m.Resource("/style.css").PatchID {
		t.Errorf("an unchanged file moved")
	}
	if got.Resource("/index.html").PatchID.QuiltID != upd.Quilts[0] {
		t.Errorf("the changed file is not in the new quilt")
	}
	rd, err := c.ReadQuiltPatch(ctx, got.Resource("/index.html").PatchID, ReadOptions{})
	if err != nil || !bytes.Equal(rd.File.Data, []byte("<h1>v2</h1>")) {
		t.Fatalf("new index.html: %v", err)
	}

	// More files than one quilt holds at 20 shards (13): several quilts.
	big := t.TempDir()
	many := map[string]string{}
	for i := range 30 {
		many[fmt.Sprintf("p/%02d.txt", i)] = fmt.Sprint("file ", i)
	}
	writeSite(t, big, many)
	split, err := c.PublishSite(ctx, big, "split", StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(split.Quilts) < 3 || split.Stored != 30 || len(split.Manifest.Resources) != 30 {
		t.Fatalf("split site: %d quilts, %d stored", len(split.Quilts), split.Stored)
	}
	for _, r := range split.Manifest.Resources {
		rd, err := c.ReadQuiltPatch(ctx, r.PatchID, ReadOptions{})
		if err != nil || string(rd.File.Data) != many[r.Path[1:]] {
			t.Fatalf("%s: %q, %v", r.Path, rd.File.Data, err)
		}
	}

	// A plain blob object is no site.
	plain, err := c.Store(ctx, []byte("plain"), StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.LoadSite(ctx, plain.Blob.ObjectID); !errors.Is(err, ErrNotASite) {
		t.Errorf("a plain object as a site: %v", err)
	}
	if _, err := c.UpdateSite(ctx, chainlink.ID{5}, dir, StoreOptions{}); !errors.Is(err, chainlink.ErrNotFound) {
		t.Errorf("update of a missing site: %v", err)
	}
}
