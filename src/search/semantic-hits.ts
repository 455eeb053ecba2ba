/**
 * Searching a wiki by meaning, for MCP's `semantic_search` and REST's `/semantic-search`: runs
 * the vector search (and, in hybrid mode, the full-text search), fuses them (hybrid.ts), joins
 * each hit to its page's current row, and renders the one wire shape both protocols return.
 * No HTTP or MCP here; each protocol maps SearchUnavailableError to its own refusal.
 */
import { z } from "zod";
import type { SearchHit } from "../pages/page-index.ts";
import type { PageStore } from "../pages/page-store.ts";
import type { Wiki } from "../wikis/wiki-store.ts";
import { fuseRankings, RRF_K } from "./hybrid.ts";
import { plainSnippet } from "./plain-snippet.ts";
import type { SemanticHit, SemanticSearch } from "./search-service.ts";

export const SEMANTIC_SEARCH_MODES = ["semantic", "hybrid"] as const;
export type SemanticSearchMode = (typeof SEMANTIC_SEARCH_MODES)[number];
/**
 * Hybrid by default: the vector ranking finds pages by meaning, and the full-text ranking keeps
 * exact names, identifiers and rare terms (which small embedding models blur) near the top.
 * NOTE: revisit with the recall@5 / MRR figures of scripts/bench/retrieval.ts.
 */
export const DEFAULT_SEMANTIC_MODE: SemanticSearchMode = "hybrid";
export const DEFAULT_SEMANTIC_LIMIT = 10;
export const MAX_SEMANTIC_LIMIT = 50;
/**
 * How many pages each ranking contributes to the fusion, whatever the limit (semantic mode asks
 * for as many too, so hits dropped as stale still leave `limit` to show).
 */
const FUSION_DEPTH = 50;
/** The page store's most full-text hits; with a path prefix, filtered down afterwards. */
const FULLTEXT_MAX_HITS = 100;

/** What the fusion does, in one sentence for descriptions and documentation. */
export const FUSION_DESCRIPTION = `reciprocal-rank fusion of the meaning (vector) ranking and the full-text (BM25) ranking of the query as the search tool reads it (all words): score = Σ 1/(${RRF_K} + rank) over the rankings that hold the page, each contributing its top ${FUSION_DEPTH}`;

/** The search worker cannot answer (its model is missing, or it failed or stopped). */
export class SearchUnavailableError extends Error {
  override name = "SearchUnavailableError";
}

export interface SemanticSearchRequest {
  query: string;
  limit: number;
  /** Only pages whose path starts with this; null: every page. */
  pathPrefix: string | null;
  mode: SemanticSearchMode;
}

export interface MeaningHit {
  path: string;
  title: string;
  revision: string;
  headingPath: string[];
  /** 1-based, inclusive; null for a full-text-only hit that matched only the path or title. */
  lineStart: number | null;
  lineEnd: number | null;
  snippet: string;
  /** Hybrid: the fused score. Semantic: the cosine similarity. */
  score: number;
  semantic: { rank: number; score: number } | null;
  fulltext: { rank: number } | null;
}

export interface MeaningSearchAnswer {
  query: string;
  mode: SemanticSearchMode;
  /** This wiki's pages not yet (re)indexed for meaning; 0 when the index is complete. */
  pendingPages: number;
  hits: MeaningHit[];
}

export interface SemanticSearchDeps {
  pages: PageStore;
  semanticSearch: SemanticSearch;
}

const UNAVAILABLE_MESSAGE =
  "semantic search is not available on this server right now (its search worker is not running); full-text search still works";

function isDown(service: SemanticSearch): boolean {
  const state = service.state();
  return state === "failed" || state === "stopped";
}

async function vectorRanking(
  service: SemanticSearch,
  wiki: Wiki,
  request: SemanticSearchRequest,
  depth: number,
) {
  if (isDown(service)) throw new SearchUnavailableError(UNAVAILABLE_MESSAGE);
  try {
    return await service.search(wiki.id, request.query, {
      limit: depth,
      ...(request.pathPrefix === null ? {} : { pathPrefix: request.pathPrefix }),
    });
  } catch (error) {
    // A worker that died mid-query rejects and reports itself failed; anything else is a bug.
    if (isDown(service)) throw new SearchUnavailableError(UNAVAILABLE_MESSAGE, { cause: error });
    throw error;
  }
}

async function fulltextRanking(
  pages: PageStore,
  wiki: Wiki,
  request: SemanticSearchRequest,
): Promise<SearchHit[]> {
  // The question as `search` reads it (all words required). Measured on the retrieval fixture
  // (scripts/bench/retrieval.ts), this kept paraphrases at the semantic ranking (recall@5 0.974)
  // and made keyword questions exact (1.000), where any-word OR lists let noise pages in.
  const prefix = request.pathPrefix;
  const result = await pages.search(
    wiki,
    request.query,
    prefix === null ? FUSION_DEPTH : FULLTEXT_MAX_HITS,
  );
  const hits =
    prefix === null ? result.hits : result.hits.filter((hit) => hit.path.startsWith(prefix));
  return hits.slice(0, FUSION_DEPTH);
}

function linesOf(fulltext: SearchHit): { lineStart: number | null; lineEnd: number | null } {
  const lines = fulltext.lines.map((line) => line.line);
  if (lines.length === 0) return { lineStart: null, lineEnd: null };
  return { lineStart: Math.min(...lines), lineEnd: Math.max(...lines) };
}

/**
 * Searches one wiki by meaning. Hits whose page no longer exists (deleted or moved since it was
 * indexed) are dropped, and every hit carries the page's current title and revision.
 */
export async function searchByMeaning(
  deps: SemanticSearchDeps,
  wiki: Wiki,
  request: SemanticSearchRequest,
): Promise<MeaningSearchAnswer> {
  const limit = Math.max(1, Math.min(request.limit, MAX_SEMANTIC_LIMIT));
  const hybrid = request.mode === "hybrid";
  const [vector, fulltext] = await Promise.all([
    vectorRanking(deps.semanticSearch, wiki, request, FUSION_DEPTH),
    hybrid ? fulltextRanking(deps.pages, wiki, request) : Promise.resolve([]),
  ]);
  await deps.pages.ensureReady(wiki);
  const records = deps.pages.index.records(wiki.id, [
    ...new Set([...vector.hits, ...fulltext].map((hit) => hit.path)),
  ]);
  const prefix = request.pathPrefix ?? "";
  const live = vector.hits.filter((hit) => records.has(hit.path) && hit.path.startsWith(prefix));
  const fused = fuseRankings<SemanticHit, SearchHit>(live, fulltext).slice(0, limit);
  const hits: MeaningHit[] = [];
  for (const entry of fused) {
    const record = records.get(entry.path);
    if (record === undefined) continue;
    const semantic = entry.semantic?.hit ?? null;
    const where =
      semantic !== null
        ? { lineStart: semantic.lineStart, lineEnd: semantic.lineEnd }
        : entry.fulltext !== null
          ? linesOf(entry.fulltext.hit)
          : { lineStart: null, lineEnd: null };
    hits.push({
      path: record.path,
      title: record.title,
      revision: record.revision,
      headingPath: semantic?.headingPath ?? entry.fulltext?.hit.headingPath ?? [],
      ...where,
      snippet: plainSnippet(semantic?.text ?? entry.fulltext?.hit.snippet ?? ""),
      score: hybrid ? roundScore(entry.score, 5) : (semantic?.score ?? 0),
      semantic:
        entry.semantic === null
          ? null
          : { rank: entry.semantic.rank, score: entry.semantic.hit.score },
      fulltext: entry.fulltext === null ? null : { rank: entry.fulltext.rank },
    });
  }
  return { query: request.query, mode: request.mode, pendingPages: vector.pendingPages, hits };
}

function roundScore(score: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(score * scale) / scale;
}

/** The wire shape of one hit, shared by MCP's structured content and the REST response. */
export const semanticHitWire = z.object({
  path: z.string(),
  title: z.string(),
  revision: z.string().describe("The page's current revision (pass it as expected_revision)"),
  heading_path: z
    .array(z.string())
    .describe("Headings around the matching part, outermost first (empty: none)"),
  line_start: z
    .number()
    .int()
    .min(1)
    .nullable()
    .describe("First line of the matching part, 1-based (null: only the path or title matched)"),
  line_end: z
    .number()
    .int()
    .min(1)
    .nullable()
    .describe("Last line of the matching part, inclusive"),
  snippet: z.string().describe("The matching part as plain text, shortened"),
  score: z
    .number()
    .describe(
      `Ordering score. Hybrid: Σ 1/(${RRF_K} + rank) over both rankings. Semantic: the cosine similarity`,
    ),
  semantic: z
    .object({
      rank: z.number().int().min(1).describe("1-based place in the meaning ranking"),
      score: z.number().describe("Cosine similarity of the page's best part, 0..1"),
    })
    .nullable()
    .describe("The page's place in the meaning (vector) ranking; null: not in it"),
  fulltext: z
    .object({ rank: z.number().int().min(1).describe("1-based place in the full-text ranking") })
    .nullable()
    .describe("The page's place in the full-text ranking (hybrid only); null: not in it"),
});

/** The whole answer's wire shape (as a raw shape, which is what MCP tools declare). */
export const semanticSearchWireShape = {
  query: z.string(),
  mode: z.enum(SEMANTIC_SEARCH_MODES),
  indexing: z
    .object({ pending_pages: z.number().int().min(1) })
    .nullable()
    .describe(
      "Set while the wiki is still being indexed for meaning: recent changes may be missing",
    ),
  hits: z.array(semanticHitWire).describe("One per page, best first"),
};
export const semanticSearchWire = z.object(semanticSearchWireShape);
export type SemanticSearchWire = z.infer<typeof semanticSearchWire>;

export function semanticSearchJson(answer: MeaningSearchAnswer): SemanticSearchWire {
  return {
    query: answer.query,
    mode: answer.mode,
    indexing: answer.pendingPages > 0 ? { pending_pages: answer.pendingPages } : null,
    hits: answer.hits.map((hit) => ({
      path: hit.path,
      title: hit.title,
      revision: hit.revision,
      heading_path: hit.headingPath,
      line_start: hit.lineStart,
      line_end: hit.lineEnd,
      snippet: hit.snippet,
      score: hit.score,
      semantic: hit.semantic,
      fulltext: hit.fulltext,
    })),
  };
}

/** The wire shape as JSON Schema 2020-12, the dialect of OpenAPI 3.1. */
export function semanticSearchJsonSchema(): Record<string, unknown> {
  const { $schema: _dialect, ...schema } = z.toJSONSchema(semanticSearchWire, {
    target: "draft-2020-12",
  });
  return schema;
}
