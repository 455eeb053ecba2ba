/** grep_notes: the exact lines that contain a text, as `path:line: text`, ready for edit_note. */
import { z } from "zod";
import { grepPage, type PageMatches } from "../../pages/line-grep.ts";
import { defineTool, READ_ONLY } from "../tool-context.ts";
import { limitField } from "../tool-format.ts";

const DEFAULT_MATCHES = 50;
/** Candidate pages read per call; past it the answer says more pages contain the text. */
const MAX_PAGES = 500;

export const grepNotes = defineTool({
  name: "grep_notes",
  title: "Find exact lines",
  description:
    'Find every line that contains a literal text (not a word search, not a pattern): answers "path:line: text" for each match with the page\'s revision, optionally with context lines ("path-line- text"), so the line can be quoted in edit_note as it is. Case-sensitive unless ignore_case (which folds ASCII letters). Use search to find pages by words, semantic_search by meaning, grep_notes to find the exact line to change. Output is bounded: it says how many more matches there are and how to narrow (path_prefix, a longer text).',
  access: "read",
  annotations: READ_ONLY,
  inputSchema: {
    text: z.string().min(1).max(500).describe("The literal text to find within a line"),
    path_prefix: z
      .string()
      .max(600)
      .optional()
      .describe('Only pages whose path starts with this, e.g. "Research/"'),
    ignore_case: z.boolean().optional().describe("Match ASCII letters in any case (default false)"),
    context: z
      .number()
      .int()
      .min(0)
      .max(5)
      .optional()
      .describe("Lines to show before and after each match (default 0)"),
    limit: limitField(200, `Most matching lines to show (default ${DEFAULT_MATCHES})`),
  },
  outputSchema: {
    text: z.string(),
    total_matches: z.number().int().describe("Matching lines in the pages read"),
    shown_matches: z.number().int(),
    pages: z.array(
      z.object({
        path: z.string(),
        revision: z.string(),
        matches: z.number().int(),
        lines: z.array(z.object({ line: z.number().int(), text: z.string(), match: z.boolean() })),
      }),
    ),
    more_pages: z
      .boolean()
      .describe(`More than ${MAX_PAGES} pages contain the text; only the first were read`),
  },
  async run(input, { wiki, pages }) {
    const limit = input.limit ?? DEFAULT_MATCHES;
    const ignoreCase = input.ignore_case === true;
    const candidates = await pages.pagesContaining(wiki, input.text, {
      prefix: input.path_prefix ?? "",
      ignoreCase,
      limit: MAX_PAGES + 1,
    });
    const morePages = candidates.length > MAX_PAGES;
    let budget = limit;
    const found: PageMatches[] = [];
    for (const page of candidates.slice(0, MAX_PAGES)) {
      const matches = grepPage(page, input.text, {
        ignoreCase,
        context: input.context ?? 0,
        budget,
      });
      // instr() and toLowerCase() fold case differently outside ASCII; a page may hold no line.
      if (matches.count === 0) continue;
      budget -= Math.min(budget, matches.count);
      found.push(matches);
    }
    const total = found.reduce((sum, page) => sum + page.count, 0);
    const shown = Math.min(total, limit);
    const body = found
      .filter((page) => page.lines.length > 0)
      .map((page) =>
        [
          `${page.path} (revision ${page.revision}, ${page.count} ${page.count === 1 ? "match" : "matches"})`,
          ...page.lines.map(
            (line) =>
              `${page.path}${line.match ? ":" : "-"}${line.line}${line.match ? ":" : "-"} ${line.text}`,
          ),
        ].join("\n"),
      );
    const hidden = total - shown;
    const tail = [
      hidden > 0
        ? `${hidden} more matching ${hidden === 1 ? "line" : "lines"} not shown: raise limit (up to 200), or narrow with path_prefix or a longer text.`
        : "",
      morePages
        ? `More than ${MAX_PAGES} pages contain this text; only the first ${MAX_PAGES} by path were read: narrow with path_prefix.`
        : "",
    ].filter((line) => line !== "");
    const header =
      total === 0
        ? `No line contains ${JSON.stringify(input.text)}${input.path_prefix ? ` under "${input.path_prefix}"` : ""}.`
        : `${total} matching ${total === 1 ? "line" : "lines"} in ${found.length} ${found.length === 1 ? "page" : "pages"} for ${JSON.stringify(input.text)}:`;
    return {
      text: [header, ...body, ...tail].join("\n\n"),
      structured: {
        text: input.text,
        total_matches: total,
        shown_matches: shown,
        pages: found.map((page) => ({
          path: page.path,
          revision: page.revision,
          matches: page.count,
          lines: page.lines,
        })),
        more_pages: morePages,
      },
    };
  },
});
