import { describe, expect, test } from "bun:test";
import { checkPagePath, pagePathOfFile, pageTitle } from "./page-path.ts";

describe("checkPagePath", () => {
  test.each([
    ["Home", "Home.md"],
    ["Research/Topic A", "Research/Topic A.md"],
    ["Research/Topic A.md", "Research/Topic A.md"],
    ["Jürgen's Notes", "Jürgen's Notes.md"],
    ["ﬁle", "file.md"], // NFKC, as Otterwiki normalises names
  ])("%s is the file %s", (input, file) => {
    const result = checkPagePath(input);
    expect(result.ok).toBe(true);
    if (result.ok) expect(result.file).toBe(file);
  });

  test.each([
    ["../x", "?"],
    ["/etc/passwd", "relative"],
    [".git/config", "?"],
    ["a/../../b", "?"],
    ["a\u0000b", "control"],
    ["a\nb", "control"],
    ["x".repeat(600), "too long"],
    ["ab/".repeat(10) + "y".repeat(250), "too long"],
    ["", "empty"],
    ["a//b", "empty segment"],
    ["a/", "empty segment"],
    [" a", "white space"],
    ["-/x", '"-"'],
    ["mcp", "reserved"],
    ["API/x", "reserved"],
    ["Page/edit", "page action"],
    ["Page/a/b", "attachment"],
    ["notes.txt", "?"],
    ["X/view/Y", "page action"],
    ["X/diff/Y/Z", "page action"],
    ["static/x", "reserved"],
    ["what?", "?"],
  ])("refuses %j", (input, why) => {
    const result = checkPagePath(input);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toContain(why);
  });
});

describe("pagePathOfFile", () => {
  test("maps page files back and ignores other files", () => {
    expect(pagePathOfFile("Research/Topic A.md")).toBe("Research/Topic A");
    expect(pagePathOfFile("image.png")).toBeNull();
    expect(pagePathOfFile("a/.hidden.md")).toBeNull();
  });
});

describe("pageTitle", () => {
  test("uses the first level-1 heading, else the last segment", () => {
    expect(pageTitle("A/B", "intro\n# The Title #\n")).toBe("The Title");
    expect(pageTitle("A/B", "no heading")).toBe("B");
  });
});
