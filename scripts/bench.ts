/**
 * `bun run bench [--quick] [--only a,b] [--out DIR]`: prints throughput, p50/p99 latency and peak
 * RSS for the hot paths, with reference figures measured in the same run, and writes the same
 * figures with the machine they ran on to REPORT.md and report.json (scripts/bench/report.ts).
 * Only a full run of every section writes to bench/ itself; nothing here asserts a timing.
 */

import { isAbsolute, join, relative, resolve } from "node:path";
import { agentTasksReport, benchAgentTasks, printAgentTasks } from "./bench/agent-tasks.ts";
import { benchEmbedding, embeddingReport, printEmbeddingFigures } from "./bench/embedding.ts";
import { benchGit, benchPushRules, describePushRules } from "./bench/git.ts";
import {
  benchGitReads,
  describeGitReads,
  gitReadsReport,
  gitReadsRows,
} from "./bench/git-reads.ts";
import { gitReport, pushRulesReport } from "./bench/git-report.ts";
import { benchIndexing, printIndexingFigures } from "./bench/indexing.ts";
import { describeMachine } from "./bench/machine.ts";
import { benchMcp, mcpReport } from "./bench/mcp.ts";
import { benchOAuthFlow, oauthReport } from "./bench/oauth.ts";
import { benchPageStore, pageStoreReport } from "./bench/page-store.ts";
import { type SectionFigures, type SectionReport, writeReport } from "./bench/report.ts";
import { benchRetrieval, printRetrievalFigures } from "./bench/retrieval.ts";
import { benchSearch, searchReport } from "./bench/search.ts";
import { indexingReport, retrievalReport, vectorIndexReport } from "./bench/semantic-report.ts";
import { benchSessionCheck, benchSignIn, signInReport } from "./bench/sign-in.ts";
import { peakRssMiB, percentile, printTable } from "./bench/stats.ts";
import { benchBearerChecks, benchTokenVerification, tokensReport } from "./bench/tokens.ts";
import { benchVectorIndex, printVectorIndexFigures } from "./bench/vector-index.ts";
import { benchWiki, memoryPerWiki, wikiReport } from "./bench/wiki.ts";

const PROJECT_DIR = resolve(import.meta.dir, "..");

const SECTIONS = [
  "store",
  "git-reads",
  "tokens",
  "mcp",
  "agent-tasks",
  "search",
  "git",
  "push-rules",
  "wiki",
  "sign-in",
  "oauth",
  "embedding",
  "retrieval",
  "vector-index",
  "indexing",
] as const;
type Section = (typeof SECTIONS)[number];

const argv = Bun.argv.slice(2);
const args = new Set(argv);
if (args.has("--help") || args.has("-h")) {
  console.log(
    `usage: bun run bench [--quick] [--only SECTION[,SECTION…]] [--out DIR]

  --quick   fewer iterations (a smoke run)
  --only    run only these sections: ${SECTIONS.join(", ")}
  --out     write REPORT.md and report.json to DIR (default: bench/ for a full run of every
            section, bench/quick/ with --quick, bench/partial/ with --only)`,
  );
  process.exit(0);
}
const quick = args.has("--quick");
const onlyIndex = argv.indexOf("--only");
const onlyValue = onlyIndex === -1 ? null : (argv[onlyIndex + 1] ?? "");
const isSection = (name: string): name is Section => SECTIONS.some((section) => section === name);
const only = onlyValue === null ? null : onlyValue.split(",").filter((name) => name !== "");
const unknown = only?.filter((name) => !isSection(name)) ?? [];
if (only?.length === 0 || unknown.length > 0) {
  console.error(
    `bench: unknown section ${JSON.stringify(unknown.join(",") || onlyValue)}; choose from ${SECTIONS.join(", ")}`,
  );
  process.exit(2);
}
const runs = (section: Section) => only === null || only.includes(section);
const outIndex = argv.indexOf("--out");
const outValue = outIndex === -1 ? null : (argv[outIndex + 1] ?? "");
if (outValue === "" || outValue?.startsWith("--")) {
  console.error("bench: --out needs a directory");
  process.exit(2);
}
const outDir =
  outValue === null
    ? join(PROJECT_DIR, "bench", quick ? "quick" : only === null ? "" : "partial")
    : resolve(outValue);

const startedAt = new Date();
const reported: SectionReport[] = [];

/** Runs one section if asked for: prints its heading, times it and keeps its report figures. */
async function section(
  id: Section,
  heading: string,
  run: () => Promise<SectionFigures> | SectionFigures,
  title = heading,
): Promise<void> {
  if (!runs(id)) return;
  console.log(`\n## ${heading}`);
  const started = performance.now();
  const figures = await run();
  reported.push({ id, title, seconds: (performance.now() - started) / 1000, ...figures });
}

console.log(
  `wikibot bench — ${startedAt.toISOString()} — bun ${Bun.version}, ${navigator.hardwareConcurrency} cores`,
);
await section("store", "Page store (one wiki, 200 pages of ~1.8 kB, sequential)", async () => {
  const store = await benchPageStore(quick ? 50 : 400, quick ? 200 : 3000);
  printTable(store.rows);
  console.log(
    `\nstore write cost relative to plain git add+commit: ${store.ratio.toFixed(2)}× (reference ops/s ÷ store ops/s)`,
  );
  return pageStoreReport(store);
});

await section(
  "git-reads",
  "Git reads in process (isomorphic-git) vs the git CLI: read_note at a past revision and diff, same wiki, interleaved",
  async () => {
    const reads = await benchGitReads(quick);
    printTable(gitReadsRows(reads));
    for (const line of describeGitReads(reads)) console.log(line);
    return gitReadsReport(reads);
  },
);

await section(
  "tokens",
  "Wiki token verification (in process, 1,000 tokens)",
  () => {
    const verification = benchTokenVerification(quick ? 5_000 : 100_000);
    console.log(
      `${verification.perSecond.toFixed(0)} verifications/s, p50 ${verification.p50Micros.toFixed(1)} µs, p99 ${verification.p99Micros.toFixed(1)} µs`,
    );
    console.log(
      "\n## Bearer check (in process: token, user and role; wiki token vs OAuth access token, alternating)",
    );
    const checks = benchBearerChecks(quick ? 10_000 : 200_000);
    const line = (figures: typeof checks.wikiToken) =>
      `${figures.perSecond.toFixed(0)}/s, p50 ${figures.p50Micros.toFixed(1)} µs, p99 ${figures.p99Micros.toFixed(1)} µs`;
    console.log(`wiki token:         ${line(checks.wikiToken)}`);
    console.log(`OAuth access token: ${line(checks.oauthToken)}`);
    console.log(
      `OAuth ÷ wiki token: p50 ${(checks.oauthToken.p50Micros / checks.wikiToken.p50Micros).toFixed(2)}×, p99 ${(checks.oauthToken.p99Micros / checks.wikiToken.p99Micros).toFixed(2)}×`,
    );
    return tokensReport(verification, checks);
  },
  "Wiki token verification and the bearer check (in process; wiki token vs OAuth access token, alternating)",
);

await section(
  "mcp",
  "MCP over Streamable HTTP (server child process, 2,000-page wiki, SDK clients; c = concurrent clients)",
  async () => {
    const mcp = await benchMcp(quick);
    printTable(mcp.rows);
    console.log(
      `bearer gate (Origin + token + role, in process): p50 ${mcp.gate.p50Micros.toFixed(1)} µs, p99 ${mcp.gate.p99Micros.toFixed(1)} µs`,
    );
    console.log(`server peak RSS (VmHWM): ${mcp.serverPeakRssMiB.toFixed(1)} MiB`);
    return mcpReport(mcp);
  },
);

await section(
  "agent-tasks",
  "A scripted agent's tasks over MCP (60-page corpus): tool calls and result bytes with the tools before and after issue 13",
  async () => {
    const tasks = await benchAgentTasks();
    printAgentTasks(tasks);
    return agentTasksReport(tasks);
  },
);

await section(
  "search",
  "Full-text search over REST (server child process; 2,000-page wiki, and a wiki with a page at the 1 MB limit)",
  async () => {
    const search = await benchSearch(quick);
    printTable(search.rows);
    return searchReport(search);
  },
);

await section(
  "git",
  "Git smart HTTP (server child process, 2,000-page 5,000-commit wiki, real git client)",
  async () => {
    const gitBench = await benchGit(quick);
    printTable(gitBench.rows);
    console.log(
      `clone over HTTP ÷ clone from the local path: ${gitBench.cloneRatio.toFixed(2)}× (hardlinks), ${gitBench.cloneRatioNoLocal.toFixed(2)}× (--no-local, which runs pack-objects as the server does); pack ${gitBench.packMiB.toFixed(1)} MiB`,
    );
    console.log(
      `push of 100 changed pages over HTTP ÷ the same push to a local bare copy: ${gitBench.pushRatio.toFixed(2)}×`,
    );
    const big = gitBench.bigPush;
    console.log(
      `${(big.bytes / 1e6).toFixed(0)} MB push: ${big.ms.toFixed(0)} ms (local bare copy: ${big.floorMs.toFixed(0)} ms); server RSS ${big.rssBeforeMiB.toFixed(1)} MiB before, peak ${big.rssPeakMiB.toFixed(1)} MiB during (VmHWM ${big.hwmMiB.toFixed(1)} MiB)`,
    );
    return gitReport(gitBench);
  },
);

await section(
  "push-rules",
  "git push page rules (server child process; gate hold time of a large push, refused oversize pushes)",
  async () => {
    const pushRules = await benchPushRules({ files: quick ? 2_000 : 10_000, gigabyte: !quick });
    for (const line of describePushRules(pushRules)) console.log(line);
    return pushRulesReport(pushRules);
  },
);

await section(
  "wiki",
  "Browser wiki (server child process, each launcher: cold first views, Otterwiki memory with 1/4/16 live wikis, page view through the proxy vs straight to its socket, interleaved)",
  async () => {
    const wiki = await benchWiki(quick);
    const ms = (values: number[]) => values.map((value) => value.toFixed(0)).join(", ");
    for (const entry of wiki.launchers) {
      console.log(`\n### WIKI_LAUNCHER=${entry.launcher}`);
      printTable(entry.rows);
      console.log(
        `proxy ÷ straight: p50 ${entry.ratioP50.toFixed(2)}×, p99 ${entry.ratioP99.toFixed(2)}× (anonymous view, target ≤ 1.15)`,
      );
      const sorted = [...entry.coldFirstViewMs].sort((a, b) => a - b);
      console.log(
        `first view of a cold wiki through the proxy (${sorted.length} wikis): p50 ${percentile(sorted, 0.5).toFixed(0)} ms, p99 ${percentile(sorted, 0.99).toFixed(0)} ms (${ms(entry.coldFirstViewMs)})`,
      );
      for (const row of memoryPerWiki(entry.memory)) {
        console.log(
          `${row.live} live: Otterwiki PSS ${row.totalPssMiB.toFixed(1)} MiB${row.perAdditionalMiB === null ? "" : `, ${row.perAdditionalMiB.toFixed(1)} MiB per additional wiki`}`,
        );
      }
      console.log(`server RSS ${entry.serverRssMiB.toFixed(1)} MiB`);
    }
    return wikiReport(wiki);
  },
);

await section(
  "sign-in",
  "Sign-in and the app (session check in process; the app from a server child process)",
  async () => {
    const check = benchSessionCheck(quick ? 20_000 : 200_000);
    const micro = (figures: { perSecond: number; p50Micros: number; p99Micros: number }) =>
      `${figures.perSecond.toFixed(0)}/s, p50 ${figures.p50Micros.toFixed(1)} µs, p99 ${figures.p99Micros.toFixed(1)} µs`;
    console.log(
      `session check per /api request (cookie → session → user): ${micro(check.session)}`,
    );
    console.log(`wiki token check, same run (reference): ${micro(check.token)}`);
    console.log(
      `session check ÷ token check: p50 ${(check.session.p50Micros / check.token.p50Micros).toFixed(2)}×`,
    );
    const signIn = await benchSignIn(quick ? 2 : 8);
    const load = signIn.firstLoad;
    for (const file of load.files)
      console.log(`first load ${file.path}: ${file.bytes} B (${file.gzipBytes} B gzip)`);
    console.log(
      `app first load: ${load.totalBytes} B in ${load.files.length} files (${load.totalGzipBytes} B gzip)`,
    );
    if (signIn.skipped !== null) {
      console.log(`callback → app: skipped: ${signIn.skipped}`);
    } else {
      const sorted = (values: number[]) => [...values].sort((a, b) => a - b);
      const toApp = sorted(signIn.callbackToAppMs);
      const server = sorted(signIn.callbackServerMs);
      console.log(
        `callback → app showing your wikis (Chromium, ${toApp.length} sign-ins of a known DID): p50 ${percentile(toApp, 0.5).toFixed(0)} ms, max ${(toApp.at(-1) ?? 0).toFixed(0)} ms`,
      );
      console.log(
        `of which our callback answer (identity checks, profile read, session): p50 ${percentile(server, 0.5).toFixed(0)} ms, max ${(server.at(-1) ?? 0).toFixed(0)} ms`,
      );
    }
    return signInReport(check, signIn);
  },
);

await section(
  "oauth",
  "OAuth authorization-code flow without the human step (register → authorize → Allow → token, over HTTP)",
  async () => {
    const flow = await benchOAuthFlow(quick);
    printTable([flow]);
    return oauthReport(flow);
  },
);

await section(
  "embedding",
  "Embedding model (fp32 vs int8, same texts, one child process each)",
  async () => {
    const embedding = await benchEmbedding({ quick });
    printEmbeddingFigures(embedding);
    return embeddingReport(embedding);
  },
);

await section(
  "retrieval",
  "Retrieval quality (test/fixtures/retrieval; in process: PageIndex FTS5, the worker's chunker, exact cosine, RRF k=60)",
  async () => {
    const retrieval = await benchRetrieval({ quick });
    printRetrievalFigures(retrieval);
    return retrievalReport(retrieval);
  },
);

await section(
  "vector-index",
  "Vector index (USearch f32 HNSW, in process; fp32 model for the query embedding)",
  async () => {
    const vectorIndex = await benchVectorIndex({ quick });
    printVectorIndexFigures(vectorIndex);
    return vectorIndexReport(vectorIndex);
  },
);

await section(
  "indexing",
  "Search indexing in the server (bun src/main.ts and its worker, from a cold start; fp32)",
  async () => {
    const indexing = await benchIndexing({ quick });
    printIndexingFigures(indexing);
    return indexingReport(indexing);
  },
);

// A section named in SECTIONS (and so in --help) with no section() call above would be a gap.
const requested = SECTIONS.filter(runs);
const unreported = requested.filter((id) => !reported.some((entry) => entry.id === id));
if (unreported.length > 0) throw new Error(`bench: no section ran for ${unreported.join(", ")}`);

const peak = peakRssMiB();
console.log(`\npeak RSS: ${peak.toFixed(1)} MiB`);
const written = writeReport(outDir, {
  version: 1,
  date: startedAt.toISOString(),
  quick,
  requested,
  machine: describeMachine(PROJECT_DIR),
  sections: reported,
  totalSeconds: (Date.now() - startedAt.getTime()) / 1000,
  peakRssMiB: peak,
});
const shown = (path: string) => {
  const fromHere = relative(process.cwd(), path);
  return fromHere.startsWith("..") || isAbsolute(fromHere) ? path : fromHere;
};
console.log(`report: ${shown(written.markdown)}, ${shown(written.json)}`);
