/** search: full-text search (SQLite FTS5) with snippet, heading path, lines and revision. */
import { z } from "zod";
import { MAX_QUERY_TERMS, MIN_PREFIX_CHARS } from "../../pages/search-query.ts";
import { defineTool, READ_ONLY } from "../tool-context.ts";

export const search = defineTool({
  name: "search",
  title: "Search pages (full text)",
  description: `Full-text search over every page's path, title and text. Query syntax: words (all must match), "exact phrases", OR between terms, -word or NOT word to exclude, and prefix* (at least ${MIN_PREFIX_CHARS} letters), e.g. otter* kelp OR urchin -sea. Other punctuation is searched as plain words. Each hit gives the page, a snippet with **matches**, the line numbers that match, the heading the first match sits under, and the page's revision, so you can read_note from that line or edit_note directly. Best matches first.`,
  access: "read",
  annotations: READ_ONLY,
  inputSchema: {
    query: z.string().min(1).max(500).describe('Words, "phrases", OR, NOT, prefix*'),
    limit: z.number().int().min(1).max(50).optional().describe("Most hits to return (default 10)"),
  },
  outputSchema: {
    query: z.string(),
    interpreted_query: z
      .string()
      .describe(
        "How the query was read, e.g. otter AND (kelp OR urchin) AND NOT sea (empty: nothing to find)",
      ),
    interpreted_as_plain_text: z
      .boolean()
      .describe(
        "True when the query held syntax this search does not offer (parentheses, column filters, NEAR, an unbalanced quote), which was searched as plain words",
      ),
    truncated: z
      .boolean()
      .describe(`True when only the query's first ${MAX_QUERY_TERMS} terms were searched`),
    hits: z.array(
      z.object({
        path: z.string(),
        title: z.string(),
        revision: z.string(),
        snippet: z.string(),
        lines: z.array(z.number().int()).describe("1-based lines that match (at most 5)"),
        heading_path: z
          .array(z.string())
          .describe("Headings around the first match, outermost first"),
      }),
    ),
  },
  async run(input, { wiki, pages }) {
    const result = await pages.search(wiki, input.query, input.limit ?? 10);
    const hits = result.hits.map((hit) => ({
      path: hit.path,
      title: hit.title,
      revision: hit.revision,
      snippet: hit.snippet,
      lines: hit.lines,
      heading_path: hit.headingPath,
    }));
    const notes = [
      result.interpretedAsPlainText || result.truncated
        ? `searched as: ${result.interpretedQuery === "" ? "(no words)" : result.interpretedQuery}`
        : null,
      result.truncated ? `only the first ${MAX_QUERY_TERMS} terms were used` : null,
    ].filter((note) => note !== null);
    const plain = notes.length > 0 ? ` (${notes.join("; ")})` : "";
    const text =
      hits.length === 0
        ? `No pages match ${JSON.stringify(input.query)}${plain}.`
        : [
            `${hits.length} pages match ${JSON.stringify(input.query)}${plain}:`,
            ...hits.map((hit, index) => {
              const where = [
                hit.lines.length > 0 ? `lines ${hit.lines.join(", ")}` : null,
                hit.heading_path.length > 0 ? `under "${hit.heading_path.join(" > ")}"` : null,
              ]
                .filter((part) => part !== null)
                .join(", ");
              return `${index + 1}. ${hit.path} — ${hit.title} (revision ${hit.revision})${where ? `\n   ${where}` : ""}\n   ${hit.snippet.replace(/\s*\n\s*/g, " ")}`;
            }),
          ].join("\n");
    return {
      text,
      structured: {
        query: input.query,
        interpreted_query: result.interpretedQuery,
        interpreted_as_plain_text: result.interpretedAsPlainText,
        truncated: result.truncated,
        hits,
      },
    };
  },
});
