package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"floe/codec"
	"floe/node"
)

// startSiteGateway serves a gateway over b whose site cache's clock is the
// returned one (advance it with Add).
func startSiteGateway(t *testing.T, b Backend, cfg Config) (string, *atomic.Int64) {
	t.Helper()
	cfg.Logger = discardLogger()
	g, err := New(b, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var clock atomic.Int64
	clock.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	g.sites.now = func() time.Time { return time.Unix(0, clock.Load()) }
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	return srv.URL, &clock
}

// TestSiteManifestCache: the pages of a site read its manifest from the
// swarm once, and its record once per SiteTTL; after `floe site update`
// the old page shows until the TTL is over, then the new one, whose
// manifest is read once; with SiteTTL 0 the record is read every time
// (an update shows at once) but the manifest still once.
func TestSiteManifestCache(t *testing.T) {
	f := newFakeBackend(t, testShards)
	cb := newCountingBackend(f)
	const ttl = 5 * time.Second
	base, clock := startSiteGateway(t, cb, Config{SiteTTL: ttl})
	fresh, _ := startSiteGateway(t, cb, Config{})
	ctx := context.Background()
	dir := t.TempDir()
	writeSiteDir(t, dir, map[string]string{"index.html": "one", "style.css": "b{}", "404.html": "lost"})
	pub, err := node.PublishSite(ctx, f, dir, "", node.StoreOptions{Epochs: 2})
	if err != nil {
		t.Fatal(err)
	}
	site := "/sites/" + pub.SiteID.String()
	get := func(base, path, want string) {
		t.Helper()
		resp, body := do(t, http.MethodGet, base+site+path, nil, nil)
		if string(body) != want {
			t.Fatalf("GET %s: %d %q, want %q", path, resp.StatusCode, body, want)
		}
	}
	check := func(id codec.BlobID, wantReads, wantAttrs int) {
		t.Helper()
		if reads, attrs := cb.counts(id); reads != wantReads || attrs != wantAttrs {
			t.Fatalf("manifest %s read %d times, records looked up %d times; want %d, %d", id, reads, attrs, wantReads, wantAttrs)
		}
	}
	get(base, "/", "one")
	check(pub.ManifestID, 1, 1)
	get(base, "/style.css", "b{}")
	get(base, "/nope", "lost")
	get(base, "/", "one")
	check(pub.ManifestID, 1, 1) // nothing from the swarm or the chain

	writeSiteDir(t, dir, map[string]string{"index.html": "two"})
	upd, err := node.UpdateSite(ctx, f, pub.SiteID, dir, node.StoreOptions{Epochs: 2})
	if err != nil || !upd.Changed {
		t.Fatalf("update: %+v %v", upd, err)
	}
	clock.Add(int64(ttl - time.Second))
	get(base, "/", "one") // within the TTL: the record is not read again
	check(pub.ManifestID, 1, 1)
	check(upd.ManifestID, 0, 1)
	clock.Add(int64(time.Second))
	get(base, "/", "two")
	check(upd.ManifestID, 1, 2)
	get(base, "/style.css", "b{}")
	get(base, "/", "two")
	check(upd.ManifestID, 1, 2)

	// SiteTTL 0: the record every time, the manifest once.
	get(fresh, "/", "two")
	get(fresh, "/", "two")
	check(upd.ManifestID, 2, 4)
	writeSiteDir(t, dir, map[string]string{"index.html": "three"})
	upd2, err := node.UpdateSite(ctx, f, pub.SiteID, dir, node.StoreOptions{Epochs: 2})
	if err != nil {
		t.Fatal(err)
	}
	get(fresh, "/", "three")
	check(upd2.ManifestID, 1, 5)
}

// TestSiteManifestCacheConcurrent: requests arriving together for a site
// whose manifest is not cached read it from the swarm once.
func TestSiteManifestCacheConcurrent(t *testing.T) {
	f := newFakeBackend(t, testShards)
	cb := newCountingBackend(f)
	base, _ := startSiteGateway(t, cb, Config{MaxReadsPerIP: 16, MaxReads: 16})
	dir := t.TempDir()
	writeSiteDir(t, dir, map[string]string{"index.html": "one"})
	pub, err := node.PublishSite(context.Background(), f, dir, "", node.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f.setReadHook(func(ctx context.Context) error {
		time.Sleep(100 * time.Millisecond)
		return nil
	})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			resp, err := http.Get(base + "/sites/" + pub.SiteID.String() + "/")
			if err != nil {
				errs <- err
				return
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				errs <- fmt.Errorf("status %d", resp.StatusCode)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if reads, _ := cb.counts(pub.ManifestID); reads != 1 {
		t.Errorf("8 concurrent requests read the manifest %d times", reads)
	}
}

// TestSiteCacheBounds drives the cache itself: LRU eviction by entries
// and by bytes, entries too large for it, remembered parse failures, and
// a waiter whose loader's client went away loading itself.
func TestSiteCacheBounds(t *testing.T) {
	ctx := context.Background()
	c, err := newSiteCache(&Config{SiteCacheEntries: 3, SiteCacheBytes: 10_000})
	if err != nil {
		t.Fatal(err)
	}
	loads := map[codec.BlobID]int{}
	loader := func(id codec.BlobID, size int, err error) func(context.Context) (*node.SiteManifest, int, error) {
		return func(context.Context) (*node.SiteManifest, int, error) {
			loads[id]++
			if err != nil {
				return nil, 0, err
			}
			return &node.SiteManifest{Version: 1, Name: id.String()}, size, nil
		}
	}
	get := func(id codec.BlobID, size int) {
		t.Helper()
		m, err := c.manifest(ctx, id, loader(id, size, nil))
		if err != nil || m.Name != id.String() {
			t.Fatalf("manifest %s: %v %v", id, m, err)
		}
	}
	a, b, d, e, big := codec.BlobID{1}, codec.BlobID{2}, codec.BlobID{3}, codec.BlobID{4}, codec.BlobID{5}
	get(a, 100)
	get(b, 100)
	get(d, 100)
	get(a, 100) // a is now the most recent; b the least
	get(e, 100) // a fourth entry evicts b
	if n, by := c.stats(); n != 3 || by != 300 {
		t.Errorf("stats %d %d", n, by)
	}
	get(a, 100)
	get(b, 100)
	if loads[a] != 1 || loads[b] != 2 {
		t.Errorf("loads a %d b %d, want 1 and 2", loads[a], loads[b])
	}
	get(big, 10_001) // larger than the cache: served, not kept
	get(big, 10_001)
	if loads[big] != 2 {
		t.Errorf("an oversize manifest was loaded %d times, want 2", loads[big])
	}
	get(big, 9_950) // fits only alone: evicts everything else
	if n, by := c.stats(); n != 1 || by != 9_950 {
		t.Errorf("after a 9,950-byte entry: %d entries, %d bytes", n, by)
	}
	// A manifest that does not parse never will: remembered.
	bad := codec.BlobID{6}
	for range 2 {
		if _, err := c.manifest(ctx, bad, loader(bad, 0, node.ErrNotASite)); !errors.Is(err, node.ErrNotASite) {
			t.Fatalf("bad manifest: %v", err)
		}
	}
	// Other errors are not.
	gone := codec.BlobID{7}
	for range 2 {
		if _, err := c.manifest(ctx, gone, loader(gone, 0, node.ErrBlobNotFound)); !errors.Is(err, node.ErrBlobNotFound) {
			t.Fatalf("missing manifest: %v", err)
		}
	}
	if loads[bad] != 1 || loads[gone] != 2 {
		t.Errorf("loads: bad %d, missing %d; want 1, 2", loads[bad], loads[gone])
	}

	// A loader cut off by its own client: the waiter loads for itself.
	slow := codec.BlobID{8}
	started, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := c.manifest(ctx, slow, func(context.Context) (*node.SiteManifest, int, error) {
			close(started)
			<-release
			return nil, 0, context.Canceled
		})
		done <- err
	}()
	<-started
	waiter := make(chan error, 1)
	go func() {
		m, err := c.manifest(ctx, slow, func(context.Context) (*node.SiteManifest, int, error) {
			return &node.SiteManifest{Version: 1, Name: "second"}, 10, nil
		})
		if err == nil && m.Name != "second" {
			err = fmt.Errorf("manifest %q", m.Name)
		}
		waiter <- err
	}()
	time.Sleep(20 * time.Millisecond) // let it wait on the first load
	close(release)
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("first load: %v", err)
	}
	if err := <-waiter; err != nil {
		t.Errorf("waiter: %v", err)
	}
}
