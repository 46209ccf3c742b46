package node

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"

	"mime"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"floe/chainlink"
	"floe/codec"
)

// Sites: a directory served as a website from quilts. `floe site publish
// DIR` stores the directory's files as one quilt (several when they do not
// fit one), each file tagged with its content type, and a manifest blob
// (SiteManifest, JSON) naming every path's quilt patch, content type and
// headers, optional redirects and a 404 page. The site's record on chain
// is a blob object (the first manifest's) whose attributes say it is a
// site and name its current manifest; the site ID is that object's ID.
// `floe site update` stores only the files that changed, a new manifest,
// and points the record's attribute at it. A gateway serves the site at
// /sites/{site_id}/… (node/gateway/site.go).

// Site record attributes.
const (
	// AttrSite marks a blob object as a site record ("1").
	AttrSite = "_floeSite"
	// AttrSiteManifest is the blob ID of the site's current manifest.
	AttrSiteManifest = "_floeSiteManifest"
	// AttrSiteName is the site's name.
	AttrSiteName = "_floeSiteName"
)

// SiteConfigFile is the optional file in a site's directory with its
// name, headers, redirects and 404 page (SiteConfig); it is not published.
const SiteConfigFile = "floe-site.json"

// MaxSiteManifestSize bounds a manifest blob.
const MaxSiteManifestSize = 16 << 20

// ErrNotASite means an object is no site record, or its manifest is not a
// valid SiteManifest.
var ErrNotASite = errors.New("node: not a site")

// SiteResource is one path of a site.
type SiteResource struct {
	// Path is the URL path inside the site, starting with "/".
	Path        string             `json:"path"`
	PatchID     codec.QuiltPatchID `json:"patch_id"`
	ContentType string             `json:"content_type"`
	Size        int                `json:"size"`
	SHA256      string             `json:"sha256"`
	// Headers are extra response headers (SiteConfig.Headers).
	Headers map[string]string `json:"headers,omitempty"`
}

// SiteManifest is a site's content: what `floe site publish` stores and
// a gateway serves.
type SiteManifest struct {
	Version   int            `json:"version"`
	Name      string         `json:"name"`
	Resources []SiteResource `json:"resources"` // sorted by path, unique
	// Redirects map a path to another path of the site (302).
	Redirects map[string]string `json:"redirects,omitempty"`
	// NotFound is the path served, with status 404, for a missing path.
	NotFound string `json:"not_found,omitempty"`
}

// SiteConfig is the optional floe-site.json of a site's directory.
type SiteConfig struct {
	Name string `json:"name,omitempty"`
	// Headers are extra response headers by path.
	Headers map[string]map[string]string `json:"headers,omitempty"`
	// Redirects map a path to another path of the site.
	Redirects map[string]string `json:"redirects,omitempty"`
	// NotFound is the 404 page's path (default /404.html when the
	// directory has one).
	NotFound string `json:"not_found,omitempty"`
}

// siteTypes are the content types of common web files, so that a site is
// served the same whatever the publisher's /etc/mime.types says.
var siteTypes = map[string]string{
	".html": "text/html; charset=utf-8", ".htm": "text/html; charset=utf-8",
	".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".mjs": "text/javascript; charset=utf-8",
	".json": "application/json", ".txt": "text/plain; charset=utf-8", ".md": "text/markdown; charset=utf-8",
	".xml": "application/xml", ".svg": "image/svg+xml", ".png": "image/png", ".jpg": "image/jpeg",
	".jpeg": "image/jpeg", ".gif": "image/gif", ".webp": "image/webp", ".avif": "image/avif", ".ico": "image/x-icon",
	".woff": "font/woff", ".woff2": "font/woff2", ".ttf": "font/ttf", ".otf": "font/otf", ".wasm": "application/wasm",
	".pdf": "application/pdf", ".mp4": "video/mp4", ".webm": "video/webm", ".mp3": "audio/mpeg", ".wav": "audio/wav",
}

// SiteContentType is the content type a site serves a file of this name
// with.
func SiteContentType(name string) string {
	ext := strings.ToLower(path.Ext(name))
	if t, ok := siteTypes[ext]; ok {
		return t
	}
	if t := mime.TypeByExtension(ext); t != "" {
		return t
	}
	return "application/octet-stream"
}

func checkSitePath(p string) error {
	if !strings.HasPrefix(p, "/") || path.Clean(p) != p || strings.ContainsAny(p, "\x00\r\n") {
		return fmt.Errorf("%w: path %q is not a clean absolute path", ErrNotASite, p)
	}
	return nil
}

// ParseSiteManifest decodes and checks a manifest blob.
func ParseSiteManifest(b []byte) (*SiteManifest, error) {
	if len(b) > MaxSiteManifestSize {
		return nil, fmt.Errorf("%w: manifest of %d bytes", ErrNotASite, len(b))
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var m SiteManifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: manifest: %v", ErrNotASite, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: manifest: trailing data", ErrNotASite)
	}
	if m.Version != 1 {
		return nil, fmt.Errorf("%w: manifest version %d", ErrNotASite, m.Version)
	}
	for i, r := range m.Resources {
		if err := checkSitePath(r.Path); err != nil {
			return nil, err
		}
		if i > 0 && m.Resources[i-1].Path >= r.Path {
			return nil, fmt.Errorf("%w: resources not sorted by path at %q", ErrNotASite, r.Path)
		}
	}
	for from, to := range m.Redirects {
		if checkSitePath(from) != nil || checkSitePath(strings.TrimSuffix(to, "/")) != nil && to != "/" {
			return nil, fmt.Errorf("%w: redirect %q → %q", ErrNotASite, from, to)
		}
	}
	if m.NotFound != "" && m.Resource(m.NotFound) == nil {
		return nil, fmt.Errorf("%w: the 404 page %q is no resource", ErrNotASite, m.NotFound)
	}
	return &m, nil
}

// Resource returns the resource at exactly p, nil if none.
func (m *SiteManifest) Resource(p string) *SiteResource {
	i, ok := slices.BinarySearchFunc(m.Resources, p, func(r SiteResource, p string) int { return strings.Compare(r.Path, p) })
	if !ok {
		return nil
	}
	return &m.Resources[i]
}

// SiteAnswer is how a site answers a path: a resource (with its status),
// a redirect, or nothing.
type SiteAnswer struct {
	Resource *SiteResource
	Status   int    // 200, or 404 with the site's 404 page
	Redirect string // a path of the site (301 for a directory's slash, else 302)
	Moved    bool   // the redirect is permanent
}

// Resolve answers a URL path of the site (already percent-decoded):
// "/" and paths ending in "/" are their index.html; a directory without
// its slash redirects to it; redirects apply before resources; a missing
// path is the 404 page, if any.
func (m *SiteManifest) Resolve(p string) SiteAnswer {
	if p == "" {
		p = "/"
	}
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	clean := path.Clean(p)
	if strings.HasSuffix(p, "/") && clean != "/" {
		clean += "/"
	}
	if to, ok := m.Redirects[strings.TrimSuffix(clean, "/")]; ok && clean != "/" {
		return SiteAnswer{Redirect: to}
	}
	switch {
	case strings.HasSuffix(clean, "/"):
		if r := m.Resource(clean + "index.html"); r != nil {
			return SiteAnswer{Resource: r, Status: 200}
		}
	default:
		if r := m.Resource(clean); r != nil {
			return SiteAnswer{Resource: r, Status: 200}
		}
		if m.Resource(clean+"/index.html") != nil {
			return SiteAnswer{Redirect: clean + "/", Moved: true}
		}
	}
	if m.NotFound != "" {
		return SiteAnswer{Resource: m.Resource(m.NotFound), Status: 404}
	}
	return SiteAnswer{Status: 404}
}

// siteFile is a file of a site's directory.
type siteFile struct {
	path string // "/css/site.css"
	data []byte
	sum  string
	ct   string
}

// readSiteDir reads every regular file under dir (but SiteConfigFile) and
// the config.
func readSiteDir(dir string) ([]siteFile, SiteConfig, error) {
	var cfg SiteConfig
	if b, err := os.ReadFile(filepath.Join(dir, SiteConfigFile)); err == nil {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&cfg); err != nil {
			return nil, cfg, fmt.Errorf("%s: %w", SiteConfigFile, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, cfg, err
	}
	var files []siteFile
	err := fs.WalkDir(os.DirFS(dir), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() || p == SiteConfigFile {
			return err
		}
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(p)))
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		files = append(files, siteFile{path: "/" + p, data: data, sum: hex.EncodeToString(sum[:]), ct: SiteContentType(p)})
		return nil
	})
	if err != nil {
		return nil, cfg, err
	}
	if len(files) == 0 {
		return nil, cfg, fmt.Errorf("%s holds no file to publish", dir)
	}
	return files, cfg, nil // WalkDir walks in lexical order: sorted by path
}

// SitePublishResult is what publishing or updating a site did.
type SitePublishResult struct {
	SiteID     chainlink.ID  `json:"site_id"`
	ManifestID codec.BlobID  `json:"manifest_id"`
	Manifest   *SiteManifest `json:"manifest"`
	// Quilts are the quilts stored for the files that changed (all of
	// them on a first publish).
	Quilts    []codec.BlobID `json:"quilts"`
	Stored    int            `json:"stored_files"`
	Unchanged int            `json:"unchanged_files"`
	Removed   int            `json:"removed_files"`
	// Changed is false when an update found nothing to change (nothing
	// was stored).
	Changed bool `json:"changed"`
}

// SiteStore is what publishing and reading sites needs: a *Client, or
// another backend that stores and reads blobs and quilts.
type SiteStore interface {
	Params() codec.Params
	Chain() chainlink.Chain
	Store(ctx context.Context, data []byte, opts StoreOptions) (*StoreResult, error)
	StoreQuilt(ctx context.Context, files []codec.QuiltFile, opts StoreOptions) (*QuiltStoreResult, error)
	Read(ctx context.Context, id codec.BlobID, opts ReadOptions) (*ReadResult, error)
}

var _ SiteStore = (*Client)(nil)

// quiltGroups splits files into groups that each fit one quilt.
func quiltGroups(p codec.Params, files []codec.QuiltFile) ([][]codec.QuiltFile, error) {
	_, err := codec.EncodeQuilt(p, files)
	switch {
	case err == nil:
		return [][]codec.QuiltFile{files}, nil
	case len(files) > 1 && (errors.Is(err, codec.ErrQuiltTooLarge) || errors.Is(err, codec.ErrQuiltTooManyFiles)):
		a, err := quiltGroups(p, files[:len(files)/2])
		if err != nil {
			return nil, err
		}
		b, err := quiltGroups(p, files[len(files)/2:])
		return append(a, b...), err
	}
	return nil, err
}

// buildSite stores the files not in keep as quilts and returns the
// manifest of all files.
func buildSite(ctx context.Context, c SiteStore, files []siteFile, cfg SiteConfig, keep map[string]SiteResource,
	opts StoreOptions, res *SitePublishResult) (*SiteManifest, error) {
	m := &SiteManifest{Version: 1, Name: cfg.Name, Redirects: cfg.Redirects, NotFound: cfg.NotFound}
	var todo []codec.QuiltFile
	byPath := map[string]*siteFile{}
	for i := range files {
		f := &files[i]
		byPath[f.path] = f
		if old, ok := keep[f.path]; ok && old.SHA256 == f.sum && old.ContentType == f.ct {
			res.Unchanged++
			continue
		}
		todo = append(todo, codec.QuiltFile{Identifier: f.path[1:], Tags: map[string]string{"content-type": f.ct}, Data: f.data})
	}
	patches := map[string]codec.QuiltPatchID{}
	if len(todo) > 0 {
		groups, err := quiltGroups(c.Params(), todo)
		if err != nil {
			return nil, err
		}
		for _, g := range groups {
			st, err := c.StoreQuilt(ctx, g, opts)
			if err != nil {
				return nil, err
			}
			res.Quilts = append(res.Quilts, st.BlobID)
			for _, p := range st.Patches {
				patches["/"+p.Identifier] = p.PatchID
			}
		}
	}
	res.Stored = len(todo)
	for _, f := range files {
		r := SiteResource{Path: f.path, ContentType: f.ct, Size: len(f.data), SHA256: f.sum, Headers: cfg.Headers[f.path]}
		if id, ok := patches[f.path]; ok {
			r.PatchID = id
		} else {
			r.PatchID = keep[f.path].PatchID
		}
		m.Resources = append(m.Resources, r)
	}
	if m.NotFound == "" && byPath["/404.html"] != nil {
		m.NotFound = "/404.html"
	}
	for k := range keep {
		if byPath[k] == nil {
			res.Removed++
		}
	}
	// Check it as a gateway will.
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	if _, err := ParseSiteManifest(b); err != nil {
		return nil, fmt.Errorf("%s: %w", SiteConfigFile, err)
	}
	return m, nil
}

// PublishSite publishes the directory as a new site owned by the client's
// account (or opts.SendObjectTo): its files as quilts, its manifest as a
// blob, whose object becomes the site record.
func (c *Client) PublishSite(ctx context.Context, dir string, name string, opts StoreOptions) (*SitePublishResult, error) {
	return PublishSite(ctx, c, dir, name, opts)
}

// PublishSite is Client.PublishSite on any SiteStore.
func PublishSite(ctx context.Context, c SiteStore, dir string, name string, opts StoreOptions) (*SitePublishResult, error) {
	ba, ok := c.Chain().(chainlink.BlobAttributes)
	if !ok {
		return nil, errors.New("node: sites need a chain that keeps blob attributes")
	}
	files, cfg, err := readSiteDir(dir)
	if err != nil {
		return nil, err
	}
	if name != "" {
		cfg.Name = name
	}
	if cfg.Name == "" {
		cfg.Name = filepath.Base(filepath.Clean(dir))
	}
	res := &SitePublishResult{Changed: true}
	m, err := buildSite(ctx, c, files, cfg, nil, opts, res)
	if err != nil {
		return nil, err
	}
	mb, _ := json.Marshal(m)
	mopts := opts
	mopts.Force = true // a new object: the site record
	st, err := c.Store(ctx, mb, mopts)
	if err != nil {
		return nil, fmt.Errorf("storing the site manifest: %w", err)
	}
	if _, err := ba.SetBlobAttributes(ctx, st.Blob.Owner, st.Blob.ObjectID, map[string]string{
		AttrSite: "1", AttrSiteManifest: st.BlobID.String(), AttrSiteName: cfg.Name, "content-type": "application/json",
	}); err != nil {
		return nil, fmt.Errorf("making blob object %s the site record: %w", st.Blob.ObjectID, err)
	}
	res.SiteID, res.ManifestID, res.Manifest = st.Blob.ObjectID, st.BlobID, m
	return res, nil
}

// UpdateSite re-publishes the directory as the site's new content: the
// files that changed (content or type) are stored as new quilts, the
// others keep their patches; then the new manifest is stored and the site
// record points to it. Only the record's owner (the client's account) may.
func (c *Client) UpdateSite(ctx context.Context, site chainlink.ID, dir string, opts StoreOptions) (*SitePublishResult, error) {
	// Refuse before storing anything when the record is not ours.
	b, err := c.chain.Blob(ctx, site)
	if err != nil {
		return nil, fmt.Errorf("site record %s: %w", site, err)
	}
	if !c.cfg.Account.IsZero() && b.Owner != c.cfg.Account {
		return nil, fmt.Errorf("%w: site %s belongs to %s, not to this account (%s)", chainlink.ErrNotOwner, site, b.Owner, c.cfg.Account)
	}
	return UpdateSite(ctx, c, site, dir, opts)
}

// UpdateSite is Client.UpdateSite on any SiteStore.
func UpdateSite(ctx context.Context, c SiteStore, site chainlink.ID, dir string, opts StoreOptions) (*SitePublishResult, error) {
	old, oldID, err := LoadSite(ctx, c, site)
	if err != nil {
		return nil, err
	}
	files, cfg, err := readSiteDir(dir)
	if err != nil {
		return nil, err
	}
	if cfg.Name == "" {
		cfg.Name = old.Name
	}
	keep := map[string]SiteResource{}
	for _, r := range old.Resources {
		keep[r.Path] = r
	}
	res := &SitePublishResult{SiteID: site}
	m, err := buildSite(ctx, c, files, cfg, keep, opts, res)
	if err != nil {
		return nil, err
	}
	mb, _ := json.Marshal(m)
	ob, _ := json.Marshal(old)
	res.Manifest = m
	if bytes.Equal(mb, ob) {
		res.ManifestID = oldID
		return res, nil
	}
	res.Changed = true
	st, err := c.Store(ctx, mb, opts)
	if err != nil {
		return nil, fmt.Errorf("storing the site manifest: %w", err)
	}
	b, err := c.Chain().Blob(ctx, site)
	if err != nil {
		return nil, fmt.Errorf("%w: site record %s: %w", ErrChain, site, err)
	}
	ba := c.Chain().(chainlink.BlobAttributes) // LoadSite checked
	if _, err := ba.SetBlobAttributes(ctx, b.Owner, site, map[string]string{AttrSiteManifest: st.BlobID.String(), AttrSiteName: m.Name}); err != nil {
		return nil, fmt.Errorf("pointing site %s at its new manifest: %w", site, err)
	}
	res.ManifestID = st.BlobID
	return res, nil
}

// SiteRecord reads a site record's attributes: its manifest's blob ID and
// name.
func SiteRecord(ctx context.Context, ch chainlink.Chain, site chainlink.ID) (codec.BlobID, string, error) {
	ba, ok := ch.(chainlink.BlobAttributes)
	if !ok {
		return codec.BlobID{}, "", errors.New("node: sites need a chain that keeps blob attributes")
	}
	attrs, err := ba.BlobAttributes(ctx, site)
	if err != nil {
		return codec.BlobID{}, "", err
	}
	if attrs[AttrSite] != "1" {
		return codec.BlobID{}, "", fmt.Errorf("%w: blob object %s is no site record", ErrNotASite, site)
	}
	id, err := codec.ParseBlobID(attrs[AttrSiteManifest])
	if err != nil {
		return codec.BlobID{}, "", fmt.Errorf("%w: site %s names no manifest: %v", ErrNotASite, site, err)
	}
	return id, attrs[AttrSiteName], nil
}

// LoadSite reads a site's current manifest and its blob ID.
func (c *Client) LoadSite(ctx context.Context, site chainlink.ID) (*SiteManifest, codec.BlobID, error) {
	return LoadSite(ctx, c, site)
}

// LoadSite is Client.LoadSite on any SiteStore.
func LoadSite(ctx context.Context, c SiteStore, site chainlink.ID) (*SiteManifest, codec.BlobID, error) {
	id, _, err := SiteRecord(ctx, c.Chain(), site)
	if err != nil {
		return nil, id, err
	}
	rr, err := c.Read(ctx, id, ReadOptions{})
	if err != nil {
		return nil, id, fmt.Errorf("site manifest %s: %w", id, err)
	}
	m, err := ParseSiteManifest(rr.Data)
	return m, id, err
}

// SiteInfo is a site record of an account.
type SiteInfo struct {
	SiteID     chainlink.ID `json:"site_id"`
	Name       string       `json:"name"`
	ManifestID codec.BlobID `json:"manifest_id"`
	EndEpoch   uint32       `json:"end_epoch"`
}

// ListSites returns the site records owner owns, sorted by ID.
func ListSites(ctx context.Context, ch chainlink.Chain, owner chainlink.ID) ([]SiteInfo, error) {
	blobs, err := ch.OwnedBlobs(ctx, owner)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrChain, err)
	}
	out := []SiteInfo{}
	for _, b := range blobs {
		id, name, err := SiteRecord(ctx, ch, b.ObjectID)
		if errors.Is(err, ErrNotASite) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, SiteInfo{SiteID: b.ObjectID, Name: name, ManifestID: id, EndEpoch: b.Storage.EndEpoch})
	}
	return out, nil
}
