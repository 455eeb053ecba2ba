/**
 * Targeted changes to a page's text: exact find/replace, append, prepend, replacing the body of
 * a section and inserting text before or after one. Pure functions over strings; the page store applies them under the write gate,
 * so an edit always lands on the text it was checked against. A failed edit throws a PageError
 * ("edit_failed") that says where the text was or was not found, so the caller can fix it.
 */

import { scanHeadings, splitLines } from "./markdown.ts";
import { PageError } from "./page-error.ts";
import { locateSection, type Section } from "./sections.ts";

export interface TextReplacement {
  oldText: string;
  newText: string;
  /** Replace every occurrence instead of requiring exactly one. */
  replaceAll?: boolean;
  /**
   * Replace every occurrence, and only if there are exactly this many: an agent that counted
   * three stale mentions learns of a fourth instead of silently changing it (issue 13).
   */
  expectedCount?: number;
}

export type PageEdit =
  | { kind: "replace"; replacements: readonly TextReplacement[] }
  | { kind: "append"; text: string }
  | { kind: "prepend"; text: string }
  | { kind: "replace_section"; heading: string; content: string }
  | { kind: "insert"; heading: string; position: "before" | "after"; text: string };

/**
 * Applies `edit` to `content`. `maxLength` bounds every intermediate text, in UTF-16 code units:
 * chained `replace_all` edits multiply a page's size (ten "e" → "eeeeeeeeee" steps turn 1 MB
 * into 10^10 characters), so each step is sized before it is built and refused once it would
 * pass the limit, instead of building the string and checking it at the end.
 */
export function applyPageEdit(content: string, edit: PageEdit, maxLength = Infinity): string {
  switch (edit.kind) {
    case "replace":
      return edit.replacements.reduce(
        (text, replacement, index) => applyReplacement(text, replacement, index + 1, maxLength),
        content,
      );
    case "append":
      return appendText(content, edit.text);
    case "prepend":
      return prependText(content, edit.text);
    case "replace_section":
      return replaceSection(content, edit.heading, edit.content);
    case "insert":
      return insertAtSection(content, edit.heading, edit.position, edit.text);
  }
}

const withNewline = (text: string) => (text.endsWith("\n") ? text : `${text}\n`);

/** 1-based line of a character offset. */
function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let index = text.indexOf("\n"); index !== -1 && index < offset; ) {
    line += 1;
    index = text.indexOf("\n", index + 1);
  }
  return line;
}

function occurrences(text: string, needle: string): number[] {
  const found: number[] = [];
  for (let at = text.indexOf(needle); at !== -1; at = text.indexOf(needle, at + needle.length)) {
    found.push(at);
  }
  return found;
}

function applyReplacement(
  text: string,
  replacement: TextReplacement,
  number: number,
  maxLength: number,
): string {
  const { oldText, newText } = replacement;
  if (oldText.length === 0) {
    throw new PageError(
      "edit_failed",
      `edit ${number}: old_text is empty; use append or prepend to add text, or write_note to replace the page`,
    );
  }
  const found = occurrences(text, oldText);
  if (found.length === 0) throw new PageError("edit_failed", missingMatch(text, oldText, number));
  const expected = replacement.expectedCount;
  if (expected !== undefined && found.length !== expected) {
    const lines = found.slice(0, 10).map((offset) => lineAt(text, offset));
    throw new PageError(
      "edit_failed",
      `edit ${number}: old_text matches ${found.length} place${found.length === 1 ? "" : "s"} (line${found.length === 1 ? "" : "s"} ${lines.join(", ")}${found.length > 10 ? ", …" : ""}), not the ${expected} expected; nothing was changed. Read those lines and set expected_replacements to ${found.length} if every one should change, or make old_text longer to pick the ones you mean`,
    );
  }
  if (found.length > 1 && replacement.replaceAll !== true && expected === undefined) {
    const lines = found.slice(0, 10).map((offset) => lineAt(text, offset));
    throw new PageError(
      "edit_failed",
      `edit ${number}: old_text matches ${found.length} places (lines ${lines.join(", ")}${found.length > 10 ? ", …" : ""}); include more of the surrounding text so it matches exactly one, or set replace_all to true`,
    );
  }
  const resultLength = text.length + found.length * (newText.length - oldText.length);
  if (resultLength > maxLength) {
    throw new PageError(
      "too_large",
      `edit ${number}: replacing ${found.length} match${found.length === 1 ? "" : "es"} would make the page ${resultLength} characters long; the limit is ${maxLength}`,
    );
  }
  if (found.length > 1) return text.split(oldText).join(newText);
  const at = found[0] ?? 0;
  return text.slice(0, at) + newText + text.slice(at + oldText.length);
}

const collapseSpace = (text: string) =>
  text
    .replace(/[ \t]+/g, " ")
    .replace(/ ?\n ?/g, "\n")
    .trim();

const words = (text: string) => new Set(text.toLowerCase().match(/[\p{L}\p{N}_]+/gu) ?? []);

/** Explains a miss: a whitespace-only difference, or the most similar line, or neither. */
function missingMatch(text: string, oldText: string, number: number): string {
  const prefix = `edit ${number}: old_text was not found`;
  const lines = splitLines(text);
  const firstLine = oldText.split("\n").find((line) => line.trim().length > 0) ?? oldText;
  if (collapseSpace(text).includes(collapseSpace(oldText))) {
    const target = collapseSpace(firstLine);
    const line = lines.findIndex((candidate) => collapseSpace(candidate) === target) + 1;
    return `${prefix} exactly, but it matches when spaces and indentation are ignored${line > 0 ? ` (near line ${line})` : ""}; copy the text exactly as read_note shows it, without the line numbers`;
  }
  const wanted = words(firstLine.slice(0, 500));
  let best = { line: 0, score: 0 };
  if (wanted.size > 0) {
    for (const [index, candidate] of lines.entries()) {
      const have = words(candidate.slice(0, 500));
      let shared = 0;
      for (const word of wanted) if (have.has(word)) shared += 1;
      const score = shared / (wanted.size + have.size - shared);
      if (score > best.score) best = { line: index + 1, score };
    }
  }
  if (best.score >= 0.5) {
    const shown = (lines[best.line - 1] ?? "").slice(0, 200);
    return `${prefix}; the most similar line is ${best.line}: ${JSON.stringify(shown)}. Read the page again and copy old_text exactly`;
  }
  return `${prefix} and no line resembles it; the page may have changed, so read it again (read_note)`;
}

function appendText(content: string, text: string): string {
  if (text.length === 0) return content;
  const separator = content.length === 0 || content.endsWith("\n") ? "" : "\n";
  return content + separator + withNewline(text);
}

/** Prepends after YAML front matter, which must stay first for the tools that read it. */
function prependText(content: string, text: string): string {
  if (text.length === 0) return content;
  const lines = splitLines(content);
  let insertAfter = 0;
  if (lines[0] === "---") {
    const close = lines.findIndex((line, index) => index > 0 && (line === "---" || line === "..."));
    if (close > 0) insertAfter = close + 1;
  }
  const before = lines.slice(0, insertAfter);
  const rest = content.split("\n").slice(insertAfter).join("\n");
  const head = before.length > 0 ? `${before.join("\n")}\n` : "";
  return head + withNewline(text) + rest;
}

/** The one section `argument` names, or an edit_failed error listing the page's headings. */
function sectionFor(content: string, argument: string): Section {
  const lookup = locateSection(content, argument);
  if (lookup.found) return lookup.section;
  const hint =
    lookup.reason === "no_headings"
      ? "; use edits, append or prepend instead"
      : lookup.reason === "ambiguous"
        ? ", or use edits with old_text"
        : "";
  throw new PageError("edit_failed", `${lookup.message}${hint}`);
}

/**
 * Replaces the body of the section under `heading` (up to the next heading of the same or a
 * higher level). If `content` starts with that same heading, the heading line is replaced too,
 * so passing a whole section back never duplicates its heading.
 */
function replaceSection(content: string, headingArgument: string, body: string): string {
  const lines = splitLines(content);
  const section = sectionFor(content, headingArgument);
  const bodyLines = splitLines(withNewline(body));
  const firstBodyHeading = scanHeadings(bodyLines.slice(0, 1))[0];
  const replacesHeading =
    firstBodyHeading !== undefined &&
    firstBodyHeading.text.toLowerCase() === section.heading.text.toLowerCase();
  const kept = lines.slice(0, replacesHeading ? section.lineStart - 1 : section.lineStart);
  const replacement = [...bodyLines];
  const hasNext = section.lineEnd < lines.length;
  // Keep one blank line before the next heading, as the section had, for readable source.
  if (hasNext && replacement.at(-1)?.trim() !== "") replacement.push("");
  return `${[...kept, ...replacement, ...lines.slice(section.lineEnd)].join("\n")}\n`;
}

/**
 * Inserts `text` as lines just above the section's heading ("before") or just after its last
 * line, subsections included ("after"), with a blank line between it and a following heading.
 */
function insertAtSection(
  content: string,
  headingArgument: string,
  position: "before" | "after",
  text: string,
): string {
  if (text.length === 0) return content;
  const lines = splitLines(content);
  const section = sectionFor(content, headingArgument);
  const inserted = splitLines(withNewline(text));
  let at: number;
  if (position === "before") {
    at = section.lineStart - 1;
    if (inserted.at(-1)?.trim() !== "") inserted.push("");
  } else {
    // Above the section's trailing blank lines, so the text reads as part of it…
    at = section.lineEnd;
    while (at > section.lineStart && lines[at - 1]?.trim() === "") at--;
    if (scanHeadings(inserted.slice(0, 1)).length > 0) inserted.unshift("");
    // …which then still separate it from the heading that follows.
    const blankKept = at < section.lineEnd;
    if (!blankKept && section.lineEnd < lines.length && inserted.at(-1)?.trim() !== "") {
      inserted.push("");
    }
  }
  return `${[...lines.slice(0, at), ...inserted, ...lines.slice(at)].join("\n")}\n`;
}
