/**
 * The chunker, counting tokens with the real model's tokenizer (from the project's .models/).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { CHUNK_MAX_TOKENS, chunkPage, MAX_CHUNKS_PER_PAGE } from "./chunker.ts";
import { type Embedder, loadEmbedder } from "./embedder.ts";

let embedder: Embedder;
let count: (text: string) => number;

beforeAll(async () => {
  embedder = await loadEmbedder({
    modelDir: join(import.meta.dir, "..", "..", ".models"),
    dtype: "fp32",
    verify: false,
  });
  count = (text) => embedder.countTokens(text);
});
afterAll(() => embedder.dispose());

const sentence = (i: number) =>
  `Observation ${i}: the otters moved their den upstream after the spring flood receded.`;

describe("chunkPage", () => {
  test("one chunk per heading-scoped section, heading line included, with its path and lines", () => {
    const body = [
      "Intro line before any heading.", // 1
      "", // 2
      "# Field notes", // 3
      "Otters seen at dawn.", // 4
      "## Weather", // 5
      "Cold and windy.", // 6
      "", // 7
      "## Tides", // 8
      "```", // 9
      "# not a heading inside a fence", // 10
      "```", // 11
      "# Summary", // 12
      "All good.", // 13
    ].join("\n");
    const chunks = chunkPage("Otter log", body, count);
    expect(
      chunks.map((c) => ({ path: c.headingPath, start: c.lineStart, end: c.lineEnd })),
    ).toEqual([
      { path: [], start: 1, end: 2 },
      { path: ["Field notes"], start: 3, end: 4 },
      { path: ["Field notes", "Weather"], start: 5, end: 7 },
      { path: ["Field notes", "Tides"], start: 8, end: 11 },
      { path: ["Summary"], start: 12, end: 13 },
    ]);
    expect(chunks[2]?.text).toBe("## Weather\nCold and windy.\n");
    expect(chunks[2]?.embedText).toBe(
      "Otter log › Field notes › Weather\n## Weather\nCold and windy.\n",
    );
  });

  test("a page without headings is one section under the page's title", () => {
    const chunks = chunkPage("Reading list", "First book.\nSecond book.\n", count);
    expect(chunks).toHaveLength(1);
    expect(chunks[0]).toMatchObject({ headingPath: [], lineStart: 1, lineEnd: 2 });
    expect(chunks[0]?.embedText.startsWith("Reading list\n")).toBe(true);
  });

  test("blank pages and blank sections give no chunks", () => {
    expect(chunkPage("Empty", "", count)).toEqual([]);
    expect(chunkPage("Empty", "\n\n  \n", count)).toEqual([]);
    const chunks = chunkPage("T", "   \n# A\ntext\n", count);
    expect(chunks.map((c) => c.lineStart)).toEqual([2]);
  });

  test("a long section is split within the token budget, with overlapping lines", () => {
    const lines = ["# Long section", ...Array.from({ length: 60 }, (_, i) => sentence(i + 1))];
    const chunks = chunkPage("Otter log", lines.join("\n"), count);
    expect(chunks.length).toBeGreaterThan(2);
    for (const chunk of chunks) {
      expect(count(chunk.embedText)).toBeLessThanOrEqual(CHUNK_MAX_TOKENS);
      expect(chunk.headingPath).toEqual(["Long section"]);
    }
    expect(chunks[0]?.lineStart).toBe(1);
    expect(chunks.at(-1)?.lineEnd).toBe(61);
    for (let i = 1; i < chunks.length; i++) {
      const previous = chunks[i - 1];
      const current = chunks[i];
      if (previous === undefined || current === undefined) throw new Error("no chunk");
      // Overlap: the next piece starts on a line the previous one already covered, and moves on.
      expect(current.lineStart).toBeLessThanOrEqual(previous.lineEnd);
      expect(current.lineStart).toBeGreaterThan(previous.lineStart);
      expect(current.lineEnd).toBeGreaterThan(previous.lineEnd);
    }
    // Every line is in some chunk.
    const covered = new Set(chunks.flatMap((c) => range(c.lineStart, c.lineEnd)));
    expect(covered.size).toBe(61);
  });

  test("a single line longer than the budget is cut between words", () => {
    const paragraph = Array.from({ length: 40 }, (_, i) => sentence(i)).join(" ");
    const chunks = chunkPage("Wall of text", paragraph, count);
    expect(chunks.length).toBeGreaterThan(1);
    for (const chunk of chunks) {
      expect(count(chunk.embedText)).toBeLessThanOrEqual(CHUNK_MAX_TOKENS);
      expect(chunk).toMatchObject({ lineStart: 1, lineEnd: 1 });
    }
    expect(chunks.map((c) => c.embedText).join(" ")).toContain("Observation 39:");
  });

  test("snippet text is capped while the embedded text is not", () => {
    const line = "international ".repeat(150).trim();
    const chunks = chunkPage("T", line, count);
    expect(chunks).toHaveLength(1);
    expect(chunks[0]?.text.length).toBeLessThanOrEqual(1200);
    expect(chunks[0]?.embedText.length).toBeGreaterThan(2000);
  });

  test("text without spaces longer than the window is cut into parts, none of it lost", () => {
    // Chinese: no whitespace, one word piece per character for BERT's tokenizer.
    const line = "水獭在春季洪水后把巢穴搬到了上游".repeat(60);
    const chunks = chunkPage("水獭", line, count);
    expect(chunks.length).toBeGreaterThan(2);
    for (const chunk of chunks)
      expect(count(chunk.embedText)).toBeLessThanOrEqual(CHUNK_MAX_TOKENS);
    // Parts rejoin with spaces; every character is in some chunk, in order.
    const seen = chunks.map((c) => c.embedText.split("\n").slice(1).join("").replace(/ /g, ""));
    expect(seen.join("").length).toBeGreaterThanOrEqual(line.length);
    expect(seen.at(-1)?.endsWith("上游")).toBe(true);
  });

  test("a page is embedded up to MAX_CHUNKS_PER_PAGE chunks, the first ones", () => {
    const sections = Array.from(
      { length: MAX_CHUNKS_PER_PAGE + 40 },
      (_, i) => `## Section ${i}\n\n${sentence(i)}`,
    ).join("\n\n");
    const chunks = chunkPage("Huge", sections, count);
    expect(chunks).toHaveLength(MAX_CHUNKS_PER_PAGE);
    expect(chunks[0]?.headingPath).toEqual(["Section 0"]);
    expect(chunks.at(-1)?.headingPath).toEqual([`Section ${MAX_CHUNKS_PER_PAGE - 1}`]);
  });
});

function range(start: number, end: number): number[] {
  return Array.from({ length: end - start + 1 }, (_, i) => start + i);
}
