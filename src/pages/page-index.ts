/**
 * The database's view of each wiki's pages: metadata in `pages`, full text in `pages_fts`,
 * and the `reindex_queue` for the vector worker. Only the write gate's sync calls the writing
 * methods, so these rows always describe `wikis.indexed_commit`.
 */
import type { Database } from "bun:sqlite";
import { unixNow } from "../lib/time.ts";
import { headingsText } from "./markdown.ts";
import { MAX_PAGE_BYTES } from "./page-rules.ts";
import {
  EXCERPT_SCAN_CHARS,
  excerptMatcher,
  excerptOf,
  type MatchingLine,
} from "./search-excerpt.ts";
import { describeQuery, ftsExpression, parseSearchQuery } from "./search-query.ts";
import { BM25_RANK, boostedScore, RERANK_DEPTH } from "./search-rank.ts";

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

/** The columns a PageRow reads: not `headings`, which only search's re-ranking needs. */
const PAGE_COLUMNS = "id, path, title, size, revision, changed_at, author";

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
  /** The page's text around the best match, whitespace collapsed; nothing added. */
  snippet: string;
  /** Lines that contain a query term (at most 5, headings among them), with their text. */
  lines: MatchingLine[];
  /**
   * The headings enclosing the best matching line, outermost first, ending with that line when
   * it is a heading (empty: none).
   */
  headingPath: string[];
  /** The page's revision, so a hit can feed an edit directly. */
  revision: string;
  score: number;
}

export interface SearchResult {
  hits: SearchHit[];
  /** How many pages of the wiki match in all (hits holds the best `limit` of them). */
  total: number;
  /**
   * Set when the query held syntax we do not offer (parentheses, column filters, NEAR, an
   * unbalanced quote, a stray operator), which was searched as plain words or ignored.
   */
  interpretedAsPlainText: boolean;
  /** How the query was read, e.g. `otter AND (sea OR river) AND NOT kelp` (empty: nothing to find). */
  interpretedQuery: string;
  /** Set when the query was cut to its first terms (see search-query.ts for the bounds). */
  truncated: boolean;
}

const ftsWikiToken = (wikiId: number) => `w${wikiId}`;

/**
 * Bodies larger than this are not read for a hit's snippet (SQLite loads a whole value even to
 * take its head: ~30 ms for 20 MB). Only a push could store one; the page limit is 1 MB.
 */
const MAX_EXCERPT_SOURCE_BYTES = 4 * MAX_PAGE_BYTES;

export class PageIndex {
  constructor(private readonly db: Database) {}

  get(wikiId: number, path: string): PageWithBody | null {
    const row = this.db
      .query<PageRow & { body: string }, [number, string]>(
        `SELECT p.id, p.path, p.title, p.size, p.revision, p.changed_at, p.author, f.body
         FROM pages p JOIN pages_fts f ON f.rowid = p.id
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
        `SELECT ${PAGE_COLUMNS} FROM pages WHERE wiki_id = ? AND (? = '' OR substr(path, 1, length(?)) = ?3)
         ORDER BY path`,
      )
      .all(wikiId, prefix, prefix)
      .map(rowToPage);
  }

  /**
   * Pages under `prefix` whose text contains `needle` (SQLite's instr: byte-exact; with
   * `ignoreCase`, lower() folds ASCII letters only), in path order, at most `limit`.
   */
  pagesContaining(
    wikiId: number,
    needle: string,
    options: { prefix: string; ignoreCase: boolean; limit: number },
  ): { path: string; revision: string; body: string }[] {
    const test = options.ignoreCase ? "instr(lower(f.body), lower(?2))" : "instr(f.body, ?2)";
    return this.db
      .query<{ path: string; revision: string; body: string }, [number, string, string, number]>(
        `SELECT p.path, p.revision, f.body FROM pages p JOIN pages_fts f ON f.rowid = p.id
         WHERE p.wiki_id = ?1 AND (?3 = '' OR substr(p.path, 1, length(?3)) = ?3) AND ${test} > 0
         ORDER BY p.path LIMIT ?4`,
      )
      .all(wikiId, needle, options.prefix, options.limit);
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

  /** The records of those of `paths` that exist, by path (uses UNIQUE (wiki_id, path)). */
  records(wikiId: number, paths: readonly string[]): Map<string, PageRecord> {
    if (paths.length === 0) return new Map();
    const rows = this.db
      .query<PageRow, [number, string]>(
        `SELECT ${PAGE_COLUMNS} FROM pages WHERE wiki_id = ? AND path IN (SELECT value FROM json_each(?))`,
      )
      .all(wikiId, JSON.stringify(paths));
    return new Map(rows.map((row) => [row.path, rowToPage(row)]));
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

  /**
   * The page count and the sum of page sizes, for the plan's quotas. One range scan of the
   * (wiki_id, path) unique index plus a row read per page: well under a millisecond per
   * thousand pages, so every write can afford it.
   */
  totals(wikiId: number): { pages: number; bytes: number } {
    const row = this.db
      .query<{ pages: number; bytes: number }, [number]>(
        "SELECT count(*) AS pages, coalesce(sum(size), 0) AS bytes FROM pages WHERE wiki_id = ?",
      )
      .get(wikiId);
    return { pages: row?.pages ?? 0, bytes: row?.bytes ?? 0 };
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
      headings: headingsText(page.body),
    };
    let id: number;
    if (existing === null) {
      const inserted = this.db
        .query<{ id: number }, typeof params>(
          `INSERT INTO pages
             (wiki_id, path, path_folded, title, size, revision, changed_at, author, headings)
           VALUES ($wiki, $path, $folded, $title, $size, $revision, $changed, $author, $headings)
           RETURNING id`,
        )
        .get(params);
      if (inserted === null) throw new Error("INSERT … RETURNING gave no row");
      id = inserted.id;
    } else {
      id = existing.id;
      this.db
        .query(
          `UPDATE pages SET title = $title, size = $size, revision = $revision,
           changed_at = $changed, author = $author, headings = $headings WHERE id = $id`,
        )
        .run({
          id,
          title: page.title,
          size: page.size,
          revision: page.revision,
          changed: page.changedAt,
          author: page.author,
          headings: params.headings,
        });
      this.db.query("DELETE FROM pages_fts WHERE rowid = ?").run(id);
    }
    this.db
      .query(
        "INSERT INTO pages_fts (rowid, wiki, path, title, headings, body) VALUES (?, ?, ?, ?, ?, ?)",
      )
      .run(id, ftsWikiToken(wikiId), page.path, page.title, params.headings, page.body);
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
   * Pages matching an FTS5 expression that names its wiki's token. Only asked when the ranking
   * filled its depth: a count walks every match again (~0.6 ms per 200 here). The MATCH alone
   * confines it, as the token is ours, never the user's, and every pages_fts row has its pages
   * row (both are written in one transaction).
   */
  private countMatches(match: string): number {
    return (
      this.db
        .query<{ n: number }, [string]>(
          "SELECT count(*) AS n FROM pages_fts WHERE pages_fts MATCH ?",
        )
        .get(match)?.n ?? 0
    );
  }

  /**
   * Full-text search confined to one wiki, in the language of search-query.ts. The user's terms
   * reach FTS5 only as quoted strings, and the wiki is enforced twice: by its token in the
   * MATCH (so FTS5 walks only this wiki's documents) and by `p.wiki_id` in SQL.
   */
  search(wikiId: number, text: string, limit = 20): SearchResult {
    const query = parseSearchQuery(text);
    const expression = ftsExpression(query);
    const result = {
      interpretedAsPlainText: query.interpretedAsPlainText,
      interpretedQuery: describeQuery(query),
      truncated: query.truncated,
    };
    if (expression === null) return { hits: [], total: 0, ...result };
    const match = `wiki : "${ftsWikiToken(wikiId)}" AND {path title headings body} : (${expression})`;
    const depth = Math.max(limit, RERANK_DEPTH);
    // CROSS JOIN keeps FTS5 as the outer loop. Only rank columns are read here: a column such as
    // the body, or the headings, would be produced for every match before the sort, not just for
    // the top `depth`; the headings of those are read afterwards, one row each.
    const ranked = this.db
      .query<
        {
          id: number;
          path: string;
          title: string;
          revision: string;
          size: number;
          score: number;
        },
        [string, number, number]
      >(
        `SELECT p.id, p.path, p.title, p.revision, p.size, ${BM25_RANK} AS score
         FROM pages_fts CROSS JOIN pages p ON p.id = pages_fts.rowid
         WHERE pages_fts MATCH ? AND p.wiki_id = ? ORDER BY score LIMIT ?`,
      )
      .all(match, wikiId, depth);
    const matcher = excerptMatcher(query);
    const headingsOf = this.db.query<{ headings: string }, [number]>(
      "SELECT headings FROM pages WHERE id = ?",
    );
    const reranked = ranked
      // bm25() is lower for better matches; hits carry it negated, higher is better.
      .map((row) => ({
        row,
        score: boostedScore(
          -row.score,
          matcher,
          row.title,
          matcher === null ? "" : (headingsOf.get(row.id)?.headings ?? ""),
        ),
      }))
      .sort((a, b) => b.score - a.score)
      .slice(0, limit);
    const head = this.db.query<{ head: string }, [number, number]>(
      "SELECT substr(body, 1, ?) AS head FROM pages_fts WHERE rowid = ?",
    );
    const hits = reranked.map(({ row, score }): SearchHit => {
      const text =
        row.size <= MAX_EXCERPT_SOURCE_BYTES
          ? (head.get(EXCERPT_SCAN_CHARS, row.id)?.head ?? "")
          : "";
      // substr counts code points and JS length UTF-16 units: a shorter head is the whole body.
      const complete = row.size <= EXCERPT_SCAN_CHARS || text.length < EXCERPT_SCAN_CHARS;
      const excerpt = excerptOf(text, complete, matcher);
      return {
        path: row.path,
        title: row.title,
        revision: row.revision,
        snippet: excerpt.snippet,
        lines: excerpt.lines,
        headingPath: excerpt.headingPath,
        score,
      };
    });
    return {
      hits,
      total: ranked.length < depth ? ranked.length : this.countMatches(match),
      ...result,
    };
  }
}
