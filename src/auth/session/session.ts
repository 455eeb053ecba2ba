/**
 * Browser sessions (DESIGN §5). Signing in makes an apex session; each wiki host gets its own
 * session minted from it through a one-time handshake code, so no wiki host ever holds a
 * credential that works on the apex or on another wiki. Tokens are `sess_<id>.<secret>` and
 * codes `handoff_<id>.<secret>` with 256-bit secrets; only SHA-256 of a secret is stored and
 * checks compare in constant time (lucia's auth_session design, house style rule 5).
 * NOTE: the DESIGN table says "signed JWT"; an opaque hashed token is used instead because it
 * is revocable at once (sign-out, removed user) and needs no key rotation story.
 */
import { hashSecret, mintToken, parseToken, sameHash } from "../../lib/prefixed-token.ts";
import { unixNow } from "../../lib/time.ts";
import type { SessionRecord, SessionStore } from "./session-store.ts";

export const SESSION_TOKEN_PREFIX = "sess_";
export const HANDOFF_CODE_PREFIX = "handoff_";

const DAY_SECONDS = 24 * 3600;
/** How long a sign-in lasts; wiki-host sessions end with the apex session they came from. */
export const SESSION_LIFETIME_SECONDS = 30 * DAY_SECONDS;
/** A handshake code only has to survive two redirects. */
export const HANDOFF_LIFETIME_SECONDS = 60;

/** The handshake state is ours (randomSecret(16) = 22 characters); anything else is refused. */
export const HANDOFF_STATE_PATTERN = /^[A-Za-z0-9_-]{22}$/;

export interface Session {
  id: string;
  userId: number;
  parentId: string | null;
  wikiId: number | null;
  createdAt: number;
  expiresAt: number;
}

/** Where a session token is presented: the apex, or one wiki's host. */
export type SessionScope = { kind: "apex" } | { kind: "wiki"; wikiId: number };

export interface IssuedSession {
  session: Session;
  /** The cookie value; shown once, never stored. */
  token: string;
}

function toSession(record: SessionRecord): Session {
  return {
    id: record.id,
    userId: record.userId,
    parentId: record.parentId,
    wikiId: record.wikiId,
    createdAt: record.createdAt,
    expiresAt: record.expiresAt,
  };
}

export class SessionService {
  constructor(
    private readonly store: SessionStore,
    private readonly now: () => number = unixNow,
  ) {}

  /** Starts an apex session for a user who has just proved who they are (the login callback). */
  createSession(userId: number): IssuedSession {
    const now = this.now();
    this.store.deleteExpired(now);
    return this.insert({
      userId,
      parentId: null,
      wikiId: null,
      createdAt: now,
      expiresAt: now + SESSION_LIFETIME_SECONDS,
    });
  }

  /** The session a token names, if it is valid where it was presented; otherwise null. */
  validateSessionToken(token: string, scope: SessionScope): Session | null {
    const parsed = parseToken(SESSION_TOKEN_PREFIX, token);
    if (parsed === null) return null;
    const record = this.store.findSession(parsed.id);
    if (record === null || !sameHash(parsed.secretHash, record.secretHash)) return null;
    if (record.expiresAt <= this.now()) {
      this.store.deleteSession(record.id);
      return null;
    }
    const expectedWiki = scope.kind === "apex" ? null : scope.wikiId;
    if (record.wikiId !== expectedWiki) return null;
    return toSession(record);
  }

  /** Ends one session; ending an apex session ends every wiki-host session minted from it. */
  invalidateSession(sessionId: string): void {
    this.store.deleteSession(sessionId);
  }

  invalidateUserSessions(userId: number): void {
    this.store.deleteUserSessions(userId);
  }

  /**
   * A one-time code that lets the browser holding `state` (a cookie on the wiki host) get a
   * session for `wikiId`, minted from the apex session `parent`.
   */
  createHandoffCode(parent: Session, wikiId: number, state: string): string {
    if (parent.wikiId !== null) throw new Error("handoff codes are minted from apex sessions");
    const now = this.now();
    this.store.deleteExpired(now);
    const minted = mintToken(HANDOFF_CODE_PREFIX);
    this.store.insertHandoff({
      id: minted.id,
      sessionId: parent.id,
      wikiId,
      secretHash: minted.secretHash,
      stateHash: hashSecret(state),
      expiresAt: Math.min(now + HANDOFF_LIFETIME_SECONDS, parent.expiresAt),
    });
    return minted.plaintext;
  }

  /**
   * Redeems a handshake code on the wiki host it was made for. Null when the code is malformed,
   * unknown, used, expired, for another wiki, presented without the browser's state, or when
   * the apex session behind it has ended. A code is spent by the first well-formed attempt.
   */
  redeemHandoffCode(code: string, wikiId: number, state: string | null): IssuedSession | null {
    const parsed = parseToken(HANDOFF_CODE_PREFIX, code);
    if (parsed === null) return null;
    const record = this.store.findHandoff(parsed.id);
    if (record === null || !sameHash(parsed.secretHash, record.secretHash)) return null;
    if (!this.store.deleteHandoff(record.id)) return null;
    const now = this.now();
    if (record.expiresAt <= now || record.wikiId !== wikiId) return null;
    if (state === null || !sameHash(hashSecret(state), record.stateHash)) return null;
    const parent = this.store.findSession(record.sessionId);
    if (parent === null || parent.wikiId !== null || parent.expiresAt <= now) return null;
    return this.insert({
      userId: parent.userId,
      parentId: parent.id,
      wikiId,
      createdAt: now,
      expiresAt: parent.expiresAt,
    });
  }

  private insert(fields: Omit<Session, "id">): IssuedSession {
    const minted = mintToken(SESSION_TOKEN_PREFIX);
    this.store.insertSession({ id: minted.id, ...fields, secretHash: minted.secretHash });
    return { session: { id: minted.id, ...fields }, token: minted.plaintext };
  }
}
