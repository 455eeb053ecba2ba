import { describe, expect, test } from "bun:test";
import { excerptMatcher, excerptOf, MAX_LINE_TEXT_CHARS } from "./search-excerpt.ts";
import { parseSearchQuery } from "./search-query.ts";

const excerpt = (query: string, text: string, complete = true) =>
  excerptOf(text, complete, excerptMatcher(parseSearchQuery(query)));
const lineNumbers = (query: string, text: string) =>
  excerpt(query, text).lines.map((line) => line.line);

describe("search excerpts", () => {
  test("the best line holds the most distinct terms; the text is the page's, unmarked", () => {
    const text = "# Capybara\n\n## Habitat\n\nThe capybara likes rivers.\n";
    expect(excerpt("capybara rivers", text)).toEqual({
      snippet: "# Capybara ## Habitat The capybara likes rivers.",
      lines: [
        { line: 1, text: "# Capybara", complete: true },
        { line: 5, text: "The capybara likes rivers.", complete: true },
      ],
      best: 5,
      headingPath: ["Capybara", "Habitat"],
    });
  });

  test("a heading beats a text line with as many terms, and names the heading path", () => {
    const text =
      "# Run 42\n\nStatus: results accepted.\n\n## Setup\n\nSix values.\n\n## Results\n\n| lr | loss |\n";
    const result = excerpt("Results", text);
    expect(result.best).toBe(9);
    expect(result.headingPath).toEqual(["Run 42", "Results"]);
    expect(result.lines.map((line) => line.line)).toEqual([3, 9]);
    expect(result.snippet).toStartWith("## Results");
  });

  test("a matching heading past the first five matches is still among the lines", () => {
    const body = Array.from({ length: 8 }, (_, i) => `The sweep ${i} moved the loss.`).join("\n");
    const text = `# Notes\n\n${body}\n\n## Learning rate sweep\n\nDone.\n`;
    const lines = lineNumbers("learning rate sweep", text);
    expect(lines).toHaveLength(5);
    expect(lines).toContain(12);
    expect(excerpt("learning rate sweep", text).headingPath).toEqual([
      "Notes",
      "Learning rate sweep",
    ]);
  });

  test("a heading far down a page full of matches is still found, and wins the tie", () => {
    const body = "otter kelp\n".repeat(3000);
    const text = `# Notes\n\n${body}\n## Otter kelp\n\nEnd.\n`;
    const result = excerpt("otter kelp", text);
    expect(result.lines.map((line) => line.line)).toEqual([3, 4, 5, 6, 3004]);
    expect(result.best).toBe(3004);
    expect(result.headingPath).toEqual(["Notes", "Otter kelp"]);
  });

  test("a # line inside a code fence is a match but not a heading", () => {
    const text = "# Notes\n\nThe otter.\n\n```sh\n# otter\n```\n";
    const result = excerpt("otter", text);
    expect(result.lines.map((line) => line.line)).toEqual([3, 6]);
    expect(result.best).toBe(3);
    expect(result.headingPath).toEqual(["Notes"]);
  });

  test("a line with more terms still beats a heading with fewer", () => {
    const text = "# Otters\n\n## Diet\n\nSea otters eat kelp crabs.\n";
    const result = excerpt("otters kelp", text);
    expect(result.best).toBe(5);
    expect(result.headingPath).toEqual(["Otters", "Diet"]);
  });

  test("stemmed forms and prefixes match from a word's start, not inside it", () => {
    expect(lineNumbers("tools", "One tool only.\nstool\n")).toEqual([1]);
    expect(excerpt("otte*", "sea otters\nspotter\n").snippet).toBe("sea otters spotter");
  });

  test("excluded words do not make a line match", () => {
    expect(lineNumbers("otter -kelp", "kelp only\notter kelp")).toEqual([2]);
  });

  test("a long page is cut around the match at word boundaries, with nothing added", () => {
    const text = `${"filler words here ".repeat(50)}the otter dives ${"more text ".repeat(50)}`;
    const { snippet } = excerpt("otter", text);
    expect(snippet).toContain("the otter dives");
    expect(snippet).not.toContain("…");
    expect(snippet).not.toContain("*");
    expect(snippet.length).toBeLessThan(220);
    expect(text.replace(/\s+/g, " ")).toContain(snippet);
    expect(
      snippet
        .split(" ")
        .every((word) => /^(filler|words|here|the|otter|dives|more|text)$/.test(word)),
    ).toBe(true);
  });

  test("a long line is given as an exact part of it around the match", () => {
    const line = `${"alpha beta ".repeat(40)}the otter dives ${"gamma delta ".repeat(40)}`.trim();
    const [only] = excerpt("otter", `# Title\n${line}\n`).lines;
    expect(only?.line).toBe(2);
    expect(only?.complete).toBe(false);
    expect(only?.text).toContain("the otter dives");
    expect(line).toContain(only?.text ?? "missing");
    expect(only?.text.length).toBeLessThanOrEqual(MAX_LINE_TEXT_CHARS);
  });

  test("a short line at the end of a cut head is not complete", () => {
    expect(excerpt("otter", "the otter", false).lines).toEqual([
      { line: 1, text: "the otter", complete: false },
    ]);
  });

  test("no match in the text: the page's head, no lines", () => {
    expect(excerpt("zebra", "# Title\n\nbody\n")).toEqual({
      snippet: "# Title body",
      lines: [],
      best: null,
      headingPath: [],
    });
    expect(excerpt("zebra", "short", false).snippet).toBe("short");
  });

  test("a page made of the term stops after a bounded number of matches", () => {
    const text = "otter ".repeat(200_000);
    const result = excerpt("otter", text);
    expect(result.lines.map((line) => line.line)).toEqual([1]);
    expect(result.lines[0]?.complete).toBe(false);
    expect(result.snippet).toStartWith("otter otter");
  });
});
