/** revert_note: sets a page back to its text at an earlier revision, as a new commit. */
import { z } from "zod";
import { toWriteResultWire } from "../../pages/write-wire.ts";
import { defineTool } from "../tool-context.ts";
import {
  describeWrite,
  expectedRevisionField,
  messageField,
  pathField,
  requireWriter,
  revisionField,
  withConflictExplained,
  writeResultOutput,
} from "../tool-format.ts";

export const revertNote = defineTool({
  name: "revert_note",
  title: "Restore an earlier version of a page",
  description:
    "Set a page's text back to what it was at an earlier revision (see note_history), as a new commit; history is never rewritten. Also restores a deleted page (use the deleted_revision delete_note returned). Pass expected_revision to revert only the version you last read.",
  access: "write",
  annotations: {
    readOnlyHint: false,
    destructiveHint: true,
    idempotentHint: true,
    openWorldHint: false,
  },
  inputSchema: {
    path: pathField,
    revision: revisionField.describe("The revision whose text to restore"),
    expected_revision: expectedRevisionField,
    message: messageField,
  },
  outputSchema: { ...writeResultOutput, restored_from: z.string() },
  async run(input, context) {
    const change = requireWriter(context);
    const expected = input.expected_revision?.toLowerCase();
    const result = await withConflictExplained(context, input.path, expected, () =>
      context.pages.revert(context.wiki, {
        ...change,
        message: input.message,
        path: input.path,
        revision: input.revision,
        expectedRevision: expected,
      }),
    );
    return {
      text: `${describeWrite(result)} (restored from ${input.revision})`,
      structured: { ...toWriteResultWire(result), restored_from: input.revision },
    };
  },
});
