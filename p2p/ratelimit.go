package p2p

import (
	"fmt"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/time/rate"
)

// RateLimit is a per-peer token bucket applied to each request type
// separately: a peer may open Rate requests of one type per second on
// average, Burst at once.
type RateLimit struct {
	Rate  float64
	Burst int
}

// DefaultRateLimit allows 50 requests per second per peer and request type,
// with bursts of 100: a client storing a blob opens one stream of each kind
// per node, so this only bites on abuse.
func DefaultRateLimit() RateLimit { return RateLimit{Rate: 50, Burst: 100} }

// Validate refuses a limit that would block every request.
func (r RateLimit) Validate() error {
	if r.Rate <= 0 || r.Burst < 1 {
		return fmt.Errorf("p2p: rate limit must be positive: %+v", r)
	}
	return nil
}

// peerLimiter holds one bucket per (peer, request type). Buckets idle for
// longer than limiterIdleAfter are dropped when the table grows past
// limiterPruneAt, so the table stays bounded by the active peers.
type peerLimiter struct {
	cfg RateLimit

	mu      sync.Mutex
	buckets map[limiterKey]*bucket
}

type limiterKey struct {
	peer peer.ID
	kind int
}

type bucket struct {
	lim  *rate.Limiter
	last time.Time
}

const (
	limiterPruneAt   = 4096
	limiterIdleAfter = 10 * time.Minute
)

func newPeerLimiter(cfg RateLimit) *peerLimiter {
	return &peerLimiter{cfg: cfg, buckets: make(map[limiterKey]*bucket)}
}

// allow takes a token for peer p and request kind k.
func (l *peerLimiter) allow(p peer.ID, k int, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	key := limiterKey{p, k}
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= limiterPruneAt {
			for k, v := range l.buckets {
				if now.Sub(v.last) > limiterIdleAfter {
					delete(l.buckets, k)
				}
			}
		}
		b = &bucket{lim: rate.NewLimiter(rate.Limit(l.cfg.Rate), l.cfg.Burst)}
		l.buckets[key] = b
	}
	b.last = now
	return b.lim.AllowN(now, 1)
}
