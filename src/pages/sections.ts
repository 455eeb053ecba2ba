/**
 * Finding one section of a page by its heading (issue 13): `Results`, `## Results`, or a path
 * through the headings above it, `Methods/Setup`. Case does not matter; a heading containing "/"
 * is first tried whole. The answer is unique or a reason listing the candidates with their lines,
 * so an agent can always name the section it means in its next call.
 */
import { type Heading, headingPathAt, scanHeadings, splitLines } from "./markdown.ts";

export interface Section {
  heading: Heading;
  /** The enclosing headings' texts, outermost first, this heading last. */
  headingPath: string[];
  /** 1-based and inclusive: the heading line through the line before the next heading of the
   * same or a higher level (or the page's last line). */
  lineStart: number;
  lineEnd: number;
}

export type SectionLookup =
  | { found: true; section: Section }
  | { found: false; reason: "no_headings" | "not_found" | "ambiguous"; message: string };

const LEVELED = /^(#{1,6})\s+(.+)$/;
/** Headings listed in a refusal; a page with more says how many were left out. */
const LISTED = 40;

export function locateSection(content: string, argument: string): SectionLookup {
  const lines = splitLines(content);
  const headings = scanHeadings(lines);
  const wanted = argument.trim();
  if (headings.length === 0) {
    return {
      found: false,
      reason: "no_headings",
      message: `there is no section "${wanted}": the page has no headings; read it by lines instead`,
    };
  }
  const leveled = LEVELED.exec(wanted);
  const level = leveled?.[1]?.length ?? null;
  const text = fold(leveled?.[2] ?? wanted);
  const withPath = headings.map((heading) => ({
    heading,
    path: headingPathAt(headings, heading.line),
  }));
  const levelMatches = (heading: Heading) => level === null || heading.level === level;
  let matches = withPath.filter(
    ({ heading }) => levelMatches(heading) && fold(heading.text) === text,
  );
  if (matches.length === 0 && text.includes("/")) {
    const segments = text.split("/").map(fold);
    matches = withPath.filter(
      ({ heading, path }) =>
        levelMatches(heading) &&
        path.length >= segments.length &&
        path
          .slice(path.length - segments.length)
          .every((part, index) => fold(part) === segments[index]),
    );
  }
  const listing = (candidates: readonly { heading: Heading; path: string[] }[]) =>
    `${candidates.slice(0, LISTED).map(describe).join("; ")}${candidates.length > LISTED ? `; … ${candidates.length - LISTED} more` : ""}`;
  if (matches.length === 0) {
    return {
      found: false,
      reason: "not_found",
      message: `there is no section "${wanted}"; the page's headings are: ${listing(withPath)}`,
    };
  }
  // "Results" and "results" both present: the exact spelling names one of them.
  if (matches.length > 1) {
    const exact = matches.filter(
      ({ heading }) => heading.text.trim() === (leveled?.[2] ?? wanted).trim(),
    );
    if (exact.length === 1) matches = exact;
  }
  const [only] = matches;
  if (matches.length > 1 || only === undefined) {
    return {
      found: false,
      reason: "ambiguous",
      message: `section "${wanted}" matches ${matches.length} headings: ${listing(matches)}; name it by its path (e.g. "${matches[0]?.path.join("/")}") or its level`,
    };
  }
  const next = headings.find(
    (heading) => heading.line > only.heading.line && heading.level <= only.heading.level,
  );
  return {
    found: true,
    section: {
      heading: only.heading,
      headingPath: only.path,
      lineStart: only.heading.line,
      lineEnd: next === undefined ? lines.length : next.line - 1,
    },
  };
}

function fold(text: string): string {
  return text
    .replace(/[ \t]+#+$/, "")
    .trim()
    .toLowerCase();
}

function describe({ heading, path }: { heading: Heading; path: string[] }): string {
  return `${"#".repeat(heading.level)} ${path.join("/")} (line ${heading.line})`;
}
