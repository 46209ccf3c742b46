package gateway

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"floe/chainlink"
	"floe/node"
)

func TestSiteHostLabel(t *testing.T) {
	// The Walrus Sites portal's own test vector (objectId_operations).
	want, err := chainlink.ParseID("0x5ac988828a0c9842d91e6d5bdd9552ec9fcdddf11c56bf82dff6d5566685a31e")
	if err != nil {
		t.Fatal(err)
	}
	const walrusLabel = "29gjzk8yjl1v7zm2etee1siyzaqfj9jaru5ufs6yyh1yqsgun2"
	if got := SiteHostLabel(want); got != walrusLabel {
		t.Errorf("SiteHostLabel = %q, want %q", got, walrusLabel)
	}
	for _, l := range []string{walrusLabel, strings.ToUpper(walrusLabel)} {
		if got, err := ParseSiteHostLabel(l); err != nil || got != want {
			t.Errorf("ParseSiteHostLabel(%q) = %v, %v", l, got, err)
		}
	}
	var ff chainlink.ID
	for i := range ff {
		ff[i] = 0xff
	}
	ids := []chainlink.ID{{}, {0, 0, 1}, {1}, {0, 0xff}, ff, {31: 3}}
	for i := range 64 {
		ids = append(ids, chainlink.ID(randomBytes(uint64(i), 32)))
	}
	for _, id := range ids {
		l := SiteHostLabel(id)
		if len(l) > 50 || strings.Trim(l, base36Digits) != "" {
			t.Errorf("label %q of %s", l, id)
		}
		if got, err := ParseSiteHostLabel(l); err != nil || got != id {
			t.Errorf("round trip of %s via %q: %v, %v", id, l, got, err)
		}
	}
	if got := SiteHostLabel(chainlink.ID{31: 3}); got != strings.Repeat("0", 31)+"3" {
		t.Errorf("leading zero bytes: %q", got)
	}
	for _, bad := range []string{"", "invalidsubdomain", "ab-c", "a.b", strings.Repeat("z", 51),
		strings.Repeat("0", 33), "0" + walrusLabel, strings.Repeat("1", 64), "é", "\u212a"} {
		if id, err := ParseSiteHostLabel(bad); err == nil {
			t.Errorf("ParseSiteHostLabel(%q) = %s", bad, id)
		}
	}
}

// hostGet sends method to base (the gateway's 127.0.0.1 address) with
// the given Host header, not following redirects.
func hostGet(t *testing.T, method, base, host, path string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatalf("%s %s (Host %s): %v", method, path, host, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// TestSiteHost serves a site by host name and checks every answer equals
// the /sites/{site_id}/ one: bodies, statuses, content types, cache
// headers, the CSP sandbox, 304s and redirects (relative to the host's
// root); then the hosts that are not a site's and the bad ones.
func TestSiteHost(t *testing.T) {
	f := newFakeBackend(t, testShards)
	base := startGateway(t, f, Config{SiteDomain: ".LocalHost."})
	ctx := context.Background()
	dir := t.TempDir()
	writeSiteDir(t, dir, map[string]string{
		"index.html":      "<!doctype html><h1>home</h1>",
		"docs/index.html": "<h1>docs</h1>",
		"style.css":       "h1 { color: red }",
		"data.json":       `{"n": 1}`,
		"img/dot.png":     "\x89PNG\r\n\x1a\nfake",
		"404.html":        "<h1>not here</h1>",
		"ünï.txt":         "unicode path",
		node.SiteConfigFile: `{"redirects":{"/old":"/docs/"},
			"headers":{"/index.html":{"X-Frame-Options":"DENY"}}}`,
	})
	pub, err := node.PublishSite(ctx, f, dir, "hosted", node.StoreOptions{Epochs: 2})
	if err != nil {
		t.Fatal(err)
	}
	port := strings.TrimPrefix(base, "http://127.0.0.1:")
	label := SiteHostLabel(pub.SiteID)
	host := label + ".localhost:" + port
	byPath := base + "/sites/" + pub.SiteID.String()
	same := []string{"Content-Type", "Content-Length", "Cache-Control", "ETag", "Content-Security-Policy",
		"X-Content-Type-Options", "X-Frame-Options", "Access-Control-Allow-Origin"}
	for _, p := range []string{"/", "/index.html", "/docs/", "/style.css", "/data.json", "/img/dot.png",
		"/%C3%BCn%C3%AF.txt", "/nope.html", "/img/", "/metrics", "/sites/" + pub.SiteID.String() + "/", "/v1/api", "/?x=1"} {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			want, wantBody := hostGet(t, method, byPath, "127.0.0.1:"+port, p, nil)
			got, gotBody := hostGet(t, method, base, host, p, nil)
			if got.StatusCode != want.StatusCode || string(gotBody) != string(wantBody) {
				t.Errorf("%s %s by host: %d %q, by path %d %q", method, p, got.StatusCode, gotBody, want.StatusCode, wantBody)
			}
			for _, k := range same {
				if got.Header.Get(k) != want.Header.Get(k) {
					t.Errorf("%s %s by host: %s %q, by path %q", method, p, k, got.Header.Get(k), want.Header.Get(k))
				}
			}
		}
	}
	// A few answers spelled out, so that equal-but-wrong cannot pass.
	resp, body := hostGet(t, http.MethodGet, base, host, "/", nil)
	if resp.StatusCode != 200 || string(body) != "<!doctype html><h1>home</h1>" || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" ||
		resp.Header.Get("Content-Security-Policy") != siteSandbox || resp.Header.Get("X-Frame-Options") != "DENY" ||
		!strings.HasPrefix(resp.Header.Get("Cache-Control"), "public") || resp.Header.Get("ETag") == "" {
		t.Fatalf("GET / by host: %d %v %q", resp.StatusCode, resp.Header, body)
	}
	if r, _ := hostGet(t, http.MethodGet, base, host, "/", map[string]string{"If-None-Match": resp.Header.Get("ETag")}); r.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match by host: %d", r.StatusCode)
	}
	resp, body = hostGet(t, http.MethodGet, base, host, "/metrics", nil)
	if resp.StatusCode != 404 || string(body) != "<h1>not here</h1>" || resp.Header.Get("Cache-Control") != "no-cache" {
		t.Errorf("GET /metrics by host: %d %q (the site's 404 page, not the gateway's metrics)", resp.StatusCode, body)
	}
	for _, tc := range []struct{ path, location string }{{"/docs", "/docs/"}, {"/old", "/docs/"}, {"/old/", "/docs/"}} {
		r, _ := hostGet(t, http.MethodGet, base, host, tc.path, nil)
		if r.StatusCode/100 != 3 || r.Header.Get("Location") != tc.location {
			t.Errorf("GET %s by host: %d Location %q, want %q", tc.path, r.StatusCode, r.Header.Get("Location"), tc.location)
		}
	}
	// Host names are case-insensitive; a trailing dot and no port are fine.
	for _, h := range []string{strings.ToUpper(label) + ".LOCALHOST:" + port, label + ".localhost.", label + ".localhost"} {
		if r, b := hostGet(t, http.MethodGet, base, h, "/docs/", nil); r.StatusCode != 200 || string(b) != "<h1>docs</h1>" {
			t.Errorf("Host %q: %d %q", h, r.StatusCode, b)
		}
	}
	// Other methods.
	if r, _ := hostGet(t, http.MethodOptions, base, host, "/data.json", map[string]string{"Access-Control-Request-Headers": "x-a"}); r.StatusCode != 204 ||
		r.Header.Get("Access-Control-Allow-Headers") != "x-a" || !strings.Contains(r.Header.Get("Access-Control-Allow-Methods"), "GET") {
		t.Errorf("OPTIONS by host: %d %v", r.StatusCode, r.Header)
	}
	r, b := hostGet(t, http.MethodPut, base, host, "/v1/blobs", nil)
	checkError(t, r, b, http.StatusMethodNotAllowed, StatusInvalidArgument, "METHOD_NOT_ALLOWED")
	if r.Header.Get("Allow") != "GET, HEAD, OPTIONS" {
		t.Errorf("PUT by host: Allow %q", r.Header.Get("Allow"))
	}

	// Hosts that are the gateway's own: its API answers.
	for _, h := range []string{"localhost:" + port, "127.0.0.1:" + port, label + ".example.com", label + ".localhost.example.com",
		label + "localhost", "[::1]:" + port} {
		r, b := hostGet(t, http.MethodGet, base, h, "/v1/blobs/"+pub.ManifestID.String(), nil)
		if r.StatusCode != 200 || !strings.Contains(string(b), `"resources"`) {
			t.Errorf("Host %q: GET /v1/blobs: %d %.100q", h, r.StatusCode, b)
		}
	}
	// Hosts under the domain that name no site.
	plain := put(t, base, "", []byte("plain")).NewlyCreated.BlobObject.ID
	long := strings.Repeat("a", 300)
	for _, tc := range []struct {
		host, reason string
		code         int
	}{
		{SiteHostLabel(plain) + ".localhost:" + port, "SITE_NOT_FOUND", 404},
		{SiteHostLabel(chainlink.ID{3}) + ".localhost", "SITE_NOT_FOUND", 404},
		{"zz.localhost:" + port, "INVALID_SITE_HOST", 400},
		{"www." + label + ".localhost", "INVALID_SITE_HOST", 400},
		{label + ".localhost:99999x", "INVALID_SITE_HOST", 400},
		{label + ".localhost:", "INVALID_SITE_HOST", 400},
		{long + ".localhost", "INVALID_SITE_HOST", 400},
		{long + "." + long + ".localhost", "INVALID_SITE_HOST", 400},
		{"-" + label + ".localhost", "INVALID_SITE_HOST", 400},
	} {
		r, b := hostGet(t, http.MethodGet, base, tc.host, "/", nil)
		st := StatusNotFound
		if tc.code == 400 {
			st = StatusInvalidArgument
		}
		checkError(t, r, b, tc.code, st, tc.reason)
		if len(b) > 1024 {
			t.Errorf("Host %.40q…: an answer of %d bytes", tc.host, len(b))
		}
	}

	// Off by default: the same Host is the gateway's.
	off := startGateway(t, f, Config{})
	r, b = hostGet(t, http.MethodGet, off, label+".localhost", "/", map[string]string{"Accept": "text/html"})
	if r.StatusCode != 200 || strings.Contains(string(b), "<h1>home</h1>") || r.Header.Get("Content-Security-Policy") == siteSandbox {
		t.Errorf("without SiteDomain, a site host answered %d %.200q", r.StatusCode, b)
	}
}

func TestSiteHostConfig(t *testing.T) {
	f := newFakeBackend(t, testShards)
	for _, d := range []string{"bad_domain", "\u212a.localhost", "-x.localhost", "a..b", strings.Repeat("a.", 120) + "b", "ü.localhost", ".", "x:80"} {
		if _, err := New(f, Config{SiteDomain: d, Logger: discardLogger()}); err == nil {
			t.Errorf("SiteDomain %q accepted", d)
		}
	}
	for _, c := range []Config{{SiteTTL: -1}, {SiteCacheEntries: -1}, {SiteCacheBytes: -1}} {
		c.Logger = discardLogger()
		if _, err := New(f, c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	g, err := New(f, Config{SiteDomain: "Sites.Example.COM.", Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if g.cfg.SiteDomain != "sites.example.com" || g.cfg.SiteCacheEntries != DefaultSiteCacheEntries || g.cfg.SiteCacheBytes != DefaultSiteCacheBytes {
		t.Errorf("config %q %d %d", g.cfg.SiteDomain, g.cfg.SiteCacheEntries, g.cfg.SiteCacheBytes)
	}
}

// FuzzSiteHost: any Host header is either not a site's (the gateway's
// own), refused, or names exactly the site whose label it carries.
func FuzzSiteHost(f *testing.F) {
	id := chainlink.ID{0, 7, 0xff, 31: 1}
	for _, s := range []string{"localhost", "localhost:80", SiteHostLabel(id) + ".localhost:8080", "a.b.localhost",
		SiteHostLabel(id) + ".LOCALHOST.", "[::1]:80", ".localhost", "x.localhost:", "x.localhost:123456", "0.localhost"} {
		f.Add(s)
	}
	g := &Gateway{cfg: Config{SiteDomain: "localhost"}}
	// A site host, good or bad: a name under the domain, then the port
	// after the last colon if there is one. A colon left in the name
	// (":.localhost:", found by this fuzzer) makes a bad host under the
	// domain, not the gateway's own.
	under := regexp.MustCompile(`(?s)^(.+\.localhost\.?:[^:]*|[^:]+\.localhost\.?)$`)
	f.Fuzz(func(t *testing.T, host string) {
		site, match, err := g.siteOfHost(host)
		lower := asciiLower(host)
		if match != under.MatchString(lower) || !match && err != nil {
			t.Fatalf("%q: match %v, err %v", host, match, err)
		}
		if !match || err != nil {
			return
		}
		name, _, _ := strings.Cut(lower, ":")
		if want := SiteHostLabel(site) + ".localhost"; strings.TrimSuffix(name, ".") != want {
			t.Fatalf("%q named %s, whose host is %q", host, site, want)
		}
	})
}
