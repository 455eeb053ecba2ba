/** semantic_search: pages found by meaning (vector search), alone or fused with full text. */
import { z } from "zod";
import {
  DEFAULT_SEMANTIC_LIMIT,
  DEFAULT_SEMANTIC_MODE,
  FUSION_DESCRIPTION,
  MAX_SEMANTIC_LIMIT,
  SEMANTIC_SEARCH_MODES,
  type SemanticSearchWire,
  searchByMeaning,
  semanticSearchJson,
  semanticSearchWireShape,
} from "../../search/semantic-hits.ts";
import { defineTool, READ_ONLY } from "../tool-context.ts";
import { limitField } from "../tool-format.ts";

export const semanticSearch = defineTool({
  name: "semantic_search",
  title: "Search pages by meaning",
  description: `Finds pages by what they mean, not by their exact words: ask a question or describe the idea in your own words (e.g. "how do we handle sign-in failures" finds a page titled "OAuth error pages"). Use it before writing, to find what the wiki already knows when you do not know its wording; use search instead for exact words, names, phrases or boolean queries. mode "${DEFAULT_SEMANTIC_MODE}" (default): ${FUSION_DESCRIPTION}; mode "semantic": the meaning ranking alone. One hit per page with its heading path, line range (read_note from there), a plain snippet, the page's revision, and each ranking's place (semantic rank and cosine score, full-text rank). path_prefix limits the search to pages under a folder. Just after pages change, results may lag until indexing catches up; the reply says so.`,
  access: "read",
  annotations: READ_ONLY,
  inputSchema: {
    query: z.string().min(1).max(500).describe("A question or description in natural language"),
    limit: limitField(
      MAX_SEMANTIC_LIMIT,
      `Most pages to return (default ${DEFAULT_SEMANTIC_LIMIT})`,
    ),
    path_prefix: z
      .string()
      .min(1)
      .max(600)
      .optional()
      .describe('Only pages whose path starts with this, e.g. "Research/"'),
    mode: z
      .enum(SEMANTIC_SEARCH_MODES)
      .optional()
      .describe(`"hybrid" (default): meaning fused with full text; "semantic": meaning only`),
  },
  outputSchema: semanticSearchWireShape,
  async run(input, { wiki, pages, semanticSearch: service }) {
    const answer = await searchByMeaning({ pages, semanticSearch: service }, wiki, {
      query: input.query,
      limit: input.limit ?? DEFAULT_SEMANTIC_LIMIT,
      pathPrefix: input.path_prefix ?? null,
      mode: input.mode ?? DEFAULT_SEMANTIC_MODE,
    });
    const structured = semanticSearchJson(answer);
    return { text: describeAnswer(structured, input.path_prefix), structured };
  },
});

function describeAnswer(answer: SemanticSearchWire, pathPrefix: string | undefined): string {
  const scope = pathPrefix === undefined ? "" : ` under "${pathPrefix}"`;
  const indexing =
    answer.indexing === null
      ? ""
      : `\nThe wiki is still being indexed for meaning: ${answer.indexing.pending_pages} ${answer.indexing.pending_pages === 1 ? "page is" : "pages are"} pending, so recent changes may be missing; search again shortly or use search for exact words.`;
  if (answer.hits.length === 0) {
    return `No pages${scope} match the meaning of ${JSON.stringify(answer.query)} (${answer.mode}).${indexing}`;
  }
  const lines = answer.hits.map((hit, index) => {
    const ranks = [
      hit.semantic === null
        ? null
        : `meaning #${hit.semantic.rank} (similarity ${hit.semantic.score})`,
      hit.fulltext === null ? null : `full text #${hit.fulltext.rank}`,
    ]
      .filter((part) => part !== null)
      .join(", ");
    const where = [
      hit.line_start === null
        ? null
        : hit.line_end === hit.line_start
          ? `line ${hit.line_start}`
          : `lines ${hit.line_start}–${hit.line_end}`,
      hit.heading_path.length > 0 ? `under "${hit.heading_path.join(" > ")}"` : null,
    ]
      .filter((part) => part !== null)
      .join(", ");
    return `${index + 1}. ${hit.path} — ${hit.title} (revision ${hit.revision}; score ${hit.score}: ${ranks})${where ? `\n   ${where}` : ""}\n   ${hit.snippet}`;
  });
  return (
    [
      `${answer.hits.length === 1 ? "1 page" : `${answer.hits.length} pages`}${scope} ${answer.hits.length === 1 ? "matches" : "match"} the meaning of ${JSON.stringify(answer.query)} (${answer.mode}):`,
      ...lines,
    ].join("\n") + indexing
  );
}
