/**
 * Checks what a push would land against the page rules (pages/tree-rules.ts) while its objects
 * are still in receive-pack's quarantine, so a refused push leaves nothing behind. Run from the
 * pre-receive hook (pre-receive-hook.ts): receive-pack has unpacked the pack into a temporary
 * object directory and passes it in GIT_OBJECT_DIRECTORY / GIT_ALTERNATE_OBJECT_DIRECTORIES
 * (githooks.adoc "pre-receive", git-receive-pack.adoc "QUARANTINE ENVIRONMENT").
 *
 * What is checked, without ever holding a blob in memory:
 * - every path every new commit adds or changes (diff against its first parent, so every blob of
 *   every new commit's tree is either seen here or was already in the repository): name, mode,
 *   size by `cat-file --batch-check`, and pages scanned for NUL in a stream;
 * - every object in the quarantine, by size, so a large blob no commit names is refused too;
 * - the tree each ref would point at, for paths equal ignoring case, and `main`'s for the wiki
 *   plan's page and byte quotas (src/wikis/plan-policy.ts, which also words the refusal).
 */
import { z } from "zod";

import { MAX_PAGE_BYTES } from "../pages/page-rules.ts";
import {
  findCaseTwins,
  isPageFile,
  NUL_IN_PAGE,
  sizeProblem,
  treeEntryProblem,
} from "../pages/tree-rules.ts";
import { GIT_BASE_FLAGS, gitEnvironment } from "../repo/git.ts";
import { type PageTotals, type Plan, pageChangeRefusal } from "../wikis/plan-policy.ts";
import { ZERO_OID } from "./receive-commands.ts";

export interface PushCheckOptions {
  /** The repository's git directory (absolute). */
  gitDir: string;
  /** The quarantine variables receive-pack gave the hook; passed on to every git we run. */
  quarantineEnv: Record<string, string>;
  maxFileBytes: number;
  plan: PushPlan;
}

/** What the hook needs to hold a push to the wiki's plan: the plan and the pages before it. */
export interface PushPlan {
  slug: string;
  plan: Plan;
  /** The wiki's totals at HEAD, from the page index (which matches HEAD under the gate). */
  before: PageTotals;
}

/** The variable that carries the PushPlan from the server, through receive-pack, to the hook. */
const PUSH_PLAN_VARIABLE = "WIKIBOT_PUSH_PLAN";

const COUNT = z.number().int().nonnegative();
const PUSH_PLAN = z.strictObject({
  slug: z.string().min(1),
  plan: z.strictObject({
    tier: z.enum(["free", "premium", "lapsed"]),
    writes: z.boolean(),
    gitPush: z.boolean(),
    mcp: z.boolean(),
    wikisPerOwner: COUNT,
    pagesPerWiki: COUNT,
    bytesPerWiki: COUNT,
  }),
  before: z.strictObject({ pages: COUNT, bytes: COUNT }),
});

export function pushPlanEnvironment(plan: PushPlan): Record<string, string> {
  return { [PUSH_PLAN_VARIABLE]: JSON.stringify(plan) };
}

/** The PushPlan from the hook's environment; throws (failing the push closed) if it is not there. */
export function readPushPlan(environment: Record<string, string | undefined>): PushPlan {
  const raw = environment[PUSH_PLAN_VARIABLE];
  if (raw === undefined) throw new Error(`the hook was started without ${PUSH_PLAN_VARIABLE}`);
  return PUSH_PLAN.parse(JSON.parse(raw));
}

export interface RefUpdate {
  oldOid: string;
  newOid: string;
  ref: string;
}

/** How many problems a refusal lists; the rest are counted. */
const MAX_LISTED = 20;

interface ChangedEntry {
  path: string;
  mode: string;
  oid: string;
}

/** Every reason to refuse the push, each naming its file; empty when it may land. */
export async function checkPush(
  options: PushCheckOptions,
  updates: readonly RefUpdate[],
): Promise<string[]> {
  const tips = updates.map((update) => update.newOid).filter((oid) => oid !== ZERO_OID);
  if (tips.length === 0) return [];
  const problems: string[] = [];
  const entries = await changedEntries(options, tips);

  const sized: ChangedEntry[] = [];
  for (const entry of entries) {
    const problem = treeEntryProblem(entry.path, entry.mode);
    if (problem === null) sized.push(entry);
    else problems.push(`${JSON.stringify(entry.path)}: ${problem}`);
  }
  const sizes = await objectSizes(
    options,
    sized.map((entry) => entry.oid),
  );
  const pages: ChangedEntry[] = [];
  for (const entry of sized) {
    const size = sizes.get(entry.oid) ?? 0;
    const problem = sizeProblem(entry.path, size, options.maxFileBytes);
    if (problem !== null) problems.push(`${JSON.stringify(entry.path)}: ${problem}`);
    else if (isPageFile(entry.path)) pages.push(entry);
  }
  const binary = await blobsWithNul(
    options,
    pages.map((entry) => entry.oid),
  );
  for (const entry of pages) {
    if (binary.has(entry.oid)) problems.push(`${JSON.stringify(entry.path)}: ${NUL_IN_PAGE}`);
  }

  const mainTip = updates.find(
    (update) => update.ref === "refs/heads/main" && update.newOid !== ZERO_OID,
  )?.newOid;
  for (const tip of new Set(tips)) {
    const files = await treeFiles(options, tip);
    for (const [first, second] of findCaseTwins(files.map((file) => file.path))) {
      problems.push(
        `${JSON.stringify(first)} and ${JSON.stringify(second)} differ only in letter case; keep one (two such paths break checkouts on macOS and Windows)`,
      );
    }
    if (tip !== mainTip) continue;
    const pageFiles = files.filter((file) => isPageFile(file.path));
    const after = {
      pages: pageFiles.length,
      bytes: pageFiles.reduce((sum, file) => sum + file.size, 0),
    };
    const { slug, plan, before } = options.plan;
    const refusal = pageChangeRefusal(slug, plan, before, after);
    if (refusal !== null) problems.push(refusal);
  }

  // A backstop for objects no new commit names (a pack may carry anything): only worth the
  // listing when nothing above was found.
  if (problems.length === 0) problems.push(...(await oversizedQuarantineObjects(options)));
  return problems;
}

/** The problems as the lines a pusher sees, at most MAX_LISTED of them. */
export function refusalLines(problems: readonly string[]): string[] {
  const listed = problems.slice(0, MAX_LISTED).map((problem) => `refused: ${problem}`);
  if (problems.length > MAX_LISTED) {
    listed.push(`…and ${problems.length - MAX_LISTED} more problems like these`);
  }
  listed.push(
    "nothing was pushed: the wiki accepts through git exactly what it accepts from its other editors; fix the files above and push again",
  );
  return listed;
}

/** Paths added or changed by the commits new to the repository, distinct by (path, mode, blob). */
async function changedEntries(
  options: PushCheckOptions,
  tips: readonly string[],
): Promise<ChangedEntry[]> {
  // `--not --all`: the refs still hold their old values while pre-receive runs.
  const revs = await git(options, ["rev-list", "--parents", ...new Set(tips), "--not", "--all"]);
  const pairs = new TextDecoder()
    .decode(revs)
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => line.split(" ").slice(0, 2).join(" "));
  if (pairs.length === 0) return [];
  // "<commit> <first parent>" diffs the two; a root commit alone diffs against nothing (--root).
  const raw = await git(
    options,
    ["diff-tree", "--stdin", "-r", "-z", "--root", "--no-renames", "--no-commit-id"],
    `${pairs.join("\n")}\n`,
  );
  const fields = new TextDecoder().decode(raw).split("\0");
  const entries = new Map<string, ChangedEntry>();
  for (let index = 0; index + 1 < fields.length; index += 2) {
    // ":<old mode> <new mode> <old oid> <new oid> <status>", then the path.
    const [, mode = "", , oid = "", status = ""] = (fields[index] ?? "").split(" ");
    const path = fields[index + 1] ?? "";
    if (status === "D") continue;
    entries.set(`${mode} ${oid} ${path}`, { path, mode, oid });
  }
  return [...entries.values()];
}

/** Object sizes from `cat-file --batch-check`, which reads only object headers. */
async function objectSizes(
  options: PushCheckOptions,
  oids: readonly string[],
): Promise<Map<string, number>> {
  const sizes = new Map<string, number>();
  const distinct = [...new Set(oids)];
  if (distinct.length === 0) return sizes;
  const out = await git(
    options,
    ["cat-file", "--batch-check=%(objectname) %(objectsize)"],
    `${distinct.join("\n")}\n`,
  );
  for (const line of new TextDecoder().decode(out).split("\n")) {
    const [oid = "", size = ""] = line.split(" ");
    if (/^\d+$/.test(size)) sizes.set(oid, Number(size));
  }
  return sizes;
}

/**
 * The blobs among `oids` that contain a NUL byte. `cat-file --batch` output is scanned as it
 * streams (each blob is already known to be within the page limit), so memory stays at one chunk.
 */
async function blobsWithNul(
  options: PushCheckOptions,
  oids: readonly string[],
): Promise<Set<string>> {
  const found = new Set<string>();
  const distinct = [...new Set(oids)];
  if (distinct.length === 0) return found;
  const proc = spawnGit(options, ["cat-file", "--batch"], `${distinct.join("\n")}\n`);
  const finished = finish(proc, "cat-file --batch");
  let header = "";
  let current = "";
  let remaining = 0; // body bytes plus the LF after them
  const decoder = new TextDecoder();
  for await (const chunk of proc.stdout) {
    let offset = 0;
    while (offset < chunk.byteLength) {
      if (remaining > 0) {
        const end = Math.min(chunk.byteLength, offset + remaining);
        if (chunk.subarray(offset, end).includes(0)) found.add(current);
        remaining -= end - offset;
        offset = end;
        continue;
      }
      const newline = chunk.indexOf(10, offset);
      const stop = newline < 0 ? chunk.byteLength : newline;
      header += decoder.decode(chunk.subarray(offset, stop));
      offset = stop;
      if (newline < 0) continue;
      offset += 1;
      // "<oid> <type> <size>", or "<oid> missing"
      const [oid = "", , size = ""] = header.split(" ");
      header = "";
      current = oid;
      remaining = /^\d+$/.test(size) ? Number(size) + 1 : 0;
    }
  }
  await finished;
  return found;
}

/** Every file in a commit's tree with its size (0 for a gitlink, which has none). */
async function treeFiles(
  options: PushCheckOptions,
  commit: string,
): Promise<{ path: string; size: number }[]> {
  const out = await git(options, ["ls-tree", "-r", "-z", "--long", commit]);
  // "<mode> SP <type> SP <object> SP+ <size> TAB <path>" (git-ls-tree.adoc "OUTPUT FORMAT").
  return new TextDecoder()
    .decode(out)
    .split("\0")
    .filter((entry) => entry !== "")
    .map((entry) => {
      const tab = entry.indexOf("\t");
      const size = entry.slice(0, tab).trim().split(/ +/)[3] ?? "";
      return { path: entry.slice(tab + 1), size: /^\d+$/.test(size) ? Number(size) : 0 };
    });
}

/** Objects in the quarantine (the push's own objects) larger than any file may be. */
async function oversizedQuarantineObjects(options: PushCheckOptions): Promise<string[]> {
  // Without the alternates, `--batch-all-objects` lists the quarantine's objects only.
  const { GIT_ALTERNATE_OBJECT_DIRECTORIES: _main, ...quarantineOnly } = options.quarantineEnv;
  if (quarantineOnly.GIT_OBJECT_DIRECTORY === undefined) return [];
  const limit = Math.max(options.maxFileBytes, MAX_PAGE_BYTES);
  const out = await git({ ...options, quarantineEnv: quarantineOnly }, [
    "cat-file",
    "--batch-all-objects",
    "--unordered",
    "--batch-check=%(objectname) %(objecttype) %(objectsize)",
  ]);
  const problems: string[] = [];
  for (const line of new TextDecoder().decode(out).split("\n")) {
    const [oid = "", type = "", size = ""] = line.split(" ");
    if (/^\d+$/.test(size) && Number(size) > limit) {
      problems.push(
        `the push carries a ${type} ${oid} of ${size} bytes; nothing in a wiki may be over ${limit} bytes`,
      );
    }
  }
  return problems;
}

function spawnGit(options: PushCheckOptions, args: readonly string[], stdin?: string) {
  return Bun.spawn(["git", ...GIT_BASE_FLAGS, `--git-dir=${options.gitDir}`, ...args], {
    stdin: stdin === undefined ? "ignore" : new TextEncoder().encode(stdin),
    stdout: "pipe",
    stderr: "pipe",
    env: gitEnvironment(options.quarantineEnv),
  });
}

async function git(
  options: PushCheckOptions,
  args: readonly string[],
  stdin?: string,
): Promise<Uint8Array> {
  const proc = spawnGit(options, args, stdin);
  const [out] = await Promise.all([new Response(proc.stdout).bytes(), finish(proc, args[0])]);
  return out;
}

async function finish(proc: ReturnType<typeof spawnGit>, what = "git"): Promise<void> {
  const [stderr, exitCode] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
  if (exitCode !== 0) throw new Error(`git ${what} exited ${exitCode}: ${stderr.trim()}`);
}
