import { describe, expect, test } from "bun:test";
import { locateSection } from "./sections.ts";

const PAGE = [
  "# Study", // 1
  "", // 2
  "## Methods", // 3
  "### Setup", // 4
  "Two rigs.", // 5
  "### Results", // 6
  "Pilot only.", // 7
  "## Results", // 8
  "```", // 9
  "## not a heading", // 10
  "```", // 11
  "Final numbers.", // 12
  "## Input/Output", // 13
  "Files.", // 14
].join("\n");

function found(argument: string) {
  const lookup = locateSection(PAGE, argument);
  if (!lookup.found) throw new Error(lookup.message);
  return lookup.section;
}

describe("locateSection", () => {
  test("a unique heading, any case, to the next heading of its level or higher", () => {
    expect(found("setup")).toMatchObject({
      headingPath: ["Study", "Methods", "Setup"],
      lineStart: 4,
      lineEnd: 5,
    });
    expect(found("METHODS")).toMatchObject({ lineStart: 3, lineEnd: 7 });
    expect(found("Study")).toMatchObject({ lineStart: 1, lineEnd: 14 });
  });

  test("a heading inside a code fence is not a heading", () => {
    expect(found("Study/Results")).toMatchObject({ lineStart: 8, lineEnd: 12 });
  });

  test("an ambiguous heading is refused with each candidate's path and line", () => {
    const lookup = locateSection(PAGE, "Results");
    expect(lookup).toMatchObject({ found: false, reason: "ambiguous" });
    if (lookup.found) return;
    expect(lookup.message).toContain("### Study/Methods/Results (line 6)");
    expect(lookup.message).toContain("## Study/Results (line 8)");
  });

  test("a path or a level tells them apart", () => {
    expect(found("Methods/Results")).toMatchObject({ lineStart: 6, lineEnd: 7 });
    expect(found("## Results")).toMatchObject({ lineStart: 8, lineEnd: 12 });
  });

  test("a heading with a slash is found whole", () => {
    expect(found("input/output")).toMatchObject({ lineStart: 13, lineEnd: 14 });
  });

  test("a missing section lists the headings; a page without headings says so", () => {
    const lookup = locateSection(PAGE, "Discussion");
    expect(lookup).toMatchObject({ found: false, reason: "not_found" });
    if (!lookup.found) expect(lookup.message).toContain("# Study (line 1)");
    expect(locateSection("just text\n", "Anything")).toMatchObject({
      found: false,
      reason: "no_headings",
    });
  });
});
