/**
 * Git smart HTTP against the real server (`bun src/main.ts` as a child process, so its RSS is its
 * own): clone of a 2,000-page, 5,000-commit wiki next to `git clone` of the same repository from
 * its local path (the floor), a push of 100 changed pages next to a push of the same commit to a
 * local bare copy, and the server's RSS while it receives a 50 MB push.
 */

import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { runGit } from "../../src/repo/git.ts";
import { readHead } from "../../src/repo/repository.ts";
import { COMMITTER, openStores } from "../../src/server.ts";
import { createWiki } from "../../src/wikis/wiki-service.ts";
import { type ServerProcess, spawnServer } from "../../test/support/server-process.ts";
import { percentile, type Summary } from "./stats.ts";

const _PROJECT_DIR = resolve(import.meta.dir, "..", "..");
const PAGES = 2000;
const COMMITS = 5000;
const WORDS = ["otter", "kelp", "urchin", "river", "tool", "rock", "den", "pup", "fish", "crab"];

function pageText(index: number, revision: number): string {
  const word = (offset: number) => WORDS[(index + offset) % WORDS.length] ?? "otter";
  const paragraph = `Notes on the ${word(0)} and the ${word(3)}: field observations, counts and sources.\n`;
  return `# Page ${index}\n\n## Observations\n\n${paragraph.repeat(20)}\nrevision ${revision}\n`;
}

/**
 * A git fast-import stream: one commit per new page until there are PAGES, then edits of
 * existing pages up to COMMITS commits, on top of the wiki's first commit.
 */
function historyStream(parent: string): string {
  const parts: string[] = [];
  const data = (text: string) => `data ${Buffer.byteLength(text)}\n${text}\n`;
  for (let commit = 0; commit < COMMITS; commit++) {
    const page = commit < PAGES ? commit : (commit * 7919) % PAGES;
    const time = 1_700_000_000 + commit * 60;
    parts.push(
      "commit refs/heads/main\n",
      `author Bench <bench@users.wikibot.invalid> ${time} +0000\n`,
      `committer ${COMMITTER.name} <${COMMITTER.email}> ${time} +0000\n`,
      data(`Update Notes/Page ${page}`),
      commit === 0 ? `from ${parent}\n` : "",
      `M 100644 inline Notes/Page ${page}.md\n`,
      data(pageText(page, commit)),
    );
  }
  return parts.join("");
}

/** Two wikis: "bench" with the long history, "bulk" (empty) for the 50 MB push. */
async function prepareWikis(dataDir: string): Promise<{ token: string; bulkToken: string }> {
  const stores = openStores(dataDir);
  try {
    const user = stores.users.create({
      did: "did:plc:benchbenchbenchbenchbenc",
      handle: "bench.bsky.social",
      username: "bench",
      displayName: "Bench",
    });
    const deps = {
      ...stores,
      dataDir,
      publicUrl: new URL("http://localhost:8080"),
      committer: COMMITTER,
    };
    const { wiki } = await createWiki(deps, {
      slug: "bench",
      ownerUsername: "bench",
      isPublic: false,
      tier: "premium",
    });
    const { wiki: bulk } = await createWiki(deps, {
      slug: "bulk",
      ownerUsername: "bench",
      isPublic: false,
      tier: "premium",
    });
    await stores.pages.exclusive(wiki, async () => {
      const repo = stores.pages.repo(wiki);
      const parent = readHead(repo);
      if (parent === null) throw new Error("bench wiki has no first commit");
      await runGit(repo, ["fast-import", "--quiet"], { stdin: historyStream(parent) });
      await runGit(repo, ["reset", "-q", "--hard", "main"]);
      // A maintained repository is packed with deltas; pack-objects then reuses them per clone.
      await runGit(repo, ["repack", "-adq"]);
    });
    const token = (key: number) =>
      stores.tokens.create({
        wikiId: key,
        userId: user.id,
        scope: "write",
        label: "bench",
      }).plaintext;
    return { token: token(wiki.id), bulkToken: token(bulk.id) };
  } finally {
    stores.db.close();
  }
}

function gitClient(home: string) {
  const env = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: home,
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: "/dev/null",
    GIT_TERMINAL_PROMPT: "0",
    GIT_AUTHOR_NAME: "Bench",
    GIT_AUTHOR_EMAIL: "bench@users.wikibot.invalid",
    GIT_COMMITTER_NAME: "Bench",
    GIT_COMMITTER_EMAIL: "bench@users.wikibot.invalid",
  };
  return async (args: readonly string[], cwd = home): Promise<void> => {
    const proc = Bun.spawn(["git", "-c", "credential.helper=", ...args], {
      cwd,
      env,
      stdin: "ignore",
      stdout: "ignore",
      stderr: "pipe",
    });
    const [stderr, exitCode] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
    if (exitCode !== 0) throw new Error(`git ${args.join(" ")} failed: ${stderr}`);
  };
}

function summarize(name: string, latencies: number[]): Summary {
  const sorted = [...latencies].sort((a, b) => a - b);
  const total = latencies.reduce((sum, value) => sum + value, 0) / 1000;
  return {
    name,
    count: latencies.length,
    perSecond: latencies.length / total,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
  };
}

async function timed(operation: () => Promise<void>): Promise<number> {
  const before = performance.now();
  await operation();
  return performance.now() - before;
}

async function procStatusKiB(pid: number, field: "VmRSS" | "VmHWM"): Promise<number> {
  const status = await Bun.file(`/proc/${pid}/status`)
    .text()
    .catch(() => "");
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
}

export interface GitBenchResult {
  rows: Summary[];
  /** HTTP clone p50 ÷ local-path clone p50, and ÷ `--no-local` clone p50. */
  cloneRatio: number;
  cloneRatioNoLocal: number;
  pushRatio: number;
  packMiB: number;
  bigPush: {
    bytes: number;
    ms: number;
    floorMs: number;
    rssBeforeMiB: number;
    rssPeakMiB: number;
    hwmMiB: number;
  };
}

export async function benchGit(quick: boolean): Promise<GitBenchResult> {
  const dataDir = mkdtempSync(join(tmpdir(), "wikibot-bench-git-"));
  const work = mkdtempSync(join(tmpdir(), "wikibot-bench-git-client-"));
  let server: ServerProcess["child"] | null = null;
  try {
    const { token, bulkToken } = await prepareWikis(dataDir);
    const repo = join(dataDir, "wikis", "bench", "repo");
    const pack = await runGit(repo, ["count-objects", "-v"]);
    const packKiB = Number(
      /size-pack: (\d+)/.exec(new TextDecoder().decode(pack.stdout))?.[1] ?? 0,
    );
    const spawned = await spawnServer({ dataDir, env: { LOG_LEVEL: "error" } });
    server = spawned.child;
    if (!spawned.healthy) throw new Error("the server did not answer /health");
    const port = spawned.port;
    const git = gitClient(work);
    const url = (slug: string, secret: string) =>
      `http://git:${secret}@${slug}.localhost:${port}/repo.git`;
    let cloneIndex = 0;
    const nextDir = () => join(work, `clone-${++cloneIndex}`);

    // Warm-up: the first clone also makes the server index the 2,000 pages.
    await git(["clone", "-q", url("bench", token), nextDir()]);
    await git(["clone", "-q", repo, nextDir()]);

    const clones = quick ? 2 : 5;
    const http: number[] = [];
    const local: number[] = [];
    const noLocal: number[] = [];
    for (let round = 0; round < clones; round++) {
      http.push(await timed(() => git(["clone", "-q", url("bench", token), nextDir()])));
      local.push(await timed(() => git(["clone", "-q", repo, nextDir()])));
      noLocal.push(await timed(() => git(["clone", "-q", "--no-local", repo, nextDir()])));
    }

    // 100 changed pages per push, to the server and (the floor) to a local bare copy.
    const pusher = nextDir();
    await git(["clone", "-q", url("bench", token), pusher]);
    const floor = join(work, "floor.git");
    await git(["clone", "-q", "--bare", "--no-local", repo, floor]);
    await git(["remote", "add", "floor", floor], pusher);
    const pushes = quick ? 3 : 10;
    const pushHttp: number[] = [];
    const pushFloor: number[] = [];
    for (let round = 0; round < pushes; round++) {
      for (let page = 0; page < 100; page++) {
        const index = (round * 100 + page) % PAGES;
        writeFileSync(join(pusher, `Notes/Page ${index}.md`), pageText(index, 100_000 + round));
      }
      await git(["commit", "-q", "-a", "-m", `Edit 100 pages (round ${round})`], pusher);
      pushFloor.push(await timed(() => git(["push", "-q", "floor", "main"], pusher)));
      pushHttp.push(await timed(() => git(["push", "-q", "origin", "main"], pusher)));
    }

    // 50 MB of incompressible "images" in one push, with the server's RSS sampled throughout.
    const bulk = nextDir();
    await git(["clone", "-q", url("bulk", bulkToken), bulk]);
    const bigBytes = 50 * 1000 * 1000;
    for (let file = 0; file < 10; file++) {
      writeFileSync(join(bulk, `image-${file}.png`), randomBytes(bigBytes / 10));
    }
    await git(["add", "-A"], bulk);
    await git(["commit", "-q", "-m", "50 MB of images"], bulk);
    const bulkFloor = join(work, "bulk-floor.git");
    await git([
      "clone",
      "-q",
      "--bare",
      "--no-local",
      join(dataDir, "wikis", "bulk", "repo"),
      bulkFloor,
    ]);
    await git(["remote", "add", "floor", bulkFloor], bulk);
    const bigFloorMs = await timed(() => git(["push", "-q", "floor", "main"], bulk));
    const pid = server.pid;
    const rssBefore = await procStatusKiB(pid, "VmRSS");
    let rssPeak = rssBefore;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        rssPeak = Math.max(rssPeak, await procStatusKiB(pid, "VmRSS"));
        await Bun.sleep(10);
      }
    })();
    const bigMs = await timed(() => git(["push", "-q", "origin", "main"], bulk));
    sampling = false;
    await sampler;
    const hwm = await procStatusKiB(pid, "VmHWM");

    const rows = [
      summarize("clone over HTTP (token)", http),
      summarize("clone from local path (hardlinks)", local),
      summarize("clone from local path --no-local", noLocal),
      summarize("push 100 changed pages over HTTP", pushHttp),
      summarize("push same commit to local bare copy", pushFloor),
    ];
    const p50 = (values: number[]) =>
      percentile(
        [...values].sort((a, b) => a - b),
        0.5,
      );
    return {
      rows,
      cloneRatio: p50(http) / p50(local),
      cloneRatioNoLocal: p50(http) / p50(noLocal),
      pushRatio: p50(pushHttp) / p50(pushFloor),
      packMiB: packKiB / 1024,
      bigPush: {
        bytes: bigBytes,
        ms: bigMs,
        floorMs: bigFloorMs,
        rssBeforeMiB: rssBefore / 1024,
        rssPeakMiB: rssPeak / 1024,
        hwmMiB: hwm / 1024,
      },
    };
  } finally {
    if (server !== null) {
      server.kill("SIGTERM");
      await server.exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  }
}
