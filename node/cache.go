package node

import (
	"container/list"
	"sync"

	"floe/codec"
)

// lru is a small size-bounded LRU map, safe for concurrent use.
type lru[K comparable, V any] struct {
	mu    sync.Mutex
	max   int64
	used  int64
	order *list.List // front: most recent
	items map[K]*list.Element
}

type lruEntry[K comparable, V any] struct {
	key  K
	val  V
	size int64
}

func newLRU[K comparable, V any](max int64) *lru[K, V] {
	return &lru[K, V]{max: max, order: list.New(), items: map[K]*list.Element{}}
}

func (c *lru[K, V]) get(k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[k]; ok {
		c.order.MoveToFront(e)
		return e.Value.(*lruEntry[K, V]).val, true
	}
	var zero V
	return zero, false
}

func (c *lru[K, V]) put(k K, v V, size int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[k]; ok {
		old := e.Value.(*lruEntry[K, V])
		c.used += size - old.size
		old.val, old.size = v, size
		c.order.MoveToFront(e)
	} else {
		c.items[k] = c.order.PushFront(&lruEntry[K, V]{key: k, val: v, size: size})
		c.used += size
	}
	for c.used > c.max && c.order.Len() > 1 {
		back := c.order.Back()
		ent := back.Value.(*lruEntry[K, V])
		c.order.Remove(back)
		delete(c.items, ent.key)
		c.used -= ent.size
	}
}

// resize sets the bound (tests shrink the symbol cache with it).
func (c *lru[K, V]) resize(max int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.max = max
}

func (c *lru[K, V]) dropIf(pred func(K) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.items {
		if pred(k) {
			c.used -= e.Value.(*lruEntry[K, V]).size
			c.order.Remove(e)
			delete(c.items, k)
		}
	}
}

// verifiedMeta is metadata that passed VerifyMetadata, with its wire form.
type verifiedMeta struct {
	m   *codec.Metadata
	raw []byte
}

// metaCache holds recently verified metadata, also of blobs whose
// registration has not been seen yet (the store keeps those only in its
// pending buffer, where they cannot be read back for verifying slivers).
type metaCache = lru[codec.BlobID, verifiedMeta]

func newMetaCache(entries int) *metaCache { return newLRU[codec.BlobID, verifiedMeta](int64(entries)) }

// symbolKey names one source sliver of a blob.
type symbolKey struct {
	id   codec.BlobID
	t    codec.SliverType
	pair int
}

// symbolCache keeps expanded source slivers (their recovery-symbol trees):
// a peer recovering a shard asks for one target sliver at a time, and every
// request touches the same source slivers.
type symbolCache = lru[symbolKey, *codec.SymbolSource]

func newSymbolCache(bytes int64) *symbolCache { return newLRU[symbolKey, *codec.SymbolSource](bytes) }
