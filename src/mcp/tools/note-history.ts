/** note_history: the commits that changed one page, newest first. */
import { z } from "zod";
import { defineTool, READ_ONLY } from "../tool-context.ts";
import { commitLine, commitOutput, commitToOutput, limitField, pathField } from "../tool-format.ts";

export const noteHistory = defineTool({
  name: "note_history",
  title: "History of a page",
  description:
    "The revisions of one page, newest first, with time, author, client and message. Use a revision with read_note (to read that version), diff (to compare) or revert_note (to restore it). History before a move stays under the page's old path.",
  access: "read",
  annotations: READ_ONLY,
  inputSchema: {
    path: pathField,
    limit: limitField(200, "Most revisions to return (default 20)"),
  },
  outputSchema: { path: z.string(), commits: z.array(commitOutput) },
  async run(input, { wiki, pages }) {
    const commits = (await pages.history(wiki, { path: input.path, limit: input.limit ?? 20 })).map(
      commitToOutput,
    );
    const text =
      commits.length === 0
        ? `"${input.path}" has no history: no commit ever changed it. Use list_notes or search to find the page.`
        : [`History of "${input.path}", newest first:`, ...commits.map(commitLine)].join("\n");
    return { text, structured: { path: input.path, commits } };
  },
});
