// The official Walrus TypeScript SDK (@mysten/walrus 1.2.13, pinned in
// package-lock.json) against a floe devnet's REST API: node/rest's
// TestSDKInterop runs it. It uses the SDK's own StorageNodeClient on every
// node of the committee, its own BCS types and its own WASM bindings
// (encode, signature verification, aggregation, decode), reached by file
// path because the package exports only WalrusClient, which needs a Sui
// chain floe's devnet does not have.
//
//   node oracle.mjs nodes  CONFIG OUT        the committee as the script sees it (from the chain), to OUT
//   node oracle.mjs encode CONFIG OUT        blob ID, root hash and size of the config's blob, as the SDK encodes it
//   node oracle.mjs store  CONFIG OUT        metadata and slivers to every node, confirmations verified, certificate to OUT
//   node oracle.mjs read   CONFIG BLOB OUT   status, metadata and primary slivers over REST, decoded to the file OUT
//   node oracle.mjs pin    CONFIG             a node's URL with another node's key must be refused
//
// CONFIG (written by the Go test): {clientConfig, seed, size}. clientConfig
// is the devnet's client config (client.json); the script reads the
// committee from the ledger it names (GET /v1/epoch, then
// /v1/committees/EPOCH), as a Walrus client reads it from Sui: committee
// order, shards, BLS keys, and each member's REST URL (network_address) and
// network key (network_public_key) from its chain record. Every connection
// is HTTP/2 over TLS, accepted only when the server's certificate is for
// the node's pinned network key (as Walrus's storage-node client pins the
// on-chain network_public_key).
import { createHash, ECDH, X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { fromBase64, toBase64 } from '@mysten/bcs';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, 'node_modules/@mysten/walrus/dist');
const load = (p) => import(pathToFileURL(join(dist, p)).href);
const { StorageNodeClient } = await load('storage-node/client.mjs');
const { BlobNotRegisteredError } = await load('storage-node/error.mjs');
const { BlobMetadataWithId, IntentType, StorageConfirmation } = await load('utils/bcs.mjs');
const { getSourceSymbols, toPairIndex, isQuorum } = await load('utils/index.mjs');
const { getWasmBindings } = await load('wasm.mjs');

const [cmd, cfgPath, ...args] = process.argv.slice(2);
const cfg = JSON.parse(readFileSync(cfgPath, 'utf8'));
Object.assign(cfg, await committeeFromChain(resolve(dirname(cfgPath), cfg.clientConfig)));
const wasm = await getWasmBindings();

// The current committee from the chain the client config names: its
// members' records carry the REST URL and the key to pin.
async function committeeFromChain(clientConfig) {
	const cc = JSON.parse(readFileSync(clientConfig, 'utf8'));
	if (!cc.ledger) throw new Error(`${clientConfig} names no ledger`);
	const get = async (path) => {
		const r = await globalThis.fetch(new URL(path, cc.ledger));
		if (!r.ok) throw new Error(`GET ${path}: HTTP ${r.status}: ${await r.text()}`);
		return r.json();
	};
	const st = await get('/v1/epoch');
	const c = await get(`/v1/committees/${st.epoch}`);
	return {
		nShards: c.n_shards, epoch: c.epoch,
		nodes: c.members.map((m) => {
			if (!m.network_address || !m.network_public_key) throw new Error(`member ${m.node_id} publishes no REST API`);
			return {
				nodeId: m.node_id, url: m.network_address, networkPublicKey: m.network_public_key,
				blsPublicKey: Buffer.from(m.public_key, 'hex').toString('base64'), shards: m.shards,
			};
		}),
	};
}

// The blob: block_i = SHA256(utf8(seed) || u32be(i)), concatenated, truncated.
function seededInput(seed, length) {
	const out = Buffer.alloc(length);
	const ctr = Buffer.alloc(4);
	for (let i = 0, off = 0; off < length; i++, off += 32) {
		ctr.writeUInt32BE(i);
		createHash('sha256').update(seed, 'utf8').update(ctr).digest().copy(out, off);
	}
	return new Uint8Array(out);
}

// ---- a fetch over HTTP/2 that pins each origin's network key ----

function uncompressed(b64) {
	return ECDH.convertKey(Buffer.from(b64, 'base64'), 'prime256v1', undefined, undefined, 'uncompressed');
}

function pinnedFetch(pins) {
	const sessions = new Map();
	function session(origin) {
		let s = sessions.get(origin);
		if (s && !s.closed && !s.destroyed) return s;
		const want = pins.get(origin);
		if (!want) return Promise.reject(new Error(`no pinned key for ${origin}`));
		s = new Promise((resolve, reject) => {
			// The chain is not checked (the certificate is self-signed);
			// the key is, before any request is sent.
			const c = http2.connect(origin, { rejectUnauthorized: false, ALPNProtocols: ['h2'] });
			c.once('error', reject);
			c.once('connect', () => {
				const cert = c.socket.getPeerX509Certificate();
				const spki = cert?.publicKey.export({ type: 'spki', format: 'der' });
				if (!spki || !Buffer.from(spki.subarray(-65)).equals(want) || c.alpnProtocol !== 'h2') {
					c.destroy();
					reject(new Error(`${origin}: the certificate is not for the pinned network key (or no h2)`));
					return;
				}
				c.removeListener('error', reject);
				c.on('error', () => sessions.delete(origin));
				resolve(c);
			});
		});
		sessions.set(origin, s);
		s.catch(() => sessions.delete(origin));
		return s;
	}
	const fetch = async (url, init = {}) => {
		const u = new URL(url);
		const c = await session(u.origin);
		const headers = { ':method': init.method ?? 'GET', ':path': u.pathname + u.search };
		for (const [k, v] of new Headers(init.headers ?? {})) headers[k] = v;
		return new Promise((resolve, reject) => {
			const req = c.request(headers);
			const abort = () => {
				req.close(http2.constants.NGHTTP2_CANCEL);
				const e = new Error('aborted');
				e.name = 'AbortError';
				reject(e);
			};
			if (init.signal?.aborted) return abort();
			init.signal?.addEventListener('abort', abort, { once: true });
			const chunks = [];
			let status = 0;
			let rh = {};
			req.on('response', (h) => {
				status = h[':status'];
				rh = Object.fromEntries(Object.entries(h).filter(([k]) => !k.startsWith(':')));
			});
			req.on('data', (d) => chunks.push(d));
			req.on('end', () => {
				init.signal?.removeEventListener('abort', abort);
				resolve(new Response(status === 204 ? null : Buffer.concat(chunks), { status, headers: rh }));
			});
			req.on('error', reject);
			if (init.body) req.end(Buffer.from(init.body));
			else req.end();
		});
	};
	fetch.close = () => {
		for (const s of sessions.values()) s.then((c) => c.close(), () => {});
	};
	return fetch;
}

const pins = new Map(cfg.nodes.map((n) => [new URL(n.url).origin, uncompressed(n.networkPublicKey)]));
const fetch = pinnedFetch(pins);
const client = new StorageNodeClient({ fetch, timeout: 60_000 });
const n = cfg.nShards;

async function retry(fn, cond, count = 100, delay = 100) {
	for (let i = 0; ; i++) {
		try {
			return await fn();
		} catch (e) {
			if (i >= count || !cond(e)) throw e;
			await new Promise((r) => setTimeout(r, delay));
		}
	}
}

const blob = () => seededInput(cfg.seed, cfg.size);

async function encode(out) {
	const bytes = blob();
	const enc = wasm.encodeBlob(n, bytes);
	const md = wasm.computeMetadata(n, bytes);
	if (md.blobId !== enc.blobId) throw new Error('computeMetadata and encodeBlob disagree');
	writeFileSync(out, JSON.stringify({
		blobId: enc.blobId, rootHash: Buffer.from(enc.rootHash).toString('hex'), size: bytes.length,
		unencodedLength: String(md.unencodedLength), encodingType: md.encodingType,
	}));
}

async function store(out) {
	const bytes = blob();
	const { blobId, metadata, primarySlivers, secondarySlivers } = wasm.encodeBlob(n, bytes);
	const report = { nodes: [] };
	const confirmations = await Promise.all(cfg.nodes.map(async (node, nodeIndex) => {
		const opts = { nodeUrl: node.url };
		const r = { url: node.url };
		report.nodes[nodeIndex] = r;
		r.metadataStatusBefore = await client.getMetadataStatus({ blobId }, opts);
		// As WalrusClient.writeMetadataToNode: retried while the node has
		// not seen the registration.
		r.putMetadata = await retry(() => client.storeBlobMetadata({ blobId, metadata }, opts),
			(e) => e instanceof BlobNotRegisteredError);
		r.putMetadataAgain = await client.storeBlobMetadata({ blobId, metadata }, opts);
		const answers = await Promise.all(node.shards.flatMap((shard) => {
			const pair = toPairIndex(shard, blobId, n);
			return [
				client.storeSliver({ blobId, sliverPairIndex: pair, sliverType: 'primary', sliver: primarySlivers[pair] }, opts),
				client.storeSliver({ blobId, sliverPairIndex: pair, sliverType: 'secondary', sliver: secondarySlivers[pair] }, opts),
			];
		}));
		r.sliverAnswers = {};
		for (const a of answers) r.sliverAnswers[a.success.code] = (r.sliverAnswers[a.success.code] ?? 0) + 1;
		r.metadataStatus = await client.getMetadataStatus({ blobId }, opts);
		const pair0 = toPairIndex(node.shards[0], blobId, n);
		r.sliverStatus = await client.getSliverStatus({ blobId, sliverPairIndex: pair0, sliverType: 'secondary' }, opts);
		const c = await client.getPermanentBlobConfirmation({ blobId }, opts);
		return c?.success?.data?.signed ?? null;
	}));
	// Verified as WalrusClient.certificateFromConfirmations does: the
	// message the SDK itself builds, and the node's BLS key.
	const expected = StorageConfirmation.serialize({
		intent: IntentType.BLOB_CERT_MSG, epoch: cfg.epoch,
		messageContents: { blobId, blobType: { Permanent: null } },
	}).toBase64();
	const verify = wasm.getVerifySignature();
	const valid = confirmations.map((c, index) => (c?.serializedMessage === expected &&
		verify(c, new Uint8Array(fromBase64(cfg.nodes[index].blsPublicKey))) ? { index, ...c } : null)).filter(Boolean);
	report.verified = valid.length;
	if (!isQuorum(valid.length, cfg.nodes.length) || valid.length !== cfg.nodes.length) {
		throw new Error(`only ${valid.length} of ${cfg.nodes.length} confirmations verify: ${JSON.stringify(confirmations)}`);
	}
	// A confirmation checked against another node's key must fail.
	if (cfg.nodes.length > 1 && verify(valid[0], new Uint8Array(fromBase64(cfg.nodes[1].blsPublicKey)))) {
		throw new Error("a confirmation verified with another node's key");
	}
	const cert = wasm.combineSignatures(valid, valid.map((c) => c.index));
	writeFileSync(out, JSON.stringify({
		blobId, signers: cert.signers, serializedMessage: toBase64(cert.serializedMessage),
		signature: toBase64(new Uint8Array(cert.signature)), report,
	}));
}

async function read(blobId, out) {
	const statuses = await Promise.all(cfg.nodes.map((node) => client.getBlobStatus({ blobId }, { nodeUrl: node.url })));
	for (const s of statuses) {
		if (s.type !== 'permanent' || !s.isCertified) throw new Error(`blob status ${JSON.stringify(s)}`);
	}
	const md = await client.getBlobMetadata({ blobId }, { nodeUrl: cfg.nodes[0].url });
	if (md.blobId !== blobId) throw new Error(`metadata of ${md.blobId}`);
	const { primarySymbols } = getSourceSymbols(n);
	const slivers = [];
	// As WalrusClient.getSlivers: primary slivers by pair index from the
	// shards' nodes until there are enough.
	outer: for (const node of cfg.nodes) {
		for (const shard of node.shards) {
			const pair = toPairIndex(shard, blobId, n);
			slivers.push(await client.getSliver({ blobId, sliverPairIndex: pair, sliverType: 'primary' }, { nodeUrl: node.url }));
			if (slivers.length === primarySymbols) break outer;
		}
	}
	const bytes = wasm.decodePrimarySlivers(blobId, n, md.metadata.V1.unencoded_length, slivers);
	if (wasm.computeMetadata(n, bytes).blobId !== blobId) throw new Error('decoded bytes have another blob ID');
	writeFileSync(out, bytes);
	// The raw metadata bytes decode with the SDK's BCS type too.
	BlobMetadataWithId.parse(new Uint8Array(await (await fetch(`${cfg.nodes[0].url}/v1/blobs/${blobId}/metadata`)).arrayBuffer()));
}

async function pin() {
	if (cfg.nodes.length < 2) return;
	const wrong = new Map([[new URL(cfg.nodes[0].url).origin, uncompressed(cfg.nodes[1].networkPublicKey)]]);
	const f = pinnedFetch(wrong);
	try {
		await f(`${cfg.nodes[0].url}/v1/health`);
	} catch (e) {
		if (/pinned network key/.test(String(e))) return;
		throw e;
	} finally {
		f.close();
	}
	throw new Error('a certificate for another key was accepted');
}

try {
	switch (cmd) {
		case 'nodes': writeFileSync(args[0], JSON.stringify({ nShards: cfg.nShards, epoch: cfg.epoch, nodes: cfg.nodes })); break;
		case 'encode': await encode(args[0]); break;
		case 'store': await store(args[0]); break;
		case 'read': await read(args[0], args[1]); break;
		case 'pin': await pin(); break;
		default: throw new Error(`unknown command ${cmd}`);
	}
} finally {
	fetch.close();
}
