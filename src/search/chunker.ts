/**
 * Cuts a Markdown page into the pieces the search worker embeds: one per heading-scoped section
 * (the heading line belongs to its section; text before the first heading is a section of its
 * own), each at most MAX_TOKENS word pieces as the embedder counts them, with the section's
 * heading path and 1-based line range kept. A longer section is cut at line boundaries (a line
 * longer than the budget at word boundaries) and each piece repeats the last ~OVERLAP_TOKENS of
 * the one before, so a sentence on the border is seen whole by at least one piece.
 * It does not embed or store anything.
 */
import { headingPathAt, scanHeadings, splitLines } from "../pages/markdown.ts";

/** The model's window, [CLS] and [SEP] included (all-MiniLM-L6-v2 was trained at 256). */
export const CHUNK_MAX_TOKENS = 256;
/** How much of the end of a piece the next piece of the same section starts with. */
export const OVERLAP_TOKENS = 32;
/** Longest chunk text kept for snippets (the embedded text is not cut). */
export const SNIPPET_MAX_CHARS = 1200;
/**
 * Chunks embedded per page: ~60k tokens, about 240 kB of prose. A page at the 1 MB limit would
 * otherwise hold the worker for a minute or more per save; the rest of it is still found by
 * `search` (full text), and the cap bounds what one write can cost everyone else's indexing.
 */
export const MAX_CHUNKS_PER_PAGE = 256;

export interface Chunk {
  /** The enclosing headings, outermost first; [] for text before the first heading. */
  headingPath: string[];
  /** 1-based, inclusive. */
  lineStart: number;
  lineEnd: number;
  /** The page's own lines, at most SNIPPET_MAX_CHARS, for snippets. */
  text: string;
  /** What the model sees: a context line (page title, heading path) then the lines. */
  embedText: string;
}

/** Tokens the model would see for a text, [CLS] and [SEP] included (Embedder.countTokens). */
export type TokenCounter = (text: string) => number;

/** A line, or a word-boundary part of a line too long for one piece. */
interface Segment {
  line: number;
  text: string;
  /** Word pieces without [CLS]/[SEP]: BERT's pre-tokenizer splits on whitespace, so adding up
   * the counts of newline-joined segments gives the count of the joined text. */
  tokens: number;
}

/**
 * The chunks of one page. A page with no headings is one section whose context line is the
 * page's title; blank sections (only blank lines) give no chunk. At most MAX_CHUNKS_PER_PAGE,
 * the first ones.
 */
export function chunkPage(title: string, body: string, countTokens: TokenCounter): Chunk[] {
  const lines = splitLines(body);
  const headings = scanHeadings(lines);
  const starts = [1, ...headings.map((heading) => heading.line).filter((line) => line > 1)];
  const chunks: Chunk[] = [];
  starts.forEach((start, i) => {
    const end = (starts[i + 1] ?? lines.length + 1) - 1;
    const sectionLines = lines.slice(start - 1, end);
    if (sectionLines.every((line) => line.trim() === "")) return;
    const headingPath = headingPathAt(headings, start);
    const context = [title, ...headingPath].filter((part) => part !== "").join(" › ");
    if (chunks.length >= MAX_CHUNKS_PER_PAGE) return;
    chunks.push(...chunkSection(context, headingPath, start, sectionLines, countTokens));
  });
  return chunks.slice(0, MAX_CHUNKS_PER_PAGE);
}

function chunkSection(
  context: string,
  headingPath: string[],
  firstLine: number,
  lines: string[],
  countTokens: TokenCounter,
): Chunk[] {
  const contextTokens = countTokens(context);
  // contextTokens includes [CLS] and [SEP]; the newline after the context adds no piece.
  const budget = Math.max(16, CHUNK_MAX_TOKENS - contextTokens);
  const segments = lines.flatMap((text, i) => segmentsOf(firstLine + i, text, budget, countTokens));
  const chunks: Chunk[] = [];
  let start = 0;
  while (start < segments.length) {
    let end = start;
    let used = 0;
    while (end < segments.length && used + (segments[end]?.tokens ?? 0) <= budget) {
      used += segments[end]?.tokens ?? 0;
      end++;
    }
    if (end === start) end = start + 1;
    const piece = segments.slice(start, end);
    chunks.push(toChunk(context, headingPath, piece));
    if (end >= segments.length) break;
    // Step back over the last segments worth at most OVERLAP_TOKENS, never to `start` itself
    // (that would not advance).
    let next = end;
    let overlap = 0;
    while (next - 1 > start && overlap + (segments[next - 1]?.tokens ?? 0) <= OVERLAP_TOKENS) {
      next--;
      overlap += segments[next]?.tokens ?? 0;
    }
    start = next;
  }
  return chunks;
}

function toChunk(context: string, headingPath: string[], piece: Segment[]): Chunk {
  const joined = joinSegments(piece);
  return {
    headingPath,
    lineStart: piece[0]?.line ?? 1,
    lineEnd: piece.at(-1)?.line ?? 1,
    text: joined.length > SNIPPET_MAX_CHARS ? `${joined.slice(0, SNIPPET_MAX_CHARS - 1)}…` : joined,
    embedText: `${context}\n${joined}`,
  };
}

/** Segments of one line rejoin with a space, lines with a newline. */
function joinSegments(piece: Segment[]): string {
  let text = "";
  piece.forEach((segment, i) => {
    if (i > 0) text += segment.line === piece[i - 1]?.line ? " " : "\n";
    text += segment.text;
  });
  return text;
}

/** The line as one segment, or cut between words into parts of at most `budget` pieces. */
function segmentsOf(
  line: number,
  text: string,
  budget: number,
  countTokens: TokenCounter,
): Segment[] {
  const tokens = countTokens(text) - 2;
  if (tokens <= budget) return [{ line, text, tokens }];
  const words = text.split(/\s+/).filter((word) => word !== "");
  const segments: Segment[] = [];
  let current: string[] = [];
  let used = 0;
  for (const word of words) {
    for (const part of wordParts(word, budget, countTokens)) {
      if (current.length > 0 && used + part.tokens > budget) {
        segments.push({ line, text: current.join(" "), tokens: used });
        current = [];
        used = 0;
      }
      current.push(part.text);
      used += part.tokens;
    }
  }
  if (current.length > 0) segments.push({ line, text: current.join(" "), tokens: used });
  return segments;
}

/**
 * A word as it is, or cut into parts of at most `budget` pieces when longer: a URL or a blob, and
 * above all text written without spaces (Chinese, Japanese), which BERT's pre-tokenizer still
 * splits per character but a whitespace split sees as one word. Each part's length is estimated
 * from the word's pieces per character and shrunk until it fits, so the tokenizer only ever sees
 * part-sized strings. (Cut parts rejoin with a space; the model sees the same pieces.)
 */
function wordParts(
  word: string,
  budget: number,
  countTokens: TokenCounter,
): { text: string; tokens: number }[] {
  const tokens = countTokens(word) - 2;
  if (tokens <= budget) return [{ text: word, tokens }];
  const chars = Array.from(word);
  const parts: { text: string; tokens: number }[] = [];
  let start = 0;
  let length = Math.max(1, Math.floor((chars.length * budget) / tokens));
  while (start < chars.length) {
    let text = chars.slice(start, start + length).join("");
    let partTokens = countTokens(text) - 2;
    while (partTokens > budget && length > 1) {
      length = Math.max(1, Math.floor(length * 0.8));
      text = chars.slice(start, start + length).join("");
      partTokens = countTokens(text) - 2;
    }
    parts.push({ text, tokens: partTokens });
    start += length;
  }
  return parts;
}
