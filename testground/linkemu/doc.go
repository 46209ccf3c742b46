// Package linkemu shapes the links between experiment instances on one
// machine without netem (this kernel has none): each instance gets a
// network namespace with a TUN device (tg0, 10.77.0.0/16) whose packets go
// through this process, which delays them, rate-limits them and drops them
// as the link's Spec says, then writes them into the destination's TUN.
// The kernel's own TCP and QUIC stacks in the namespaces carry every
// connection; only the wire is emulated.
//
// A link is an instance's access link: a packet from A to B waits for A's
// uplink (serialised at Rate), travels Delay ± Jitter, then waits for B's
// downlink (Rate again); a packet that would wait more than QueueDelay
// for either is dropped (a router's tail drop), and Loss drops packets at
// random. Packets between one pair keep their order (jitter never
// reorders). The round trip between two instances is 2 × Delay plus the
// serialisation times.
//
// Besides the data network, each namespace has an unshaped control link
// (ctl0, 10.250.0.0/16, a veth pair into a bridge in a control namespace):
// the sync service listens there (ListenControl), so coordination never
// rides on the emulated wire.
//
// Everything needs root (namespaces, TUN, veth); Close deletes every
// namespace it made.
package linkemu
