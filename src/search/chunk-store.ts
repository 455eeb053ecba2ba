/**
 * The search worker's SQL: the `chunks` rows behind each vector key, the `reindex_queue` it
 * drains, and the page text it reads (`pages` / `pages_fts`, written only by the write gate's
 * sync). Used from the worker's own connection and, for queueing, from the server's.
 */
import type { Database } from "bun:sqlite";
import { unixNow } from "../lib/time.ts";

export interface QueueRow {
  wikiId: number;
  path: string;
  enqueuedAt: number;
}

export interface NewChunk {
  path: string;
  headingPath: string[];
  lineStart: number;
  lineEnd: number;
  text: string;
}

export interface StoredChunk extends NewChunk {
  id: number;
}

interface ChunkRow {
  id: number;
  path: string;
  heading_path: string;
  line_start: number;
  line_end: number;
  text: string;
}

function rowToChunk(row: ChunkRow): StoredChunk {
  const parsed: unknown = JSON.parse(row.heading_path);
  return {
    id: row.id,
    path: row.path,
    headingPath: Array.isArray(parsed) ? parsed.map(String) : [],
    lineStart: row.line_start,
    lineEnd: row.line_end,
    text: row.text,
  };
}

export class ChunkStore {
  constructor(private readonly db: Database) {}

  /**
   * The next queue rows to index, oldest first but taking turns between wikis (each wiki's oldest,
   * then each one's second, …), so one wiki's bulk import cannot hold back another's edits.
   * Rows in `heldBack` (applied, waiting for their index to be saved) are skipped.
   */
  takeQueue(limit: number, heldBack: readonly { wikiId: number; path: string }[] = []): QueueRow[] {
    return this.db
      .query<{ wiki_id: number; path: string; enqueued_at: number }, [number, string]>(
        `WITH held AS (
           SELECT json_extract(value, '$.wikiId') AS wiki_id, json_extract(value, '$.path') AS path
           FROM json_each(?2)
         )
         SELECT wiki_id, path, enqueued_at FROM (
           SELECT q.wiki_id, q.path, q.enqueued_at,
                  row_number() OVER (PARTITION BY q.wiki_id ORDER BY q.enqueued_at, q.path) AS turn
           FROM reindex_queue q
           WHERE NOT EXISTS (SELECT 1 FROM held h WHERE h.wiki_id = q.wiki_id AND h.path = q.path)
         )
         ORDER BY turn, enqueued_at, wiki_id, path LIMIT ?1`,
      )
      .all(limit, JSON.stringify(heldBack.map((row) => ({ wikiId: row.wikiId, path: row.path }))))
      .map((row) => ({ wikiId: row.wiki_id, path: row.path, enqueuedAt: row.enqueued_at }));
  }

  queueDepth(wikiId?: number): number {
    const row =
      wikiId === undefined
        ? this.db.query<{ n: number }, []>("SELECT count(*) AS n FROM reindex_queue").get()
        : this.db
            .query<{ n: number }, [number]>(
              "SELECT count(*) AS n FROM reindex_queue WHERE wiki_id = ?",
            )
            .get(wikiId);
    return row?.n ?? 0;
  }

  /**
   * Queues every page of one wiki (or of all) and every path that still has chunks; rows already
   * queued keep their time. Returns how many pages the target has queued now.
   */
  enqueueAll(wikiId: number | null): number {
    const now = unixNow();
    this.db
      .transaction(() => {
        this.db
          .query(
            `INSERT INTO reindex_queue (wiki_id, path, enqueued_at)
             SELECT wiki_id, path, ?1 FROM pages WHERE ?2 IS NULL OR wiki_id = ?2
             UNION SELECT wiki_id, path, ?1 FROM chunks WHERE ?2 IS NULL OR wiki_id = ?2
             ON CONFLICT (wiki_id, path) DO NOTHING`,
          )
          .run(now, wikiId);
      })
      .immediate();
    return wikiId === null ? this.queueDepth() : this.queueDepth(wikiId);
  }

  wikiSlug(wikiId: number): string | null {
    return (
      this.db.query<{ slug: string }, [number]>("SELECT slug FROM wikis WHERE id = ?").get(wikiId)
        ?.slug ?? null
    );
  }

  wikiIds(): number[] {
    return this.db
      .query<{ id: number }, []>("SELECT id FROM wikis ORDER BY id")
      .all()
      .map((row) => row.id);
  }

  /** The page as it is now, or null when it no longer exists. */
  pageText(wikiId: number, path: string): { title: string; body: string; revision: string } | null {
    return this.db
      .query<{ title: string; body: string; revision: string }, [number, string]>(
        `SELECT p.title, f.body, p.revision FROM pages p JOIN pages_fts f ON f.rowid = p.id
         WHERE p.wiki_id = ? AND p.path = ?`,
      )
      .get(wikiId, path);
  }

  /** Ids of a page's chunks (uses chunks_by_page). */
  chunkIdsOf(wikiId: number, path: string): number[] {
    return this.db
      .query<{ id: number }, [number, string]>(
        "SELECT id FROM chunks WHERE wiki_id = ? AND path = ?",
      )
      .all(wikiId, path)
      .map((row) => row.id);
  }

  chunkCount(wikiId?: number): number {
    const row =
      wikiId === undefined
        ? this.db.query<{ n: number }, []>("SELECT count(*) AS n FROM chunks").get()
        : this.db
            .query<{ n: number }, [number]>("SELECT count(*) AS n FROM chunks WHERE wiki_id = ?")
            .get(wikiId);
    return row?.n ?? 0;
  }

  /** Inserts chunks in one transaction; their ids (the vector keys) in order. */
  insertChunks(wikiId: number, chunks: readonly NewChunk[]): number[] {
    const insert = this.db.query<
      { id: number },
      [number, string, string, number, number, string, number]
    >(
      `INSERT INTO chunks (wiki_id, path, heading_path, line_start, line_end, text, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
    );
    const now = unixNow();
    return this.db
      .transaction(() =>
        chunks.map((chunk) => {
          const row = insert.get(
            wikiId,
            chunk.path,
            JSON.stringify(chunk.headingPath),
            chunk.lineStart,
            chunk.lineEnd,
            chunk.text,
            now,
          );
          if (row === null) throw new Error("INSERT … RETURNING gave no row");
          return row.id;
        }),
      )
      .immediate();
  }

  /**
   * After the index holding the new keys is durable: drops the replaced chunks and the queue rows
   * that were taken, except those of pages written again since. enqueued_at has whole seconds,
   * so a write in the same second is caught by the page's revision (null: the page was absent).
   */
  completeBatch(
    replacedIds: readonly number[],
    rows: readonly (QueueRow & { revision: string | null })[],
  ): void {
    const deleteChunk = this.db.query("DELETE FROM chunks WHERE id = ?");
    const deleteRow = this.db.query(
      `DELETE FROM reindex_queue WHERE wiki_id = ?1 AND path = ?2 AND enqueued_at = ?3
       AND (SELECT revision FROM pages WHERE wiki_id = ?1 AND path = ?2) IS ?4`,
    );
    this.db
      .transaction(() => {
        for (const id of replacedIds) deleteChunk.run(id);
        for (const row of rows) deleteRow.run(row.wikiId, row.path, row.enqueuedAt, row.revision);
      })
      .immediate();
  }

  /** The chunks behind vector keys, confined to one wiki. */
  chunksByIds(wikiId: number, ids: readonly number[]): Map<number, StoredChunk> {
    const found = new Map<number, StoredChunk>();
    if (ids.length === 0) return found;
    const rows = this.db
      .query<ChunkRow, [number, string]>(
        `SELECT id, path, heading_path, line_start, line_end, text FROM chunks
         WHERE wiki_id = ? AND id IN (SELECT value FROM json_each(?))`,
      )
      .all(wikiId, JSON.stringify(ids));
    for (const row of rows) found.set(row.id, rowToChunk(row));
    return found;
  }

  /** Whether any chunk of the wiki lies under `prefix` (an indexed range over chunks_by_page). */
  hasChunkUnder(wikiId: number, prefix: string): boolean {
    return (
      this.db
        .query<{ one: number }, [number, string, string]>(
          "SELECT 1 AS one FROM chunks WHERE wiki_id = ? AND path >= ? AND path < ? LIMIT 1",
        )
        .get(wikiId, prefix, `${prefix}\u{10ffff}`) !== null
    );
  }

  deleteWikiChunks(wikiId: number): void {
    this.db.query("DELETE FROM chunks WHERE wiki_id = ?").run(wikiId);
  }

  /** Forgets every chunk of a wiki and queues all its pages: its index must be rebuilt. */
  resetWiki(wikiId: number): number {
    this.deleteWikiChunks(wikiId);
    return this.enqueueAll(wikiId);
  }
}
