/**
 * The management API's one error class and its one mapper: every refusal is
 * `{ error: { code, message } }`, the shape of /api/v1. Use-case refusals (WikiError) map by
 * their code; a closed write gate is a 503; anything else is left to the caller to log as 500.
 */
import { jsonError } from "../http/json.ts";
import { PageError } from "../pages/page-error.ts";
import { WikiError, type WikiErrorCode } from "../wikis/use-case.ts";

export class ManageError extends Error {
  override name = "ManageError";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const STATUS: Record<WikiErrorCode, number> = {
  invalid: 400,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  plan_limit: 403,
};

/** The response for a known refusal, or null for an unexpected error. */
export function refusalResponse(error: unknown): Response | null {
  if (error instanceof ManageError)
    return jsonError(error.status, error.code, error.message, error.headers);
  if (error instanceof WikiError) return jsonError(STATUS[error.code], error.code, error.message);
  if (error instanceof PageError && error.code === "shutting_down")
    return jsonError(503, error.code, error.message, { "retry-after": "5" });
  return null;
}
