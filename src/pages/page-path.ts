/**
 * Page names and the files that hold them. Otterwiki runs with RETAIN_PAGE_NAME_CASE, so page
 * "Research/Topic A" is the file "Research/Topic A.md" for us, for git and for the browser.
 * Otterwiki silently strips `? | $ . ! #` and `\` from names and NFKC-normalises them
 * (otterwiki/util.py sanitize_pagename); we refuse such names instead, so the page an agent
 * names is the page a person opens. The ban on `.` also rules out `..`, `.git` and extensions.
 */

export type PagePathCheck =
  | { ok: true; path: string; file: string }
  | { ok: false; reason: string };

const MAX_PATH_BYTES = 512;
const MAX_SEGMENT_BYTES = 200; // + ".md" stays far below ext4's 255-byte file names
const STRIPPED_BY_OTTERWIKI = /[?|$.!#\\]/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what we refuse
const CONTROL = /[\u0000-\u001f\u007f]/;

/** First segments that are our own routes on a wiki host (DESIGN §2). */
const RESERVED_FIRST_SEGMENTS: ReadonlySet<string> = new Set([
  "mcp",
  "api",
  "oauth",
  "authorize",
  "token",
  "register",
  "static",
  "auth",
  "favicon",
  "robots",
  "sitemap",
  "manifest",
]);

/** Otterwiki routes `/<page>/<action>`, so a page ending in one of these is unreachable there. */
const RESERVED_LAST_SEGMENTS: ReadonlySet<string> = new Set([
  "view",
  "history",
  "diff",
  "rename",
  "delete",
  "blame",
  "edit",
  "save",
  "preview",
  "draft",
  "source",
  "attachments",
  "inline_attachment",
  "attachment",
]);

/** Otterwiki's `/<page>/<action>/<argument>` routes (`/<page>/diff/<a>/<b>` takes two). */
const ACTIONS_WITH_ONE_ARGUMENT: ReadonlySet<string> = new Set([
  "view",
  "blame",
  "edit",
  "source",
  "attachment",
]);

const utf8Length = (text: string) => Buffer.byteLength(text, "utf8");

export function checkPagePath(input: string): PagePathCheck {
  if (typeof input !== "string" || input.length === 0) {
    return { ok: false, reason: "page path is empty" };
  }
  if (input.includes("\u0000") || CONTROL.test(input)) {
    return { ok: false, reason: "page path contains a control character (e.g. NUL or newline)" };
  }
  let path = input.normalize("NFKC");
  if (path.endsWith(".md")) path = path.slice(0, -3);
  if (path.startsWith("/")) {
    return { ok: false, reason: `page path "${input}" must be relative (no leading "/")` };
  }
  if (utf8Length(path) > MAX_PATH_BYTES) {
    return {
      ok: false,
      reason: `page path is too long (${utf8Length(path)} bytes; at most ${MAX_PATH_BYTES})`,
    };
  }
  if (STRIPPED_BY_OTTERWIKI.test(path)) {
    return {
      ok: false,
      reason: `page path "${input}" contains one of ? | $ . ! # \\ which page names cannot hold (so "..", ".git" and file extensions other than .md are refused too)`,
    };
  }
  if (path.startsWith("-")) {
    return { ok: false, reason: `page path "${input}" must not start with "-"` };
  }
  const segments = path.split("/");
  for (const [index, segment] of segments.entries()) {
    if (segment.length === 0) {
      return {
        ok: false,
        reason: `page path "${input}" has an empty segment ("//" or a trailing "/")`,
      };
    }
    if (segment.trim() !== segment) {
      return {
        ok: false,
        reason: `page path segment "${segment}" starts or ends with white space`,
      };
    }
    if (utf8Length(segment) > MAX_SEGMENT_BYTES) {
      return {
        ok: false,
        reason: `page path segment is too long (at most ${MAX_SEGMENT_BYTES} bytes)`,
      };
    }
    if (index === 0 && RESERVED_FIRST_SEGMENTS.has(segment.toLowerCase())) {
      return {
        ok: false,
        reason: `"${segment}" is reserved for the wiki's own routes; choose another top-level name`,
      };
    }
    if (index > 0 && (segment === "a" || segment === "t")) {
      return {
        ok: false,
        reason: `a segment named "${segment}" after the first is reserved (attachment URLs)`,
      };
    }
    if (index > 0 && index === segments.length - 1 && RESERVED_LAST_SEGMENTS.has(segment)) {
      return {
        ok: false,
        reason: `a page cannot end in "/${segment}" (it is a page action in the browser)`,
      };
    }
    const following = segments.length - 1 - index;
    if (
      index > 0 &&
      ((following === 1 && ACTIONS_WITH_ONE_ARGUMENT.has(segment)) ||
        (following === 2 && segment === "diff"))
    ) {
      return {
        ok: false,
        reason: `"${segment}" here would be read as a page action in the browser; rename that segment`,
      };
    }
  }
  return { ok: true, path, file: `${path}.md` };
}

/** The page a repository file holds, or null when the file is not a valid page. */
export function pagePathOfFile(file: string): string | null {
  if (!file.endsWith(".md")) return null;
  const check = checkPagePath(file);
  return check.ok && check.file === file ? check.path : null;
}

/** A page's title: its first level-1 heading, else the last segment of its path. */
export function pageTitle(path: string, content: string): string {
  const heading = /^#[ \t]+(.+?)[ \t#]*$/m.exec(content.slice(0, 4096));
  return heading?.[1]?.trim() || (path.split("/").at(-1) ?? path);
}
