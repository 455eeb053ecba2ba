/**
 * What the search worker does, without the thread: drains `reindex_queue` in batches into each
 * wiki's chunks and USearch index, and answers queries from them. The order in a batch keeps the
 * index's keys a subset of the `chunks` rows at every instant, so a crash anywhere only leaves
 * queue rows to redo: new chunk rows are inserted, then the index drops the old keys, takes the
 * new ones and is saved, and only then are the old rows and the queue rows deleted.
 */
import { existsSync } from "node:fs";
import { wikiDir } from "../wikis/wiki-paths.ts";
import type { ChunkStore, NewChunk, QueueRow } from "./chunk-store.ts";
import { chunkPage } from "./chunker.ts";
import { EMBEDDING_DIMENSIONS, type Embedder } from "./embedder.ts";
import { MODEL_NAME } from "./model-files.ts";
import type { SemanticHit, SemanticSearchResult } from "./search-service.ts";
import {
  HNSW,
  type IndexParameters,
  openVectorIndex,
  removeVectorIndexFiles,
  type VectorIndex,
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

export class SearchIndexer {
  private readonly indexes = new Map<number, VectorIndex>();

  constructor(
    private readonly store: ChunkStore,
    private readonly embedder: Embedder,
    private readonly dataDir: string,
    private readonly log: IndexerLog,
  ) {}

  /** Opens every wiki's index, so a missing or damaged one is queued for rebuilding at start. */
  openAll(): void {
    for (const wikiId of this.store.wikiIds()) {
      const slug = this.store.wikiSlug(wikiId);
      if (slug !== null) this.indexFor(wikiId, slug);
    }
  }

  /** Vectors held in memory across all open indexes. */
  indexedChunks(): number {
    let total = 0;
    for (const index of this.indexes.values()) total += index.size;
    return total;
  }

  /**
   * Indexes the oldest queued pages (at most `batchPages`); how many rows it took (0: none).
   * `between` runs after each page's embedding, so queries wait for one page, not a batch.
   */
  async runBatch(batchPages: number, between: () => Promise<void>): Promise<number> {
    const rows = this.store.takeQueue(batchPages);
    const byWiki = new Map<number, QueueRow[]>();
    for (const row of rows) byWiki.set(row.wikiId, [...(byWiki.get(row.wikiId) ?? []), row]);
    for (const [wikiId, wikiRows] of byWiki) {
      const slug = this.store.wikiSlug(wikiId);
      // A deleted wiki's queue rows went with it (ON DELETE CASCADE).
      if (slug === null) continue;
      const index = this.indexFor(wikiId, slug);
      const prepared: PreparedPage[] = [];
      for (const row of wikiRows) {
        prepared.push(await this.preparePage(row));
        await between();
      }
      // forgetWiki or a rebuild may have replaced the index while we awaited.
      if (this.indexes.get(wikiId) !== index || this.store.wikiSlug(wikiId) === null) continue;
      this.applyPages(wikiId, index, prepared);
    }
    return rows.length;
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

  private applyPages(wikiId: number, index: VectorIndex, pages: PreparedPage[]): void {
    const replaced = pages.flatMap((page) => this.store.chunkIdsOf(wikiId, page.row.path));
    const newIds = this.store.insertChunks(
      wikiId,
      pages.flatMap((page) => page.chunks),
    );
    try {
      index.remove(replaced);
      index.add(
        newIds,
        pages.flatMap((page) => page.vectors),
      );
      index.save();
    } catch (error) {
      // The in-memory index no longer matches its file: reopen it from disk next time.
      this.indexes.delete(wikiId);
      throw error;
    }
    this.store.completeBatch(
      replaced,
      pages.map((page) => ({ ...page.row, revision: page.revision })),
    );
  }

  async search(
    wikiId: number,
    query: string,
    limit: number,
    pathPrefix: string | undefined,
  ): Promise<SemanticSearchResult> {
    const slug = this.store.wikiSlug(wikiId);
    if (slug === null) return { hits: [], pendingPages: 0 };
    const index = this.indexFor(wikiId, slug);
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
   * The wiki's open index; opened from disk on first use. A missing, damaged or mismatched file
   * (or one of another wiki that had this slug) means the chunks cannot be trusted either: they
   * are dropped, every page is queued, and an empty index is saved so a restart resumes.
   */
  private indexFor(wikiId: number, slug: string): VectorIndex {
    const open = this.indexes.get(wikiId);
    if (open !== undefined) return open;
    const opened = openVectorIndex(wikiDir(this.dataDir, slug), this.parametersFor(wikiId));
    if (opened.kind !== "loaded") {
      const queued = this.store.resetWiki(wikiId);
      if (opened.kind === "invalid")
        this.log("warn", "search index unusable; rebuilding it", {
          wiki: slug,
          reason: opened.reason,
          queued_pages: queued,
        });
      removeVectorIndexFiles(opened.index.dir);
      if (existsSync(opened.index.dir)) opened.index.save();
    }
    this.indexes.set(wikiId, opened.index);
    return opened.index;
  }
}
