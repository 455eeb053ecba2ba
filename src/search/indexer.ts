/**
 * What the search worker does, without the thread: drains `reindex_queue` in batches into each
 * wiki's chunks and USearch index, and answers queries from them. The order in a batch keeps the
 * index's keys a subset of the `chunks` rows at every instant, so a crash anywhere only leaves
 * queue rows to redo: new chunk rows are inserted, then the index drops the old keys, takes the
 * new ones and is saved, and only then are the old rows and the queue rows deleted.
 *
 * Saving rewrites the whole index file (USearch has no append), which for a large wiki costs more
 * than the batch itself: so applied pages wait in memory (queue rows kept, their pages held back
 * from the next takes) and the index is saved when the wiki's queue is drained, or once the time
 * since its last save is several times what that save took. A crash in between redoes those
 * pages. Indexes are loaded on first use and unloaded (saved first) when idle, so memory follows
 * the wikis in use, not the wikis on disk.
 */
import { existsSync } from "node:fs";
import { wikiDir } from "../wikis/wiki-paths.ts";
import type { ChunkStore, NewChunk, QueueRow } from "./chunk-store.ts";
import { chunkPage } from "./chunker.ts";
import { EMBEDDING_DIMENSIONS, type Embedder } from "./embedder.ts";
import { MODEL_NAME } from "./model-files.ts";
import type { SemanticHit, SemanticSearchResult } from "./search-service.ts";
import {
  checkVectorIndexFiles,
  HNSW,
  type IndexParameters,
  openVectorIndex,
  removeVectorIndexFiles,
  VectorIndex,
} from "./vector-index.ts";

export type IndexerLog = (
  level: "info" | "warn" | "error",
  message: string,
  fields?: Record<string, unknown>,
) => void;

interface PreparedPage {
  row: QueueRow;
  revision: string | null;
  chunks: NewChunk[];
  vectors: Float32Array[];
}

/** The most nearest chunks one query looks at (USearch search + one SQL read of their rows). */
const MAX_CANDIDATES = 4096;
/** Saves of a wiki being indexed are at least this far apart … */
const MIN_SAVE_INTERVAL_MS = 2000;
/** … and at least this many times as long as the last save took (saving ≤ ~1/5 of the time). */
const SAVE_COST_FACTOR = 4;
/** An index nobody searched or indexed into for this long is saved and dropped from memory. */
export const INDEX_IDLE_MS = 10 * 60_000;

/** Pages applied to the in-memory index whose queue rows wait for the next save. */
interface Unsaved {
  replaced: number[];
  rows: (QueueRow & { revision: string | null })[];
}

interface OpenIndex {
  index: VectorIndex;
  unsaved: Unsaved;
  lastSaveAt: number;
  lastSaveMs: number;
  lastUsedAt: number;
}

export class SearchIndexer {
  private readonly indexes = new Map<number, OpenIndex>();

  constructor(
    private readonly store: ChunkStore,
    private readonly embedder: Embedder,
    private readonly dataDir: string,
    private readonly log: IndexerLog,
  ) {}

  /**
   * Checks every wiki's index files without loading them, so a missing, damaged or outdated one
   * is queued for rebuilding at start (a file that passes but does not load is caught on first
   * use the same way).
   */
  checkAll(): void {
    for (const wikiId of this.store.wikiIds()) {
      const slug = this.store.wikiSlug(wikiId);
      if (slug === null) continue;
      const dir = wikiDir(this.dataDir, slug);
      const check = checkVectorIndexFiles(dir, this.parametersFor(wikiId));
      if (check.kind !== "ok") this.rebuild(wikiId, slug, dir, check);
    }
  }

  /** Vectors held in memory across the loaded indexes. */
  indexedChunks(): number {
    let total = 0;
    for (const open of this.indexes.values()) total += open.index.size;
    return total;
  }

  /** Wikis whose index is in memory. */
  loadedWikis(): number[] {
    return [...this.indexes.keys()];
  }

  /**
   * Indexes the oldest queued pages (at most `batchPages`, interleaving wikis); how many rows it
   * took or completed (0: nothing to do). `between` runs after each page's embedding, so queries
   * wait for one page, not a batch.
   */
  async runBatch(batchPages: number, between: () => Promise<void>): Promise<number> {
    const rows = this.store.takeQueue(batchPages, this.heldBack());
    if (rows.length === 0) return this.saveAll();
    const byWiki = new Map<number, QueueRow[]>();
    for (const row of rows) byWiki.set(row.wikiId, [...(byWiki.get(row.wikiId) ?? []), row]);
    for (const [wikiId, wikiRows] of byWiki) {
      const slug = this.store.wikiSlug(wikiId);
      // A deleted wiki's queue rows went with it (ON DELETE CASCADE).
      if (slug === null) continue;
      const open = this.openFor(wikiId, slug);
      const prepared: PreparedPage[] = [];
      for (const row of wikiRows) {
        prepared.push(await this.preparePage(row));
        await between();
      }
      // forget or a rebuild may have replaced the index while we awaited.
      if (this.indexes.get(wikiId) !== open || this.store.wikiSlug(wikiId) === null) continue;
      this.applyPages(wikiId, open, prepared);
      const drained = this.store.queueDepth(wikiId) <= open.unsaved.rows.length;
      const due =
        Date.now() - open.lastSaveAt >=
        Math.max(MIN_SAVE_INTERVAL_MS, SAVE_COST_FACTOR * open.lastSaveMs);
      if (drained || due) this.save(wikiId, open);
    }
    return rows.length;
  }

  /** Saves every index with unsaved pages (before stopping, and when the queue is empty). */
  saveAll(): number {
    let completed = 0;
    for (const [wikiId, open] of this.indexes) completed += this.save(wikiId, open);
    return completed;
  }

  /** Saves and drops indexes unused for `idleMs`; how many were dropped. */
  unloadIdle(idleMs = INDEX_IDLE_MS): number {
    const cutoff = Date.now() - idleMs;
    let dropped = 0;
    for (const [wikiId, open] of this.indexes) {
      if (open.lastUsedAt > cutoff) continue;
      this.save(wikiId, open);
      this.indexes.delete(wikiId);
      dropped++;
    }
    return dropped;
  }

  /** The pages applied but not yet saved: they are not taken again until saved. */
  private heldBack(): { wikiId: number; path: string }[] {
    return [...this.indexes.values()].flatMap((open) => open.unsaved.rows);
  }

  private async preparePage(row: QueueRow): Promise<PreparedPage> {
    const page = this.store.pageText(row.wikiId, row.path);
    if (page === null) return { row, revision: null, chunks: [], vectors: [] };
    const chunks = chunkPage(page.title, page.body, (text) => this.embedder.countTokens(text));
    const vectors =
      chunks.length === 0 ? [] : await this.embedder.embed(chunks.map((c) => c.embedText));
    return {
      row,
      revision: page.revision,
      chunks: chunks.map((chunk) => ({
        path: row.path,
        headingPath: chunk.headingPath,
        lineStart: chunk.lineStart,
        lineEnd: chunk.lineEnd,
        text: chunk.text,
      })),
      vectors,
    };
  }

  private applyPages(wikiId: number, open: OpenIndex, pages: PreparedPage[]): void {
    const replaced = pages.flatMap((page) => this.store.chunkIdsOf(wikiId, page.row.path));
    const newIds = this.store.insertChunks(
      wikiId,
      pages.flatMap((page) => page.chunks),
    );
    try {
      open.index.remove(replaced);
      open.index.add(
        newIds,
        pages.flatMap((page) => page.vectors),
      );
    } catch (error) {
      // The in-memory index no longer matches anything durable: reload it from disk next time
      // (the unsaved pages' queue rows are still there, so they are redone).
      this.indexes.delete(wikiId);
      throw error;
    }
    open.unsaved.replaced.push(...replaced);
    open.unsaved.rows.push(...pages.map((page) => ({ ...page.row, revision: page.revision })));
    open.lastUsedAt = Date.now();
  }

  /** Makes the index durable, then completes its unsaved pages; how many rows that completed. */
  private save(wikiId: number, open: OpenIndex): number {
    const { replaced, rows } = open.unsaved;
    if (rows.length === 0) return 0;
    const started = performance.now();
    try {
      open.index.save();
    } catch (error) {
      this.indexes.delete(wikiId);
      throw error;
    }
    open.lastSaveMs = performance.now() - started;
    open.lastSaveAt = Date.now();
    open.unsaved = { replaced: [], rows: [] };
    this.store.completeBatch(replaced, rows);
    return rows.length;
  }

  async search(
    wikiId: number,
    query: string,
    limit: number,
    pathPrefix: string | undefined,
  ): Promise<SemanticSearchResult> {
    const slug = this.store.wikiSlug(wikiId);
    if (slug === null) return { hits: [], pendingPages: 0 };
    const { index } = this.openFor(wikiId, slug);
    const pendingPages = this.store.queueDepth(wikiId);
    if (index.size === 0 || limit <= 0) return { hits: [], pendingPages };
    // A prefix nothing lies under would otherwise widen the search over the whole index.
    if (pathPrefix !== undefined && !this.store.hasChunkUnder(wikiId, pathPrefix))
      return { hits: [], pendingPages };
    const [vector] = await this.embedder.embed([query]);
    if (vector === undefined) return { hits: [], pendingPages };
    // Pages repeat among the nearest chunks and a prefix filters after the search, so ask for
    // more than `limit` and widen until enough distinct pages are found, the index is spent, or
    // MAX_CANDIDATES is reached: one query's work is bounded whatever the wiki or the prefix
    // (pages under a prefix past the nearest MAX_CANDIDATES chunks are not found).
    let k = Math.min(Math.max(limit * 8, 64), MAX_CANDIDATES);
    let hits: SemanticHit[] = [];
    for (;;) {
      const matches = index.search(vector, k);
      const chunks = this.store.chunksByIds(
        wikiId,
        matches.map((match) => match.key),
      );
      const seen = new Set<string>();
      hits = [];
      for (const match of matches) {
        const chunk = chunks.get(match.key);
        if (chunk === undefined || seen.has(chunk.path)) continue;
        if (pathPrefix !== undefined && !chunk.path.startsWith(pathPrefix)) continue;
        seen.add(chunk.path);
        hits.push({
          path: chunk.path,
          headingPath: chunk.headingPath,
          lineStart: chunk.lineStart,
          lineEnd: chunk.lineEnd,
          score: Math.round(Math.min(1, Math.max(0, match.similarity)) * 1000) / 1000,
          text: chunk.text,
        });
      }
      if (hits.length >= limit || k >= index.size || k >= MAX_CANDIDATES) break;
      k = Math.min(k * 4, MAX_CANDIDATES);
    }
    return { hits: hits.slice(0, limit), pendingPages };
  }

  /** Drops a wiki's index from memory and disk, and its chunks. */
  forget(wikiId: number, slug: string): void {
    // Unsaved pages go too: their queue rows and chunks went with the wiki.
    this.indexes.delete(wikiId);
    this.store.deleteWikiChunks(wikiId);
    let dir: string;
    try {
      dir = wikiDir(this.dataDir, slug);
    } catch {
      return;
    }
    if (existsSync(dir)) removeVectorIndexFiles(dir);
  }

  private parametersFor(wikiId: number): IndexParameters {
    return {
      format: 1,
      wikiId,
      dimensions: EMBEDDING_DIMENSIONS,
      metric: "cos",
      quantization: "f32",
      connectivity: HNSW.connectivity,
      expansionAdd: HNSW.expansionAdd,
      expansionSearch: HNSW.expansionSearch,
      model: MODEL_NAME,
      modelDtype: this.embedder.dtype,
    };
  }

  /**
   * The wiki's open index; loaded from disk on first use. A missing, damaged or mismatched file
   * (or one of another wiki that had this slug) means the chunks cannot be trusted either: they
   * are dropped, every page is queued, and an empty index is saved so a restart resumes.
   */
  private openFor(wikiId: number, slug: string): OpenIndex {
    const loaded = this.indexes.get(wikiId);
    if (loaded !== undefined) {
      loaded.lastUsedAt = Date.now();
      return loaded;
    }
    const opened = openVectorIndex(wikiDir(this.dataDir, slug), this.parametersFor(wikiId));
    if (opened.kind !== "loaded") this.rebuild(wikiId, slug, opened.index.dir, opened);
    const open: OpenIndex = {
      index: opened.index,
      unsaved: { replaced: [], rows: [] },
      lastSaveAt: Date.now(),
      lastSaveMs: 0,
      lastUsedAt: Date.now(),
    };
    this.indexes.set(wikiId, open);
    return open;
  }

  private rebuild(
    wikiId: number,
    slug: string,
    dir: string,
    problem: { kind: "missing" } | { kind: "invalid"; reason: string },
  ): void {
    const queued = this.store.resetWiki(wikiId);
    if (problem.kind === "invalid")
      this.log("warn", "search index unusable; rebuilding it", {
        wiki: slug,
        reason: problem.reason,
        queued_pages: queued,
      });
    removeVectorIndexFiles(dir);
    // An empty index on disk, so the next start finds a valid file and resumes the queue.
    if (existsSync(dir)) new VectorIndex(dir, this.parametersFor(wikiId)).save();
  }
}
