/**
 * The raw embedding model, fp32 vs int8, on the same texts in the same run: model load time,
 * chunks/s for batches of 8/16/32 chunks of ~200 tokens, single-query latency, and peak RSS.
 * Each configuration runs in its own `bun` child so one model's memory never inflates the
 * other's peak (VmHWM is per process). Needs the model in `.models/` (`bun run setup`).
 * By hand: bun scripts/bench/embedding.ts [--quick]
 */

import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { type EmbedderOptions, loadEmbedder } from "../../src/search/embedder.ts";
import type { ModelDtype } from "../../src/search/model-files.ts";
import { type Figure, figure, type SectionFigures, table } from "./report.ts";
import { percentile } from "./stats.ts";

export const EMBEDDING_BATCH_SIZES = [8, 16, 32] as const;

export interface EmbeddingVariant {
  name: string;
  dtype: ModelDtype;
  threads?: number;
  arena?: boolean;
  maxBatchTokens?: number;
}

/** The embedder's defaults at both precisions; the bench section prints these. */
export const DEFAULT_EMBEDDING_VARIANTS: readonly EmbeddingVariant[] = [
  { name: "fp32", dtype: "fp32" },
  { name: "int8", dtype: "q8" },
];

const BatchFigure = z.object({
  batchSize: z.number(),
  chunksPerSecond: z.number(),
  peakRssMiB: z.number(),
});
const VariantFigures = z.object({
  name: z.string(),
  loadMs: z.number(),
  rssAfterLoadMiB: z.number(),
  meanTokens: z.number(),
  batches: z.array(BatchFigure),
  queryP50Ms: z.number(),
  queryP99Ms: z.number(),
  peakRssMiB: z.number(),
});
export type EmbeddingFigures = z.infer<typeof VariantFigures>;

const CHILD_FLAG = "--embedding-child";

/** Runs each variant in a child process on the same texts and returns their figures in order. */
export async function benchEmbedding(options: {
  quick: boolean;
  variants?: readonly EmbeddingVariant[];
  modelDir?: string;
}): Promise<EmbeddingFigures[]> {
  const modelDir = options.modelDir ?? join(import.meta.dir, "..", "..", ".models");
  const figures: EmbeddingFigures[] = [];
  for (const variant of options.variants ?? DEFAULT_EMBEDDING_VARIANTS) {
    const child = Bun.spawn(
      [
        process.execPath,
        import.meta.path,
        CHILD_FLAG,
        JSON.stringify({ variant, modelDir, quick: options.quick }),
      ],
      { stdin: "ignore", stdout: "pipe", stderr: "pipe" },
    );
    const [stdout, stderr, exitCode] = await Promise.all([
      new Response(child.stdout).text(),
      new Response(child.stderr).text(),
      child.exited,
    ]);
    if (exitCode !== 0) throw new Error(`embedding bench ${variant.name} failed: ${stderr.trim()}`);
    figures.push(VariantFigures.parse(JSON.parse(stdout.trim().split("\n").at(-1) ?? "")));
  }
  return figures;
}

export function printEmbeddingFigures(figures: readonly EmbeddingFigures[]): void {
  const header = [
    "variant",
    "load ms",
    "RSS after load",
    ...EMBEDDING_BATCH_SIZES.map((size) => `chunks/s @${size}`),
    ...EMBEDDING_BATCH_SIZES.map((size) => `peak RSS @${size}`),
    "query p50",
    "query p99",
  ];
  const rows = figures.map((f) => [
    f.name,
    f.loadMs.toFixed(0),
    `${f.rssAfterLoadMiB.toFixed(0)} MiB`,
    ...f.batches.map((b) => b.chunksPerSecond.toFixed(1)),
    ...f.batches.map((b) => `${b.peakRssMiB.toFixed(0)} MiB`),
    `${f.queryP50Ms.toFixed(1)} ms`,
    `${f.queryP99Ms.toFixed(1)} ms`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  ");
  console.log(line(header));
  for (const row of rows) console.log(line(row));
  const tokens = figures[0]?.meanTokens ?? 0;
  console.log(`(chunks average ${tokens.toFixed(0)} tokens; peak RSS is the child's VmHWM)`);
}

/** The report's figures: each variant after the first (fp32) is compared with it. */
export function embeddingReport(figures: readonly EmbeddingFigures[]): SectionFigures {
  const base = figures[0];
  const of = (
    variant: EmbeddingFigures,
    label: string,
    unit: string,
    value: (f: EmbeddingFigures) => number,
  ): Figure =>
    figure(`${variant.name} ${label}`, value(variant), unit, {
      reference:
        base === undefined || base === variant
          ? undefined
          : { name: `${base.name} ${label}`, value: value(base) },
    });
  return {
    figures: figures.flatMap((variant) => [
      of(variant, "model load", "ms", (f) => f.loadMs),
      ...EMBEDDING_BATCH_SIZES.map((size) =>
        of(
          variant,
          `chunks/s @${size}`,
          "chunks/s",
          (f) => f.batches.find((b) => b.batchSize === size)?.chunksPerSecond ?? Number.NaN,
        ),
      ),
      of(variant, "query p50", "ms", (f) => f.queryP50Ms),
      of(variant, "peak RSS", "MiB", (f) => f.peakRssMiB),
    ]),
    tables: [
      table(
        [
          "variant",
          "load ms",
          "RSS after load MiB",
          ...EMBEDDING_BATCH_SIZES.map((size) => `chunks/s @${size}`),
          ...EMBEDDING_BATCH_SIZES.map((size) => `peak RSS @${size} MiB`),
          "query p50 ms",
          "query p99 ms",
        ],
        figures.map((f) => [
          f.name,
          f.loadMs,
          f.rssAfterLoadMiB,
          ...f.batches.map((b) => b.chunksPerSecond),
          ...f.batches.map((b) => b.peakRssMiB),
          f.queryP50Ms,
          f.queryP99Ms,
        ]),
      ),
    ],
    notes: [
      `chunks average ${(base?.meanTokens ?? 0).toFixed(0)} tokens; peak RSS is the child's VmHWM`,
    ],
  };
}

// --- the child ---------------------------------------------------------------------------------

const SUBJECTS = [
  "the OAuth callback",
  "the git push hook",
  "the search worker",
  "a lapsed premium wiki",
  "the Otterwiki process pool",
  "sourdough hydration",
  "kelp forest transects",
  "the PLC directory",
  "token rotation",
  "the reindex queue",
];
const CLAUSES = [
  "was measured again after the restart and the numbers held",
  "fails when the session cookie is missing, so we log the reason and redirect",
  "needs a second look because the figures in the last report disagree",
  "depends on the order in which the migrations ran on the old server",
  "behaves differently on the staging machine, which has less memory",
  "was rewritten to keep the event loop free during large uploads",
  "shows the same pattern that the field notes from March describe",
  "is documented in the design note, with the trade-offs we accepted",
];

/** Deterministic research-note prose of about `words` words (≈1.3 tokens per word). */
function chunkText(seed: number, words: number): string {
  let state = seed * 2654435761;
  const next = (n: number) => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state % n;
  };
  const sentences: string[] = [];
  let count = 0;
  while (count < words) {
    const sentence = `${SUBJECTS[next(SUBJECTS.length)]} ${CLAUSES[next(CLAUSES.length)]}.`;
    sentences.push(sentence.charAt(0).toUpperCase() + sentence.slice(1));
    count += sentence.split(" ").length;
  }
  return sentences.join(" ");
}

function memoryMiB(field: "VmHWM" | "VmRSS"): number {
  const match = readFileSync("/proc/self/status", "utf8").match(
    new RegExp(`${field}:\\s+(\\d+) kB`),
  );
  return Number(match?.[1] ?? 0) / 1024;
}

/** Lowers VmHWM to the current RSS (Linux: clear_refs "5"), so each phase shows its own peak. */
function resetPeakRss(): void {
  try {
    writeFileSync("/proc/self/clear_refs", "5");
  } catch {
    // Not Linux or not permitted: peaks then accumulate, which only overstates later phases.
  }
}

async function runChild(input: { variant: EmbeddingVariant; modelDir: string; quick: boolean }) {
  const { variant, quick } = input;
  const embedderOptions: EmbedderOptions = {
    modelDir: input.modelDir,
    dtype: variant.dtype,
    threads: variant.threads,
    arena: variant.arena,
    maxBatchTokens: variant.maxBatchTokens,
    verify: false,
  };
  const loadStarted = performance.now();
  const embedder = await loadEmbedder(embedderOptions);
  const loadMs = performance.now() - loadStarted;
  const rssAfterLoadMiB = memoryMiB("VmRSS");

  const rounds = quick ? 1 : 4;
  const texts = Array.from({ length: 32 * rounds }, (_, i) => chunkText(i + 1, 150));
  const meanTokens =
    texts.reduce((sum, text) => sum + embedder.countTokens(text), 0) / texts.length;
  await embedder.embed(texts.slice(0, 8));

  const batches: z.infer<typeof BatchFigure>[] = [];
  for (const batchSize of EMBEDDING_BATCH_SIZES) {
    resetPeakRss();
    const started = performance.now();
    let embedded = 0;
    for (let offset = 0; offset + batchSize <= texts.length; offset += batchSize) {
      embedded += (await embedder.embed(texts.slice(offset, offset + batchSize))).length;
    }
    const seconds = (performance.now() - started) / 1000;
    batches.push({
      batchSize,
      chunksPerSecond: embedded / seconds,
      peakRssMiB: memoryMiB("VmHWM"),
    });
  }

  const queries = Array.from(
    { length: quick ? 20 : 200 },
    (_, i) => `how does ${SUBJECTS[i % SUBJECTS.length]} handle failures ${i}`,
  );
  const latencies: number[] = [];
  for (const query of queries) {
    const before = performance.now();
    await embedder.embed([query]);
    latencies.push(performance.now() - before);
  }
  latencies.sort((a, b) => a - b);
  const figures: EmbeddingFigures = {
    name: variant.name,
    loadMs,
    rssAfterLoadMiB,
    meanTokens,
    batches,
    queryP50Ms: percentile(latencies, 0.5),
    queryP99Ms: percentile(latencies, 0.99),
    peakRssMiB: Math.max(...batches.map((b) => b.peakRssMiB)),
  };
  await embedder.dispose();
  console.log(JSON.stringify(figures));
}

const ChildInput = z.object({
  variant: z.object({
    name: z.string(),
    dtype: z.enum(["fp32", "q8"]),
    threads: z.number().int().positive().optional(),
    arena: z.boolean().optional(),
    maxBatchTokens: z.number().int().positive().optional(),
  }),
  modelDir: z.string(),
  quick: z.boolean(),
});

if (import.meta.main) {
  const childIndex = Bun.argv.indexOf(CHILD_FLAG);
  if (childIndex !== -1) {
    await runChild(ChildInput.parse(JSON.parse(Bun.argv[childIndex + 1] ?? "")));
  } else {
    const quick = Bun.argv.includes("--quick");
    console.log("## Embedding model (fp32 vs int8, same texts, one child process each)");
    printEmbeddingFigures(await benchEmbedding({ quick }));
  }
}
