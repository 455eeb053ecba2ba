import { describe, expect, test } from "bun:test";
import { excerptMatcher, excerptOf } from "./search-excerpt.ts";
import { parseSearchQuery } from "./search-query.ts";

const excerpt = (query: string, text: string, complete = true) =>
  excerptOf(text, complete, excerptMatcher(parseSearchQuery(query)));

describe("search excerpts", () => {
  test("the best line holds the most distinct terms; matches are wrapped in **", () => {
    const text = "# Capybara\n\n## Habitat\n\nThe capybara likes rivers.\n";
    expect(excerpt("capybara rivers", text)).toEqual({
      snippet: "# **Capybara** ## Habitat The **capybara** likes **rivers**.",
      lines: [1, 5],
      best: 5,
    });
  });

  test("stemmed forms and prefixes match from a word's start, not inside it", () => {
    expect(excerpt("tools", "One tool only.\nstool\n").lines).toEqual([1]);
    expect(excerpt("otte*", "sea otters\nspotter\n").snippet).toBe("sea **otters** spotter");
  });

  test("excluded words are not highlighted", () => {
    expect(excerpt("otter -kelp", "otter kelp").snippet).toBe("**otter** kelp");
  });

  test("a long page is cut around the match and marked with …", () => {
    const text = `${"filler words here ".repeat(50)}the otter dives ${"more text ".repeat(50)}`;
    const { snippet } = excerpt("otter", text);
    expect(snippet.startsWith("…")).toBe(true);
    expect(snippet.endsWith("…")).toBe(true);
    expect(snippet).toContain("the **otter** dives");
    expect(snippet.length).toBeLessThan(260);
  });

  test("no match in the text: the page's head, no lines", () => {
    expect(excerpt("zebra", "# Title\n\nbody\n")).toEqual({
      snippet: "# Title body",
      lines: [],
      best: null,
    });
    expect(excerpt("zebra", "short", false).snippet).toBe("short…");
  });

  test("a page made of the term stops after a bounded number of matches", () => {
    const text = "otter ".repeat(200_000);
    const result = excerpt("otter", text);
    expect(result.lines).toEqual([1]);
    expect(result.snippet).toStartWith("**otter** **otter**");
  });
});
