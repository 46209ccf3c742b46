// gen.mjs builds, with the official SDK and offline, the Walrus transactions
// and BCS samples that chainlink/sui's Go code must reproduce byte for byte,
// and checks transactions that Go built and signed.
//
//	node gen.mjs DIR              writes DIR/transactions.json and DIR/bcs_samples.json
//	node gen.mjs --verify FILE    checks FILE (go_signed.json, written by the Go test)
//
// Versions are pinned in package.json / package-lock.json: @mysten/walrus
// 1.2.13, @mysten/sui 2.33.1, @mysten/bcs 2.1.2. Every input is fixed below,
// so the output is deterministic; CI regenerates it and diffs it against the
// committed files.
//
// The WalrusClient is given a stub Sui client that answers from the fixed
// world below: getObjects (object refs, owners and BCS contents of the System
// object, its SystemStateInnerV1 dynamic field, blobs, coins, caps),
// getMoveFunction (the Move signatures of the functions called, from
// MystenLabs/walrus mainnet-contracts), listCoins and getBalance (the WAL
// coins and address balance of the sender). Gas payment, price and budget are
// preset and no expiration is set, so the SDK needs nothing else.
//
// The SDK has Move bindings only for the blob calls (reserve_space,
// register_blob, certify_blob, delete_blob, extend_blob). The other calls a
// floe node makes (invalidate_blob_id, register_candidate, stake_with_pool,
// request_withdraw_stake, withdraw_stake, epoch_sync_done) are built with
// @mysten/sui's Transaction.moveCall, arguments in the order and form of
// walrus-sui's Rust transaction builder (crates/walrus-sui/src/client/
// transaction_builder.rs), objects passed by ID and resolved by the SDK.
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";

import { bcs as mbcs } from "@mysten/bcs";
import { bcs } from "@mysten/sui/bcs";
import { ClientCache } from "@mysten/sui/client";
import { Ed25519Keypair } from "@mysten/sui/keypairs/ed25519";
import { Transaction, Inputs } from "@mysten/sui/transactions";
import { deriveDynamicFieldID, normalizeSuiAddress, toBase58 } from "@mysten/sui/utils";
import { verifyTransactionSignature } from "@mysten/sui/verify";
import { WalrusClient, blobIdFromInt } from "@mysten/walrus";
import { blake2b } from "@noble/hashes/blake2.js";
import { bls12_381 } from "@noble/curves/bls12-381.js";

// The SDK's generated Move types (not exported from the package index; loaded
// by file URL).
const dist = new URL("./node_modules/@mysten/walrus/dist/contracts/walrus/", import.meta.url);
const load = async (f) => import(new URL(f, dist).href);
const { System } = await load("system.mjs");
const { Staking } = await load("staking.mjs");
const { SystemStateInnerV1 } = await load("system_state_inner.mjs");
const { StakingInnerV1 } = await load("staking_inner.mjs");
const { BlsCommittee } = await load("bls_aggregate.mjs");
const { StakingPool } = await load("staking_pool.mjs");
const { StorageNodeInfo } = await load("storage_node.mjs");
const { Blob } = await load("blob.mjs");
const { Storage } = await load("storage_resource.mjs");
const { Committee } = await load("committee.mjs");
const { Field } = await import(new URL("../../utils/bcs.mjs", dist).href);

const GENERATOR = "@mysten/walrus 1.2.13, @mysten/sui 2.33.1, @mysten/bcs 2.1.2 (chainlink/sui/testdata/gen/gen.mjs)";

const sha = (label) => createHash("sha256").update(label).digest();
const hex = (b) => Buffer.from(b).toString("hex");
const id = (label) => "0x" + hex(sha("floe/sui/fixture/" + label));
const digest = (label) => toBase58(sha("floe/sui/fixture/digest/" + label));
const b64 = (b) => Buffer.from(b).toString("base64");
const jsonable = (v) => JSON.parse(JSON.stringify(v, (_, x) => (typeof x === "bigint" ? String(x) : (x instanceof Uint8Array || Buffer.isBuffer(x)) ? hex(x) : x)));

// ---------------------------------------------------------------- the world

const SENDER_SEED = sha("floe/sui/fixture/sender");
const sender = Ed25519Keypair.fromSecretKey(new Uint8Array(SENDER_SEED));
const SENDER = sender.getPublicKey().toSuiAddress();

// Mainnet's object IDs (spec §14); versions and digests are made up.
const SYSTEM_ID = "0x2134d52768ea07e8c43570ef975eb3e4c27a39fa6396bef985b5abc58d03ddd2";
const STAKING_ID = "0x10b9d30c28448939ce6c4d6c6e0ffce4a7f8a4ada8248bdad09ef8b70e4a3904";
const SYSTEM_ISV = "373874";
const STAKING_ISV = "373873";
// The package the System type was first published in (its type's address)
// and the current package that calls go to (System.package_id).
const ORIGINAL_PKG = id("walrus-original-package");
const PKG = "0xfdc88f7d7cf30afab2f82e8380d11ee8f70efb90e863d1de8616fae1bb09ea77";
const WAL_PKG = "0x356a26eb9e012a68958082340d4c4116e7f55615cf27affcff209cf0ae544f59";
const WAL_TYPE = `${WAL_PKG}::wal::WAL`;
const SYSTEM_VERSION = 2n;
const STAKING_VERSION = 2n;

const GAS = { objectId: id("gas-coin"), version: "1207", digest: digest("gas-coin") };
const GAS_PRICE = "750";
const GAS_BUDGET = "50000000";

const N_SHARDS = 1000;
const STORAGE_PRICE = 11000n; // per MiB per epoch, in FROST of WAL
const WRITE_PRICE = 20000n;
const EPOCH = 42;

// BLS12-381 min_pk keys of the committee, from fixed secret keys.
const blsKey = (i) => {
  const sk = (BigInt("0x" + hex(sha(`floe/sui/fixture/bls/${i}`))) % (bls12_381.fields.Fr.ORDER - 1n)) + 1n;
  const p = bls12_381.G1.Point.BASE.multiply(sk);
  return { compressed: p.toBytes(true), uncompressed: p.toBytes(false), point: p };
};
const COMMITTEE = [0, 1, 2, 3]
  .map((i) => ({ node_id: id(`node/${i}`), key: blsKey(i) }))
  .sort((a, b) => (a.node_id < b.node_id ? -1 : 1)) // by node ID (F8.7)
  .map((m, i) => ({ ...m, weight: [334, 333, 200, 133][i] })); // = the shards of the committee maps below
const aggregateKey = COMMITTEE.reduce((acc, m) => acc.add(m.key.point), bls12_381.G1.Point.ZERO).toBytes(true);

const systemValue = {
  id: SYSTEM_ID,
  version: SYSTEM_VERSION,
  package_id: PKG,
  new_package_id: null,
};
const systemInnerValue = {
  committee: {
    members: COMMITTEE.map((m) => ({ public_key: { bytes: m.key.uncompressed }, weight: m.weight, node_id: m.node_id })),
    n_shards: N_SHARDS,
    epoch: EPOCH,
    total_aggregated_key: { bytes: aggregateKey },
  },
  total_capacity_size: 1n << 50n,
  used_capacity_size: 123456789n,
  storage_price_per_unit_size: STORAGE_PRICE,
  write_price_per_unit_size: WRITE_PRICE,
  future_accounting: {
    current_index: 1,
    length: 3,
    ring_buffer: [
      { epoch: 44, used_capacity: 7n, rewards_to_distribute: { value: 8n } },
      { epoch: 42, used_capacity: 5n, rewards_to_distribute: { value: 6n } },
      { epoch: 43, used_capacity: 9n, rewards_to_distribute: { value: 10n } },
    ],
  },
  event_blob_certification_state: {
    latest_certified_blob: { blob_id: 77n, ending_checkpoint_sequence_number: 1234n },
    aggregate_weight_per_blob: { contents: [{ key: { blob_id: 78n, ending_checkpoint_sequence_number: 1300n }, value: 667 }] },
  },
  deny_list_sizes: { id: id("deny-list-sizes") },
};
const SYSTEM_FIELD_ID = deriveDynamicFieldID(SYSTEM_ID, "u64", bcs.u64().serialize(SYSTEM_VERSION).toBytes());

// Blob fields: a blob of 1 MB, its ID derived from the root hash as the
// contract re-derives it (F4.5).
const ROOT_HASH = sha("floe/sui/fixture/root-hash");
const deriveBlobId = (encodingType, size, root) => {
  const buf = new Uint8Array(1 + 8 + 32);
  buf[0] = encodingType;
  buf.set(bcs.u64().serialize(size).toBytes(), 1);
  buf.set(root, 9);
  return blake2b(buf, { dkLen: 32 });
};
const BLOB_SIZE = 1_000_000;
const BLOB_ID_BYTES = deriveBlobId(1, BLOB_SIZE, ROOT_HASH);
const BLOB_ID = blobIdFromInt(BigInt(bcs.u256().parse(BLOB_ID_BYTES)));

const BLOB_OBJECT_ID = id("blob-object");
const blobValue = {
  id: BLOB_OBJECT_ID,
  registered_epoch: 40,
  blob_id: BigInt(bcs.u256().parse(BLOB_ID_BYTES)),
  size: BigInt(BLOB_SIZE),
  encoding_type: 1,
  certified_epoch: 41,
  storage: { id: id("blob-storage"), start_epoch: 40, end_epoch: 45, storage_size: 66034000n },
  deletable: true,
};

// Owned objects the sender holds.
const owned = (label, version, type, content) => ({
  objectId: id(label),
  version,
  digest: digest(label),
  owner: { $kind: "AddressOwner", AddressOwner: SENDER },
  type,
  content,
});
const WAL_COINS = [
  { ...owned("wal-coin/0", "311", `0x2::coin::Coin<${WAL_TYPE}>`), balance: "5000000000" },
  { ...owned("wal-coin/1", "312", `0x2::coin::Coin<${WAL_TYPE}>`), balance: "70000" },
  { ...owned("wal-coin/2", "313", `0x2::coin::Coin<${WAL_TYPE}>`), balance: "900000000" },
];
const NODE_CAP = owned("storage-node-cap", "918", `${ORIGINAL_PKG}::storage_node::StorageNodeCap`);
const STAKED_WAL = owned("staked-wal", "919", `${ORIGINAL_PKG}::staked_wal::StakedWal`);

const objects = new Map();
const put = (o) => objects.set(normalizeSuiAddress(o.objectId), o);
put({
  objectId: SYSTEM_ID, version: "500001", digest: digest("system"),
  owner: { $kind: "Shared", Shared: { initialSharedVersion: SYSTEM_ISV } },
  type: `${ORIGINAL_PKG}::system::System`,
  content: System.serialize(systemValue).toBytes(),
});
put({
  objectId: STAKING_ID, version: "500002", digest: digest("staking"),
  owner: { $kind: "Shared", Shared: { initialSharedVersion: STAKING_ISV } },
  type: `${ORIGINAL_PKG}::staking::Staking`,
  content: Staking.serialize({ id: STAKING_ID, version: STAKING_VERSION, package_id: PKG, new_package_id: null }).toBytes(),
});
put({
  objectId: SYSTEM_FIELD_ID, version: "500001", digest: digest("system-inner"),
  owner: { $kind: "ObjectOwner", ObjectOwner: SYSTEM_ID },
  type: `0x2::dynamic_field::Field<u64, ${ORIGINAL_PKG}::system_state_inner::SystemStateInnerV1>`,
  content: Field(bcs.u64(), SystemStateInnerV1).serialize({ id: SYSTEM_FIELD_ID, name: SYSTEM_VERSION, value: systemInnerValue }).toBytes(),
});
put({ ...owned("blob-object", "777", `${ORIGINAL_PKG}::blob::Blob`), content: Blob.serialize(blobValue).toBytes() });
for (const c of WAL_COINS) put(c);
put(NODE_CAP);
put(STAKED_WAL);

// Move signatures of the functions called (mainnet-contracts).
const prim = (k) => ({ $kind: k });
const vec = (b) => ({ $kind: "vector", vector: b });
const dt = (typeName, ...typeParameters) => ({ $kind: "datatype", datatype: { typeName, typeParameters } });
const val = (body) => ({ reference: null, body });
const imm = (body) => ({ reference: "immutable", body });
const mut = (body) => ({ reference: "mutable", body });
const tSystem = dt(`${ORIGINAL_PKG}::system::System`);
const tStaking = dt(`${ORIGINAL_PKG}::staking::Staking`);
const tBlob = dt(`${ORIGINAL_PKG}::blob::Blob`);
const tStorage = dt(`${ORIGINAL_PKG}::storage_resource::Storage`);
const tWalCoin = dt("0x2::coin::Coin", dt(WAL_TYPE));
const tCtx = dt("0x2::tx_context::TxContext");
const tString = dt("0x1::string::String");
const tID = dt("0x2::object::ID");
const tCap = dt(`${ORIGINAL_PKG}::storage_node::StorageNodeCap`);
const tStakedWal = dt(`${ORIGINAL_PKG}::staked_wal::StakedWal`);
const tMeta = dt(`${ORIGINAL_PKG}::node_metadata::NodeMetadata`);
const tClock = dt("0x2::clock::Clock");
const bytes = vec(prim("u8"));
const FUNCTIONS = {
  "system::reserve_space": [mut(tSystem), val(prim("u64")), val(prim("u32")), mut(tWalCoin), mut(tCtx)],
  "system::register_blob": [mut(tSystem), val(tStorage), val(prim("u256")), val(prim("u256")), val(prim("u64")), val(prim("u8")), val(prim("bool")), mut(tWalCoin), mut(tCtx)],
  "system::certify_blob": [imm(tSystem), mut(tBlob), val(bytes), val(bytes), val(bytes)],
  "system::delete_blob": [imm(tSystem), val(tBlob)],
  "system::extend_blob": [mut(tSystem), mut(tBlob), val(prim("u32")), mut(tWalCoin)],
  "system::invalidate_blob_id": [imm(tSystem), val(bytes), val(bytes), val(bytes)],
  "staking::register_candidate": [mut(tStaking), val(tString), val(tString), val(tMeta), val(bytes), val(bytes), val(bytes), val(prim("u16")), val(prim("u64")), val(prim("u64")), val(prim("u64")), mut(tCtx)],
  "node_metadata::new": [val(tString), val(tString), val(tString)],
  "staking::stake_with_pool": [mut(tStaking), val(tWalCoin), val(tID), mut(tCtx)],
  "staking::request_withdraw_stake": [mut(tStaking), mut(tStakedWal), mut(tCtx)],
  "staking::withdraw_stake": [mut(tStaking), val(tStakedWal), mut(tCtx)],
  "staking::epoch_sync_done": [mut(tStaking), mut(tCap), val(prim("u32")), imm(tClock)],
};

// A stub of the Sui client: only what the SDK asks for.
function stubClient({ addressBalance = "0", coins = WAL_COINS } = {}) {
  const calls = [];
  return {
    calls,
    network: "mainnet",
    cache: new ClientCache(),
    core: {
      // No plugin of its own: Transaction.build then runs @mysten/sui's
      // local resolver (coreClientResolveTransactionPlugin, what its GraphQL
      // and JSON-RPC clients use). SuiGrpcClient instead sends unresolved
      // transactions to the full node to resolve; floe resolves every input
      // itself and never depends on that.
      resolveTransactionPlugin() {
        return undefined;
      },
      async getObjects({ objectIds }) {
        calls.push(["getObjects", objectIds]);
        return {
          objects: objectIds.map((oid) => objects.get(normalizeSuiAddress(oid)) ?? new Error(`no object ${oid}`)),
        };
      },
      async getMoveFunction({ packageId, moduleName, name }) {
        calls.push(["getMoveFunction", `${moduleName}::${name}`]);
        // The SDK asks the type-origin package for the WAL type
        // (staking::stake_with_pool) and the current one for calls.
        if (![PKG, ORIGINAL_PKG].includes(normalizeSuiAddress(packageId))) throw new Error(`unexpected package ${packageId}`);
        const parameters = FUNCTIONS[`${moduleName}::${name}`];
        if (!parameters) throw new Error(`no signature for ${moduleName}::${name}`);
        return { function: { packageId, moduleName, name, visibility: "public", isEntry: false, typeParameters: [], parameters, returns: [] } };
      },
      async listCoins({ owner, coinType }) {
        calls.push(["listCoins", coinType]);
        if (normalizeSuiAddress(owner) !== SENDER) throw new Error("listCoins for another owner");
        if (coinType !== WAL_TYPE) throw new Error(`listCoins of ${coinType}`);
        return { objects: coins, hasNextPage: false, cursor: null };
      },
      async getBalance({ owner, coinType }) {
        calls.push(["getBalance", coinType]);
        if (normalizeSuiAddress(owner) !== SENDER) throw new Error("getBalance for another owner");
        const coinBalance = coins.reduce((s, c) => s + BigInt(c.balance), 0n);
        return {
          balance: {
            coinType,
            coinBalance: String(coinBalance),
            addressBalance,
            balance: String(coinBalance + BigInt(addressBalance)),
          },
        };
      },
    },
  };
}

function walrusClient(stub) {
  return new WalrusClient({
    packageConfig: { systemObjectId: SYSTEM_ID, stakingPoolId: STAKING_ID },
    suiClient: stub,
  });
}

function newTx() {
  const tx = new Transaction();
  tx.setSender(SENDER);
  tx.setGasOwner(SENDER);
  tx.setGasPrice(BigInt(GAS_PRICE));
  tx.setGasBudget(BigInt(GAS_BUDGET));
  tx.setGasPayment([GAS]);
  return tx;
}

// A certificate over a storage confirmation (F8.3) by members 0, 1 and 3;
// the signature bytes are fixed, not a real aggregate (the transaction
// builder does not check them).
const confirmation = (deletable, objectId) => {
  const head = [1, 0, 3, ...bcs.u32().serialize(EPOCH).toBytes(), ...BLOB_ID_BYTES];
  return new Uint8Array(deletable ? [...head, 1, ...bcs.Address.serialize(objectId).toBytes()] : [...head, 0]);
};
const SIGNATURE = new Uint8Array([0, 1, 2].flatMap((i) => [...sha(`floe/sui/fixture/aggregate-signature/${i}`)])); // 96 bytes, like a G2 point
const invalidMessage = new Uint8Array([2, 0, 3, ...bcs.u32().serialize(EPOCH).toBytes(), ...BLOB_ID_BYTES]);

const NODE = {
  name: "floe-node-0",
  network_address: "/dns4/node0.floe.example/tcp/9185/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA",
  image_url: "https://floe.example/node0.png",
  project_url: "https://floe.example",
  description: "a floe storage node",
  public_key: COMMITTEE[0].key.compressed,
  network_public_key: new Uint8Array([2, ...sha("floe/sui/fixture/network-key")]),
  proof_of_possession: new Uint8Array([...sha("pop/0"), ...sha("pop/1"), ...sha("pop/2")]),
  commission_rate: 500,
  storage_price: 11000n,
  write_price: 20000n,
  node_capacity: 1n << 40n,
};

// ---------------------------------------------------------------- the cases

const cases = [];
async function addCase(name, kind, params, build, stubOptions) {
  const stub = stubClient(stubOptions);
  const client = walrusClient(stub);
  const tx = newTx();
  await build(tx, client);
  const bytesOut = await tx.build({ client: stub });
  const { signature } = await sender.signTransaction(bytesOut);
  const parsed = bcs.TransactionData.parse(bytesOut);
  cases.push({
    name,
    kind,
    params,
    wal_address_balance: stubOptions?.addressBalance ?? "0",
    wal_coins: (stubOptions?.coins ?? WAL_COINS).map((c) => ({ object_id: c.objectId, version: c.version, digest: c.digest, balance: c.balance })),
    tx_bcs: b64(bytesOut),
    digest: await tx.getDigest({ client: stub }),
    signature,
    commands: parsed.V1.kind.ProgrammableTransaction.commands.map((c) => c.$kind === "MoveCall" ? `MoveCall ${c.MoveCall.module}::${c.MoveCall.function}` : c.$kind),
  });
}

const walCoinRef = (c) => ({ object_id: c.objectId, version: c.version, digest: c.digest });

const registerParams = (deletable, epochs) => ({
  size: BLOB_SIZE, epochs, blob_id: BLOB_ID, root_hash: hex(ROOT_HASH), deletable, owner: SENDER,
});

// register_blob paying from one named WAL coin (walCoin: SplitCoins from it).
await addCase("register_blob/wal_coin", "register_blob", { ...registerParams(false, 3), wal_coin: walCoinRef(WAL_COINS[0]) },
  async (tx, client) => {
    await client.registerBlobTransaction({
      transaction: tx, size: BLOB_SIZE, epochs: 3, blobId: BLOB_ID, rootHash: ROOT_HASH, deletable: false,
      walCoin: tx.object(WAL_COINS[0].objectId), owner: SENDER,
    });
  });
// register_blob without a named coin: the SDK's coinWithBalance intent picks
// the sender's WAL coins (listCoins), merges them and splits both payments.
await addCase("register_blob/coins", "register_blob", { ...registerParams(true, 5) },
  async (tx, client) => {
    await client.registerBlobTransaction({
      transaction: tx, size: BLOB_SIZE, epochs: 5, blobId: BLOB_ID, rootHash: ROOT_HASH, deletable: true, owner: SENDER,
    });
  });
// Only one WAL coin.
await addCase("register_blob/one_coin", "register_blob", { ...registerParams(true, 1) },
  async (tx, client) => {
    await client.registerBlobTransaction({
      transaction: tx, size: BLOB_SIZE, epochs: 1, blobId: BLOB_ID, rootHash: ROOT_HASH, deletable: true, owner: SENDER,
    });
  }, { coins: [WAL_COINS[2]] });
// One coin holding exactly the total: the SDK destroys the emptied coin.
await addCase("register_blob/exact_coin", "register_blob", { ...registerParams(false, 1) },
  async (tx, client) => {
    await client.registerBlobTransaction({
      transaction: tx, size: BLOB_SIZE, epochs: 1, blobId: BLOB_ID, rootHash: ROOT_HASH, deletable: false, owner: SENDER,
    });
  }, { coins: [{ ...WAL_COINS[1], balance: "2077000" }] });
// The sender's WAL address balance covers everything: coin::redeem_funds.
await addCase("register_blob/address_balance", "register_blob", { ...registerParams(false, 2) },
  async (tx, client) => {
    await client.registerBlobTransaction({
      transaction: tx, size: BLOB_SIZE, epochs: 2, blobId: BLOB_ID, rootHash: ROOT_HASH, deletable: false, owner: SENDER,
    });
  }, { addressBalance: "100000000000" });
// Coins and address balance together.
await addCase("register_blob/coins_and_address_balance", "register_blob", { ...registerParams(false, 4) },
  async (tx, client) => {
    await client.registerBlobTransaction({
      transaction: tx, size: BLOB_SIZE, epochs: 4, blobId: BLOB_ID, rootHash: ROOT_HASH, deletable: false, owner: SENDER,
    });
  }, { coins: [WAL_COINS[1]], addressBalance: "4250000" });

for (const [name, deletable] of [["certify_blob/permanent", false], ["certify_blob/deletable", true]]) {
  const message = confirmation(deletable, BLOB_OBJECT_ID);
  await addCase(name, "certify_blob", {
    blob_object_id: BLOB_OBJECT_ID, signers: [0, 1, 3], committee_size: COMMITTEE.length,
    signature: hex(SIGNATURE), message: hex(message),
  }, async (tx, client) => {
    await client.certifyBlobTransaction({
      transaction: tx, blobId: BLOB_ID, blobObjectId: BLOB_OBJECT_ID, deletable,
      certificate: { signers: [0, 1, 3], serializedMessage: message, signature: SIGNATURE },
    });
  });
}

await addCase("delete_blob", "delete_blob", { blob_object_id: BLOB_OBJECT_ID, owner: SENDER },
  async (tx, client) => {
    await client.deleteBlobTransaction({ transaction: tx, blobObjectId: BLOB_OBJECT_ID, owner: SENDER });
  });

await addCase("extend_blob/wal_coin", "extend_blob", {
  blob_object_id: BLOB_OBJECT_ID, epochs: 3, storage_size: String(blobValue.storage.storage_size), wal_coin: walCoinRef(WAL_COINS[2]),
}, async (tx, client) => {
  await client.extendBlobTransaction({ transaction: tx, blobObjectId: BLOB_OBJECT_ID, epochs: 3, walCoin: tx.object(WAL_COINS[2].objectId) });
});
await addCase("extend_blob/coins", "extend_blob", {
  blob_object_id: BLOB_OBJECT_ID, epochs: 7, storage_size: String(blobValue.storage.storage_size),
}, async (tx, client) => {
  await client.extendBlobTransaction({ transaction: tx, blobObjectId: BLOB_OBJECT_ID, epochs: 7 });
});

// Calls without an SDK binding, as walrus-sui's Rust builder makes them.
await addCase("invalidate_blob_id", "invalidate_blob_id", {
  signers: [0, 2, 3], committee_size: COMMITTEE.length, signature: hex(SIGNATURE), message: hex(invalidMessage),
}, async (tx) => {
  const bitmap = new Uint8Array([0b1101]);
  tx.moveCall({
    target: `${PKG}::system::invalidate_blob_id`,
    arguments: [tx.object(SYSTEM_ID), tx.pure.vector("u8", SIGNATURE), tx.pure.vector("u8", bitmap), tx.pure.vector("u8", invalidMessage)],
  });
});

await addCase("register_candidate", "register_candidate", {
  name: NODE.name, network_address: NODE.network_address, image_url: NODE.image_url, project_url: NODE.project_url,
  description: NODE.description, public_key: hex(NODE.public_key), network_public_key: hex(NODE.network_public_key),
  proof_of_possession: hex(NODE.proof_of_possession), commission_rate: NODE.commission_rate,
  storage_price: String(NODE.storage_price), write_price: String(NODE.write_price), node_capacity: String(NODE.node_capacity),
}, async (tx) => {
  const metadata = tx.moveCall({
    target: `${PKG}::node_metadata::new`,
    arguments: [tx.pure.string(NODE.image_url), tx.pure.string(NODE.project_url), tx.pure.string(NODE.description)],
  });
  const cap = tx.moveCall({
    target: `${PKG}::staking::register_candidate`,
    arguments: [
      tx.object(STAKING_ID), tx.pure.string(NODE.name), tx.pure.string(NODE.network_address), metadata,
      tx.pure.vector("u8", NODE.public_key), tx.pure.vector("u8", NODE.network_public_key), tx.pure.vector("u8", NODE.proof_of_possession),
      tx.pure.u16(NODE.commission_rate), tx.pure.u64(NODE.storage_price), tx.pure.u64(NODE.write_price), tx.pure.u64(NODE.node_capacity),
    ],
  });
  tx.transferObjects([cap], SENDER);
});

await addCase("stake_with_pool", "stake_with_pool", {
  amount: "1000000000", node_id: COMMITTEE[2].node_id, wal_coin: walCoinRef(WAL_COINS[0]),
}, async (tx) => {
  const [coin] = tx.splitCoins(tx.object(WAL_COINS[0].objectId), [tx.pure.u64(1000000000n)]);
  const staked = tx.moveCall({ target: `${PKG}::staking::stake_with_pool`, arguments: [tx.object(STAKING_ID), coin, tx.pure.id(COMMITTEE[2].node_id)] });
  tx.transferObjects([staked], SENDER);
});

await addCase("request_withdraw_stake", "request_withdraw_stake", { staked_wal: STAKED_WAL.objectId }, async (tx) => {
  tx.moveCall({ target: `${PKG}::staking::request_withdraw_stake`, arguments: [tx.object(STAKING_ID), tx.object(STAKED_WAL.objectId)] });
});

await addCase("withdraw_stake", "withdraw_stake", { staked_wal: STAKED_WAL.objectId }, async (tx) => {
  const coin = tx.moveCall({ target: `${PKG}::staking::withdraw_stake`, arguments: [tx.object(STAKING_ID), tx.object(STAKED_WAL.objectId)] });
  tx.transferObjects([coin], SENDER);
});

await addCase("epoch_sync_done", "epoch_sync_done", { storage_node_cap: NODE_CAP.objectId, epoch: EPOCH }, async (tx) => {
  tx.moveCall({
    target: `${PKG}::staking::epoch_sync_done`,
    arguments: [tx.object(STAKING_ID), tx.object(NODE_CAP.objectId), tx.pure.u32(EPOCH), tx.object.clock()],
  });
});

// ---------------------------------------------------------------- BCS samples

// Types the SDK does not generate (or does not export), from the Move
// sources of mainnet-contracts: events.move (field order = BCS order),
// staked_wal.move, storage_node.move.
const u256 = bcs.u256();
const ID = bcs.Address;
const ev = (name, fields) => bcs.struct(name, fields);
const EVENTS = {
  BlobRegistered: ev("BlobRegistered", { epoch: bcs.u32(), blob_id: u256, size: bcs.u64(), encoding_type: bcs.u8(), end_epoch: bcs.u32(), deletable: bcs.bool(), object_id: ID }),
  BlobCertified: ev("BlobCertified", { epoch: bcs.u32(), blob_id: u256, end_epoch: bcs.u32(), deletable: bcs.bool(), object_id: ID, is_extension: bcs.bool() }),
  BlobDeleted: ev("BlobDeleted", { epoch: bcs.u32(), blob_id: u256, end_epoch: bcs.u32(), object_id: ID, was_certified: bcs.bool() }),
  InvalidBlobID: ev("InvalidBlobID", { epoch: bcs.u32(), blob_id: u256 }),
  EpochChangeStart: ev("EpochChangeStart", { epoch: bcs.u32() }),
  EpochChangeDone: ev("EpochChangeDone", { epoch: bcs.u32() }),
  ShardsReceived: ev("ShardsReceived", { epoch: bcs.u32(), shards: bcs.vector(bcs.u16()) }),
  EpochParametersSelected: ev("EpochParametersSelected", { next_epoch: bcs.u32() }),
  ShardRecoveryStart: ev("ShardRecoveryStart", { epoch: bcs.u32(), shards: bcs.vector(bcs.u16()) }),
  ContractUpgraded: ev("ContractUpgraded", { epoch: bcs.u32(), package_id: ID, version: bcs.u64() }),
  RegisterDenyListUpdate: ev("RegisterDenyListUpdate", { epoch: bcs.u32(), root: u256, sequence_number: bcs.u64(), node_id: ID }),
  DenyListUpdate: ev("DenyListUpdate", { epoch: bcs.u32(), root: u256, sequence_number: bcs.u64(), node_id: ID }),
  DenyListBlobDeleted: ev("DenyListBlobDeleted", { epoch: bcs.u32(), blob_id: u256 }),
  ContractUpgradeProposed: ev("ContractUpgradeProposed", { epoch: bcs.u32(), package_digest: bcs.vector(bcs.u8()) }),
  ContractUpgradeQuorumReached: ev("ContractUpgradeQuorumReached", { epoch: bcs.u32(), package_digest: bcs.vector(bcs.u8()) }),
  ProtocolVersionUpdated: ev("ProtocolVersionUpdated", { epoch: bcs.u32(), start_epoch: bcs.u32(), protocol_version: bcs.u64() }),
  PricesUpdated: ev("PricesUpdated", { epoch: bcs.u32(), storage_price: bcs.u64(), write_price: bcs.u64() }),
  StoragePoolCreated: ev("StoragePoolCreated", { epoch: bcs.u32(), storage_pool_id: ID, reserved_encoded_capacity_bytes: bcs.u64(), start_epoch: bcs.u32(), end_epoch: bcs.u32() }),
  PooledBlobRegistered: ev("PooledBlobRegistered", { epoch: bcs.u32(), blob_id: u256, unencoded_size: bcs.u64(), encoding_type: bcs.u8(), deletable: bcs.bool(), object_id: ID, storage_pool_id: ID }),
  PooledBlobCertified: ev("PooledBlobCertified", { epoch: bcs.u32(), blob_id: u256, deletable: bcs.bool(), object_id: ID, storage_pool_id: ID }),
  PooledBlobDeleted: ev("PooledBlobDeleted", { epoch: bcs.u32(), blob_id: u256, object_id: ID, was_certified: bcs.bool(), storage_pool_id: ID }),
  StoragePoolExtended: ev("StoragePoolExtended", { epoch: bcs.u32(), storage_pool_id: ID, new_end_epoch: bcs.u32() }),
};
const StakedWal = bcs.struct("StakedWal", {
  id: ID,
  state: bcs.enum("StakedWalState", { Staked: null, Withdrawing: bcs.struct("Withdrawing", { withdraw_epoch: bcs.u32() }) }),
  node_id: ID,
  principal: bcs.struct("Balance", { value: bcs.u64() }),
  activation_epoch: bcs.u32(),
});
const StorageNodeCap = bcs.struct("StorageNodeCap", {
  id: ID,
  node_id: ID,
  last_epoch_sync_done: bcs.u32(),
  last_event_blob_attestation: bcs.option(bcs.struct("EventBlobAttestation", { checkpoint_sequence_num: bcs.u64(), epoch: bcs.u32() })),
  deny_list_root: u256,
  deny_list_sequence: bcs.u64(),
  deny_list_size: bcs.u64(),
});

const nodeInfo = (i, extra = {}) => ({
  name: `node-${i}`,
  node_id: COMMITTEE[i].node_id,
  // A floe node's address is a multiaddr ending in /p2p/<peer ID> (doc.go);
  // Walrus nodes announce "host:port".
  network_address: i % 2 === 0 ? `/ip4/10.0.0.${i + 1}/tcp/9185/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA` : `walrus-node-${i}.example.com:9185`,
  public_key: { bytes: COMMITTEE[i].key.uncompressed },
  next_epoch_public_key: null,
  network_public_key: new Uint8Array([3, ...sha(`floe/sui/fixture/network-key/${i}`)]),
  metadata: { id: id(`node-metadata/${i}`) },
  ...extra,
});
const committeeValue = (shardsOf) => [{ contents: COMMITTEE.map((m, i) => ({ key: m.node_id, value: shardsOf(i) })) }];
const range = (a, b) => Array.from({ length: b - a }, (_, k) => a + k);
const bounds = [0, 334, 667, 867, 1000];
const stakingInnerValue = (epoch_state, next) => ({
  n_shards: N_SHARDS,
  epoch_duration: 1209600000n,
  first_epoch_start: 1742914804744n,
  pools: { id: id("pools"), size: 4n },
  epoch: EPOCH,
  active_set: { id: id("active-set") },
  next_committee: next ? committeeValue((i) => range(bounds[i], bounds[i + 1]).reverse()) : null,
  committee: committeeValue((i) => range(bounds[i], bounds[i + 1])),
  previous_committee: committeeValue((i) => (i === 3 ? [] : range(bounds[i], bounds[i + 1]))),
  next_epoch_params: next ? { total_capacity_size: 1n << 52n, storage_price_per_unit_size: 12000n, write_price_per_unit_size: 21000n } : null,
  epoch_state,
  next_epoch_public_keys: { id: id("next-epoch-public-keys") },
});
const pendingValues = (entries) => [{ contents: entries.map(([key, value]) => ({ key, value })) }];
const stakingPoolValue = (i, state) => ({
  id: COMMITTEE[i].node_id,
  state,
  voting_params: { storage_price: 11000n, write_price: 20000n, node_capacity: 1n << 42n },
  node_info: nodeInfo(i, i === 1 ? { next_epoch_public_key: { bytes: COMMITTEE[2].key.uncompressed } } : {}),
  activation_epoch: 1,
  latest_epoch: EPOCH,
  wal_balance: 123456789000n,
  num_shares: 120000000000n,
  pending_shares_withdraw: pendingValues([[43, 5n]]),
  pre_active_withdrawals: pendingValues([]),
  pending_commission_rate: pendingValues([[44, 300n]]),
  commission_rate: 500,
  exchange_rates: { id: id(`exchange-rates/${i}`), size: 42n },
  pending_stake: pendingValues([[43, 1000000000n], [44, 7n]]),
  rewards_pool: { value: 999n },
  commission: { value: 88n },
  commission_receiver: { Address: SENDER },
  governance_authorized: { ObjectID: id("governance-cap") },
  extra_fields: { id: id(`extra-fields/${i}`), size: 0n },
});
const STAKING_FIELD_ID = deriveDynamicFieldID(STAKING_ID, "u64", bcs.u64().serialize(STAKING_VERSION).toBytes());

const samples = [];
const sample = (name, type, schema, value) => {
  const b = schema.serialize(value).toBytes();
  // What the SDK reads back must be what was written.
  const again = schema.serialize(schema.parse(b)).toBytes();
  if (hex(again) !== hex(b)) throw new Error(`${name}: ${type} does not round-trip`);
  samples.push({ name, type, bcs: hex(b), value: jsonable(value) });
};
sample("system", "System", System, systemValue);
sample("staking", "Staking", Staking, { id: STAKING_ID, version: STAKING_VERSION, package_id: PKG, new_package_id: id("walrus-next-package") });
sample("system_state_inner", "SystemStateInnerV1", SystemStateInnerV1, systemInnerValue);
sample("system_state_inner/empty", "SystemStateInnerV1", SystemStateInnerV1, {
  ...systemInnerValue,
  committee: { members: [], n_shards: N_SHARDS, epoch: 0, total_aggregated_key: { bytes: bls12_381.G1.Point.ZERO.toBytes(true) } },
  future_accounting: { current_index: 0, length: 0, ring_buffer: [] },
  event_blob_certification_state: { latest_certified_blob: null, aggregate_weight_per_blob: { contents: [] } },
});
sample("system_state_field", "Field<u64,SystemStateInnerV1>", Field(bcs.u64(), SystemStateInnerV1), { id: SYSTEM_FIELD_ID, name: SYSTEM_VERSION, value: systemInnerValue });
sample("bls_committee", "BlsCommittee", BlsCommittee, systemInnerValue.committee);
sample("committee", "Committee", Committee, committeeValue((i) => range(bounds[i], bounds[i + 1])));
sample("staking_inner/sync", "StakingInnerV1", StakingInnerV1, stakingInnerValue({ EpochChangeSync: 667 }, false));
sample("staking_inner/done", "StakingInnerV1", StakingInnerV1, stakingInnerValue({ EpochChangeDone: 1743000000000n }, false));
sample("staking_inner/params_selected", "StakingInnerV1", StakingInnerV1, stakingInnerValue({ NextParamsSelected: 1742914804744n }, true));
sample("staking_field", "Field<u64,StakingInnerV1>", Field(bcs.u64(), StakingInnerV1), { id: STAKING_FIELD_ID, name: STAKING_VERSION, value: stakingInnerValue({ EpochChangeDone: 1743000000000n }, true) });
sample("staking_pool/active", "StakingPool", StakingPool, stakingPoolValue(0, { Active: true }));
sample("staking_pool/withdrawing", "StakingPool", StakingPool, stakingPoolValue(1, { Withdrawing: 45 }));
sample("staking_pool/withdrawn", "StakingPool", StakingPool, stakingPoolValue(3, { Withdrawn: true }));
sample("storage_node_info/floe", "StorageNodeInfo", StorageNodeInfo, nodeInfo(0));
sample("storage_node_info/walrus", "StorageNodeInfo", StorageNodeInfo, nodeInfo(1, { next_epoch_public_key: { bytes: COMMITTEE[3].key.uncompressed } }));
sample("blob/certified", "Blob", Blob, blobValue);
sample("blob/registered", "Blob", Blob, { ...blobValue, certified_epoch: null, deletable: false });
sample("storage", "Storage", Storage, blobValue.storage);
sample("storage_node_cap", "StorageNodeCap", StorageNodeCap, {
  id: NODE_CAP.objectId, node_id: COMMITTEE[0].node_id, last_epoch_sync_done: 41,
  last_event_blob_attestation: { checkpoint_sequence_num: 99999n, epoch: 42 }, deny_list_root: 5n, deny_list_sequence: 2n, deny_list_size: 640n,
});
sample("staked_wal/staked", "StakedWal", StakedWal, { id: STAKED_WAL.objectId, state: { Staked: true }, node_id: COMMITTEE[2].node_id, principal: { value: 1000000000n }, activation_epoch: 43 });
sample("staked_wal/withdrawing", "StakedWal", StakedWal, { id: STAKED_WAL.objectId, state: { Withdrawing: { withdraw_epoch: 44 } }, node_id: COMMITTEE[2].node_id, principal: { value: 1000000000n }, activation_epoch: 43 });
const blobIdInt = BigInt(bcs.u256().parse(BLOB_ID_BYTES));
const EVENT_VALUES = {
  BlobRegistered: { epoch: EPOCH, blob_id: blobIdInt, size: BigInt(BLOB_SIZE), encoding_type: 1, end_epoch: 45, deletable: true, object_id: BLOB_OBJECT_ID },
  BlobCertified: { epoch: EPOCH, blob_id: blobIdInt, end_epoch: 45, deletable: true, object_id: BLOB_OBJECT_ID, is_extension: false },
  BlobDeleted: { epoch: EPOCH, blob_id: blobIdInt, end_epoch: 45, object_id: BLOB_OBJECT_ID, was_certified: true },
  InvalidBlobID: { epoch: EPOCH, blob_id: blobIdInt },
  EpochChangeStart: { epoch: 43 },
  EpochChangeDone: { epoch: 43 },
  ShardsReceived: { epoch: 43, shards: [999, 998, 0, 65535] },
  EpochParametersSelected: { next_epoch: 43 },
  ShardRecoveryStart: { epoch: 43, shards: [7] },
  ContractUpgraded: { epoch: EPOCH, package_id: id("walrus-next-package"), version: 3n },
  RegisterDenyListUpdate: { epoch: EPOCH, root: 12345678901234567890n, sequence_number: 4n, node_id: COMMITTEE[1].node_id },
  DenyListUpdate: { epoch: EPOCH, root: (1n << 255n) + 1n, sequence_number: 5n, node_id: COMMITTEE[1].node_id },
  DenyListBlobDeleted: { epoch: EPOCH, blob_id: blobIdInt },
  ContractUpgradeProposed: { epoch: EPOCH, package_digest: new Uint8Array(sha("floe/sui/fixture/package-digest")) },
  ContractUpgradeQuorumReached: { epoch: EPOCH, package_digest: new Uint8Array(sha("floe/sui/fixture/package-digest")) },
  ProtocolVersionUpdated: { epoch: EPOCH, start_epoch: 44, protocol_version: 2n },
  PricesUpdated: { epoch: EPOCH, storage_price: 11000n, write_price: 20000n },
  StoragePoolCreated: { epoch: EPOCH, storage_pool_id: id("storage-pool"), reserved_encoded_capacity_bytes: 1n << 36n, start_epoch: 42, end_epoch: 50 },
  PooledBlobRegistered: { epoch: EPOCH, blob_id: blobIdInt, unencoded_size: 17n, encoding_type: 1, deletable: false, object_id: BLOB_OBJECT_ID, storage_pool_id: id("storage-pool") },
  PooledBlobCertified: { epoch: EPOCH, blob_id: blobIdInt, deletable: false, object_id: BLOB_OBJECT_ID, storage_pool_id: id("storage-pool") },
  PooledBlobDeleted: { epoch: EPOCH, blob_id: blobIdInt, object_id: BLOB_OBJECT_ID, was_certified: false, storage_pool_id: id("storage-pool") },
  StoragePoolExtended: { epoch: EPOCH, storage_pool_id: id("storage-pool"), new_end_epoch: 60 },
};
for (const [name, schema] of Object.entries(EVENTS)) sample(`event/${name}`, `events::${name}`, schema, EVENT_VALUES[name]);

// ---------------------------------------------------------------- output


const world = {
  sender: SENDER,
  sender_seed: hex(SENDER_SEED),
  gas_payment: [{ object_id: GAS.objectId, version: GAS.version, digest: GAS.digest }],
  gas_price: GAS_PRICE,
  gas_budget: GAS_BUDGET,
  package_id: PKG,
  original_package_id: ORIGINAL_PKG,
  wal_type: WAL_TYPE,
  system: { object_id: SYSTEM_ID, initial_shared_version: SYSTEM_ISV },
  staking: { object_id: STAKING_ID, initial_shared_version: STAKING_ISV },
  n_shards: N_SHARDS,
  storage_price_per_unit_size: String(STORAGE_PRICE),
  write_price_per_unit_size: String(WRITE_PRICE),
  epoch: EPOCH,
  objects: [...objects.values()].map((o) => ({
    object_id: o.objectId, version: o.version, digest: o.digest, type: o.type, owner: o.owner,
    ...(o.balance ? { balance: o.balance } : {}),
  })),
};

const out = process.argv[2];
if (out === "--verify") {
  await verify(process.argv[3]);
} else if (out) {
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, "transactions.json"), JSON.stringify(jsonable({ generator: GENERATOR, world, cases }), null, 2) + "\n");
  // One sample per line: the committees' shard lists stay readable.
  writeFileSync(join(out, "bcs_samples.json"), `{"generator": ${JSON.stringify(GENERATOR)}, "samples": [\n${samples.map((x) => JSON.stringify(x)).join(",\n")}\n]}\n`);
  console.log(`wrote ${cases.length} transactions and ${samples.length} BCS samples to ${out}`);
} else {
  console.error("usage: node gen.mjs DIR | node gen.mjs --verify go_signed.json");
  process.exit(2);
}

async function verify(file) {
  const doc = JSON.parse(readFileSync(file, "utf8"));
  let failed = 0;
  for (const c of doc.cases) {
    const txBytes = new Uint8Array(Buffer.from(c.tx_bcs, "base64"));
    try {
      const pk = await verifyTransactionSignature(txBytes, c.signature, { address: c.signer });
      const data = bcs.TransactionData.parse(txBytes);
      if (normalizeSuiAddress(data.V1.sender) !== normalizeSuiAddress(c.signer)) throw new Error(`sender ${data.V1.sender}, signer ${c.signer}`);
      const d = (await import("@mysten/sui/transactions")).TransactionDataBuilder.getDigestFromBytes(txBytes);
      if (d !== c.digest) throw new Error(`digest ${d}, Go says ${c.digest}`);
      if (pk.toSuiAddress() !== normalizeSuiAddress(c.signer)) throw new Error("public key of another address");
    } catch (e) {
      failed++;
      console.error(`FAIL ${c.name}: ${e.message}`);
    }
    // A signature over other bytes must not verify.
    const tampered = new Uint8Array(txBytes);
    tampered[tampered.length - 1] ^= 1;
    if (await verifyTransactionSignature(tampered, c.signature, { address: c.signer }).then(() => true, () => false)) {
      failed++;
      console.error(`FAIL ${c.name}: a signature verified over tampered bytes`);
    }
  }
  if (failed) {
    console.error(`${failed} of ${doc.cases.length} Go-signed transactions failed @mysten/sui's checks`);
    process.exit(1);
  }
  console.log(`all ${doc.cases.length} Go-signed transactions verify with @mysten/sui's verifyTransactionSignature and parse with bcs.TransactionData`);
}
