/**
 * The report's figures for the semantic-search sections: retrieval quality (retrieval.ts), the
 * vector index (vector-index.ts) and indexing in the server (indexing.ts). Kept apart from those
 * benches so their measuring code stays as it is; the stdout figures are their print functions.
 */

import { HNSW } from "../../src/search/vector-index.ts";
import type { IndexingFigures } from "./indexing.ts";
import { figure, type SectionFigures, table } from "./report.ts";
import {
  type MethodScores,
  QUERY_KINDS,
  type RetrievalFigures,
  recommendation,
} from "./retrieval.ts";
import { OTHER_EXPANSION_SEARCH, THREADS, type VectorIndexFigures } from "./vector-index.ts";

/**
 * Recall@5 and MRR@10 per method: full-text `search` as is, each fp32 method against `search`
 * (all words, what the service's hybrid fuses), and each int8 method against its fp32 twin.
 */
export function retrievalReport(result: RetrievalFigures): SectionFigures {
  const fp32 = result.variants.find((v) => v.name === "fp32");
  const scores = (name: string, s: MethodScores, reference?: { name: string; s: MethodScores }) => [
    figure(`${name} recall@5`, s.recallAt5, "", {
      reference: reference && { name: `${reference.name} recall@5`, value: reference.s.recallAt5 },
    }),
    figure(`${name} MRR@10`, s.mrrAt10, "", {
      reference: reference && { name: `${reference.name} MRR@10`, value: reference.s.mrrAt10 },
    }),
  ];
  const search = { name: "search (all words)", s: result.fulltext };
  const methods = [
    ["semantic", (v: (typeof result.variants)[number]) => v.semantic],
    ["hybrid (RRF k=60, any-word FTS)", (v: (typeof result.variants)[number]) => v.hybrid],
    ["hybrid (RRF k=60, all-words FTS)", (v: (typeof result.variants)[number]) => v.hybridAllWords],
  ] as const;
  const figures = [
    ...scores(search.name, search.s),
    ...scores("search (any word; hybrid's FTS side)", result.fulltextAnyWord),
    ...result.variants.flatMap((variant) =>
      methods.flatMap(([method, of]) =>
        scores(
          `${method} ${variant.name}`,
          of(variant),
          variant === fp32 || fp32 === undefined
            ? search
            : { name: `${method} ${fp32.name}`, s: of(fp32) },
        ),
      ),
    ),
  ];
  const rows: [string, MethodScores][] = [
    ["search (all words)", result.fulltext],
    ["search (any word)", result.fulltextAnyWord],
    ...result.variants.flatMap((variant) =>
      methods.map(([method, of]): [string, MethodScores] => [
        `${method} ${variant.name}`,
        of(variant),
      ]),
    ),
  ];
  const q = result.queries;
  return {
    figures,
    tables: [
      table(
        ["method", "recall@5", "MRR@10"],
        rows.map(([name, s]) => [name, s.recallAt5, s.mrrAt10]),
      ),
      table(
        ["method", ...QUERY_KINDS.flatMap((kind) => [`${kind} R@5`, `${kind} MRR@10`])],
        rows.map(([name, s]) => [
          name,
          ...QUERY_KINDS.flatMap((kind) => [s.byKind[kind].recallAt5, s.byKind[kind].mrrAt10]),
        ]),
        "by query kind",
      ),
    ],
    notes: [
      `${result.pages} pages (${result.words} words), ${q.paraphrase + q.keyword + q.mixed} queries (${q.paraphrase} paraphrase, ${q.mixed} mixed, ${q.keyword} keyword); chunks: ${result.variants.map((v) => `${v.chunks} embedded in ${v.embedChunksMs.toFixed(0)} ms (${v.name})`).join(", ")}`,
      ...rows
        .slice(2)
        .filter(([, s]) => s.missedAt5.length > 0)
        .map(([name, s]) => `${name} misses @5: ${s.missedAt5.map((m) => `“${m}”`).join("; ")}`),
      ...recommendation(result)
        .split("\n")
        .filter((line) => line !== ""),
    ],
  };
}

/** Per index size: recall (target ≥ 0.98) and latency, the narrower search beside the default. */
export function vectorIndexReport(result: VectorIndexFigures): SectionFigures {
  const es = HNSW.expansionSearch;
  const narrower = OTHER_EXPANSION_SEARCH;
  return {
    figures: [
      figure("fp32 query embedding alone p50", result.embedOnlyP50Ms, "ms"),
      ...result.sizes.flatMap((s) => {
        const at = `${s.count.toLocaleString("en")} chunks`;
        return [
          figure(`${at}: build`, s.buildMs / 1000, "s"),
          figure(`${at}: recall@10 (es ${es})`, s.recallAt10, "", { target: "≥ 0.98" }),
          figure(`${at}: search p50 (es ${es})`, s.searchP50Ms, "ms"),
          figure(`${at}: recall@10 (es ${narrower})`, s.other.recallAt10, "", {
            reference: { name: `recall@10 (es ${es})`, value: s.recallAt10 },
          }),
          figure(`${at}: search p50 (es ${narrower})`, s.other.searchP50Ms, "ms", {
            reference: { name: `search p50 (es ${es})`, value: s.searchP50Ms },
          }),
          figure(`${at}: embed + search p50`, s.embedSearchP50Ms, "ms", {
            reference: { name: "embedding alone p50", value: result.embedOnlyP50Ms },
          }),
          figure(`${at}: file per 10k chunks`, s.bytesPer10k / (1024 * 1024), "MiB"),
        ];
      }),
    ],
    tables: [
      table(
        [
          "chunks",
          "build s",
          "build RSS MiB",
          "recall@10",
          "search p50 ms",
          "search p99 ms",
          `recall@10 (es ${narrower})`,
          `p50 ms (es ${narrower})`,
          `p99 ms (es ${narrower})`,
          "embed+search p50 ms",
          "embed+search p99 ms",
          "file MiB",
          "MiB / 10k chunks",
        ],
        result.sizes.map((s) => [
          s.count,
          s.buildMs / 1000,
          s.buildRssMiB,
          s.recallAt10,
          s.searchP50Ms,
          s.searchP99Ms,
          s.other.recallAt10,
          s.other.searchP50Ms,
          s.other.searchP99Ms,
          s.embedSearchP50Ms,
          s.embedSearchP99Ms,
          s.fileBytes / (1024 * 1024),
          s.bytesPer10k / (1024 * 1024),
        ]),
      ),
    ],
    notes: [
      `f32, cos, connectivity ${HNSW.connectivity}, expansion_add ${HNSW.expansionAdd}, expansion_search ${es}, ${THREADS} thread; vectors from ${result.baseVectors} fixture chunk embeddings + mixing + noise; recall over ${result.recallQueries} held-out vectors vs exact search; latency over ${result.latencyQueries} fixture queries`,
    ],
  };
}

/** The worker's indexing throughput against the model alone on the same chunks, and memory. */
export function indexingReport(result: IndexingFigures): SectionFigures {
  return {
    figures: [
      figure("indexing in the server", result.indexingChunksPerSecond, "chunks/s", {
        reference: { name: "the model alone, same chunks", value: result.rawChunksPerSecond },
      }),
      figure("indexing time", result.indexingSeconds, "s"),
      figure("peak RSS while indexing, server + worker", result.peakSumMiB, "MiB"),
      figure("server VmHWM", result.serverHwmMiB, "MiB"),
      figure("worker VmHWM", result.workerHwmMiB, "MiB"),
    ],
    tables: [],
    notes: [
      `${result.pages} pages → ${result.chunks} chunks, indexed from a cold start; RSS sampled every 20 ms`,
    ],
  };
}
