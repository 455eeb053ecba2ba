/**
 * The database's view of each wiki's pages: metadata in `pages`, full text in `pages_fts`,
 * and the `reindex_queue` for the vector worker. Only the write gate's sync calls the writing
 * methods, so these rows always describe `wikis.indexed_commit`.
 */
import type { Database } from "bun:sqlite";
import { unixNow } from "../lib/time.ts";
import { headingPathAt, scanHeadings, splitLines } from "./markdown.ts";

export interface PageRecord {
  path: string;
  title: string;
  size: number;
  revision: string;
  changedAt: number;
  author: string;
}

export interface PageWithBody extends PageRecord {
  body: string;
}

interface PageRow {
  id: number;
  path: string;
  title: string;
  size: number;
  revision: string;
  changed_at: number;
  author: string;
}

function rowToPage(row: PageRow): PageRecord {
  return {
    path: row.path,
    title: row.title,
    size: row.size,
    revision: row.revision,
    changedAt: row.changed_at,
    author: row.author,
  };
}

export interface SearchHit {
  path: string;
  title: string;
  snippet: string;
  /** 1-based lines that contain a query term (at most 5). */
  lines: number[];
  /** The headings enclosing the best matching line, outermost first (empty: none). */
  headingPath: string[];
  /** The page's revision, so a hit can feed an edit directly. */
  revision: string;
  score: number;
}

export interface SearchResult {
  hits: SearchHit[];
  /** Set when the query was not valid FTS5 syntax and was searched as plain words instead. */
  interpretedAsPlainText: boolean;
}

const ftsWikiToken = (wikiId: number) => `w${wikiId}`;

/** Words of a query, for locating matching lines; FTS operators are not words. */
function queryTerms(query: string): string[] {
  return (query.toLowerCase().match(/[\p{L}\p{N}_]+/gu) ?? []).filter(
    (word) => !["and", "or", "not", "near"].includes(word),
  );
}

/** Quotes every word so any input becomes a valid FTS5 query of ANDed phrases. */
export function plainTextQuery(query: string): string {
  return query
    .split(/\s+/)
    .filter((word) => word.length > 0)
    .map((word) => `"${word.replaceAll('"', '""')}"`)
    .join(" ");
}

/**
 * Lines that contain a query term (the first five), and the line that contains the most distinct
 * terms: the one a hit's heading path is taken from, so "capybara rivers" points at the line
 * with both words rather than at a title that only names the first.
 */
function matchingLines(body: string, terms: string[]): { lines: number[]; best: number | null } {
  if (terms.length === 0) return { lines: [], best: null };
  // The index stems words (porter), so "agents" matched "agent": look for a shortened form.
  const stems = terms.map((term) => (term.length >= 5 ? term.slice(0, -1) : term));
  const lines: number[] = [];
  let best = { line: 0, count: 0 };
  for (const [index, line] of splitLines(body.toLowerCase()).entries()) {
    const count = stems.filter((stem) => line.includes(stem)).length;
    if (count === 0) continue;
    if (lines.length < 5) lines.push(index + 1);
    if (count > best.count) best = { line: index + 1, count };
    if (count === stems.length && lines.length >= 5) break;
  }
  return { lines, best: best.count === 0 ? null : best.line };
}

export class PageIndex {
  constructor(private readonly db: Database) {}

  get(wikiId: number, path: string): PageWithBody | null {
    const row = this.db
      .query<PageRow & { body: string }, [number, string]>(
        `SELECT p.*, f.body FROM pages p JOIN pages_fts f ON f.rowid = p.id
         WHERE p.wiki_id = ? AND p.path = ?`,
      )
      .get(wikiId, path);
    return row === null ? null : { ...rowToPage(row), body: row.body };
  }

  /** Pages whose path equals `path` ignoring case (uses pages_by_folded_path). */
  findCaseVariants(wikiId: number, path: string): string[] {
    return this.db
      .query<{ path: string }, [number, string]>(
        "SELECT path FROM pages WHERE wiki_id = ? AND path_folded = ?",
      )
      .all(wikiId, path.toLowerCase())
      .map((row) => row.path);
  }

  list(wikiId: number, prefix = ""): PageRecord[] {
    return this.db
      .query<PageRow, [number, string, string]>(
        `SELECT * FROM pages WHERE wiki_id = ? AND (? = '' OR substr(path, 1, length(?)) = ?3)
         ORDER BY path`,
      )
      .all(wikiId, prefix, prefix)
      .map(rowToPage);
  }

  /** Every page's path and text (for whole-wiki rewrites such as updating links on a move). */
  allBodies(wikiId: number): { path: string; body: string }[] {
    return this.db
      .query<{ path: string; body: string }, [number]>(
        `SELECT p.path, f.body FROM pages p JOIN pages_fts f ON f.rowid = p.id
         WHERE p.wiki_id = ? ORDER BY p.path`,
      )
      .all(wikiId);
  }

  allPaths(wikiId: number): string[] {
    return this.db
      .query<{ path: string }, [number]>("SELECT path FROM pages WHERE wiki_id = ?")
      .all(wikiId)
      .map((row) => row.path);
  }

  count(wikiId: number): number {
    return (
      this.db
        .query<{ n: number }, [number]>("SELECT count(*) AS n FROM pages WHERE wiki_id = ?")
        .get(wikiId)?.n ?? 0
    );
  }

  upsert(wikiId: number, page: PageWithBody): void {
    const existing = this.db
      .query<{ id: number }, [number, string]>(
        "SELECT id FROM pages WHERE wiki_id = ? AND path = ?",
      )
      .get(wikiId, page.path);
    const params = {
      wiki: wikiId,
      path: page.path,
      folded: page.path.toLowerCase(),
      title: page.title,
      size: page.size,
      revision: page.revision,
      changed: page.changedAt,
      author: page.author,
    };
    let id: number;
    if (existing === null) {
      const inserted = this.db
        .query<{ id: number }, typeof params>(
          `INSERT INTO pages (wiki_id, path, path_folded, title, size, revision, changed_at, author)
           VALUES ($wiki, $path, $folded, $title, $size, $revision, $changed, $author) RETURNING id`,
        )
        .get(params);
      if (inserted === null) throw new Error("INSERT … RETURNING gave no row");
      id = inserted.id;
    } else {
      id = existing.id;
      this.db
        .query(
          `UPDATE pages SET title = $title, size = $size, revision = $revision,
           changed_at = $changed, author = $author WHERE id = $id`,
        )
        .run({
          id,
          title: page.title,
          size: page.size,
          revision: page.revision,
          changed: page.changedAt,
          author: page.author,
        });
      this.db.query("DELETE FROM pages_fts WHERE rowid = ?").run(id);
    }
    this.db
      .query("INSERT INTO pages_fts (rowid, wiki, path, title, body) VALUES (?, ?, ?, ?, ?)")
      .run(id, ftsWikiToken(wikiId), page.path, page.title, page.body);
  }

  remove(wikiId: number, path: string): void {
    const row = this.db
      .query<{ id: number }, [number, string]>(
        "SELECT id FROM pages WHERE wiki_id = ? AND path = ?",
      )
      .get(wikiId, path);
    if (row === null) return;
    this.db.query("DELETE FROM pages_fts WHERE rowid = ?").run(row.id);
    this.db.query("DELETE FROM pages WHERE id = ?").run(row.id);
  }

  enqueueReindex(wikiId: number, paths: readonly string[]): void {
    const statement = this.db.query(
      `INSERT INTO reindex_queue (wiki_id, path, enqueued_at) VALUES (?, ?, ?)
       ON CONFLICT (wiki_id, path) DO UPDATE SET enqueued_at = excluded.enqueued_at`,
    );
    const now = unixNow();
    for (const path of paths) statement.run(wikiId, path, now);
  }

  /**
   * Full-text search confined to one wiki. `query` is FTS5 syntax (words, "phrases", AND/OR/NOT,
   * prefix*); if it does not parse, its words are searched as plain text instead of failing.
   */
  search(wikiId: number, query: string, limit = 20): SearchResult {
    const trimmed = query.trim();
    if (trimmed.length === 0) return { hits: [], interpretedAsPlainText: false };
    try {
      return { hits: this.runSearch(wikiId, trimmed, limit), interpretedAsPlainText: false };
    } catch (error) {
      if (!isFtsQueryError(error)) throw error;
      const plain = plainTextQuery(trimmed);
      if (plain.length === 0) return { hits: [], interpretedAsPlainText: true };
      return { hits: this.runSearch(wikiId, plain, limit), interpretedAsPlainText: true };
    }
  }

  private runSearch(wikiId: number, query: string, limit: number): SearchHit[] {
    // The user's expression is confined to the text columns, then ANDed with this wiki's token.
    const match = `wiki : "${ftsWikiToken(wikiId)}" AND {path title body} : (${query})`;
    const rows = this.db
      .query<
        {
          path: string;
          title: string;
          revision: string;
          snippet: string;
          body: string;
          score: number;
        },
        [string, number]
      >(
        `SELECT p.path, p.title, p.revision, snippet(pages_fts, 3, '**', '**', '…', 16) AS snippet,
                pages_fts.body AS body, bm25(pages_fts, 0, 5, 10, 1) AS score
         FROM pages_fts JOIN pages p ON p.id = pages_fts.rowid
         WHERE pages_fts MATCH ? ORDER BY score LIMIT ?`,
      )
      .all(match, limit);
    const terms = queryTerms(query);
    return rows.map((row) => {
      const { lines, best } = matchingLines(row.body, terms);
      return {
        path: row.path,
        title: row.title,
        revision: row.revision,
        snippet: row.snippet,
        lines,
        headingPath: best === null ? [] : headingPathAt(scanHeadings(splitLines(row.body)), best),
        score: -row.score,
      };
    });
  }
}

function isFtsQueryError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return /fts5|syntax error|no such column|unterminated|malformed MATCH|unknown special query/i.test(
    error.message,
  );
}
