import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "../lib/log.ts";
import type { Wiki } from "../wikis/wiki-store.ts";
import { type OtterwikiLaunch, reapStaleProcesses } from "./otterwiki-process.ts";
import {
  backoffDelay,
  OtterwikiPool,
  type RunningOtterwiki,
  WikiProcessError,
} from "./process-pool.ts";

/** A stand-in process: `die()` makes it exit as if killed; stop() resolves at once. */
class FakeProcess implements RunningOtterwiki {
  static nextPid = 1000;
  readonly pid = FakeProcess.nextPid++;
  stopped = false;
  private exit: (code: number) => void = () => undefined;
  readonly exited = new Promise<number>((resolve) => {
    this.exit = resolve;
  });
  constructor(readonly socket: string) {}
  async stop(): Promise<void> {
    this.stopped = true;
    this.exit(0);
  }
  die(): void {
    this.exit(137);
  }
}

function wiki(id: number): Wiki {
  return {
    id,
    slug: `wiki-${id}`,
    name: `Wiki ${id}`,
    ownerId: 1,
    isPublic: true,
    tier: "free",
    createdAt: 0,
    indexedCommit: null,
  };
}

function pool(options: { max?: number; fail?: (launch: OtterwikiLaunch) => boolean } = {}) {
  const started: FakeProcess[] = [];
  let releaseStart: () => void = () => undefined;
  let gate: Promise<void> = Promise.resolve();
  const instance = new OtterwikiPool({
    max: options.max ?? 2,
    idleMs: 60_000,
    logger: createLogger("error", () => undefined),
    launchFor: (target) => ({
      gunicorn: "",
      wrapperDir: "",
      wikiDir: "",
      stateDir: "",
      socket: `/run/${target.slug}.sock`,
      env: {},
    }),
    start: async (launch) => {
      await gate;
      if (options.fail?.(launch)) throw new Error("cannot start");
      const process = new FakeProcess(launch.socket);
      started.push(process);
      return process;
    },
  });
  return {
    pool: instance,
    started,
    holdStarts() {
      gate = new Promise((resolve) => {
        releaseStart = resolve;
      });
    },
    releaseStarts: () => releaseStart(),
  };
}

describe("the process pool", () => {
  test("concurrent first requests share one start", async () => {
    const { pool: p, started, holdStarts, releaseStarts } = pool();
    holdStarts();
    const leases = Array.from({ length: 5 }, () => p.acquire(wiki(1)));
    releaseStarts();
    const all = await Promise.all(leases);
    expect(started.length).toBe(1);
    expect(new Set(all.map((lease) => lease.pid)).size).toBe(1);
    await p.close();
  });

  test("prewarm starts a wiki's process once, holds no lease, and the next request uses it", async () => {
    const { pool: p, started, holdStarts, releaseStarts } = pool();
    holdStarts();
    p.prewarm(wiki(1));
    p.prewarm(wiki(1));
    const request = p.acquire(wiki(1));
    releaseStarts();
    const lease = await request;
    expect(started.length).toBe(1);
    expect(lease.pid).toBe(started[0]?.pid ?? -1);
    lease.release();
    expect(p.snapshot().processes).toEqual([
      expect.objectContaining({ wiki: "wiki-1", state: "ready", in_flight: 0 }),
    ]);
    await p.close();
    p.prewarm(wiki(2));
    expect(started.length).toBe(1);
  });

  test("prewarm on a full pool starts nothing and stops nobody: a stranger's redirects cannot churn it", async () => {
    const { pool: p, started } = pool({ max: 2 });
    (await p.acquire(wiki(1))).release();
    (await p.acquire(wiki(2))).release();
    for (let index = 3; index < 20; index++) p.prewarm(wiki(index));
    await Bun.sleep(20);
    expect(started.length).toBe(2);
    expect(started.every((process) => process.stopped !== true)).toBe(true);
    expect(
      p
        .snapshot()
        .processes.map((entry) => entry.wiki)
        .sort(),
    ).toEqual(["wiki-1", "wiki-2"]);
    await p.close();
  });

  test("at most `max` live: the least recently used idle process is stopped for a new one", async () => {
    const { pool: p, started } = pool({ max: 2 });
    (await p.acquire(wiki(1))).release();
    (await p.acquire(wiki(2))).release();
    (await p.acquire(wiki(1))).release(); // wiki 2 is now the least recently used
    (await p.acquire(wiki(3))).release();
    expect(
      p
        .snapshot()
        .processes.map((entry) => entry.wiki)
        .sort(),
    ).toEqual(["wiki-1", "wiki-3"]);
    expect(started.find((process) => process.socket.includes("wiki-2"))?.stopped).toBe(true);
    expect(p.snapshot().peak_live).toBe(2);
    await p.close();
  });

  test("a process serving a request is never stopped; the newcomer waits for a release", async () => {
    const { pool: p } = pool({ max: 1 });
    const busy = await p.acquire(wiki(1));
    let second = false;
    const waiting = p.acquire(wiki(2)).then((lease) => {
      second = true;
      return lease;
    });
    await Bun.sleep(20);
    expect(second).toBe(false);
    expect(p.snapshot().processes.map((entry) => entry.wiki)).toEqual(["wiki-1"]);
    busy.release();
    (await waiting).release();
    expect(p.snapshot().processes.map((entry) => entry.wiki)).toEqual(["wiki-2"]);
    await p.close();
  });

  test("a process that dies is replaced on the next acquire", async () => {
    const { pool: p, started } = pool();
    (await p.acquire(wiki(1))).release();
    started[0]?.die();
    await Bun.sleep(0);
    const lease = await p.acquire(wiki(1));
    expect(started.length).toBe(2);
    expect(lease.pid).toBe(started[1]?.pid ?? -1);
    expect(p.snapshot().crashed).toBe(1);
    lease.release();
    await p.close();
  });

  test("a connection failure reported by a request replaces the process", async () => {
    const { pool: p, started } = pool();
    const lease = await p.acquire(wiki(1));
    lease.reportBroken();
    const next = await p.acquire(wiki(1));
    expect(started[0]?.stopped).toBe(true);
    expect(next.pid).not.toBe(lease.pid);
    next.release();
    await p.close();
  });

  test("a start failure is a WikiProcessError; repeated failures back off", async () => {
    const { pool: p } = pool({ fail: () => true });
    const failure = await p.acquire(wiki(1)).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(WikiProcessError);
    expect(failure instanceof WikiProcessError && failure.kind).toBe("start_failed");
    expect(backoffDelay(1)).toBe(0);
    expect(backoffDelay(2)).toBe(500);
    expect(backoffDelay(3)).toBe(1000);
    expect(backoffDelay(30)).toBe(30_000);
    await p.close();
  });

  test("close stops every process and refuses new leases", async () => {
    const { pool: p, started } = pool();
    (await p.acquire(wiki(1))).release();
    (await p.acquire(wiki(2))).release();
    await p.close();
    expect(started.every((process) => process.stopped)).toBe(true);
    const refused = await p.acquire(wiki(1)).catch((error: unknown) => error);
    expect(refused instanceof WikiProcessError && refused.kind).toBe("shutting_down");
  });
});

describe("processes left by a previous run", () => {
  test("are killed when their pid file names a live process bound to that socket", async () => {
    const runDir = mkdtempSync(join(tmpdir(), "wikibot-reap-"));
    try {
      const socket = join(runDir, "ow-1.sock");
      // A stand-in whose command line carries the socket, as gunicorn's does.
      const stale = Bun.spawn(["bash", "-c", `exec -a "gunicorn --bind unix:${socket}" sleep 60`], {
        detached: true,
        stdio: ["ignore", "ignore", "ignore"],
      });
      // A pid file for a socket whose process is something else entirely: left alone.
      const bystander = Bun.spawn(["sleep", "60"], { stdio: ["ignore", "ignore", "ignore"] });
      await Bun.sleep(50);
      writeFileSync(`${socket}.pid`, `${stale.pid}\n`);
      writeFileSync(join(runDir, "ow-2.sock.pid"), `${bystander.pid}\n`);
      expect(reapStaleProcesses(runDir)).toBe(1);
      expect(await stale.exited).not.toBe(0);
      expect(bystander.exitCode).toBeNull();
      bystander.kill();
    } finally {
      rmSync(runDir, { recursive: true, force: true });
    }
  });
});
