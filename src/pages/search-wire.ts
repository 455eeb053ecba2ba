/**
 * The one wire shape of a full-text search answer, for MCP's `search` (structured content) and
 * REST's GET /search, with its JSON Schema for the OpenAPI document.
 */
import { z } from "zod";
import type { SearchResult } from "./page-index.ts";
import { MAX_LINE_TEXT_CHARS, MAX_MATCHING_LINES } from "./search-excerpt.ts";
import { MAX_QUERY_TERMS } from "./search-query.ts";

export const searchHitWire = z.object({
  path: z.string(),
  title: z.string(),
  revision: z.string().describe("The page's current revision (pass it as expected_revision)"),
  snippet: z
    .string()
    .describe(
      "The page's text around the best match (its start when only the path or title matched), whitespace collapsed; no marks added",
    ),
  lines: z
    .array(z.number().int().min(1))
    .max(MAX_MATCHING_LINES)
    .describe(
      `1-based lines that hold query terms (at most ${MAX_MATCHING_LINES}): the best, headings that match, then the first matches`,
    ),
  matching_lines: z
    .array(
      z.object({
        line: z.number().int().min(1),
        text: z
          .string()
          .describe(
            `The line exactly as the page has it; when complete is false, an exact part of it (at most ${MAX_LINE_TEXT_CHARS} characters) around the match`,
          ),
        complete: z.boolean(),
      }),
    )
    .max(MAX_MATCHING_LINES)
    .describe("The same lines with their text, ready to quote in an edit"),
  heading_path: z
    .array(z.string())
    .describe(
      "Headings down to the best match, outermost first; it ends with the matching heading when a heading matches best",
    ),
});

export const searchWireShape = {
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
  total: z.number().int().min(0).describe("How many pages of this wiki match in all"),
  more_available: z
    .boolean()
    .describe("True when more pages match than were returned: raise limit or narrow the query"),
  hits: z.array(searchHitWire).describe("One per page, best first"),
};
export const searchWire = z.object(searchWireShape);
export type SearchWire = z.infer<typeof searchWire>;

export function searchJson(query: string, result: SearchResult): SearchWire {
  return {
    query,
    interpreted_query: result.interpretedQuery,
    interpreted_as_plain_text: result.interpretedAsPlainText,
    truncated: result.truncated,
    total: result.total,
    more_available: result.total > result.hits.length,
    hits: result.hits.map((hit) => ({
      path: hit.path,
      title: hit.title,
      revision: hit.revision,
      snippet: hit.snippet,
      lines: hit.lines.map((line) => line.line),
      matching_lines: hit.lines.map((line) => ({
        line: line.line,
        text: line.text,
        complete: line.complete,
      })),
      heading_path: hit.headingPath,
    })),
  };
}

/** The wire shape as JSON Schema 2020-12, the dialect of OpenAPI 3.1. */
export function searchJsonSchema(): Record<string, unknown> {
  const { $schema: _dialect, ...schema } = z.toJSONSchema(searchWire, {
    target: "draft-2020-12",
  });
  return schema;
}
