/** delete_note: removes a page in a new commit; history keeps it, so revert_note brings it back. */
import { z } from "zod";
import { defineTool } from "../tool-context.ts";
import {
  expectedRevisionField,
  messageField,
  pathField,
  requireWriter,
  withConflictExplained,
} from "../tool-format.ts";

export const deleteNote = defineTool({
  name: "delete_note",
  title: "Delete a page",
  description:
    "Delete a page. Nothing is lost from history: the result names the page's last revision, and revert_note with that revision restores it. Pass expected_revision to delete only the version you read. Other pages' links to it are not changed.",
  access: "write",
  annotations: {
    readOnlyHint: false,
    destructiveHint: true,
    idempotentHint: true,
    openWorldHint: false,
  },
  inputSchema: { path: pathField, expected_revision: expectedRevisionField, message: messageField },
  outputSchema: {
    path: z.string(),
    revision: z.string().describe("The commit that deleted the page"),
    deleted_revision: z.string().describe("The page's last revision; revert_note restores it"),
  },
  async run(input, context) {
    const change = requireWriter(context);
    const expected = input.expected_revision?.toLowerCase();
    const result = await withConflictExplained(context, input.path, expected, () =>
      context.pages.delete(context.wiki, {
        ...change,
        message: input.message,
        path: input.path,
        expectedRevision: expected,
      }),
    );
    const restore = JSON.stringify({ path: result.path, revision: result.previousRevision });
    return {
      text: `Deleted "${result.path}" in revision ${result.revision}. To restore it: revert_note ${restore}`,
      structured: {
        path: result.path,
        revision: result.revision,
        deleted_revision: result.previousRevision,
      },
    };
  },
});
