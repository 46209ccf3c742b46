package gateway

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"mime"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"

	"floe/codec"
)

// The pages for people: the gateway's page at / and the HTML form of the
// API description at /v1/api. They are self-contained (the style and the
// upload script are inlined, nothing is loaded from elsewhere) and carry a
// Content-Security-Policy that allows exactly their own style and script
// (by hash) and requests to this gateway.

//go:embed ui/index.html
var indexHTML string

//go:embed ui/api.html
var apiHTML string

//go:embed ui/style.css
var styleCSS string

//go:embed ui/upload.js
var uploadJS string

var (
	indexTmpl = template.Must(template.New("index").Parse(indexHTML))
	apiTmpl   = template.Must(template.New("api").Parse(apiHTML))
)

// cspHash is the CSP source of an inline block's exact text.
func cspHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

var (
	indexCSP = "default-src 'none'; style-src " + cspHash(styleCSS) + "; script-src " + cspHash(uploadJS) +
		"; connect-src 'self'; img-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
	apiCSP = "default-src 'none'; style-src " + cspHash(styleCSS) + "; base-uri 'none'; frame-ancestors 'none'"
)

// writePage answers an HTML page.
func writePage(w http.ResponseWriter, csp string, tmpl *template.Template, data any) {
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, data); err != nil {
		writeError(w, &apiError{code: http.StatusInternalServerError, status: StatusInternal, reason: "INTERNAL",
			message: "rendering the page: " + err.Error()})
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", csp)
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
}

// indexPage is what ui/index.html shows.
type indexPage struct {
	Base             string // the gateway's URL as the client reached it
	ChainErr         string
	Epoch            uint32
	Phase            string
	NShards          int
	MaxEpochsAhead   uint32
	MaxBlobSize      int64 // the gateway's limit or the network's, whichever is lower
	MaxBlobSizeText  string
	Auth             bool
	ContentTypeParam bool
	Sniff            bool
	Style            template.CSS
	Script           template.JS
}

// getIndex serves GET / (floe extension): a page about the gateway with
// the swarm's epoch and shards, curl examples and an upload form.
func (g *Gateway) getIndex(w http.ResponseWriter, r *http.Request, _ []string) {
	if r.URL.RawQuery != "" {
		writeError(w, badRequest("INVALID_QUERY", "/ takes no query parameters"))
		return
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	p := indexPage{
		Base: scheme + "://" + r.Host, MaxBlobSize: g.cfg.MaxBlobSize, Auth: g.cfg.AuthToken != "",
		ContentTypeParam: !g.cfg.DisableContentTypeParam, Sniff: g.cfg.SniffContentType,
		Style: template.CSS(styleCSS), Script: template.JS(uploadJS),
	}
	ctx, cancel := g.readContext(w, r)
	defer cancel()
	if es, err := g.b.Chain().EpochState(ctx); err != nil {
		// The page still tells how to use the gateway.
		p.ChainErr = err.Error()
	} else {
		p.Epoch, p.Phase, p.NShards, p.MaxEpochsAhead = es.Epoch, string(es.Phase), es.NShards, es.MaxEpochsAhead
		if params, err := codec.NewParams(es.NShards); err == nil && params.MaxBlobSize() < uint64(p.MaxBlobSize) {
			p.MaxBlobSize = int64(params.MaxBlobSize())
		}
	}
	p.MaxBlobSizeText = formatBytes(p.MaxBlobSize)
	writePage(w, indexCSP, indexTmpl, p)
}

func formatBytes(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB (%d bytes)", float64(n)/(1<<20), n)
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB (%d bytes)", float64(n)/(1<<10), n)
	}
	return fmt.Sprintf("%d bytes", n)
}

// wantsHTML reports whether a request to /v1/api prefers HTML to JSON:
// its Accept names text/html (or XHTML) with a higher quality than
// application/json. A browser's navigation does; curl (*/*), fetch and
// OpenAPI tools do not.
func wantsHTML(accept string) bool {
	var htmlQ, jsonQ float64
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			if q, err = strconv.ParseFloat(v, 64); err != nil {
				continue
			}
		}
		switch mt {
		case "text/html", "application/xhtml+xml":
			htmlQ = max(htmlQ, q)
		case "application/json":
			jsonQ = max(jsonQ, q)
		}
	}
	return htmlQ > 0 && htmlQ > jsonQ
}

// The OpenAPI document as the HTML page reads it back (from its JSON, so
// the page shows exactly what /v1/api?format=json says).
type apiDoc struct {
	OpenAPI string `json:"openapi"`
	Info    struct {
		Title, Version, Description string
	} `json:"info"`
	Paths      map[string]map[string]apiOperation `json:"paths"`
	Components struct {
		Schemas map[string]json.RawMessage `json:"schemas"`
	} `json:"components"`
}

type apiOperation struct {
	OperationID string                `json:"operationId"`
	Summary     string                `json:"summary"`
	Description string                `json:"description"`
	Security    []map[string][]string `json:"security"`
	Parameters  []struct {
		Name        string         `json:"name"`
		In          string         `json:"in"`
		Required    bool           `json:"required"`
		Description string         `json:"description"`
		Schema      map[string]any `json:"schema"`
	} `json:"parameters"`
	RequestBody *struct {
		Description string                    `json:"description"`
		Content     map[string]map[string]any `json:"content"`
	} `json:"requestBody"`
	Responses map[string]struct {
		Description string `json:"description"`
		Headers     map[string]struct {
			Description string `json:"description"`
		} `json:"headers"`
		Content map[string]struct {
			Schema map[string]any `json:"schema"`
		} `json:"content"`
	} `json:"responses"`
}

// apiPage is what ui/api.html shows.
type apiPage struct {
	Title, Description, Version, OpenAPI string
	Ops                                  []apiPageOp
	Schemas                              []struct{ Name, JSON string }
	Style                                template.CSS
}

type apiPageOp struct {
	Method, MethodClass, Path, Anchor, Summary, Description string
	HeadOf                                                  string // anchor of the GET a HEAD mirrors
	Auth                                                    bool
	Params                                                  []apiPageParam
	Body                                                    string
	Responses                                               []apiPageResp
}

type apiPageParam struct {
	Name, In, Type, Description string
	Required                    bool
}

type apiPageResp struct {
	Code, Description string
	Headers           []struct{ Name, Description string }
	Content           []struct{ Type, Schema string }
}

// apiHTMLPage builds the HTML page of the OpenAPI document, in the order
// of the route table.
func (g *Gateway) apiHTMLPage() (apiPage, error) {
	raw, err := json.Marshal(g.openAPI())
	if err != nil {
		return apiPage{}, err
	}
	var doc apiDoc
	if err := json.Unmarshal(raw, &doc); err != nil {
		return apiPage{}, err
	}
	p := apiPage{Title: doc.Info.Title, Description: doc.Info.Description, Version: doc.Info.Version,
		OpenAPI: doc.OpenAPI, Style: template.CSS(styleCSS)}
	var paths []string
	for _, rt := range g.routes {
		if !slices.Contains(paths, rt.path) {
			paths = append(paths, rt.path)
		}
	}
	for _, path := range paths {
		item := doc.Paths[path]
		for _, method := range []string{"get", "head", "put", "post", "delete"} {
			op, ok := item[method]
			if !ok {
				continue
			}
			v := apiPageOp{Method: strings.ToUpper(method), MethodClass: method, Path: path, Anchor: op.OperationID,
				Summary: op.Summary, Description: op.Description, Auth: len(op.Security) > 0}
			if get, ok := item["get"]; ok && method == "head" {
				v.HeadOf = get.OperationID
				p.Ops = append(p.Ops, v)
				continue
			}
			for _, prm := range op.Parameters {
				v.Params = append(v.Params, apiPageParam{Name: prm.Name, In: prm.In, Type: schemaText(prm.Schema),
					Description: prm.Description, Required: prm.Required})
			}
			if rb := op.RequestBody; rb != nil {
				v.Body = rb.Description + " (" + strings.Join(sortedKeys(rb.Content), ", ") + ")"
			}
			for _, code := range sortedKeys(op.Responses) {
				resp := op.Responses[code]
				pr := apiPageResp{Code: code, Description: resp.Description}
				for _, h := range sortedKeys(resp.Headers) {
					pr.Headers = append(pr.Headers, struct{ Name, Description string }{h, resp.Headers[h].Description})
				}
				for _, ct := range sortedKeys(resp.Content) {
					ref, _ := resp.Content[ct].Schema["$ref"].(string)
					pr.Content = append(pr.Content, struct{ Type, Schema string }{ct,
						strings.TrimPrefix(ref, "#/components/schemas/")})
				}
				v.Responses = append(v.Responses, pr)
			}
			p.Ops = append(p.Ops, v)
		}
	}
	for _, name := range sortedKeys(doc.Components.Schemas) {
		var buf bytes.Buffer
		if err := json.Indent(&buf, doc.Components.Schemas[name], "", "  "); err != nil {
			return apiPage{}, err
		}
		p.Schemas = append(p.Schemas, struct{ Name, JSON string }{name, buf.String()})
	}
	return p, nil
}

// schemaText describes a parameter's schema in a few words.
func schemaText(s map[string]any) string {
	if s == nil {
		return ""
	}
	parts := []string{fmt.Sprint(s["type"])}
	if f, ok := s["format"]; ok {
		parts[0] += " (" + fmt.Sprint(f) + ")"
	}
	if e, ok := s["enum"].([]any); ok {
		var vals []string
		for _, x := range e {
			vals = append(vals, fmt.Sprint(x))
		}
		parts = append(parts, "one of "+strings.Join(vals, ", "))
	}
	if m, ok := s["minimum"]; ok {
		parts = append(parts, "≥ "+fmt.Sprint(m))
	}
	if d, ok := s["default"]; ok {
		parts = append(parts, "default "+fmt.Sprint(d))
	}
	if pat, ok := s["pattern"]; ok {
		parts = append(parts, "pattern "+fmt.Sprint(pat))
	}
	return strings.Join(parts, ", ")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
