package gateway

import (
	"context"
	"mime"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"floe/chainlink"
)

// The Content-Type of a blob read, first that applies (doc.go, "Content
// types"):
//
//  1. ?content_type=<media type> (floe extension), verbatim;
//     ?content_type=sniff sniffs the bytes, HTML included;
//  2. the blob object's content-type attribute (by-object-id reads, as in
//     Walrus; see BlobAttributes);
//  3. the request's Accept when it names no wildcard, else its
//     Content-Type (the Walrus aggregator's mirror);
//  4. with Config.SniffContentType, the sniffed type of the bytes, HTML
//     and XML excepted (served as text/plain);
//  5. none.
//
// Every blob answer carries X-Content-Type-Options: nosniff, so the
// browser never guesses a type the gateway did not name.

// sniffLen is how much of a blob net/http.DetectContentType looks at.
const sniffLen = 512

// sniffMode says whether and how a read's type is sniffed.
type sniffMode int

const (
	noSniff      sniffMode = iota
	sniffPassive           // Config.SniffContentType: never an active type
	sniffAll               // ?content_type=sniff: the caller asked, HTML included
)

// contentTypeSniff is the value of ?content_type= that asks for sniffing.
const contentTypeSniff = "sniff"

// BlobAttributes is the seam for Walrus blob attributes: key/value pairs
// a blob object carries on the chain (Walrus' metadata dynamic field). The
// Walrus aggregator answers a read by object ID with the headers named by
// some of them (content-type, content-disposition, …). When a
// chainlink.Chain implements this interface (the embedded ledger and its
// HTTP client do: chainlink.BlobAttributes), a read by object ID answers
// the object's "content-type" attribute as its Content-Type (after
// ?content_type=, before the Accept mirror) and the others of
// attributeHeaders as headers. An object without attributes answers an
// empty map and a nil error.
type BlobAttributes interface {
	BlobAttributes(ctx context.Context, object chainlink.ID) (map[string]string, error)
}

// attributeContentType returns the content-type attribute of a blob
// object, "" when the chain keeps no attributes, the object has none or
// its value is not a media type.
func (g *Gateway) attributeContentType(ctx context.Context, object chainlink.ID) (string, error) {
	attrs, fetched := ctx.Value(attrsKey{}).(map[string]string)
	if !fetched {
		ba, ok := g.b.Chain().(BlobAttributes)
		if !ok {
			return "", nil
		}
		var err error
		if attrs, err = ba.BlobAttributes(ctx, object); err != nil {
			return "", err
		}
	}
	v, ok := headerAttributes(attrs)["Content-Type"]
	if !ok {
		return "", nil
	}
	if _, err := parseContentType(v); err != nil {
		g.log.Debug("gateway: ignoring a content-type attribute that is not a media type", "object", object, "value", v)
		return "", nil
	}
	return v, nil
}

// chooseContentType applies steps 1-4 above without the bytes: it returns
// the type to answer, or how to sniff it.
func (g *Gateway) chooseContentType(r *http.Request, q readQuery, info blobInfo) (string, sniffMode) {
	switch {
	case q.sniff:
		return "", sniffAll
	case q.contentType != "":
		return q.contentType, noSniff
	case info.contentType != "":
		return info.contentType, noSniff
	}
	if ct := responseContentType(r, ""); ct != "" {
		return ct, noSniff
	}
	if g.cfg.SniffContentType {
		return "", sniffPassive
	}
	return "", noSniff
}

// activeTypes are the types a browser runs (scripts, same-origin DOM):
// never given to a blob by sniffing unless the caller asked for it.
// DetectContentType answers only the first two; the others guard against
// a future one that answers more.
var activeTypes = map[string]bool{
	"text/html": true, "text/xml": true, "application/xml": true,
	"application/xhtml+xml": true, "image/svg+xml": true,
}

// sniffContentType returns the type of a blob from its first bytes (up to
// sniffLen) with net/http.DetectContentType; "" for an empty blob. head
// holds the blob's first bytes; whole says head is the whole blob. A text
// type gets "; charset=utf-8" when the bytes are valid UTF-8: all of them
// when whole, else the sniff window (a character cut by the window's end
// counts as valid). An active type (HTML, XML) is served as text/plain
// unless mode is sniffAll.
func sniffContentType(head []byte, whole bool, mode sniffMode) string {
	if len(head) == 0 {
		return ""
	}
	window := head[:min(len(head), sniffLen)]
	mt, params, err := mime.ParseMediaType(http.DetectContentType(window))
	if err != nil {
		return "application/octet-stream"
	}
	if activeTypes[mt] && mode != sniffAll {
		mt, params = "text/plain", nil
	}
	if !strings.HasPrefix(mt, "text/") {
		return mt
	}
	if cs := params["charset"]; strings.HasPrefix(cs, "utf-16") {
		return mt + "; charset=" + cs // DetectContentType saw a byte order mark
	}
	checked, cut := window, true
	if whole {
		checked, cut = head, false
	}
	if validUTF8(checked, cut) {
		return mt + "; charset=utf-8"
	}
	return mt
}

// validUTF8 reports whether b is valid UTF-8; with cut, b may end inside
// a character (b is a prefix of the data).
func validUTF8(b []byte, cut bool) bool {
	if utf8.Valid(b) {
		return true
	}
	if !cut {
		return false
	}
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax+1; i-- {
		if utf8.RuneStart(b[i]) {
			return !utf8.FullRune(b[i:]) && utf8.Valid(b[:i])
		}
	}
	return false
}

// attributeHeaders are the blob attributes a read by object ID answers as
// response headers, as the Walrus aggregator does (F11.1); attribute keys
// match case-insensitively. Content-Type follows the order above; the
// others are set on a successful answer (2xx, 304) when their value is a
// valid header value.
var attributeHeaders = []string{"Content-Disposition", "Content-Encoding", "Content-Language", "Content-Location", "Content-Type", "Link"}

// attrsKey carries a by-object-id read's attributes, fetched once, in its
// request context.
type attrsKey struct{}

// headerAttributes returns the attributes that name response headers,
// by canonical header name: the lower-case key wins over other spellings.
func headerAttributes(attrs map[string]string) map[string]string {
	out := map[string]string{}
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	slices.Sort(keys) // upper case sorts first; the lower-case key, last, wins
	for _, k := range keys {
		for _, h := range attributeHeaders {
			if strings.EqualFold(k, h) && validHeaderValue(attrs[k]) {
				out[h] = attrs[k]
			}
		}
	}
	return out
}

// validHeaderValue accepts visible ASCII and UTF-8 text, spaces and tabs:
// nothing that could end a header line.
func validHeaderValue(v string) bool {
	if v == "" || len(v) > 4096 || !utf8.ValidString(v) {
		return false
	}
	for _, r := range v {
		if r < 0x20 && r != '\t' || r == 0x7f {
			return false
		}
	}
	return true
}

// getBlobByObjectIDWithAttributes serves GET/HEAD
// /v1/blobs/by-object-id/{object_id}: the read of getBlobByObjectID, with
// the object's attributes (fetched once, when the chain keeps them) as
// headers on a successful answer.
func (g *Gateway) getBlobByObjectIDWithAttributes(w http.ResponseWriter, r *http.Request, p []string) {
	ba, ok := g.b.Chain().(BlobAttributes)
	oid, err := chainlink.ParseID(p[0])
	if !ok || err != nil {
		g.getBlobByObjectID(w, r, p)
		return
	}
	attrs, err := ba.BlobAttributes(r.Context(), oid)
	if err != nil {
		// The read looks the object up again and answers the failure.
		g.getBlobByObjectID(w, r, p)
		return
	}
	if attrs == nil {
		attrs = map[string]string{}
	}
	r = r.WithContext(context.WithValue(r.Context(), attrsKey{}, attrs))
	hw := &attributeWriter{ResponseWriter: w, headers: headerAttributes(attrs)}
	delete(hw.headers, "Content-Type") // chosen by chooseContentType
	g.getBlobByObjectID(hw, r, p)
}

// attributeWriter adds attribute headers to a successful answer.
type attributeWriter struct {
	http.ResponseWriter
	headers map[string]string
	wrote   bool
}

func (w *attributeWriter) WriteHeader(code int) {
	if !w.wrote {
		w.wrote = true
		if code/100 == 2 || code == http.StatusNotModified {
			for k, v := range w.headers {
				w.Header().Set(k, v)
			}
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *attributeWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *attributeWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush implements http.Flusher.
func (w *attributeWriter) Flush() {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
