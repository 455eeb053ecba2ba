/**
 * No silent overwrite for browser saves (issue 5, DESIGN §4). Otterwiki's save has no base
 * revision, so the proxy adds one: the editor page gets a hidden field with the revision the
 * editor's text came from, and a save is checked under the write gate against the page's
 * revision now. Unchanged: forwarded. Changed since: the three versions are merged with
 * `git merge-file`; a clean merge is saved, overlapping edits are refused with a page that
 * links to the diff and hands the editor's text back. Nothing else about the save changes.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runGit } from "../repo/git.ts";
import { readBlobs, readLog, resolveCommit } from "../repo/objects.ts";

export const BASE_REVISION_FIELD = "wikibot_base_revision";

/** The revision Otterwiki put in the editor (for drafts: the one the draft started from). */
const EDITOR_REVISION = /formData\.append\("revision", "([0-9a-f]*)"\)/;
const SAVE_FORM = /<form id="saveform"[^>]*>/g;
const REVISION_VALUE = /^[0-9a-f]{0,40}$/;

/**
 * Adds the base-revision field to the editor's save form. `currentRevision` (the page's
 * revision when the editor was requested; "" for a new page) is used when the editor shows an
 * old revision — saving that is a deliberate restore over the current text — or when
 * Otterwiki's page carries no revision we can read.
 */
export function addBaseRevision(
  html: string,
  options: { currentRevision: string; editingOldRevision: boolean },
): string {
  const fromEditor = options.editingOldRevision ? undefined : EDITOR_REVISION.exec(html)?.[1];
  const base = fromEditor ?? options.currentRevision;
  if (!REVISION_VALUE.test(base)) return html;
  return html.replace(
    SAVE_FORM,
    (form) => `${form}<input type="hidden" name="${BASE_REVISION_FIELD}" value="${base}">`,
  );
}

export type SaveCheck =
  | { kind: "unchanged" }
  | { kind: "merged"; content: string; currentRevision: string }
  | {
      kind: "conflict";
      reason: "overlapping" | "deleted" | "unknown-base" | "no-base";
      baseRevision: string | null;
      currentRevision: string | null;
    };

/** Otterwiki's own normalisation of a saved page (views.py `save`). */
export function normalizeSavedContent(content: string): string {
  return `${content.replace(/\r\n/g, "\n").trim()}\n`;
}

const withFinalNewline = (text: string) =>
  text === "" || text.endsWith("\n") ? text : `${text}\n`;

/**
 * Compares a save of `file` based on `baseRevision` (null: the form carried none) with the
 * repository now. Must run under the wiki's write gate, so the answer still holds when the
 * save is forwarded.
 */
export async function checkSave(
  repo: string,
  file: string,
  baseRevision: string | null,
  submitted: string,
): Promise<SaveCheck> {
  const currentBlob = (await readBlobs(repo, "HEAD", [file])).get(file);
  const currentContent = currentBlob === undefined ? null : new TextDecoder().decode(currentBlob);
  const currentRevision =
    currentContent === null
      ? null
      : ((await readLog(repo, { range: "HEAD", limit: 1, files: [file] }))[0]?.commit ?? null);
  if (baseRevision === null || !REVISION_VALUE.test(baseRevision)) {
    return { kind: "conflict", reason: "no-base", baseRevision: null, currentRevision };
  }
  let baseContent = "";
  if (baseRevision !== "") {
    if (currentRevision?.startsWith(baseRevision)) return { kind: "unchanged" };
    const baseCommit = await resolveCommit(repo, baseRevision);
    if (baseCommit === null) {
      return { kind: "conflict", reason: "unknown-base", baseRevision, currentRevision };
    }
    const baseBlob = (await readBlobs(repo, baseCommit, [file])).get(file);
    baseContent = baseBlob === undefined ? "" : new TextDecoder().decode(baseBlob);
  } else if (currentContent === null) {
    return { kind: "unchanged" };
  }
  if (currentContent === null || currentRevision === null) {
    return { kind: "conflict", reason: "deleted", baseRevision, currentRevision: null };
  }
  const merged = await mergeThreeWay(
    normalizeSavedContent(submitted),
    withFinalNewline(baseContent),
    withFinalNewline(currentContent),
  );
  if (merged === null) {
    return { kind: "conflict", reason: "overlapping", baseRevision, currentRevision };
  }
  return { kind: "merged", content: merged, currentRevision };
}

/** `git merge-file` of two edits of `base`; null when they overlap. */
async function mergeThreeWay(ours: string, base: string, theirs: string): Promise<string | null> {
  const dir = await mkdtemp(join(tmpdir(), "wikibot-merge-"));
  try {
    const oursFile = join(dir, "ours");
    const baseFile = join(dir, "base");
    const theirsFile = join(dir, "theirs");
    await Promise.all([
      writeFile(oursFile, ours),
      writeFile(baseFile, base),
      writeFile(theirsFile, theirs),
    ]);
    // Exit status is the number of conflicts (capped at 127); above that, an error.
    const result = await runGit(dir, ["merge-file", "-p", oursFile, baseFile, theirsFile], {
      okExitCodes: Array.from({ length: 128 }, (_, index) => index),
    });
    return result.exitCode === 0 ? new TextDecoder().decode(result.stdout) : null;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
