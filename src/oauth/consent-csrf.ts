/**
 * The consent form's CSRF token: HMAC-SHA256 over the request id and the wiki session id, so a
 * token is good only for this authorization request in this browser's session. The session
 * cookie is SameSite=Lax and the decision also checks Origin; this is the belt to those braces.
 */
import { sameHash } from "../lib/prefixed-token.ts";

export function consentCsrfToken(key: string, requestId: string, sessionId: string): string {
  return new Bun.CryptoHasher("sha256", key)
    .update(`${requestId}.${sessionId}`)
    .digest("base64url");
}

export function consentCsrfMatches(
  key: string,
  requestId: string,
  sessionId: string,
  presented: string,
): boolean {
  return sameHash(Buffer.from(consentCsrfToken(key, requestId, sessionId)), Buffer.from(presented));
}
