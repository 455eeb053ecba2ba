/**
 * The per-wiki vector index on its own: USearch f32 HNSW with the worker's parameters
 * (src/search/vector-index.ts HNSW) at 10k and 100k chunks (quick: 10k only). Reports build
 * time, recall@10 against exact search over the same vectors, query p50/p99 for the index search
 * alone and for one real fp32 query embedding plus the search, and the saved file's bytes per
 * 10k chunks; the same saved graph is also searched with a narrower expansion_search for
 * comparison. The vectors are realistic rather than uniform noise (uniform vectors in 384
 * dimensions are all nearly orthogonal, the easiest case for HNSW): the fp32 embeddings of the
 * retrieval fixture's chunks, each generated vector a chunk plus part of another chunk plus
 * Gaussian noise, normalised, so they form overlapping topic clusters like a wiki's chunks.
 * The worker's indexing throughput and the server + worker memory are in scripts/bench/indexing.ts.
 * By hand: bun scripts/bench/vector-index.ts [--quick]
 */

import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BatchMatches, exactSearch, Index, MetricKind, ScalarKind } from "usearch";
import { EMBEDDING_DIMENSIONS, loadEmbedder } from "../../src/search/embedder.ts";
import { HNSW } from "../../src/search/vector-index.ts";
import { DEFAULT_MODEL_DIR, embedFixtureChunks, loadRetrievalFixture } from "./retrieval.ts";
import { percentile } from "./stats.ts";

const K = 10;
/** Per-dimension standard deviation of the noise: about 0.6 in norm against unit vectors. */
const NOISE = 0.03;
/** Each vector adds up to this fraction of a second chunk, so clusters overlap. */
const MIX = 0.5;
/** One search thread, as the worker answers one query at a time between batches. */
export const THREADS = 1;
/**
 * A narrower search (half the beam) measured on the same saved graph, for comparison: USearch takes
 * expansion_search from the Index it is loaded or viewed into, not from the file.
 */
export const OTHER_EXPANSION_SEARCH = HNSW.expansionSearch / 2;

export interface SearchQuality {
  recallAt10: number;
  searchP50Ms: number;
  searchP99Ms: number;
}

export interface IndexSizeFigures {
  count: number;
  buildMs: number;
  /** RSS growth while building (the index in memory), MiB. */
  buildRssMiB: number;
  recallAt10: number;
  searchP50Ms: number;
  searchP99Ms: number;
  /** The same saved graph searched with OTHER_EXPANSION_SEARCH. */
  other: SearchQuality;
  /** One fp32 query embedding plus the search. */
  embedSearchP50Ms: number;
  embedSearchP99Ms: number;
  fileBytes: number;
  bytesPer10k: number;
}

export interface VectorIndexFigures {
  baseVectors: number;
  recallQueries: number;
  latencyQueries: number;
  embedOnlyP50Ms: number;
  embedOnlyP99Ms: number;
  sizes: IndexSizeFigures[];
}

/** mulberry32: a small seeded generator, so every run indexes the same vectors. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` unit vectors, row-major, derived from `base` as described at the top. */
function realisticVectors(base: readonly Float32Array[], count: number, seed: number) {
  const next = random(seed);
  const gaussian = () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
  const dims = EMBEDDING_DIMENSIONS;
  const out = new Float32Array(count * dims);
  for (let row = 0; row < count; row++) {
    const a = base[Math.floor(next() * base.length)] ?? new Float32Array(dims);
    const b = base[Math.floor(next() * base.length)] ?? new Float32Array(dims);
    const weight = next() * MIX;
    let norm = 0;
    for (let d = 0; d < dims; d++) {
      const value = (a[d] ?? 0) + weight * (b[d] ?? 0) + NOISE * gaussian();
      out[row * dims + d] = value;
      norm += value * value;
    }
    const scale = 1 / Math.sqrt(norm);
    for (let d = 0; d < dims; d++) out[row * dims + d] = (out[row * dims + d] ?? 0) * scale;
  }
  return out;
}

function hnswIndex(expansionSearch: number): Index {
  return new Index({
    dimensions: EMBEDDING_DIMENSIONS,
    metric: MetricKind.Cos,
    quantization: ScalarKind.F32,
    connectivity: HNSW.connectivity,
    expansion_add: HNSW.expansionAdd,
    expansion_search: expansionSearch,
    multi: false,
  });
}

/** Recall@10 of `index` against `exact` over the row-major `queries`, and its search latency. */
function searchQuality(index: Index, queries: Float32Array, exact: BatchMatches): SearchQuality {
  const count = queries.length / EMBEDDING_DIMENSIONS;
  let found = 0;
  const searchMs: number[] = [];
  for (let q = 0; q < count; q++) {
    const query = queries.subarray(q * EMBEDDING_DIMENSIONS, (q + 1) * EMBEDDING_DIMENSIONS);
    const started = performance.now();
    const approximate = index.search(query, K, THREADS);
    searchMs.push(performance.now() - started);
    const truth = new Set(exact.get(q).keys);
    for (const key of approximate.keys) if (truth.has(key)) found++;
  }
  searchMs.sort((a, b) => a - b);
  return {
    recallAt10: found / (count * K),
    searchP50Ms: percentile(searchMs, 0.5),
    searchP99Ms: percentile(searchMs, 0.99),
  };
}

const rssMiB = () => process.memoryUsage.rss() / (1024 * 1024);

export async function benchVectorIndex(options: {
  quick: boolean;
  modelDir?: string;
}): Promise<VectorIndexFigures> {
  const { pages, queries } = loadRetrievalFixture();
  const embedder = await loadEmbedder({
    modelDir: options.modelDir ?? DEFAULT_MODEL_DIR,
    dtype: "fp32",
    verify: false,
  });
  const dir = mkdtempSync(join(tmpdir(), "wikibot-bench-usearch-"));
  try {
    const base = (await embedFixtureChunks(embedder, pages)).map((chunk) => chunk.vector);
    const recallQueries = options.quick ? 100 : 200;
    const queryVectors = realisticVectors(base, recallQueries, 2);
    const latencyTexts = Array.from(
      { length: options.quick ? 50 : 200 },
      (_, i) => queries[i % queries.length]?.query ?? "",
    );
    await embedder.embed(latencyTexts.slice(0, 4));
    const embedOnly: number[] = [];
    for (const text of latencyTexts) {
      const started = performance.now();
      await embedder.embed([text]);
      embedOnly.push(performance.now() - started);
    }
    embedOnly.sort((a, b) => a - b);

    const sizes: IndexSizeFigures[] = [];
    for (const count of options.quick ? [10_000] : [10_000, 100_000]) {
      const vectors = realisticVectors(base, count, 1);
      const keys = BigUint64Array.from({ length: count }, (_, i) => BigInt(i));
      const rssBefore = rssMiB();
      const buildStarted = performance.now();
      const index = hnswIndex(HNSW.expansionSearch);
      index.add(keys, vectors, THREADS);
      const buildMs = performance.now() - buildStarted;
      const buildRssMiB = rssMiB() - rssBefore;

      const exact = exactSearch(
        vectors,
        queryVectors,
        EMBEDDING_DIMENSIONS,
        K,
        MetricKind.Cos,
        THREADS,
      );
      if (!(exact instanceof BatchMatches)) throw new Error("exactSearch gave no batch result");
      const quality = searchQuality(index, queryVectors, exact);

      const embedSearch: number[] = [];
      for (const text of latencyTexts) {
        const started = performance.now();
        const [vector] = await embedder.embed([text]);
        if (vector === undefined) throw new Error("the embedder returned no vector");
        index.search(vector, K, THREADS);
        embedSearch.push(performance.now() - started);
      }
      embedSearch.sort((a, b) => a - b);

      const file = join(dir, `${count}.usearch`);
      index.save(file);
      const fileBytes = statSync(file).size;
      const otherIndex = hnswIndex(OTHER_EXPANSION_SEARCH);
      // view() maps the file instead of copying it, so the comparison adds little memory.
      otherIndex.view(file);
      const other = searchQuality(otherIndex, queryVectors, exact);
      sizes.push({
        count,
        buildMs,
        buildRssMiB,
        ...quality,
        other,
        embedSearchP50Ms: percentile(embedSearch, 0.5),
        embedSearchP99Ms: percentile(embedSearch, 0.99),
        fileBytes,
        bytesPer10k: (fileBytes * 10_000) / count,
      });
    }
    return {
      baseVectors: base.length,
      recallQueries,
      latencyQueries: latencyTexts.length,
      embedOnlyP50Ms: percentile(embedOnly, 0.5),
      embedOnlyP99Ms: percentile(embedOnly, 0.99),
      sizes,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await embedder.dispose();
  }
}

export function printVectorIndexFigures(figures: VectorIndexFigures): void {
  const header = [
    "chunks",
    "build",
    "build RSS",
    "recall@10",
    "search p50",
    "search p99",
    `recall@10 (es ${OTHER_EXPANSION_SEARCH})`,
    `p50 (es ${OTHER_EXPANSION_SEARCH})`,
    `p99 (es ${OTHER_EXPANSION_SEARCH})`,
    "embed+search p50",
    "embed+search p99",
    "file",
    "bytes / 10k chunks",
  ];
  const rows = figures.sizes.map((s) => [
    s.count.toLocaleString("en"),
    `${(s.buildMs / 1000).toFixed(1)} s`,
    `+${s.buildRssMiB.toFixed(0)} MiB`,
    s.recallAt10.toFixed(3),
    `${s.searchP50Ms.toFixed(3)} ms`,
    `${s.searchP99Ms.toFixed(3)} ms`,
    s.other.recallAt10.toFixed(3),
    `${s.other.searchP50Ms.toFixed(3)} ms`,
    `${s.other.searchP99Ms.toFixed(3)} ms`,
    `${s.embedSearchP50Ms.toFixed(1)} ms`,
    `${s.embedSearchP99Ms.toFixed(1)} ms`,
    `${(s.fileBytes / (1024 * 1024)).toFixed(1)} MiB`,
    `${(s.bytesPer10k / (1024 * 1024)).toFixed(2)} MiB`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  console.log(line(header));
  for (const row of rows) console.log(line(row));
  console.log(
    `(f32, cos, connectivity ${HNSW.connectivity}, expansion_add ${HNSW.expansionAdd}, expansion_search ${HNSW.expansionSearch}, ${THREADS} thread; vectors from ${figures.baseVectors} fixture chunk embeddings + mixing + noise; recall over ${figures.recallQueries} held-out vectors vs exact search; latency over ${figures.latencyQueries} fixture queries, target recall ≥ 0.98)`,
  );
  console.log(
    `fp32 query embedding alone: p50 ${figures.embedOnlyP50Ms.toFixed(1)} ms, p99 ${figures.embedOnlyP99Ms.toFixed(1)} ms`,
  );
  console.log(
    "indexing chunks/s against the model alone and server + worker memory: see the indexing section",
  );
}

if (import.meta.main) {
  console.log("## Vector index (USearch HNSW, in process)");
  printVectorIndexFigures(await benchVectorIndex({ quick: Bun.argv.includes("--quick") }));
}
