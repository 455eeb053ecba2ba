/**
 * The browser wiki against the real server (`bun src/main.ts` as a child process): page views
 * through our proxy next to the same request sent straight to the same Otterwiki socket,
 * interleaved in one run so drift hits both; the cold start of a wiki process; memory per live
 * Otterwiki (master + worker, RSS and PSS) and in total with 4 live wikis.
 */

import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SessionService } from "../../src/auth/session/session.ts";
import { SessionStore } from "../../src/auth/session/session-store.ts";
import { completeSignIn } from "../../src/auth/session/sign-in.ts";
import { loadSecrets } from "../../src/config/keys.ts";
import { COMMITTER, openStores } from "../../src/stores.ts";
import { ANONYMOUS_EMAIL } from "../../src/wiki/identity.ts";
import { otterwikiLauncher } from "../../src/wiki/launch.ts";
import { OtterwikiProcess } from "../../src/wiki/otterwiki-process.ts";
import { createWiki } from "../../src/wikis/wiki-service.ts";
import { type ServerProcess, spawnServer } from "../../test/support/server-process.ts";
import { figure, type SectionFigures, summaryTable, table } from "./report.ts";
import { percentile, type Summary } from "./stats.ts";

const SLUGS = ["wiki-one", "wiki-two", "wiki-three", "wiki-four"];
const PAGE = "Field Notes";

export interface WikiBenchResult {
  rows: Summary[];
  ratioP50: number;
  ratioP99: number;
  coldStartMs: number[];
  coldFirstViewMs: number[];
  perProcess: { wiki: string; rssMiB: number; pssMiB: number }[];
  serverRssMiB: number;
  totalRssMiB: number;
  totalPssMiB: number;
}

function pageText(): string {
  const paragraph =
    "Otters were counted at the river mouth at dawn; kelp cover, urchin density and the tide are noted with each count. [[Home]]\n\n";
  return `# ${PAGE}\n\n## Method\n\n${paragraph.repeat(12)}## Counts\n\n| day | otters |\n|---|---|\n${Array.from({ length: 20 }, (_, day) => `| ${day + 1} | ${(day * 7) % 13} |`).join("\n")}\n`;
}

function summarize(name: string, latencies: number[], elapsedMs: number): Summary {
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    name,
    count: latencies.length,
    perSecond: latencies.length / (elapsedMs / 1000),
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
  };
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

export async function benchWiki(quick: boolean): Promise<WikiBenchResult> {
  const dataDir = mkdtempSync(join(tmpdir(), "wikibot-bench-wiki-"));
  const stores = openStores(dataDir);
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
    for (const slug of SLUGS) {
      const { wiki } = await createWiki(
        { ...stores, dataDir, publicUrl, committer: COMMITTER },
        { slug, ownerUsername: owner.username, isPublic: true, tier: "free" },
      );
      await stores.pages.write(wiki, {
        path: PAGE,
        content: pageText(),
        author: { name: "Bench", email: "bench@users.wikibot.invalid" },
        client: "bench",
      });
      wikis.push(wiki);
    }
    const secrets = loadSecrets(dataDir);
    const launchFor = otterwikiLauncher({
      dataDir,
      runDir: join(dataDir, "run"),
      secrets,
      committer: COMMITTER,
      publicUrl,
      logLevel: "error",
    });

    // Cold start of one wiki process: spawn to /-/healthz 200, on its own socket.
    const coldStartMs: number[] = [];
    const lastWiki = wikis[wikis.length - 1];
    if (lastWiki === undefined) throw new Error("no wiki");
    for (let run = 0; run < (quick ? 2 : 5); run++) {
      const launch = { ...launchFor(lastWiki), socket: join(dataDir, `cold-${run}.sock`) };
      const started = performance.now();
      const cold = await OtterwikiProcess.start(launch);
      coldStartMs.push(performance.now() - started);
      await cold.stop();
    }

    const spawned = await spawnServer({
      dataDir,
      port,
      env: { PUBLIC_URL: publicUrl.origin, LOG_LEVEL: "error", WIKI_PROCESSES_MAX: "8" },
    });
    server = spawned.child;
    if (!spawned.healthy) throw new Error("the server did not answer /health");
    const pageUrl = (slug: string) => `http://${slug}.localhost:${port}/${encodeURI(PAGE)}`;

    // First view of each wiki through the proxy: spawn + first render.
    const coldFirstViewMs: number[] = [];
    for (const slug of SLUGS) {
      const started = performance.now();
      const response = await fetch(pageUrl(slug));
      await response.arrayBuffer();
      if (response.status !== 200)
        throw new Error(`${slug}: first view answered ${response.status}`);
      coldFirstViewMs.push(performance.now() - started);
    }

    // A signed-in editor, made exactly as the login does, with the wiki host's own session.
    const sessions = new SessionService(new SessionStore(stores.db));
    const signedIn = completeSignIn({ sessions, wikis: stores.wikis, publicUrl }, owner.id, null);
    const apexCookie = signedIn.headers.getSetCookie()[0]?.split(";")[0] ?? "";
    const wikiCookie = await handshake(pageUrl(SLUGS[0] ?? ""), apexCookie);

    const slug = SLUGS[0] ?? "";
    const wiki = wikis[0];
    if (wiki === undefined) throw new Error("no wiki");
    const socket = join(dataDir, "run", `ow-${wiki.id}.sock`);
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
      summarize("page view straight to the Otterwiki socket", latencies.direct, elapsed.direct),
      summarize("page view through the proxy (anonymous)", latencies.proxied, elapsed.proxied),
      summarize("page view through the proxy (signed in)", latencies.signedIn, elapsed.signedIn),
    ];

    // Memory with the 4 wikis live.
    // /health names no wiki (it is public); each live process left `<socket>.pid` in run/.
    const processes = wikis.flatMap((wiki) => {
      const pidFile = `${join(dataDir, "run", `ow-${wiki.id}.sock`)}.pid`;
      if (!existsSync(pidFile)) return [];
      return [{ wiki: wiki.slug, pid: Number(readFileSync(pidFile, "utf8").trim()) }];
    });
    const perProcess = processes.map((entry) => {
      const pids = [entry.pid, ...childrenOf(entry.pid)];
      const rss = pids.reduce((sum, pid) => sum + procField(pid, "status", "VmRSS"), 0);
      const pss = pids.reduce((sum, pid) => sum + procField(pid, "smaps_rollup", "Pss"), 0);
      return { wiki: entry.wiki, rssMiB: rss / MIB_IN_KIB, pssMiB: pss / MIB_IN_KIB };
    });
    const serverRssMiB = procField(server.pid, "status", "VmRSS") / MIB_IN_KIB;
    const serverPssMiB = procField(server.pid, "smaps_rollup", "Pss") / MIB_IN_KIB;
    const [directSummary, proxiedSummary] = rows;
    return {
      rows,
      ratioP50: (proxiedSummary?.p50 ?? 0) / (directSummary?.p50 ?? 1),
      ratioP99: (proxiedSummary?.p99 ?? 0) / (directSummary?.p99 ?? 1),
      coldStartMs,
      coldFirstViewMs,
      perProcess,
      serverRssMiB,
      totalRssMiB: serverRssMiB + perProcess.reduce((sum, entry) => sum + entry.rssMiB, 0),
      totalPssMiB: serverPssMiB + perProcess.reduce((sum, entry) => sum + entry.pssMiB, 0),
    };
  } finally {
    server?.kill("SIGTERM");
    await server?.exited;
    stores.db.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** The report's figures: the proxy against Otterwiki's own socket, cold starts and memory. */
export function wikiReport(result: WikiBenchResult): SectionFigures {
  const [direct, proxied, signedIn] = result.rows;
  const median = (values: number[]) =>
    percentile(
      [...values].sort((a, b) => a - b),
      0.5,
    );
  const against = (row: Summary | undefined, at: "p50" | "p99", target?: string) =>
    row === undefined || direct === undefined
      ? []
      : [
          figure(`${row.name} ${at}`, row[at], "ms", {
            reference: { name: `${direct.name} ${at}`, value: direct[at] },
            target,
          }),
        ];
  return {
    figures: [
      ...against(proxied, "p50", "ratio ≤ 1.15"),
      ...against(proxied, "p99", "ratio ≤ 1.15"),
      ...against(signedIn, "p50"),
      figure(
        "cold start of a wiki process (spawn → /-/healthz 200), median",
        median(result.coldStartMs),
        "ms",
      ),
      figure(
        "first view through the proxy (spawn + first render), median",
        median(result.coldFirstViewMs),
        "ms",
      ),
      figure("server RSS with 4 live wikis", result.serverRssMiB, "MiB"),
      figure("server + 4 Otterwikis, RSS", result.totalRssMiB, "MiB"),
      figure("server + 4 Otterwikis, PSS", result.totalPssMiB, "MiB"),
    ],
    tables: [
      summaryTable(result.rows),
      table(
        ["live Otterwiki (gunicorn master + worker)", "RSS MiB", "PSS MiB"],
        result.perProcess.map((entry) => [entry.wiki, entry.rssMiB, entry.pssMiB]),
      ),
    ],
    notes: [
      `cold starts: ${result.coldStartMs.map((ms) => ms.toFixed(0)).join(", ")} ms; first views: ${result.coldFirstViewMs.map((ms) => ms.toFixed(0)).join(", ")} ms`,
    ],
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
