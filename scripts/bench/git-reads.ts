/**
 * Git reads in process (isomorphic-git, src/repo/git-reads.ts) against the git CLI, in the same
 * run on the same wiki: `read_note` at a past revision and `diff` through the page store, each
 * call made once by a store reading in process and once by a store reading through the CLI,
 * interleaved so machine load falls on both alike. First with every object loose, then after
 * `git gc` in the same process (packed, delta-coded), with what the object cache holds then.
 * Every in-process answer is checked against the CLI's (same text, same diff).
 */
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PageStore } from "../../src/pages/page-store.ts";
import { runGit } from "../../src/repo/git.ts";
import { DEFAULT_GIT_READS, GitReads, type GitReadsStats } from "../../src/repo/git-reads.ts";
import { RepositoryMaintenance } from "../../src/repo/maintenance.ts";
import { readHead } from "../../src/repo/repository.ts";
import { COMMITTER, openStores } from "../../src/stores.ts";
import { historyStream, withBenchFixture } from "./fixtures.ts";
import { figure, type SectionFigures, summaryTable } from "./report.ts";
import { type Summary, summarize } from "./stats.ts";

const WORDS = ["otter", "kelp", "urchin", "river", "tool", "rock", "den", "pup", "fish", "crab"];

function pageText(index: number, revision: number): string {
  const word = (offset: number) => WORDS[(index + offset) % WORDS.length] ?? "otter";
  const paragraph = `Notes on the ${word(0)} and the ${word(3)}: field observations, counts and sources.\n`;
  const lines = paragraph.repeat(20).split("\n");
  // Each revision changes one line in the middle, as a small edit would.
  lines[revision % 20] = `Revised at ${revision}: the ${word(revision)} count changed.`;
  return `# Page ${index}\n\n## Observations\n\n${lines.join("\n")}\nrevision ${revision}\n`;
}

interface Phase {
  label: string;
  reads: [Summary, Summary];
  diffs: [Summary, Summary];
  lookups: [Summary, Summary];
  cache: GitReadsStats;
}

export interface GitReadsBenchResult {
  pages: number;
  commits: number;
  phases: Phase[];
  rssMiB: number;
}

/** Calls `inProcess(i)` and `cli(i)` alternately; their answers must be equal. */
async function interleaved<T>(
  names: [string, string],
  count: number,
  inProcess: (index: number) => Promise<T>,
  cli: (index: number) => Promise<T>,
  same: (a: T, b: T) => boolean,
): Promise<[Summary, Summary]> {
  const times: [number[], number[]] = [[], []];
  for (let index = 0; index < count; index++) {
    const first = index % 2 === 0;
    const run = async (which: 0 | 1) => {
      const started = performance.now();
      const answer = await (which === 0 ? inProcess(index) : cli(index));
      times[which].push(performance.now() - started);
      return answer;
    };
    const [a, b] = first ? [await run(0), await run(1)] : [await run(1), await run(0)].reverse();
    if (a === undefined || b === undefined || !same(a, b)) {
      throw new Error(`${names[0]}: in-process answer differs from the CLI's at call ${index}`);
    }
  }
  return [summarize(names[0], times[0]), summarize(names[1], times[1])];
}

export async function benchGitReads(quick: boolean): Promise<GitReadsBenchResult> {
  const pages = quick ? 60 : 200;
  const commits = quick ? 300 : 3000;
  const calls = quick ? 40 : 600;
  const dataDir = mkdtempSync(join(tmpdir(), "wikibot-bench-reads-"));
  try {
    const wiki = await withBenchFixture(dataDir, (fixture) =>
      fixture.wiki("reads", { isPublic: false, tier: "premium" }),
    );
    const stores = openStores(dataDir);
    const options = {
      db: stores.db,
      wikis: stores.wikis,
      gate: stores.gate,
      dataDir,
      committer: COMMITTER,
      plans: stores.plans,
      // No gc behind the bench's back: the loose phase stays loose until it runs gc itself.
      maintenance: new RepositoryMaintenance({ every: Number.MAX_SAFE_INTEGER, looseObjects: 0 }),
    };
    const inProcess = new PageStore({ ...options, gitReads: new GitReads() });
    const cli = new PageStore({
      ...options,
      gitReads: new GitReads({ ...DEFAULT_GIT_READS, inProcess: false }),
    });
    const repo = inProcess.repo(wiki);
    await inProcess.exclusive(wiki, async () => {
      const parent = readHead(repo);
      if (parent === null) throw new Error("bench wiki has no first commit");
      await runGit(repo, ["fast-import", "--quiet"], {
        stdin: historyStream(parent, pages, commits, pageText),
      });
      await runGit(repo, ["reset", "-q", "--hard", "main"]);
      // Every object loose, as a wiki is between two gc runs: unpack fast-import's pack.
      const packDir = join(repo, ".git", "objects", "pack");
      for (const name of readdirSync(packDir).filter((file) => file.endsWith(".pack"))) {
        const pack = await Bun.file(join(packDir, name)).bytes();
        for (const suffix of [".pack", ".idx", ".rev"]) {
          rmSync(join(packDir, name.replace(/\.pack$/, suffix)), { force: true });
        }
        await runGit(repo, ["unpack-objects", "-q"], { stdin: pack });
      }
    });
    await cli.ensureReady(wiki);

    // Pairs (page, revision that changed it, the revision before that changed it).
    const history = await inProcess.history(wiki, { limit: commits });
    const previous = new Map<string, string>();
    const pairs: { path: string; from: string; to: string }[] = [];
    for (const entry of [...history].reverse()) {
      const file = entry.files[0];
      if (file === undefined) continue;
      const before = previous.get(file);
      if (before !== undefined)
        pairs.push({ path: file.replace(/\.md$/, ""), from: before, to: entry.commit });
      previous.set(file, entry.commit);
    }
    if (pairs.length === 0) throw new Error("no page changed twice in the bench history");
    const phases: Phase[] = [];
    for (const label of ["loose objects", "after git gc (packed)"]) {
      if (phases.length > 0) await runGit(repo, ["gc", "-q"]);
      // Each phase asks of other revisions, so the packed one is not served from objects
      // the loose one left in the object cache.
      const offset = phases.length * calls;
      const pair = (index: number) => pairs[((offset + index) * 7919) % pairs.length] ?? pairs[0];
      const reads = await interleaved(
        [
          `read_note at a past revision, in process (${label})`,
          `read_note at a past revision, CLI (${label})`,
        ],
        calls,
        (index) => inProcess.read(wiki, pair(index)?.path ?? "", pair(index)?.to),
        (index) => cli.read(wiki, pair(index)?.path ?? "", pair(index)?.to),
        (a, b) => a.content === b.content && a.revision === b.revision,
      );
      const diffs = await interleaved(
        [`diff of a page, in process (${label})`, `diff of a page, CLI (${label})`],
        calls,
        (index) => inProcess.diff(wiki, pair(index) ?? { path: "", from: "" }),
        (index) => cli.diff(wiki, pair(index) ?? { path: "", from: "" }),
        (a, b) => a === b && a.length > 0,
      );
      // The lookups alone, with no object cache: isomorphic-git's reads against git's.
      const uncached = new GitReads({ ...DEFAULT_GIT_READS, maxObjectCacheBytes: 0 });
      const lookup = (gitReads: GitReads) => async (index: number) => {
        const { path = "", to = "" } = pair(index) ?? {};
        const commit = await gitReads.resolveCommit(repo, to);
        return gitReads.readBlobWithin(repo, commit ?? "", `${path}.md`, 1_000_000);
      };
      const lookups = await interleaved(
        [
          `revision + page blob, no object cache, in process (${label})`,
          `revision + page blob, CLI (${label})`,
        ],
        calls,
        lookup(uncached),
        lookup(cli.gitReads),
        (a, b) => a.kind === "blob" && b.kind === "blob" && Buffer.compare(a.data, b.data) === 0,
      );
      phases.push({ label, reads, diffs, lookups, cache: inProcess.gitReads.stats() });
    }
    stores.db.close();
    return { pages, commits, phases, rssMiB: process.memoryUsage.rss() / (1024 * 1024) };
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export function describeGitReads(result: GitReadsBenchResult): string[] {
  const lines: string[] = [];
  for (const phase of result.phases) {
    const ratio = ([a, b]: [Summary, Summary]) => (a.perSecond / b.perSecond).toFixed(2);
    lines.push(
      `${phase.label}: read_note ${ratio(phase.reads)}×, diff ${ratio(phase.diffs)}×, revision + blob lookup ${ratio(phase.lookups)}× the CLI's calls/s; object cache ${(phase.cache.bytes / 1024 / 1024).toFixed(2)} MiB for ${phase.cache.repositories} repository (${phase.cache.inProcess} in process, ${phase.cache.fallbacks} to the CLI)`,
    );
  }
  lines.push(`bench process RSS at the end: ${result.rssMiB.toFixed(1)} MiB`);
  return lines;
}

export function gitReadsRows(result: GitReadsBenchResult): Summary[] {
  return result.phases.flatMap((phase) => [...phase.reads, ...phase.diffs, ...phase.lookups]);
}

export function gitReadsReport(result: GitReadsBenchResult): SectionFigures {
  const against = ([row, reference]: [Summary, Summary]) =>
    figure(row.name, row.perSecond, "calls/s", {
      reference: { name: reference.name, value: reference.perSecond },
    });
  return {
    figures: [
      ...result.phases.flatMap((phase) => [
        against(phase.reads),
        against(phase.diffs),
        against(phase.lookups),
        figure(`object cache held (${phase.label})`, phase.cache.bytes / 1024 / 1024, "MiB"),
      ]),
    ],
    tables: [summaryTable(gitReadsRows(result))],
    notes: [
      `One wiki of ${result.pages} pages and ${result.commits} commits; each call made by a store reading in process and one reading through the git CLI, interleaved, answers compared.`,
      "read_note at a past revision still runs `git log -n1 -- <page>` on the CLI for the page's own revision; diff text always comes from `git diff` (only the revisions are resolved in process).",
    ],
  };
}
