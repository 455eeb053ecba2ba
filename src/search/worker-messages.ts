/**
 * The protocol between the server's SemanticSearch (main thread) and the search worker: a
 * discriminated union each way. Requests that expect an answer carry an id the answer repeats.
 */
import type { ModelDtype } from "./model-files.ts";
import type { SearchWorkerStatus, SemanticSearchResult } from "./search-service.ts";

export type WorkerState = SearchWorkerStatus["state"];

export interface WorkerStartOptions {
  dataDir: string;
  databasePath: string;
  modelDir: string;
  dtype: ModelDtype;
  /** Queue rows (pages) taken per batch. */
  batchPages: number;
  /** How often an idle worker looks at the queue (writes do not wake it). */
  pollMs: number;
}

export type ToWorker =
  | { type: "start"; options: WorkerStartOptions }
  | {
      type: "search";
      id: number;
      wikiId: number;
      query: string;
      limit: number;
      pathPrefix?: string;
      /** The server's request this search answers, for the worker's log lines about it. */
      requestId?: string;
    }
  /** Look at the queue now (rows were just added). */
  | { type: "wake" }
  | { type: "forget"; id: number; wikiId: number; slug: string }
  /** Finish the batch in hand, release everything, answer "stopped". */
  | { type: "stop" };

export type FromWorker =
  | { type: "state"; state: WorkerState; indexedChunks: number; error?: string }
  | { type: "search-result"; id: number; result: SemanticSearchResult }
  | { type: "search-error"; id: number; message: string }
  | { type: "forgotten"; id: number }
  /** Logged by the server's logger (the worker has none). */
  | {
      type: "log";
      level: "info" | "warn" | "error";
      message: string;
      fields?: Record<string, unknown>;
    }
  | { type: "stopped" };
