/**
 * The confidential client's signing key (private_key_jwt, notes/atproto-login.md §2): one ES256
 * key, made on first start into DATA_DIR/keys/atproto-client.jwk (0600, written to a temporary
 * file and renamed, like every server key) and loaded as a JWK — `JoseKey.fromImportable(pem)`
 * fails on Bun, JWKs load (notes §1). `alg` is pinned and `key_ops` used instead of `use`.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { JoseKey } from "@atproto/jwk-jose";

const FILE = "atproto-client.jwk";

export async function loadOrCreateClientKey(keysDir: string): Promise<JoseKey> {
  const file = join(keysDir, FILE);
  if (existsSync(file)) return JoseKey.fromJWK(readFileSync(file, "utf8"));
  const kid = `k${Date.now().toString(36)}`;
  const generated = await JoseKey.generate(["ES256"], kid);
  const { use: _use, ...jwk } = generated.privateJwk ?? {};
  if (!("d" in jwk)) throw new Error("the generated client key has no private part");
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify({ ...jwk, alg: "ES256", key_ops: ["sign"] })}\n`, {
    mode: 0o600,
  });
  renameSync(temporary, file);
  return JoseKey.fromJWK(readFileSync(file, "utf8"));
}
