/**
 * A new DID between the callback and choosing a username. The browser holds
 * `signup_<id>.<secret>` in a host-only cookie; only SHA-256(secret) is stored and compared in
 * constant time (house style rule 5). Valid 15 minutes and used once, so a leaked cookie is
 * worth little and a finished signup cannot be replayed.
 */
import type { Database } from "bun:sqlite";
import { mintToken, parseToken, sameHash } from "../../lib/prefixed-token.ts";
import { unixNow } from "../../lib/time.ts";

export const PENDING_SIGNUP_LIFETIME_SECONDS = 15 * 60;
const SIGNUP_TOKEN_PREFIX = "signup_";

export interface PendingSignup {
  id: string;
  did: string;
  handle: string;
  displayName: string;
  avatarUrl: string | null;
  returnTo: string | null;
  expiresAt: number;
}

interface PendingSignupRow {
  id: string;
  secret_hash: Uint8Array;
  did: string;
  handle: string;
  display_name: string;
  avatar_url: string | null;
  return_to: string | null;
  expires_at: number;
}

export class PendingSignupStore {
  constructor(private readonly db: Database) {}

  /** Records a proved identity waiting for a username; returns the cookie value (shown once). */
  create(fields: Omit<PendingSignup, "id" | "expiresAt">): string {
    const minted = mintToken(SIGNUP_TOKEN_PREFIX);
    const now = unixNow();
    this.db.query("DELETE FROM pending_signups WHERE expires_at <= ?").run(now);
    this.db
      .query(
        `INSERT INTO pending_signups
           (id, secret_hash, did, handle, display_name, avatar_url, return_to, expires_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        minted.id,
        minted.secretHash,
        fields.did,
        fields.handle,
        fields.displayName,
        fields.avatarUrl,
        fields.returnTo,
        now + PENDING_SIGNUP_LIFETIME_SECONDS,
      );
    return minted.plaintext;
  }

  /** The pending signup the cookie names, or null (malformed, unknown, wrong secret, expired). */
  find(token: string | null): PendingSignup | null {
    if (token === null) return null;
    const parsed = parseToken(SIGNUP_TOKEN_PREFIX, token);
    if (parsed === null) return null;
    const row = this.db
      .query<PendingSignupRow, [string, number]>(
        "SELECT * FROM pending_signups WHERE id = ? AND expires_at > ?",
      )
      .get(parsed.id, unixNow());
    if (row === null) return null;
    if (!sameHash(new Uint8Array(row.secret_hash), parsed.secretHash)) return null;
    return {
      id: row.id,
      did: row.did,
      handle: row.handle,
      displayName: row.display_name,
      avatarUrl: row.avatar_url,
      returnTo: row.return_to,
      expiresAt: row.expires_at,
    };
  }

  delete(id: string): void {
    this.db.query("DELETE FROM pending_signups WHERE id = ?").run(id);
  }
}
