/**
 * Git smart HTTP against the real server (`bun src/main.ts` as a child process, so its RSS is its
 * own): clone of a 2,000-page, 5,000-commit wiki next to `git clone` of the same repository from
 * its local path (the floor), a push of 100 changed pages next to a push of the same commit to a
 * local bare copy, and the server's RSS while it receives a 50 MB push. `benchPushRules` (run
 * alone with `bun scripts/bench/git.ts push-rules`) times the write gate for a 10,000-page push
 * checked by the pre-receive hook, and the memory of the server and its git children while they
 * refuse 150 MB (and 1 GB) of zeros that arrive as a few hundred kilobytes.
 */

import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runGit } from "../../src/repo/git.ts";
import { readHead } from "../../src/repo/repository.ts";
import { type ServerProcess, spawnServer } from "../../test/support/server-process.ts";
import { historyStream, withBenchFixture } from "./fixtures.ts";
import { percentile, type Summary, summarize } from "./stats.ts";

const PAGES = 2000;
const COMMITS = 5000;
const WORDS = ["otter", "kelp", "urchin", "river", "tool", "rock", "den", "pup", "fish", "crab"];

function pageText(index: number, revision: number): string {
  const word = (offset: number) => WORDS[(index + offset) % WORDS.length] ?? "otter";
  const paragraph = `Notes on the ${word(0)} and the ${word(3)}: field observations, counts and sources.\n`;
  return `# Page ${index}\n\n## Observations\n\n${paragraph.repeat(20)}\nrevision ${revision}\n`;
}

/** Two wikis: "bench" with the long history, "bulk" (empty) for the 50 MB push. */
function prepareWikis(dataDir: string): Promise<{ token: string; bulkToken: string }> {
  return withBenchFixture(dataDir, async (fixture) => {
    const wiki = await fixture.wiki("bench", { isPublic: false, tier: "premium" });
    const bulk = await fixture.wiki("bulk", { isPublic: false, tier: "premium" });
    const { pages } = fixture.stores;
    await pages.exclusive(wiki, async () => {
      const repo = pages.repo(wiki);
      const parent = readHead(repo);
      if (parent === null) throw new Error("bench wiki has no first commit");
      await runGit(repo, ["fast-import", "--quiet"], {
        stdin: historyStream(parent, PAGES, COMMITS, pageText),
      });
      await runGit(repo, ["reset", "-q", "--hard", "main"]);
      // A maintained repository is packed with deltas; pack-objects then reuses them per clone.
      await runGit(repo, ["repack", "-adq"]);
    });
    return { token: fixture.token(wiki, "write"), bulkToken: fixture.token(bulk, "write") };
  });
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

    // 50 MB of incompressible "images" in one push (25 files: each file stays under MAX_BODY_BYTES),
    // with the server's RSS sampled throughout.
    const bulk = nextDir();
    await git(["clone", "-q", url("bulk", bulkToken), bulk]);
    const bigBytes = 50 * 1000 * 1000;
    for (let file = 0; file < 25; file++) {
      writeFileSync(join(bulk, `image-${file}.png`), randomBytes(bigBytes / 25));
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

export interface PushRulesBenchResult {
  files: number;
  /** Wall time of `git push` as the client sees it, with nothing else queued on the gate. */
  pushMs: number;
  /** From entering the write gate to leaving it (the server's `gate_held_ms` log field). */
  gateHeldMs: number;
  /** The same commit pushed to a local bare copy (no hook, no index). */
  floorMs: number;
  /** The pack scan before the gate (the server's `scan_ms` log field). */
  scanMs: number;
  refusals: {
    bytes: number;
    wireBytes: number;
    pushMs: number;
    gateHeldMs: number;
    scanMs: number;
    refused: boolean;
    /** Peak of the server's RSS plus every descendant's (receive-pack, index-pack, hook). */
    treePeakMiB: number;
    /** Peak RSS of the largest single git/hook child. */
    childPeakMiB: number;
    serverHwmMiB: number;
  }[];
}

/** Every process below `root` (children, grandchildren), read from /proc. */
async function descendants(root: number): Promise<number[]> {
  const parents = new Map<number, number[]>();
  for (const name of await Array.fromAsync(
    new Bun.Glob("[0-9]*").scan({ cwd: "/proc", onlyFiles: false }),
  )) {
    const stat = await Bun.file(`/proc/${name}/stat`)
      .text()
      .catch(() => "");
    // "pid (comm) state ppid …": comm may hold spaces, so read after the last ")".
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    if (!Number.isInteger(ppid)) continue;
    parents.set(ppid, [...(parents.get(ppid) ?? []), Number(name)]);
  }
  const found: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    for (const child of parents.get(queue.pop() ?? -1) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

/** Samples the RSS of `pid` and its descendants every ~20 ms until `stop` is called. */
function sampleTreeRss(pid: number) {
  let tree = 0;
  let child = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      let sum = await procStatusKiB(pid, "VmRSS");
      for (const descendant of await descendants(pid)) {
        const rss = await procStatusKiB(descendant, "VmRSS");
        sum += rss;
        child = Math.max(child, rss);
      }
      tree = Math.max(tree, sum);
      await Bun.sleep(20);
    }
  })();
  return async () => {
    running = false;
    await loop;
    return { treePeakMiB: tree / 1024, childPeakMiB: child / 1024 };
  };
}

export async function benchPushRules(options: { files?: number; gigabyte?: boolean } = {}) {
  const files = options.files ?? 10_000;
  const dataDir = mkdtempSync(join(tmpdir(), "wikibot-bench-push-"));
  const work = mkdtempSync(join(tmpdir(), "wikibot-bench-push-client-"));
  let server: ServerProcess["child"] | null = null;
  try {
    const { bulkToken: token } = await prepareEmptyWiki(dataDir);
    const spawned = await spawnServer({ dataDir, env: { LOG_LEVEL: "info" }, stdout: "pipe" });
    server = spawned.child;
    if (!spawned.healthy) throw new Error("the server did not answer /health");
    const held: number[] = [];
    // The pack scan before the gate (src/git/pack-scan.ts), logged on the same line.
    const scanned: number[] = [];
    const logs = (async () => {
      if (!(spawned.child.stdout instanceof ReadableStream)) return;
      let rest = "";
      for await (const chunk of spawned.child.stdout.pipeThrough(new TextDecoderStream())) {
        const lines = (rest + chunk).split("\n");
        rest = lines.pop() ?? "";
        for (const line of lines) {
          const match = /"gate_held_ms":(\d+)/.exec(line);
          if (match !== null) {
            held.push(Number(match[1]));
            scanned.push(Number(/"scan_ms":(\d+)/.exec(line)?.[1] ?? Number.NaN));
          }
        }
      }
    })();
    const heldAfter = async (count: number) => {
      for (let wait = 0; held.length < count && wait < 500; wait++) await Bun.sleep(10);
      return held[count - 1] ?? Number.NaN;
    };
    const git = gitClient(work);
    const url = `http://git:${token}@bulk.localhost:${spawned.port}/repo.git`;
    const dir = join(work, "pusher");
    await git(["clone", "-q", url, dir]);
    const floor = join(work, "floor.git");
    await git([
      "clone",
      "-q",
      "--bare",
      "--no-local",
      join(dataDir, "wikis", "bulk", "repo"),
      floor,
    ]);
    await git(["remote", "add", "floor", floor], dir);

    for (let index = 0; index < files; index++) {
      const folder = join(dir, "Notes", `Part ${Math.floor(index / 500)}`);
      if (index % 500 === 0) mkdirSync(folder, { recursive: true });
      writeFileSync(join(folder, `Page ${index}.md`), pageText(index, 0));
    }
    await git(["add", "-A"], dir);
    await git(["commit", "-q", "-m", `${files} pages`], dir);
    const floorMs = await timed(() => git(["push", "-q", "floor", "main"], dir));
    const pushMs = await timed(() => git(["push", "-q", "origin", "main"], dir));
    const gateHeldMs = await heldAfter(1);

    const refusals: PushRulesBenchResult["refusals"] = [];
    const sizes = options.gigabyte === false ? [150e6] : [150e6, 1e9];
    for (const bytes of sizes) {
      await git(["fetch", "-q", "origin"], dir);
      await git(["reset", "-q", "--hard", "origin/main"], dir);
      writeFileSync(join(dir, "Zeros.md"), Buffer.alloc(bytes));
      await git(["add", "Zeros.md"], dir);
      await git(["commit", "-q", "-m", "zeros"], dir);
      const packed = Bun.spawnSync(["git", "pack-objects", "--revs", "--stdout", "-q"], {
        cwd: dir,
        stdin: new TextEncoder().encode("HEAD\n^origin/main\n"),
      });
      const before = readHead(join(dataDir, "wikis", "bulk", "repo"));
      const logged = held.length;
      const stop = sampleTreeRss(server.pid);
      let refused = false;
      const ms = await timed(() =>
        git(["push", "-q", "origin", "main"], dir).catch(() => {
          refused = true;
        }),
      );
      const peaks = await stop();
      refused &&= readHead(join(dataDir, "wikis", "bulk", "repo")) === before;
      refusals.push({
        bytes,
        wireBytes: packed.stdout.byteLength,
        pushMs: ms,
        gateHeldMs: await heldAfter(logged + 1),
        scanMs: scanned[logged] ?? Number.NaN,
        refused,
        ...peaks,
        serverHwmMiB: (await procStatusKiB(server.pid, "VmHWM")) / 1024,
      });
      rmSync(join(dir, "Zeros.md"), { force: true });
    }
    server.kill("SIGTERM");
    await server.exited;
    server = null;
    await logs;
    const scanMs = scanned[0] ?? Number.NaN;
    return { files, pushMs, gateHeldMs, floorMs, scanMs, refusals } satisfies PushRulesBenchResult;
  } finally {
    if (server !== null) {
      server.kill("SIGTERM");
      await server.exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  }
}

/** An empty premium wiki "bulk" and a write token for it. */
function prepareEmptyWiki(dataDir: string): Promise<{ bulkToken: string }> {
  return withBenchFixture(dataDir, async (fixture) => {
    const bulk = await fixture.wiki("bulk", { isPublic: false, tier: "premium" });
    return { bulkToken: fixture.token(bulk, "write") };
  });
}

/** The push-rules figures as printed lines (used by `bun run bench` and this file's main). */
export function describePushRules(result: PushRulesBenchResult): string[] {
  return [
    `push of ${result.files} new pages: ${result.pushMs.toFixed(0)} ms at the client, write gate held ${result.gateHeldMs} ms, pack scan before it ${result.scanMs} ms (local bare copy: ${result.floorMs.toFixed(0)} ms)`,
    ...result.refusals.map(
      (refusal) =>
        `${(refusal.bytes / 1e6).toFixed(0)} MB page of zeros (${(refusal.wireBytes / 1024).toFixed(0)} KiB pack): ${refusal.refused ? "refused" : "NOT REFUSED"} in ${refusal.pushMs.toFixed(0)} ms, gate held ${refusal.gateHeldMs} ms, pack scan ${refusal.scanMs} ms; server + git peak RSS ${refusal.treePeakMiB.toFixed(1)} MiB (largest child ${refusal.childPeakMiB.toFixed(1)} MiB, server VmHWM ${refusal.serverHwmMiB.toFixed(1)} MiB)`,
    ),
  ];
}

if (import.meta.main && process.argv[2] === "push-rules") {
  const result = await benchPushRules({
    gigabyte: !process.argv.includes("--no-gigabyte"),
    files: Number(process.argv.find((arg) => arg.startsWith("--files="))?.slice(8) ?? 10_000),
  });
  for (const line of describePushRules(result)) console.log(line);
}
