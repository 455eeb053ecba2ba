/**
 * What a search hit shows of its page: a plain snippet, the lines that match with their exact
 * text, and the headings of the best match. Computed here over a bounded head of the page rather
 * than with FTS5's snippet(), which tokenizes and scores the whole body synchronously (~11 s for
 * a 1 MB page in bun:sqlite). Matching approximates the index's tokenizer: words are compared
 * from their start, case-insensitively, with a one-letter allowance for porter stemming.
 * Nothing is added to the page's text (no match marks, no ellipses), so an agent can quote what
 * it reads here in edit_note.
 */
import { headingPathAt, isHeadingLine, scanHeadings, splitLines } from "./markdown.ts";
import type { SearchQuery } from "./search-query.ts";

/** The head of a page scanned for matches; a match further down is not located. */
export const EXCERPT_SCAN_CHARS = 256 * 1024;
/** Matches examined per page at most (a page made of one repeated word stops here). */
const MAX_MATCHES_EXAMINED = 2000;
export const MAX_MATCHING_LINES = 5;
/** A matching line longer than this is given as the part of it around its first match. */
export const MAX_LINE_TEXT_CHARS = 240;
const SNIPPET_BEFORE_CHARS = 60;
const SNIPPET_AFTER_CHARS = 140;
/** How an ATX heading line starts (markdown.ts); other lines need no parsing to rule them out. */
const MAYBE_HEADING = /^ {0,3}#/;

export interface MatchingLine {
  /** 1-based. */
  line: number;
  /** The line's exact text, or an exact part of it around the match when `complete` is false. */
  text: string;
  complete: boolean;
}

export interface Excerpt {
  /** The page's text around the best match (its head when none), whitespace collapsed. */
  snippet: string;
  /**
   * Up to MAX_MATCHING_LINES lines holding query terms, in page order: the best line, then the
   * headings that hold terms, then the first other matches.
   */
  lines: MatchingLine[];
  /** The line holding the most distinct terms (a heading on a tie), or null when none was found. */
  best: number | null;
  /** The headings enclosing the best line, outermost first; the best line itself if a heading. */
  headingPath: string[];
}

export interface ExcerptMatcher {
  /** Finds every word that starts with one of the stems. */
  pattern: RegExp;
  /** Lower-cased stems, to tell which term a match is. */
  stems: string[];
}

export const WORD_CHAR = "[\\p{L}\\p{N}\\p{M}\\p{Co}]";

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

/** `text[from, to)` widened or narrowed to whitespace, so no word is cut. */
function wordWindow(text: string, from: number, to: number, at: number) {
  let start = from;
  if (start > 0 && !/\s/.test(text[start - 1] ?? "")) {
    const space = text.slice(start, at).search(/\s/);
    start = space === -1 ? at : start + space + 1;
  }
  let end = to;
  if (end < text.length && !/\s/.test(text[end] ?? "")) {
    const space = text.slice(at, end).search(/\s\S*$/);
    if (space > 0) end = at + space;
  }
  return { start, end };
}

interface Candidate {
  line: number;
  /** Offsets of the line's start and of its first match. */
  lineStart: number;
  at: number;
  seen: Set<number>;
}

/** The candidate's line as it stands in the page, or the part of it around the first match. */
function lineText(text: string, complete: boolean, candidate: Candidate): MatchingLine {
  const newline = text.indexOf("\n", candidate.lineStart);
  const lineEnd = newline === -1 ? text.length : newline;
  const whole = text.slice(candidate.lineStart, lineEnd).replace(/\r$/, "");
  const reachesCut = newline === -1 && !complete;
  if (whole.length <= MAX_LINE_TEXT_CHARS && !reachesCut) {
    return { line: candidate.line, text: whole, complete: true };
  }
  const at = candidate.at - candidate.lineStart;
  const from = Math.max(0, at - Math.floor(MAX_LINE_TEXT_CHARS / 3));
  const to = Math.min(whole.length, from + MAX_LINE_TEXT_CHARS);
  const { start, end } = wordWindow(whole, from, to, at);
  return {
    line: candidate.line,
    text: whole.slice(start, end).trim(),
    complete: start === 0 && end === whole.length && !reachesCut,
  };
}

/**
 * Adds the terms (indexes into matcher.stems) that the matched `word` starts with; whether it
 * starts with any.
 */
export function addTerms(seen: Set<number>, matcher: ExcerptMatcher, word: string): boolean {
  const found = word.toLowerCase();
  let any = false;
  for (const [index, stem] of matcher.stems.entries()) {
    if (found.startsWith(stem)) {
      seen.add(index);
      any = true;
    }
  }
  return any;
}

/**
 * The lines holding a match, in page order, with the distinct terms each holds: all of them up
 * to MAX_MATCHES_EXAMINED matches, or only the first ones once MAX_MATCHING_LINES lines are
 * found and one holds every term (no later line can then hold more; headingCandidates finds the
 * headings further down).
 */
function matchingCandidates(text: string, matcher: ExcerptMatcher): Candidate[] {
  const candidates: Candidate[] = [];
  let line = 1;
  let position = 0;
  let newline = text.indexOf("\n");
  let examined = 0;
  let complete = false;
  matcher.pattern.lastIndex = 0;
  for (const match of text.matchAll(matcher.pattern)) {
    if (++examined > MAX_MATCHES_EXAMINED) break;
    while (newline !== -1 && newline < match.index) {
      line++;
      position = newline + 1;
      newline = text.indexOf("\n", position);
    }
    let current = candidates.at(-1);
    if (current?.line !== line) {
      if (complete && candidates.length >= MAX_MATCHING_LINES) break;
      current = { line, lineStart: position, at: match.index, seen: new Set() };
      candidates.push(current);
    }
    addTerms(current.seen, matcher, match[0]);
    complete ||= current.seen.size === matcher.stems.length;
  }
  return candidates;
}

/**
 * Lines that look like ATX headings (markdown.ts decides, fences included) and hold a match,
 * anywhere in `text`. Found by jumping from `#` to `#` (indexOf), as a line-anchored regex over
 * a 256 kB head costs ~2 ms; at most MAX_MATCHES_EXAMINED lines with a `#` are looked at.
 */
function headingCandidates(text: string, matcher: ExcerptMatcher): Candidate[] {
  const candidates: Candidate[] = [];
  let line = 1;
  let counted = 0;
  let examined = 0;
  for (let hash = text.indexOf("#"); hash !== -1; hash = text.indexOf("#", hash)) {
    const lineStart = text.lastIndexOf("\n", hash) + 1;
    const newline = text.indexOf("\n", hash);
    const lineEnd = newline === -1 ? text.length : newline;
    if (++examined > MAX_MATCHES_EXAMINED) break;
    const lineText = text.slice(lineStart, lineEnd);
    const seen = new Set<number>();
    let at = -1;
    if (isHeadingLine(lineText)) {
      for (const match of lineText.matchAll(matcher.pattern)) {
        if (at === -1) at = lineStart + match.index;
        addTerms(seen, matcher, match[0]);
      }
    }
    if (seen.size > 0) {
      for (let next = text.indexOf("\n", counted); next !== -1 && next < lineStart; ) {
        line++;
        counted = next + 1;
        next = text.indexOf("\n", counted);
      }
      candidates.push({ line, lineStart, at, seen });
    }
    if (newline === -1) break;
    hash = newline;
  }
  return candidates;
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
  const candidates = matcher === null ? [] : matchingCandidates(text, matcher);
  if (matcher !== null) {
    const known = new Set(candidates.map((candidate) => candidate.line));
    const headingsFurther = headingCandidates(text, matcher).filter((c) => !known.has(c.line));
    if (headingsFurther.length > 0) {
      candidates.push(...headingsFurther);
      candidates.sort((a, b) => a.line - b.line);
    }
  }
  if (matcher === null || candidates.length === 0) {
    const end = Math.min(text.length, SNIPPET_BEFORE_CHARS + SNIPPET_AFTER_CHARS);
    const { start, end: cut } = wordWindow(text, 0, end, 0);
    return { snippet: collapse(text.slice(start, cut)), lines: [], best: null, headingPath: [] };
  }
  // Headings are parsed only as far as they can matter: the best line by terms alone, and the
  // last match that could be a heading. A fence before a line decides whether it is one, so
  // parsing starts at the top, but a page's remaining lines are never split.
  const plainBest = candidates.reduce((a, b) => (b.seen.size > a.seen.size ? b : a));
  const headingLike = candidates.filter((candidate) =>
    MAYBE_HEADING.test(text.slice(candidate.lineStart, candidate.lineStart + 4)),
  );
  const lastNeeded = Math.max(plainBest.lineStart, headingLike.at(-1)?.lineStart ?? 0);
  const lastEnd = text.indexOf("\n", lastNeeded);
  const headings = scanHeadings(splitLines(text.slice(0, lastEnd === -1 ? text.length : lastEnd)));
  const headingLines = new Set(headings.map((heading) => heading.line));
  // Most distinct terms first; on a tie a heading (it names the section), then the earlier line.
  const byStrength = [...candidates].sort(
    (a, b) =>
      b.seen.size - a.seen.size ||
      Number(headingLines.has(b.line)) - Number(headingLines.has(a.line)) ||
      a.line - b.line,
  );
  const best = byStrength[0];
  if (best === undefined) throw new Error("unreachable: candidates is not empty");
  // The hints: the best line, every heading that holds a term (a multi-word query's heading is
  // often not among its first matches), then the first matches.
  const chosen = new Set<Candidate>([best]);
  for (const candidate of [
    ...byStrength.filter((candidate) => headingLines.has(candidate.line)),
    ...candidates,
  ]) {
    if (chosen.size >= MAX_MATCHING_LINES) break;
    chosen.add(candidate);
  }
  // A heading starts its section: the snippet starts there too, not inside the section before.
  const from = headingLines.has(best.line)
    ? best.lineStart
    : Math.max(0, best.at - SNIPPET_BEFORE_CHARS);
  const to = Math.min(text.length, best.at + SNIPPET_AFTER_CHARS);
  const window = wordWindow(text, from, to, best.at);
  return {
    snippet: collapse(text.slice(window.start, window.end)),
    lines: [...chosen]
      .sort((a, b) => a.line - b.line)
      .map((candidate) => lineText(text, complete, candidate)),
    best: best.line,
    headingPath: headingPathAt(headings, best.line),
  };
}
