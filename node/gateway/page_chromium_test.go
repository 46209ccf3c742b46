package gateway

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"floe/codec"
)

// screenshotPath is the screenshot of the gateway's page kept in the
// repository; FLOE_UPDATE_SCREENSHOT=1 go test -run TestChromiumIndexPage
// ./node/gateway/ rewrites it.
const screenshotPath = "testdata/gateway-index.png"

// TestChromiumIndexPage loads the gateway's page at / in headless
// Chromium (driven over the DevTools protocol), checks the swarm facts it
// shows, uploads an HTML page through its form by picking the file and
// clicking Store, follows the link the page answers and checks the page
// renders (title set by its script, UTF-8 text, the colour of a pixel);
// then it checks that the plain URL of that page is shown as text (never
// sniffed as HTML), and uploads an image that renders at its plain URL
// (the gateway sniffs types).
func TestChromiumIndexPage(t *testing.T) {
	chromium := findChromium(t)
	s := startSwarm(t)
	base := s.serve(t, Config{SniffContentType: true})
	params, _ := codec.NewParams(devnetShards)
	dir := t.TempDir()
	const width = 960
	b := startBrowser(t, chromium, width, 900)

	// The page, with the swarm's epoch and shards from the chain.
	b.navigate(base + "/")
	var page struct{ Title, Type, Epoch, Shards, MaxWidth, Curl string }
	b.eval(`({Title: document.title, Type: document.contentType,
		Epoch: document.getElementById("epoch").textContent, Shards: document.getElementById("n-shards").textContent,
		MaxWidth: getComputedStyle(document.querySelector("main")).maxWidth,
		Curl: document.querySelector("pre").textContent})`, &page)
	es, err := s.c.Chain().EpochState(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if page.Title != "floe gateway" || page.Type != "text/html" || page.Shards != fmt.Sprint(es.NShards) ||
		!strings.HasPrefix(page.Epoch, fmt.Sprint(es.Epoch)+" ") {
		t.Fatalf("the page shows %+v; the chain has epoch %d and %d shards", page, es.Epoch, es.NShards)
	}
	if page.MaxWidth == "none" || page.MaxWidth == "" {
		t.Errorf("the page's style did not apply (blocked by its Content-Security-Policy?)")
	}
	if !strings.Contains(page.Curl, "GATEWAY="+base) || !strings.Contains(page.Curl, `-X PUT "$GATEWAY/v1/blobs`) {
		t.Errorf("the curl examples do not name this gateway: %s", page.Curl)
	}

	// Upload a page through the form. It has no <meta charset>: its text
	// reads right only if the answer says charset=utf-8.
	html := []byte(`<!doctype html><html><head><title>uploaded</title></head>
<body style="margin:0;background:#fff">
<div id="box" style="width:160px;height:100px;background:rgb(200,30,90)"></div>
<p id="text">Grüße ✓ from floe</p>
<script>document.title = "floe upload test " + (40 + 2);</script>
</body></html>
`)
	_, htmlID, err := codec.ComputeMetadata(params, html)
	if err != nil {
		t.Fatal(err)
	}
	up := upload(t, b, filepath.Join(dir, "hello.html"), html)
	if up.ID != htmlID.String() || up.Plain != base+"/v1/blobs/"+htmlID.String() ||
		up.TypedType != "text/html; charset=utf-8" || !strings.HasPrefix(up.Typed, up.Plain+"?content_type=text%2Fhtml") {
		t.Fatalf("the form answered %+v, want blob %s", up, htmlID)
	}

	// The screenshot of the page, whole, with the upload's answer.
	var height int
	b.eval(`document.documentElement.scrollHeight`, &height)
	b.resize(width, height)
	raw, shot := b.screenshot()
	if shot.Bounds().Dx() != width || shot.Bounds().Dy() != height || uniform(shot) {
		t.Errorf("screenshot of / is %v and uniform=%v", shot.Bounds(), uniform(shot))
	}
	if os.Getenv("FLOE_UPDATE_SCREENSHOT") == "1" {
		writeSmallPNG(t, screenshotPath, raw)
	}
	b.resize(width, 900)

	// Follow the link: the page renders, its script runs, its text is
	// UTF-8, its box is drawn.
	b.navigate(up.Typed)
	var got struct{ Title, Type, Text string }
	b.waitFor(`document.title === "floe upload test 42"`, 10*time.Second)
	b.eval(`({Title: document.title, Type: document.contentType, Text: document.getElementById("text").textContent})`, &got)
	if got.Type != "text/html" || got.Text != "Grüße ✓ from floe" {
		t.Fatalf("the uploaded page rendered as %+v", got)
	}
	_, img := b.screenshot()
	if c := color.RGBAModel.Convert(img.At(80, 50)).(color.RGBA); !near(c, color.RGBA{200, 30, 90, 255}) {
		t.Errorf("pixel (80,50) of the uploaded page is %v, want rgb(200,30,90)", c)
	}
	if c := color.RGBAModel.Convert(img.At(400, 50)).(color.RGBA); !near(c, color.RGBA{255, 255, 255, 255}) {
		t.Errorf("pixel (400,50) of the uploaded page is %v, want white", c)
	}

	// Its plain URL is shown as text: the gateway never sniffs HTML.
	b.navigate(up.Plain)
	var plain struct{ Type, Text string }
	b.eval(`({Type: document.contentType, Text: document.body.textContent})`, &plain)
	if plain.Type != "text/plain" || !strings.Contains(plain.Text, "<title>uploaded</title>") ||
		!strings.Contains(plain.Text, "Grüße ✓") {
		t.Fatalf("the plain URL of an HTML blob answered %q: %.200q", plain.Type, plain.Text)
	}

	// An image renders at its plain URL.
	const w, h = 40, 24
	pic := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.RGBA{R: 20, G: 90, B: 210, A: 255}
			if x >= w/2 {
				c = color.RGBA{R: 250, G: 200, B: 0, A: 255}
			}
			pic.Set(x, y, c)
		}
	}
	var pngBuf bytes.Buffer
	if err := png.Encode(&pngBuf, pic); err != nil {
		t.Fatal(err)
	}
	b.navigate(base + "/")
	up = upload(t, b, filepath.Join(dir, "pic.png"), pngBuf.Bytes())
	b.navigate(up.Plain)
	var im struct {
		Type          string
		Width, Height int
		Left, Right   []int
	}
	b.eval(`(() => {
		const img = document.images[0];
		const c = document.createElement("canvas");
		c.width = img.naturalWidth; c.height = img.naturalHeight;
		const ctx = c.getContext("2d");
		ctx.drawImage(img, 0, 0);
		const px = (x, y) => Array.from(ctx.getImageData(x, y, 1, 1).data.slice(0, 3));
		return {Type: document.contentType, Width: img.naturalWidth, Height: img.naturalHeight,
			Left: px(2, 2), Right: px(img.naturalWidth - 2, img.naturalHeight - 2)};
	})()`, &im)
	if im.Type != "image/png" || im.Width != w || im.Height != h || fmt.Sprint(im.Left) != "[20 90 210]" ||
		fmt.Sprint(im.Right) != "[250 200 0]" {
		t.Fatalf("the image's plain URL rendered as %+v", im)
	}
}

type uploaded struct{ Error, ID, Plain, Typed, TypedType string }

// upload picks the file (written with data) in the page's form, clicks
// Store and returns what the page shows.
func upload(t *testing.T, b *browser, path string, data []byte) uploaded {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	b.setFile("#file", path)
	b.click("#store")
	b.waitFor(`document.getElementById("typed-link") || document.querySelector("#result.error")`, time.Minute)
	var up uploaded
	b.eval(`(() => {
		const r = document.getElementById("result");
		if (r.className === "error") return {Error: r.textContent};
		return {ID: document.getElementById("blob-id").textContent, Plain: document.getElementById("blob-link").href,
			Typed: document.getElementById("typed-link").href, TypedType: document.getElementById("typed-type").textContent};
	})()`, &up)
	if up.Error != "" {
		t.Fatalf("uploading %s through the form: %s", filepath.Base(path), up.Error)
	}
	return up
}

func near(a, b color.RGBA) bool {
	d := func(x, y uint8) bool { return x-y < 4 || y-x < 4 }
	return d(a.R, b.R) && d(a.G, b.G) && d(a.B, b.B)
}

func uniform(img image.Image) bool {
	r := img.Bounds()
	first := img.At(r.Min.X, r.Min.Y)
	for y := r.Min.Y; y < r.Max.Y; y += 7 {
		for x := r.Min.X; x < r.Max.X; x += 7 {
			if img.At(x, y) != first {
				return false
			}
		}
	}
	return true
}

// writeSmallPNG writes a screenshot with a palette of its 256 most
// frequent colours (a page is mostly flat colours and anti-aliased text;
// the rest map to the nearest) at the best compression: about a third of
// the browser's PNG.
func writeSmallPNG(t *testing.T, path string, raw []byte) {
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	r := img.Bounds()
	count := map[color.RGBA]int{}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			count[color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)]++
		}
	}
	colors := make([]color.RGBA, 0, len(count))
	for c := range count {
		colors = append(colors, c)
	}
	slices.SortFunc(colors, func(a, b color.RGBA) int { return count[b] - count[a] })
	var pal color.Palette
	for _, c := range colors[:min(len(colors), 256)] {
		pal = append(pal, c)
	}
	small := image.NewPaletted(r, pal)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			small.Set(x, y, img.At(x, y))
		}
	}
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&buf, small); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s (%d bytes)", path, buf.Len())
}
