/**
 * Authorization requests in flight to GitHub or Google, between the redirect and the callback.
 * The OAuth `state` (RFC 6749 §10.12) is a `pstate_<id>.<secret>` token; only SHA-256 of the
 * secret is kept, with what the request is for (sign in, or link to the signed-in user) and the
 * PKCE verifier. Each state works once and for 10 minutes. The same value also sits in a
 * host-only cookie, so a callback only completes in the browser that started it.
 * NOTE: kept in memory, not SQLite: a restart drops requests in flight, which then end on the
 * "start again" page; nothing else is lost.
 */
import { mintToken, parseToken, sameHash } from "../../lib/prefixed-token.ts";
import { MINUTE } from "../../lib/time.ts";
import type { ProviderName } from "./identity-link-store.ts";

export const AUTHORIZATION_STATE_LIFETIME = 10 * MINUTE;
export const STATE_PREFIX = "pstate_";
/** A flood of started sign-ins must not grow memory without bound; the oldest go first. */
const MAX_PENDING = 10_000;

export type AuthorizationPurpose =
  | { kind: "login"; returnTo: string | null }
  | { kind: "link"; userId: number };

export interface PendingAuthorization {
  provider: ProviderName;
  purpose: AuthorizationPurpose;
  /** RFC 7636 code_verifier, for providers that use PKCE. */
  codeVerifier: string | null;
}

interface Entry extends PendingAuthorization {
  secretHash: Uint8Array;
  expiresAt: number;
}

export class AuthorizationStateStore {
  private readonly entries = new Map<string, Entry>();

  /** Records a request; returns the state value to send (and to put in the cookie). */
  create(pending: PendingAuthorization): string {
    const now = Date.now();
    // One lifetime for all, so insertion order is expiry order: sweep from the front.
    for (const [id, entry] of this.entries) {
      if (entry.expiresAt > now) break;
      this.entries.delete(id);
    }
    while (this.entries.size >= MAX_PENDING) {
      const oldest = this.entries.keys().next();
      if (oldest.done === true) break;
      this.entries.delete(oldest.value);
    }
    const minted = mintToken(STATE_PREFIX);
    this.entries.set(minted.id, {
      ...pending,
      secretHash: minted.secretHash,
      expiresAt: now + AUTHORIZATION_STATE_LIFETIME,
    });
    return minted.plaintext;
  }

  /**
   * The request this state names, removed so it cannot be used again; null when the state is
   * malformed, unknown, already used, wrong or expired.
   */
  consume(state: string): PendingAuthorization | null {
    const parsed = parseToken(STATE_PREFIX, state);
    if (parsed === null) return null;
    const entry = this.entries.get(parsed.id);
    if (entry === undefined || !sameHash(entry.secretHash, parsed.secretHash)) return null;
    this.entries.delete(parsed.id);
    if (entry.expiresAt <= Date.now()) return null;
    return { provider: entry.provider, purpose: entry.purpose, codeVerifier: entry.codeVerifier };
  }
}
