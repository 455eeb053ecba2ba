/**
 * A short plain-text snippet of a piece of Markdown for search results: headings, list and quote
 * markers, table pipes, emphasis, code fences, HTML tags and link targets are dropped, so an
 * agent reads the words rather than the markup. Not a Markdown renderer: text that only looks
 * like markup inside code is flattened the same way.
 */

/** Snippets stop near this many characters, at a word boundary. */
export const SNIPPET_CHARS = 220;

const FENCE = /^\s*(```|~~~)/;
const HEADING = /^\s{0,3}#{1,6}(\s|$)/;
/** A table's delimiter row, or a thematic break (---): no words in either. */
const TABLE_RULE = /^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$/;

function plainLine(line: string): string {
  return (
    line
      .replace(/^\s*>+\s?/, "")
      // Markers inside a line come from text already joined into one (a full-text excerpt).
      .replace(/(```|~~~)[\w-]*/g, " ")
      .replace(/(^|\s)#{1,6}(?=\s)/g, "$1")
      .replace(/^\s*([-*+]|\d+[.)])\s+(\[[ xX]\]\s+)?/, "")
      // [[shown|Page]] shows its first part; [[Page]] its page.
      .replace(/\[\[([^\]|]+)\|[^\]]*\]\]/g, "$1")
      .replace(/\[\[([^\]]+)\]\]/g, "$1")
      // ![alt](src) and [text](href) keep their words; <tags> go.
      .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1")
      .replace(/<\/?[A-Za-z][^>]*>/g, " ")
      .replace(/\|/g, " ")
      .replace(/(\*\*|__|~~|`)/g, "")
      // Single * or _ as emphasis only at a word's edge, so snake_case and 2*3 stay.
      .replace(/(^|[\s(])[*_](?=\S)/g, "$1")
      .replace(/(\S)[*_](?=$|[\s).,;:!?])/g, "$1")
  );
}

/**
 * The first SNIPPET_CHARS-or-so characters of `markdown` as plain text. Heading lines are left
 * out (results show the heading path separately) unless nothing else is there.
 */
export function plainSnippet(markdown: string, maxChars = SNIPPET_CHARS): string {
  const body: string[] = [];
  const headings: string[] = [];
  for (const line of markdown.split("\n")) {
    if (FENCE.test(line) || TABLE_RULE.test(line)) continue;
    if (HEADING.test(line)) {
      headings.push(plainLine(line.replace(/^\s*#+\s*/, "").replace(/\s#+\s*$/, "")));
      continue;
    }
    body.push(plainLine(line));
  }
  const collapse = (lines: string[]) => lines.join(" ").replace(/\s+/g, " ").trim();
  const text = collapse(body) || collapse(headings);
  if (text.length <= maxChars) return text;
  const cut = text.slice(0, maxChars + 1);
  const space = cut.lastIndexOf(" ");
  return `${(space > maxChars / 2 ? cut.slice(0, space) : text.slice(0, maxChars)).replace(/[\s,;:.–-]+$/, "")}…`;
}
