/**
 * move_note: renames a page with its attachments, optionally rewriting links to it and its
 * title in the same commit.
 */
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
    "Move (rename) a page to a new path. Its attachments (the files in the folder named like the page) move with it; pages in that folder keep their paths. With update_links: true, every link to it in the wiki ([[Old Page]], [[text|Old Page]], [text](/Old%20Page) and links to its attachments) is rewritten to the new path in the same commit; otherwise links to the old path stop resolving. With update_title: true, the page's first # heading becomes the new page name. The target must not exist. The page's history before the move stays under its old path (note_history on the old path shows it).",
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
    update_title: z
      .boolean()
      .optional()
      .describe("Make the page's first # heading the new page name (default false)"),
    expected_revision: expectedRevisionField,
    message: messageField,
  },
  outputSchema: {
    from: z.string(),
    to: z.string(),
    revision: z.string().describe("The commit of the move, now the page's revision"),
    links_updated_in: z.array(z.string()).describe("Pages whose links were rewritten"),
    attachments_moved: z
      .array(z.string())
      .describe("File names of the attachments that moved with the page"),
    title_updated: z.boolean(),
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
        updateTitle: input.update_title === true,
        expectedRevision: expected,
      }),
    );
    const links =
      input.update_links === true
        ? result.linksUpdatedIn.length === 0
          ? " No page linked to it."
          : ` Links updated in: ${result.linksUpdatedIn.join(", ")}.`
        : "";
    const attachments =
      result.attachmentsMoved.length === 0
        ? ""
        : ` Attachments moved: ${result.attachmentsMoved.join(", ")}.`;
    const title =
      input.update_title !== true
        ? ""
        : result.titleUpdated
          ? ` Its # heading now reads "${result.to.split("/").at(-1)}".`
          : " Its title was left alone: the page has no # heading, or it already read so.";
    return {
      text: `Moved "${result.from}" to "${result.to}" in revision ${result.revision}.${links}${attachments}${title}`,
      structured: {
        from: result.from,
        to: result.to,
        revision: result.revision,
        links_updated_in: result.linksUpdatedIn,
        attachments_moved: result.attachmentsMoved,
        title_updated: result.titleUpdated,
      },
    };
  },
});
