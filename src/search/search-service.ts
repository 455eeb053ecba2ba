/**
 * The server's side of semantic search: starts the search worker (worker.ts) and talks to it
 * through the typed messages of worker-messages.ts. Queries go to the worker and are awaited by
 * id; queueing a reindex is plain SQL here (the worker polls the queue). It never embeds or
 * touches an index itself, so nothing here blocks the event loop.
 */
import type { Database } from "bun:sqlite";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Subprocess } from "bun";
import { currentRequestId, type Logger } from "../lib/log.ts";
import { ChunkStore } from "./chunk-store.ts";
import type { ModelDtype } from "./model-files.ts";
import type { FromWorker, ToWorker, WorkerState } from "./worker-messages.ts";

export interface SemanticHit {
  path: string;
  headingPath: string[];
  /** 1-based, inclusive. */
  lineStart: number;
  lineEnd: number;
  /** Cosine similarity of the best chunk of this page, 0..1 (rounded to 3 decimals). */
  score: number;
  /** The chunk text (≤ ~1,200 chars), for a snippet. */
  text: string;
}

export interface SemanticSearchResult {
  /** One per page (best chunk), best first, at most `limit`. */
  hits: SemanticHit[];
  /** This wiki's rows still in reindex_queue (0 = fully indexed). */
  pendingPages: number;
}

export interface SearchWorkerStatus {
  state: "starting" | "ready" | "indexing" | "failed" | "stopped";
  /** Queue rows of all wikis. */
  queueDepth: number;
  indexedChunks: number;
  error?: string;
}

export interface SemanticSearch {
  search(
    wikiId: number,
    query: string,
    options: { limit: number; pathPrefix?: string },
  ): Promise<SemanticSearchResult>;
  status(): SearchWorkerStatus;
  /** The state alone, without counting the queue (per-request checks use this). */
  state(): WorkerState;
  /** Enqueue every page of one wiki (or all) for rebuilding; resolves when queued. */
  reindex(target: { wikiId: number } | "all"): Promise<{ queuedPages: number }>;
  /** Drops a deleted wiki's index files and chunks. */
  forgetWiki(wikiId: number, slug: string): Promise<void>;
  stop(): Promise<void>;
}

export interface SemanticSearchOptions {
  /** The server's connection, for queue counts and queueing. */
  db: Database;
  dataDir: string;
  databasePath: string;
  modelDir: string;
  logger: Logger;
  dtype?: ModelDtype;
  batchPages?: number;
  pollMs?: number;
  /** How long stop() waits for the batch in hand before terminating the worker. */
  stopTimeoutMs?: number;
}

/**
 * How long stop() waits for the worker's batch in hand. Well inside main.ts's 30 s shutdown
 * deadline, which also covers writes in flight and the Otterwikis: a worker still loading its
 * model on a loaded machine took the whole 30 s, and the server then exited 1 at the deadline.
 * Cutting a batch loses nothing (its pages stay queued; search-crash-windows.test.ts).
 */
const STOP_TIMEOUT_MS = 10_000;

/** The file naming the process whose worker drains the queue (the admin CLI looks at it). */
export function searchWorkerPidFile(dataDir: string): string {
  return join(dataDir, "run", "search-worker.pid");
}

/** The live process named in the pid file, if it is not this one. */
export function otherWorkerHolder(dataDir: string): number | null {
  const file = searchWorkerPidFile(dataDir);
  if (!existsSync(file)) return null;
  const pid = Number(readFileSync(file, "utf8").trim());
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return null;
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    // ESRCH: a process that died left the file behind.
    return null;
  }
}

/** DATA_DIRs whose worker this process runs (the pid file cannot tell two of ours apart). */
const claimedHere = new Set<string>();

/**
 * Claims the right to run this DATA_DIR's worker. Two workers would each hold an index in
 * memory and save it whole, the last save silently dropping the other's pages, so a second
 * claimant (a server while `admin reindex` embeds, or the reverse) is refused. `wx` makes
 * the claim itself atomic; a file left by a dead process is replaced.
 */
function claimWorker(dataDir: string): number | null {
  if (claimedHere.has(dataDir)) return process.pid;
  const file = searchWorkerPidFile(dataDir);
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const holder = otherWorkerHolder(dataDir);
  if (holder !== null) return holder;
  rmSync(file, { force: true });
  try {
    writeFileSync(file, `${process.pid}\n`, { flag: "wx" });
    claimedHere.add(dataDir);
    return null;
  } catch {
    return otherWorkerHolder(dataDir) ?? -1;
  }
}

/** Starts the worker; the model loads in the background (state "starting" until then). */
export function startSemanticSearch(options: SemanticSearchOptions): SemanticSearch {
  const holder = claimWorker(options.dataDir);
  if (holder === null) return new WorkerSemanticSearch(options);
  const error = `another process (pid ${holder}) runs the search worker for this DATA_DIR`;
  options.logger.error("semantic search is unavailable", { error });
  return new UnavailableSemanticSearch(new ChunkStore(options.db), error);
}

/** No worker here: searches are refused; queued work waits for the process that has one. */
class UnavailableSemanticSearch implements SemanticSearch {
  constructor(
    private readonly store: ChunkStore,
    private readonly error: string,
  ) {}
  search(): Promise<SemanticSearchResult> {
    return Promise.reject(new Error(`semantic search is unavailable: ${this.error}`));
  }
  state(): WorkerState {
    return "failed";
  }
  status(): SearchWorkerStatus {
    return {
      state: "failed",
      queueDepth: this.store.queueDepth(),
      indexedChunks: 0,
      error: this.error,
    };
  }
  async reindex(target: { wikiId: number } | "all"): Promise<{ queuedPages: number }> {
    return { queuedPages: this.store.enqueueAll(target === "all" ? null : target.wikiId) };
  }
  async forgetWiki(wikiId: number): Promise<void> {
    this.store.deleteWikiChunks(wikiId);
  }
  async stop(): Promise<void> {}
}

type Pending<T> = { resolve(value: T): void; reject(error: Error): void };

class WorkerSemanticSearch implements SemanticSearch {
  private readonly worker: Subprocess;
  private readonly store: ChunkStore;
  private current: WorkerState = "starting";
  private indexedChunks = 0;
  private error: string | undefined;
  private nextId = 1;
  private readonly searches = new Map<number, Pending<SemanticSearchResult>>();
  private readonly forgets = new Map<number, Pending<void>>();
  private stopped: Promise<void> | null = null;
  private resolveStopped: (() => void) | null = null;
  private readonly pidFile: string;

  constructor(private readonly options: SemanticSearchOptions) {
    this.store = new ChunkStore(options.db);
    this.pidFile = searchWorkerPidFile(options.dataDir);
    // A child process, not a Bun Worker: see worker.ts for why (native addon, isolation).
    this.worker = Bun.spawn(["bun", fileURLToPath(new URL("./worker.ts", import.meta.url))], {
      stdin: "ignore",
      stdout: "inherit",
      stderr: "inherit",
      // Our own child on our own channel; worker-messages.ts types what it sends.
      ipc: (message: FromWorker) => this.receive(message),
      onExit: (_process, exitCode, signalCode) => {
        if (this.stopped === null)
          this.fail(
            `the search worker exited (${signalCode ?? `code ${exitCode}`}); semantic search is off until the server restarts`,
          );
        this.resolveStopped?.();
      },
    });
    this.post({
      type: "start",
      options: {
        dataDir: options.dataDir,
        databasePath: options.databasePath,
        modelDir: options.modelDir,
        dtype: options.dtype ?? "fp32",
        batchPages: options.batchPages ?? 8,
        pollMs: options.pollMs ?? 500,
      },
    });
  }

  private post(message: ToWorker): void {
    if (this.worker.exitCode !== null || this.worker.signalCode !== null) return;
    this.worker.send(message);
  }

  private receive(message: FromWorker): void {
    switch (message.type) {
      case "state":
        if (message.state === "failed" && this.current !== "failed")
          this.options.logger.error("semantic search is unavailable", { error: message.error });
        this.current = message.state;
        this.indexedChunks = message.indexedChunks;
        this.error = message.error;
        if (message.state === "failed") this.rejectAll(message.error ?? "search failed");
        break;
      case "search-result":
        this.searches.get(message.id)?.resolve(message.result);
        this.searches.delete(message.id);
        break;
      case "search-error":
        this.searches.get(message.id)?.reject(new Error(message.message));
        this.searches.delete(message.id);
        break;
      case "forgotten":
        this.forgets.get(message.id)?.resolve();
        this.forgets.delete(message.id);
        break;
      case "log":
        this.options.logger[message.level](message.message, message.fields);
        break;
      case "stopped":
        this.resolveStopped?.();
        break;
    }
  }

  private fail(error: string): void {
    this.current = "failed";
    this.error = error;
    this.options.logger.error("semantic search is unavailable", { error });
    this.rejectAll(error);
  }

  private rejectAll(reason: string): void {
    for (const pending of this.searches.values()) pending.reject(new Error(reason));
    this.searches.clear();
    // A forgotten wiki's files go with its folder; nothing waits on a dead worker.
    for (const pending of this.forgets.values()) pending.resolve();
    this.forgets.clear();
  }

  search(
    wikiId: number,
    query: string,
    options: { limit: number; pathPrefix?: string },
  ): Promise<SemanticSearchResult> {
    if (this.current === "failed")
      return Promise.reject(new Error(`semantic search is unavailable: ${this.error}`));
    if (this.current === "stopped" || this.stopped !== null)
      return Promise.reject(new Error("semantic search is stopped"));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.searches.set(id, { resolve, reject });
      this.post({
        type: "search",
        id,
        wikiId,
        query,
        limit: options.limit,
        pathPrefix: options.pathPrefix,
        requestId: currentRequestId(),
      });
    });
  }

  state(): WorkerState {
    return this.current;
  }

  status(): SearchWorkerStatus {
    let queueDepth = 0;
    try {
      queueDepth = this.store.queueDepth();
    } catch {
      // The database is closed during shutdown; counts are then moot.
    }
    return {
      state: this.current,
      queueDepth,
      indexedChunks: this.indexedChunks,
      ...(this.error === undefined ? {} : { error: this.error }),
    };
  }

  async reindex(target: { wikiId: number } | "all"): Promise<{ queuedPages: number }> {
    const queuedPages = this.store.enqueueAll(target === "all" ? null : target.wikiId);
    if (this.stopped === null) this.post({ type: "wake" });
    return { queuedPages };
  }

  forgetWiki(wikiId: number, slug: string): Promise<void> {
    if (this.current === "failed" || this.stopped !== null) return Promise.resolve();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.forgets.set(id, { resolve, reject });
      this.post({ type: "forget", id, wikiId, slug });
    });
  }

  stop(): Promise<void> {
    if (this.stopped !== null) return this.stopped;
    this.stopped = (async () => {
      const finished = new Promise<void>((resolve) => {
        this.resolveStopped = resolve;
      });
      this.post({ type: "stop" });
      let timer: Timer | undefined;
      const timeout = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.options.stopTimeoutMs ?? STOP_TIMEOUT_MS);
      });
      // A worker that already exited (or exits meanwhile) has nothing left to finish.
      await Promise.race([finished, this.worker.exited, timeout]);
      clearTimeout(timer);
      // The worker exits by itself once stopped; it ignores SIGTERM (worker.ts), and its
      // batches are crash-safe, so one that did not finish in time is killed outright.
      this.worker.kill("SIGKILL");
      await this.worker.exited;
      this.current = "stopped";
      this.rejectAll("semantic search is stopped");
      claimedHere.delete(this.options.dataDir);
      // Only our own claim: a file naming another process is that process's.
      if (
        existsSync(this.pidFile) &&
        readFileSync(this.pidFile, "utf8").trim() === `${process.pid}`
      )
        rmSync(this.pidFile, { force: true });
    })();
    return this.stopped;
  }
}
