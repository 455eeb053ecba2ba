import { describe, expect, test } from "bun:test";
import { fuseRankings, RRF_K, reciprocalRank } from "./hybrid.ts";

const pages = (...paths: string[]) => paths.map((path) => ({ path }));

describe("reciprocal-rank fusion", () => {
  test("k is 60: first place is worth 1/61, second 1/62", () => {
    expect(RRF_K).toBe(60);
    expect(reciprocalRank(1)).toBe(1 / 61);
    expect(reciprocalRank(2)).toBe(1 / 62);
  });

  test("a page in both rankings sums both contributions and shows both ranks", () => {
    const fused = fuseRankings(pages("A", "B", "C"), pages("C", "D"));
    expect(fused.map((entry) => entry.path)).toEqual(["C", "A", "B", "D"]);
    const [c] = fused;
    expect(c?.score).toBe(1 / 63 + 1 / 61);
    expect(c?.semantic?.rank).toBe(3);
    expect(c?.fulltext?.rank).toBe(1);
    expect(fused.find((entry) => entry.path === "A")).toMatchObject({
      score: 1 / 61,
      semantic: { rank: 1 },
      fulltext: null,
    });
    expect(fused.find((entry) => entry.path === "D")).toMatchObject({
      semantic: null,
      fulltext: { rank: 2 },
    });
  });

  test("agreement between the rankings outweighs one ranking's first place", () => {
    const fused = fuseRankings(pages("solo", "both"), pages("other", "both"));
    expect(fused[0]?.path).toBe("both");
    expect(fused[0]?.score).toBe(2 / 62);
  });

  test("equal scores go to the better semantic rank, then the better full-text rank, then path", () => {
    // B (semantic #2) and D (full text #2) both score 1/62; A and X both score 1/61.
    const fused = fuseRankings(pages("A", "B"), pages("X", "D"));
    expect(fused.map((entry) => entry.path)).toEqual(["A", "X", "B", "D"]);
    const fulltextOnly = fuseRankings([], pages("b", "a"));
    expect(fulltextOnly.map((entry) => entry.path)).toEqual(["b", "a"]);
  });

  test("a page listed twice in one ranking keeps its first place and the ranks stay consecutive", () => {
    const fused = fuseRankings(pages("A", "A", "B"), []);
    expect(fused.map((entry) => [entry.path, entry.semantic?.rank])).toEqual([
      ["A", 1],
      ["B", 2],
    ]);
  });

  test("each entry carries the hit it came from", () => {
    const fused = fuseRankings([{ path: "P", text: "chunk" }], [{ path: "P", snippet: "fts" }]);
    expect(fused[0]?.semantic?.hit.text).toBe("chunk");
    expect(fused[0]?.fulltext?.hit.snippet).toBe("fts");
  });

  test("two empty rankings fuse to nothing", () => {
    expect(fuseRankings([], [])).toEqual([]);
  });
});
