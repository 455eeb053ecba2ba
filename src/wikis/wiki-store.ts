/** Wikis and their access lists. */
import type { Database } from "bun:sqlite";
import { unixNow } from "../lib/time.ts";

export type Tier = "free" | "premium" | "lapsed";
export type Role = "viewer" | "editor" | "owner";

export const TIERS: readonly Tier[] = ["free", "premium", "lapsed"];
export const ROLES: readonly Role[] = ["viewer", "editor", "owner"];

export interface Wiki {
  id: number;
  slug: string;
  name: string;
  ownerId: number;
  isPublic: boolean;
  tier: Tier;
  createdAt: number;
  indexedCommit: string | null;
}

interface WikiRow {
  id: number;
  slug: string;
  name: string;
  owner_id: number;
  is_public: number;
  tier: string;
  created_at: number;
  indexed_commit: string | null;
}

export function parseTier(value: string): Tier | null {
  return TIERS.find((tier) => tier === value) ?? null;
}

export function parseRole(value: string): Role | null {
  return ROLES.find((role) => role === value) ?? null;
}

function rowToWiki(row: WikiRow): Wiki {
  const tier = parseTier(row.tier);
  if (tier === null) throw new Error(`wiki ${row.slug} has unknown tier ${row.tier}`);
  return {
    id: row.id,
    slug: row.slug,
    name: row.name,
    ownerId: row.owner_id,
    isPublic: row.is_public === 1,
    tier,
    createdAt: row.created_at,
    indexedCommit: row.indexed_commit,
  };
}

export interface NewWiki {
  slug: string;
  name: string;
  ownerId: number;
  isPublic: boolean;
  tier: Tier;
}

export class WikiStore {
  constructor(private readonly db: Database) {}

  /** Inserts the wiki and its owner's ACL row; call inside a transaction with related writes. */
  create(wiki: NewWiki): Wiki {
    const row = this.db
      .query<
        WikiRow,
        { slug: string; name: string; owner: number; public: number; tier: string; now: number }
      >(
        `INSERT INTO wikis (slug, name, owner_id, is_public, tier, created_at)
         VALUES ($slug, $name, $owner, $public, $tier, $now) RETURNING *`,
      )
      .get({
        slug: wiki.slug,
        name: wiki.name,
        owner: wiki.ownerId,
        public: wiki.isPublic ? 1 : 0,
        tier: wiki.tier,
        now: unixNow(),
      });
    if (row === null) throw new Error("INSERT … RETURNING gave no row");
    this.setRole(row.id, wiki.ownerId, "owner");
    return rowToWiki(row);
  }

  findBySlug(slug: string): Wiki | null {
    const row = this.db.query<WikiRow, [string]>("SELECT * FROM wikis WHERE slug = ?").get(slug);
    return row === null ? null : rowToWiki(row);
  }

  findById(id: number): Wiki | null {
    const row = this.db.query<WikiRow, [number]>("SELECT * FROM wikis WHERE id = ?").get(id);
    return row === null ? null : rowToWiki(row);
  }

  list(): Wiki[] {
    return this.db.query<WikiRow, []>("SELECT * FROM wikis ORDER BY slug").all().map(rowToWiki);
  }

  /** Wikis the user holds a role on, with that role, by slug. */
  listForUser(userId: number): { wiki: Wiki; role: Role }[] {
    return this.db
      .query<WikiRow & { role: string }, [number]>(
        `SELECT w.*, a.role AS role FROM acls a JOIN wikis w ON w.id = a.wiki_id
         WHERE a.user_id = ? ORDER BY w.slug`,
      )
      .all(userId)
      .flatMap((row) => {
        const role = parseRole(row.role);
        return role === null ? [] : [{ wiki: rowToWiki(row), role }];
      });
  }

  /** How many wikis the user created (owner_id), the count a plan's per-owner limit holds. */
  countOwnedBy(userId: number): number {
    // No index on owner_id: the wikis table is small, one row per wiki.
    const row = this.db
      .query<{ n: number }, [number]>("SELECT count(*) AS n FROM wikis WHERE owner_id = ?")
      .get(userId);
    return row?.n ?? 0;
  }

  setName(id: number, name: string): void {
    this.db.query("UPDATE wikis SET name = ? WHERE id = ?").run(name, id);
  }

  setPublic(id: number, isPublic: boolean): void {
    this.db.query("UPDATE wikis SET is_public = ? WHERE id = ?").run(isPublic ? 1 : 0, id);
  }

  /**
   * Deletes the wiki's rows. Foreign keys cascade to ACLs, tokens, sessions, pages and queues;
   * the FTS5 table has no foreign keys, so its rows go first, found through `pages`.
   * Call inside a transaction.
   */
  delete(id: number): boolean {
    this.db
      .query("DELETE FROM pages_fts WHERE rowid IN (SELECT id FROM pages WHERE wiki_id = ?)")
      .run(id);
    return this.db.query("DELETE FROM wikis WHERE id = ?").run(id).changes > 0;
  }

  ownerCount(wikiId: number): number {
    const row = this.db
      .query<{ owners: number }, [number]>(
        "SELECT COUNT(*) AS owners FROM acls WHERE wiki_id = ? AND role = 'owner'",
      )
      .get(wikiId);
    return row?.owners ?? 0;
  }

  setTier(id: number, tier: Tier): void {
    this.db.query("UPDATE wikis SET tier = ? WHERE id = ?").run(tier, id);
  }

  setIndexedCommit(id: number, commit: string): void {
    this.db.query("UPDATE wikis SET indexed_commit = ? WHERE id = ?").run(commit, id);
  }

  /** The user's role on the wiki, read fresh on every call so revocations apply at once. */
  roleOf(wikiId: number, userId: number): Role | null {
    const row = this.db
      .query<{ role: string }, [number, number]>(
        "SELECT role FROM acls WHERE wiki_id = ? AND user_id = ?",
      )
      .get(wikiId, userId);
    return row === null ? null : parseRole(row.role);
  }

  setRole(wikiId: number, userId: number, role: Role): void {
    this.db
      .query(
        `INSERT INTO acls (wiki_id, user_id, role) VALUES (?, ?, ?)
         ON CONFLICT (wiki_id, user_id) DO UPDATE SET role = excluded.role`,
      )
      .run(wikiId, userId, role);
  }

  /** Removes the user's role; returns false when they had none. */
  removeRole(wikiId: number, userId: number): boolean {
    return (
      this.db.query("DELETE FROM acls WHERE wiki_id = ? AND user_id = ?").run(wikiId, userId)
        .changes > 0
    );
  }

  members(wikiId: number): { userId: number; role: Role }[] {
    return this.db
      .query<{ user_id: number; role: string }, [number]>(
        "SELECT user_id, role FROM acls WHERE wiki_id = ? ORDER BY user_id",
      )
      .all(wikiId)
      .flatMap((row) => {
        const role = parseRole(row.role);
        return role === null ? [] : [{ userId: row.user_id, role }];
      });
  }
}
