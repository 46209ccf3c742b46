package gateway

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"floe/node"
)

// sitePNG is a w×h PNG of one colour.
func sitePNG(t *testing.T, w, h int, c color.RGBA) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, c)
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestChromiumSite publishes a multi-page site (HTML, CSS, a script that
// fetches a JSON file, an image, a second page, a 404 page) on a devnet
// with the function behind `floe site publish`, loads it from the gateway
// in headless Chromium and checks its DOM and pixels; then updates one
// file as `floe site update` does and checks the page shows the change
// while the other files kept their patches. Everything is checked twice:
// at /sites/{site_id}/ and by host name, at http://{base36 ID}.localhost:
// PORT/ (Config.SiteDomain), Chromium mapping *.localhost to 127.0.0.1.
// The gateway reuses a record's lookup for siteTTL, so the update is
// checked once that has passed.
func TestChromiumSite(t *testing.T) {
	chromium := findChromium(t)
	// The browser reaches *.localhost at 127.0.0.1 only (never ::1): a
	// wrapper adds the rule and execs the browser, keeping its PID.
	wrapper := filepath.Join(t.TempDir(), "chromium")
	script := "#!/bin/sh\nexec " + shellQuote(chromium) + " '--host-resolver-rules=MAP *.localhost 127.0.0.1' \"$@\"\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	s := startSwarm(t)
	const siteTTL = time.Second
	base := s.serve(t, Config{SiteDomain: "localhost", SiteTTL: siteTTL})
	port := strings.TrimPrefix(base, "http://127.0.0.1:")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	write := func(name string, data []byte) {
		p := filepath.Join(dir, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("index.html", []byte(`<!doctype html><html><head><title>loading</title>
<link rel="stylesheet" href="style.css"><script src="app.js" defer></script></head>
<body><div id="box"></div><img id="pic" src="img/pic.png" width="60" height="40">
<p id="msg">…</p><p id="text">Grüße ✓</p><a id="about" href="about/">about</a></body></html>`))
	write("style.css", []byte(`body { margin: 0; background: rgb(255, 255, 255); }
#box { width: 200px; height: 100px; background: rgb(20, 140, 60); }
#pic { display: block; }`))
	write("app.js", []byte(`fetch("data.json").then(r => r.json()).then(d => {
  document.getElementById("msg").textContent = d.message;
  document.title = "loaded " + d.n;
}).catch(e => { document.title = "failed " + e; });`))
	write("data.json", []byte(`{"message": "hello from data.json", "n": 7}`))
	write("img/pic.png", sitePNG(t, 60, 40, color.RGBA{230, 120, 10, 255}))
	write("about/index.html", []byte(`<!doctype html><title>about</title><body style="margin:0;background:rgb(40,40,160)"><h1 id="h">About</h1>`))
	write("404.html", []byte(`<!doctype html><title>not found</title><body style="margin:0;background:rgb(200,20,20)"><h1 id="h">Nothing here</h1>`))

	pub, err := s.c.PublishSite(ctx, dir, "chromium demo", node.StoreOptions{Epochs: 2})
	if err != nil {
		t.Fatal(err)
	}
	host := SiteHostLabel(pub.SiteID) + ".localhost:" + port
	roots := []string{base + "/sites/" + pub.SiteID.String() + "/", "http://" + host + "/"}
	b := startBrowser(t, wrapper, 800, 600)

	check := func(root, wantMsg string, wantN int) {
		t.Helper()
		b.navigate(root)
		b.waitFor(fmt.Sprintf(`document.title === "loaded %d"`, wantN), 15*time.Second)
		var got struct {
			Msg, Text, Type, BoxColor, Href string
			PicWidth, PicHeight             int
		}
		b.eval(`({Msg: document.getElementById("msg").textContent, Text: document.getElementById("text").textContent,
			Type: document.contentType, BoxColor: getComputedStyle(document.getElementById("box")).backgroundColor,
			PicWidth: document.getElementById("pic").naturalWidth, PicHeight: document.getElementById("pic").naturalHeight,
			Href: location.href})`, &got)
		if got.Msg != wantMsg || got.Text != "Grüße ✓" || got.Type != "text/html" || got.BoxColor != "rgb(20, 140, 60)" ||
			got.PicWidth != 60 || got.PicHeight != 40 || got.Href != root {
			t.Fatalf("the site at %s rendered as %+v", root, got)
		}
		_, img := b.screenshot()
		for _, p := range []struct {
			x, y int
			want color.RGBA
		}{
			{100, 50, color.RGBA{20, 140, 60, 255}},  // the box (CSS)
			{30, 120, color.RGBA{230, 120, 10, 255}}, // the image, below it
			{500, 50, color.RGBA{255, 255, 255, 255}},
		} {
			if c := color.RGBAModel.Convert(img.At(p.x, p.y)).(color.RGBA); !near(c, p.want) {
				t.Errorf("%s: pixel (%d,%d) is %v, want %v", root, p.x, p.y, c, p.want)
			}
		}
	}
	pages := func(root string) {
		t.Helper()
		// The link to the second page, a directory: its index.html.
		b.click("#about")
		b.waitFor(`location.href === `+jsString(root+"about/")+` && document.readyState === "complete" && document.title === "about"`, 15*time.Second)
		_, img := b.screenshot()
		if c := color.RGBAModel.Convert(img.At(400, 300)).(color.RGBA); !near(c, color.RGBA{40, 40, 160, 255}) {
			t.Errorf("%s: about page pixel %v", root, c)
		}

		// A missing path shows the site's 404 page.
		b.navigate(root + "no/such/page.html")
		var nf struct{ Title, H string }
		b.eval(`({Title: document.title, H: document.getElementById("h").textContent})`, &nf)
		_, img = b.screenshot()
		if nf.Title != "not found" || nf.H != "Nothing here" {
			t.Errorf("%s: missing path rendered as %+v", root, nf)
		}
		if c := color.RGBAModel.Convert(img.At(400, 300)).(color.RGBA); !near(c, color.RGBA{200, 20, 20, 255}) {
			t.Errorf("%s: 404 page pixel %v", root, c)
		}
	}
	for _, root := range roots {
		check(root, "hello from data.json", 7)
		pages(root)
	}
	// … answering 404, at its path and by host name.
	if resp, _ := do(t, http.MethodGet, roots[0]+"no/such/page.html", nil, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("missing path answered %d", resp.StatusCode)
	}
	if resp, _ := hostGet(t, http.MethodGet, base, host, "/no/such/page.html", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("missing path by host answered %d", resp.StatusCode)
	}

	// Update one file: only it is stored again; the page shows it.
	write("data.json", []byte(`{"message": "updated message", "n": 8}`))
	upd, err := s.c.UpdateSite(ctx, pub.SiteID, dir, node.StoreOptions{Epochs: 2})
	if err != nil {
		t.Fatal(err)
	}
	if upd.Stored != 1 || upd.Unchanged != len(pub.Manifest.Resources)-1 || len(upd.Quilts) != 1 {
		t.Fatalf("update stored %d files, kept %d", upd.Stored, upd.Unchanged)
	}
	time.Sleep(siteTTL) // the record's lookup is reused for siteTTL
	for _, root := range roots {
		check(root, "updated message", 8)
	}
}

// shellQuote quotes s for sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
