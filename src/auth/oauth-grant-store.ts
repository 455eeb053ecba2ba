/**
 * Connected apps: the OAuth grants people gave clients on a wiki, as the app lists them and
 * revokes them (the authorization server in src/oauth/ makes them). Revoking a grant ends every
 * code and token made from it in one transaction, so the client's very next request fails.
 */
import type { Database } from "bun:sqlite";
import { unixNow } from "../lib/time.ts";

export interface ConnectedApp {
  grantId: string;
  wikiId: number;
  userId: number;
  clientId: string;
  clientName: string;
  /** Where the client's redirects go (e.g. claude.ai, localhost): what a person recognises. */
  redirectHost: string;
  scopes: string[];
  createdAt: number;
  lastUsedAt: number | null;
}

interface Row {
  id: string;
  wiki_id: number;
  user_id: number;
  client_id: string;
  client_name: string;
  redirect_uris: string;
  scope: string;
  created_at: number;
  last_used_at: number | null;
}

const SELECT = `SELECT g.id, g.wiki_id, g.user_id, g.client_id, c.name AS client_name,
  c.redirect_uris, g.scope, g.created_at, g.last_used_at
  FROM oauth_grants g JOIN oauth_clients c ON c.id = g.client_id`;

/** The host of the first registered redirect URI; the column is JSON we wrote ourselves. */
export function redirectHostOf(redirectUrisJson: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(redirectUrisJson);
  } catch {
    return "";
  }
  const first: unknown = Array.isArray(parsed) ? parsed[0] : undefined;
  return typeof first === "string" ? (URL.parse(first)?.hostname ?? "") : "";
}

function toConnectedApp(row: Row): ConnectedApp {
  return {
    grantId: row.id,
    wikiId: row.wiki_id,
    userId: row.user_id,
    clientId: row.client_id,
    clientName: row.client_name,
    redirectHost: redirectHostOf(row.redirect_uris),
    scopes: row.scope.split(" ").filter((scope) => scope !== ""),
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
  };
}

export class OAuthGrantStore {
  constructor(
    private readonly db: Database,
    private readonly now: () => number = unixNow,
  ) {}

  /** The live grants on a wiki, newest first. */
  listForWiki(wikiId: number): ConnectedApp[] {
    return this.db
      .query<Row, [number]>(
        `${SELECT} WHERE g.wiki_id = ? AND g.revoked_at IS NULL ORDER BY g.created_at DESC, g.id`,
      )
      .all(wikiId)
      .map(toConnectedApp);
  }

  /** A person's live grants on every wiki, newest first. */
  listForUser(userId: number): ConnectedApp[] {
    return this.db
      .query<Row, [number]>(
        `${SELECT} WHERE g.user_id = ? AND g.revoked_at IS NULL ORDER BY g.created_at DESC, g.id`,
      )
      .all(userId)
      .map(toConnectedApp);
  }

  /** A live grant, or null (unknown or revoked). */
  find(grantId: string): ConnectedApp | null {
    const row = this.db
      .query<Row, [string]>(`${SELECT} WHERE g.id = ? AND g.revoked_at IS NULL`)
      .get(grantId);
    return row === null ? null : toConnectedApp(row);
  }

  /**
   * Ends a grant and everything made from it: its codes and tokens are deleted and the grant
   * marked revoked, in one transaction. False when it was unknown or already revoked.
   */
  revoke(grantId: string): boolean {
    return this.db
      .transaction((): boolean => {
        const changed = this.db
          .query("UPDATE oauth_grants SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")
          .run(this.now(), grantId).changes;
        if (changed === 0) return false;
        this.db.query("DELETE FROM oauth_tokens WHERE grant_id = ?").run(grantId);
        this.db.query("DELETE FROM oauth_codes WHERE grant_id = ?").run(grantId);
        return true;
      })
      .immediate();
  }

  /**
   * Ends every live grant a person gave on one wiki (they were removed from it), with their codes
   * and tokens. Returns how many. Runs inside the caller's transaction when there is one.
   */
  revokeAllFor(wikiId: number, userId: number): number {
    return this.db.transaction((): number => {
      const ids = this.db
        .query<{ id: string }, [number, number]>(
          "SELECT id FROM oauth_grants WHERE wiki_id = ? AND user_id = ? AND revoked_at IS NULL",
        )
        .all(wikiId, userId)
        .map((row) => row.id);
      for (const id of ids) this.revoke(id);
      return ids.length;
    })();
  }
}
