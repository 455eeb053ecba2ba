/**
 * What any page may hold, whichever path it arrives by (MCP, REST, browser, git push): the size
 * limit and "text, not binary". Names are checked by page-path.ts.
 */
import { PageError } from "./page-error.ts";

/** Largest page accepted, in UTF-8 bytes (Otterwiki's own form limit is 1,000,000). */
export const MAX_PAGE_BYTES = 1_000_000;

/** Refuses content no page may hold: over the size limit, or binary. */
export function checkContent(content: string): void {
  const bytes = Buffer.byteLength(content, "utf8");
  if (bytes > MAX_PAGE_BYTES) {
    throw new PageError(
      "too_large",
      `page content is ${bytes} bytes; the limit is ${MAX_PAGE_BYTES}`,
    );
  }
  if (content.includes("\u0000")) {
    throw new PageError("invalid_content", "page content contains a NUL character; pages are text");
  }
}
