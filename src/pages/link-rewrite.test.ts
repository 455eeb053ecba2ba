import { describe, expect, test } from "bun:test";
import { rewriteLinks } from "./link-rewrite.ts";
import { headingPathAt, scanHeadings, splitLines } from "./markdown.ts";

describe("rewriteLinks", () => {
  const from = "Research/Topic A";
  const to = "Archive/Topic A (2026)";

  test.each([
    ["[[Research/Topic A]]", "[[Archive/Topic A (2026)]]"],
    ["[[the topic|Research/Topic A]]", "[[the topic|Archive/Topic A (2026)]]"],
    ["[[/Research/Topic A#Results]]", "[[/Archive/Topic A (2026)#Results]]"],
    ["[[research/topic a]]", "[[Archive/Topic A (2026)]]"],
    ["[see](/Research/Topic%20A)", "[see](/Archive/Topic%20A%20(2026))"],
    ['[see](/Research/Topic%20A#x "t")', '[see](/Archive/Topic%20A%20(2026)#x "t")'],
  ])("%s → %s", (link, expected) => {
    expect(rewriteLinks(`before ${link} after\n`, from, to)).toBe(`before ${expected} after\n`);
  });

  test.each([
    "[[Research/Topic AB]]",
    "[[Research]]",
    "[relative](Topic%20A)",
    "![image](/Research/Topic%20A/a/pic.png)",
    "[other](/Research/Topic%20B)",
    "[[Research/Topic A/Sub]]",
  ])("%s is left alone", (link) => {
    expect(rewriteLinks(`${link}\n`, from, to)).toBe(`${link}\n`);
  });

  test.each([
    ["![image](/Research/Topic%20A/a/pic.png)", "![image](/Archive/Topic%20A%20(2026)/a/pic.png)"],
    [
      "[data](/Research/Topic%20A/a/run%201.csv)",
      "[data](/Archive/Topic%20A%20(2026)/a/run%201.csv)",
    ],
    [
      "![thumb](/Research/topic%20a/t/pic.png/200)",
      "![thumb](/Archive/Topic%20A%20(2026)/t/pic.png/200)",
    ],
    ["[other](/Research/Topic%20B/a/pic.png)", "[other](/Research/Topic%20B/a/pic.png)"],
  ])("with its attachments moved, %s → %s", (link, expected) => {
    expect(rewriteLinks(`${link}\n`, from, to, true)).toBe(`${expected}\n`);
  });

  test("fenced code is left alone", () => {
    const content = "[[Research/Topic A]]\n```\n[[Research/Topic A]]\n```\n";
    expect(rewriteLinks(content, from, to)).toBe(
      "[[Archive/Topic A (2026)]]\n```\n[[Research/Topic A]]\n```\n",
    );
  });
});

describe("markdown headings", () => {
  test("the heading path encloses a line", () => {
    const lines = splitLines("# A\n\n## B\n\ntext\n\n## C\n\n### D\n\nmore\n");
    const headings = scanHeadings(lines);
    expect(headingPathAt(headings, 5)).toEqual(["A", "B"]);
    expect(headingPathAt(headings, 11)).toEqual(["A", "C", "D"]);
    expect(headingPathAt(headings, 1)).toEqual(["A"]);
  });

  test("closing hashes are not part of the text", () => {
    expect(scanHeadings(["## Results ##"])).toEqual([{ line: 1, level: 2, text: "Results" }]);
  });
});
