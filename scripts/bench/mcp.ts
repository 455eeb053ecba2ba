/**
 * MCP throughput on a wiki of 2,000 pages: read_note, write_note and search through the real
 * server (`bun src/main.ts` as a child process, so its RSS is its own) and the SDK's Client over
 * Streamable HTTP, at several concurrencies; plus the bearer gate's cost in process.
 */

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { authenticateWikiRequest } from "../../src/auth/bearer.ts";
import { openStores } from "../../src/stores.ts";
import { type ServerProcess, spawnServer } from "../../test/support/server-process.ts";
import { withBenchFixture } from "./fixtures.ts";
import { figure, type SectionFigures, summaryTable } from "./report.ts";
import { percentile, type Summary } from "./stats.ts";

const PAGES = 2000;
const WORDS = ["otter", "kelp", "urchin", "river", "tool", "rock", "den", "pup", "fish", "crab"];

function pageText(index: number): string {
  const word = (offset: number) => WORDS[(index + offset) % WORDS.length] ?? "otter";
  const paragraph = `Notes on the ${word(0)} and the ${word(3)}: field observations, counts and sources.\n`;
  return `# Page ${index}\n\n## Observations\n\n${paragraph.repeat(12)}\n## Sources\n\n- Survey ${index}\n`;
}

/** A wiki of PAGES pages in one commit, and a write token for its owner. */
function prepareWiki(dataDir: string): Promise<{ token: string }> {
  return withBenchFixture(dataDir, async (fixture) => {
    const files = Object.fromEntries(
      Array.from({ length: PAGES }, (_, index) => [`Page ${index}.md`, pageText(index)]),
    );
    // Premium: the free plan holds 1,000 pages (DEFAULT_PLAN_LIMITS), and write_note adds more.
    const wiki = await fixture.wiki("bench", { isPublic: false, tier: "premium", files });
    return { token: fixture.token(wiki, "write") };
  });
}

/** The gate on its own: Origin check, token verification, role lookup (in process). */
function benchGate(dataDir: string, token: string, count: number) {
  const stores = openStores(dataDir);
  const publicUrl = new URL("http://localhost:8080");
  const wiki = stores.wikis.findBySlug("bench");
  if (wiki === null) throw new Error("bench wiki missing");
  const requests = Array.from(
    { length: 1000 },
    () =>
      new Request("http://bench.localhost:8080/mcp", {
        headers: { authorization: `Bearer ${token}` },
      }),
  );
  const latencies: number[] = [];
  for (let index = 0; index < count; index++) {
    const request =
      requests[index % requests.length] ?? new Request("http://bench.localhost:8080/mcp");
    const before = performance.now();
    const caller = authenticateWikiRequest({ ...stores, publicUrl }, request, wiki);
    latencies.push(performance.now() - before);
    if (caller instanceof Response)
      throw new Error(`gate refused the bench token: ${caller.status}`);
  }
  stores.db.close();
  latencies.sort((a, b) => a - b);
  return {
    p50Micros: percentile(latencies, 0.5) * 1000,
    p99Micros: percentile(latencies, 0.99) * 1000,
  };
}

/** Runs `total` calls spread over `clients`, each client one call at a time. */
async function concurrent(
  name: string,
  clients: readonly Client[],
  total: number,
  call: (client: Client, worker: number, index: number) => Promise<unknown>,
): Promise<Summary> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    clients.map(async (client, worker) => {
      while (next < total) {
        const index = next++;
        const before = performance.now();
        const result = await call(client, worker, index);
        latencies.push(performance.now() - before);
        if (
          typeof result === "object" &&
          result !== null &&
          "isError" in result &&
          result.isError
        ) {
          throw new Error(`${name} failed: ${JSON.stringify(result).slice(0, 300)}`);
        }
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    name,
    count: total,
    perSecond: total / elapsed,
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
  };
}

export interface McpBenchResult {
  rows: Summary[];
  gate: { p50Micros: number; p99Micros: number };
  serverPeakRssMiB: number;
}

export async function benchMcp(quick: boolean): Promise<McpBenchResult> {
  const dataDir = mkdtempSync(join(tmpdir(), "wikibot-bench-mcp-"));
  let server: ServerProcess["child"] | null = null;
  try {
    const { token } = await prepareWiki(dataDir);
    const gate = benchGate(dataDir, token, quick ? 2_000 : 50_000);
    const spawned = await spawnServer({ dataDir, env: { LOG_LEVEL: "error" } });
    server = spawned.child;
    if (!spawned.healthy) throw new Error("the server did not answer /health");
    const port = spawned.port;
    const url = new URL(`http://bench.localhost:${port}/mcp`);
    const connect = async (worker: number) => {
      const client = new Client({ name: `bench-${worker}`, version: "1" });
      await client.connect(
        new StreamableHTTPClientTransport(url, {
          requestInit: { headers: { authorization: `Bearer ${token}` } },
        }),
      );
      return client;
    };
    // Warm the server (JIT, page cache, statement cache) before measuring.
    const warm = await connect(0);
    for (let index = 0; index < 50; index++) {
      await warm.callTool({ name: "read_note", arguments: { path: `Page ${index}` } });
      await warm.callTool({ name: "search", arguments: { query: "otter kelp" } });
    }
    await warm.close();

    const rows: Summary[] = [];
    for (const concurrency of [1, 8, 32]) {
      const clients = await Promise.all(
        Array.from({ length: concurrency }, (_, worker) => connect(worker)),
      );
      const reads = quick ? 100 : 1000;
      rows.push(
        await concurrent(`read_note  c=${concurrency}`, clients, reads, (client, _worker, index) =>
          client.callTool({
            name: "read_note",
            arguments: { path: `Page ${(index * 7919) % PAGES}` },
          }),
        ),
      );
      rows.push(
        await concurrent(`search     c=${concurrency}`, clients, reads, (client, _worker, index) =>
          client.callTool({
            name: "search",
            arguments: {
              query: `${WORDS[index % WORDS.length]} ${WORDS[(index + 3) % WORDS.length]}`,
              limit: 10,
            },
          }),
        ),
      );
      rows.push(
        await concurrent(
          `write_note c=${concurrency}`,
          clients,
          quick ? 30 : 200,
          (client, worker, index) =>
            client.callTool({
              name: "write_note",
              arguments: {
                path: `Bench/Writer ${worker}/Page ${index % 10}`,
                content: `${pageText(index)}\nwrite ${index}\n`,
                overwrite: true,
              },
            }),
        ),
      );
      await Promise.all(clients.map((client) => client.close()));
    }
    const status = await Bun.file(`/proc/${server.pid}/status`)
      .text()
      .catch(() => "");
    const peakKiB = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
    return { rows, gate, serverPeakRssMiB: peakKiB / 1024 };
  } finally {
    if (server !== null) {
      server.kill("SIGTERM");
      await server.exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** The report's figures: each tool call's throughput, the bearer gate and the server's memory. */
export function mcpReport(result: McpBenchResult): SectionFigures {
  return {
    figures: [
      ...result.rows.map((row) => figure(row.name.replace(/\s+/g, " "), row.perSecond, "ops/s")),
      figure("bearer gate p50 (Origin + token + role, in process)", result.gate.p50Micros, "µs"),
      figure("bearer gate p99", result.gate.p99Micros, "µs"),
      figure("server peak RSS (VmHWM)", result.serverPeakRssMiB, "MiB"),
    ],
    tables: [summaryTable(result.rows)],
    notes: [],
  };
}
