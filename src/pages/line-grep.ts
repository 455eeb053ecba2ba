/**
 * Exact-line search inside pages (issue 13): every line containing a literal text, with its
 * number and optional context, ready to quote in an edit. Literal only: a regular expression
 * from a tenant could backtrack for minutes inside the server's thread (JavaScript has no time
 * limit on a match), so patterns wait for a matcher that bounds its work.
 */
import { splitLines } from "./markdown.ts";

/** A matching or context line; `match` false for context. */
export interface GrepLine {
  line: number;
  text: string;
  match: boolean;
}

export interface PageMatches {
  path: string;
  revision: string;
  /** Matching lines in this page (all of them, even past the output limit). */
  count: number;
  /** Lines to show: matches up to the caller's budget, with their context, in order. */
  lines: GrepLine[];
}

/** Long lines are cut for display; the match is still counted. */
export const MAX_LINE_CHARS = 400;

/**
 * The matching lines of one page, with up to `context` lines around each, showing at most
 * `budget` matches (the rest are only counted).
 */
export function grepPage(
  page: { path: string; revision: string; body: string },
  needle: string,
  options: { ignoreCase: boolean; context: number; budget: number },
): PageMatches {
  const lines = splitLines(page.body);
  const wanted = options.ignoreCase ? needle.toLowerCase() : needle;
  const matching: number[] = [];
  lines.forEach((text, index) => {
    if ((options.ignoreCase ? text.toLowerCase() : text).includes(wanted)) matching.push(index);
  });
  const isMatch = new Set(matching);
  const shown = new Set<number>();
  for (const index of matching.slice(0, Math.max(0, options.budget))) {
    const from = Math.max(0, index - options.context);
    const to = Math.min(lines.length - 1, index + options.context);
    for (let at = from; at <= to; at++) shown.add(at);
  }
  return {
    path: page.path,
    revision: page.revision,
    count: matching.length,
    lines: [...shown]
      .sort((a, b) => a - b)
      .map((index) => ({
        line: index + 1,
        text: cut(lines[index] ?? ""),
        match: isMatch.has(index),
      })),
  };
}

function cut(text: string): string {
  return text.length > MAX_LINE_CHARS ? `${text.slice(0, MAX_LINE_CHARS - 1)}…` : text;
}
