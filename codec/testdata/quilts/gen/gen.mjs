// Regenerates codec/testdata/quilts with the official Walrus SDK's own quilt
// encoder: WalrusClient.writeQuilt of @mysten/walrus (it sorts the files,
// lays out the index and the patches with encodeQuilt, stores the quilt as
// a blob and names every patch with encodeQuiltPatchId). Storing is the one
// step replaced: the quilt's blob ID is computed offline by the same client
// (computeBlobMetadata, the @mysten/walrus-wasm RS2 encoder), and the system
// state only supplies n_shards.
//
//   npm ci && node gen.mjs [OUTDIR]     (OUTDIR defaults to .., the committed fixtures)
//
// Every file is rebuilt from its description alone: its contents are the
// seeded stream block_i = SHA256(utf8(seed) || u32be(i)), concatenated and
// truncated to its size, with seed = "walrus-quilt/" + case + "/" + identifier
// (codec/quilt_test.go's quiltFileData). The output is deterministic: CI
// regenerates into a temporary folder and diff -r's it against the
// committed files.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ClientCache } from '@mysten/sui/client';
import { WalrusClient } from '@mysten/walrus';

const here = dirname(fileURLToPath(import.meta.url));
const outDir = resolve(process.argv[2] ?? join(here, '..'));
const version = (p) => JSON.parse(readFileSync(join(here, 'node_modules', p, 'package.json'), 'utf8')).version;

const GENERATOR = 'sha256-ctr: block_i = SHA256(utf8(seed) || u32be(i)), concatenated, truncated; seed = "walrus-quilt/" + case + "/" + identifier';

function seededInput(seed, length) {
	const out = Buffer.alloc(length);
	const ctr = Buffer.alloc(4);
	for (let i = 0, off = 0; off < length; i++, off += 32) {
		ctr.writeUInt32BE(i);
		createHash('sha256').update(seed, 'utf8').update(ctr).digest().copy(out, off);
	}
	return out;
}

const sha256 = (b) => createHash('sha256').update(b).digest('hex');

function sourceSymbols(n) {
	const f = Math.floor((n - 1) / 3);
	return { nRows: n - 2 * f, nCols: n - f };
}

// The bytes a patch takes before its data, without tags: header (6),
// identifier size (2), BCS identifier.
function prefixSize(identifier) {
	const len = Buffer.byteLength(identifier, 'utf8');
	return 6 + 2 + (len < 128 ? 1 : len < 16384 ? 2 : 3) + len;
}

// A deterministic permutation, so the SDK (not the input) sorts the files.
function shuffle(files, seed) {
	const keyed = files.map((f) => ({ f, k: sha256(`${seed}/${f.identifier}`) }));
	keyed.sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0));
	return keyed.map((x) => x.f);
}

const pad = (i, w) => String(i).padStart(w, '0');

// Serialized sizes that sit on column and symbol boundaries for the symbol
// size sym; the generator checks the SDK picked exactly sym.
function boundaryFiles(n, sym, pinColumns, exactOnes) {
	const { nRows } = sourceSymbols(n);
	const col = nRows * sym;
	const files = [];
	const add = (identifier, serialized) => files.push({ identifier, size: serialized - prefixSize(identifier) });
	if (pinColumns > 0) add('pin', pinColumns * col);
	for (let i = 0; i < exactOnes; i++) add(`c${pad(i, 2)}`, col);
	add('c+1', col + 1);
	add('c-1', col - 1);
	add('2c', 2 * col);
	if (n >= 100) {
		add('s3', 3 * sym);
		add('s3+1', 3 * sym + 1);
		add('s3-1', 3 * sym - 1);
		files.push({ identifier: 'empty', size: 0 });
	}
	return { files, symbolSize: sym };
}

const MIXED_SIZES = [0, 1, 2, 3, 5, 7, 17, 31, 64, 100, 128, 255, 256, 512, 1000, 2048, 4095, 4096, 8192, 10000, 65535, 65536, 100000, 250000];

// The cases: name → { shards, build(n) → { files, symbolSize? } }. Order is
// the order of index.json.
const CASES = [
	['one', [4, 10, 100, 1000], () => ({ files: [{ identifier: 'hello.txt', size: 1234 }] })],
	['mixed', [10], () => ({
		files: [
			{ identifier: 'index.html', size: 2000 },
			{ identifier: 'style.css', size: 300 },
			{ identifier: 'app.js', size: 7000 },
			{ identifier: 'empty', size: 0 },
			{ identifier: 'logo.png', size: 40000 },
		],
	})],
	['mixed', [100, 1000], () => ({
		files: MIXED_SIZES.map((size, i) => ({ identifier: `assets/file-${pad(i, 2)}.bin`, size })),
	})],
	['tags', [13, 100, 1000], () => ({
		files: [
			{ identifier: 'page.html', size: 500, tags: { 'content-type': 'text/html', z: '1', aa: '2', b: '' } },
			{ identifier: 'numbers', size: 10, tags: { 10: 'ten', 9: 'nine', 1: 'one', 100: 'hundred' } },
			{ identifier: 'uleb-order', size: 64, tags: { ['k'.repeat(129)]: 'a', ['k'.repeat(256)]: 'b', ['k'.repeat(128)]: 'c', ['k'.repeat(127)]: 'd' } },
			{ identifier: 'unicode-tags', size: 3, tags: { 'ключ': 'значение', 'é': 'e-acute', 'e': 'plain' } },
			{ identifier: 'no-tags', size: 77 },
			{ identifier: 'empty-tags', size: 5, tags: {} },
			{ identifier: 'big-value', size: 1, tags: { v: 'x'.repeat(5000) } },
			{ identifier: 'one-tag', size: 12345, tags: { creator: 'walrus' } },
		],
	})],
	// Non-ASCII identifiers, none in U+E000–U+FFFF: there the SDK's sort
	// (UTF-16 code units) and walrus-core's (UTF-8 bytes) disagree with
	// astral characters such as the emoji below.
	['unicode', [16, 100, 1000], () => ({
		files: ['café.txt', '日本語/ファイル.md', '😀.png', 'Ωmega', 'naïve résumé.pdf', 'ñ', 'Z', 'a', '데이터.json'].map((identifier, i) => ({ identifier, size: 100 * i + 3 })),
	})],
	['boundary', [10], () => boundaryFiles(10, 10, 0, 1)],
	['boundary', [100], () => boundaryFiles(100, 100, 20, 30)],
	// An index of exactly MAX_NUM_SLIVERS_FOR_QUILT_INDEX = 10 columns.
	['index10', [100], () => ({
		files: Array.from({ length: 50 }, (_, i) => ({ identifier: `${pad(i, 2)}-${'long-name-'.repeat(20)}`, size: i % 5 })),
		indexColumns: 10,
	})],
	// The most files the index allows: nSec - 1, the index in one column.
	['most', [10, 100, 1000], (n) => ({
		files: Array.from({ length: sourceSymbols(n).nCols - 1 }, (_, i) => ({ identifier: `f${pad(i, 4)}`, size: (i * 7) % 23 })),
	})],
];

function columns(quilt, n, sym, from, to) {
	const { nRows, nCols } = sourceSymbols(n);
	const out = Buffer.alloc((to - from) * nRows * sym);
	let o = 0;
	for (let c = from; c < to; c++) {
		for (let r = 0; r < nRows; r++) {
			const at = (r * nCols + c) * sym;
			quilt.copy(out, o, at, at + sym);
			o += sym;
		}
	}
	return out;
}

function fakeSuiClient() {
	return {
		cache: new ClientCache(),
		core: {
			getObjects() {
				throw new Error('offline: no Sui access');
			},
		},
	};
}

async function encodeCase(base, n, build) {
	const name = `${base}_n${n}`;
	const { files: described, symbolSize: wantSymbol, indexColumns: wantIndexColumns } = build(n);
	const files = shuffle(described, name);
	const blobs = files.map((f) => ({
		contents: new Uint8Array(seededInput(`walrus-quilt/${base}/${f.identifier}`, f.size)),
		identifier: f.identifier,
		...(f.tags !== undefined ? { tags: f.tags } : {}),
	}));

	const client = new WalrusClient({ network: 'testnet', suiClient: fakeSuiClient() });
	client.systemState = async () => ({ committee: { n_shards: n } });
	let stored;
	client.writeBlob = async ({ blob, attributes }) => {
		const { blobId } = await client.computeBlobMetadata({ bytes: blob, numShards: n });
		stored = { blob: Buffer.from(blob), attributes };
		return { blobId, blobObject: null };
	};
	const result = await client.writeQuilt({ blobs, epochs: 1, deletable: true, signer: null });

	const { nRows, nCols } = sourceSymbols(n);
	const quilt = stored.blob;
	if (quilt.length % (nRows * nCols) !== 0) throw new Error(`${name}: quilt of ${quilt.length} bytes`);
	const sym = quilt.length / (nRows * nCols);
	if (wantSymbol !== undefined && sym !== wantSymbol) throw new Error(`${name}: symbol size ${sym}, the case is built for ${wantSymbol}`);
	const patches = result.index.patches;
	const indexColumns = patches.length > 0 ? patches[0].startIndex : null;
	if (wantIndexColumns !== undefined && indexColumns !== wantIndexColumns) throw new Error(`${name}: index spans ${indexColumns} columns, the case is built for ${wantIndexColumns}`);
	const byId = new Map(blobs.map((b) => [b.identifier, b]));
	return {
		name,
		n_shards: n,
		primary_source_symbols: nRows,
		secondary_source_symbols: nCols,
		input: {
			generator: GENERATOR,
			// In the order given to the SDK.
			files: files.map((f) => ({
				identifier: f.identifier,
				size: f.size,
				...(f.tags !== undefined ? { tags: f.tags } : {}),
				sha256: sha256(byId.get(f.identifier).contents),
			})),
		},
		symbol_size: sym,
		quilt_length: quilt.length,
		quilt_sha256: sha256(quilt),
		quilt_id: result.blobId,
		blob_attributes: stored.attributes,
		index_columns: indexColumns,
		index_columns_sha256: sha256(columns(quilt, n, sym, 0, indexColumns ?? 1)),
		// In index order; columns_sha256 covers the patch's secondary slivers.
		patches: patches.map((p) => ({
			identifier: p.identifier,
			start: p.startIndex,
			end: p.endIndex,
			patch_id: p.patchId,
			columns_sha256: sha256(columns(quilt, n, sym, p.startIndex, p.endIndex)),
			data_sha256: sha256(byId.get(p.identifier).contents),
		})),
	};
}

mkdirSync(join(outDir, 'cases'), { recursive: true });
const index = {
	description: 'QuiltV1 fixtures from the official Walrus SDK (WalrusClient.writeQuilt); regenerate with gen/gen.mjs',
	sdk: {
		'@mysten/walrus': version('@mysten/walrus'),
		'@mysten/walrus-wasm': version('@mysten/walrus-wasm'),
		'@mysten/bcs': version('@mysten/bcs'),
		'@mysten/sui': version('@mysten/sui'),
	},
	generator: GENERATOR,
	cases: [],
};
for (const [base, shards, build] of CASES) {
	for (const n of shards) {
		const c = await encodeCase(base, n, build);
		const file = `cases/${c.name}.json`;
		writeFileSync(join(outDir, file), JSON.stringify(c, null, 1) + '\n');
		index.cases.push({ file, n_shards: n, files: c.input.files.length, symbol_size: c.symbol_size, quilt_id: c.quilt_id });
	}
}
writeFileSync(join(outDir, 'index.json'), JSON.stringify(index, null, 1) + '\n');
console.log(`wrote ${index.cases.length} quilt cases to ${outDir}`);
