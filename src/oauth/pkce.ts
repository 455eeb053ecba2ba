/**
 * PKCE (RFC 7636) with S256 only: OAuth 2.1 §4.1.1 requires it of every client here, public
 * or confidential, and `plain` is refused (it protects nothing once the request is observed).
 */
import { sameHash } from "../lib/prefixed-token.ts";

/** RFC 7636 §4.1: 43–128 characters of [A-Z] [a-z] [0-9] "-" "." "_" "~". */
const VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;
/** BASE64URL(SHA256(verifier)) is always 43 characters without padding. */
const S256_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;

export function isValidCodeVerifier(verifier: string): boolean {
  return VERIFIER.test(verifier);
}

export function isValidS256Challenge(challenge: string): boolean {
  return S256_CHALLENGE.test(challenge);
}

export function s256(verifier: string): string {
  return new Bun.CryptoHasher("sha256").update(verifier).digest("base64url");
}

/** RFC 7636 §4.6, compared in constant time (both sides are 43 ASCII characters when valid). */
export function verifierMatches(verifier: string, challenge: string): boolean {
  if (!isValidCodeVerifier(verifier)) return false;
  return sameHash(Buffer.from(s256(verifier)), Buffer.from(challenge));
}
