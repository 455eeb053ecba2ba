/**
 * The browser wiki against the real server (`bun src/main.ts` as a child process), once per
 * launcher (WIKI_LAUNCHER zygote and gunicorn) in the same run: the first view of cold wikis
 * through the proxy (the wiki's process started by that request, the server already up), each
 * after a second of quiet as a visitor to a quiet wiki meets it, then a burst of cold wikis back
 * to back (the zygote's spare is then replaced while the next wiki waits); the
 * Otterwiki memory (PSS, zygote included) with 1, 4 and 16 live wikis; page views through our
 * proxy next to the same request sent straight to the wiki's socket, interleaved in one run so
 * drift hits both.
 */

import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SessionService } from "../../src/auth/session/session.ts";
import { SessionStore } from "../../src/auth/session/session-store.ts";
import { completeSignIn } from "../../src/auth/session/sign-in.ts";
import type { WikiLauncher } from "../../src/config/config.ts";
import { COMMITTER, openStores } from "../../src/stores.ts";
import { ANONYMOUS_EMAIL } from "../../src/wiki/identity.ts";
import { ZYGOTE_PID_FILE } from "../../src/wiki/zygote.ts";
import { createWiki } from "../../src/wikis/wiki-service.ts";
import { type ServerProcess, spawnServer } from "../../test/support/server-process.ts";
import { figure, type SectionFigures, summaryTable, table } from "./report.ts";
import { percentile, type Summary, summarize } from "./stats.ts";

const LAUNCHERS: readonly WikiLauncher[] = ["zygote", "gunicorn"];
/** Live-wiki counts at which the memory is read. */
const MEMORY_AT = [1, 4, 16];
const PAGE = "Field Notes";
/** Quiet before each cold view: the server idle, as between visits to different quiet wikis. */
const COLD_IDLE_MS = 1000;

export interface LauncherResult {
  launcher: WikiLauncher;
  rows: Summary[];
  ratioP50: number;
  ratioP99: number;
  /** First view of each cold wiki through the proxy, each after COLD_IDLE_MS, in order. */
  coldFirstViewMs: number[];
  /** First views of cold wikis requested back to back, after the ones above. */
  burstFirstViewMs: number[];
  /** Otterwiki PSS/RSS in total (zygote, or masters + workers) with `live` wikis live. */
  memory: { live: number; pssMiB: number; rssMiB: number }[];
  serverRssMiB: number;
}

export interface WikiBenchResult {
  launchers: LauncherResult[];
}

function pageText(): string {
  const paragraph =
    "Otters were counted at the river mouth at dawn; kelp cover, urchin density and the tide are noted with each count. [[Home]]\n\n";
  return `# ${PAGE}\n\n## Method\n\n${paragraph.repeat(12)}## Counts\n\n| day | otters |\n|---|---|\n${Array.from({ length: 20 }, (_, day) => `| ${day + 1} | ${(day * 7) % 13} |`).join("\n")}\n`;
}

function procField(pid: number, file: "status" | "smaps_rollup", field: string): number {
  try {
    const text = readFileSync(`/proc/${pid}/${file}`, "utf8");
    return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(text)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === pid)
        children.push(Number(entry));
    } catch {
      // Gone while we looked.
    }
  }
  return children;
}

const MIB_IN_KIB = 1024;

/**
 * Every Otterwiki process of the server: the zygote (run/zygote.pid) with its spare, and each
 * wiki's process (run/ow-*.sock.pid) with a gunicorn master's worker (its child carrying the
 * same `unix:` title); git helpers are left out for both launchers alike.
 */
function otterwikiPids(runDir: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync(runDir)) {
    // Only Otterwiki's: the server keeps pid files of its own here too.
    if (!/^ow-\d+\.sock\.pid$/.test(name) && name !== ZYGOTE_PID_FILE) continue;
    const pid = Number(readFileSync(join(runDir, name), "utf8").trim());
    if (!Number.isInteger(pid) || pid <= 1) continue;
    pids.push(pid);
    // The zygote's wiki children have pid files of their own; its spare has none.
    const title = name === ZYGOTE_PID_FILE ? "wikibot-otterwiki-spare\0" : "unix:";
    for (const child of childrenOf(pid)) {
      try {
        const cmdline = readFileSync(`/proc/${child}/cmdline`, "utf8");
        if (name === ZYGOTE_PID_FILE ? cmdline.startsWith(title) : cmdline.includes(title))
          pids.push(child);
      } catch {
        // Gone while we looked.
      }
    }
  }
  return pids;
}

function otterwikiMemory(runDir: string, live: number) {
  const pids = otterwikiPids(runDir);
  const sum = (file: "status" | "smaps_rollup", field: string) =>
    pids.reduce((total, pid) => total + procField(pid, file, field), 0) / MIB_IN_KIB;
  return { live, pssMiB: sum("smaps_rollup", "Pss"), rssMiB: sum("status", "VmRSS") };
}

export async function benchWiki(quick: boolean): Promise<WikiBenchResult> {
  const launchers: LauncherResult[] = [];
  for (const launcher of LAUNCHERS) launchers.push(await benchLauncher(launcher, quick));
  return { launchers };
}

async function benchLauncher(launcher: WikiLauncher, quick: boolean): Promise<LauncherResult> {
  const dataDir = mkdtempSync(join(tmpdir(), "wikibot-bench-wiki-"));
  const runDir = join(dataDir, "run");
  const stores = openStores(dataDir);
  const coldStarts = quick ? 4 : 20;
  const burst = quick ? 3 : 6;
  const memoryAt = MEMORY_AT.filter((live) => live <= coldStarts);
  let server: ServerProcess["child"] | null = null;
  try {
    const owner = stores.users.create({
      did: "did:plc:benchwikibenchwikibenchw",
      handle: "bench.bsky.social",
      username: "bench",
      displayName: "Bench Owner",
    });
    const port = 20000 + Math.floor(Math.random() * 20000);
    const publicUrl = new URL(`http://localhost:${port}`);
    const wikis = [];
    for (let index = 1; index <= coldStarts + burst; index++) {
      const { wiki } = await createWiki(
        { ...stores, dataDir, publicUrl, committer: COMMITTER },
        { slug: `wiki-${index}`, ownerUsername: owner.username, isPublic: true, tier: "free" },
      );
      await stores.pages.write(wiki, {
        path: PAGE,
        content: pageText(),
        author: { name: "Bench", email: "bench@users.wikibot.invalid" },
        client: "bench",
      });
      wikis.push(wiki);
    }

    const spawned = await spawnServer({
      dataDir,
      port,
      env: {
        PUBLIC_URL: publicUrl.origin,
        LOG_LEVEL: "error",
        WIKI_LAUNCHER: launcher,
        WIKI_PROCESSES_MAX: String(coldStarts + burst),
      },
    });
    server = spawned.child;
    if (!spawned.healthy) throw new Error("the server did not answer /health");
    // The server is up and (zygote) its launcher ready: what a visitor to a cold wiki meets.
    for (let poll = 0; poll < 1200; poll++) {
      const health: unknown = await (await fetch(`http://127.0.0.1:${port}/health`)).json();
      const state = JSON.stringify(health);
      if (launcher === "gunicorn" || state.includes('"state":"ready"')) break;
      await Bun.sleep(50);
    }
    const pageUrl = (slug: string) => `http://${slug}.localhost:${port}/${encodeURI(PAGE)}`;

    const firstView = async (slug: string) => {
      const started = performance.now();
      const response = await fetch(pageUrl(slug));
      await response.arrayBuffer();
      if (response.status !== 200)
        throw new Error(`${slug}: first view answered ${response.status}`);
      return performance.now() - started;
    };
    const coldFirstViewMs: number[] = [];
    const memory: LauncherResult["memory"] = [];
    // With the zygote, memory is read once the next spare is ready, so every reading counts it
    // (like the zygote itself) and the per-wiki figure is the wikis' own.
    const spareSettled = async () => {
      for (let poll = 0; launcher === "zygote" && poll < 200; poll++) {
        const health = JSON.stringify(
          await (await fetch(`http://127.0.0.1:${port}/health`)).json(),
        );
        if (health.includes('"spare":"ready"')) return;
        await Bun.sleep(25);
      }
    };
    for (const wiki of wikis.slice(0, coldStarts)) {
      await Bun.sleep(COLD_IDLE_MS);
      coldFirstViewMs.push(await firstView(wiki.slug));
      if (memoryAt.includes(coldFirstViewMs.length)) {
        await spareSettled();
        memory.push(otterwikiMemory(runDir, coldFirstViewMs.length));
      }
    }
    await Bun.sleep(COLD_IDLE_MS);
    const burstFirstViewMs: number[] = [];
    for (const wiki of wikis.slice(coldStarts)) burstFirstViewMs.push(await firstView(wiki.slug));

    // A signed-in editor, made exactly as the login does, with the wiki host's own session.
    const sessions = new SessionService(new SessionStore(stores.db));
    const signedIn = completeSignIn({ sessions, wikis: stores.wikis, publicUrl }, owner.id, null);
    const apexCookie = signedIn.headers.getSetCookie()[0]?.split(";")[0] ?? "";
    const wiki = wikis[0];
    if (wiki === undefined) throw new Error("no wiki");
    const slug = wiki.slug;
    const wikiCookie = await handshake(pageUrl(slug), apexCookie);
    const socket = join(runDir, `ow-${wiki.id}.sock`);
    const direct = () =>
      fetch(pageUrl(slug), {
        unix: socket,
        headers: {
          "x-forwarded-proto": "http",
          "x-otterwiki-name": "Anonymous",
          "x-otterwiki-email": encodeURIComponent(ANONYMOUS_EMAIL),
          "x-otterwiki-permissions": "READ",
        },
      });
    const proxied = () => fetch(pageUrl(slug));
    const signedInView = () => fetch(pageUrl(slug), { headers: { cookie: wikiCookie } });

    const views = quick ? 100 : 1000;
    for (let warm = 0; warm < 30; warm++) {
      for (const view of [direct, proxied, signedInView]) await (await view()).arrayBuffer();
    }
    const latencies: Record<"direct" | "proxied" | "signedIn", number[]> = {
      direct: [],
      proxied: [],
      signedIn: [],
    };
    const elapsed = { direct: 0, proxied: 0, signedIn: 0 };
    const order = [
      ["direct", direct],
      ["proxied", proxied],
      ["signedIn", signedInView],
    ] as const;
    for (let index = 0; index < views; index++) {
      // Rotate the order so no variant always runs right after another.
      for (let step = 0; step < order.length; step++) {
        const [name, view] = order[(index + step) % order.length] ?? order[0];
        const started = performance.now();
        const response = await view();
        await response.arrayBuffer();
        const took = performance.now() - started;
        if (response.status !== 200) throw new Error(`${name} view answered ${response.status}`);
        latencies[name].push(took);
        elapsed[name] += took;
      }
    }
    const rows = [
      summarize(
        `${launcher}: page view straight to the Otterwiki socket`,
        latencies.direct,
        elapsed.direct,
      ),
      summarize(
        `${launcher}: page view through the proxy (anonymous)`,
        latencies.proxied,
        elapsed.proxied,
      ),
      summarize(
        `${launcher}: page view through the proxy (signed in)`,
        latencies.signedIn,
        elapsed.signedIn,
      ),
    ];
    const [directSummary, proxiedSummary] = rows;
    return {
      launcher,
      rows,
      ratioP50: (proxiedSummary?.p50 ?? 0) / (directSummary?.p50 ?? 1),
      ratioP99: (proxiedSummary?.p99 ?? 0) / (directSummary?.p99 ?? 1),
      coldFirstViewMs,
      burstFirstViewMs,
      memory,
      serverRssMiB: procField(server.pid, "status", "VmRSS") / MIB_IN_KIB,
    };
  } finally {
    server?.kill("SIGTERM");
    await server?.exited;
    stores.db.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** PSS of the first live wiki (the zygote included) and of each one added after it. */
export function memoryPerWiki(memory: LauncherResult["memory"]) {
  const first = memory.find((entry) => entry.live === 1);
  return memory.map((entry) => ({
    live: entry.live,
    totalPssMiB: entry.pssMiB,
    perAdditionalMiB:
      first === undefined || entry.live === 1
        ? null
        : (entry.pssMiB - first.pssMiB) / (entry.live - 1),
  }));
}

function sortedPercentile(values: number[], at: number): number {
  return percentile(
    [...values].sort((a, b) => a - b),
    at,
  );
}

/** The report's figures: both launchers side by side, the zygote against gunicorn. */
export function wikiReport(result: WikiBenchResult): SectionFigures {
  const gunicorn = result.launchers.find((entry) => entry.launcher === "gunicorn");
  const figures: SectionFigures["figures"] = [];
  for (const entry of result.launchers) {
    const [direct, proxied] = entry.rows;
    const isZygote = entry.launcher === "zygote";
    for (const at of ["p50", "p99"] as const) {
      if (direct !== undefined && proxied !== undefined)
        figures.push(
          figure(`${proxied.name} ${at}`, proxied[at], "ms", {
            reference: { name: `${direct.name} ${at}`, value: direct[at] },
            target: "ratio ≤ 1.15",
          }),
        );
    }
    const reference = isZygote ? gunicorn : undefined;
    for (const at of [0.5, 0.99]) {
      const label = at === 0.5 ? "p50" : "p99";
      figures.push(
        figure(
          `${entry.launcher}: first view of a cold wiki through the proxy (after ${COLD_IDLE_MS / 1000} s quiet), ${label} of ${entry.coldFirstViewMs.length}`,
          sortedPercentile(entry.coldFirstViewMs, at),
          "ms",
          {
            reference:
              reference === undefined
                ? undefined
                : {
                    name: `gunicorn: first view of a cold wiki, ${label}`,
                    value: sortedPercentile(reference.coldFirstViewMs, at),
                  },
            target: isZygote && at === 0.5 ? "≤ 150 ms" : undefined,
          },
        ),
      );
    }
    figures.push(
      figure(
        `${entry.launcher}: first views of ${entry.burstFirstViewMs.length} cold wikis back to back, p50`,
        sortedPercentile(entry.burstFirstViewMs, 0.5),
        "ms",
        {
          reference:
            reference === undefined
              ? undefined
              : {
                  name: "gunicorn: the same, p50",
                  value: sortedPercentile(reference.burstFirstViewMs, 0.5),
                },
        },
      ),
    );
    for (const row of memoryPerWiki(entry.memory)) {
      if (row.live === 1)
        figures.push(
          figure(`${entry.launcher}: Otterwiki PSS with 1 live wiki`, row.totalPssMiB, "MiB"),
        );
      else
        figures.push(
          figure(
            `${entry.launcher}: PSS of each additional live wiki (1 → ${row.live})`,
            row.perAdditionalMiB ?? Number.NaN,
            "MiB",
            { target: isZygote ? "≤ 35 MiB" : undefined },
          ),
        );
    }
  }
  return {
    figures,
    tables: [
      summaryTable(result.launchers.flatMap((entry) => entry.rows)),
      table(
        [
          "launcher, live wikis",
          "Otterwiki PSS MiB",
          "Otterwiki RSS MiB",
          "PSS per additional wiki MiB",
        ],
        result.launchers.flatMap((entry) =>
          memoryPerWiki(entry.memory).map((row, index) => [
            `${entry.launcher}, ${row.live}`,
            row.totalPssMiB,
            entry.memory[index]?.rssMiB ?? "—",
            row.perAdditionalMiB ?? "—",
          ]),
        ),
      ),
    ],
    notes: result.launchers.map(
      (entry) =>
        `${entry.launcher}: first views ${entry.coldFirstViewMs.map((ms) => ms.toFixed(0)).join(", ")} ms, then back to back ${entry.burstFirstViewMs.map((ms) => ms.toFixed(0)).join(", ")} ms; server RSS ${entry.serverRssMiB.toFixed(1)} MiB; proxy ÷ straight p50 ${entry.ratioP50.toFixed(2)}×, p99 ${entry.ratioP99.toFixed(2)}×`,
    ),
  };
}

/** The per-host handshake with fetch; returns the wiki host's Cookie header. */
async function handshake(wikiUrl: string, apexCookie: string): Promise<string> {
  const wikiCookies = new Map<string, string>();
  const wikiHost = new URL(wikiUrl).host;
  let url = wikiUrl;
  for (let hop = 0; hop < 6; hop++) {
    const onWiki = new URL(url).host === wikiHost;
    const cookie = onWiki ? [...wikiCookies].map(([k, v]) => `${k}=${v}`).join("; ") : apexCookie;
    const response = await fetch(url, {
      headers: { "sec-fetch-mode": "navigate", "sec-fetch-dest": "document", cookie },
      redirect: "manual",
    });
    await response.arrayBuffer();
    if (onWiki) {
      for (const line of response.headers.getSetCookie()) {
        const pair = line.split(";")[0] ?? "";
        const separator = pair.indexOf("=");
        if (/;\s*Max-Age=0/i.test(line)) wikiCookies.delete(pair.slice(0, separator));
        else wikiCookies.set(pair.slice(0, separator), pair.slice(separator + 1));
      }
    }
    const location = response.headers.get("location");
    if (response.status !== 302 || location === null) break;
    url = new URL(location, url).href;
  }
  if (!wikiCookies.has("wb_wiki_session")) throw new Error("the handshake gave no wiki session");
  return [...wikiCookies].map(([k, v]) => `${k}=${v}`).join("; ");
}
