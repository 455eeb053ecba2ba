/**
 * The browser protocol's one error class and its one mapper. Everything the wiki host refuses
 * is a `BrowserError` rendered as a small HTML page (people read these, not programs); a
 * process that cannot start is a 503 with Retry-After; anything else is a logged 500.
 */
import type { Refusal } from "../auth/access-decision.ts";
import { escapeHtml } from "../auth/session/handoff.ts";
import { errorFields, type Logger } from "../lib/log.ts";
import { PageError } from "../pages/page-error.ts";
import { WikiProcessError } from "./process-pool.ts";

export interface BrowserErrorOptions {
  links?: { href: string; label: string }[];
  /** Text handed back to the reader, e.g. the edit a refused save carried. */
  returnedText?: string;
  headers?: Record<string, string>;
}

export class BrowserError extends Error {
  override name = "BrowserError";
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string,
    readonly options: BrowserErrorOptions = {},
  ) {
    super(`${status} ${title}`);
  }
}

export function browserErrorResponse(error: unknown, logger: Logger, path: string): Response {
  if (error instanceof BrowserError) return renderPage(error);
  if (error instanceof WikiProcessError) {
    if (error.kind !== "shutting_down") logger.warn("wiki unavailable", { path, kind: error.kind });
    return renderPage(
      new BrowserError(
        503,
        "This wiki's pages are unavailable right now",
        error.kind === "shutting_down"
          ? "The server is restarting. Please try again in a moment."
          : "Its page server could not be started; it is retried automatically. Agents (MCP), the REST API and git keep working.",
        {
          headers: { "retry-after": String(error.retryAfterSeconds) },
          links: [{ href: path, label: "Try again" }],
        },
      ),
    );
  }
  if (error instanceof PageError && error.code === "shutting_down") {
    return renderPage(
      new BrowserError(503, "The server is restarting", "Please try again in a moment.", {
        headers: { "retry-after": "5" },
      }),
    );
  }
  logger.error("unhandled error in the wiki proxy", { path, ...errorFields(error) });
  return renderPage(
    new BrowserError(500, "Something went wrong on our side", "The error has been logged."),
  );
}

function renderPage(error: BrowserError): Response {
  const links = (error.options.links ?? [])
    .map((link) => `<li><a href="${escapeHtml(link.href)}">${escapeHtml(link.label)}</a></li>`)
    .join("");
  const returned =
    error.options.returnedText === undefined
      ? ""
      : `<p>Your text, so nothing is lost:</p><textarea readonly rows="16" id="your-text">${escapeHtml(error.options.returnedText)}</textarea>`;
  const body = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(error.title)}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:44rem;margin:3rem auto;padding:0 1rem;color:#222}
textarea{width:100%;font:14px/1.4 ui-monospace,monospace}</style></head>
<body><h1>${escapeHtml(error.title)}</h1><p id="detail">${escapeHtml(error.detail)}</p>
${links === "" ? "" : `<ul>${links}</ul>`}${returned}</body></html>`;
  return new Response(body, {
    status: error.status,
    headers: {
      "content-type": "text/html; charset=utf-8",
      "cache-control": "no-store",
      ...error.options.headers,
    },
  });
}

/** The access decision's refusal of a change, as a page for a person. */
export function readOnlyPage(refusal: Refusal): BrowserError {
  const sentence = refusal.message.charAt(0).toUpperCase() + refusal.message.slice(1);
  const links = [{ href: "/", label: "Back to the wiki" }];
  switch (refusal.reason) {
    case "unauthenticated":
      return new BrowserError(401, "Please sign in", "Sign in to change this wiki.", {
        links: [{ href: "/-/login", label: "Sign in" }],
      });
    case "lapsed":
      return new BrowserError(
        403,
        "This wiki is read-only",
        `${sentence}. Reading works as before.`,
        {
          links,
        },
      );
    case "read_only_role":
      return new BrowserError(
        403,
        "This wiki is read-only for you",
        `${sentence}. Ask its owner for the editor role.`,
        { links },
      );
    default:
      return new BrowserError(403, "This wiki is read-only for you", `${sentence}.`, { links });
  }
}
