import { describe, expect, test } from "bun:test";
import { headingsText, MAX_HEADINGS_CHARS } from "./markdown.ts";
import { excerptMatcher } from "./search-excerpt.ts";
import { parseSearchQuery } from "./search-query.ts";
import { boostedScore, nameMatch } from "./search-rank.ts";

const matcher = (query: string) => {
  const made = excerptMatcher(parseSearchQuery(query));
  if (made === null) throw new Error(`no words in ${query}`);
  return made;
};

describe("how exactly a title or heading names the query", () => {
  test("1 for exactly the query's words, in any case and word form", () => {
    expect(nameMatch(matcher("Results"), "Results")).toBe(1);
    expect(nameMatch(matcher("results"), "RESULT")).toBe(1);
    expect(nameMatch(matcher("learning rate"), "Rate, learning")).toBe(1);
  });

  test("less for a longer heading, and for a heading holding fewer of the query's words", () => {
    expect(nameMatch(matcher("Results"), "Results so far")).toBeCloseTo(1 / 3);
    expect(nameMatch(matcher("Results"), "Early results (62 hours of follows)")).toBeCloseTo(1 / 6);
    expect(nameMatch(matcher("learning rate results"), "Results")).toBeCloseTo(1 / 3);
  });

  test("0 without a query word, and for an empty heading", () => {
    expect(nameMatch(matcher("Results"), "Setup")).toBe(0);
    expect(nameMatch(matcher("Results"), "")).toBe(0);
    expect(nameMatch(matcher("Results"), "—")).toBe(0);
  });
});

describe("the boosted score", () => {
  test("an exact section heading raises the score by half, an exact title doubles it", () => {
    const results = matcher("Results");
    expect(boostedScore(2, results, "Run 42", "Run 42\nSetup\nResults")).toBe(3);
    expect(boostedScore(2, results, "Results", "Results\nSetup")).toBe(4);
    expect(boostedScore(2, results, "Run 42", "Run 42\nSetup")).toBe(2);
  });

  test("the title's own heading line does not count again as a section", () => {
    expect(boostedScore(2, matcher("Decision log"), "Decision log", "Decision log")).toBe(4);
  });

  test("no words to match (an empty query): the BM25 score as it is", () => {
    expect(boostedScore(2, null, "Results", "Results")).toBe(2);
  });
});

describe("a page of hostile headings", () => {
  test("the index keeps whole headings up to the cap, not 50,000 of them", () => {
    const page = Array.from({ length: 50_000 }, (_, index) => `## Results number ${index}`).join(
      "\n",
    );
    const kept = headingsText(page);
    expect(kept.length).toBeLessThanOrEqual(MAX_HEADINGS_CHARS);
    expect(kept.length).toBeGreaterThan(MAX_HEADINGS_CHARS - 40);
    expect(kept.split("\n").at(-1)).toMatch(/^Results number \d+$/);
  });

  test("re-ranking reads no heading past the cap, even from an index written before it", () => {
    const filler = Array.from({ length: 2_000 }, () => "Setup notes").join("\n");
    expect(filler.length).toBeGreaterThan(MAX_HEADINGS_CHARS);
    expect(boostedScore(1, matcher("Results"), "Title", `Results\n${filler}`)).toBeGreaterThan(1);
    expect(boostedScore(1, matcher("Results"), "Title", `${filler}\nResults`)).toBe(1);
  });
});
