/**
 * Clients registered at a wiki's issuer (RFC 7591). A client belongs to exactly one wiki: the
 * same id presented at another wiki's endpoints is unknown there. Client secrets are stored
 * only as SHA-256 (`wbos_…` values, 256-bit). Claude.ai registers afresh on every connection
 * (claude.com connector docs), so clients nobody used for 30 days are swept away; a client
 * that meets a deleted registration gets 401 invalid_client and registers again.
 */
import type { Database } from "bun:sqlite";
import { z } from "zod";
import { hashSecret, mintToken, sameHash } from "../lib/prefixed-token.ts";
import { randomId } from "../lib/random.ts";
import { unixNow } from "../lib/time.ts";

export const CLIENT_ID_PREFIX = "wbc_";
export const CLIENT_SECRET_PREFIX = "wbos_";
/** A client nobody used (no token request, no API call) for this long is deleted. */
export const UNUSED_CLIENT_SECONDS = 30 * 24 * 3600;

export const CLIENT_AUTH_METHODS = ["none", "client_secret_post", "client_secret_basic"] as const;
export type ClientAuthMethod = (typeof CLIENT_AUTH_METHODS)[number];

export interface OAuthClient {
  id: string;
  wikiId: number;
  authMethod: ClientAuthMethod;
  name: string;
  redirectUris: string[];
  createdAt: number;
}

interface Row {
  id: string;
  wiki_id: number;
  secret_hash: Uint8Array | null;
  auth_method: string;
  name: string;
  redirect_uris: string;
  created_at: number;
}

const RedirectUrisColumn = z.array(z.string());
const AuthMethodColumn = z.enum(CLIENT_AUTH_METHODS);

function rowToClient(row: Row): OAuthClient {
  return {
    id: row.id,
    wikiId: row.wiki_id,
    authMethod: AuthMethodColumn.parse(row.auth_method),
    name: row.name,
    redirectUris: RedirectUrisColumn.parse(JSON.parse(row.redirect_uris)),
    createdAt: row.created_at,
  };
}

export interface NewClient {
  wikiId: number;
  authMethod: ClientAuthMethod;
  name: string;
  redirectUris: string[];
}

export class OAuthClientStore {
  constructor(
    private readonly db: Database,
    private readonly now: () => number = unixNow,
  ) {}

  /** Registers a client; `secret` is returned this once (null for public clients). */
  register(client: NewClient): { client: OAuthClient; secret: string | null } {
    const id = `${CLIENT_ID_PREFIX}${randomId(16)}`;
    const secret = client.authMethod === "none" ? null : mintToken(CLIENT_SECRET_PREFIX).plaintext;
    const createdAt = this.now();
    this.db
      .query(
        `INSERT INTO oauth_clients (id, wiki_id, secret_hash, auth_method, name, redirect_uris, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        id,
        client.wikiId,
        secret === null ? null : hashSecret(secret),
        client.authMethod,
        client.name,
        JSON.stringify(client.redirectUris),
        createdAt,
      );
    return { client: { id, ...client, createdAt }, secret };
  }

  /** The client registered under `id` at this wiki, or null (unknown here or elsewhere). */
  find(id: string, wikiId: number): OAuthClient | null {
    const row = this.findRow(id, wikiId);
    return row === null ? null : rowToClient(row);
  }

  /**
   * The client if `secret` is its secret (constant-time on the SHA-256s), or if it is a public
   * client and no secret was presented; null otherwise. The auth method is checked by the caller.
   */
  authenticate(id: string, wikiId: number, secret: string | null): OAuthClient | null {
    const row = this.findRow(id, wikiId);
    if (row === null) return null;
    if (row.secret_hash === null) return secret === null ? rowToClient(row) : null;
    if (secret === null) return null;
    return sameHash(new Uint8Array(row.secret_hash), hashSecret(secret)) ? rowToClient(row) : null;
  }

  touch(id: string): void {
    this.db.query("UPDATE oauth_clients SET last_used_at = ? WHERE id = ?").run(this.now(), id);
  }

  /** Deletes clients unused for 30 days (their grants, codes and tokens go with them). */
  deleteUnused(): number {
    // Uses oauth_clients_by_use (the expression index on coalesce(last_used_at, created_at)).
    return this.db
      .query("DELETE FROM oauth_clients WHERE coalesce(last_used_at, created_at) < ?")
      .run(this.now() - UNUSED_CLIENT_SECONDS).changes;
  }

  private findRow(id: string, wikiId: number): Row | null {
    return this.db
      .query<Row, [string, number]>(
        `SELECT id, wiki_id, secret_hash, auth_method, name, redirect_uris, created_at
         FROM oauth_clients WHERE id = ? AND wiki_id = ?`,
      )
      .get(id, wikiId);
  }
}
