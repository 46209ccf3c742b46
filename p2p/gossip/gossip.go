package gossip

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/time/rate"

	"floe/p2p"
)

// Verdict is a validator's decision about a gossiped message.
type Verdict int

const (
	// Accept: deliver locally and forward.
	Accept Verdict = iota
	// Ignore: drop without penalising the sender (stale epoch, unknown
	// blob not yet seen on chain, duplicate): honest peers send these too.
	Ignore
	// Reject: drop and penalise the sender (bad signature, signer not in
	// the committee, evidence that contradicts the chain): a forgery.
	Reject
)

func (v Verdict) result() pubsub.ValidationResult {
	switch v {
	case Accept:
		return pubsub.ValidationAccept
	case Ignore:
		return pubsub.ValidationIgnore
	default:
		return pubsub.ValidationReject
	}
}

// AttestationValidator checks an attestation against the committee view:
// that Signer is a member of the committee of Confirmation.Epoch and that
// Signed.Signature verifies over Signed.Message under Signer. from is the
// peer that forwarded the message (not necessarily its author).
type AttestationValidator func(ctx context.Context, from peer.ID, a Attestation) Verdict

// NoticeValidator checks a notice's evidence against the chain view.
type NoticeValidator func(ctx context.Context, from peer.ID, n Notice) Verdict

// Topic names.
func AttestationsTopic(network string) string { return "/floe/" + network + "/attestations/1" }

// NoticesTopic is the topic of blob notices.
func NoticesTopic(network string) string { return "/floe/" + network + "/notices/1" }

// Config configures gossip.
type Config struct {
	// Network names the topics.
	Network string
	// ValidateAttestation and ValidateNotice are required: nothing is
	// forwarded unchecked.
	ValidateAttestation AttestationValidator
	ValidateNotice      NoticeValidator
	// ValidatorTimeout bounds one validation (a BLS verification or a
	// chain lookup); a validator that times out counts as Ignore.
	ValidatorTimeout time.Duration
	// ValidatorConcurrency bounds concurrent validations per topic.
	ValidatorConcurrency int
	// PeerRate and PeerBurst bound how many messages per second one
	// forwarding peer gets validated, both topics together (a token
	// bucket per peer): messages beyond it are dropped as Ignore (they
	// may be valid, so no penalty) and counted as Throttled. Malformed
	// messages are rejected before the bucket is consulted, so a flood of
	// garbage still costs its sender score. Zero means the default (200
	// per second, bursts of 1000).
	PeerRate  float64
	PeerBurst int
	// ScorePeriod is how often the snapshot of peer scores that PeerScore
	// reads is refreshed (zero: one second).
	ScorePeriod time.Duration
	// FloodPublish sends own messages to every topic peer with a good
	// enough score, not only the mesh: attestations are few and urgent
	// (the publisher is waiting for a quorum), so this is on by default.
	FloodPublish bool
	// DirectPeers are always connected and always sent every message
	// (e.g. a node's own gateways).
	DirectPeers []peer.AddrInfo
	// Score are the peer-scoring parameters; nil means DefaultScore.
	Score *ScoreParams
	// Options are appended to the router options (tracers and other
	// diagnostics; not pubsub.WithPeerScoreInspect, which Gossip uses
	// itself: read scores with PeerScore).
	Options []pubsub.Option
	// Logger; nil means slog.Default().
	Logger *slog.Logger
}

// DefaultConfig returns the defaults with the given validators.
func DefaultConfig(network string, va AttestationValidator, vn NoticeValidator) Config {
	return Config{
		Network: network, ValidateAttestation: va, ValidateNotice: vn,
		ValidatorTimeout: 5 * time.Second, ValidatorConcurrency: 64, FloodPublish: true,
		PeerRate: DefaultPeerRate, PeerBurst: DefaultPeerBurst, ScorePeriod: time.Second,
	}
}

// DefaultPeerRate and DefaultPeerBurst are the per-peer validation budget:
// far above what an honest relay forwards (each attestation is validated
// once, from the first peer that brings it), far below what a validator
// pool of 64 could be kept busy with.
const (
	DefaultPeerRate  = 200
	DefaultPeerBurst = 1000
)

// Validate checks the configuration.
func (c Config) Validate() error {
	if err := p2p.ValidateNetwork(c.Network); err != nil {
		return fmt.Errorf("p2p/gossip: %w", err)
	}
	if c.ValidateAttestation == nil || c.ValidateNotice == nil {
		return errors.New("p2p/gossip: both validators are required")
	}
	if c.ValidatorTimeout <= 0 || c.ValidatorConcurrency < 1 {
		return errors.New("p2p/gossip: validator timeout and concurrency must be positive")
	}
	if c.PeerRate < 0 || c.PeerBurst < 0 || c.ScorePeriod < 0 {
		return errors.New("p2p/gossip: peer rate, burst and score period must not be negative")
	}
	return nil
}

// ScoreParams are the peer-score parameters and thresholds of both topics.
type ScoreParams struct {
	Peer       *pubsub.PeerScoreParams
	Thresholds *pubsub.PeerScoreThresholds
}

// DefaultScore returns the scoring of floe's two topics, following the
// gossipsub v1.1 guidance for low-volume, high-value topics (topic weights:
// attestations 1, notices 0.5; the positive part of the topic scores is
// capped at 100):
//
//   - P1 time in mesh: small reward (0.01/s, capped at 1h = +36), so stable
//     peers are preferred when pruning.
//   - P2 first deliveries: +1 per first delivery, capped at 100, decaying
//     over 10 minutes: peers that bring news early score higher.
//   - P3 mesh delivery deficits: off. Attestations come in bursts around
//     writes and are silent otherwise; a deficit penalty would punish honest
//     peers in quiet periods.
//   - P4 invalid messages (validator Reject, bad libp2p signature):
//     −100 × count² per topic, the count decaying to 1% over an hour. On
//     the attestation topic 3 forgeries put a peer below the gossip
//     threshold (−900 < −500), 4 below the publish threshold (−1600 <
//     −1000) and 6 below the graylist (−3600 < −2500); on the notice topic
//     (×0.5) 4, 5 and 8. A peer graylisted by 6 forgeries is heard again
//     after about 2.4 minutes (count back to 5), by 10 after 9 minutes, by
//     100 after 39 minutes; the score outlives a disconnection by 10
//     minutes (RetainScore).
//   - P6 IP colocation: −5 × (peers beyond 10 per IP)², with loopback
//     exempt so local swarms and tests work: 33 peer IDs on one address
//     are graylisted however they behave.
//   - P7 behaviour (broken promises, backoff violations): −10 × excess²
//     beyond 6, decaying over 10 minutes.
//
// Thresholds: gossip −500 (no IHAVE/IWANT exchanged with the peer),
// publish −1000 (own messages are not flood-published to it), graylist
// −2500 (every RPC from it is dropped before validation), accept PX 10,
// opportunistic graft 5.
func DefaultScore(network string) ScoreParams {
	topic := func(weight float64) *pubsub.TopicScoreParams {
		return &pubsub.TopicScoreParams{
			TopicWeight:                    weight,
			TimeInMeshWeight:               0.01,
			TimeInMeshQuantum:              time.Second,
			TimeInMeshCap:                  3600,
			FirstMessageDeliveriesWeight:   1,
			FirstMessageDeliveriesDecay:    pubsub.ScoreParameterDecay(10 * time.Minute),
			FirstMessageDeliveriesCap:      100,
			MeshMessageDeliveriesWeight:    0,
			MeshFailurePenaltyWeight:       0,
			InvalidMessageDeliveriesWeight: -100,
			InvalidMessageDeliveriesDecay:  pubsub.ScoreParameterDecay(time.Hour),
			SkipAtomicValidation:           true,
		}
	}
	_, v4, _ := net.ParseCIDR("127.0.0.0/8")
	_, v6, _ := net.ParseCIDR("::1/128")
	return ScoreParams{
		Peer: &pubsub.PeerScoreParams{
			Topics: map[string]*pubsub.TopicScoreParams{
				AttestationsTopic(network): topic(1),
				NoticesTopic(network):      topic(0.5),
			},
			TopicScoreCap:               100,
			AppSpecificScore:            func(peer.ID) float64 { return 0 },
			AppSpecificWeight:           1,
			IPColocationFactorWeight:    -5,
			IPColocationFactorThreshold: 10,
			IPColocationFactorWhitelist: []*net.IPNet{v4, v6},
			BehaviourPenaltyWeight:      -10,
			BehaviourPenaltyThreshold:   6,
			BehaviourPenaltyDecay:       pubsub.ScoreParameterDecay(10 * time.Minute),
			DecayInterval:               time.Second,
			DecayToZero:                 0.01,
			RetainScore:                 10 * time.Minute,
		},
		Thresholds: &pubsub.PeerScoreThresholds{
			GossipThreshold:             -500,
			PublishThreshold:            -1000,
			GraylistThreshold:           -2500,
			AcceptPXThreshold:           10,
			OpportunisticGraftThreshold: 5,
		},
	}
}

// MessageID is the ID of a gossip message: the SHA-256 of its data, so the
// same attestation relayed by many peers (or republished) is one message.
func MessageID(m *pb.Message) string {
	h := sha256.Sum256(m.Data)
	return string(h[:])
}

// Gossip runs GossipSub on a host with floe's two topics.
type Gossip struct {
	cfg        Config
	self       peer.ID
	ps         *pubsub.PubSub
	att        *pubsub.Topic
	notice     *pubsub.Topic
	cancel     context.CancelFunc
	log        *slog.Logger
	thresholds pubsub.PeerScoreThresholds
	limiter    *peerLimiter

	attStats, noticeStats topicCounters

	mu     sync.Mutex
	subs   []*pubsub.Subscription
	scores map[peer.ID]PeerScore
}

// New starts GossipSub on h, joins both topics and registers the
// validators. Close stops it.
func New(h host.Host, cfg Config) (*Gossip, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.PeerRate == 0 {
		cfg.PeerRate = DefaultPeerRate
	}
	if cfg.PeerBurst == 0 {
		cfg.PeerBurst = DefaultPeerBurst
	}
	if cfg.ScorePeriod == 0 {
		cfg.ScorePeriod = time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	score := cfg.Score
	if score == nil {
		s := DefaultScore(cfg.Network)
		score = &s
	}
	g := &Gossip{
		cfg: cfg, self: h.ID(), log: log, limiter: newPeerLimiter(cfg.PeerRate, cfg.PeerBurst),
		scores: map[peer.ID]PeerScore{},
	}
	if score.Thresholds != nil {
		g.thresholds = *score.Thresholds
	}
	ctx, cancel := context.WithCancel(context.Background())
	g.cancel = cancel
	opts := []pubsub.Option{
		pubsub.WithMessageIdFn(MessageID),
		pubsub.WithPeerScore(score.Peer, score.Thresholds),
		pubsub.WithPeerScoreInspect(pubsub.ExtendedPeerScoreInspectFn(g.inspect), cfg.ScorePeriod),
		pubsub.WithFloodPublish(cfg.FloodPublish),
		pubsub.WithMaxMessageSize(16 << 10), // both kinds are < 1.2 KiB
		pubsub.WithMessageSignaturePolicy(pubsub.StrictSign),
	}
	opts = append(opts, cfg.Options...)
	if len(cfg.DirectPeers) > 0 {
		opts = append(opts, pubsub.WithDirectPeers(cfg.DirectPeers))
	}
	ps, err := pubsub.NewGossipSub(ctx, h, opts...)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("p2p/gossip: %w", err)
	}
	g.ps = ps
	vopts := []pubsub.ValidatorOpt{
		pubsub.WithValidatorTimeout(cfg.ValidatorTimeout),
		pubsub.WithValidatorConcurrency(cfg.ValidatorConcurrency),
	}
	if err := ps.RegisterTopicValidator(AttestationsTopic(cfg.Network), g.validateAttestation, vopts...); err != nil {
		cancel()
		return nil, err
	}
	if err := ps.RegisterTopicValidator(NoticesTopic(cfg.Network), g.validateNotice, vopts...); err != nil {
		cancel()
		return nil, err
	}
	if g.att, err = ps.Join(AttestationsTopic(cfg.Network)); err != nil {
		cancel()
		return nil, err
	}
	if g.notice, err = ps.Join(NoticesTopic(cfg.Network)); err != nil {
		cancel()
		return nil, err
	}
	return g, nil
}

// The topic validators run, per message, after pubsub has dropped RPCs of
// graylisted peers, checked the libp2p signature (StrictSign: a bad one is
// penalised like a Reject) and dropped duplicates by message ID:
//
//  1. decode: sizes, framing, message intent (Reject: malformed);
//  2. the forwarding peer's token bucket (Ignore: throttled; own messages
//     are exempt);
//  3. the caller's validator, which checks cheap fields (epoch window,
//     membership in a cached committee) before a signature or the chain.
func (g *Gossip) validateAttestation(ctx context.Context, from peer.ID, m *pubsub.Message) pubsub.ValidationResult {
	c := &g.attStats
	c.received.Add(1)
	a, err := UnmarshalAttestation(m.Data)
	if err != nil {
		c.malformed.Add(1)
		g.log.Debug("p2p/gossip: malformed attestation", "from", from, "err", err)
		return pubsub.ValidationReject
	}
	if from != g.self && !g.limiter.allow(from, time.Now()) {
		c.throttled.Add(1)
		return pubsub.ValidationIgnore
	}
	v := g.cfg.ValidateAttestation(ctx, from, a)
	c.count(v)
	if v == Accept {
		m.ValidatorData = a
	}
	return v.result()
}

func (g *Gossip) validateNotice(ctx context.Context, from peer.ID, m *pubsub.Message) pubsub.ValidationResult {
	c := &g.noticeStats
	c.received.Add(1)
	n, err := UnmarshalNotice(m.Data)
	if err != nil {
		c.malformed.Add(1)
		g.log.Debug("p2p/gossip: malformed notice", "from", from, "err", err)
		return pubsub.ValidationReject
	}
	if from != g.self && !g.limiter.allow(from, time.Now()) {
		c.throttled.Add(1)
		return pubsub.ValidationIgnore
	}
	v := g.cfg.ValidateNotice(ctx, from, n)
	c.count(v)
	if v == Accept {
		m.ValidatorData = n
	}
	return v.result()
}

// PublishAttestation validates a locally made attestation with the same
// validator and gossips it. A publish reaches only the peers known to be
// on the topic (AttestationPeers): made before any is, it reaches no one.
func (g *Gossip) PublishAttestation(ctx context.Context, a Attestation) error {
	return g.att.Publish(ctx, a.Marshal())
}

// PublishNotice gossips a notice.
func (g *Gossip) PublishNotice(ctx context.Context, n Notice) error {
	return g.notice.Publish(ctx, n.Marshal())
}

// Subscription delivers validated messages of one kind.
type Subscription[T any] struct {
	sub *pubsub.Subscription
}

// Next blocks until the next validated message (the host's own included)
// or the end of ctx or of the subscription.
func (s *Subscription[T]) Next(ctx context.Context) (T, peer.ID, error) {
	var zero T
	for {
		m, err := s.sub.Next(ctx)
		if err != nil {
			return zero, "", err
		}
		if v, ok := m.ValidatorData.(T); ok {
			return v, m.GetFrom(), nil
		}
	}
}

// Cancel ends the subscription.
func (s *Subscription[T]) Cancel() { s.sub.Cancel() }

// SubscribeAttestations subscribes to validated attestations. The second
// value of Next is the author (the libp2p signer of the message). A host
// relays a topic only while it has a subscription to it, and the
// subscription must be drained (pubsub drops messages for a subscriber
// that falls 32 behind).
func (g *Gossip) SubscribeAttestations() (*Subscription[Attestation], error) {
	s, err := g.att.Subscribe()
	if err != nil {
		return nil, err
	}
	g.track(s)
	return &Subscription[Attestation]{sub: s}, nil
}

// SubscribeNotices subscribes to validated blob notices.
func (g *Gossip) SubscribeNotices() (*Subscription[Notice], error) {
	s, err := g.notice.Subscribe()
	if err != nil {
		return nil, err
	}
	g.track(s)
	return &Subscription[Notice]{sub: s}, nil
}

func (g *Gossip) track(s *pubsub.Subscription) {
	g.mu.Lock()
	g.subs = append(g.subs, s)
	g.mu.Unlock()
}

// AttestationPeers lists the peers known to be on the attestation topic.
func (g *Gossip) AttestationPeers() []peer.ID { return g.att.ListPeers() }

// NoticePeers lists the peers known to be on the notice topic.
func (g *Gossip) NoticePeers() []peer.ID { return g.notice.ListPeers() }

// PubSub exposes the router.
func (g *Gossip) PubSub() *pubsub.PubSub { return g.ps }

// PeerScore is a peer's gossip score as this host sees it, from the
// snapshot refreshed every Config.ScorePeriod.
type PeerScore struct {
	// Score is the total (topics, IP colocation, behaviour).
	Score float64
	// InvalidAttestations and InvalidNotices are the decaying counts of
	// the peer's rejected messages per topic (P4).
	InvalidAttestations float64
	InvalidNotices      float64
	// Graylisted: Score is below the graylist threshold, so the router
	// drops everything the peer sends.
	Graylisted bool
}

func (g *Gossip) inspect(m map[peer.ID]*pubsub.PeerScoreSnapshot) {
	out := make(map[peer.ID]PeerScore, len(m))
	at, nt := AttestationsTopic(g.cfg.Network), NoticesTopic(g.cfg.Network)
	for p, s := range m {
		ps := PeerScore{Score: s.Score, Graylisted: s.Score < g.thresholds.GraylistThreshold}
		if t := s.Topics[at]; t != nil {
			ps.InvalidAttestations = t.InvalidMessageDeliveries
		}
		if t := s.Topics[nt]; t != nil {
			ps.InvalidNotices = t.InvalidMessageDeliveries
		}
		out[p] = ps
	}
	g.mu.Lock()
	g.scores = out
	g.mu.Unlock()
}

// PeerScore returns p's score in the latest snapshot; false if the router
// tracks no score for p (never connected, or forgotten after RetainScore).
func (g *Gossip) PeerScore(p peer.ID) (PeerScore, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	s, ok := g.scores[p]
	return s, ok
}

// Scores returns the latest snapshot of every tracked peer's score.
func (g *Gossip) Scores() map[peer.ID]PeerScore {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make(map[peer.ID]PeerScore, len(g.scores))
	for p, s := range g.scores {
		out[p] = s
	}
	return out
}

// Thresholds are the score thresholds in force.
func (g *Gossip) Thresholds() pubsub.PeerScoreThresholds { return g.thresholds }

// TopicStats count what reached a topic's validator (after pubsub's
// graylist, signature and duplicate checks): Received in all, of which
// Malformed (rejected undecoded), Throttled (over the sender's budget,
// ignored), and the caller validator's Accepted, Ignored and Rejected.
type TopicStats struct {
	Received  int64 `json:"received"`
	Malformed int64 `json:"malformed"`
	Throttled int64 `json:"throttled"`
	Accepted  int64 `json:"accepted"`
	Ignored   int64 `json:"ignored"`
	Rejected  int64 `json:"rejected"`
}

// Stats are the validation counters of both topics since New.
type Stats struct {
	Attestations TopicStats `json:"attestations"`
	Notices      TopicStats `json:"notices"`
}

// Stats returns the validation counters.
func (g *Gossip) Stats() Stats {
	return Stats{Attestations: g.attStats.snapshot(), Notices: g.noticeStats.snapshot()}
}

type topicCounters struct {
	received, malformed, throttled, accepted, ignored, rejected atomic.Int64
}

func (c *topicCounters) count(v Verdict) {
	switch v {
	case Accept:
		c.accepted.Add(1)
	case Ignore:
		c.ignored.Add(1)
	default:
		c.rejected.Add(1)
	}
}

func (c *topicCounters) snapshot() TopicStats {
	return TopicStats{
		Received: c.received.Load(), Malformed: c.malformed.Load(), Throttled: c.throttled.Load(),
		Accepted: c.accepted.Load(), Ignored: c.ignored.Load(), Rejected: c.rejected.Load(),
	}
}

// peerLimiter holds a token bucket per forwarding peer. Buckets idle for
// limiterIdleAfter are dropped once the table reaches limiterPruneAt, so
// it stays bounded by the recently active peers.
type peerLimiter struct {
	rate  rate.Limit
	burst int

	mu      sync.Mutex
	buckets map[peer.ID]*peerBucket
}

type peerBucket struct {
	lim  *rate.Limiter
	last time.Time
}

const (
	limiterPruneAt   = 4096
	limiterIdleAfter = 10 * time.Minute
)

func newPeerLimiter(r float64, burst int) *peerLimiter {
	return &peerLimiter{rate: rate.Limit(r), burst: burst, buckets: map[peer.ID]*peerBucket{}}
}

func (l *peerLimiter) allow(p peer.ID, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[p]
	if b == nil {
		if len(l.buckets) >= limiterPruneAt {
			for q, v := range l.buckets {
				if now.Sub(v.last) > limiterIdleAfter {
					delete(l.buckets, q)
				}
			}
		}
		b = &peerBucket{lim: rate.NewLimiter(l.rate, l.burst)}
		l.buckets[p] = b
	}
	b.last = now
	return b.lim.AllowN(now, 1)
}

// Close cancels the subscriptions and stops the router.
func (g *Gossip) Close() error {
	g.mu.Lock()
	for _, s := range g.subs {
		s.Cancel()
	}
	g.subs = nil
	g.mu.Unlock()
	_ = g.att.Close()
	_ = g.notice.Close()
	g.cancel()
	return nil
}
