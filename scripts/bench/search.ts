/**
 * Full-text search through the real server (`bun src/main.ts` as a child process) over REST:
 * latency on a 2,000-page wiki, and whether a search over a page at the size limit holds the
 * event loop, seen as /health latency while 8 such searches run (issue 8, defect 2).
 */

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MAX_PAGE_BYTES } from "../../src/pages/page-rules.ts";
import { type ServerProcess, spawnServer } from "../../test/support/server-process.ts";
import { withBenchFixture } from "./fixtures.ts";
import { figure, type SectionFigures, summaryTable } from "./report.ts";
import { type Summary, summarize } from "./stats.ts";

const PAGES = 2000;
const WORDS = ["otter", "kelp", "urchin", "river", "tool", "rock", "den", "pup", "fish", "crab"];

function pageText(index: number): string {
  const word = (offset: number) => WORDS[(index + offset) % WORDS.length] ?? "otter";
  const paragraph = `Notes on the ${word(0)} and the ${word(3)}: field observations, counts and sources.\n`;
  return `# Page ${index}\n\n## Observations\n\n${paragraph.repeat(12)}\n## Sources\n\n- Survey ${index}\n`;
}

/** A page of exactly MAX_PAGE_BYTES where most words match "otter" (snippet()'s worst case). */
function pageAtTheLimit(): string {
  const line = "otter otters otter kelp otter urchin otter\n";
  const text = `# Big\n\n${line.repeat(Math.floor((MAX_PAGE_BYTES - 8) / line.length))}`;
  return text + "x".repeat(MAX_PAGE_BYTES - Buffer.byteLength(text));
}

/** Two wikis in one commit each: `bench` (PAGES pages) and `big` (a page at the limit + 20). */
function prepareWikis(dataDir: string): Promise<{ token: string }> {
  return withBenchFixture(dataDir, async (fixture) => {
    const pages = (count: number) =>
      Object.fromEntries(
        Array.from({ length: count }, (_, index) => [`Page ${index}.md`, pageText(index)]),
      );
    const bench = await fixture.wiki("bench", {
      isPublic: true,
      tier: "free",
      files: pages(PAGES),
    });
    await fixture.wiki("big", {
      isPublic: true,
      tier: "free",
      files: { "Big.md": pageAtTheLimit(), ...pages(20) },
    });
    return { token: fixture.token(bench, "read") };
  });
}

/** `total` GETs spread over `concurrency` loops, each one request at a time. */
async function load(
  concurrency: number,
  total: number,
  url: (index: number) => string,
  headers: Record<string, string>,
): Promise<{ latencies: number[]; seconds: number }> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const index = next++;
        const before = performance.now();
        const response = await fetch(url(index), { headers });
        await response.arrayBuffer();
        latencies.push(performance.now() - before);
        if (response.status !== 200) throw new Error(`${url(index)} answered ${response.status}`);
      }
    }),
  );
  return { latencies, seconds: (performance.now() - started) / 1000 };
}

/** Row names the report's figures pick out. */
const HEALTH_IDLE = "/health, idle";
const HEALTH_DURING = "/health during those 8 searches";

export async function benchSearch(quick: boolean): Promise<{ rows: Summary[] }> {
  const dataDir = mkdtempSync(join(tmpdir(), "wikibot-bench-search-"));
  let server: ServerProcess["child"] | null = null;
  try {
    const { token } = await prepareWikis(dataDir);
    const spawned = await spawnServer({ dataDir, env: { LOG_LEVEL: "error" } });
    server = spawned.child;
    if (!spawned.healthy) throw new Error("the server did not answer /health");
    const origin = (slug: string) => `http://${slug}.localhost:${spawned.port}`;
    const health = `http://localhost:${spawned.port}/health`;
    const auth = { authorization: `Bearer ${token}` };
    const query = (index: number) =>
      encodeURIComponent(`${WORDS[index % WORDS.length]} ${WORDS[(index + 3) % WORDS.length]}`);
    const benchSearchUrl = (index: number) =>
      `${origin("bench")}/api/v1/search?q=${query(index)}&limit=10`;

    // Warm the server (JIT, page cache, statement cache, first index sync) before measuring.
    await load(1, 50, benchSearchUrl, auth);
    await load(1, 2, () => `${origin("big")}/api/v1/search?q=kelp`, {});

    const rows: Summary[] = [];
    const searches = quick ? 200 : 2000;
    for (const concurrency of [1, 8]) {
      const run = await load(concurrency, searches, benchSearchUrl, auth);
      rows.push(
        summarize(`search, ${PAGES} pages  c=${concurrency}`, run.latencies, run.seconds * 1000),
      );
    }
    const idle = await load(1, quick ? 100 : 500, () => health, {});
    rows.push(summarize(HEALTH_IDLE, idle.latencies, idle.seconds * 1000));

    // 8 searches over the page at the limit at all times, and /health polled meanwhile.
    let searching = true;
    const bigSearches = load(
      8,
      quick ? 16 : 200,
      (index) => `${origin("big")}/api/v1/search?q=${["otter", "kelp", "urchin"][index % 3]}`,
      {},
    ).finally(() => {
      searching = false;
    });
    const healthLatencies: number[] = [];
    const healthStarted = performance.now();
    while (searching) {
      const before = performance.now();
      const response = await fetch(health);
      await response.arrayBuffer();
      healthLatencies.push(performance.now() - before);
      await Bun.sleep(2);
    }
    const healthSeconds = (performance.now() - healthStarted) / 1000;
    const big = await bigSearches;
    rows.push(summarize("search over a 1 MB page  c=8", big.latencies, big.seconds * 1000));
    rows.push(summarize(HEALTH_DURING, healthLatencies, healthSeconds * 1000));
    return { rows };
  } finally {
    if (server !== null) {
      server.kill("SIGTERM");
      await server.exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/**
 * The report's figures: each search's p50, and /health while 8 searches over a page at the limit
 * run against /health on an idle server (issue 8, defect 2: the searches must not hold the loop).
 */
export function searchReport(result: { rows: Summary[] }): SectionFigures {
  const idle = result.rows.find((row) => row.name === HEALTH_IDLE);
  const during = result.rows.find((row) => row.name === HEALTH_DURING);
  const searches = result.rows.filter((row) => row !== idle && row !== during);
  const health =
    idle === undefined || during === undefined
      ? []
      : (["p50", "p99"] as const).map((at) =>
          figure(`${during.name} ${at}`, during[at], "ms", {
            reference: { name: `${idle.name} ${at}`, value: idle[at] },
          }),
        );
  return {
    figures: [
      ...searches.map((row) => figure(`${row.name.replace(/\s+/g, " ")} p50`, row.p50, "ms")),
      ...health,
    ],
    tables: [summaryTable(result.rows)],
    notes: [],
  };
}

if (import.meta.main) {
  const { printTable } = await import("./stats.ts");
  printTable((await benchSearch(Bun.argv.includes("--quick"))).rows);
}
