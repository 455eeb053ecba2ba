/**
 * The page rules for Otterwiki's write views other than save (save-guard.ts has that one):
 * rename, revert, attachment upload/rename, housekeeping. Each runs under the wiki's write gate,
 * on the form the proxy will forward (it re-serialises what it checked, so Werkzeug parses the
 * same fields), and throws a BrowserError when Otterwiki must not run the request. Names follow
 * checkPagePath and PageStore's case-twin rule, so a page made in the browser is a page MCP,
 * REST and git can name.
 *
 * Lost updates: only save carries a base revision (the proxy adds one to the editor). The others
 * are deliberately not refused for a page that changed since the form was shown, as MCP and REST
 * take If-Match as optional for the same actions:
 * - rename and delete act on the page as a whole under its current name; no text is merged or
 *   overwritten, and every revision, the newest included, stays in the history;
 * - revert names the commit it undoes, and `git revert` applies that commit's inverse as a
 *   three-way merge onto HEAD, failing (Otterwiki aborts it) when a later change touched the
 *   same lines, so a later change is never silently undone;
 * - an attachment upload over an existing name is an explicit "update attachment";
 * - housekeeping's "empty pages" are checked again here: a page that has been filled since the
 *   list was shown is not deleted.
 */
import { dirname } from "node:path";
import { checkPagePath, pagePathOfFile } from "../pages/page-path.ts";
import type { PageStore } from "../pages/page-store.ts";
import { gitText } from "../repo/git.ts";
import { blobSizes, resolveCommit } from "../repo/objects.ts";
import type { Wiki } from "../wikis/wiki-store.ts";
import { BrowserError } from "./browser-error.ts";
import { pageUrlPath } from "./route-policy.ts";
import { normalizeSavedContent } from "./save-guard.ts";

const MAX_ATTACHMENT_NAME_BYTES = 200;
/** Otterwiki's own threshold: a page above this many bytes is "probably not empty" (tools.py). */
const EMPTY_PAGE_MAX_BYTES = 512;

/**
 * An attachment's file name: one that Otterwiki stores unchanged (sanitize_filename is the
 * identity on it), that is no page (`.md`), no hidden or git file (`.gitattributes` would change
 * how git treats the page's folder), and fits a file name.
 */
export function checkAttachmentName(name: string): { ok: true } | { ok: false; reason: string } {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what we refuse
  if (name === "" || /[\u0000-\u001f\u007f/\\]/.test(name))
    return { ok: false, reason: `"${name}" is empty or holds a slash or a control character` };
  if (name.normalize("NFKC") !== name)
    return { ok: false, reason: `"${name}" is not in Unicode NFKC form` };
  if (name.trim() !== name || name.endsWith("."))
    return { ok: false, reason: `"${name}" starts or ends with white space, or ends with "."` };
  if (name.startsWith("."))
    return { ok: false, reason: `"${name}" starts with "." (hidden and git files are refused)` };
  if (name.toLowerCase().endsWith(".md"))
    return { ok: false, reason: `"${name}" ends in .md, which would make it a page` };
  if (Buffer.byteLength(name, "utf8") > MAX_ATTACHMENT_NAME_BYTES)
    return { ok: false, reason: `"${name}" is longer than ${MAX_ATTACHMENT_NAME_BYTES} bytes` };
  return { ok: true };
}

function refuse(status: number, title: string, detail: string, back = "/"): never {
  throw new BrowserError(status, title, detail, { links: [{ href: back, label: "Go back" }] });
}

/** The page path exactly as Otterwiki will use it, or a 400 page. */
function pageOrRefuse(raw: string, title: string): string {
  const check = checkPagePath(raw);
  if (!check.ok) refuse(400, title, check.reason);
  if (check.path !== raw) refuse(400, title, `"${raw}" is not a page name as it is written.`);
  return check.path;
}

function caseTwinOf(
  pages: PageStore,
  wiki: Wiki,
  path: string,
  ignore: (other: string) => boolean,
) {
  return pages.index
    .findCaseVariants(wiki.id, path)
    .find((other) => other !== path && !ignore(other));
}

/** Names in the folder at HEAD (files and subfolders), for attachment case twins. */
async function namesInFolder(pages: PageStore, wiki: Wiki, folder: string): Promise<string[]> {
  const listing = await gitText(pages.repo(wiki), [
    "ls-tree",
    "-z",
    "--name-only",
    "HEAD",
    "--",
    folder === "." ? "." : `${folder}/`,
  ]);
  return listing
    .split("\0")
    .filter((entry) => entry !== "")
    .map((entry) => entry.slice(entry.lastIndexOf("/") + 1));
}

export async function checkRename(
  pages: PageStore,
  wiki: Wiki,
  rawFrom: string,
  to: string,
): Promise<void> {
  const title = "This page cannot be renamed to that name";
  // Otterwiki answers an empty name with its own form again and writes nothing.
  if (to.trim() === "") return;
  const from = pageOrRefuse(rawFrom, "This page cannot be renamed here");
  const back = `${pageUrlPath(from)}/rename`;
  const target = checkPagePath(to);
  if (!target.ok) refuse(400, title, target.reason, back);
  if (target.path !== to) refuse(400, title, `"${to}" is not a page name as it is written.`, back);
  const moving = (other: string) => other === from || other.startsWith(`${from}/`);
  const twin = caseTwinOf(pages, wiki, to, moving);
  if (twin !== undefined && to.toLowerCase() !== from.toLowerCase()) {
    refuse(409, title, `Page "${twin}" differs from "${to}" only in letter case.`, back);
  }
  // Otterwiki moves the page's folder too: its subpages get new names that must hold as well.
  for (const page of pages.index.list(wiki.id, `${from}/`)) {
    const moved = `${to}${page.path.slice(from.length)}`;
    const check = checkPagePath(moved);
    if (!check.ok || check.path !== moved)
      refuse(
        400,
        title,
        `Its subpage would become "${moved}": ${check.ok ? "" : check.reason}`,
        back,
      );
    const movedTwin = caseTwinOf(pages, wiki, moved, moving);
    if (movedTwin !== undefined)
      refuse(
        409,
        title,
        `Its subpage would become "${moved}", a case twin of "${movedTwin}".`,
        back,
      );
  }
}

/** The files a revert of `revision` brings back must be files a write could create now. */
export async function checkRevert(pages: PageStore, wiki: Wiki, revision: string): Promise<void> {
  const repo = pages.repo(wiki);
  const commit = await resolveCommit(repo, revision);
  // Otterwiki's own revert fails on these (unknown revision, merge commit) and writes nothing.
  if (commit === null) return;
  const parents = (await gitText(repo, ["rev-list", "--parents", "-n", "1", commit])).trim();
  if (parents.split(" ").length > 2) return;
  const changes = (
    await gitText(repo, [
      "diff-tree",
      "-r",
      "-z",
      "--root",
      "--no-renames",
      "--no-commit-id",
      "--name-status",
      commit,
    ])
  ).split("\0");
  const title = "This commit cannot be reverted";
  const back = `/-/commit/${commit}`;
  const pageChanges: { status: string; file: string }[] = [];
  for (let index = 0; index + 1 < changes.length; index += 2) {
    const status = changes[index] ?? "";
    const file = changes[index + 1] ?? "";
    if (file.endsWith(".md")) pageChanges.push({ status, file });
    // A file the commit deleted comes back; added and modified files cannot gain a new name.
    if (status !== "D") continue;
    if (file.endsWith(".md")) {
      const path = pagePathOfFile(file);
      if (path === null)
        refuse(400, title, `It would bring back "${file}", which is no valid page name.`, back);
      const twin = caseTwinOf(pages, wiki, path, () => false);
      if (twin !== undefined)
        refuse(409, title, `It would bring back page "${path}", a case twin of "${twin}".`, back);
      continue;
    }
    const name = file.slice(file.lastIndexOf("/") + 1);
    const check = checkAttachmentName(name);
    if (!check.ok) refuse(400, title, `It would bring back "${file}": ${check.reason}.`, back);
    const folder = dirname(file);
    const twin = (await namesInFolder(pages, wiki, folder)).find(
      (other) => other !== name && other.toLowerCase() === name.toLowerCase(),
    );
    if (twin !== undefined)
      refuse(409, title, `It would bring back "${file}", a case twin of "${twin}".`, back);
  }
  await checkRevertFitsPlan(pages, wiki, commit, parents.split(" ").length > 1, pageChanges, back);
}

/**
 * A revert undoes the commit's page changes: pages it deleted come back, pages it added go, and
 * changed pages take their parent's size again. `git revert` refuses (and Otterwiki aborts) when
 * a later commit touched the same lines, so the undo lands on HEAD exactly as computed here.
 */
async function checkRevertFitsPlan(
  pages: PageStore,
  wiki: Wiki,
  commit: string,
  hasParent: boolean,
  changes: readonly { status: string; file: string }[],
  back: string,
): Promise<void> {
  if (changes.length === 0) return;
  const files = changes.map((change) => change.file);
  const [atCommit, atParent] = await Promise.all([
    blobSizes(pages.repo(wiki), commit, files),
    hasParent ? blobSizes(pages.repo(wiki), `${commit}^`, files) : new Map<string, number>(),
  ]);
  let pageDelta = 0;
  let byteDelta = 0;
  for (const { status, file } of changes) {
    if (status === "D") pageDelta += 1;
    if (status === "A") pageDelta -= 1;
    byteDelta += (atParent.get(file) ?? 0) - (atCommit.get(file) ?? 0);
  }
  const refusal = pages.planRefusalOf(wiki, (before) => ({
    pages: before.pages + pageDelta,
    bytes: before.bytes + byteDelta,
  }));
  if (refusal !== null) {
    refuse(
      403,
      "This wiki is full for its plan",
      `${capitalized(refusal)}. Nothing was reverted.`,
      back,
    );
  }
}

const capitalized = (sentence: string) => `${sentence.charAt(0).toUpperCase()}${sentence.slice(1)}`;

/** New attachment names (uploads, or an attachment renamed) on page `rawPage`. */
export async function checkAttachmentNames(
  pages: PageStore,
  wiki: Wiki,
  rawPage: string,
  names: readonly string[],
  replacing?: string,
): Promise<void> {
  const title = "This attachment name cannot be used";
  const page = pageOrRefuse(rawPage, "Attachments cannot be added to this page");
  const back = `${pageUrlPath(page)}/attachments`;
  const existing = await namesInFolder(pages, wiki, page);
  const seen = new Map<string, string>();
  for (const name of names) {
    const check = checkAttachmentName(name);
    if (!check.ok) refuse(400, title, `${check.reason}.`, back);
    const folded = name.toLowerCase();
    const twin =
      existing.find(
        (other) => other !== name && other !== replacing && other.toLowerCase() === folded,
      ) ?? [...seen.values()].find((other) => other !== name && other.toLowerCase() === folded);
    if (twin !== undefined)
      refuse(409, title, `"${name}" differs from "${twin}" only in letter case.`, back);
    seen.set(name, name);
  }
}

/**
 * A save must fit the wiki's plan (src/wikis/plan-policy.ts words the refusal, as for MCP, REST
 * and git); a refused save hands the editor's text back. Run under the write gate.
 */
export function checkSaveFitsPlan(
  pages: PageStore,
  wiki: Wiki,
  path: string,
  content: string,
): void {
  const refusal = pages.planRefusalOfWrite(wiki, path, normalizeSavedContent(content));
  if (refusal === null) return;
  throw new BrowserError(
    403,
    "This wiki is full for its plan",
    `${capitalized(refusal)}. Your change was not saved.`,
    { links: [{ href: pageUrlPath(path), label: "Back to the page" }], returnedText: content },
  );
}

/** Housekeeping may delete only pages that are still as small as when they were listed. */
export function checkEmptyPagesStillEmpty(pages: PageStore, wiki: Wiki, form: FormData): void {
  if (!form.get("clean")) return;
  for (const value of form.getAll("delete_empty_page")) {
    if (typeof value !== "string") continue;
    const page = pages.index.get(wiki.id, value);
    if (page !== null && Buffer.byteLength(page.body, "utf8") > EMPTY_PAGE_MAX_BYTES) {
      refuse(
        409,
        "A page is not empty any more",
        `"${value}" was changed since the list of empty pages was made; it was not deleted.`,
        "/-/housekeeping",
      );
    }
  }
}
