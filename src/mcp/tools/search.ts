/** search: full-text search (SQLite FTS5) with matching lines, heading path and revision. */
import { z } from "zod";
import { MAX_QUERY_TERMS, MIN_PREFIX_CHARS } from "../../pages/search-query.ts";
import { type SearchWire, searchJson, searchWireShape } from "../../pages/search-wire.ts";
import { defineTool, READ_ONLY } from "../tool-context.ts";

const DEFAULT_LIMIT = 10;
const MAX_LIMIT = 50;

export const search = defineTool({
  name: "search",
  title: "Search pages (full text)",
  description: `Full-text search over every page's path, title, headings and text. Query syntax: words (all must match), "exact phrases", OR between terms, -word or NOT word to exclude, and prefix* (at least ${MIN_PREFIX_CHARS} letters), e.g. otter* kelp OR urchin -sea. Other punctuation is searched as plain words. Best matches first: words in a title or heading count more than words in the text. Each hit gives the page, its revision, the heading path of the best match, and up to 5 matching lines with their line numbers and exact text (matching headings among them; "(part)" marks an exact part of a long line), so you can read_note from that line or quote the text in edit_note. total says how many pages match in all; more_available that there are more than you got (raise limit or narrow the query).`,
  access: "read",
  annotations: READ_ONLY,
  inputSchema: {
    query: z.string().min(1).max(500).describe('Words, "phrases", OR, NOT, prefix*'),
    limit: z
      .number()
      .int()
      .min(1)
      .max(MAX_LIMIT)
      .optional()
      .describe(`Most hits to return (default ${DEFAULT_LIMIT})`),
  },
  outputSchema: searchWireShape,
  async run(input, { wiki, pages }) {
    const structured = searchJson(
      input.query,
      await pages.search(wiki, input.query, input.limit ?? DEFAULT_LIMIT),
    );
    return { text: describeAnswer(structured), structured };
  },
});

function describeAnswer(answer: SearchWire): string {
  const notes = [
    answer.interpreted_as_plain_text || answer.truncated
      ? `searched as: ${answer.interpreted_query === "" ? "(no words)" : answer.interpreted_query}`
      : null,
    answer.truncated ? `only the first ${MAX_QUERY_TERMS} terms were used` : null,
  ].filter((note) => note !== null);
  const plain = notes.length > 0 ? ` (${notes.join("; ")})` : "";
  const query = JSON.stringify(answer.query);
  if (answer.hits.length === 0) return `No pages match ${query}${plain}.`;
  const shown = answer.hits.length;
  const count = answer.more_available
    ? `${shown} of ${answer.total} pages matching ${query}${plain}; ${answer.total - shown} more: raise limit (up to ${MAX_LIMIT}) or narrow the query.`
    : `${shown === 1 ? "1 page matches" : `${shown} pages match`} ${query}${plain}.`;
  const hits = answer.hits.map((hit, index) => {
    const under = hit.heading_path.length > 0 ? `\n   under "${hit.heading_path.join(" > ")}"` : "";
    // The lines' own text (exact, quotable); the snippet only when no line matched (path or title).
    const body =
      hit.matching_lines.length > 0
        ? hit.matching_lines
            .map((line) => `   ${line.line}${line.complete ? "" : " (part)"}: ${line.text}`)
            .join("\n")
        : `   ${hit.snippet}`;
    return `${index + 1}. ${hit.path} — ${hit.title} (revision ${hit.revision})${under}\n${body}`;
  });
  return [count, ...hits].join("\n");
}
