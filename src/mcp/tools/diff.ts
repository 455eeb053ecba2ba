/** diff: unified diff of one page between two revisions. */
import { z } from "zod";
import { defineTool, READ_ONLY } from "../tool-context.ts";
import { pathField, revisionField, trimDiff } from "../tool-format.ts";

const MAX_DIFF_LINES = 2000;

export const diff = defineTool({
  name: "diff",
  title: "Compare two versions of a page",
  description:
    "Unified diff of one page between from_revision and to_revision (default: the wiki's current revision). Lines starting with - were removed, + were added. Revisions come from note_history, recent_changes or read_note.",
  access: "read",
  annotations: READ_ONLY,
  inputSchema: {
    path: pathField,
    from_revision: revisionField,
    to_revision: revisionField.optional().describe("Default: the current revision"),
  },
  outputSchema: {
    path: z.string(),
    from_revision: z.string(),
    to_revision: z.string(),
    diff: z.string(),
    truncated: z.boolean(),
  },
  async run(input, { wiki, pages }) {
    const to = input.to_revision ?? pages.head(wiki);
    const raw = await pages.diff(wiki, { path: input.path, from: input.from_revision, to });
    const trimmed = trimDiff(raw, MAX_DIFF_LINES);
    const text =
      trimmed.text.length === 0
        ? `"${input.path}" is the same at ${input.from_revision} and ${to}.`
        : `Changes to "${input.path}" from ${input.from_revision} to ${to}:\n${trimmed.text}`;
    return {
      text,
      structured: {
        path: input.path,
        from_revision: input.from_revision,
        to_revision: to,
        diff: trimmed.text,
        truncated: trimmed.truncated,
      },
    };
  },
});
