package gateway

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"floe/chainlink"
	"floe/codec"
	"floe/node"
)

// Sites (node/quilt_site.go): GET /sites/{site_id}/{path…} serves a site
// published with `floe site publish`: the site record's attributes name
// its manifest blob, the manifest maps the path to a quilt patch, and the
// patch is read from the secondary slivers that hold it. "/" and
// directories are their index.html, a directory without its slash
// redirects to it, the manifest's redirects apply, and a missing path is
// the site's 404 page with status 404. Answers carry the manifest's
// content type and headers, Cache-Control and the patch ID as ETag. The
// same answers are served by host name with Config.SiteDomain
// (sitehost.go), and manifests come from the site cache (site_cache.go).
//
// The gateway's origin is shared by everything it serves, so a site's
// pages are answered with Content-Security-Policy: sandbox (scripts,
// forms and popups allowed): the browser runs them in an opaque origin,
// away from the gateway's own page and from other sites' storage. Their
// fetches of the site's own files are cross-origin then, which the
// gateway's "Access-Control-Allow-Origin: *" allows.

// sitePrefix is the path of the site routes before the site ID.
const sitePrefix = "/sites/"

// siteSandbox is the Content-Security-Policy of a site's answers.
const siteSandbox = "sandbox allow-scripts allow-forms allow-popups allow-downloads"

// siteError maps an error of a site lookup to its answer.
func siteError(err error) *apiError {
	switch {
	case errors.Is(err, node.ErrNotASite):
		return &apiError{code: http.StatusNotFound, status: StatusNotFound, reason: "SITE_NOT_FOUND",
			message: "the object is not a site record, or its manifest is not valid", cause: err}
	case errors.Is(err, chainlink.ErrNotFound), errors.Is(err, node.ErrBlobNotFound):
		return &apiError{code: http.StatusNotFound, status: StatusNotFound, reason: "SITE_NOT_FOUND",
			message: "no site with this ID", cause: err}
	}
	return quiltError(err, false)
}

// loadSite returns a site's current manifest: the record's lookup and
// the manifest come from the site cache (site_cache.go) when they can.
func (g *Gateway) loadSite(ctx context.Context, site chainlink.ID) (*node.SiteManifest, error) {
	id, err := g.sites.record(ctx, site, func(ctx context.Context) (codec.BlobID, error) {
		id, _, err := node.SiteRecord(ctx, g.b.Chain(), site)
		return id, err
	})
	if err != nil {
		return nil, err
	}
	return g.sites.manifest(ctx, id, func(ctx context.Context) (*node.SiteManifest, int, error) {
		st, err := g.b.Status(ctx, id)
		if err != nil {
			return nil, 0, err
		}
		if !st.Certified() {
			return nil, 0, node.ErrBlobNotFound
		}
		res, err := g.b.Read(ctx, id, node.ReadOptions{})
		if err != nil {
			return nil, 0, err
		}
		m, err := node.ParseSiteManifest(res.Data)
		return m, len(res.Data), err
	})
}

// serveSite answers a GET or HEAD under /sites/.
func (g *Gateway) serveSite(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, sitePrefix)
	rawID, sitePath, hasSlash := strings.Cut(rest, "/")
	site, err := chainlink.ParseID(rawID)
	if err != nil {
		writeError(w, badRequest("INVALID_OBJECT_ID", "site ID %q: want 64 hex digits, 0x-prefixed", rawID))
		return
	}
	base := sitePrefix + rawID + "/"
	if !hasSlash {
		// Relative links resolve against the site's root only with its slash.
		http.Redirect(w, r, base, http.StatusMovedPermanently)
		return
	}
	g.serveSitePath(w, r, site, base, "/"+sitePath)
}

// serveSitePath answers a GET or HEAD of sitePath (percent-decoded, from
// "/") of site, whose root is at base ("/sites/{site_id}/", or "/" when
// served by host name); redirects are made relative to base.
func (g *Gateway) serveSitePath(w http.ResponseWriter, r *http.Request, site chainlink.ID, base, sitePath string) {
	if r.URL.RawQuery != "" {
		if _, err := parseQuery(r.URL.RawQuery); err != nil {
			writeError(w, readError(err))
			return
		}
	}
	qb, ok := g.quiltBackend(w)
	if !ok {
		return
	}
	release, ok := g.acquire(w, r, g.reads)
	if !ok {
		return
	}
	defer release()
	ctx, cancel := g.readContext(w, r)
	defer cancel()
	m, err := g.loadSite(ctx, site)
	if err != nil {
		g.fail(w, r, siteError(err))
		return
	}
	ans := m.Resolve(sitePath)
	if ans.Redirect != "" {
		code := http.StatusFound
		if ans.Moved {
			code = http.StatusMovedPermanently
		}
		http.Redirect(w, r, strings.TrimSuffix(base, "/")+(&url.URL{Path: ans.Redirect}).EscapedPath(), code)
		return
	}
	if ans.Resource == nil {
		g.fail(w, r, notFound("SITE_PATH_NOT_FOUND", "the site has no such path and no 404 page"))
		return
	}
	res := ans.Resource
	h := w.Header()
	etag := res.PatchID.String()
	if ans.Status == http.StatusOK {
		h.Set("ETag", etag)
		h.Set("Cache-Control", "public, max-age=60, stale-while-revalidate=3600")
		if etagMatches(r.Header.Get("If-None-Match"), etag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	out, err := qb.ReadQuiltPatch(ctx, res.PatchID, node.ReadOptions{})
	if err != nil {
		h.Del("ETag")
		g.fail(w, r, siteError(err))
		return
	}
	if len(out.File.Data) != res.Size {
		g.fail(w, r, &apiError{code: http.StatusBadGateway, status: StatusInternal, reason: "SITE_RESOURCE_MISMATCH",
			message: "the patch does not hold the file the manifest names"})
		return
	}
	for k, v := range res.Headers {
		if validHeaderValue(v) {
			h.Set(k, v)
		}
	}
	h.Set("Content-Type", res.ContentType)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", siteSandbox)
	h.Set("Content-Length", strconv.Itoa(len(out.File.Data)))
	w.WriteHeader(ans.Status)
	if r.Method != http.MethodHead {
		if _, err := w.Write(out.File.Data); err != nil {
			g.log.Debug("gateway: write site body", "site", site, "path", res.Path, "err", err)
		}
	}
}

// siteRoute dispatches /sites/… (from prefixRoute); false when the path
// is not a site's.
func (g *Gateway) siteRoute(w http.ResponseWriter, r *http.Request) bool {
	if !strings.HasPrefix(r.URL.Path, sitePrefix) || len(r.URL.Path) == len(sitePrefix) {
		return false
	}
	g.serveSite(w, r)
	return true
}
