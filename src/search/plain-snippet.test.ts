import { describe, expect, test } from "bun:test";
import { plainSnippet } from "./plain-snippet.ts";

describe("plain snippets", () => {
  test("links keep their words, wiki links their shown text, and emphasis and code lose their marks", () => {
    expect(
      plainSnippet(
        "See [the paper](https://example.org/p.pdf) and [[Kelp Forests]] or [[the survey|Research/Survey]]: **bold**, _italic_, `code`, ~~gone~~ ![a map](m.png).",
      ),
    ).toBe("See the paper and Kelp Forests or the survey: bold, italic, code, gone a map.");
  });

  test("headings, list and quote markers, fences, table rules and tags are dropped", () => {
    const markdown = [
      "# Title",
      "## Section",
      "- first item",
      "1. numbered",
      "- [x] done task",
      "> quoted",
      "```ts",
      "const x = 1;",
      "```",
      "| a | b |",
      "|---|:-:|",
      "| 1 | 2 |",
      "line<br>break",
    ].join("\n");
    expect(plainSnippet(markdown)).toBe(
      "first item numbered done task quoted const x = 1; a b 1 2 line break",
    );
  });

  test("words joined by underscores or stars stay as written", () => {
    expect(plainSnippet("set max_tokens to 2*3 and use snake_case_names")).toBe(
      "set max_tokens to 2*3 and use snake_case_names",
    );
  });

  test("a chunk that is only headings shows the headings", () => {
    expect(plainSnippet("# Kelp\n\n## Growth rates\n")).toBe("Kelp Growth rates");
  });

  test("long text is cut at a word boundary with an ellipsis", () => {
    const words = Array.from({ length: 100 }, (_, index) => `word${index}`).join(" ");
    const snippet = plainSnippet(words, 50);
    expect(snippet.endsWith("…")).toBe(true);
    expect(snippet.length).toBeLessThanOrEqual(51);
    expect(words.startsWith(snippet.slice(0, -1))).toBe(true);
    expect(words.charAt(snippet.length - 1)).toBe(" ");
  });

  test("a full-text snippet's match markers and ellipses read as plain text", () => {
    expect(plainSnippet("…the **otters** ate **kelp** near…")).toBe("…the otters ate kelp near…");
  });

  test("heading and fence markers inside an already joined excerpt are dropped too", () => {
    expect(
      plainSnippet("…then sign in. ## Claude Code Make a token: ```sh claude mcp add ``` C# #1"),
    ).toBe("…then sign in. Claude Code Make a token: claude mcp add C# #1");
  });
});
