/**
 * The search worker at work inside the real server (`bun src/main.ts`, its worker a child
 * process): a wiki of the retrieval fixture's pages (copied under several folders for volume) is
 * indexed from a cold start. Reports indexing chunks/s from the first batch to an empty queue,
 * the raw model's chunks/s on the same chunks in the same batches (page by page, as the worker
 * embeds) measured in this process afterwards, their ratio, and the peak RSS of server + worker
 * sampled every 20 ms while indexing (plus each process's own VmHWM).
 * By hand: bun scripts/bench/indexing.ts [--quick]
 */

import { Database } from "bun:sqlite";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chunkPage } from "../../src/search/chunker.ts";
import { loadEmbedder } from "../../src/search/embedder.ts";
import { spawnServer } from "../../test/support/server-process.ts";
import { withBenchFixture } from "./fixtures.ts";
import { DEFAULT_MODEL_DIR, loadRetrievalFixture } from "./retrieval.ts";

export interface IndexingFigures {
  pages: number;
  chunks: number;
  indexingSeconds: number;
  indexingChunksPerSecond: number;
  rawChunksPerSecond: number;
  /** indexing ÷ raw: the share of the model's speed the whole pipeline keeps. */
  ratio: number;
  peakSumMiB: number;
  /** The same samples as proportional set size: pages the two share (the bun binary) count once. */
  peakPssSumMiB: number;
  serverHwmMiB: number;
  workerHwmMiB: number;
}

function statusMiB(pid: number, field: "VmRSS" | "VmHWM"): number {
  try {
    const match = readFileSync(`/proc/${pid}/status`, "utf8").match(
      new RegExp(`^${field}:\\s+(\\d+) kB`, "m"),
    );
    return match ? Number(match[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** Proportional set size (Linux smaps_rollup), 0 when unreadable. */
function pssMiB(pid: number): number {
  try {
    const match = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8").match(/^Pss:\s+(\d+) kB/m);
    return match ? Number(match[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8")
      .trim()
      .split(/\s+/)
      .filter((word) => word !== "")
      .map(Number);
  } catch {
    return [];
  }
}

interface SearchHealth {
  state: string;
  queue_depth: number;
}

async function searchHealth(port: number): Promise<SearchHealth | null> {
  const response = await fetch(`http://127.0.0.1:${port}/health`).catch(() => null);
  if (response === null || !response.ok) return null;
  const body: unknown = await response.json();
  const search: unknown =
    typeof body === "object" && body !== null ? Reflect.get(body, "search") : null;
  if (typeof search !== "object" || search === null) return null;
  const state: unknown = Reflect.get(search, "state");
  const depth: unknown = Reflect.get(search, "queue_depth");
  return typeof state === "string" && typeof depth === "number"
    ? { state, queue_depth: depth }
    : null;
}

export async function benchIndexing(options: {
  quick: boolean;
  modelDir?: string;
}): Promise<IndexingFigures> {
  const modelDir = options.modelDir ?? DEFAULT_MODEL_DIR;
  const { pages: fixturePages } = loadRetrievalFixture();
  const copies = options.quick ? 1 : 4;
  const pages = Array.from({ length: copies }, (_, copy) =>
    fixturePages.map((page) => ({ ...page, path: `Copy ${copy + 1}/${page.path}` })),
  ).flat();
  const dataDir = mkdtempSync(join(tmpdir(), "wikibot-bench-indexing-"));
  try {
    await withBenchFixture(dataDir, async (fixture) => {
      await fixture.wiki("corpus", {
        isPublic: false,
        tier: "premium",
        files: Object.fromEntries(pages.map((page) => [`${page.path}.md`, page.body])),
      });
    });
    const server = await spawnServer({ dataDir, env: { MODEL_DIR: modelDir } });
    if (!server.healthy) throw new Error("the server did not answer /health");
    let peakSumMiB = 0;
    let peakPssSumMiB = 0;
    let serverHwmMiB = 0;
    let workerHwmMiB = 0;
    let started = 0;
    let finished = 0;
    try {
      const serverPid = server.child.pid;
      const deadline = Date.now() + 30 * 60_000;
      while (finished === 0) {
        if (Date.now() > deadline) throw new Error("indexing did not finish in 30 minutes");
        const workers = childPids(serverPid).filter((pid) =>
          readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("worker.ts"),
        );
        const sum =
          statusMiB(serverPid, "VmRSS") +
          workers.reduce((total, pid) => total + statusMiB(pid, "VmRSS"), 0);
        peakSumMiB = Math.max(peakSumMiB, sum);
        const pss = [serverPid, ...workers].reduce((total, pid) => total + pssMiB(pid), 0);
        peakPssSumMiB = Math.max(peakPssSumMiB, pss);
        const health = await searchHealth(server.port);
        if (health?.state === "failed") throw new Error("the search worker failed");
        if (started === 0 && health?.state === "indexing") started = performance.now();
        if (started !== 0 && health?.state === "ready" && health.queue_depth === 0)
          finished = performance.now();
        serverHwmMiB = statusMiB(serverPid, "VmHWM");
        workerHwmMiB = Math.max(workerHwmMiB, ...workers.map((pid) => statusMiB(pid, "VmHWM")));
        await Bun.sleep(20);
      }
    } finally {
      server.child.kill("SIGTERM");
      await server.child.exited;
    }
    const db = new Database(join(dataDir, "wikibot.db"), { readonly: true });
    const chunks = db.query<{ n: number }, []>("SELECT count(*) AS n FROM chunks").get()?.n ?? 0;
    db.close();
    const indexingSeconds = (finished - started) / 1000;

    // The model alone on the same chunks, page by page as the worker embeds them.
    const embedder = await loadEmbedder({ modelDir, dtype: "fp32", verify: false });
    const perPage = pages.map((page) =>
      chunkPage(page.title, page.body, (text) => embedder.countTokens(text)).map(
        (chunk) => chunk.embedText,
      ),
    );
    await embedder.embed(perPage[0]?.slice(0, 2) ?? ["warm up"]);
    let rawChunks = 0;
    const rawStarted = performance.now();
    for (const texts of perPage) {
      if (texts.length > 0) await embedder.embed(texts);
      rawChunks += texts.length;
    }
    const rawSeconds = (performance.now() - rawStarted) / 1000;
    await embedder.dispose();
    const indexingChunksPerSecond = chunks / indexingSeconds;
    const rawChunksPerSecond = rawChunks / rawSeconds;
    return {
      pages: pages.length,
      chunks,
      indexingSeconds,
      indexingChunksPerSecond,
      rawChunksPerSecond,
      ratio: indexingChunksPerSecond / rawChunksPerSecond,
      peakSumMiB,
      peakPssSumMiB,
      serverHwmMiB,
      workerHwmMiB,
    };
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export function printIndexingFigures(f: IndexingFigures): void {
  console.log(
    `${f.pages} pages → ${f.chunks} chunks indexed in ${f.indexingSeconds.toFixed(1)} s: ${f.indexingChunksPerSecond.toFixed(1)} chunks/s; the model alone on the same chunks: ${f.rawChunksPerSecond.toFixed(1)} chunks/s; ratio ${f.ratio.toFixed(2)}`,
  );
  console.log(
    `peak while indexing (sampled every 20 ms): server + worker RSS ${f.peakSumMiB.toFixed(0)} MiB, PSS ${f.peakPssSumMiB.toFixed(0)} MiB; VmHWM server ${f.serverHwmMiB.toFixed(0)} MiB, worker ${f.workerHwmMiB.toFixed(0)} MiB`,
  );
}

if (import.meta.main)
  printIndexingFigures(await benchIndexing({ quick: Bun.argv.includes("--quick") }));
