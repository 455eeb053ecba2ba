/**
 * The Otterwiki process pool under the real server with WIKI_PROCESSES_MAX=2: six wikis all
 * render and the operating system never sees more than two live processes; first requests
 * share one spawn; a process killed with SIGKILL is replaced; idle processes stop; shutdown
 * stops them all.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { launchChromium } from "./support/browser.ts";
import { addPublicWiki, addUser, startTestServer, type TestServer } from "./support/server.ts";

// Starts real processes (server, git, Otterwiki); the 5 s default is too short on 2 cores.
setDefaultTimeout(120_000);

const SLUGS = ["one", "two", "three", "four", "five", "six"];
let t: TestServer;
let browser: Browser;

interface PoolHealth {
  max: number;
  live: number;
  peak_live: number;
  started: number;
  crashed: number;
  processes: { wiki: string; pid: number | null; state: string }[];
}

beforeAll(async () => {
  [t, browser] = await Promise.all([
    startTestServer({ WIKI_PROCESSES_MAX: "2", WIKI_IDLE_SECONDS: "3" }),
    launchChromium(),
  ]);
  await addUser(t, "olive");
  for (const slug of [...SLUGS, "fresh", "victim"]) await addPublicWiki(t, slug, "olive");
});
afterAll(async () => {
  await browser?.close();
  await t?.close();
});

async function poolHealth(): Promise<PoolHealth> {
  return t.server.wikiProcesses();
}

/**
 * Wiki processes this server started, counted from /proc: gunicorn masters (their parent is
 * us) or the zygote's children (their parent is our zygote, whose title names the run folder).
 */
function liveMasters(): number[] {
  const runDir = join(t.dataDir, "run");
  const masters: number[] = [];
  const ourZygote = (pid: number) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, "utf8").startsWith(
        `wikibot-otterwiki-zygote\0${runDir}\0`,
      );
    } catch {
      return false;
    }
  };
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const commandLine = readFileSync(`/proc/${entry}/cmdline`, "utf8");
      if (!commandLine.includes(`unix:${runDir}/`)) continue;
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (parent === process.pid || ourZygote(parent)) masters.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return masters;
}

/** Every Otterwiki process of this server, masters and workers. */
function liveOtterwikiProcesses(): number {
  const runDir = join(t.dataDir, "run");
  let count = 0;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(`unix:${runDir}/`)) count += 1;
    } catch {
      // The process ended while we looked.
    }
  }
  return count;
}

async function view(slug: string): Promise<Response> {
  return fetch(`${t.wikiOrigin(slug)}/`, { redirect: "manual" });
}

describe("at most WIKI_PROCESSES_MAX processes", () => {
  test("six wikis browsed in Chromium one after another all render; never more than 2 live", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    for (const slug of [...SLUGS, ...SLUGS]) {
      const response = await page.goto(`${t.wikiOrigin(slug)}/`);
      expect(response?.status()).toBe(200);
      expect(await page.locator("h1").first().textContent()).toContain(`Wiki ${slug}`);
      expect(await page.textContent("body")).toContain(`Welcome to Wiki ${slug}`);
      expect(liveMasters().length).toBeLessThanOrEqual(2);
      expect((await poolHealth()).live).toBeLessThanOrEqual(2);
    }
    await context.close();
  });

  test("six wikis browsed at once all render; the pool and the OS never show more than 2", async () => {
    let most = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        most = Math.max(most, liveMasters().length);
        await Bun.sleep(10);
      }
    })();
    const responses = await Promise.all(
      [...SLUGS, ...SLUGS].map(async (slug) => {
        const response = await view(slug);
        return { slug, status: response.status, html: await response.text() };
      }),
    );
    sampling = false;
    await sampler;
    for (const { slug, status, html } of responses) {
      expect(status).toBe(200);
      expect(html).toContain(`Welcome to <strong>Wiki ${slug}</strong>`);
    }
    expect(most).toBeLessThanOrEqual(2);
    expect((await poolHealth()).peak_live).toBe(2);
  });

  test("concurrent first requests to a wiki share one spawn", async () => {
    const before = (await poolHealth()).started;
    const statuses = await Promise.all(
      Array.from({ length: 5 }, () => view("fresh").then((response) => response.status)),
    );
    expect(statuses).toEqual([200, 200, 200, 200, 200]);
    expect((await poolHealth()).started).toBe(before + 1);
  });
});

describe("a dead process is replaced", () => {
  test("an Otterwiki killed with SIGKILL is replaced on the next request", async () => {
    expect((await view("victim")).status).toBe(200);
    const old = (await poolHealth()).processes.find((entry) => entry.wiki === "victim")?.pid;
    expect(typeof old).toBe("number");
    if (typeof old !== "number") return;
    process.kill(old, "SIGKILL");
    const response = await view("victim");
    expect(response.status).toBe(200);
    expect(await response.text()).toContain("Welcome to <strong>Wiki victim</strong>");
    const health = await poolHealth();
    const replacement = health.processes.find((entry) => entry.wiki === "victim")?.pid;
    expect(typeof replacement).toBe("number");
    expect(replacement).not.toBe(old);
    expect(liveMasters()).not.toContain(old);
  });
});

describe("stopping", () => {
  test("idle processes stop after WIKI_IDLE_SECONDS", async () => {
    expect((await view("one")).status).toBe(200);
    let health = await poolHealth();
    for (let poll = 0; poll < 100 && health.live > 0; poll++) {
      await Bun.sleep(200);
      health = await poolHealth();
    }
    expect(health.live).toBe(0);
    expect(liveOtterwikiProcesses()).toBe(0);
    // And the next request starts it again.
    expect((await view("one")).status).toBe(200);
  });

  test("server shutdown stops every process, workers included", async () => {
    await Promise.all([view("two"), view("three")]);
    expect(liveMasters().length).toBeGreaterThan(0);
    await t.server.stop();
    expect(liveOtterwikiProcesses()).toBe(0);
  });
});
