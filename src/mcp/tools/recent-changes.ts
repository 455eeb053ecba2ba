/** recent_changes: the wiki's commits, newest first, since a date or since a revision cursor. */
import { z } from "zod";
import { gitDate } from "../../pages/commit-summary.ts";
import { defineTool, READ_ONLY } from "../tool-context.ts";
import { ToolError } from "../tool-error.ts";
import { commitLine, commitOutput, commitToOutput, limitField } from "../tool-format.ts";

const REVISION = /^[0-9a-fA-F]{7,40}$/;
const ISO_DATE =
  /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;

export const recentChanges = defineTool({
  name: "recent_changes",
  title: "Recent changes",
  description:
    "What changed in the wiki, newest first: each commit's revision, time, author, the client that made it (e.g. mcp/claude-code, browser, git), message and pages. since is either a date/time (ISO 8601, e.g. 2026-11-20 or 2026-11-20T09:00Z) or a revision: given a revision, only later changes are listed, so pass the head from your previous call to catch up on exactly what is new. Use diff or note_history for the details of a page.",
  access: "read",
  annotations: READ_ONLY,
  inputSchema: {
    since: z
      .string()
      .max(64)
      .optional()
      .describe("An ISO 8601 date/time, or a revision (then only later changes are listed)"),
    limit: limitField(200, "Most commits to return (default 20)"),
  },
  outputSchema: {
    head: z.string().describe("The wiki's current revision: pass it as since next time"),
    commits: z.array(commitOutput),
  },
  async run(input, { wiki, pages }) {
    const since = input.since?.trim();
    let options: { after?: string; since?: string } = {};
    if (since !== undefined && since !== "") {
      if (REVISION.test(since) && !/^\d{4}-/.test(since)) {
        options = { after: since };
      } else if (ISO_DATE.test(since) && !Number.isNaN(Date.parse(since))) {
        options = { since: gitDate(Date.parse(since)) };
      } else {
        throw new ToolError(
          "invalid_arguments",
          `since must be an ISO 8601 date/time (e.g. 2026-11-20 or 2026-11-20T09:00Z) or a revision, not ${JSON.stringify(since)}`,
        );
      }
    }
    const head = pages.head(wiki);
    const commits = (await pages.history(wiki, { ...options, limit: input.limit ?? 20 })).map(
      commitToOutput,
    );
    const text =
      commits.length === 0
        ? `No changes${since ? ` since ${since}` : ""}. The wiki is at revision ${head}.`
        : [
            `${commits.length} changes, newest first (the wiki is at revision ${head}):`,
            ...commits.map(commitLine),
          ].join("\n");
    return { text, structured: { head, commits } };
  },
});
