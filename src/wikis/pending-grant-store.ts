/**
 * Roles granted to people who have never signed in: keyed by DID when the granter named one,
 * else by handle. They become ACL rows through `claimPendingGrants` (members.ts).
 */
import type { Database } from "bun:sqlite";
import { unixNow } from "../lib/time.ts";
import { parseRole, type Role } from "./wiki-store.ts";

/**
 * Who a grant is for. A DID subject may carry the handle it was resolved from: shown with it,
 * never used to match a person.
 */
export type GrantSubject =
  | { kind: "did"; did: string; handle?: string }
  | { kind: "handle"; handle: string };

export interface PendingGrant {
  wikiId: number;
  subject: GrantSubject;
  role: Role;
  grantedBy: number | null;
  createdAt: number;
}

interface PendingGrantRow {
  wiki_id: number;
  subject_kind: string;
  subject: string;
  role: string;
  granted_by: number | null;
  created_at: number;
  handle: string | null;
}

function rowToGrant(row: PendingGrantRow): PendingGrant[] {
  const role = parseRole(row.role);
  if (role === null) return [];
  const subject: GrantSubject =
    row.subject_kind !== "did"
      ? { kind: "handle", handle: row.subject }
      : row.handle === null
        ? { kind: "did", did: row.subject }
        : { kind: "did", did: row.subject, handle: row.handle };
  return [
    { wikiId: row.wiki_id, subject, role, grantedBy: row.granted_by, createdAt: row.created_at },
  ];
}

const keyOf = (subject: GrantSubject): [string, string] =>
  subject.kind === "did" ? ["did", subject.did] : ["handle", subject.handle];

export class PendingGrantStore {
  constructor(private readonly db: Database) {}

  /** Records (or changes) the role waiting for `subject` on the wiki. */
  put(wikiId: number, subject: GrantSubject, role: Role, grantedBy: number | null): PendingGrant {
    const [kind, key] = keyOf(subject);
    const handle = subject.kind === "did" ? (subject.handle ?? null) : null;
    const row = this.db
      .query<
        PendingGrantRow,
        [number, string, string, string, number | null, number, string | null]
      >(
        `INSERT INTO pending_grants
           (wiki_id, subject_kind, subject, role, granted_by, created_at, handle)
         VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (wiki_id, subject_kind, subject)
           DO UPDATE SET role = excluded.role, handle = coalesce(excluded.handle, handle)
         RETURNING *`,
      )
      .get(wikiId, kind, key, role, grantedBy, unixNow(), handle);
    const grant = row === null ? undefined : rowToGrant(row)[0];
    if (grant === undefined) throw new Error("INSERT … RETURNING gave no row");
    return grant;
  }

  /** The grant for `subject`; a handle also finds a grant made for the DID it resolved to. */
  find(wikiId: number, subject: GrantSubject): PendingGrant | null {
    const [kind, key] = keyOf(subject);
    const row = this.db
      .query<PendingGrantRow, [number, string, string, string]>(
        `SELECT * FROM pending_grants WHERE wiki_id = ?1
           AND ((subject_kind = ?2 AND subject = ?3) OR (?2 = 'handle' AND handle = ?4))
         ORDER BY subject_kind = ?2 DESC LIMIT 1`,
      )
      .get(wikiId, kind, key, key);
    return row === null ? null : (rowToGrant(row)[0] ?? null);
  }

  /** Drops the grant `find` would return. */
  remove(wikiId: number, subject: GrantSubject): boolean {
    const found = this.find(wikiId, subject);
    if (found === null) return false;
    const [kind, key] = keyOf(found.subject);
    return (
      this.db
        .query("DELETE FROM pending_grants WHERE wiki_id = ? AND subject_kind = ? AND subject = ?")
        .run(wikiId, kind, key).changes > 0
    );
  }

  listForWiki(wikiId: number): PendingGrant[] {
    return this.db
      .query<PendingGrantRow, [number]>(
        "SELECT * FROM pending_grants WHERE wiki_id = ? ORDER BY created_at, subject",
      )
      .all(wikiId)
      .flatMap(rowToGrant);
  }

  /** Every grant waiting for this DID or (when given) this handle, on any wiki. */
  listForPerson(did: string, handle: string | null): PendingGrant[] {
    return this.db
      .query<PendingGrantRow, [string, string | null]>(
        `SELECT * FROM pending_grants
         WHERE (subject_kind = 'did' AND subject = ?) OR (subject_kind = 'handle' AND subject = ?)
         ORDER BY wiki_id`,
      )
      .all(did, handle)
      .flatMap(rowToGrant);
  }
}
