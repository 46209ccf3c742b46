package gateway

import (
	"fmt"
	"net/http"
	"strings"

	"floe/node"
)

// route is one endpoint: the router matches on it and the OpenAPI
// description at /v1/api is generated from the same table, so the
// description is exactly what is served.
type route struct {
	method string // GET routes answer HEAD too
	path   string // OpenAPI path template
	segs   []string
	handle func(http.ResponseWriter, *http.Request, []string)
	op     map[string]any // OpenAPI operation object
}

// match reports whether the path segments match the template and returns
// the values of its {parameters} in order.
func (rt *route) match(segs []string) ([]string, bool) {
	if len(segs) != len(rt.segs) {
		return nil, false
	}
	var params []string
	for i, s := range rt.segs {
		if strings.HasPrefix(s, "{") {
			if segs[i] == "" {
				return nil, false
			}
			params = append(params, segs[i])
			continue
		}
		if s != segs[i] {
			return nil, false
		}
	}
	return params, true
}

// routeTable lists the endpoints. Literal segments come before parameters
// at the same position (by-object-id before {blob_id}).
func (g *Gateway) routeTable() []route {
	blobID := param("blob_id", "path", true, "The blob ID, URL-safe base64 without padding (43 characters).",
		map[string]any{"type": "string", "pattern": "^[A-Za-z0-9_-]{43}$"})
	readParams := []any{
		param("strict_consistency_check", "query", false,
			"Re-encode the whole decoded blob and compare the blob ID (F6.2 Strict).", boolSchema()),
		param("skip_consistency_check", "query", false,
			"Skip the consistency check after decoding (slivers are still verified).", boolSchema()),
	}
	if !g.cfg.DisableContentTypeParam {
		readParams = append(readParams, param("content_type", "query", false,
			"floe extension: the Content-Type of the answer (e.g. text/html; charset=utf-8 for a page a browser opens), "+
				"or sniff for the type net/http.DetectContentType finds in the blob's first 512 bytes, HTML included.",
			map[string]any{"type": "string"}))
	}
	readHeaders := []any{
		param("Range", "header", false, "One byte range: bytes=first-last, bytes=first- or bytes=-suffix.",
			map[string]any{"type": "string"}),
		param("If-None-Match", "header", false, "The blob ID (the ETag); a match answers 304.",
			map[string]any{"type": "string"}),
		param("Accept", "header", false, "Mirrored as Content-Type when it names no wildcard.",
			map[string]any{"type": "string"}),
	}
	blobHeaders := map[string]any{
		"ETag":                   hdr("The blob ID."),
		"Cache-Control":          hdr(cacheControl),
		"X-Content-Type-Options": hdr("nosniff"),
		"Content-Type": hdr("The content_type parameter, else the blob object's content-type attribute (by object ID), " +
			"else Accept when it names no wildcard, else the request's Content-Type, else the sniffed type if the " +
			"gateway sniffs (never HTML), else absent. Sniffed text types carry charset=utf-8 when the bytes are UTF-8."),
	}
	rangeHeaders := map[string]any{"Content-Range": hdr("bytes first-last/size")}
	for k, v := range blobHeaders {
		rangeHeaders[k] = v
	}
	octets := map[string]any{"application/octet-stream": map[string]any{
		"schema": map[string]any{"type": "string", "format": "binary"}}}

	html := map[string]any{"text/html": map[string]any{"schema": map[string]any{"type": "string"}}}
	return []route{
		{
			method: http.MethodGet, path: "/", handle: g.getIndex,
			op: map[string]any{
				"operationId": "index",
				"summary":     "floe extension: a page for people: the swarm's epoch and shards, how to store and read, an upload form.",
				"responses": map[string]any{
					"200": map[string]any{"description": "The page (text/html; charset=utf-8).", "content": html},
					"400": errResp("A query string was given (INVALID_QUERY)."),
				},
			},
		},
		{
			method: http.MethodGet, path: "/status", handle: g.getStatus,
			op: map[string]any{
				"operationId": "status",
				"summary":     "Liveness and the chain's current epoch.",
				"responses": map[string]any{
					"200": jsonResp("The gateway is running.", ref("Status")),
					"503": errResp("The chain cannot be reached (UNAVAILABLE)."),
				},
			},
		},
		{
			method: http.MethodGet, path: "/v1/api", handle: g.getAPI,
			op: map[string]any{
				"operationId": "api",
				"summary":     "This OpenAPI description: JSON, or an HTML page for a browser.",
				"description": "Answers HTML when Accept prefers text/html to application/json (a browser), else JSON; " +
					"format chooses explicitly.",
				"parameters": []any{param("format", "query", false, "json or html (default: by Accept).",
					map[string]any{"type": "string", "enum": []any{"json", "html"}})},
				"responses": map[string]any{
					"200": map[string]any{"description": "The OpenAPI 3.0 document, or its HTML page.",
						"headers": map[string]any{"Vary": hdr("Accept")},
						"content": map[string]any{
							"application/json": map[string]any{"schema": map[string]any{"type": "object"}},
							"text/html":        html["text/html"],
						}},
					"400": errResp("An unknown query parameter or format (INVALID_QUERY)."),
				},
			},
		},
		{
			method: http.MethodPut, path: "/v1/blobs", handle: g.putBlob,
			op: map[string]any{
				"operationId": "putBlob",
				"summary":     "Store a blob (publisher, F11.2).",
				"description": "Encodes the body with RS2, registers it on the chain, distributes the slivers, " +
					"certifies it and answers the blob object. A blob already certified for long enough is not " +
					"stored again unless force=true. Unknown query parameters are rejected.",
				"security": []any{map[string]any{"bearer": []any{}}},
				"parameters": []any{
					param("epochs", "query", false, "Storage period in epochs ahead of the current one (default 1).",
						map[string]any{"type": "integer", "minimum": 1, "default": 1}),
					param("permanent", "query", false, "Create a permanent blob (default: deletable).", boolSchema()),
					param("deletable", "query", false, "Deprecated no-op (deletable is the default); conflicts with permanent.", boolSchema()),
					param("force", "query", false, "Store a new blob object even if the blob is already certified.", boolSchema()),
					param("send_object_to", "query", false, "Owner of the new blob object (0x-prefixed address).",
						map[string]any{"type": "string", "pattern": "^0x[0-9a-fA-F]{64}$"}),
					param("share", "query", false, "Only false is accepted: floe has no shared blobs.",
						map[string]any{"type": "boolean", "enum": []any{false}}),
					param("reuse_resources", "query", false, "Only false is accepted: storage is always bought.",
						map[string]any{"type": "boolean", "enum": []any{false}}),
					param("encoding_type", "query", false, "Only RS2.", map[string]any{"type": "string", "enum": []any{"RS2"}}),
				},
				"requestBody": map[string]any{"required": true, "description": "The raw blob.", "content": octets},
				"responses": map[string]any{
					"200": jsonResp("The blob is stored (newlyCreated) or was already (alreadyCertified).", ref("BlobStoreResult")),
					"400": errResp("Malformed or unknown query parameter (INVALID_ARGUMENT)."),
					"401": errResp("Missing or wrong bearer token (UNAUTHENTICATED)."),
					"408": errResp("The body arrived slower than the minimum rate (BODY_TOO_SLOW)."),
					"413": errResp("The body exceeds the maximum blob size (BLOB_TOO_LARGE)."),
					"429": errResp("Too many stores in progress, for the gateway or this client (RESOURCE_EXHAUSTED)."),
					"503": errResp("The chain or too many storage nodes are unreachable (UNAVAILABLE)."),
					"504": errResp("Not enough confirmations in time (DEADLINE_EXCEEDED)."),
					"500": errResp("Internal error."),
				},
			},
		},
		{
			method: http.MethodGet, path: "/v1/blobs/by-object-id/{object_id}", handle: g.getBlobByObjectIDWithAttributes,
			op: readOp("getBlobByObjectId", "Read the blob of a blob object (F11.1).",
				append(append([]any{param("object_id", "path", true, "The blob object's ID (0x-prefixed hex).",
					map[string]any{"type": "string", "pattern": "^(0x)?[0-9a-fA-F]{64}$"})}, readParams...), readHeaders...),
				blobHeaders, rangeHeaders, octets),
		},
		g.putQuiltRoute(), g.quiltPatchRoute(readParams, readHeaders, octets),
		g.quiltFileRoute(readParams, readHeaders, octets), g.quiltPatchesRoute(),
		{
			method: http.MethodGet, path: "/v1/blobs/{blob_id}", handle: g.getBlob,
			op: readOp("getBlob", "Read a blob (aggregator, F11.1).",
				append(append([]any{blobID}, readParams...), readHeaders...), blobHeaders, rangeHeaders, octets),
		},
		{
			method: http.MethodGet, path: "/v1/blobs/{blob_id}/byte-range", handle: g.getByteRange,
			op: map[string]any{
				"operationId": "getBlobByteRange",
				"summary":     "Read length bytes of a blob from start (200, cacheable; ETag blob_id-start-length).",
				"parameters": append(append([]any{blobID,
					param("start", "query", true, "First byte (0-based).", map[string]any{"type": "integer", "minimum": 0}),
					param("length", "query", true, "Number of bytes (> 0).", map[string]any{"type": "integer", "minimum": 1}),
				}, readParams...), readHeaders[1:]...),
				"responses": map[string]any{
					"200": map[string]any{"description": "The bytes.", "headers": blobHeaders, "content": octets},
					"304": map[string]any{"description": "If-None-Match matched the ETag."},
					"400": errResp("Malformed parameters or a range outside the blob (INVALID_BYTE_RANGE)."),
					"403": errResp("The blob exceeds the gateway's maximum size (BLOB_TOO_LARGE)."),
					"404": errResp("No certified blob with this ID (BLOB_NOT_FOUND)."),
					"429": errResp("Too many requests in progress (RESOURCE_EXHAUSTED)."),
					"503": errResp("Not enough storage nodes answered (UNAVAILABLE)."),
					"504": errResp("The read timed out (DEADLINE_EXCEEDED)."),
				},
			},
		},
	}
}

func readOp(id, summary string, params []any, headers, rangeHeaders, octets map[string]any) map[string]any {
	return map[string]any{
		"operationId": id,
		"summary":     summary,
		"description": "Reconstructs the blob from the storage nodes and answers its bytes. Unknown query " +
			"parameters are rejected. HEAD answers the headers from the chain without reading the blob.",
		"parameters": params,
		"responses": map[string]any{
			"200": map[string]any{"description": "The blob.", "headers": headers, "content": octets},
			"206": map[string]any{"description": "The requested range.", "headers": rangeHeaders, "content": octets},
			"304": map[string]any{"description": "If-None-Match matched the ETag."},
			"400": errResp("Malformed ID or query (INVALID_ARGUMENT)."),
			"403": errResp("The blob exceeds the gateway's maximum size (BLOB_TOO_LARGE, SIZE_EXCEEDED)."),
			"404": errResp("No certified blob with this ID (BLOB_NOT_FOUND) or it was marked invalid (BLOB_INVALID)."),
			"416": errResp("The Range is malformed or unsatisfiable (INVALID_BYTE_RANGE); Content-Range: bytes */size."),
			"429": errResp("Too many requests in progress (RESOURCE_EXHAUSTED)."),
			"503": errResp("Not enough storage nodes answered, or the chain is unreachable (UNAVAILABLE)."),
			"504": errResp("The read timed out (DEADLINE_EXCEEDED)."),
			"500": errResp("Internal error."),
		},
	}
}

func param(name, in string, required bool, desc string, schema map[string]any) map[string]any {
	return map[string]any{"name": name, "in": in, "required": required, "description": desc, "schema": schema}
}

func boolSchema() map[string]any { return map[string]any{"type": "boolean", "default": false} }

func hdr(desc string) map[string]any {
	return map[string]any{"description": desc, "schema": map[string]any{"type": "string"}}
}

func ref(name string) map[string]any { return map[string]any{"$ref": "#/components/schemas/" + name} }

func jsonResp(desc string, schema map[string]any) map[string]any {
	return map[string]any{"description": desc, "content": map[string]any{"application/json": map[string]any{"schema": schema}}}
}

func errResp(desc string) map[string]any { return jsonResp(desc, ref("Error")) }

// openAPI builds the OpenAPI 3.0 document of the route table.
func (g *Gateway) openAPI() map[string]any {
	paths := map[string]any{}
	for _, rt := range g.routes {
		item, _ := paths[rt.path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[rt.path] = item
		}
		item[strings.ToLower(rt.method)] = rt.op
		if rt.method == http.MethodGet {
			head := map[string]any{}
			for k, v := range rt.op {
				head[k] = v
			}
			head["operationId"] = fmt.Sprint(rt.op["operationId"], "Head")
			item["head"] = head
		}
	}
	obj := func(props map[string]any, required ...string) map[string]any {
		m := map[string]any{"type": "object", "properties": props}
		if len(required) > 0 {
			m["required"] = required
		}
		return m
	}
	str := map[string]any{"type": "string"}
	integer := map[string]any{"type": "integer"}
	boolean := map[string]any{"type": "boolean"}
	schemas := map[string]any{
		"Error": obj(map[string]any{"error": obj(map[string]any{
			"code": integer, "status": str, "message": str,
			"details": map[string]any{"type": "array", "items": obj(map[string]any{
				"@type": str, "reason": str, "domain": str, "metadata": map[string]any{"type": "object"},
			})},
		}, "code", "status", "message", "details")}, "error"),
		"Status": obj(map[string]any{
			"status": str, "epoch": integer, "epochPhase": str, "nShards": integer,
			"maxEpochsAhead": integer, "maxBlobSize": integer, "publisherAuth": boolean,
		}),
		"BlobObject": obj(map[string]any{
			"id": str, "registeredEpoch": integer, "blobId": str, "size": integer,
			"encodingType":   map[string]any{"type": "string", "enum": []any{"RS2"}},
			"certifiedEpoch": map[string]any{"type": "integer", "nullable": true},
			"storage": obj(map[string]any{
				"id": str, "startEpoch": integer, "endEpoch": integer, "storageSize": integer,
			}),
			"deletable": boolean,
		}),
		"BlobStoreResult": map[string]any{"oneOf": []any{
			obj(map[string]any{"newlyCreated": obj(map[string]any{
				"blobObject": ref("BlobObject"),
				"resourceOperation": obj(map[string]any{"registerFromScratch": obj(map[string]any{
					"encodedLength": integer, "epochsAhead": integer,
				})}),
				"cost": integer,
			})}, "newlyCreated"),
			obj(map[string]any{"alreadyCertified": obj(map[string]any{
				"blobId": str, "object": str, "endEpoch": integer,
			})}, "alreadyCertified"),
		}},
	}
	return map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{
			"title":       "floe gateway",
			"version":     "v1",
			"description": "The Walrus aggregator/publisher HTTP API on a floe swarm.",
		},
		"paths": paths,
		"components": map[string]any{
			"schemas":         schemas,
			"securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer"}},
		},
	}
}

// getAPI serves GET /v1/api: the OpenAPI document as JSON, or as an HTML
// page to a browser (Accept) or with ?format=html.
func (g *Gateway) getAPI(w http.ResponseWriter, r *http.Request, _ []string) {
	vals, err := parseQuery(r.URL.RawQuery)
	if err != nil {
		writeError(w, readError(err))
		return
	}
	format := ""
	for k, v := range vals {
		if k != "format" || (v != "json" && v != "html") {
			writeError(w, badRequest("INVALID_QUERY", "/v1/api takes only format=json or format=html"))
			return
		}
		format = v
	}
	if format == "" {
		w.Header().Set("Vary", "Accept")
		format = "json"
		if wantsHTML(r.Header.Get("Accept")) {
			format = "html"
		}
	}
	if format == "json" {
		writeJSON(w, http.StatusOK, g.openAPI())
		return
	}
	page, err := g.apiHTMLPage()
	if err != nil {
		writeError(w, &apiError{code: http.StatusInternalServerError, status: StatusInternal, reason: "INTERNAL",
			message: "the API page: " + err.Error()})
		return
	}
	writePage(w, apiCSP, apiTmpl, page)
}

// StatusResponse is the answer of GET /status.
type StatusResponse struct {
	Status         string `json:"status"`
	Epoch          uint32 `json:"epoch"`
	EpochPhase     string `json:"epochPhase"`
	NShards        int    `json:"nShards"`
	MaxEpochsAhead uint32 `json:"maxEpochsAhead"`
	MaxBlobSize    int64  `json:"maxBlobSize"`
	PublisherAuth  bool   `json:"publisherAuth"`
}

// getStatus serves GET /status.
func (g *Gateway) getStatus(w http.ResponseWriter, r *http.Request, _ []string) {
	if r.URL.RawQuery != "" {
		writeError(w, badRequest("INVALID_QUERY", "/status takes no query parameters"))
		return
	}
	ctx, cancel := g.readContext(w, r)
	defer cancel()
	es, err := g.b.Chain().EpochState(ctx)
	if err != nil {
		g.fail(w, r, commonError(fmt.Errorf("%w: %w", node.ErrChain, err), "CHAIN_UNAVAILABLE"))
		return
	}
	writeJSON(w, http.StatusOK, StatusResponse{
		Status: "ok", Epoch: es.Epoch, EpochPhase: string(es.Phase), NShards: es.NShards,
		MaxEpochsAhead: es.MaxEpochsAhead, MaxBlobSize: g.cfg.MaxBlobSize, PublisherAuth: g.cfg.AuthToken != "",
	})
}
