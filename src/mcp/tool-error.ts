/**
 * MCP's one tool error class and its one mapper. Tool failures are `isError` results whose text
 * says what went wrong and what to do next (DESIGN §6); page-store errors are translated here,
 * and anything else is logged and answered with a generic message, never a stack trace.
 */
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { errorFields, type Logger } from "../lib/log.ts";
import { PageError, type PageErrorCode } from "../pages/page-error.ts";
import { SearchUnavailableError } from "../search/semantic-hits.ts";

export type ToolErrorCode =
  | "invalid_arguments"
  | "invalid_range"
  | "section_not_found"
  | "forbidden"
  | "conflict"
  /** write_note on an existing page with neither expected_revision nor overwrite. */
  | "revision_required"
  | "internal_error"
  | "search_unavailable"
  | PageErrorCode;

export class ToolError extends Error {
  override name = "ToolError";
  constructor(
    readonly code: ToolErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** What an agent should do after each page-store error. */
const NEXT_STEP: Record<PageErrorCode, string> = {
  invalid_path:
    'Page paths look like "Folder/Page Name": no ".md", no leading "/", none of ? | $ . ! # \\.',
  invalid_revision:
    "Revisions are the 40-character commit ids that read_note, note_history and recent_changes return.",
  not_found: "Use list_notes or search to find the page.",
  conflict: "Read the page again and retry with its current revision.",
  already_exists: "Pick another path, or move or delete the existing page first.",
  too_large: "Split the content over several pages.",
  invalid_content: "Pages hold UTF-8 text only.",
  edit_failed: "Nothing was changed.",
  plan_limit:
    "Nothing was changed. Tell the user: the wiki is full for its plan; deleting or shortening pages makes room.",
  shutting_down: "Retry in a few seconds.",
};

export function toolErrorText(code: ToolErrorCode, message: string): string {
  return `Error (${code}): ${message}`;
}

export function toolErrorResult(error: unknown, logger: Logger, tool: string): CallToolResult {
  if (error instanceof ToolError) {
    return {
      isError: true,
      content: [{ type: "text", text: toolErrorText(error.code, error.message) }],
    };
  }
  if (error instanceof SearchUnavailableError) {
    const text = `${toolErrorText("search_unavailable", error.message)}\nUse search (full text) instead.`;
    return { isError: true, content: [{ type: "text", text }] };
  }
  if (error instanceof PageError) {
    const text = `${toolErrorText(error.code, error.message)}\n${NEXT_STEP[error.code]}`;
    return { isError: true, content: [{ type: "text", text }] };
  }
  logger.error("mcp tool failed", { tool, ...errorFields(error) });
  return {
    isError: true,
    content: [
      {
        type: "text",
        text: toolErrorText(
          "internal_error",
          "the server failed while running this tool. Retry once; if it fails again, stop and tell the user.",
        ),
      },
    ],
  };
}
