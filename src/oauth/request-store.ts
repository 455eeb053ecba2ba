/**
 * Validated authorization requests waiting for the person (sign-in, then consent), each behind a
 * `wboq_` handle that the consent form carries. Kept server-side so the sign-in round trip only
 * carries the handle, and so the decision acts on what we checked, never on a resubmitted query.
 * A handle is spent by the decision (single use) and lasts 10 minutes.
 */
import type { Database } from "bun:sqlite";
import { z } from "zod";
import { mintToken, parseToken, sameHash } from "../lib/prefixed-token.ts";
import { unixNow } from "../lib/time.ts";

export const REQUEST_HANDLE_PREFIX = "wboq_";
export const REQUEST_LIFETIME_SECONDS = 10 * 60;

export interface AuthorizationRequest {
  /** The row id: public, what the CSRF token binds to. */
  id: string;
  wikiId: number;
  clientId: string;
  redirectUri: string;
  state: string | null;
  codeChallenge: string;
  scopes: string[];
  resource: string;
}

const Params = z.object({
  redirect_uri: z.string(),
  state: z.string().nullable(),
  code_challenge: z.string(),
  scopes: z.array(z.string()),
  resource: z.string(),
});

interface Row {
  id: string;
  secret_hash: Uint8Array;
  wiki_id: number;
  client_id: string;
  params: string;
  expires_at: number;
}

export class OAuthRequestStore {
  constructor(
    private readonly db: Database,
    private readonly now: () => number = unixNow,
  ) {}

  /** Stores a validated request; its handle is shown to the browser and stored hashed. */
  save(request: Omit<AuthorizationRequest, "id">): {
    handle: string;
    request: AuthorizationRequest;
  } {
    // Anyone holding a client id can start requests: expired ones go before each new one is kept.
    this.deleteExpired();
    const minted = mintToken(REQUEST_HANDLE_PREFIX);
    const params: z.infer<typeof Params> = {
      redirect_uri: request.redirectUri,
      state: request.state,
      code_challenge: request.codeChallenge,
      scopes: request.scopes,
      resource: request.resource,
    };
    this.db
      .query(
        `INSERT INTO oauth_requests (id, secret_hash, wiki_id, client_id, params, expires_at)
         VALUES (?, ?, ?, ?, ?, ?)`,
      )
      .run(
        minted.id,
        minted.secretHash,
        request.wikiId,
        request.clientId,
        JSON.stringify(params),
        this.now() + REQUEST_LIFETIME_SECONDS,
      );
    return { handle: minted.plaintext, request: { id: minted.id, ...request } };
  }

  /** The live request a handle names at this wiki, or null; it stays usable. */
  find(handle: string, wikiId: number): AuthorizationRequest | null {
    const row = this.findRow(handle, wikiId);
    return row === null ? null : rowToRequest(row);
  }

  /** Like find, and spends the handle: a second decision on the same request finds nothing. */
  take(handle: string, wikiId: number): AuthorizationRequest | null {
    const row = this.findRow(handle, wikiId);
    if (row === null) return null;
    const deleted = this.db.query("DELETE FROM oauth_requests WHERE id = ?").run(row.id).changes;
    return deleted === 1 ? rowToRequest(row) : null;
  }

  deleteExpired(): number {
    return this.db.query("DELETE FROM oauth_requests WHERE expires_at <= ?").run(this.now())
      .changes;
  }

  private findRow(handle: string, wikiId: number): Row | null {
    const parsed = parseToken(REQUEST_HANDLE_PREFIX, handle);
    if (parsed === null) return null;
    const row = this.db
      .query<Row, [string]>(
        "SELECT id, secret_hash, wiki_id, client_id, params, expires_at FROM oauth_requests WHERE id = ?",
      )
      .get(parsed.id);
    if (row === null || !sameHash(new Uint8Array(row.secret_hash), parsed.secretHash)) return null;
    if (row.wiki_id !== wikiId || row.expires_at <= this.now()) return null;
    return row;
  }
}

function rowToRequest(row: Row): AuthorizationRequest {
  const params = Params.parse(JSON.parse(row.params));
  return {
    id: row.id,
    wikiId: row.wiki_id,
    clientId: row.client_id,
    redirectUri: params.redirect_uri,
    state: params.state,
    codeChallenge: params.code_challenge,
    scopes: params.scopes,
    resource: params.resource,
  };
}
