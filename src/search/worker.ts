/**
 * The search worker: owns the embedding model and the USearch indexes so neither model runs nor
 * index saves ever block the server's event loop. It opens its own connection to the WAL
 * database and loops: pending queries first, then one batch of `reindex_queue`. The queue is a
 * table, so a crash or restart simply resumes. No HTTP here.
 *
 * A child process (Bun.spawn with IPC), not the Bun Worker DESIGN §7 sketched: ONNX Runtime is a
 * native addon, and a test run that started and terminated ~35 Workers that loaded it ended with
 * the whole process aborting ("terminate called after throwing an instance of 'Napi::Error'",
 * Bun 1.4.4). In its own process a native failure costs only the worker, its memory is its own,
 * and it exits when the server's IPC channel closes (even after a SIGKILL of the server).
 */
import type { Database } from "bun:sqlite";
import { openDatabase } from "../db/database.ts";
import { ChunkStore } from "./chunk-store.ts";
import { type Embedder, loadEmbedder } from "./embedder.ts";
import { SearchIndexer } from "./indexer.ts";
import type { FromWorker, ToWorker, WorkerStartOptions, WorkerState } from "./worker-messages.ts";

const searches: Extract<ToWorker, { type: "search" }>[] = [];
const forgets: Extract<ToWorker, { type: "forget" }>[] = [];
let stopRequested = false;
let wakeUp: (() => void) | null = null;
let state: WorkerState = "starting";
let failure: string | undefined;

function post(message: FromWorker): void {
  process.send?.(message);
}

function log(level: "info" | "warn" | "error", message: string, fields?: Record<string, unknown>) {
  post({ type: "log", level, message, fields });
}

// The server is the only party on this channel; its messages are typed by worker-messages.ts.
process.on("message", (message: ToWorker) => {
  switch (message.type) {
    case "start":
      void run(message.options);
      break;
    case "search":
      searches.push(message);
      break;
    case "forget":
      forgets.push(message);
      break;
    case "stop":
      stopRequested = true;
      break;
    case "wake":
      break;
  }
  wakeUp?.();
});

// The server went away (stopped, crashed or was killed): nothing is left to serve. The queue
// is a table and the index is saved before its rows go, so stopping here loses nothing.
process.on("disconnect", () => process.exit(0));

// Ctrl-C and a service stop signal the whole process group, this worker included. The server
// decides when the worker stops (after the batch in hand; see SemanticSearch.stop), so the
// signals are ignored here; a server that dies without asking closes the channel above.
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => {});

/** Resolves on the next message or after `ms`. */
function idle(ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      wakeUp = null;
      resolve();
    }
    wakeUp = done;
  });
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function run(options: WorkerStartOptions): Promise<void> {
  let db: Database | null = null;
  let embedder: Embedder | null = null;
  let indexer: SearchIndexer | null = null;
  const setState = (next: WorkerState) => {
    state = next;
    post({
      type: "state",
      state,
      indexedChunks: indexer?.indexedChunks() ?? 0,
      error: failure,
    });
  };
  const answerSearches = async () => {
    for (let search = searches.shift(); search !== undefined; search = searches.shift()) {
      if (indexer === null) {
        post({ type: "search-error", id: search.id, message: failure ?? "search is starting" });
        continue;
      }
      try {
        const result = await indexer.search(
          search.wikiId,
          search.query,
          search.limit,
          search.pathPrefix,
        );
        post({ type: "search-result", id: search.id, result });
      } catch (error) {
        log("warn", "semantic search failed", {
          request_id: search.requestId,
          wiki_id: search.wikiId,
          error: errorText(error),
        });
        post({ type: "search-error", id: search.id, message: errorText(error) });
      }
    }
  };
  const answerForgets = () => {
    for (let forget = forgets.shift(); forget !== undefined; forget = forgets.shift()) {
      try {
        // Without an indexer nothing is open; the chunks go with the wiki row (ON DELETE CASCADE).
        indexer?.forget(forget.wikiId, forget.slug);
      } catch (error) {
        log("error", "could not drop a deleted wiki's search index", {
          wiki: forget.slug,
          error: errorText(error),
        });
      }
      post({ type: "forgotten", id: forget.id });
    }
  };

  try {
    db = openDatabase(options.databasePath);
    const store = new ChunkStore(db);
    embedder = await loadEmbedder({ modelDir: options.modelDir, dtype: options.dtype });
    indexer = new SearchIndexer(store, embedder, options.dataDir, log);
    indexer.checkAll();
    setState("ready");
    while (!stopRequested) {
      await answerSearches();
      answerForgets();
      let taken = 0;
      try {
        if (store.queueDepth() > 0) {
          if (state !== "indexing") setState("indexing");
          taken = await indexer.runBatch(options.batchPages, answerSearches);
          setState("indexing");
        }
      } catch (error) {
        log("error", "search indexing batch failed; retrying", { error: errorText(error) });
        await idle(options.pollMs);
      }
      if (taken === 0) {
        indexer.unloadIdle();
        if (state !== "ready") {
          // The batches' tensors and strings are garbage now; return them before idling.
          Bun.gc(true);
          setState("ready");
        }
        if (searches.length === 0 && forgets.length === 0 && !stopRequested)
          await idle(options.pollMs);
      }
    }
  } catch (error) {
    failure = errorText(error);
    setState("failed");
    // Stay up: answer queries with the reason and forget wikis until told to stop.
    while (!stopRequested) {
      await answerSearches();
      answerForgets();
      if (searches.length === 0 && forgets.length === 0 && !stopRequested) await idle(60_000);
    }
  }
  await answerSearches();
  answerForgets();
  try {
    // Pages applied since the last save: saving now spares redoing them at the next start.
    indexer?.saveAll();
  } catch (error) {
    log("error", "could not save a search index at stop; its pages are redone at start", {
      error: errorText(error),
    });
  }
  await embedder?.dispose().catch(() => undefined);
  db?.close();
  post({ type: "stopped" });
  // Nothing is left to do: closing the channel ends the process (the handler above).
  process.disconnect?.();
}
