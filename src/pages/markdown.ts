/**
 * The little Markdown structure the page tools need: ATX headings and fenced code blocks, by
 * line. It is not a Markdown parser: setext headings (underlined with === or ---) are not seen,
 * because agents and Otterwiki's editor both write `#` headings.
 */

export interface Heading {
  /** 1-based line number. */
  line: number;
  /** 1–6, the number of `#`. */
  level: number;
  /** The heading's text without the `#` marks and closing `#`s. */
  text: string;
}

const HEADING = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?[ \t]*$/;
const FENCE = /^ {0,3}(`{3,}|~{3,})/;

/** Whether `line` has the form of an ATX heading (whether it sits in a fence is not checked). */
export function isHeadingLine(line: string): boolean {
  return HEADING.test(line);
}

/** Splits text into lines the way line numbers count them: a final newline ends the last line. */
export function splitLines(text: string): string[] {
  if (text.length === 0) return [];
  const lines = text.split("\n");
  if (text.endsWith("\n")) lines.pop();
  return lines;
}

/**
 * For each line, whether it lies inside (or opens or closes) a fenced code block. CommonMark:
 * a fence closes on a line of the same character at least as long as the opening one.
 */
export function fencedLines(lines: readonly string[]): boolean[] {
  const fenced: boolean[] = [];
  let open: string | null = null;
  for (const line of lines) {
    const marker = FENCE.exec(line)?.[1];
    if (open === null) {
      if (marker !== undefined) {
        open = marker;
        fenced.push(true);
      } else {
        fenced.push(false);
      }
      continue;
    }
    fenced.push(true);
    if (
      marker !== undefined &&
      marker[0] === open[0] &&
      marker.length >= open.length &&
      line.trim() === marker
    ) {
      open = null;
    }
  }
  return fenced;
}

/** ATX headings outside fenced code blocks. */
export function scanHeadings(lines: readonly string[]): Heading[] {
  const fenced = fencedLines(lines);
  const headings: Heading[] = [];
  for (const [index, line] of lines.entries()) {
    if (fenced[index]) continue;
    const match = HEADING.exec(line);
    if (match === null) continue;
    const text = (match[2] ?? "").replace(/[ \t]+#+$/, "").replace(/^#+$/, "");
    headings.push({ line: index + 1, level: match[1]?.length ?? 1, text: text.trim() });
  }
  return headings;
}

/** The headings that enclose `line` (1-based), outermost first: e.g. ["Topic A", "Results"]. */
export function headingPathAt(headings: readonly Heading[], line: number): string[] {
  const stack: Heading[] = [];
  for (const heading of headings) {
    if (heading.line > line) break;
    while (stack.length > 0 && (stack.at(-1)?.level ?? 0) >= heading.level) stack.pop();
    stack.push(heading);
  }
  return stack.map((heading) => heading.text);
}

/**
 * Every heading's text, one a line: what the full-text index keeps in its `headings` column, so
 * a word in a heading can weigh more than the same word in the text (page-index.ts search()).
 */
export function headingsText(text: string): string {
  let kept = "";
  for (const heading of scanHeadings(splitLines(text))) {
    if (heading.text === "") continue;
    const next = kept === "" ? heading.text : `${kept}\n${heading.text}`;
    if (next.length > MAX_HEADINGS_CHARS) break;
    kept = next;
  }
  return kept;
}

/**
 * Headings kept per page for ranking, in whole headings. Search re-scores every heading of its
 * best 50 hits on the event loop: a pushed 1 MB page of 50,000 headings took 2–14 s a search
 * uncapped; at 4 kB, 50 such pages take 15 ms for one word, 42 ms for 16 (measured). Later
 * headings still count as body text.
 */
export const MAX_HEADINGS_CHARS = 4_096;
