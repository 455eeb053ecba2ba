/** Shared shapes and text for tool replies: commits, diffs, revisions and common fields. */
import { z } from "zod";
import { decideAccess } from "../auth/access-decision.ts";
import { summarizeCommit } from "../pages/commit-summary.ts";
import { PageError } from "../pages/page-error.ts";
import type { ChangeContext, WriteResult } from "../pages/page-store.ts";
import { describeLineChange, writeResultWire } from "../pages/write-wire.ts";
import type { CommitInfo } from "../repo/objects.ts";
import type { ToolContext } from "./tool-context.ts";
import { ToolError } from "./tool-error.ts";

export const pathField = z
  .string()
  .min(1)
  .max(600)
  .describe('Page path without ".md", e.g. "Research/Topic A"');

export const revisionField = z
  .string()
  .regex(/^[0-9a-fA-F]{4,40}$/, "a revision is a commit id (hexadecimal)")
  .describe("A revision: the 40-character commit id returned by read_note, history or changes");

export const expectedRevisionField = z
  .string()
  .regex(/^[0-9a-fA-F]{40}$/, "expected_revision is the 40-character revision read_note returned")
  .optional()
  .describe(
    "The revision you last read (from read_note). If the page has changed since, nothing is written and you get the current revision and what changed. Omit only when you do not care about concurrent edits.",
  );

/** An optional page size: 1 to `max`, its default named in `description`. */
export const limitField = (max: number, description: string) =>
  z.number().int().min(1).max(max).optional().describe(description);

export const messageField = z
  .string()
  .max(500)
  .optional()
  .describe("A short commit message saying why; a default names the change");

export const commitOutput = z.object({
  revision: z.string(),
  time: z.string().describe("ISO 8601, UTC"),
  author: z.string(),
  client: z.string().nullable().describe("The tool that made the change, e.g. mcp/claude-code"),
  message: z.string(),
  pages: z.array(z.string()).describe("Pages the commit changed (at most 100)"),
  page_count: z.number().int(),
});

export type CommitOutput = z.infer<typeof commitOutput>;

export function commitToOutput(commit: CommitInfo): CommitOutput {
  const summary = summarizeCommit(commit);
  return {
    revision: summary.revision,
    time: summary.time,
    author: summary.author,
    client: summary.client,
    message: summary.message,
    pages: summary.pages,
    page_count: summary.pageCount,
  };
}

export function commitLine(commit: CommitOutput): string {
  const via = commit.client === null ? "" : ` via ${commit.client}`;
  const subject = commit.message.split("\n")[0] ?? "";
  const more = commit.page_count > commit.pages.length ? `, … (${commit.page_count} pages)` : "";
  const pages = commit.pages.length > 0 ? `\n    pages: ${commit.pages.join(", ")}${more}` : "";
  return `${commit.revision} ${commit.time} ${commit.author}${via}: ${subject}${pages}`;
}

/** Drops git's `diff --git` and `index` lines and caps the length; returns [text, truncated]. */
export function trimDiff(diff: string, maxLines: number): { text: string; truncated: boolean } {
  const lines = diff.split("\n");
  const start = lines.findIndex((line) => line.startsWith("--- "));
  const body = (start === -1 ? lines : lines.slice(start)).filter(
    (line, index, all) => index < all.length - 1 || line !== "",
  );
  if (body.length <= maxLines) return { text: body.join("\n"), truncated: false };
  return {
    text: `${body.slice(0, maxLines).join("\n")}\n… (${body.length - maxLines} more diff lines; use the diff tool for all of it)`,
    truncated: true,
  };
}

/** The change attribution for a write, or a ToolError saying why this caller cannot write. */
export function requireWriter(context: ToolContext): ChangeContext {
  const decision = decideAccess(context.wiki, context.principal, "write");
  if (decision.allowed && context.change !== null) return context.change;
  if (decision.allowed)
    throw new ToolError("forbidden", "this caller cannot be attributed a change");
  const { reason, message } = decision.refusal;
  const next =
    reason === "unauthenticated" || reason === "invalid_token"
      ? "Connect with a wiki token."
      : reason === "read_only_token"
        ? "Make a token with write scope and reconnect."
        : "Ask the wiki's owner, and do not retry.";
  throw new ToolError("forbidden", `${message}. ${next}`);
}

/**
 * Turns a stale-revision PageError into a conflict that shows what changed since the caller's
 * revision, so the agent can merge without another round trip.
 */
export async function explainConflict(
  context: ToolContext,
  path: string,
  expected: string,
  error: PageError,
): Promise<ToolError> {
  const current = error.details.currentRevision ?? null;
  let changes = "";
  if (current !== null) {
    const diff = await context.pages
      .diff(context.wiki, { path, from: expected, to: current })
      .catch(() => "");
    const trimmed = trimDiff(diff, 60);
    if (trimmed.text.length > 0) changes = `\nWhat changed since your revision:\n${trimmed.text}`;
  }
  const next =
    current === null
      ? "\nThe page no longer exists; write it again without expected_revision if you mean to recreate it."
      : `\nRead the page again, apply your change to the current text, and retry with expected_revision "${current}".`;
  return new ToolError("conflict", `${error.message}${changes}${next}`);
}

/** Runs a write; a stale expected revision becomes an explained conflict. */
export async function withConflictExplained<T>(
  context: ToolContext,
  path: string,
  expected: string | undefined,
  write: () => Promise<T>,
): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (error instanceof PageError && error.code === "conflict" && expected !== undefined) {
      throw await explainConflict(context, path, expected, error);
    }
    throw error;
  }
}

export const writeResultOutput = writeResultWire.shape;

export function describeWrite(result: WriteResult): string {
  if (!result.changed) {
    return `No change: "${result.path}" already had this content; it stays at revision ${result.revision}.`;
  }
  const change = describeLineChange(result);
  if (result.created) return `Created "${result.path}" at revision ${result.revision} (${change}).`;
  return `Updated "${result.path}": revision ${result.previousRevision} → ${result.revision} (${change}).`;
}
