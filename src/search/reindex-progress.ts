/**
 * `bun run admin reindex`: queues every page of one wiki (or all) and follows the queue until
 * that target is drained, printing pages done / total, chunks/s and an ETA. When a server is
 * running (its search worker's pid file names a live process) that server's worker does the
 * work and this only watches the shared database; otherwise this process starts the same worker
 * and embeds in-process, exiting when done.
 */
import type { Database } from "bun:sqlite";
import { resolve } from "node:path";
import type { Logger } from "../lib/log.ts";
import { SECOND } from "../lib/time.ts";
import { ChunkStore } from "./chunk-store.ts";
import { otherWorkerHolder, startSemanticSearch } from "./search-service.ts";

export interface ReindexOptions {
  db: Database;
  dataDir: string;
  modelDir: string;
  /** null: every wiki. */
  wikiId: number | null;
  logger: Logger;
  /** A progress line; `final` marks the last one. */
  progress(line: string, final: boolean): void;
  pollMs?: number;
}

export interface ReindexResult {
  /** Who embedded: the running server's worker, or a worker in this process. */
  mode: "server" | "in-process";
  pages: number;
  chunks: number;
  seconds: number;
}

export async function reindexWithProgress(options: ReindexOptions): Promise<ReindexResult> {
  const store = new ChunkStore(options.db);
  const started = Date.now();
  const startedSeconds = Math.floor(started / SECOND);
  const total = store.enqueueAll(options.wikiId);
  const mode = otherWorkerHolder(options.dataDir) === null ? "in-process" : "server";
  const service =
    mode === "in-process"
      ? startSemanticSearch({
          db: options.db,
          dataDir: resolve(options.dataDir),
          databasePath: resolve(options.dataDir, "wikibot.db"),
          modelDir: resolve(options.modelDir),
          logger: options.logger,
        })
      : null;
  const remaining = () =>
    options.wikiId === null ? store.queueDepth() : store.queueDepth(options.wikiId);
  const chunksSince = () =>
    options.db
      .query<{ n: number }, [number, number | null]>(
        "SELECT count(*) AS n FROM chunks WHERE created_at >= ?1 AND (?2 IS NULL OR wiki_id = ?2)",
      )
      .get(startedSeconds, options.wikiId)?.n ?? 0;
  try {
    for (;;) {
      const left = remaining();
      const done = Math.max(0, total - left);
      const seconds = (Date.now() - started) / SECOND;
      const chunks = chunksSince();
      const status = service?.status();
      if (status?.state === "failed") throw new Error(status.error ?? "the search worker failed");
      if (left === 0) {
        options.progress(progressLine(total, total, chunks, seconds, mode), true);
        return { mode, pages: total, chunks, seconds: Math.round(seconds * 10) / 10 };
      }
      options.progress(progressLine(done, total, chunks, seconds, mode), false);
      await Bun.sleep(options.pollMs ?? 500);
    }
  } finally {
    await service?.stop();
  }
}

function progressLine(
  done: number,
  total: number,
  chunks: number,
  seconds: number,
  mode: ReindexResult["mode"],
): string {
  const width = 30;
  const filled = total === 0 ? width : Math.round((done / total) * width);
  const rate = seconds > 0 ? chunks / seconds : 0;
  const pagesPerSecond = seconds > 0 ? done / seconds : 0;
  const eta =
    done === total
      ? "done"
      : pagesPerSecond > 0
        ? `ETA ${formatSeconds((total - done) / pagesPerSecond)}`
        : "ETA …";
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${done}/${total} pages, ${rate.toFixed(1)} chunks/s, ${eta} (${mode === "server" ? "the running server embeds" : "embedding in this process"})`;
}

function formatSeconds(seconds: number): string {
  const s = Math.round(seconds);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
}
