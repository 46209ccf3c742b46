// Package host builds the libp2p host of a floe node or client: TCP (TLS 1.3
// and Noise security, yamux) and QUIC v1 transports, a persistent ed25519
// identity, listen and announce addresses, the resource manager with limits
// scaled from the machine's memory and file descriptors (and per-protocol
// limits for the sliver protocols), a connection manager that never trims
// committee peers, identify and ping. Relay, NAT port mapping and
// hole punching are off; mDNS is never started.
//
// TLS is offered before Noise (Config.PreferNoise swaps them), and yamux
// streams start with an 8 MiB receive window and carry 1 MiB frames
// (Config.StreamWindow, Config.MuxerFrameSize) instead of yamux's 256 KiB
// and 64 KiB, which stall bulk streams on low-latency links; the p2p package
// doc has the measurements.
//
// A node:
//
//	cfg := host.DefaultConfig()
//	cfg.IdentityPath = filepath.Join(dataDir, "p2p.key")
//	cfg.AdjustLimits = func(l *rcmgr.ScalingLimitConfig) { p2p.AddProtocolLimits(l, network, params) }
//	h, err := host.New(cfg)
//	defer h.Close()
//	h.SetCommittee(committeePeerIDs) // on every epoch change
//
// host.Limits(cfg) returns the effective resource limits for display.
package host
