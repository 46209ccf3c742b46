package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"floe/chainlink"
)

// browserAccept is the Accept header of a Chromium navigation.
const browserAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8"

func pngBytes(t testing.TB) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	for i := range 8 {
		img.Set(i, i, color.RGBA{R: 255, A: 255})
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestSniffContentType(t *testing.T) {
	long := bytes.Repeat([]byte("plain ascii text. "), 40) // > sniffLen
	cut := append([]byte(strings.Repeat("a", sniffLen-1)), "é and more"...)
	for _, tc := range []struct {
		name  string
		data  []byte
		whole bool
		mode  sniffMode
		want  string
	}{
		{"png", pngBytes(t), true, sniffPassive, "image/png"},
		{"gif", []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"), true, sniffPassive, "image/gif"},
		{"utf-8 text", []byte("Grüße ✓\n"), true, sniffPassive, "text/plain; charset=utf-8"},
		{"ascii text", []byte("hello\n"), true, sniffPassive, "text/plain; charset=utf-8"},
		{"latin-1 text", []byte("caf\xe9 cr\xe8me\n"), true, sniffPassive, "text/plain"},
		{"invalid after the window, whole", append(append([]byte{}, long...), 0xff), true, sniffPassive, "text/plain"},
		{"invalid after the window, head only", append(append([]byte{}, long...), 0xff), false, sniffPassive,
			"text/plain; charset=utf-8"},
		{"a character cut by the window", cut, false, sniffPassive, "text/plain; charset=utf-8"},
		{"utf-16 bom", []byte("\xfe\xff\x00h\x00i"), true, sniffPassive, "text/plain; charset=utf-16be"},
		{"html not sniffed", []byte("<!doctype html><title>x</title>"), true, sniffPassive, "text/plain; charset=utf-8"},
		{"xml not sniffed", []byte("<?xml version=\"1.0\"?><svg/>"), true, sniffPassive, "text/plain; charset=utf-8"},
		{"html asked for", []byte("<!doctype html><title>x</title>"), true, sniffAll, "text/html; charset=utf-8"},
		{"xml asked for", []byte("<?xml version=\"1.0\"?><a/>"), true, sniffAll, "text/xml; charset=utf-8"},
		{"binary", []byte{0, 1, 2, 3, 0xfe, 0x80}, true, sniffPassive, "application/octet-stream"},
		{"pdf", []byte("%PDF-1.7\n"), true, sniffPassive, "application/pdf"},
		{"empty", nil, true, sniffPassive, ""},
	} {
		if got := sniffContentType(tc.data, tc.whole, tc.mode); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestContentTypes checks the Content-Type of reads over HTTP: sniffed
// when the gateway or the request asks, never HTML unless the request
// does, and the request's own choices first.
func TestContentTypes(t *testing.T) {
	f := newFakeBackend(t, testShards)
	sniffing := startGateway(t, f, Config{SniffContentType: true})
	plain := startGateway(t, f, Config{})
	noParam := startGateway(t, f, Config{SniffContentType: true, DisableContentTypeParam: true})

	img := pngBytes(t)
	text := []byte(strings.Repeat("Grüße ✓ ", 100)) // > sniffLen
	html := []byte("<!DOCTYPE html><html><head><title>t</title></head><body><script>alert(1)</script></body></html>")
	latin1 := []byte("na\xefve caf\xe9\n")
	id := func(data []byte) string {
		return "/v1/blobs/" + put(t, plain, "", data).NewlyCreated.BlobObject.BlobID.String()
	}
	imgURL, textURL, htmlURL, latinURL := id(img), id(text), id(html), id(latin1)
	emptyURL := id(nil)

	for _, tc := range []struct {
		base, url string
		hdr       map[string]string
		want      string // "" = no Content-Type
	}{
		// The gateway sniffs: images and text get their type; HTML is text.
		{sniffing, imgURL, nil, "image/png"},
		{sniffing, imgURL, map[string]string{"Accept": browserAccept}, "image/png"},
		{sniffing, textURL, nil, "text/plain; charset=utf-8"},
		{sniffing, latinURL, nil, "text/plain"},
		{sniffing, htmlURL, map[string]string{"Accept": browserAccept}, "text/plain; charset=utf-8"},
		{sniffing, emptyURL, nil, ""},
		// A range is typed as the blob (the type comes from its first bytes).
		{sniffing, imgURL, map[string]string{"Range": "bytes=20-30"}, "image/png"},
		{sniffing, textURL, map[string]string{"Range": "bytes=0-9"}, "text/plain; charset=utf-8"},
		{sniffing, imgURL + "/byte-range?start=10&length=5", nil, "image/png"},
		// What the request names comes first.
		{sniffing, imgURL, map[string]string{"Accept": "application/octet-stream"}, "application/octet-stream"},
		{sniffing, imgURL + "?content_type=image/webp", nil, "image/webp"},
		// The request asks to sniff: HTML too.
		{sniffing, htmlURL + "?content_type=sniff", nil, "text/html; charset=utf-8"},
		{plain, htmlURL + "?content_type=sniff", map[string]string{"Accept": "text/plain"}, "text/html; charset=utf-8"},
		{plain, imgURL + "?content_type=sniff", nil, "image/png"},
		// No sniffing by default.
		{plain, imgURL, nil, ""},
		{plain, htmlURL, map[string]string{"Accept": browserAccept}, ""},
		{noParam, imgURL, nil, "image/png"},
		{noParam, htmlURL, nil, "text/plain; charset=utf-8"},
	} {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			resp, _ := do(t, method, tc.base+tc.url, nil, tc.hdr)
			got, set := resp.Header["Content-Type"]
			if resp.StatusCode/100 != 2 || (tc.want == "" && set) || (tc.want != "" && (len(got) != 1 || got[0] != tc.want)) {
				t.Errorf("%s %s %v: %d Content-Type %q, want %q", method, tc.url, tc.hdr, resp.StatusCode, got, tc.want)
			}
			if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("%s %s: no X-Content-Type-Options: nosniff", method, tc.url)
			}
		}
	}
	// With the extension off, content_type=sniff is an unknown parameter.
	resp, body := do(t, http.MethodGet, noParam+imgURL+"?content_type=sniff", nil, nil)
	checkError(t, resp, body, http.StatusBadRequest, StatusInvalidArgument, "INVALID_QUERY")
	// The bytes are served unchanged.
	resp, body = do(t, http.MethodGet, sniffing+textURL, nil, nil)
	if !bytes.Equal(body, text) {
		t.Errorf("sniffed read changed the bytes: %d of %d", len(body), len(text))
	}
}

// attrChain is a chain that keeps blob attributes (the seam the
// attributes issue fills), or whose epoch state fails.
type attrChain struct {
	chainlink.Chain
	attrs    map[chainlink.ID]map[string]string
	epochErr error
}

func (c attrChain) BlobAttributes(_ context.Context, id chainlink.ID) (map[string]string, error) {
	return c.attrs[id], nil
}

func (c attrChain) EpochState(ctx context.Context) (chainlink.EpochState, error) {
	if c.epochErr != nil {
		return chainlink.EpochState{}, c.epochErr
	}
	return c.Chain.EpochState(ctx)
}

type chainBackend struct {
	*fakeBackend
	chain attrChain
}

func (b chainBackend) Chain() chainlink.Chain { return b.chain }

func TestAttributeContentType(t *testing.T) {
	f := newFakeBackend(t, testShards)
	plain := startGateway(t, f, Config{})
	html := []byte("<!doctype html><p>hi</p>")
	nc := put(t, plain, "", html).NewlyCreated
	other := put(t, plain, "force=true", html).NewlyCreated // a second object, without attributes
	bad := put(t, plain, "force=true", html).NewlyCreated
	b := chainBackend{f, attrChain{Chain: f.Chain(), attrs: map[chainlink.ID]map[string]string{
		nc.BlobObject.ID:  {"content-type": "text/html; charset=utf-8", "content-language": "en"},
		bad.BlobObject.ID: {"content-type": "not a type\r\n"},
	}}}
	base := startGateway(t, b, Config{})
	for _, tc := range []struct {
		url  string
		want string
	}{
		{"/v1/blobs/by-object-id/" + nc.BlobObject.ID.String(), "text/html; charset=utf-8"},
		{"/v1/blobs/by-object-id/" + nc.BlobObject.ID.String() + "?content_type=text/plain", "text/plain"},
		{"/v1/blobs/by-object-id/" + other.BlobObject.ID.String(), ""},
		{"/v1/blobs/by-object-id/" + bad.BlobObject.ID.String(), ""},
		{"/v1/blobs/" + nc.BlobObject.BlobID.String(), ""}, // by blob ID: no object, no attributes (as in Walrus)
	} {
		resp, body := do(t, http.MethodGet, base+tc.url, nil, map[string]string{"Accept": browserAccept})
		got, set := resp.Header["Content-Type"]
		if resp.StatusCode != 200 || !bytes.Equal(body, html) || (tc.want == "" && set) || (tc.want != "" && (len(got) != 1 || got[0] != tc.want)) {
			t.Errorf("%s: %d Content-Type %q, want %q", tc.url, resp.StatusCode, got, tc.want)
		}
	}
}

func TestIndexPage(t *testing.T) {
	f := newFakeBackend(t, testShards)
	base := startGateway(t, f, Config{})
	es, err := f.Chain().EpochState(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	resp, body := do(t, http.MethodGet, base+"/", nil, map[string]string{"Accept": browserAccept})
	page := string(body)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("GET /: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "connect-src 'self'") ||
		!strings.Contains(csp, "script-src 'sha256-") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	for _, want := range []string{
		`<dd id="epoch">` + fmt.Sprint(es.Epoch) + ` `,
		`<dd id="n-shards">` + fmt.Sprint(testShards) + `</dd>`,
		`<form id="upload"`, `<input type="file" id="file"`, `data-content-type-param="true"`,
		`GATEWAY=` + base, `curl -sS -X PUT "$GATEWAY/v1/blobs?epochs=5"`, `href="/v1/api"`,
		`<meta charset="utf-8">`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(page, `id="token"`) {
		t.Error("a token field on a gateway without a token")
	}
	// Nothing is loaded from elsewhere: no external src, href or url().
	if m := regexp.MustCompile(`(?i:(src|href|action)\s*=\s*["']?(https?:)?//)|url\(|@import`).FindString(page); m != "" {
		t.Errorf("the page refers to an external resource: %q", m)
	}
	// The inline script and style are the ones the policy allows.
	for _, block := range []string{uploadJS, styleCSS} {
		if !strings.Contains(page, block) || !strings.Contains(csp, cspHash(block)) {
			t.Errorf("an inline block is not in the page or not allowed by its policy")
		}
	}

	resp, body = do(t, http.MethodHead, base+"/", nil, nil)
	if resp.StatusCode != 200 || len(body) != 0 || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Errorf("HEAD /: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	resp, body = do(t, http.MethodGet, base+"/?x=1", nil, nil)
	checkError(t, resp, body, 400, StatusInvalidArgument, "INVALID_QUERY")
	resp, body = do(t, http.MethodPut, base+"/", []byte("x"), nil)
	checkError(t, resp, body, 405, StatusInvalidArgument, "METHOD_NOT_ALLOWED")

	// With a token the form asks for it; without the chain the page still
	// answers, saying so.
	down := chainBackend{f, attrChain{Chain: f.Chain(), epochErr: errors.New("ledger unreachable")}}
	base = startGateway(t, down, Config{AuthToken: "t", DisableContentTypeParam: true})
	resp, body = do(t, http.MethodGet, base+"/", nil, nil)
	page = string(body)
	if resp.StatusCode != 200 || !strings.Contains(page, `id="chain-error"`) || !strings.Contains(page, "ledger unreachable") ||
		!strings.Contains(page, `id="token"`) || !strings.Contains(page, `-H "Authorization: Bearer $TOKEN"`) ||
		!strings.Contains(page, `data-content-type-param="false"`) {
		t.Errorf("GET / with the chain down and a token: %d\n%s", resp.StatusCode, page)
	}
}

func TestAPIDocs(t *testing.T) {
	f := newFakeBackend(t, testShards)
	base := startGateway(t, f, Config{AuthToken: "t"})
	_, jsonBody := do(t, http.MethodGet, base+"/v1/api", nil, nil)
	var doc apiDoc
	if err := json.Unmarshal(jsonBody, &doc); err != nil {
		t.Fatal(err)
	}
	// JSON for programs, explicitly or by Accept; HTML for browsers.
	for _, tc := range []struct {
		query, accept, want string
	}{
		{"", "", "application/json"},
		{"", "*/*", "application/json"},
		{"", "application/json", "application/json"},
		{"", "application/json, text/html;q=0.5", "application/json"},
		{"?format=json", browserAccept, "application/json"},
		{"", browserAccept, "text/html; charset=utf-8"},
		{"", "text/html", "text/html; charset=utf-8"},
		{"?format=html", "", "text/html; charset=utf-8"},
	} {
		resp, body := do(t, http.MethodGet, base+"/v1/api"+tc.query, nil, map[string]string{"Accept": tc.accept})
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != tc.want {
			t.Errorf("/v1/api%s Accept %q: %d %q, want %q", tc.query, tc.accept, resp.StatusCode, resp.Header.Get("Content-Type"), tc.want)
			continue
		}
		if tc.query == "" && resp.Header.Get("Vary") != "Accept" {
			t.Errorf("/v1/api: Vary %q", resp.Header.Get("Vary"))
		}
		if tc.want == "application/json" && !bytes.Equal(body, jsonBody) {
			t.Errorf("/v1/api%s Accept %q: another JSON document", tc.query, tc.accept)
		}
	}
	for _, q := range []string{"?format=xml", "?format=json&format=html", "?x=1"} {
		resp, body := do(t, http.MethodGet, base+"/v1/api"+q, nil, nil)
		checkError(t, resp, body, 400, StatusInvalidArgument, "INVALID_QUERY")
	}

	// The page shows every operation of the JSON document, each with its
	// parameters and answers, and every schema.
	resp, body := do(t, http.MethodGet, base+"/v1/api", nil, map[string]string{"Accept": browserAccept})
	page := string(body)
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script-src") {
		t.Errorf("API page Content-Security-Policy %q", csp)
	}
	if strings.Contains(page, "<script") {
		t.Error("the API page has a script")
	}
	n := 0
	for path, ops := range doc.Paths {
		for method, op := range ops {
			n++
			start := strings.Index(page, `<section class="op" id="`+op.OperationID+`">`)
			if start < 0 {
				t.Errorf("%s %s (%s): no section", method, path, op.OperationID)
				continue
			}
			sec := page[start:]
			sec = sec[:strings.Index(sec, "</section>")]
			if !strings.Contains(sec, `<code>`+path+`</code>`) || !strings.Contains(sec, ">"+strings.ToUpper(method)+"<") {
				t.Errorf("%s %s: the section names another operation", method, path)
			}
			if method == "head" {
				continue // shown as the GET without the body
			}
			if !strings.Contains(sec, htmlEscaped(op.Summary)) {
				t.Errorf("%s %s: no summary %q", method, path, op.Summary)
			}
			for _, p := range op.Parameters {
				if !strings.Contains(sec, "<code>"+p.Name+"</code>") || !strings.Contains(sec, htmlEscaped(p.Description)) {
					t.Errorf("%s %s: parameter %s missing", method, path, p.Name)
				}
			}
			for code, r := range op.Responses {
				if !strings.Contains(sec, "<code>"+code+"</code>") || !strings.Contains(sec, htmlEscaped(r.Description)) {
					t.Errorf("%s %s: response %s missing", method, path, code)
				}
			}
			if len(op.Security) > 0 && !strings.Contains(sec, "Authorization: Bearer") {
				t.Errorf("%s %s: the bearer token is not mentioned", method, path)
			}
		}
	}
	if got := strings.Count(page, `<section class="op"`); got != n {
		t.Errorf("%d sections for %d operations", got, n)
	}
	for name := range doc.Components.Schemas {
		if !strings.Contains(page, `id="schema-`+name+`"`) {
			t.Errorf("schema %s missing", name)
		}
	}
}

// htmlEscaped escapes s as html/template writes text.
func htmlEscaped(s string) string {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;", "+", "&#43;")
	return r.Replace(s)
}

// TestByObjectIDExpired: an expired blob object is not served, whether
// the chain still answers it or not.
func TestByObjectIDExpired(t *testing.T) {
	f := newFakeBackend(t, testShards)
	base := startGateway(t, f, Config{})
	nc := put(t, base, "epochs=1", []byte("short-lived")).NewlyCreated
	u := base + "/v1/blobs/by-object-id/" + nc.BlobObject.ID.String()
	if resp, _ := do(t, http.MethodGet, u, nil, nil); resp.StatusCode != 200 {
		t.Fatalf("GET before expiry: %d", resp.StatusCode)
	}
	for {
		es, err := f.ledger.AdvanceEpoch(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if es.Epoch >= nc.BlobObject.Storage.EndEpoch {
			break
		}
	}
	resp, body := do(t, http.MethodGet, u, nil, nil)
	checkError(t, resp, body, 404, StatusNotFound, "BLOB_NOT_FOUND")
}
