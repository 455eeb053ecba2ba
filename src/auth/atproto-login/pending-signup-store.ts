/**
 * A new DID between the callback and choosing a username. The browser holds
 * `signup_<id>.<secret>` in a host-only cookie; only SHA-256(secret) is stored and compared in
 * constant time (house style rule 5). Valid 15 minutes and used once, so a leaked cookie is
 * worth little and a finished signup cannot be replayed.
 */
import type { Database } from "bun:sqlite";
import { timingSafeEqual } from "node:crypto";
import { randomId, randomSecret } from "../../lib/random.ts";
import { unixNow } from "../../lib/time.ts";

export const PENDING_SIGNUP_LIFETIME_SECONDS = 15 * 60;
const TOKEN_PATTERN = /^signup_([a-z0-9]{16})\.([A-Za-z0-9_-]{43})$/;

export interface PendingSignup {
  id: string;
  did: string;
  handle: string;
  displayName: string;
  returnTo: string | null;
  expiresAt: number;
}

interface PendingSignupRow {
  id: string;
  secret_hash: Uint8Array;
  did: string;
  handle: string;
  display_name: string;
  return_to: string | null;
  expires_at: number;
}

function sha256(text: string): Uint8Array {
  return new Bun.CryptoHasher("sha256").update(text).digest();
}

export class PendingSignupStore {
  constructor(private readonly db: Database) {}

  /** Records a proved identity waiting for a username; returns the cookie value (shown once). */
  create(fields: Omit<PendingSignup, "id" | "expiresAt">): string {
    const id = randomId(16);
    const secret = randomSecret(32);
    const now = unixNow();
    this.db.query("DELETE FROM pending_signups WHERE expires_at <= ?").run(now);
    this.db
      .query(
        `INSERT INTO pending_signups (id, secret_hash, did, handle, display_name, return_to, expires_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        id,
        sha256(secret),
        fields.did,
        fields.handle,
        fields.displayName,
        fields.returnTo,
        now + PENDING_SIGNUP_LIFETIME_SECONDS,
      );
    return `signup_${id}.${secret}`;
  }

  /** The pending signup the cookie names, or null (malformed, unknown, wrong secret, expired). */
  find(token: string | null): PendingSignup | null {
    if (token === null) return null;
    const match = TOKEN_PATTERN.exec(token);
    if (match === null) return null;
    const [, id = "", secret = ""] = match;
    const row = this.db
      .query<PendingSignupRow, [string, number]>(
        "SELECT * FROM pending_signups WHERE id = ? AND expires_at > ?",
      )
      .get(id, unixNow());
    if (row === null) return null;
    const presented = sha256(secret);
    const stored = new Uint8Array(row.secret_hash);
    if (stored.byteLength !== presented.byteLength || !timingSafeEqual(stored, presented))
      return null;
    return {
      id: row.id,
      did: row.did,
      handle: row.handle,
      displayName: row.display_name,
      returnTo: row.return_to,
      expiresAt: row.expires_at,
    };
  }

  delete(id: string): void {
    this.db.query("DELETE FROM pending_signups WHERE id = ?").run(id);
  }
}
