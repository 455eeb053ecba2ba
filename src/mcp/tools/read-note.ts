/**
 * read_note: a page's text with line numbers, in slices or one section, at the current or any
 * past revision.
 */
import { z } from "zod";
import { splitLines } from "../../pages/markdown.ts";
import { locateSection, type Section } from "../../pages/sections.ts";
import { defineTool, READ_ONLY } from "../tool-context.ts";
import { ToolError } from "../tool-error.ts";
import { pathField, revisionField } from "../tool-format.ts";

/** About 400 lines fit an agent's context comfortably; longer pages continue on request. */
export const DEFAULT_LINES = 400;
/** Long lines can make 400 lines huge; a slice also stops after this many characters. */
const MAX_CHARACTERS = 60_000;

export const readNote = defineTool({
  name: "read_note",
  title: "Read a page",
  description: `Read a wiki page as numbered lines ("<line number><TAB><text>"), with its revision. Long pages come in slices of about ${DEFAULT_LINES} lines: when next_line_start is set, call again with line_start = next_line_start and the same revision to keep reading the same version. Pass revision to read the page as it was at that commit. The revision returned is what write_note and edit_note take as expected_revision. When you copy text for edit_note, leave out the line numbers and the tab. Pass section (a heading such as "Results", "## Results" or a path "Methods/Setup"; any case) to read only that section, through the line before the next heading of its level or higher; the answer gives its line range, and a heading that matches several is refused with the list. Pass max_chars to cap the answer's size; it ends on a whole line. A missing page answers with the closest existing paths.`,
  access: "read",
  annotations: READ_ONLY,
  inputSchema: {
    path: pathField,
    revision: revisionField.optional().describe("Read the page as of this revision (commit id)"),
    section: z
      .string()
      .min(1)
      .max(500)
      .optional()
      .describe('Read only this section: "Results", "## Results" or "Methods/Setup"'),
    line_start: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe("First line to return (1-based; default 1, or the section's first line)"),
    line_end: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe(`Last line to return (default line_start + ${DEFAULT_LINES - 1})`),
    max_chars: z
      .number()
      .int()
      .min(200)
      .max(MAX_CHARACTERS)
      .optional()
      .describe(
        `Stop before this many characters (default ${MAX_CHARACTERS}); the answer ends on a whole line and says where to continue`,
      ),
  },
  outputSchema: {
    path: z.string(),
    title: z.string(),
    revision: z
      .string()
      .describe("The commit that last changed this page (as of the revision read)"),
    changed_at: z.string().describe("ISO 8601 time of that commit"),
    author: z.string(),
    total_lines: z.number().int(),
    line_start: z.number().int(),
    line_end: z.number().int().describe("Last line returned (0 for an empty page)"),
    content: z.string().describe("The returned lines, without line numbers"),
    next_line_start: z
      .number()
      .int()
      .nullable()
      .describe("Where to continue reading; null at the end (of the section, if one was asked)"),
    section: z
      .object({
        heading_path: z.array(z.string()),
        line_start: z.number().int(),
        line_end: z.number().int(),
      })
      .optional()
      .describe("The section read and its whole line range"),
  },
  async run(input, { wiki, pages }) {
    const page = await pages.read(wiki, input.path, input.revision);
    const lines = splitLines(page.content);
    const total = lines.length;
    const section = input.section === undefined ? null : sectionOf(page.content, input.section);
    const start = input.line_start ?? section?.lineStart ?? 1;
    const last = section?.lineEnd ?? total;
    if (section !== null && (start < section.lineStart || start > section.lineEnd)) {
      throw new ToolError(
        "invalid_range",
        `line_start ${start} is outside section "${section.headingPath.join("/")}" (lines ${section.lineStart}–${section.lineEnd})`,
      );
    }
    if (input.line_end !== undefined && input.line_end < start) {
      throw new ToolError(
        "invalid_range",
        `line_end ${input.line_end} is before line_start ${start}`,
      );
    }
    if (total > 0 && start > total) {
      throw new ToolError(
        "invalid_range",
        `line_start ${start} is past the end: "${page.path}" has ${total} lines`,
      );
    }
    let end = Math.min(input.line_end ?? start + DEFAULT_LINES - 1, last);
    const budget = input.max_chars ?? MAX_CHARACTERS;
    let characters = 0;
    for (let line = start; line <= end; line++) {
      characters += (lines[line - 1]?.length ?? 0) + 1;
      // The first line always comes whole, or a long line could never be read at all.
      if (characters > budget && line > start) {
        end = line - 1;
        break;
      }
    }
    const slice = total === 0 ? [] : lines.slice(start - 1, end);
    const next = end < last ? end + 1 : null;
    const width = String(Math.max(end, 1)).length;
    const numbered = slice.map(
      (line, index) => `${String(start + index).padStart(width)}\t${line}`,
    );
    const where =
      section === null
        ? ""
        : `section "${section.headingPath.join(" › ")}" (lines ${section.lineStart}–${section.lineEnd}), `;
    const header =
      total === 0
        ? `"${page.path}" at revision ${page.revision} is empty.`
        : `"${page.path}" at revision ${page.revision}: ${where}lines ${start}–${end} of ${total}`;
    const continuation =
      next === null
        ? ""
        : `\n… ${last - end} more lines${section === null ? "" : " in this section"}. Continue with read_note ${JSON.stringify({ path: page.path, revision: page.revision, ...(input.section === undefined ? {} : { section: input.section }), line_start: next, ...(input.max_chars === undefined ? {} : { max_chars: input.max_chars }) })}`;
    return {
      text: `${header}\n${numbered.join("\n")}${continuation}`,
      structured: {
        path: page.path,
        title: page.title,
        revision: page.revision,
        changed_at: new Date(page.changedAt * 1000).toISOString(),
        author: page.author,
        total_lines: total,
        line_start: total === 0 ? 1 : start,
        line_end: total === 0 ? 0 : end,
        content: slice.length === 0 ? "" : `${slice.join("\n")}\n`,
        next_line_start: next,
        ...(section === null
          ? {}
          : {
              section: {
                heading_path: section.headingPath,
                line_start: section.lineStart,
                line_end: section.lineEnd,
              },
            }),
      },
    };
  },
});

function sectionOf(content: string, argument: string): Section {
  const lookup = locateSection(content, argument);
  if (!lookup.found) throw new ToolError("section_not_found", lookup.message);
  return lookup.section;
}
