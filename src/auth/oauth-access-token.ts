/**
 * Checking an OAuth access token on every request to a wiki (MCP, REST, git): the read side of
 * the authorization server in src/oauth/, kept here so the bearer gate needs nothing from that
 * protocol folder. One indexed lookup joins the token to its grant and client; the presented
 * secret is hashed and compared in constant time (src/lib/prefixed-token.ts). The caller checks
 * the audience and reads the person's role afresh.
 */
import type { Database } from "bun:sqlite";
import { parseToken, sameHash } from "../lib/prefixed-token.ts";
import { unixNow } from "../lib/time.ts";

export const OAUTH_ACCESS_TOKEN_PREFIX = "wboa_";

export interface OAuthAccessToken {
  grantId: string;
  wikiId: number;
  userId: number;
  clientId: string;
  clientName: string;
  /** A subset of wiki:read, wiki:write. */
  scopes: string[];
  /** The audience: the wiki's MCP URL. */
  resource: string;
  /** Unix seconds. */
  expiresAt: number;
}

export type OAuthAccessVerification =
  | { kind: "malformed" | "unknown" | "expired" | "revoked" }
  | { kind: "valid"; token: OAuthAccessToken };

interface Row {
  secret_hash: Uint8Array;
  state: string;
  expires_at: number;
  grant_id: string;
  wiki_id: number;
  user_id: number;
  client_id: string;
  client_name: string;
  scope: string;
  resource: string;
  revoked_at: number | null;
  last_used_at: number | null;
}

/** A grant's last use is written at most this often: a busy agent must not write per request. */
const LAST_USED_RESOLUTION_SECONDS = 60;

export class OAuthAccessTokenStore {
  constructor(
    private readonly db: Database,
    private readonly now: () => number = unixNow,
  ) {}

  verify(presented: string): OAuthAccessVerification {
    const parsed = parseToken(OAUTH_ACCESS_TOKEN_PREFIX, presented);
    if (parsed === null) return { kind: "malformed" };
    const row = this.db
      .query<Row, [string]>(
        `SELECT t.secret_hash, t.state, t.expires_at, g.id AS grant_id, g.wiki_id, g.user_id,
                g.client_id, c.name AS client_name, g.scope, g.resource, g.revoked_at,
                g.last_used_at
         FROM oauth_tokens t
         JOIN oauth_grants g ON g.id = t.grant_id
         JOIN oauth_clients c ON c.id = g.client_id
         WHERE t.id = ? AND t.kind = 'access'`,
      )
      .get(parsed.id);
    if (row === null || !sameHash(new Uint8Array(row.secret_hash), parsed.secretHash))
      return { kind: "unknown" };
    if (row.revoked_at !== null || row.state === "retired") return { kind: "revoked" };
    const now = this.now();
    if (row.expires_at <= now) return { kind: "expired" };
    if (row.last_used_at === null || now - row.last_used_at >= LAST_USED_RESOLUTION_SECONDS) {
      this.db.query("UPDATE oauth_grants SET last_used_at = ? WHERE id = ?").run(now, row.grant_id);
      this.db
        .query("UPDATE oauth_clients SET last_used_at = ? WHERE id = ?")
        .run(now, row.client_id);
    }
    return {
      kind: "valid",
      token: {
        grantId: row.grant_id,
        wikiId: row.wiki_id,
        userId: row.user_id,
        clientId: row.client_id,
        clientName: row.client_name,
        scopes: row.scope.split(" ").filter((scope) => scope !== ""),
        resource: row.resource,
        expiresAt: row.expires_at,
      },
    };
  }
}
