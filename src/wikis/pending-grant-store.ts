/**
 * Roles granted to people who have never signed in: keyed by DID when the granter named one,
 * else by handle. They become ACL rows through `claimPendingGrants` (members.ts).
 */
import type { Database } from "bun:sqlite";
import { unixNow } from "../lib/time.ts";
import { parseRole, type Role } from "./wiki-store.ts";

export type GrantSubject = { kind: "did"; did: string } | { kind: "handle"; handle: string };

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
}

function rowToGrant(row: PendingGrantRow): PendingGrant[] {
  const role = parseRole(row.role);
  if (role === null) return [];
  const subject: GrantSubject =
    row.subject_kind === "did"
      ? { kind: "did", did: row.subject }
      : { kind: "handle", handle: row.subject };
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
    const row = this.db
      .query<PendingGrantRow, [number, string, string, string, number | null, number]>(
        `INSERT INTO pending_grants (wiki_id, subject_kind, subject, role, granted_by, created_at)
         VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (wiki_id, subject_kind, subject) DO UPDATE SET role = excluded.role
         RETURNING *`,
      )
      .get(wikiId, kind, key, role, grantedBy, unixNow());
    const grant = row === null ? undefined : rowToGrant(row)[0];
    if (grant === undefined) throw new Error("INSERT … RETURNING gave no row");
    return grant;
  }

  find(wikiId: number, subject: GrantSubject): PendingGrant | null {
    const [kind, key] = keyOf(subject);
    const row = this.db
      .query<PendingGrantRow, [number, string, string]>(
        "SELECT * FROM pending_grants WHERE wiki_id = ? AND subject_kind = ? AND subject = ?",
      )
      .get(wikiId, kind, key);
    return row === null ? null : (rowToGrant(row)[0] ?? null);
  }

  remove(wikiId: number, subject: GrantSubject): boolean {
    const [kind, key] = keyOf(subject);
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

  /** Every grant waiting for this DID or this handle, on any wiki. */
  listForPerson(did: string, handle: string): PendingGrant[] {
    return this.db
      .query<PendingGrantRow, [string, string]>(
        `SELECT * FROM pending_grants
         WHERE (subject_kind = 'did' AND subject = ?) OR (subject_kind = 'handle' AND subject = ?)
         ORDER BY wiki_id`,
      )
      .all(did, handle)
      .flatMap(rowToGrant);
  }
}
