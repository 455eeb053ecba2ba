import { describe, expect, test } from "bun:test";
import { grepPage, MAX_LINE_CHARS } from "./line-grep.ts";

const PAGE = {
  path: "Notes",
  revision: "abc",
  body: ["alpha", "Beta one", "gamma", "beta two", "delta", `beta ${"x".repeat(600)}`].join("\n"),
};

describe("grepPage", () => {
  test("matching lines with their numbers, case-sensitive by default", () => {
    const found = grepPage(PAGE, "beta", { ignoreCase: false, context: 0, budget: 10 });
    expect(found.count).toBe(2);
    expect(found.lines.map((line) => line.line)).toEqual([4, 6]);
    expect(found.lines[1]?.text.length).toBe(MAX_LINE_CHARS);
  });

  test("ignore_case, context lines marked as context, merged where they overlap", () => {
    const found = grepPage(PAGE, "beta", { ignoreCase: true, context: 1, budget: 10 });
    expect(found.count).toBe(3);
    expect(found.lines.map((line) => [line.line, line.match])).toEqual([
      [1, false],
      [2, true],
      [3, false],
      [4, true],
      [5, false],
      [6, true],
    ]);
  });

  test("past the budget matches are counted, not shown", () => {
    const found = grepPage(PAGE, "beta", { ignoreCase: true, context: 0, budget: 1 });
    expect(found.count).toBe(3);
    expect(found.lines).toEqual([{ line: 2, text: "Beta one", match: true }]);
    expect(grepPage(PAGE, "beta", { ignoreCase: true, context: 0, budget: 0 }).lines).toEqual([]);
  });
});
