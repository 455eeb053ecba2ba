/**
 * What a search hit shows of its page: a snippet with the matches in `**`, the lines that match
 * and the line that matches best. Computed here over a bounded head of the page rather than with
 * FTS5's snippet(), which tokenizes and scores the whole body synchronously (~11 s for a 1 MB
 * page in bun:sqlite). Matching approximates the index's tokenizer: words are compared from
 * their start, case-insensitively, with a one-letter allowance for porter stemming.
 */
import type { SearchQuery } from "./search-query.ts";

/** The head of a page scanned for matches; a match further down is not located. */
export const EXCERPT_SCAN_CHARS = 256 * 1024;
/** Matches examined per page at most (a page made of one repeated word stops here). */
const MAX_MATCHES_EXAMINED = 2000;
const MAX_LINES = 5;
const SNIPPET_BEFORE_CHARS = 60;
const SNIPPET_AFTER_CHARS = 140;

export interface Excerpt {
  snippet: string;
  /** 1-based lines that contain a query term (at most 5). */
  lines: number[];
  /** The line holding the most distinct terms, or null when none was found. */
  best: number | null;
}

export interface ExcerptMatcher {
  /** Finds every word that starts with one of the stems. */
  pattern: RegExp;
  /** Lower-cased stems, to tell which term a match is. */
  stems: string[];
}

const WORD_CHAR = "[\\p{L}\\p{N}\\p{M}\\p{Co}]";

function escapeRegExp(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/-]/g, "\\$&");
}

/** The matcher for a query's wanted words, or null when it has none. */
export function excerptMatcher(query: SearchQuery): ExcerptMatcher | null {
  const stems = new Set<string>();
  for (const term of query.groups.flat()) {
    for (const [index, word] of term.words.entries()) {
      const lower = word.toLowerCase();
      const isPrefix = term.prefix && index === term.words.length - 1;
      // The index stems words (porter), so "agents" matched "agent": look for a shortened form.
      stems.add(!isPrefix && lower.length >= 5 ? lower.slice(0, -1) : lower);
    }
  }
  if (stems.size === 0) return null;
  const list = [...stems];
  const alternatives = list.map(escapeRegExp).join("|");
  return {
    pattern: new RegExp(`(?<!${WORD_CHAR})(?:${alternatives})${WORD_CHAR}*`, "giu"),
    stems: list,
  };
}

function collapse(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

function snippetAround(text: string, at: number, complete: boolean, matcher: ExcerptMatcher) {
  let start = Math.max(0, at - SNIPPET_BEFORE_CHARS);
  if (start > 0) {
    const space = text.slice(start, at).search(/\s/);
    start = space === -1 ? at : start + space;
  }
  let end = Math.min(text.length, at + SNIPPET_AFTER_CHARS);
  if (end < text.length) {
    const space = text.slice(at, end).search(/\s\S*$/);
    if (space > 0) end = at + space;
  }
  const body = collapse(text.slice(start, end)).replace(matcher.pattern, "**$&**");
  return `${start > 0 ? "…" : ""}${body}${end < text.length || !complete ? "…" : ""}`;
}

/**
 * The excerpt of `text` (a page's head; `complete` says whether it is the whole page). Work is
 * bounded by the text's length, which the caller caps at EXCERPT_SCAN_CHARS.
 */
export function excerptOf(
  text: string,
  complete: boolean,
  matcher: ExcerptMatcher | null,
): Excerpt {
  const lines: number[] = [];
  let best = { line: 0, count: 0, at: 0 };
  if (matcher !== null) {
    let line = 1;
    let position = 0;
    let current = { line: 0, at: 0, seen: new Set<number>() };
    const flush = () => {
      if (current.seen.size === 0) return;
      if (lines.length < MAX_LINES) lines.push(current.line);
      if (current.seen.size > best.count) {
        best = { line: current.line, count: current.seen.size, at: current.at };
      }
    };
    let examined = 0;
    matcher.pattern.lastIndex = 0;
    for (const match of text.matchAll(matcher.pattern)) {
      if (++examined > MAX_MATCHES_EXAMINED) break;
      for (;;) {
        const newline = text.indexOf("\n", position);
        if (newline === -1 || newline >= match.index) break;
        line++;
        position = newline + 1;
      }
      if (line !== current.line) {
        flush();
        if (lines.length >= MAX_LINES && best.count === matcher.stems.length) {
          current = { line: 0, at: 0, seen: new Set() };
          break;
        }
        current = { line, at: match.index, seen: new Set() };
      }
      const found = match[0].toLowerCase();
      for (const [index, stem] of matcher.stems.entries()) {
        if (found.startsWith(stem)) current.seen.add(index);
      }
    }
    flush();
  }
  if (best.count === 0 || matcher === null) {
    const end = Math.min(text.length, SNIPPET_BEFORE_CHARS + SNIPPET_AFTER_CHARS);
    const head = collapse(text.slice(0, end));
    return { snippet: `${head}${end < text.length || !complete ? "…" : ""}`, lines, best: null };
  }
  return { snippet: snippetAround(text, best.at, complete, matcher), lines, best: best.line };
}
