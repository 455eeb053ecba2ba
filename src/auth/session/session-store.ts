/**
 * SQL for browser sessions and handshake codes (schema.sql migration 2). Rows hold hashes only;
 * the token and code formats and every check on them live in session.ts.
 */
import type { Database } from "bun:sqlite";

export interface SessionRecord {
  id: string;
  userId: number;
  /** The apex session a wiki-host session was minted from; null for an apex session. */
  parentId: string | null;
  /** The wiki a wiki-host session is valid on; null for an apex session. */
  wikiId: number | null;
  secretHash: Uint8Array;
  createdAt: number;
  expiresAt: number;
}

export interface HandoffRecord {
  id: string;
  sessionId: string;
  wikiId: number;
  secretHash: Uint8Array;
  stateHash: Uint8Array;
  expiresAt: number;
}

interface SessionRow {
  id: string;
  user_id: number;
  parent_id: string | null;
  wiki_id: number | null;
  secret_hash: Uint8Array;
  created_at: number;
  expires_at: number;
}

interface HandoffRow {
  id: string;
  session_id: string;
  wiki_id: number;
  secret_hash: Uint8Array;
  state_hash: Uint8Array;
  expires_at: number;
}

function rowToSession(row: SessionRow): SessionRecord {
  return {
    id: row.id,
    userId: row.user_id,
    parentId: row.parent_id,
    wikiId: row.wiki_id,
    secretHash: row.secret_hash,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
  };
}

function rowToHandoff(row: HandoffRow): HandoffRecord {
  return {
    id: row.id,
    sessionId: row.session_id,
    wikiId: row.wiki_id,
    secretHash: row.secret_hash,
    stateHash: row.state_hash,
    expiresAt: row.expires_at,
  };
}

export class SessionStore {
  constructor(private readonly db: Database) {}

  insertSession(record: SessionRecord): void {
    this.db
      .query(
        `INSERT INTO sessions (id, user_id, parent_id, wiki_id, secret_hash, created_at, expires_at)
         VALUES ($id, $user, $parent, $wiki, $hash, $created, $expires)`,
      )
      .run({
        id: record.id,
        user: record.userId,
        parent: record.parentId,
        wiki: record.wikiId,
        hash: record.secretHash,
        created: record.createdAt,
        expires: record.expiresAt,
      });
  }

  findSession(id: string): SessionRecord | null {
    const row = this.db.query<SessionRow, [string]>("SELECT * FROM sessions WHERE id = ?").get(id);
    return row === null ? null : rowToSession(row);
  }

  /** Deletes the session and (by ON DELETE CASCADE) every wiki-host session minted from it. */
  deleteSession(id: string): boolean {
    return this.db.query("DELETE FROM sessions WHERE id = ?").run(id).changes > 0;
  }

  /** Uses sessions_by_user. */
  deleteUserSessions(userId: number): number {
    return this.db.query("DELETE FROM sessions WHERE user_id = ?").run(userId).changes;
  }

  /** Uses sessions_by_expiry and session_handoffs_by_expiry. */
  deleteExpired(now: number): void {
    this.db.query("DELETE FROM session_handoffs WHERE expires_at <= ?").run(now);
    this.db.query("DELETE FROM sessions WHERE expires_at <= ?").run(now);
  }

  insertHandoff(record: HandoffRecord): void {
    this.db
      .query(
        `INSERT INTO session_handoffs (id, session_id, wiki_id, secret_hash, state_hash, expires_at)
         VALUES ($id, $session, $wiki, $secret, $state, $expires)`,
      )
      .run({
        id: record.id,
        session: record.sessionId,
        wiki: record.wikiId,
        secret: record.secretHash,
        state: record.stateHash,
        expires: record.expiresAt,
      });
  }

  findHandoff(id: string): HandoffRecord | null {
    const row = this.db
      .query<HandoffRow, [string]>("SELECT * FROM session_handoffs WHERE id = ?")
      .get(id);
    return row === null ? null : rowToHandoff(row);
  }

  /** True for exactly one caller per code, however many race to redeem it. */
  deleteHandoff(id: string): boolean {
    return this.db.query("DELETE FROM session_handoffs WHERE id = ?").run(id).changes > 0;
  }

  countSessionsOf(userId: number): number {
    return (
      this.db
        .query<{ n: number }, [number]>("SELECT count(*) AS n FROM sessions WHERE user_id = ?")
        .get(userId)?.n ?? 0
    );
  }
}
