package p2p

import (
	"math"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// Offences a server counts against a peer, in points. Points decay with a
// half-life of offenceHalfLife; a peer past ServerConfig.GateAfter points is
// handed to ServerConfig.Gate (the host closes its connections and refuses
// it for GatePeriod) and starts again from zero.
const (
	offenceInvalidRequest = 1.0  // a request that breaks the protocol
	offenceBadItem        = 0.5  // a sliver that fails verification (per item, at most 4 per stream)
	offenceRefused        = 0.05 // a stream refused or shed for want of slots
	offenceHalfLife       = time.Minute
)

type offences struct {
	mu     sync.Mutex
	score  map[peer.ID]offence
	now    func() time.Time
	gateAt float64
}

type offence struct {
	points float64
	at     time.Time
	last   string
}

func newOffences(gateAt float64) *offences {
	return &offences{score: map[peer.ID]offence{}, now: time.Now, gateAt: gateAt}
}

// add adds points for p and reports whether p is now past the threshold
// (its score is then reset) and the reason to log.
func (o *offences) add(p peer.ID, points float64, reason string) (bool, string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := o.now()
	cur := o.score[p]
	if !cur.at.IsZero() {
		cur.points *= math.Exp2(-now.Sub(cur.at).Seconds() / offenceHalfLife.Seconds())
	}
	cur.points += points
	cur.at = now
	cur.last = reason
	if o.gateAt > 0 && cur.points >= o.gateAt {
		delete(o.score, p)
		return true, reason
	}
	o.score[p] = cur
	if len(o.score) > 1<<16 {
		// Bounded memory under a flood of fresh peer IDs: drop the settled.
		for q, c := range o.score {
			if c.points*math.Exp2(-now.Sub(c.at).Seconds()/offenceHalfLife.Seconds()) < 0.1 {
				delete(o.score, q)
			}
		}
	}
	return false, ""
}

// points returns p's current score.
func (o *offences) points(p peer.ID) float64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	c := o.score[p]
	if c.at.IsZero() {
		return 0
	}
	return c.points * math.Exp2(-o.now().Sub(c.at).Seconds()/offenceHalfLife.Seconds())
}
