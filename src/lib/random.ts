/** Cryptographically random identifiers and secrets. */

const ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";

/** A random string over [a-z0-9]; rejection sampling keeps every character uniform. */
export function randomId(length: number): string {
  let out = "";
  while (out.length < length) {
    for (const byte of crypto.getRandomValues(new Uint8Array(length * 2))) {
      if (byte < 252 && out.length < length) out += ALPHABET[byte % 36];
    }
  }
  return out;
}

/** `bytes` random bytes as base64url without padding. */
export function randomSecret(bytes: number): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(bytes))).toString("base64url");
}
