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
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// findChromium looks for Debian's chromium (or a Chrome) on PATH. With
// FLOE_REQUIRE_CHROMIUM=1 (CI) a missing browser fails the test; otherwise
// the test is skipped.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	const msg = "no chromium on PATH (apt-get install chromium)"
	if os.Getenv("FLOE_REQUIRE_CHROMIUM") == "1" {
		t.Fatal(msg + " and FLOE_REQUIRE_CHROMIUM=1")
	}
	t.Skip(msg + "; set FLOE_REQUIRE_CHROMIUM=1 to make this a failure")
	return ""
}

// TestChromiumPage stores an HTML page and a PNG through the gateway; the
// page names the image by its gateway URL, and a script draws the loaded
// image on a canvas and writes what it sees into the DOM. Headless
// Chromium opens the page from the gateway and dumps the DOM, and the test
// checks the image's size and the colour of its pixels as rendered.
func TestChromiumPage(t *testing.T) {
	browser := findChromium(t)
	s := startSwarm(t)
	base := s.serve(t, Config{})

	const w, h = 48, 32
	want := color.RGBA{R: 200, G: 30, B: 90, A: 255}
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := want
			if x >= w/2 { // right half in another colour, so a blank image cannot pass
				c = color.RGBA{R: 10, G: 180, B: 60, A: 255}
			}
			img.Set(x, y, c)
		}
	}
	var pngBuf bytes.Buffer
	if err := png.Encode(&pngBuf, img); err != nil {
		t.Fatal(err)
	}
	imgID := put(t, base, "", pngBuf.Bytes()).NewlyCreated.BlobObject.BlobID

	page := fmt.Sprintf(`<!doctype html>
<html><head><meta charset="utf-8"><title>floe page</title></head>
<body>
<p id="result">pending</p>
<img id="img" src="%s/v1/blobs/%s" alt="stored on floe">
<script>
const img = document.getElementById("img");
const out = document.getElementById("result");
function px(ctx, x, y) { const d = ctx.getImageData(x, y, 1, 1).data; return d[0] + "," + d[1] + "," + d[2]; }
function report() {
  if (img.naturalWidth === 0) { out.textContent = "empty"; return; }
  const c = document.createElement("canvas");
  c.width = img.naturalWidth; c.height = img.naturalHeight;
  const ctx = c.getContext("2d");
  ctx.drawImage(img, 0, 0);
  out.textContent = "loaded " + img.naturalWidth + "x" + img.naturalHeight +
    " left=" + px(ctx, 2, 2) + " right=" + px(ctx, img.naturalWidth - 2, img.naturalHeight - 2);
}
img.onerror = () => { out.textContent = "error"; };
if (img.complete) { report(); } else { img.onload = report; }
</script>
</body></html>
`, base, imgID)
	pageID := put(t, base, "", []byte(page)).NewlyCreated.BlobObject.BlobID
	pageURL := fmt.Sprintf("%s/v1/blobs/%s?content_type=text/html%%3B%%20charset%%3Dutf-8", base, pageID)

	// The gateway answers the page as HTML (and the image with no type: the
	// browser decodes it by its signature).
	resp, _ := do(t, http.MethodGet, pageURL, nil, map[string]string{"Accept": "text/html,*/*;q=0.8"})
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("page: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	args := []string{"--headless", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
		"--disable-extensions", "--disable-background-networking", "--user-data-dir=" + t.TempDir(),
		"--dump-dom", pageURL}
	if os.Geteuid() == 0 {
		args = append([]string{"--no-sandbox"}, args...) // Chromium refuses to run as root with its sandbox
	}
	cmd := exec.CommandContext(ctx, browser, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	dom, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", browser, err, tail(stderr.String(), 2000))
	}
	m := regexp.MustCompile(`<p id="result">([^<]*)</p>`).FindSubmatch(dom)
	if m == nil {
		t.Fatalf("no result in the DOM:\n%s", tail(string(dom), 2000))
	}
	got := string(m[1])
	wantText := fmt.Sprintf("loaded %dx%d left=%d,%d,%d right=10,180,60", w, h, want.R, want.G, want.B)
	if got != wantText {
		t.Fatalf("page reports %q, want %q", got, wantText)
	}
	if !strings.Contains(string(dom), `<img id="img" src="`+base) {
		t.Errorf("the DOM does not reference the image by its gateway URL")
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
