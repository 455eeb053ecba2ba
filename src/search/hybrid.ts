/**
 * Hybrid ranking: reciprocal-rank fusion of the full-text (FTS5/BM25) and the vector ranking of
 * a wiki's pages, and the full-text query a natural-language question is turned into. Pure
 * functions only; running the two searches is semantic-hits.ts's job.
 */

/**
 * The k of reciprocal-rank fusion: a page's fused score is Σ 1 / (k + rank) over the rankings
 * that hold it (rank 1-based). 60 is the value of Cormack, Clarke & Büttcher, "Reciprocal Rank
 * Fusion outperforms Condorcet and individual Rank Learning Methods" (SIGIR 2009), where it was
 * chosen because results were insensitive to it; it keeps one list's first place from
 * outweighing agreement between both lists.
 */
export const RRF_K = 60;

export interface FusedPage<Semantic, Fulltext> {
  path: string;
  /** Σ 1 / (RRF_K + rank) over the rankings that hold the page. */
  score: number;
  semantic: { rank: number; hit: Semantic } | null;
  fulltext: { rank: number; hit: Fulltext } | null;
}

/** The reciprocal-rank contribution of one 1-based rank. */
export function reciprocalRank(rank: number): number {
  return 1 / (RRF_K + rank);
}

/**
 * Fuses two rankings (each best first; a path listed twice keeps its first place) into one,
 * best first. Equal scores go to the page with the better semantic rank, then the better
 * full-text rank, then path order, so the order never depends on input details.
 */
export function fuseRankings<Semantic extends { path: string }, Fulltext extends { path: string }>(
  semantic: readonly Semantic[],
  fulltext: readonly Fulltext[],
): FusedPage<Semantic, Fulltext>[] {
  const byPath = new Map<string, FusedPage<Semantic, Fulltext>>();
  const entryFor = (path: string) => {
    let entry = byPath.get(path);
    if (entry === undefined) {
      entry = { path, score: 0, semantic: null, fulltext: null };
      byPath.set(path, entry);
    }
    return entry;
  };
  let semanticRanked = 0;
  for (const hit of semantic) {
    const entry = entryFor(hit.path);
    if (entry.semantic !== null) continue;
    semanticRanked++;
    entry.semantic = { rank: semanticRanked, hit };
    entry.score += reciprocalRank(semanticRanked);
  }
  let fulltextRanked = 0;
  for (const hit of fulltext) {
    const entry = entryFor(hit.path);
    if (entry.fulltext !== null) continue;
    fulltextRanked++;
    entry.fulltext = { rank: fulltextRanked, hit };
    entry.score += reciprocalRank(fulltextRanked);
  }
  return [...byPath.values()].sort(
    (a, b) =>
      b.score - a.score ||
      (a.semantic?.rank ?? Number.POSITIVE_INFINITY) -
        (b.semantic?.rank ?? Number.POSITIVE_INFINITY) ||
      (a.fulltext?.rank ?? Number.POSITIVE_INFINITY) -
        (b.fulltext?.rank ?? Number.POSITIVE_INFINITY) ||
      (a.path < b.path ? -1 : a.path > b.path ? 1 : 0),
  );
}
