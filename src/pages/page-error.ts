/** The page store's one error class; each protocol (MCP, REST) maps `code` to its own wire shape. */

export type PageErrorCode =
  | "invalid_path"
  | "invalid_revision"
  | "not_found"
  | "conflict"
  | "already_exists"
  | "too_large"
  | "invalid_content"
  | "edit_failed"
  /** The change would take the wiki past its plan's page or byte quota (plan-policy.ts). */
  | "plan_limit"
  | "shutting_down";

export class PageError extends Error {
  override name = "PageError";
  constructor(
    readonly code: PageErrorCode,
    message: string,
    readonly details: {
      /** The page's revision now (null: it does not exist), on conflicts. */
      currentRevision?: string | null;
      /** Nearby existing pages, on not_found. */
      suggestions?: string[];
    } = {},
  ) {
    super(message);
  }
}
