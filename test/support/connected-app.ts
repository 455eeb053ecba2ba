/**
 * A connected app made straight in the database, as the authorization server (src/oauth/) leaves
 * one after a person clicks Allow: a registered client, a grant, and an access token whose
 * plaintext the test keeps, so it can watch revocation end it.
 */
import { OAuthAccessTokenStore } from "../../src/auth/oauth-access-token.ts";
import { mintToken } from "../../src/lib/prefixed-token.ts";
import { randomId } from "../../src/lib/random.ts";
import type { TestServer } from "./server.ts";

export interface TestConnection {
  grantId: string;
  clientId: string;
  /** `wboa_…`, valid for 8 hours. */
  accessToken: string;
}

export function connectApp(
  t: TestServer,
  options: {
    slug: string;
    username: string;
    clientName?: string;
    redirectUri?: string;
    scopes?: string[];
    /** Unix seconds; default now. */
    createdAt?: number;
    lastUsedAt?: number | null;
  },
): TestConnection {
  const db = t.server.db;
  const wiki = db
    .query<{ id: number }, [string]>("SELECT id FROM wikis WHERE slug = ?")
    .get(options.slug);
  const user = db
    .query<{ id: number }, [string]>("SELECT id FROM users WHERE username = ?")
    .get(options.username);
  if (wiki === null || user === null)
    throw new Error(`no wiki ${options.slug} or no user ${options.username}`);
  const now = Math.floor(Date.now() / 1000);
  const createdAt = options.createdAt ?? now;
  const clientId = `wbc_${randomId(16)}`;
  const grantId = randomId(16);
  const access = mintToken("wboa_");
  db.transaction(() => {
    db.query(
      `INSERT INTO oauth_clients (id, wiki_id, secret_hash, auth_method, name, redirect_uris,
         created_at, last_used_at) VALUES (?, ?, NULL, 'none', ?, ?, ?, NULL)`,
    ).run(
      clientId,
      wiki.id,
      options.clientName ?? "Claude",
      JSON.stringify([options.redirectUri ?? "https://claude.ai/api/mcp/auth_callback"]),
      createdAt,
    );
    db.query(
      `INSERT INTO oauth_grants (id, wiki_id, user_id, client_id, scope, resource, created_at,
         last_used_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)`,
    ).run(
      grantId,
      wiki.id,
      user.id,
      clientId,
      (options.scopes ?? ["wiki:read", "wiki:write"]).join(" "),
      `${t.wikiOrigin(options.slug)}/mcp`,
      createdAt,
      options.lastUsedAt ?? null,
    );
    db.query(
      `INSERT INTO oauth_tokens (id, secret_hash, grant_id, kind, state, expires_at, created_at)
       VALUES (?, ?, ?, 'access', 'active', ?, ?)`,
    ).run(access.id, access.secretHash, grantId, now + 8 * 3600, now);
  })();
  return { grantId, clientId, accessToken: access.plaintext };
}

/** What the bearer gate would make of the token: "valid" until the grant is revoked. */
export function accessTokenState(t: TestServer, token: string): string {
  return new OAuthAccessTokenStore(t.server.db).verify(token).kind;
}

/** How many tokens hang off the grant, and whether it is marked revoked. */
export function grantState(t: TestServer, grantId: string): { tokens: number; revoked: boolean } {
  const db = t.server.db;
  const tokens =
    db
      .query<{ n: number }, [string]>("SELECT count(*) AS n FROM oauth_tokens WHERE grant_id = ?")
      .get(grantId)?.n ?? -1;
  const grant = db
    .query<{ revoked_at: number | null }, [string]>(
      "SELECT revoked_at FROM oauth_grants WHERE id = ?",
    )
    .get(grantId);
  if (grant === null) throw new Error(`no grant ${grantId}`);
  return { tokens, revoked: grant.revoked_at !== null };
}
