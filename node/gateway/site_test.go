package gateway

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"floe/chainlink"
	"floe/node"
)

func writeSiteDir(t *testing.T, dir string, files map[string]string) {
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

// noRedirect is a client that shows redirects instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func TestSiteRoutes(t *testing.T) {
	f := newFakeBackend(t, testShards)
	base := startGateway(t, f, Config{})
	ctx := context.Background()
	dir := t.TempDir()
	writeSiteDir(t, dir, map[string]string{
		"index.html":      "<!doctype html><h1>home</h1>",
		"docs/index.html": "<h1>docs</h1>",
		"style.css":       "h1 { color: red }",
		"app.js":          "console.log(1)",
		"data.json":       `{"n": 1}`,
		"img/dot.png":     "\x89PNG\r\n\x1a\nfake",
		"404.html":        "<h1>not here</h1>",
		"ünï.txt":         "unicode path",
		node.SiteConfigFile: `{"name":"fake","redirects":{"/old":"/docs/"},
			"headers":{"/index.html":{"X-Frame-Options":"DENY","Bad":"a\r\nb"}}}`,
	})
	pub, err := node.PublishSite(ctx, f, dir, "", node.StoreOptions{Epochs: 2})
	if err != nil {
		t.Fatal(err)
	}
	site := base + "/sites/" + pub.SiteID.String()
	for _, tc := range []struct {
		path, ct, body string
		status         int
	}{
		{"/", "text/html; charset=utf-8", "<!doctype html><h1>home</h1>", 200},
		{"/index.html", "text/html; charset=utf-8", "<!doctype html><h1>home</h1>", 200},
		{"/docs/", "text/html; charset=utf-8", "<h1>docs</h1>", 200},
		{"/style.css", "text/css; charset=utf-8", "h1 { color: red }", 200},
		{"/app.js", "text/javascript; charset=utf-8", "console.log(1)", 200},
		{"/data.json", "application/json", `{"n": 1}`, 200},
		{"/img/dot.png", "image/png", "\x89PNG\r\n\x1a\nfake", 200},
		{"/%C3%BCn%C3%AF.txt", "text/plain; charset=utf-8", "unicode path", 200},
		{"/nope.html", "text/html; charset=utf-8", "<h1>not here</h1>", 404},
		{"/img/", "text/html; charset=utf-8", "<h1>not here</h1>", 404},
	} {
		resp, body := do(t, http.MethodGet, site+tc.path, nil, nil)
		if resp.StatusCode != tc.status || string(body) != tc.body || resp.Header.Get("Content-Type") != tc.ct {
			t.Errorf("GET %s: %d %q %q, want %d %q %q", tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), body, tc.status, tc.ct, tc.body)
		}
		if resp.Header.Get("Content-Security-Policy") != siteSandbox || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: headers %v", tc.path, resp.Header)
		}
		if tc.status == 200 && (resp.Header.Get("ETag") == "" || !strings.HasPrefix(resp.Header.Get("Cache-Control"), "public")) {
			t.Errorf("GET %s: cache headers %v", tc.path, resp.Header)
		}
	}
	resp, _ := do(t, http.MethodGet, site+"/", nil, nil)
	if resp.Header.Get("X-Frame-Options") != "DENY" || resp.Header.Get("Bad") != "" {
		t.Errorf("manifest headers: %v", resp.Header)
	}
	etag := resp.Header.Get("ETag")
	resp, _ = do(t, http.MethodGet, site+"/", nil, map[string]string{"If-None-Match": etag})
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: %d", resp.StatusCode)
	}
	for _, tc := range []struct{ path, location string }{
		{"", "/sites/" + pub.SiteID.String() + "/"},
		{"/docs", "/sites/" + pub.SiteID.String() + "/docs/"},
		{"/old", "/sites/" + pub.SiteID.String() + "/docs/"},
	} {
		r, err := noRedirect.Get(site + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode/100 != 3 || r.Header.Get("Location") != tc.location {
			t.Errorf("GET %s: %d Location %q, want %q", tc.path, r.StatusCode, r.Header.Get("Location"), tc.location)
		}
	}
	// Not sites.
	plain := put(t, base, "", []byte("plain")).NewlyCreated.BlobObject.ID
	for _, tc := range []struct {
		url, reason string
		code        int
	}{
		{"/sites/" + plain.String() + "/", "SITE_NOT_FOUND", 404},
		{"/sites/" + chainlink.ID{3}.String() + "/", "SITE_NOT_FOUND", 404},
		{"/sites/zz/", "INVALID_OBJECT_ID", 400},
	} {
		resp, body := do(t, http.MethodGet, base+tc.url, nil, nil)
		st := StatusNotFound
		if tc.code == 400 {
			st = StatusInvalidArgument
		}
		checkError(t, resp, body, tc.code, st, tc.reason)
	}
	// A site without a 404 page answers the JSON error.
	dir2 := t.TempDir()
	writeSiteDir(t, dir2, map[string]string{"index.html": "x"})
	pub2, err := node.PublishSite(ctx, f, dir2, "bare", node.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	resp, body := do(t, http.MethodGet, base+"/sites/"+pub2.SiteID.String()+"/missing", nil, nil)
	checkError(t, resp, body, 404, StatusNotFound, "SITE_PATH_NOT_FOUND")
}
