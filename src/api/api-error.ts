/**
 * The REST API's one error class and its one mapper: every refusal is `{ error: { code,
 * message, … } }` with the status the code implies. Page-store errors are translated here;
 * anything else propagates to the host's handler, which logs it and answers 500.
 */
import { jsonResponse } from "../http/json.ts";
import { PageError, type PageErrorCode } from "../pages/page-error.ts";
import { SearchUnavailableError } from "../search/semantic-hits.ts";

export class ApiError extends Error {
  override name = "ApiError";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  toResponse(): Response {
    return jsonResponse(
      { error: { code: this.code, message: this.message, ...this.extra } },
      this.status,
      this.headers,
    );
  }
}

const STATUS: Record<PageErrorCode, number> = {
  invalid_path: 400,
  invalid_revision: 400,
  not_found: 404,
  conflict: 412,
  already_exists: 409,
  too_large: 413,
  invalid_content: 400,
  edit_failed: 422,
  // Forbidden by the wiki's plan, like a lapsed wiki's writes; no retry helps until pages go.
  plan_limit: 403,
  shutting_down: 503,
};

export function apiErrorOf(error: PageError): ApiError {
  if (error.code === "conflict") {
    return new ApiError(412, "precondition_failed", error.message, {
      current_revision: error.details.currentRevision ?? null,
    });
  }
  if (error.code === "not_found") {
    return new ApiError(404, "not_found", error.message, {
      suggestions: error.details.suggestions ?? [],
    });
  }
  const headers: Record<string, string> =
    error.code === "shutting_down" ? { "retry-after": "5" } : {};
  return new ApiError(STATUS[error.code], error.code, error.message, {}, headers);
}

/** Runs a route's work; protocol errors become their responses, anything else propagates. */
export async function answer(work: () => Promise<Response>): Promise<Response> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof ApiError) return error.toResponse();
    if (error instanceof PageError) return apiErrorOf(error).toResponse();
    if (error instanceof SearchUnavailableError) {
      return new ApiError(503, "search_unavailable", error.message).toResponse();
    }
    throw error;
  }
}
