/**
 * The page rules applied to files that arrive as a whole tree (a `git push`) rather than one page
 * at a time: the same names (page-path.ts), the same size and "text, not binary" limits
 * (page-rules.ts), no two paths that differ only in letter case, and nothing but plain files. Pure
 * decisions on paths, modes and sizes; reading the objects is the caller's job (git/push-check.ts).
 *
 * Files that are not pages (attachments, images) may be at most `maxFileBytes`, the server's
 * request-body limit, which is also the largest attachment the browser can upload. They must sit
 * in folders whose names a page could have, since a folder holds a page's subpages and
 * attachments (`/<page>/a/<file>`), and no part of a path may start with `.git`: `.gitattributes`
 * or `.gitignore` would change how our own git commands read and repair the working tree.
 */
import { checkPagePath } from "./page-path.ts";
import { MAX_PAGE_BYTES } from "./page-rules.ts";

/** git tree entry modes (Documentation/gitformat-index.adoc, "object type"). */
export const GITLINK_MODE = "160000";
export const SYMLINK_MODE = "120000";
const FILE_MODES: ReadonlySet<string> = new Set(["100644", "100755"]);

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what we refuse
const CONTROL = /[\u0000-\u001f\u007f]/;
const MAX_NAME_BYTES = 255; // ext4's limit for one file name

/** A file whose content must follow the page rules: every `*.md` file is a page or refused. */
export function isPageFile(path: string): boolean {
  return path.endsWith(".md");
}

/**
 * Why the file at `path` with git mode `mode` may not be in a wiki (a clause to follow the path),
 * judged before its content; null when it may.
 */
export function treeEntryProblem(path: string, mode: string): string | null {
  if (mode === GITLINK_MODE) {
    return "a submodule (gitlink): a wiki holds only pages and files";
  }
  if (mode === SYMLINK_MODE) {
    return "a symbolic link: a wiki holds only pages and files (no other way of writing makes links)";
  }
  if (!FILE_MODES.has(mode)) return `unsupported git mode ${mode}`;
  // Callers decode git's raw path bytes without failing; what was not UTF-8 became U+FFFD.
  if (path.includes("\uFFFD")) return "the path is not valid UTF-8";
  if (isPageFile(path)) {
    const check = checkPagePath(path);
    if (!check.ok) return check.reason;
    if (check.file !== path) {
      return `not in Unicode normal form NFKC; name the file "${check.file}"`;
    }
    return null;
  }
  return otherFileProblem(path);
}

function otherFileProblem(path: string): string | null {
  const slash = path.lastIndexOf("/");
  const name = path.slice(slash + 1);
  if (CONTROL.test(path)) return "the path contains a control character";
  if (name.toLowerCase().startsWith(".git")) {
    return `"${name}" would configure git on the server; files named .git… are not accepted`;
  }
  if (Buffer.byteLength(name, "utf8") > MAX_NAME_BYTES) {
    return `the file name is longer than ${MAX_NAME_BYTES} bytes`;
  }
  if (slash < 0) return null;
  const folder = path.slice(0, slash);
  const check = checkPagePath(folder);
  if (!check.ok) {
    return `the folder "${folder}" is not a name a page could have: ${check.reason}`;
  }
  if (check.path !== folder) {
    return `the folder "${folder}" is not in Unicode normal form NFKC`;
  }
  return null;
}

/** Why a file of `bytes` bytes may not be at `path`; null when its size is allowed. */
export function sizeProblem(path: string, bytes: number, maxFileBytes: number): string | null {
  if (isPageFile(path)) {
    return bytes > MAX_PAGE_BYTES
      ? `page content is ${bytes} bytes; the limit is ${MAX_PAGE_BYTES}`
      : null;
  }
  return bytes > maxFileBytes
    ? `the file is ${bytes} bytes; files other than pages are limited to ${maxFileBytes} bytes (the upload limit)`
    : null;
}

/** The message for a page whose bytes hold a NUL, worded as the other write paths word it. */
export const NUL_IN_PAGE = "page content contains a NUL character; pages are text";

/**
 * Pairs of paths in one tree that are equal ignoring letter case (and Unicode normalisation, as
 * macOS compares them), counting folders as well as files: such a tree cannot be checked out on
 * macOS or Windows, and the browser and the page index would see only one of each pair.
 */
export function findCaseTwins(files: Iterable<string>): [string, string][] {
  const seen = new Map<string, string>();
  const twins: [string, string][] = [];
  const reported = new Set<string>();
  const visit = (path: string) => {
    const key = path.normalize("NFC").toLowerCase();
    const first = seen.get(key);
    if (first === undefined) {
      seen.set(key, path);
    } else if (first !== path && !reported.has(key)) {
      reported.add(key);
      twins.push([first, path]);
    }
  };
  for (const file of files) {
    // Folders first, so `Dir/a.md` + `dir/b.md` is reported once, as the folders.
    for (let slash = file.indexOf("/"); slash >= 0; slash = file.indexOf("/", slash + 1)) {
      visit(file.slice(0, slash));
    }
    visit(file);
  }
  return twins;
}
