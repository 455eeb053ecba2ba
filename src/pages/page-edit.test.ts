import { describe, expect, test } from "bun:test";
import { applyPageEdit, type PageEdit } from "./page-edit.ts";
import { PageError } from "./page-error.ts";

function failure(content: string, edit: PageEdit): string {
  try {
    applyPageEdit(content, edit);
  } catch (error) {
    if (error instanceof PageError && error.code === "edit_failed") return error.message;
    throw error;
  }
  throw new Error("the edit was expected to fail");
}

const page = "# Otters\n\nOtters use tools.\n\n## Diet\n\nFish.\nCrabs.\n\n## Tools\n\nRocks.\n";

describe("find and replace", () => {
  test("replaces the one exact match", () => {
    const edit: PageEdit = {
      kind: "replace",
      replacements: [{ oldText: "Fish.", newText: "Fish and clams." }],
    };
    expect(applyPageEdit(page, edit)).toBe(page.replace("Fish.", "Fish and clams."));
  });

  test("applies several edits in order, each on the previous result", () => {
    const edit: PageEdit = {
      kind: "replace",
      replacements: [
        { oldText: "Fish.", newText: "Salmon." },
        { oldText: "Salmon.\nCrabs.", newText: "Salmon and crabs." },
      ],
    };
    expect(applyPageEdit(page, edit)).toContain("\nSalmon and crabs.\n");
  });

  test("an ambiguous match names every line it matched", () => {
    const message = failure(page, {
      kind: "replace",
      replacements: [{ oldText: "Otters", newText: "Sea otters" }],
    });
    expect(message).toContain("matches 2 places (lines 1, 3)");
    expect(message).toContain("replace_all");
  });

  test("replace_all replaces every match", () => {
    const edit: PageEdit = {
      kind: "replace",
      replacements: [{ oldText: "Otters", newText: "Sea otters", replaceAll: true }],
    };
    expect(applyPageEdit(page, edit).match(/Sea otters/g)?.length).toBe(2);
  });

  test("a miss that differs only in white space says so and where", () => {
    const message = failure(page, {
      kind: "replace",
      replacements: [{ oldText: "Otters  use   tools.", newText: "x" }],
    });
    expect(message).toContain("matches when spaces and indentation are ignored (near line 3)");
  });

  test("a miss points at the most similar line", () => {
    const message = failure(page, {
      kind: "replace",
      replacements: [{ oldText: "Otters use many tools.", newText: "x" }],
    });
    expect(message).toContain('the most similar line is 3: "Otters use tools."');
  });

  test("a miss with nothing similar says to read the page again", () => {
    const message = failure(page, {
      kind: "replace",
      replacements: [{ oldText: "zebracorn", newText: "x" }],
    });
    expect(message).toContain("read it again");
  });

  test("the second edit failing fails the whole edit, naming it", () => {
    const message = failure(page, {
      kind: "replace",
      replacements: [
        { oldText: "Fish.", newText: "Salmon." },
        { oldText: "Fish.", newText: "Trout." },
      ],
    });
    expect(message).toStartWith("edit 2:");
  });

  test("an empty old_text is refused", () => {
    expect(
      failure(page, { kind: "replace", replacements: [{ oldText: "", newText: "x" }] }),
    ).toContain("old_text is empty");
  });
});

describe("append and prepend", () => {
  test("append starts a new line even when the page has no final newline", () => {
    expect(applyPageEdit("a", { kind: "append", text: "b" })).toBe("a\nb\n");
    expect(applyPageEdit("a\n", { kind: "append", text: "b\n" })).toBe("a\nb\n");
  });

  test("prepend goes after YAML front matter", () => {
    const withFrontMatter = "---\ntags: [x]\n---\n# Title\n";
    expect(applyPageEdit(withFrontMatter, { kind: "prepend", text: "Note." })).toBe(
      "---\ntags: [x]\n---\nNote.\n# Title\n",
    );
    expect(applyPageEdit("# Title\n", { kind: "prepend", text: "Note." })).toBe("Note.\n# Title\n");
  });
});

describe("replace_section", () => {
  test("replaces the body up to the next heading of the same level, keeping the heading", () => {
    const result = applyPageEdit(page, {
      kind: "replace_section",
      heading: "Diet",
      content: "Mostly fish.",
    });
    expect(result).toBe(
      "# Otters\n\nOtters use tools.\n\n## Diet\nMostly fish.\n\n## Tools\n\nRocks.\n",
    );
  });

  test("content that repeats the heading replaces it instead of duplicating it", () => {
    const result = applyPageEdit(page, {
      kind: "replace_section",
      heading: "## Tools",
      content: "## Tools\n\nRocks and shells.\n",
    });
    expect(result.match(/## Tools/g)?.length).toBe(1);
    expect(result).toEndWith("## Tools\n\nRocks and shells.\n");
  });

  test("a section includes its subsections", () => {
    const nested = "# A\n\n## B\n\ntext\n\n### C\n\nmore\n\n## D\n\nend\n";
    expect(applyPageEdit(nested, { kind: "replace_section", heading: "B", content: "new" })).toBe(
      "# A\n\n## B\nnew\n\n## D\n\nend\n",
    );
  });

  test("headings inside fenced code are not sections", () => {
    const fenced = "# A\n\n```\n# not a heading\n```\n\n## B\n\nx\n";
    const message = failure(fenced, {
      kind: "replace_section",
      heading: "not a heading",
      content: "y",
    });
    expect(message).toContain("# A (line 1); ## A/B (line 7)");
  });

  test("an ambiguous heading lists where each one is", () => {
    const twice = "# A\n\n## Notes\n\nx\n\n# B\n\n## Notes\n\ny\n";
    const message = failure(twice, { kind: "replace_section", heading: "Notes", content: "z" });
    expect(message).toContain("matches 2 headings: ## A/Notes (line 3); ## B/Notes (line 9)");
    expect(message).toContain('name it by its path (e.g. "A/Notes")');
  });

  test("a heading path names one of several same-named sections", () => {
    const twice = "# A\n\n## Notes\n\nx\n\n# B\n\n## Notes\n\ny\n";
    expect(
      applyPageEdit(twice, { kind: "replace_section", heading: "b/notes", content: "z" }),
    ).toBe("# A\n\n## Notes\n\nx\n\n# B\n\n## Notes\nz\n");
  });

  test("the exact spelling picks one of two headings that differ only in case", () => {
    const both = "## Results\n\nx\n\n## results\n\ny\n";
    expect(applyPageEdit(both, { kind: "replace_section", heading: "results", content: "z" })).toBe(
      "## Results\n\nx\n\n## results\nz\n",
    );
  });

  test("a heading is found case-insensitively when no exact match exists", () => {
    expect(
      applyPageEdit(page, { kind: "replace_section", heading: "diet", content: "Kelp." }),
    ).toContain("## Diet\nKelp.\n");
  });
});

describe("expected_replacements", () => {
  const stale = "Budget 2024.\n\nThe 2024 budget was small.\n\nSee 2024.\n";
  const replace = (count: number): PageEdit => ({
    kind: "replace",
    replacements: [{ oldText: "2024", newText: "2025", expectedCount: count }],
  });

  test("replaces every match when the count is right", () => {
    expect(applyPageEdit(stale, replace(3))).toBe(stale.replaceAll("2024", "2025"));
  });

  test("changes nothing and says where each match is when the count is wrong", () => {
    const message = failure(stale, replace(2));
    expect(message).toContain("matches 3 places (lines 1, 3, 5), not the 2 expected");
    expect(message).toContain("set expected_replacements to 3");
    expect(failure(stale, replace(4))).toContain("not the 4 expected");
  });

  test("one expected match behaves as a plain edit", () => {
    const edit: PageEdit = {
      kind: "replace",
      replacements: [{ oldText: "See 2024.", newText: "See 2025.", expectedCount: 1 }],
    };
    expect(applyPageEdit(stale, edit)).toBe(stale.replace("See 2024.", "See 2025."));
  });
});

describe("insert before or after a section", () => {
  test("before puts the lines above the heading, with a blank line after them", () => {
    expect(
      applyPageEdit(page, {
        kind: "insert",
        heading: "Tools",
        position: "before",
        text: "## Habitat\n\nKelp forests.",
      }),
    ).toBe(
      "# Otters\n\nOtters use tools.\n\n## Diet\n\nFish.\nCrabs.\n\n## Habitat\n\nKelp forests.\n\n## Tools\n\nRocks.\n",
    );
  });

  test("after puts the lines after the section's last line, above its trailing blank", () => {
    expect(
      applyPageEdit(page, {
        kind: "insert",
        heading: "## Diet",
        position: "after",
        text: "Clams.",
      }),
    ).toBe(
      "# Otters\n\nOtters use tools.\n\n## Diet\n\nFish.\nCrabs.\nClams.\n\n## Tools\n\nRocks.\n",
    );
  });

  test("after the last section appends at the end; a new heading gets a blank line above", () => {
    expect(
      applyPageEdit(page, {
        kind: "insert",
        heading: "Tools",
        position: "after",
        text: "## Sources\n\n- Estes 1989",
      }),
    ).toBe(`${page}\n## Sources\n\n- Estes 1989\n`);
  });

  test("after a section includes its subsections", () => {
    const nested = "# A\n\n## B\n\nb\n\n### C\n\nc\n\n## D\n\nd\n";
    expect(
      applyPageEdit(nested, { kind: "insert", heading: "B", position: "after", text: "more" }),
    ).toBe("# A\n\n## B\n\nb\n\n### C\n\nc\nmore\n\n## D\n\nd\n");
  });

  test("a missing or ambiguous section changes nothing and lists the headings", () => {
    expect(
      failure(page, { kind: "insert", heading: "Habitat", position: "after", text: "x" }),
    ).toContain('there is no section "Habitat"; the page\'s headings are: # Otters (line 1)');
    expect(
      failure("no headings\n", { kind: "insert", heading: "X", position: "before", text: "x" }),
    ).toContain("use edits, append or prepend instead");
  });
});

describe("hostile growth", () => {
  function tooLarge(content: string, edit: PageEdit, maxLength: number): string {
    try {
      applyPageEdit(content, edit, maxLength);
    } catch (error) {
      if (error instanceof PageError && error.code === "too_large") return error.message;
      throw error;
    }
    throw new Error("the edit was expected to be refused as too large");
  }

  test("chained replace_all edits that multiply the page are refused before the text is built", () => {
    const steps = Array.from({ length: 10 }, () => ({
      oldText: "e",
      newText: "eeeeeeeeee",
      replaceAll: true,
    }));
    const message = tooLarge(
      "e".repeat(100_000),
      { kind: "replace", replacements: steps },
      1_000_000,
    );
    expect(message).toContain("edit 2: replacing 1000000 matches");
  });

  test("expected_replacements is held to the same size limit", () => {
    const edit: PageEdit = {
      kind: "replace",
      replacements: [{ oldText: "e", newText: "e".repeat(100), expectedCount: 20_000 }],
    };
    expect(tooLarge("e".repeat(20_000), edit, 1_000_000)).toContain(
      "edit 1: replacing 20000 matches",
    );
  });
});
