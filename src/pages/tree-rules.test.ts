import { describe, expect, test } from "bun:test";
import { MAX_PAGE_BYTES } from "./page-rules.ts";
import { findCaseTwins, sizeProblem, treeEntryProblem } from "./tree-rules.ts";

describe("treeEntryProblem", () => {
  test.each([
    ["Home.md", "100644"],
    ["Research/Topic A.md", "100755"],
    ["images/otter.png", "100644"],
    ["README", "100644"],
    ["Research/Topic A/diagram 1.2.svg", "100644"],
  ])("%s (%s) is allowed", (path, mode) => {
    expect(treeEntryProblem(path, mode)).toBeNull();
  });

  test.each([
    ["Sub.md", "160000", "gitlink"],
    ["Secrets.md", "120000", "symbolic link"],
    ["mcp.md", "100644", "reserved"],
    ["API.md", "100644", "reserved"],
    ["a?b.md", "100644", "cannot hold"],
    ["Notes/edit.md", "100644", "page action"],
    ["ﬁle.md", "100644", "NFKC"],
    [".gitattributes", "100644", ".git"],
    ["Notes/.GITignore", "100644", ".git"],
    ["mcp/logo.png", "100644", "reserved"],
    ["v1.2/x.png", "100644", "not a name a page could have"],
    ["Notes/a/x.png", "100644", "attachment"],
    ["Bad\nName.png", "100644", "control"],
    ["Bad\uFFFDName.md", "100644", "UTF-8"],
  ])("%s (%s) is refused: %s", (path, mode, reason) => {
    expect(treeEntryProblem(path, mode)).toContain(reason);
  });
});

describe("sizeProblem", () => {
  test("pages are held to MAX_PAGE_BYTES, other files to the file limit", () => {
    expect(sizeProblem("A.md", MAX_PAGE_BYTES, 10)).toBeNull();
    expect(sizeProblem("A.md", MAX_PAGE_BYTES + 1, 10 * MAX_PAGE_BYTES)).toContain("page content");
    expect(sizeProblem("a.png", 4 * MAX_PAGE_BYTES, 4 * MAX_PAGE_BYTES)).toBeNull();
    expect(sizeProblem("a.png", 4 * MAX_PAGE_BYTES + 1, 4 * MAX_PAGE_BYTES)).toContain("limited");
  });
});

describe("findCaseTwins", () => {
  test("files, folders, a file against a folder, and Unicode forms", () => {
    expect(findCaseTwins(["Foo.md", "foo.md"])).toEqual([["Foo.md", "foo.md"]]);
    expect(findCaseTwins(["Dir/a.md", "dir/b.md"])).toEqual([["Dir", "dir"]]);
    expect(findCaseTwins(["Notes", "notes/x.md"])).toEqual([["Notes", "notes"]]);
    expect(findCaseTwins(["caf\u00e9.md", "CAFE\u0301.md"])).toHaveLength(1);
  });

  test("distinct paths and a page beside its own folder are not twins", () => {
    expect(findCaseTwins(["Foo.md", "Foo/Bar.md", "Foo/bar.png", "Baz.md"])).toEqual([]);
  });
});
