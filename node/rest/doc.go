// Package rest is the Walrus storage-node REST API (spec §7, F7.1–F7.11)
// beside a floe node's libp2p protocols, so Walrus's own clients (the
// TypeScript SDK's StorageNodeClient, the walrus CLI, publishers,
// aggregators, upload relays) can store on and read from floe nodes.
//
// # What is served
//
// Server serves the v1 routes of F7.2 over HTTPS, HTTP/2 by ALPN and
// HTTP/1.1: metadata GET/PUT (PUT bodies are BCS BlobMetadata without the
// blob ID, F7.5) and its status; slivers GET/PUT by pair index and type
// (the body's sliver index must belong to the URL's pair, F7.4) and their
// status; permanent and deletable confirmations with
// ?wait_for_registration and ?wait_millis (capped at 5 s, Walrus's
// confirmation long poll); recovery symbols (?id=P-S… or
// ?targetSliver&targetType, optional ?proofAxis) as BCS
// Vec<GeneralRecoverySymbol>; decoding symbols as BCS BTreeMap<u16,
// Vec<EitherDecodingSymbol>> (keys in serialized-byte order, the variant
// tag the TARGET axis as Walrus's node.rs builds it); inconsistency proofs
// answered with a signed InvalidBlobId attestation; blob status in
// Walrus's JSON (F7.9); /v1/health (ServiceHealthInfo, ?detailed=true);
// /v1/migrate/sync_shard with the authorisation of F7.11; and the OpenAPI
// document (openapi.yaml) at /v1/api. ?pending=true puts uploads in the
// node's pending buffer. Bodies must have no Content-Type or
// application/octet-stream (F7.3). Answers are the success envelope
// {"success":{"code","data"}} and AIP-193 errors with domain
// storage.walrus.space (global for internal errors and 503), with the
// statuses of F7.7; OPTIONS and CORS headers allow any origin.
//
// Every route calls the Backend, which embeds the p2p.Handler the libp2p
// stream protocols use (node/rest_node.go): both transports apply one set
// of rules. The Backend's REST-only methods are the ones the stream
// protocols lack (upload outcomes 201/202/200, stored statuses, the
// confirmation's wait, decoding symbols, attestations, Walrus's blob
// status, health).
//
// # TLS (F7.1)
//
// A node's network key is a P-256 key in DATA_DIR/network.key (PKCS#8,
// created on first start). The server presents a self-signed certificate
// for it whose CN and first DNS SAN are ServerName(key) — the first four
// bytes of the compressed key as unpadded hex, then ".network.walrus.alt"
// — and whose other SAN is the public host. Clients (Client, the SDK
// oracle in testdata/sdk) pin the key: a certificate is accepted iff its
// SubjectPublicKeyInfo is the pinned key's, whatever its issuer, names or
// validity, and the handshake proves the server holds the private key.
// The node publishes its REST URL (https://rest_announce, else the bound
// rest_listen) and its key in its chain record (chainlink.Node and Member
// NetworkAddress and NetworkPublicKey; on Sui the URL rides in the pool's
// network_address as an /…/tcp/PORT/https multiaddr, the key is its
// network_public_key), and reports them in its status (rest_url,
// network_public_key) and health. Clients take both from the chain:
// NewMemberClient builds a client of a committee member from its record,
// and Read reads a certified blob through the committee's REST APIs that
// way (`floe read --transport rest`).
//
// # Limits and metrics
//
// DefaultConfig takes the stream protocols' limits (p2p.LimitsFor: body
// sizes per route; p2p.DefaultTimeouts: header, idle and minimum-rate
// deadlines; the per-peer rate limit, applied per client IP and route),
// 64 connections and 64 requests in flight per IP, a per-IP and a total
// memory budget for bodies and answers (429 MEMORY_BUSY past it), a
// recovery-symbol limiter (503), and offence points that gate an address
// sending invalid requests (403 CLIENT_GATED). Metrics (metrics.go) are
// floe_rest_* beside the stream protocols' on the node's registry.
//
// # Differences from a Walrus node
//
//   - floe's pending gate asks the chain before buffering: ?pending=true
//     uploads of a blob the chain has not registered are refused with
//     NOT_REGISTERED (Walrus buffers them in a bounded cache).
//   - floe's ledger has no Sui transactions: status events carry a stable
//     digest, base58(BLAKE2b-256("floe/event" ‖ blob ID ‖ kind ‖ end
//     epoch)), with eventSeq "0", the same on every node.
//   - There is no deny list and no byte-range route on the storage node,
//     so 451 and 416 are never answered.
//   - The ledger's network_address is a URL (https://host:port), where
//     Walrus's on-chain one is host:port.
package rest
