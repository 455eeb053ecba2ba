/**
 * How full-text hits are ordered: BM25 over pages_fts with its columns weighted, then a boost
 * for a title or heading made of the query's words. Pure functions; page-index.ts runs them.
 */
import { MAX_HEADINGS_CHARS } from "./markdown.ts";
import { addTerms, type ExcerptMatcher, WORD_CHAR } from "./search-excerpt.ts";

/**
 * bm25() weights of pages_fts's columns (wiki, path, title, headings, body): a word in the
 * title counts ten times a word in the text, one in a heading (or the path) five times. FTS5
 * multiplies a column's term count by its weight (https://sqlite.org/fts5.html#the_bm25_function),
 * so pages whose headings hold the terms come above pages that only mention them.
 */
export const BM25_RANK = "bm25(pages_fts, 0, 5, 10, 5, 1)";

/**
 * Pages re-ordered by boostedScore: the best this many by BM25 (or `limit`, if larger).
 * Heading matches already weigh five times in BM25, so a page whose heading is the query sits
 * well inside them.
 */
export const RERANK_DEPTH = 50;

/**
 * BM25 cannot tell "## Results" from "## Early results (62 hours of follows)": FTS5 normalises
 * by the whole page's length, never a heading's, and its saturation (k1 = 1.2) flattens the
 * heading weight, so among pages with a matching heading the shortest page won, and a long
 * report whose section is named exactly by the query came third (issue 13). Hence a boost by how
 * exactly the title, or a section heading, names the query (nameMatch: 1 when its words are
 * exactly the query's): score × (1 + TITLE_BOOST × title + SECTION_BOOST × best section
 * heading). A title names the whole page, so it counts more than a section's heading: for
 * "Decision" the page titled "Decision log" stays above pages with a "## Decision" section.
 */
const TITLE_BOOST = 1;
const SECTION_BOOST = 0.5;

const WORD = new RegExp(`${WORD_CHAR}+`, "gu");

/**
 * How well `name` (a title or heading) names the query: (its words that are query words ÷ its
 * words) × (query words found in it ÷ query words). 0 for no match, 1 for exactly the query.
 */
export function nameMatch(matcher: ExcerptMatcher, name: string): number {
  const lower = name.toLowerCase();
  // Most names hold no query word at all: a substring test rules them out before any regex.
  if (!matcher.stems.some((stem) => lower.includes(stem))) return 0;
  const words = lower.match(WORD) ?? [];
  if (words.length === 0) return 0;
  const found = new Set<number>();
  let matching = 0;
  for (const word of words) if (addTerms(found, matcher, word)) matching++;
  return (matching / words.length) * (found.size / matcher.stems.length);
}

/**
 * A hit's final score from its BM25 score (negated: higher is better), its title and its
 * headings (one a line, as in pages_fts; the title's own "# Title" line is not a section).
 */
export function boostedScore(
  bm25Score: number,
  matcher: ExcerptMatcher | null,
  title: string,
  headings: string,
): number {
  if (matcher === null) return bm25Score;
  let section = 0;
  // An index written before the cap (markdown.ts) may hold more: read no more than it allows.
  for (const heading of headings.slice(0, MAX_HEADINGS_CHARS).split("\n")) {
    if (heading !== title) section = Math.max(section, nameMatch(matcher, heading));
  }
  return bm25Score * (1 + TITLE_BOOST * nameMatch(matcher, title) + SECTION_BOOST * section);
}
