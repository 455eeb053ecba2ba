/**
 * Wiki tokens for Claude Code, git and scripts: `wbt_<id>.<secret>`, 256 random bits of secret.
 * Only SHA-256(secret) is stored. A random secret of that size needs no slow hash (there is
 * nothing to brute-force), so verifying costs one indexed lookup and one SHA-256 — microseconds.
 */
import type { Database } from "bun:sqlite";
import { mintToken, parseToken, sameHash } from "../lib/prefixed-token.ts";
import { unixNow } from "../lib/time.ts";

export const WIKI_TOKEN_PREFIX = "wbt_";

export type TokenScope = "read" | "write";

export interface WikiToken {
  id: string;
  wikiId: number;
  userId: number;
  scope: TokenScope;
  label: string;
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

interface TokenRow {
  id: string;
  wiki_id: number;
  user_id: number;
  scope: string;
  label: string;
  secret_hash: Uint8Array;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}

function rowToToken(row: TokenRow): WikiToken {
  return {
    id: row.id,
    wikiId: row.wiki_id,
    userId: row.user_id,
    scope: row.scope === "write" ? "write" : "read",
    label: row.label,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
    revokedAt: row.revoked_at,
  };
}

export type TokenVerification =
  | { kind: "valid"; token: WikiToken }
  | { kind: "malformed" }
  | { kind: "unknown" }
  | { kind: "revoked" };

/** `last_used_at` is written at most once a minute per token to keep reads read-only. */
const LAST_USED_RESOLUTION_SECONDS = 60;

export class WikiTokenStore {
  constructor(private readonly db: Database) {}

  /** Creates a token and returns it in full; the secret is never retrievable again. */
  create(options: { wikiId: number; userId: number; scope: TokenScope; label: string }): {
    token: WikiToken;
    plaintext: string;
  } {
    const minted = mintToken(WIKI_TOKEN_PREFIX);
    const row = this.db
      .query<
        TokenRow,
        {
          id: string;
          wiki: number;
          user: number;
          scope: string;
          label: string;
          hash: Uint8Array;
          now: number;
        }
      >(
        `INSERT INTO wiki_tokens (id, wiki_id, user_id, scope, label, secret_hash, created_at)
         VALUES ($id, $wiki, $user, $scope, $label, $hash, $now) RETURNING *`,
      )
      .get({
        id: minted.id,
        wiki: options.wikiId,
        user: options.userId,
        scope: options.scope,
        label: options.label,
        hash: minted.secretHash,
        now: unixNow(),
      });
    if (row === null) throw new Error("INSERT … RETURNING gave no row");
    return { token: rowToToken(row), plaintext: minted.plaintext };
  }

  verify(plaintext: string): TokenVerification {
    const parsed = parseToken(WIKI_TOKEN_PREFIX, plaintext);
    if (parsed === null) return { kind: "malformed" };
    const { id } = parsed;
    const row = this.db.query<TokenRow, [string]>("SELECT * FROM wiki_tokens WHERE id = ?").get(id);
    if (row === null || !sameHash(parsed.secretHash, row.secret_hash)) return { kind: "unknown" };
    if (row.revoked_at !== null) return { kind: "revoked" };
    const now = unixNow();
    if (row.last_used_at === null || now - row.last_used_at >= LAST_USED_RESOLUTION_SECONDS) {
      this.db.query("UPDATE wiki_tokens SET last_used_at = ? WHERE id = ?").run(now, id);
    }
    return { kind: "valid", token: rowToToken(row) };
  }

  revoke(id: string): boolean {
    return (
      this.db
        .query("UPDATE wiki_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")
        .run(unixNow(), id).changes > 0
    );
  }

  findById(id: string): WikiToken | null {
    const row = this.db.query<TokenRow, [string]>("SELECT * FROM wiki_tokens WHERE id = ?").get(id);
    return row === null ? null : rowToToken(row);
  }

  listForWiki(wikiId: number): WikiToken[] {
    return this.db
      .query<TokenRow, [number]>("SELECT * FROM wiki_tokens WHERE wiki_id = ? ORDER BY created_at")
      .all(wikiId)
      .map(rowToToken);
  }
}
