/** write_note: create a page or replace its whole text, guarded by the revision last read. */
import { z } from "zod";
import { defineTool } from "../tool-context.ts";
import {
  describeWrite,
  messageField,
  pathField,
  requireWriter,
  withConflictExplained,
  writeResultOutput,
  writeResultStructured,
} from "../tool-format.ts";

export const writeNote = defineTool({
  name: "write_note",
  title: "Create or replace a page",
  description:
    'Create a page, or replace a page\'s entire text. To change part of an existing page prefer edit_note. When replacing, pass expected_revision (from read_note): if someone changed the page since, nothing is written and you get the current revision and a diff of what changed. Pass expected_revision "new" to create the page only if it does not exist yet. Returns the new revision. Links to other pages: [[Page Name]] or [text](/Page%20Name).',
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
        'The revision you last read, or "new" to require that the page does not exist yet. Omit only when you do not care about concurrent edits.',
      ),
    message: messageField,
  },
  outputSchema: writeResultOutput,
  async run(input, context) {
    const change = requireWriter(context);
    const expected = input.expected_revision;
    const result = await withConflictExplained(
      context,
      input.path,
      expected === "new" ? undefined : expected,
      () =>
        context.pages.write(context.wiki, {
          ...change,
          message: input.message,
          path: input.path,
          content: input.content,
          expectedRevision: expected === "new" ? null : expected?.toLowerCase(),
        }),
    );
    return { text: describeWrite(result), structured: writeResultStructured(result) };
  },
});
