/** move_note: renames a page, optionally rewriting links to it in the same commit. */
import { z } from "zod";
import { defineTool } from "../tool-context.ts";
import {
  expectedRevisionField,
  messageField,
  pathField,
  requireWriter,
  withConflictExplained,
} from "../tool-format.ts";

export const moveNote = defineTool({
  name: "move_note",
  title: "Move or rename a page",
  description:
    "Move (rename) a page to a new path. With update_links: true, every link to it in the wiki ([[Old Page]], [[text|Old Page]] and [text](/Old%20Page)) is rewritten to the new path in the same commit; otherwise links to the old path stop resolving. The target must not exist. The page's history before the move stays under its old path (note_history on the old path shows it).",
  access: "write",
  annotations: {
    readOnlyHint: false,
    destructiveHint: false,
    idempotentHint: false,
    openWorldHint: false,
  },
  inputSchema: {
    from: pathField.describe("The page's current path"),
    to: pathField.describe("The new path"),
    update_links: z
      .boolean()
      .optional()
      .describe("Rewrite links to the page across the wiki (default false)"),
    expected_revision: expectedRevisionField,
    message: messageField,
  },
  outputSchema: {
    from: z.string(),
    to: z.string(),
    revision: z.string().describe("The commit of the move, now the page's revision"),
    links_updated_in: z.array(z.string()).describe("Pages whose links were rewritten"),
  },
  async run(input, context) {
    const change = requireWriter(context);
    const expected = input.expected_revision?.toLowerCase();
    const result = await withConflictExplained(context, input.from, expected, () =>
      context.pages.move(context.wiki, {
        ...change,
        message: input.message,
        from: input.from,
        to: input.to,
        updateLinks: input.update_links === true,
        expectedRevision: expected,
      }),
    );
    const links =
      input.update_links === true
        ? result.linksUpdatedIn.length === 0
          ? " No page linked to it."
          : ` Links updated in: ${result.linksUpdatedIn.join(", ")}.`
        : "";
    return {
      text: `Moved "${result.from}" to "${result.to}" in revision ${result.revision}.${links}`,
      structured: {
        from: result.from,
        to: result.to,
        revision: result.revision,
        links_updated_in: result.linksUpdatedIn,
      },
    };
  },
});
