package gossip

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

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
	// FloodPublish sends own messages to every topic peer with a good
	// enough score, not only the mesh: attestations are few and urgent
	// (the publisher is waiting for a quorum), so this is on by default.
	FloodPublish bool
	// DirectPeers are always connected and always sent every message
	// (e.g. a node's own gateways).
	DirectPeers []peer.AddrInfo
	// Score are the peer-scoring parameters; nil means DefaultScore.
	Score *ScoreParams
	// Options are appended to the router options (diagnostics such as
	// pubsub.WithPeerScoreInspect, tracers).
	Options []pubsub.Option
	// Logger; nil means slog.Default().
	Logger *slog.Logger
}

// DefaultConfig returns the defaults with the given validators.
func DefaultConfig(network string, va AttestationValidator, vn NoticeValidator) Config {
	return Config{
		Network: network, ValidateAttestation: va, ValidateNotice: vn,
		ValidatorTimeout: 5 * time.Second, ValidatorConcurrency: 64, FloodPublish: true,
	}
}

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
	return nil
}

// ScoreParams are the peer-score parameters and thresholds of both topics.
type ScoreParams struct {
	Peer       *pubsub.PeerScoreParams
	Thresholds *pubsub.PeerScoreThresholds
}

// DefaultScore returns the scoring of floe's two topics, following the
// gossipsub v1.1 guidance for low-volume, high-value topics:
//
//   - P1 time in mesh: small reward (0.01/s, capped at 1h), so stable peers
//     are preferred when pruning.
//   - P2 first deliveries: +1 per first delivery, capped at 100, decaying
//     over 10 minutes: peers that bring news early score higher.
//   - P3 mesh delivery deficits: off. Attestations come in bursts around
//     writes and are silent otherwise; a deficit penalty would punish honest
//     peers in quiet periods.
//   - P4 invalid messages: −100 × count² per topic, decaying over an hour.
//     One forgery costs −100; three put a peer below the publish threshold
//     (−1000), five below the graylist (−2500).
//   - P6 IP colocation: −5 × (peers beyond 10 per IP)², with loopback
//     exempt so local swarms and tests work.
//   - P7 behaviour (broken promises, backoff violations): −10 × excess²
//     beyond 6, decaying over 10 minutes.
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
	cfg    Config
	ps     *pubsub.PubSub
	att    *pubsub.Topic
	notice *pubsub.Topic
	cancel context.CancelFunc
	log    *slog.Logger

	mu   sync.Mutex
	subs []*pubsub.Subscription
}

// New starts GossipSub on h, joins both topics and registers the
// validators. Close stops it.
func New(h host.Host, cfg Config) (*Gossip, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
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
	ctx, cancel := context.WithCancel(context.Background())
	opts := []pubsub.Option{
		pubsub.WithMessageIdFn(MessageID),
		pubsub.WithPeerScore(score.Peer, score.Thresholds),
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
	g := &Gossip{cfg: cfg, ps: ps, cancel: cancel, log: log}
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

func (g *Gossip) validateAttestation(ctx context.Context, from peer.ID, m *pubsub.Message) pubsub.ValidationResult {
	a, err := UnmarshalAttestation(m.Data)
	if err != nil {
		g.log.Debug("p2p/gossip: malformed attestation", "from", from, "err", err)
		return pubsub.ValidationReject
	}
	v := g.cfg.ValidateAttestation(ctx, from, a)
	if v == Accept {
		m.ValidatorData = a
	}
	return v.result()
}

func (g *Gossip) validateNotice(ctx context.Context, from peer.ID, m *pubsub.Message) pubsub.ValidationResult {
	n, err := UnmarshalNotice(m.Data)
	if err != nil {
		g.log.Debug("p2p/gossip: malformed notice", "from", from, "err", err)
		return pubsub.ValidationReject
	}
	v := g.cfg.ValidateNotice(ctx, from, n)
	if v == Accept {
		m.ValidatorData = n
	}
	return v.result()
}

// PublishAttestation validates a locally made attestation with the same
// validator and gossips it.
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

// Next blocks until the next validated message (not the host's own) or
// the end of ctx or of the subscription.
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
// value of Next is the author (the libp2p signer of the message).
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

// PubSub exposes the router (for peer scores in diagnostics).
func (g *Gossip) PubSub() *pubsub.PubSub { return g.ps }

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
