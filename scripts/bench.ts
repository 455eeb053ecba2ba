/**
 * `bun run bench [--quick]`: prints throughput, p50/p99 latency and peak RSS for the hot paths,
 * with reference figures measured in the same run. Nothing here asserts a timing.
 */
import { benchGit } from "./bench/git.ts";
import { benchMcp } from "./bench/mcp.ts";
import { benchPageStore } from "./bench/page-store.ts";
import { peakRssMiB, printTable } from "./bench/stats.ts";
import { benchTokenVerification } from "./bench/tokens.ts";
import { benchWiki } from "./bench/wiki.ts";

const args = new Set(Bun.argv.slice(2));
if (args.has("--help") || args.has("-h")) {
  console.log("usage: bun run bench [--quick]\n\n  --quick   fewer iterations (a smoke run)");
  process.exit(0);
}
const quick = args.has("--quick");

console.log(
  `wikibot bench — ${new Date().toISOString()} — bun ${Bun.version}, ${navigator.hardwareConcurrency} cores\n`,
);
console.log("## Page store (one wiki, 200 pages of ~1.8 kB, sequential)");
const store = await benchPageStore(quick ? 50 : 400, quick ? 200 : 3000);
printTable(store.rows);
console.log(
  `\nstore write cost relative to plain git add+commit: ${store.ratio.toFixed(2)}× (reference ops/s ÷ store ops/s)`,
);

console.log("\n## Wiki token verification (in process, 1,000 tokens)");
const verification = benchTokenVerification(quick ? 5_000 : 100_000);
console.log(
  `${verification.perSecond.toFixed(0)} verifications/s, p50 ${verification.p50Micros.toFixed(1)} µs, p99 ${verification.p99Micros.toFixed(1)} µs`,
);

console.log(
  "\n## MCP over Streamable HTTP (server child process, 2,000-page wiki, SDK clients; c = concurrent clients)",
);
const mcp = await benchMcp(quick);
printTable(mcp.rows);
console.log(
  `bearer gate (Origin + token + role, in process): p50 ${mcp.gate.p50Micros.toFixed(1)} µs, p99 ${mcp.gate.p99Micros.toFixed(1)} µs`,
);
console.log(`server peak RSS (VmHWM): ${mcp.serverPeakRssMiB.toFixed(1)} MiB`);

console.log(
  "\n## Git smart HTTP (server child process, 2,000-page 5,000-commit wiki, real git client)",
);
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

console.log(
  "\n## Browser wiki (server child process; Otterwiki page view through the proxy vs straight to its socket, interleaved)",
);
const wiki = await benchWiki(quick);
printTable(wiki.rows);
console.log(
  `proxy ÷ straight: p50 ${wiki.ratioP50.toFixed(2)}×, p99 ${wiki.ratioP99.toFixed(2)}× (anonymous view, target ≤ 1.15)`,
);
const ms = (values: number[]) => values.map((value) => value.toFixed(0)).join(", ");
console.log(`cold start of a wiki process (spawn → /-/healthz 200): ${ms(wiki.coldStartMs)} ms`);
console.log(
  `first view of a wiki through the proxy (spawn + first render): ${ms(wiki.coldFirstViewMs)} ms`,
);
for (const entry of wiki.perProcess) {
  console.log(
    `live Otterwiki ${entry.wiki} (gunicorn master + worker): RSS ${entry.rssMiB.toFixed(1)} MiB, PSS ${entry.pssMiB.toFixed(1)} MiB`,
  );
}
console.log(
  `4 live wikis: server ${wiki.serverRssMiB.toFixed(1)} MiB + Otterwikis = RSS ${wiki.totalRssMiB.toFixed(1)} MiB in total (PSS ${wiki.totalPssMiB.toFixed(1)} MiB)`,
);

console.log(`\npeak RSS: ${peakRssMiB().toFixed(1)} MiB`);
