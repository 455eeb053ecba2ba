/**
 * The one format of every bearer secret we hand out — wiki tokens (`wbt_`), sessions (`sess_`),
 * handshake codes (`handoff_`), pending signups (`signup_`): `<prefix><16-char id>.<43-char
 * secret>`. The prefix says what a value is (so a lookup can dispatch on it and a leaked one can
 * be recognised); the id finds the row with one indexed lookup; only SHA-256 of the 256-bit
 * secret is stored, and a presented secret is compared in constant time.
 */
import { timingSafeEqual } from "node:crypto";
import { randomId, randomSecret } from "./random.ts";

const ID_LENGTH = 16;
const SECRET_BYTES = 32;

export interface MintedToken {
  id: string;
  /** What the holder gets, once: `<prefix><id>.<secret>`. */
  plaintext: string;
  /** What is stored. */
  secretHash: Uint8Array;
}

export function hashSecret(secret: string): Uint8Array {
  return new Bun.CryptoHasher("sha256").update(secret).digest();
}

export function mintToken(prefix: string): MintedToken {
  const id = randomId(ID_LENGTH);
  const secret = randomSecret(SECRET_BYTES);
  return { id, plaintext: `${prefix}${id}.${secret}`, secretHash: hashSecret(secret) };
}

/** A presented value split into its row id and the SHA-256 of its secret; null if malformed. */
export function parseToken(
  prefix: string,
  presented: string,
): { id: string; secretHash: Uint8Array } | null {
  if (!presented.startsWith(prefix)) return null;
  const match = /^([a-z0-9]{16})\.([A-Za-z0-9_-]{43})$/.exec(presented.slice(prefix.length));
  if (match === null) return null;
  const [, id = "", secret = ""] = match;
  // Hashed before any lookup, so an unknown id and a wrong secret take the same time.
  return { id, secretHash: hashSecret(secret) };
}

/** Constant-time comparison of two stored or presented hashes. */
export function sameHash(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && timingSafeEqual(a, b);
}
