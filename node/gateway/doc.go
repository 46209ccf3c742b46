// Package gateway serves the Walrus aggregator/publisher HTTP API
// (shared/spec/walrus-compat.md F11) on a floe swarm, so the curl
// commands, scripts and web pages written for a Walrus publisher or
// aggregator work against floe unchanged. It is an http.Handler over a
// Backend — the publisher and reader roles of a *node.Client — and Serve
// runs it on a listener until its context ends (`floe gateway`).
//
// # Endpoints
//
//	PUT  /v1/blobs                          store the raw body (publisher)
//	GET  /v1/blobs/{blob_id}                read a blob (aggregator); HEAD too
//	GET  /v1/blobs/{blob_id}/byte-range     ?start=&length=, answered 200
//	GET  /v1/blobs/by-object-id/{object_id} read the blob of a blob object (headers from its attributes)
//	PUT  /v1/quilts                         store a multipart body as one quilt (F11.3; quilt.go)
//	GET  /v1/blobs/by-quilt-patch-id/{patch_id}          read one file of a quilt
//	GET  /v1/blobs/by-quilt-id/{quilt_id}/{identifier}   read one file by identifier (X-Quilt-Patch-Identifier)
//	GET  /v1/quilts/{quilt_id}/patches      list a quilt's files (JSON)
//	GET  /sites/{site_id}/{path}            a site published with `floe site publish` (site.go)
//	GET  http://{label}.{SiteDomain}/{path} the same site by host name, when enabled (sitehost.go)
//	GET  /status                            liveness and the chain's epoch (JSON)
//	GET  /v1/api                            OpenAPI 3.0 description of the above; HTML for a browser
//	GET  /                                  a page for people, with an upload form (floe)
//
// PUT takes the F11.2 query parameters: epochs (default 1, at most the
// chain's max epochs ahead), permanent (blobs are deletable by default, as
// in Walrus since v1.33), deletable (deprecated no-op; with permanent it is
// an error), force, send_object_to=0x…. share, reuse_resources and
// encoding_type are accepted only with the values floe honours (false,
// false, RS2) and refused otherwise. Unknown or repeated parameters are 400.
// The answer is BlobStoreResult JSON: {"newlyCreated":{"blobObject":…,
// "resourceOperation":{"registerFromScratch":…},"cost":…}} or
// {"alreadyCertified":{"blobId","object","endEpoch"}} (floe has no Sui event
// IDs, so the certified object is named instead of an event).
//
// Reads answer the blob's bytes with X-Content-Type-Options: nosniff,
// Cache-Control: public, max-age=86400, stale-while-revalidate=3600, ETag:
// the blob ID (unquoted, as Walrus sends it) and the Content-Type of
// "Content types" below (none when no type is known; net/http's own
// sniffing is suppressed). One Range per request:
// bytes=a-b, bytes=a- and bytes=-n answer 206 with Content-Range; a range
// starting at or past the end, a zero suffix, any range of an empty blob,
// a malformed or multi-range header answer 416 with Content-Range: bytes
// */size (RFC 9110; Walrus also answers 416 for what it cannot parse).
// If-Range with another validator serves the whole blob; If-None-Match
// naming the ETag answers 304 after checking on the chain that the blob is
// still certified, without reading it. HEAD answers from the chain alone.
// strict_consistency_check=true and skip_consistency_check=true choose the
// F6.2 check; both is 400. Unknown query parameters are 400, as in Walrus.
//
// CORS: every answer allows any origin and OPTIONS answers preflights, as
// the Walrus daemon does.
//
// # Content types
//
// A blob read answers, first that applies:
//
//  1. ?content_type=<media type> (floe extension), verbatim;
//     ?content_type=sniff: the sniffed type (below), HTML and XML included;
//  2. on a read by object ID, the blob object's content-type attribute, as
//     the Walrus aggregator does (the BlobAttributes interface, which the
//     embedded ledger and its client implement; content.go), with
//     content-disposition, content-encoding, content-language,
//     content-location and link as headers of a successful answer; on a
//     quilt file read, the file's content-type tag;
//  3. Accept when it names no wildcard, else the request's Content-Type
//     (the Walrus aggregator's mirror; a browser's Accept always has */*);
//  4. with Config.SniffContentType (`floe gateway --sniff-content-type`),
//     the sniffed type, HTML and XML excepted: they are served as
//     text/plain, so the page shows their source;
//  5. none.
//
// Sniffing is net/http.DetectContentType on the blob's first 512 bytes
// (image/png, image/jpeg, video/mp4, application/pdf, text/plain, …,
// application/octet-stream when nothing matches; an empty blob gets no
// type). A text type gets "; charset=utf-8" when the bytes are valid UTF-8:
// all of them on a whole read, the first 512 on a range or HEAD (so
// non-ASCII text renders right instead of as windows-1252); a UTF-16 byte
// order mark names that charset. A range, a byte-range or a HEAD that does
// not hold the first 512 bytes reads them too (one primary sliver), so a
// range is typed as its blob; without sniffing, HEAD still answers from
// the chain alone.
//
// Why sniffing is opt-in and never yields HTML by default: the gateway's
// origin is shared by every blob it serves. A blob served as HTML (or XML,
// SVG) runs its scripts as a page of that origin: it can read what other
// pages of the origin keep (cookies, localStorage), send requests as them,
// draw a look-alike of the gateway's own upload page, and anyone can store
// such a blob. So the gateway never guesses HTML on its own (step 4): the
// request (step 1) or the blob object's owner (step 2, as in Walrus) must
// name it. ?content_type= lets whoever writes a link make the origin serve
// stored HTML, though: run a public gateway on an origin of its own, with
// nothing else on it, or turn the extension off
// (Config.DisableContentTypeParam, `floe gateway --no-content-type-param`,
// which also refuses content_type=sniff). Every blob answer carries
// X-Content-Type-Options: nosniff, so the browser never guesses a type the
// gateway did not name (without a type, it shows or downloads the bytes
// rather than run them; an <img> still decodes an image by its signature).
//
// # In a browser
//
// GET / answers a page (text/html; charset=utf-8) saying what the gateway
// is, the chain's epoch and n_shards, the largest blob and whether stores
// need the token, curl commands naming this gateway's URL, and a form
// whose script PUTs the chosen file to /v1/blobs with fetch() (and the
// bearer token, asked for when the gateway has one) and shows the blob's
// URL, plus a link that opens it with ?content_type= set to the file's type
// (charset=utf-8 added for UTF-8 text). The page is self-contained (its
// style and script are inline, nothing comes from another host) and its
// Content-Security-Policy allows exactly those two blocks, by hash, and
// requests to the gateway itself. If the chain cannot be reached the page
// says so and still answers 200.
//
// GET /v1/api answers the OpenAPI document as JSON unless Accept prefers
// text/html to application/json (a browser's navigation does; curl's */*,
// fetch() and OpenAPI tools do not), then an HTML page of every operation
// (parameters, answers, headers) and schema, rendered from that same
// document in the route table's order (Vary: Accept). ?format=json and
// ?format=html choose explicitly. The route table (routes.go) is the one
// source of the router, the JSON and the page.
//
// # Errors
//
// Errors are the JSON objects of F7.7 (AIP-193) with domain
// daemon.walrus.space and the Walrus reasons where Walrus has one:
//
//	400 INVALID_ARGUMENT   INVALID_QUERY, INVALID_BLOB_ID, INVALID_OBJECT_ID, INVALID_EPOCHS,
//	                       INVALID_BLOB_PERSISTENCE, INVALID_CONSISTENCY_CHECK, INVALID_BYTE_RANGE
//	                       (byte-range endpoint), INVALID_ADDRESS, UNSUPPORTED_PARAMETER
//	401 UNAUTHENTICATED    PUT without the bearer token (WWW-Authenticate: Bearer)
//	403 SIZE_EXCEEDED      BLOB_TOO_LARGE: a read of a blob larger than MaxBlobSize
//	404 NOT_FOUND          BLOB_NOT_FOUND (no live certified object), BLOB_INVALID, ROUTE_NOT_FOUND
//	408 DEADLINE_EXCEEDED  BODY_TOO_SLOW: a PUT body slower than the minimum rate (floe)
//	413 SIZE_EXCEEDED      BLOB_TOO_LARGE: a PUT body over MaxBlobSize or the network's maximum
//	416 RANGE_NOT_SATISFIABLE  INVALID_BYTE_RANGE
//	429 RESOURCE_EXHAUSTED TOO_MANY_REQUESTS (Retry-After: 1): a pool or a client's share of it
//	                       is full, or a client has MaxConnsPerIP connections open
//	500 INTERNAL           INTERNAL, BLOB_MARKED_INVALID (store)
//	503 UNAVAILABLE        BLOB_UNAVAILABLE (too few nodes answered), NO_COMMITTEE,
//	                       CHAIN_UNAVAILABLE, INSUFFICIENT_FUNDS (the publisher's account)
//	504 DEADLINE_EXCEEDED  TIMEOUT, INSUFFICIENT_CONFIRMATIONS (store)
//
// A PUT body that is too large answers 413, the status Walrus publishers
// answer (the F7.7 table maps SIZE_EXCEEDED to 403, which is kept for
// reads); with Content-Length it is refused before the body is read.
// 451 is never answered: floe has no deny list.
//
// # Limits
//
// Config.MaxBlobSize (default 64 MiB; the network's own maximum,
// nPrim·nSec·65534 bytes, is 14.6 GB for 1000 shards but only 1.8 MB for
// 10) bounds a PUT body and the blobs served; a PUT declaring a larger
// Content-Length is answered 413 before its body is read.
//
// Reads and stores have pools of their own, so stores cannot starve reads:
// MaxReads (32) reads and MaxStores (8) stores in progress, of which one
// client — an IPv4 address, or an IPv6 /64 — has at most MaxReadsPerIP (8,
// more than a browser's 6 connections per host) and MaxStoresPerIP (2).
// One more is answered 429 at once. Serve also caps the connections one
// client holds open at MaxConnsPerIP (64): one more is answered 429 and
// closed before its request is read, so one address cannot exhaust the
// gateway's file descriptors. Behind a reverse proxy every client has the
// proxy's address: raise the per-client caps there, or cap at the proxy.
//
// A store takes its slot only once the first window of its body has
// arrived (BodyMinBytes, 64 KiB, or all of a smaller body); until then it
// holds only its connection. Its buffer grows with the bytes that arrived,
// never from the declared Content-Length. The body is read under a
// deadline per window instead of one long timeout: every BodyChunkTimeout
// (10 s) must bring at least BodyMinBytes (or the end of the body), else
// the store is answered 408 and the connection closed, so a stalled or
// trickling body is cut off after one window and a slot costs its holder
// at least 6.5 KB/s. StoreTimeout (10 min) bounds the store itself
// (encoding, distribution, certification) from the last body byte;
// ReadTimeout (2 min) bounds a read and its connection's write deadline
// (504 on expiry); headers must arrive within 10 s.
//
// A read of a whole blob holds the blob (as Walrus' aggregator does). A
// Range or byte-range read fetches only the systematic primary slivers
// that hold its bytes (node.Client.ReadRange: in RS2 the blob is laid out
// row by row, and row r is primary sliver r), each verified against the
// blob's metadata, and falls back to a full read when one of them cannot
// be had or strict_consistency_check=true asks to re-encode the blob.
// Memory for bodies is therefore bounded by about MaxStores·2·MaxBlobSize
// (a growing buffer doubles) plus MaxReads·MaxBlobSize, plus BodyMinBytes
// per connection still sending its first window, plus what encoding and
// decoding need. The request context reaches the backend, so a client
// that disconnects cancels its store or read.
// Config.AuthToken makes PUT require Authorization: Bearer <token>
// (compared in constant time); reads never need it. `floe gateway` refuses
// to start on a non-loopback address without a token unless given
// --allow-unauthenticated-stores: anyone who can reach an open publisher
// stores at the expense of its account. Serve lets requests in progress
// finish for ShutdownGrace (10 s) after its context ends, then cancels
// them.
//
// Sizes are cached by blob ID (a blob ID commits to the length, F4.5), so
// a read costs one chain status lookup before the swarm read.
//
// # Sites by host name
//
// With Config.SiteDomain (`floe gateway --site-domain localhost`; off by
// default) a request whose Host is {label}.localhost[:port] is answered
// as the site named by label, every path of that host being the site's:
// the same index.html, 404 page, content types, cache headers, ETag and
// 304s, CSP sandbox and redirects as /sites/{site_id}/ (redirects and the
// directory slash relative to the host's root); OPTIONS answers the CORS
// preflight and other methods 405. Each site then has an origin of its
// own, as on the Walrus Sites portals; browsers resolve *.localhost to
// loopback. The domain itself and every other host (127.0.0.1, other
// names) stay the gateway's own API. /metrics, /health and /ready of a
// site host are the site's paths.
//
// The label is the site's object ID and nothing else: the base-x base36
// form of its 32 bytes that the Walrus portals use (SiteHostLabel,
// ParseSiteHostLabel; "0" per leading zero byte, then the rest as a
// number, at most 50 characters since a DNS label has 63, so the 64 hex
// digits cannot be one), any case. Site names are not resolved: they are
// not unique on chain, anyone may publish a site of any name, so a name
// would point at whoever published it first, or, with a rule "only when
// exactly one site has it", be taken away from its owner by anyone
// publishing a second; and the chain has no index by name (resolving one
// would scan every blob object). A Walrus portal names sites by SuiNS
// names for that, which floe has no counterpart of.
//
// The Host header is untrusted: under the domain, anything but one label
// of base36 digits spelling 32 bytes and an optional port of at most five
// digits is 400 INVALID_SITE_HOST (a second label, a label over 63
// characters, an empty or non-numeric port); an ID that is no site is 404
// SITE_NOT_FOUND, as at /sites/. The domain (at most 200 characters of
// DNS labels) is lower-cased and its dots trimmed when the gateway starts.
//
// # Site cache
//
// A site's manifest is read from the swarm once, not on every request:
// manifests are cached by their blob ID, which commits to their bytes, so
// an entry never goes stale (site_cache.go). The cache is an LRU bounded
// by Config.SiteCacheEntries (256) and SiteCacheBytes (64 MiB, counted as
// the manifest blob's size plus 128 bytes per path; a manifest larger than
// that is served but not kept). Concurrent first requests for a manifest
// read it once; one that does not parse is remembered as such. Which
// manifest is a site's current one is the site record's attribute on
// chain, changed by `floe site update`; that lookup, one chain read, is
// reused for Config.SiteTTL (`floe gateway --site-ttl`, 5 s there): an
// update shows within the TTL. The library's default TTL is 0, a lookup on
// every request, so an update shows at once. At most 4096 lookups are
// kept. The files themselves are read from the swarm on every request
// (each is one quilt patch, a few secondary slivers); a cached manifest
// is served as long as the record names it.
//
// # Measured
//
// go test -run '^$' -bench BenchmarkRead -count 6 ./node/gateway/ on a
// devnet of 4 nodes and 20 shards in the test process (2 vCPU Xeon, load
// about 3 from other work), medians of 6, the same blob read directly with
// node.Client.Read (what `floe read` does) and with an HTTP GET through the
// gateway on loopback:
//
//	blob     direct              gateway
//	64 KiB   1.24 ms   53 MB/s   1.46 ms   45 MB/s
//	1 MiB    4.76 ms  220 MB/s   5.25 ms  200 MB/s
//	4 MiB   14.2 ms   296 MB/s  14.2 ms   295 MB/s
//
// The gateway adds about 0.2-0.5 ms per read (the chain status lookup over
// the ledger's HTTP service, the HTTP hop and one copy of the body); for
// blobs of megabytes it is within the run-to-run noise.
//
// # Attacks
//
// go test -run Attack -v ./node/gateway/ (attack_test.go) on a devnet of 4
// nodes and 20 shards in the test process; attackers connect from other
// loopback addresses (127.0.0.x). Before is the gateway of commit 826055c
// (one pool of 16 slots taken on the headers, Grow(Content-Length), whole
// reads for ranges) with the same tests, after is this one (sliver bytes
// are counted by node.Client.FetchedSliverBytes):
//
//	attack                                 before                       after
//	20 IPs hold 60 MiB PUTs: 8 stalled     0 of 20 honest reads OK      20 of 20 OK, median 16 ms,
//	  after the headers, 8 trickling         (all 429)                    slowest 41 ms; an honest
//	  1 B/200 ms, 4 stalled after 64 KiB                                  store OK
//	one IP opens 200 connections: 150      0 of 20 OK (all 429)         20 of 20 OK, median 37 ms;
//	  stalled PUTs, 50 GETs never read                                    64 accepted, the rest 429
//	24 stalled PUTs declaring 60 MiB       heap in use 25 → 987 MiB     22 → 23 MiB (+1 MiB)
//	stalled or trickling body, 0.5 s       no answer in 5 s (held for   408 after 0.50 s, slot
//	  window                                 StoreTimeout, 10 min)        freed
//	1-byte Range of a 4 MiB blob: sliver   4,194,456 (8 slivers, the    524,307 (1 sliver); 2 bytes
//	  bytes fetched                          whole blob)                  across rows: 1,048,614
//
// For a 64 MiB blob on 1000 shards a sliver is about 200 KB, so a 1-byte
// range costs about 1/334 of a full read.
//
// # Tests
//
// go test ./node/gateway/ runs the handler against a fake backend that
// encodes for real on an in-memory ledger (every error code, Range edges,
// limits, cancellation), the same against devnets with Go's HTTP client,
// the attack tests above,
// and two page tests in headless Chromium (skipped without chromium on
// PATH, a failure with FLOE_REQUIRE_CHROMIUM=1): TestChromiumPage opens a
// stored page drawing a stored image; TestChromiumIndexPage drives the
// browser over the DevTools protocol on a pipe (cdp_test.go): it loads /,
// checks the epoch and shards it shows, picks an HTML file in the form and
// clicks Store, follows the link and checks the page rendered (its
// script's title, its UTF-8 text without a <meta charset>, a pixel of its
// box), checks the blob's plain URL shows it as text, and uploads a PNG
// that renders at its plain URL under --sniff-content-type. Its screenshot
// of / after an upload is testdata/gateway-index.png
// (FLOE_UPDATE_SCREENSHOT=1 rewrites it). Fuzz targets: FuzzRange,
// FuzzStoreQuery, FuzzReadQuery, FuzzRequest (go test -fuzz=FuzzRange
// -fuzztime=30s ./node/gateway/).
package gateway
