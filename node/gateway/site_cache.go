package gateway

import (
	"container/list"
	"context"
	"errors"
	"sync"
	"time"

	"floe/chainlink"
	"floe/codec"
	"floe/node"
)

// The site cache (Config.SiteTTL, SiteCacheEntries, SiteCacheBytes).
// A manifest blob never changes (its ID commits to its bytes), so parsed
// manifests are kept by blob ID in an LRU bounded in entries and bytes,
// and a page's other files never read the manifest from the swarm again;
// concurrent first requests for one manifest read it once. A manifest
// that does not parse is remembered as such too (it never will). What
// changes is which manifest a site record names (`floe site update`):
// that lookup, one chain read, is reused for SiteTTL (0: every request
// reads it, so an update shows at once); an update shows within SiteTTL.

// Defaults of the site cache.
const (
	DefaultSiteCacheEntries = 256
	DefaultSiteCacheBytes   = 64 << 20
	// maxSiteRecords bounds the site → manifest lookups kept for SiteTTL.
	maxSiteRecords = 4096
	// siteResourceCost is the memory counted per path of a manifest on top
	// of the manifest blob's size (the parsed form's headers and strings).
	siteResourceCost = 128
)

type siteRecordEntry struct {
	manifest codec.BlobID
	expires  time.Time
}

type siteManifestEntry struct {
	id   codec.BlobID
	m    *node.SiteManifest
	err  error // the manifest does not parse (ErrNotASite): it never will
	cost int64
}

type siteFlight struct {
	done chan struct{}
	m    *node.SiteManifest
	err  error
}

// siteCache is the gateway's site cache; safe for concurrent use.
type siteCache struct {
	ttl        time.Duration
	maxEntries int
	maxBytes   int64
	now        func() time.Time // time.Now; tests move it

	mu      sync.Mutex
	records map[chainlink.ID]siteRecordEntry
	lru     *list.List // of *siteManifestEntry, most recently used first
	byID    map[codec.BlobID]*list.Element
	bytes   int64
	flights map[codec.BlobID]*siteFlight
}

// newSiteCache checks and completes the site fields of cfg and returns
// the cache they describe.
func newSiteCache(cfg *Config) (*siteCache, error) {
	if cfg.SiteTTL < 0 || cfg.SiteCacheEntries < 0 || cfg.SiteCacheBytes < 0 {
		return nil, errors.New("gateway: negative site cache limit in config")
	}
	if cfg.SiteCacheEntries == 0 {
		cfg.SiteCacheEntries = DefaultSiteCacheEntries
	}
	if cfg.SiteCacheBytes == 0 {
		cfg.SiteCacheBytes = DefaultSiteCacheBytes
	}
	if cfg.SiteDomain != "" {
		d, err := checkSiteDomain(cfg.SiteDomain)
		if err != nil {
			return nil, err
		}
		cfg.SiteDomain = d
	}
	return &siteCache{
		ttl: cfg.SiteTTL, maxEntries: cfg.SiteCacheEntries, maxBytes: cfg.SiteCacheBytes, now: time.Now,
		records: map[chainlink.ID]siteRecordEntry{}, lru: list.New(),
		byID: map[codec.BlobID]*list.Element{}, flights: map[codec.BlobID]*siteFlight{},
	}, nil
}

// record returns the manifest blob ID site's record names, from lookup
// unless a lookup of the last SiteTTL is at hand.
func (c *siteCache) record(ctx context.Context, site chainlink.ID,
	lookup func(context.Context) (codec.BlobID, error)) (codec.BlobID, error) {
	if c.ttl <= 0 {
		return lookup(ctx)
	}
	now := c.now()
	c.mu.Lock()
	e, ok := c.records[site]
	c.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.manifest, nil
	}
	id, err := lookup(ctx)
	if err != nil {
		return id, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.records[site]; !ok && len(c.records) >= maxSiteRecords {
		for k, v := range c.records {
			if !now.Before(v.expires) {
				delete(c.records, k)
			}
		}
		for k := range c.records { // none expired: drop any one
			if len(c.records) < maxSiteRecords {
				break
			}
			delete(c.records, k)
		}
	}
	c.records[site] = siteRecordEntry{manifest: id, expires: now.Add(c.ttl)}
	return id, nil
}

// manifest returns the manifest of blob id, from load (which returns it
// and the size of its blob) unless it is cached. Concurrent calls for one
// ID share one load; a caller whose ctx ends stops waiting, and if the
// load it waited for was cut off by its own caller's ctx, it loads itself.
func (c *siteCache) manifest(ctx context.Context, id codec.BlobID,
	load func(context.Context) (*node.SiteManifest, int, error)) (*node.SiteManifest, error) {
	for {
		c.mu.Lock()
		if el, ok := c.byID[id]; ok {
			c.lru.MoveToFront(el)
			e := el.Value.(*siteManifestEntry)
			c.mu.Unlock()
			return e.m, e.err
		}
		if f, ok := c.flights[id]; ok {
			c.mu.Unlock()
			select {
			case <-f.done:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			if f.err != nil && (errors.Is(f.err, context.Canceled) || errors.Is(f.err, context.DeadlineExceeded)) && ctx.Err() == nil {
				continue
			}
			return f.m, f.err
		}
		f := &siteFlight{done: make(chan struct{})}
		c.flights[id] = f
		c.mu.Unlock()

		m, size, err := load(ctx)
		f.m, f.err = m, err
		c.mu.Lock()
		delete(c.flights, id)
		switch {
		case err == nil:
			c.put(&siteManifestEntry{id: id, m: m, cost: int64(size) + siteResourceCost*int64(len(m.Resources))})
		case errors.Is(err, node.ErrNotASite):
			c.put(&siteManifestEntry{id: id, err: err, cost: siteResourceCost})
		}
		c.mu.Unlock()
		close(f.done)
		return m, err
	}
}

// put adds e and evicts the least recently used entries beyond the
// bounds; an entry larger than all the bytes allowed is not kept. c.mu is
// held.
func (c *siteCache) put(e *siteManifestEntry) {
	if e.cost > c.maxBytes {
		return
	}
	if _, ok := c.byID[e.id]; ok {
		return
	}
	c.byID[e.id] = c.lru.PushFront(e)
	c.bytes += e.cost
	for c.lru.Len() > c.maxEntries || c.bytes > c.maxBytes {
		old := c.lru.Remove(c.lru.Back()).(*siteManifestEntry)
		delete(c.byID, old.id)
		c.bytes -= old.cost
	}
}

// stats returns the number of manifests cached and their bytes.
func (c *siteCache) stats() (entries int, bytes int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len(), c.bytes
}
