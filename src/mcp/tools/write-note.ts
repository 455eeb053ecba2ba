/**
 * write_note: create a page or replace its whole text. Replacing needs the revision last read,
 * or an explicit overwrite: an agent that forgot the revision must not silently undo a
 * colleague's edit (issue 13; REST keeps HTTP's If-Match semantics instead).
 */
import { z } from "zod";
import { PageError } from "../../pages/page-error.ts";
import { toWriteResultWire } from "../../pages/write-wire.ts";
import { defineTool } from "../tool-context.ts";
import { ToolError } from "../tool-error.ts";
import {
  describeWrite,
  messageField,
  pathField,
  requireWriter,
  withConflictExplained,
  writeResultOutput,
} from "../tool-format.ts";

export const writeNote = defineTool({
  name: "write_note",
  title: "Create or replace a page",
  description:
    'Create a page, or replace a page\'s entire text. To change part of an existing page prefer edit_note. Replacing an existing page needs expected_revision (the revision read_note gave you): if someone changed the page since, nothing is written and you get the current revision and a diff of what changed. Without expected_revision an existing page is not replaced: you get its current revision and what to do; pass overwrite: true only if you mean to replace it whatever it holds now. Pass expected_revision "new" to create the page only if it does not exist yet. Returns the new revision and how many lines changed. Links to other pages: [[Page Name]] or [text](/Page%20Name).',
  access: "write",
  annotations: {
    readOnlyHint: false,
    destructiveHint: true,
    idempotentHint: true,
    openWorldHint: false,
  },
  inputSchema: {
    path: pathField,
    content: z.string().describe("The page's complete Markdown text (at most 1,000,000 bytes)"),
    expected_revision: z
      .union([z.literal("new"), z.string().regex(/^[0-9a-fA-F]{40}$/)])
      .optional()
      .describe(
        'The revision you last read, or "new" to require that the page does not exist yet. Needed to replace an existing page, unless overwrite is true.',
      ),
    overwrite: z
      .boolean()
      .optional()
      .describe(
        "Replace an existing page without expected_revision, discarding any edit you have not seen (default false)",
      ),
    message: messageField,
  },
  outputSchema: writeResultOutput,
  async run(input, context) {
    const change = requireWriter(context);
    const expected = input.expected_revision;
    if (expected !== undefined && input.overwrite === true) {
      throw new ToolError(
        "invalid_arguments",
        "give expected_revision or overwrite: true, not both: expected_revision replaces the page only if it is still at that revision, overwrite replaces it whatever it holds",
      );
    }
    const write = (expectedRevision: string | null | undefined) =>
      context.pages.write(context.wiki, {
        ...change,
        message: input.message,
        path: input.path,
        content: input.content,
        expectedRevision,
      });
    let result: Awaited<ReturnType<typeof write>>;
    if (expected === undefined) {
      try {
        // Create-only unless told to overwrite: the check and the commit happen under the
        // wiki's write gate, so a page created meanwhile is never replaced by accident.
        result = await write(input.overwrite === true ? undefined : null);
      } catch (error) {
        const current = error instanceof PageError ? error.details.currentRevision : undefined;
        if (
          error instanceof PageError &&
          error.code === "conflict" &&
          typeof current === "string"
        ) {
          throw new ToolError(
            "revision_required",
            `"${input.path}" already exists at revision ${current}, and write_note without expected_revision only creates pages; nothing was written. To replace it, read it (read_note) and call write_note again with expected_revision "${current}", or change part of it with edit_note; pass overwrite: true only to replace it whatever it holds.`,
          );
        }
        throw error;
      }
    } else {
      result = await withConflictExplained(
        context,
        input.path,
        expected === "new" ? undefined : expected,
        () => write(expected === "new" ? null : expected.toLowerCase()),
      );
    }
    return { text: describeWrite(result), structured: toWriteResultWire(result) };
  },
});
