// gen.mjs prints vectors.json: for fixed ed25519 seeds, the public key, the
// Sui address and the suiprivkey string that @mysten/sui (pinned in
// package.json) derives, and the signature of a fixed message.
// Regenerate with: npm ci && npm run gen
import { createHash } from "node:crypto";
import { Ed25519Keypair } from "@mysten/sui/keypairs/ed25519";

const hex = (b) => Buffer.from(b).toString("hex");
const seeds = [
  Buffer.alloc(32, 0),
  Buffer.from([...Array(32).keys()]),
  Buffer.alloc(32, 0xff),
];
for (let i = 0; i < 5; i++) {
  seeds.push(createHash("sha256").update(`floe/account/vector/${i}`).digest());
}
const message = Buffer.from("floe account vector message");
const vectors = [];
for (const seed of seeds) {
  const kp = Ed25519Keypair.fromSecretKey(new Uint8Array(seed));
  const sig = await kp.sign(new Uint8Array(message));
  vectors.push({
    seed: hex(seed),
    public_key: hex(kp.getPublicKey().toRawBytes()),
    address: kp.getPublicKey().toSuiAddress(),
    sui_private_key: kp.getSecretKey(),
    signature: hex(sig),
  });
}
console.log(JSON.stringify({ generator: "@mysten/sui 2.33.1 Ed25519Keypair", message: hex(message), vectors }, null, 2));
