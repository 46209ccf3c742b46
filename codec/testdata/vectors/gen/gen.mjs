// Regenerates codec/testdata/vectors from the official Walrus encoder
// (@mysten/walrus-wasm, the RS2 BlobEncoder compiled from walrus-core).
//
//   npm ci && node gen.mjs [OUTDIR]     (OUTDIR defaults to .., the committed vectors)
//
// Every case is rebuilt from its inputs alone: the blob is the seeded stream
// block_i = SHA256(utf8(seed) || u32be(i)), concatenated and truncated to the
// length (codec/vectors_test.go's seededInput), encoded for n_shards. The
// output is deterministic: CI regenerates into a temporary folder and
// diff -r's it against the committed files.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { availableParallelism } from 'node:os';
import { Worker, isMainThread, parentPort } from 'node:worker_threads';
import { BlobEncoder } from '@mysten/walrus-wasm';

const here = dirname(fileURLToPath(import.meta.url));
const outDir = resolve(process.argv[2] ?? join(here, '..'));

// The installed encoder's version (package-lock.json pins it) goes into index.json.
const wasmVersion = JSON.parse(
	readFileSync(join(here, 'node_modules/@mysten/walrus-wasm/package.json'), 'utf8'),
).version;

// The cases: [name, length, shard counts]; the seed is "walrus-oracle/" + name.
// Order matters: it is the order of index.json.
const CASES = [
	['empty', 0, [10, 100, 1000]],
	['one', 1, [10, 100, 1000]],
	['hundred', 100, [10, 100, 1000]],
	['randA', 4099, [10, 100, 1000]],
	['randC', 65537, [10, 100, 1000]],
	['mib', 1048576, [10, 100, 1000]],
	['randA', 4099, [4, 7, 13, 16, 97]],
];

// A pair's raw sliver bytes are stored only while its primary sliver is at
// most this long (the secondary is shorter); larger cases keep just the hashes.
// (The first generator's cut-off is not recorded: the largest kept primary is
// 4002 bytes, mib_n1000, the smallest dropped 16394, randC_n10.)
const RAW_MAX = 4096;

const GENERATOR = 'sha256-ctr: block_i = SHA256(utf8(seed) || u32be(i)), concatenated, truncated';

function seededInput(seed, length) {
	const out = Buffer.alloc(length);
	const ctr = Buffer.alloc(4);
	for (let i = 0, off = 0; off < length; i++, off += 32) {
		ctr.writeUInt32BE(i);
		createHash('sha256').update(seed, 'utf8').update(ctr).digest().copy(out, off);
	}
	return out;
}

const hex = (b) => Buffer.from(b).toString('hex');
const sha256 = (b) => createHash('sha256').update(b).digest('hex');

function ulebSize(v) {
	let s = 1;
	for (v >>>= 7; v !== 0; v >>>= 7) s++;
	return s;
}

// The BCS SliverData written by BlobEncoder.encode:
// uleb128(len) || data || u16le(symbol_size) || u16le(index).
function parseSliver(buf, wantSymbolSize, wantIndex) {
	let len = 0;
	let shift = 0;
	let off = 0;
	for (;;) {
		const b = buf[off++];
		len |= (b & 0x7f) << shift;
		if ((b & 0x80) === 0) break;
		shift += 7;
	}
	const data = buf.subarray(off, off + len);
	const view = new DataView(buf.buffer, buf.byteOffset + off + len, 4);
	const symbolSize = view.getUint16(0, true);
	const index = view.getUint16(2, true);
	if (off + len + 4 !== buf.length || symbolSize !== wantSymbolSize || index !== wantIndex) {
		throw new Error(`unexpected sliver layout (symbol size ${symbolSize}, index ${index})`);
	}
	return data;
}

function encodeCase(name, seed, length, n) {
	const blob = seededInput(seed, length);
	const f = Math.floor((n - 1) / 3);
	const kPrimary = n - 2 * f;
	const kSecondary = n - f;
	let S = Math.floor((Math.max(length, 1) - 1) / (kPrimary * kSecondary)) + 1;
	if (S % 2 === 1) S++;
	// A primary sliver holds kSecondary symbols, a secondary one kPrimary.
	const pLen = kSecondary * S;
	const sLen = kPrimary * S;
	const prim = Array.from({ length: n }, () => new Uint8Array(ulebSize(pLen) + pLen + 4));
	const sec = Array.from({ length: n }, () => new Uint8Array(ulebSize(sLen) + sLen + 4));

	const enc = new BlobEncoder(n);
	let metadata, rootHash;
	try {
		[metadata, rootHash] = enc.encode(blob, prim, sec);
	} finally {
		enc.free();
	}
	const v1 = metadata.metadata.V1;
	if (Number(v1.unencoded_length) !== length || v1.hashes.length !== n) {
		throw new Error(`${name}: unexpected metadata`);
	}
	const pData = prim.map((b, i) => parseSliver(b, S, i));
	const sData = sec.map((b, i) => parseSliver(b, S, n - 1 - i));
	const raw = (i) => (pLen <= RAW_MAX ? { primary_hex: hex(pData[i]), secondary_hex: hex(sData[i]) } : null);
	const blobId = Buffer.from(metadata.blob_id);
	return {
		name,
		input: { generator: GENERATOR, seed, length, sha256: sha256(blob) },
		n_shards: n,
		encoding_type: v1.encoding_type,
		primary_source_symbols: kPrimary,
		secondary_source_symbols: kSecondary,
		symbol_size: S,
		unencoded_length: length,
		blob_id: blobId.toString('base64url'),
		blob_id_hex: hex(blobId),
		root_hash_hex: hex(rootHash.Digest),
		primary_sliver_sha256: pData.map(sha256),
		secondary_sliver_sha256: sData.map(sha256),
		primary_merkle_root: v1.hashes.map((h) => hex(h.primary_hash.Digest)),
		secondary_merkle_root: v1.hashes.map((h) => hex(h.secondary_hash.Digest)),
		pair0_raw: raw(0),
		last_pair_raw: raw(n - 1),
	};
}

function writeCase({ name, seed, length, n }) {
	const vc = encodeCase(name, seed, length, n);
	const file = `cases/${name}.json`;
	writeFileSync(join(outDir, file), JSON.stringify(vc, null, 1) + '\n');
	return { file, n_shards: n, seed, length, symbol_size: vc.symbol_size, blob_id: vc.blob_id, root_hash_hex: vc.root_hash_hex };
}

if (isMainThread) {
	const jobs = [];
	for (const [base, length, shards] of CASES) {
		for (const n of shards) jobs.push({ name: `${base}_n${n}`, seed: `walrus-oracle/${base}`, length, n });
	}
	mkdirSync(join(outDir, 'cases'), { recursive: true });
	// The n = 1000 cases take seconds each in the WASM encoder: spread the
	// cases over one worker per core (the output does not depend on the order).
	const entries = new Array(jobs.length);
	let next = 0;
	const nWorkers = Math.min(jobs.length, Math.max(1, Number(process.env.GEN_WORKERS) || availableParallelism()));
	await Promise.all(
		Array.from({ length: nWorkers }, () => new Promise((res, rej) => {
			const w = new Worker(fileURLToPath(import.meta.url), { argv: [outDir] });
			const feed = () => {
				if (next < jobs.length) w.postMessage({ i: next, job: jobs[next++] });
				else w.terminate().then(() => res());
			};
			w.on('message', ({ i, entry }) => { entries[i] = entry; feed(); });
			w.on('error', rej);
			w.on('exit', (code) => { if (code !== 0 && code !== 1) rej(new Error(`worker exited with ${code}`)); });
			feed();
		})),
	);
	const index = {
		source: `@mysten/walrus-wasm@${wasmVersion} BlobEncoder (RS2); regenerate with codec/testdata/vectors/gen`,
		cases: entries,
	};
	writeFileSync(join(outDir, 'index.json'), JSON.stringify(index, null, 1) + '\n');
	console.log(`wrote ${entries.length} cases to ${outDir}`);
} else {
	parentPort.on('message', ({ i, job }) => parentPort.postMessage({ i, entry: writeCase(job) }));
}
