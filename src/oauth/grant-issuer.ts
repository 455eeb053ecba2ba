/**
 * The write side of grants: a person's consent becomes a grant plus a code, a code becomes
 * tokens, a refresh token becomes the next pair, and misuse revokes the grant. One audited flow,
 * so it stays in one file. Every step runs in one SQLite transaction and reports refusals as
 * values, not throws, because a refusal may itself have to commit (a replayed code or refresh
 * token revokes the grant — RFC 6749 §10.5, OAuth 2.1 §4.3.1 — and a spent code stays spent).
 * Reading tokens on each request is src/auth/oauth-access-token.ts; revoking a grant is
 * OAuthGrantStore.revoke (src/auth/oauth-grant-store.ts), passed in.
 *
 * Refresh rotation: every use returns a new pair. The token presented becomes 'previous' and
 * the one before it 'retired'. A 'previous' token may be presented once more within 60 s of
 * its successor being issued — the client lost our response and retries — and that retry
 * retires both and issues a fresh pair. Any other reuse (a retired token, or a previous one
 * outside the grace) means two parties hold the chain, so the whole grant is revoked.
 */
import type { Database } from "bun:sqlite";
import { OAUTH_ACCESS_TOKEN_PREFIX } from "../auth/oauth-access-token.ts";
import { mintToken, parseToken, sameHash } from "../lib/prefixed-token.ts";
import { randomId } from "../lib/random.ts";
import { unixNow } from "../lib/time.ts";
import type { Role } from "../wikis/wiki-store.ts";
import { OAuthError } from "./oauth-error.ts";
import { verifierMatches } from "./pkce.ts";
import { narrowedScopes } from "./scopes.ts";

export const REFRESH_TOKEN_PREFIX = "wbor_";
export const CODE_PREFIX = "wboc_";
/** Hours, not minutes: Claude's refresh is unreliable (notes/mcp-and-oauth.md §3); revocation is still immediate. */
export const ACCESS_TOKEN_SECONDS = 8 * 3600;
/** Sliding: each rotation starts a new 30 days. */
export const REFRESH_TOKEN_SECONDS = 30 * 24 * 3600;
export const CODE_SECONDS = 5 * 60;
/** How long after a rotation its predecessor may be retried once (a lost response). */
export const REFRESH_GRACE_SECONDS = 60;

export interface IssuedTokens {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
  scopes: string[];
}

export type TokenOutcome =
  | { kind: "issued"; tokens: IssuedTokens }
  | { kind: "refused"; error: OAuthError };

export interface GrantIssuerDeps {
  /** Revokes a grant and everything from it (OAuthGrantStore.revoke); nests in our transactions. */
  revokeGrant(grantId: string): boolean;
  roleOf(wikiId: number, userId: number): Role | null;
}

export interface Approval {
  wikiId: number;
  userId: number;
  clientId: string;
  scopes: string[];
  resource: string;
  redirectUri: string;
  codeChallenge: string;
}

interface GrantColumns {
  grant_id: string;
  wiki_id: number;
  user_id: number;
  client_id: string;
  scope: string;
  resource: string;
  revoked_at: number | null;
}

interface CodeRow extends GrantColumns {
  secret_hash: Uint8Array;
  redirect_uri: string;
  code_challenge: string;
  expires_at: number;
  used_at: number | null;
}

interface TokenRow extends GrantColumns {
  id: string;
  secret_hash: Uint8Array;
  state: string;
  expires_at: number;
}

const GRANT_COLUMNS =
  "g.id AS grant_id, g.wiki_id, g.user_id, g.client_id, g.scope, g.resource, g.revoked_at";

function refused(
  description: string,
  code: "invalid_grant" | "invalid_target" | "invalid_scope" = "invalid_grant",
): TokenOutcome {
  return { kind: "refused", error: new OAuthError(code, description) };
}

/** RFC 8707 resources compare as URIs; one trailing slash is not a different audience. */
function sameResource(presented: string, granted: string): boolean {
  return presented.replace(/\/$/, "") === granted;
}

function scopesOf(scope: string): string[] {
  return scope.split(" ").filter((word) => word !== "");
}

export class OAuthGrantIssuer {
  constructor(
    private readonly db: Database,
    private readonly deps: GrantIssuerDeps,
    private readonly now: () => number = unixNow,
  ) {}

  /**
   * The person said Allow: a new grant (replacing any live one for the same wiki, person and
   * client, so re-connecting never leaves two) and its code, bound to the redirect URI and
   * the PKCE challenge. Returns the code.
   */
  approve(approval: Approval): string {
    return this.db
      .transaction((): string => {
        const earlier = this.db
          .query<{ id: string }, [number, number, string]>(
            `SELECT id FROM oauth_grants
             WHERE wiki_id = ? AND user_id = ? AND client_id = ? AND revoked_at IS NULL`,
          )
          .all(approval.wikiId, approval.userId, approval.clientId);
        for (const grant of earlier) this.deps.revokeGrant(grant.id);
        const now = this.now();
        const grantId = randomId(16);
        this.db
          .query(
            `INSERT INTO oauth_grants (id, wiki_id, user_id, client_id, scope, resource, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?)`,
          )
          .run(
            grantId,
            approval.wikiId,
            approval.userId,
            approval.clientId,
            approval.scopes.join(" "),
            approval.resource,
            now,
          );
        const code = mintToken(CODE_PREFIX);
        this.db
          .query(
            `INSERT INTO oauth_codes (id, secret_hash, grant_id, redirect_uri, code_challenge, expires_at)
             VALUES (?, ?, ?, ?, ?, ?)`,
          )
          .run(
            code.id,
            code.secretHash,
            grantId,
            approval.redirectUri,
            approval.codeChallenge,
            now + CODE_SECONDS,
          );
        return code.plaintext;
      })
      .immediate();
  }

  /** grant_type=authorization_code (RFC 6749 §4.1.3, RFC 7636 §4.6, RFC 8707 §2.2). */
  exchangeCode(input: {
    wikiId: number;
    clientId: string;
    code: string;
    redirectUri: string | null;
    codeVerifier: string;
    resource: string | null;
  }): TokenOutcome {
    const parsed = parseToken(CODE_PREFIX, input.code);
    if (parsed === null) return refused("the code is malformed");
    return this.db
      .transaction((): TokenOutcome => {
        const row = this.db
          .query<CodeRow, [string]>(
            `SELECT c.secret_hash, c.redirect_uri, c.code_challenge, c.expires_at, c.used_at, ${GRANT_COLUMNS}
             FROM oauth_codes c JOIN oauth_grants g ON g.id = c.grant_id WHERE c.id = ?`,
          )
          .get(parsed.id);
        if (row === null || !sameHash(new Uint8Array(row.secret_hash), parsed.secretHash))
          return refused("the code is unknown");
        if (row.wiki_id !== input.wikiId || row.client_id !== input.clientId)
          return refused("the code was issued to another client");
        if (row.revoked_at !== null) return refused("the code's grant has been revoked");
        if (row.used_at !== null) {
          // RFC 6749 §10.5: a code used twice was stolen; revoke what the first use got.
          this.deps.revokeGrant(row.grant_id);
          return refused("the code was already used; every token issued from it is revoked");
        }
        const now = this.now();
        // Spent before the remaining checks, so a wrong verifier cannot be retried.
        this.db.query("UPDATE oauth_codes SET used_at = ? WHERE id = ?").run(now, parsed.id);
        if (row.expires_at <= now) return refused("the code has expired");
        // RFC 6749 §4.1.3: required when the authorization request carried one (our clients all
        // send it); when sent it must be identical.
        if (input.redirectUri !== null && input.redirectUri !== row.redirect_uri)
          return refused("redirect_uri differs from the authorization request's");
        if (!verifierMatches(input.codeVerifier, row.code_challenge))
          return refused("code_verifier does not match the code_challenge");
        if (input.resource !== null && !sameResource(input.resource, row.resource))
          return refused("the resource is not this wiki's MCP endpoint", "invalid_target");
        if (this.deps.roleOf(row.wiki_id, row.user_id) === null) {
          this.deps.revokeGrant(row.grant_id);
          return refused("the person who approved this no longer has a role on the wiki");
        }
        return { kind: "issued", tokens: this.issuePair(row.grant_id, scopesOf(row.scope)) };
      })
      .immediate();
  }

  /** grant_type=refresh_token with rotation and reuse detection (OAuth 2.1 §4.3.1). */
  refresh(input: {
    wikiId: number;
    clientId: string;
    refreshToken: string;
    scope: string | null;
    resource: string | null;
  }): TokenOutcome {
    const parsed = parseToken(REFRESH_TOKEN_PREFIX, input.refreshToken);
    if (parsed === null) return refused("the refresh token is malformed");
    return this.db
      .transaction((): TokenOutcome => {
        const row = this.db
          .query<TokenRow, [string]>(
            `SELECT t.id, t.secret_hash, t.state, t.expires_at, ${GRANT_COLUMNS}
             FROM oauth_tokens t JOIN oauth_grants g ON g.id = t.grant_id
             WHERE t.id = ? AND t.kind = 'refresh'`,
          )
          .get(parsed.id);
        if (row === null || !sameHash(new Uint8Array(row.secret_hash), parsed.secretHash))
          return refused("the refresh token is unknown");
        if (row.wiki_id !== input.wikiId || row.client_id !== input.clientId)
          return refused("the refresh token was issued to another client");
        if (row.revoked_at !== null) return refused("the grant has been revoked");
        const now = this.now();
        if (row.expires_at <= now) return refused("the refresh token has expired");
        const reuse = this.reuseOf(row, now);
        if (reuse === "detected") {
          this.deps.revokeGrant(row.grant_id);
          return refused("the refresh token was already used; the grant is revoked");
        }
        if (input.resource !== null && !sameResource(input.resource, row.resource))
          return refused("the resource is not this wiki's MCP endpoint", "invalid_target");
        const scopes = narrowedScopes(input.scope, scopesOf(row.scope));
        if (scopes === null)
          return refused("a refresh cannot add scopes the grant does not hold", "invalid_scope");
        if (this.deps.roleOf(row.wiki_id, row.user_id) === null) {
          this.deps.revokeGrant(row.grant_id);
          return refused("the person who approved this no longer has a role on the wiki");
        }
        if (reuse === "grace") {
          this.db
            .query(
              "UPDATE oauth_tokens SET state = 'retired' WHERE grant_id = ? AND kind = 'refresh' AND state != 'retired'",
            )
            .run(row.grant_id);
        } else {
          this.db
            .query(
              "UPDATE oauth_tokens SET state = 'retired' WHERE grant_id = ? AND kind = 'refresh' AND state = 'previous'",
            )
            .run(row.grant_id);
          this.db.query("UPDATE oauth_tokens SET state = 'previous' WHERE id = ?").run(row.id);
        }
        // NOTE: scope lives on the grant, so downscoping narrows the grant for good — stricter
        // than RFC 6749 §6 requires (a later refresh cannot widen back), never looser.
        if (scopes.length !== scopesOf(row.scope).length)
          this.db
            .query("UPDATE oauth_grants SET scope = ? WHERE id = ?")
            .run(scopes.join(" "), row.grant_id);
        return { kind: "issued", tokens: this.issuePair(row.grant_id, scopes) };
      })
      .immediate();
  }

  /**
   * RFC 7009: revoking a refresh token ends its grant; an access token only itself. Tokens that
   * are unknown, malformed or another client's are ignored (the endpoint answers 200 anyway).
   */
  revokeToken(input: { wikiId: number; clientId: string; token: string }): void {
    const refresh = parseToken(REFRESH_TOKEN_PREFIX, input.token);
    const access = parseToken(OAUTH_ACCESS_TOKEN_PREFIX, input.token);
    const parsed = refresh ?? access;
    if (parsed === null) return;
    this.db
      .transaction(() => {
        const row = this.db
          .query<TokenRow, [string, string]>(
            `SELECT t.id, t.secret_hash, t.state, t.expires_at, ${GRANT_COLUMNS}
             FROM oauth_tokens t JOIN oauth_grants g ON g.id = t.grant_id
             WHERE t.id = ? AND t.kind = ?`,
          )
          .get(parsed.id, refresh !== null ? "refresh" : "access");
        if (row === null || !sameHash(new Uint8Array(row.secret_hash), parsed.secretHash)) return;
        if (row.wiki_id !== input.wikiId || row.client_id !== input.clientId) return;
        if (refresh !== null) this.deps.revokeGrant(row.grant_id);
        else this.db.query("UPDATE oauth_tokens SET state = 'retired' WHERE id = ?").run(row.id);
      })
      .immediate();
  }

  /** Removes expired codes and tokens and the grants left with nothing (or revoked). */
  deleteExpired(): number {
    const now = this.now();
    return this.db
      .transaction((): number => {
        let removed = this.db
          .query("DELETE FROM oauth_codes WHERE expires_at <= ?")
          .run(now).changes;
        removed += this.db.query("DELETE FROM oauth_tokens WHERE expires_at <= ?").run(now).changes;
        removed += this.db
          .query(
            `DELETE FROM oauth_grants WHERE revoked_at IS NOT NULL OR (created_at <= ?
               AND NOT EXISTS (SELECT 1 FROM oauth_tokens t WHERE t.grant_id = oauth_grants.id)
               AND NOT EXISTS (SELECT 1 FROM oauth_codes c WHERE c.grant_id = oauth_grants.id))`,
          )
          .run(now - CODE_SECONDS).changes;
        return removed;
      })
      .immediate();
  }

  /** 'fresh' for the active token; 'grace' for the one retry allowed; 'detected' for reuse. */
  private reuseOf(row: TokenRow, now: number): "fresh" | "grace" | "detected" {
    if (row.state === "active") return "fresh";
    if (row.state !== "previous") return "detected";
    // The successor's issue time is when this token became 'previous'.
    const successor = this.db
      .query<{ created_at: number }, [string]>(
        "SELECT created_at FROM oauth_tokens WHERE grant_id = ? AND kind = 'refresh' AND state = 'active'",
      )
      .get(row.grant_id);
    return successor !== null && now - successor.created_at <= REFRESH_GRACE_SECONDS
      ? "grace"
      : "detected";
  }

  private issuePair(grantId: string, scopes: string[]): IssuedTokens {
    const now = this.now();
    const access = mintToken(OAUTH_ACCESS_TOKEN_PREFIX);
    const refresh = mintToken(REFRESH_TOKEN_PREFIX);
    const insert = this.db.query(
      `INSERT INTO oauth_tokens (id, secret_hash, grant_id, kind, state, expires_at, created_at)
       VALUES (?, ?, ?, ?, 'active', ?, ?)`,
    );
    insert.run(access.id, access.secretHash, grantId, "access", now + ACCESS_TOKEN_SECONDS, now);
    insert.run(
      refresh.id,
      refresh.secretHash,
      grantId,
      "refresh",
      now + REFRESH_TOKEN_SECONDS,
      now,
    );
    return {
      accessToken: access.plaintext,
      refreshToken: refresh.plaintext,
      expiresIn: ACCESS_TOKEN_SECONDS,
      scopes,
    };
  }
}
