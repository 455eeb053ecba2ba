/**
 * `bun run bench [--quick]`: prints throughput, p50/p99 latency and peak RSS for the hot paths,
 * with reference figures measured in the same run. Nothing here asserts a timing.
 */
import { benchPageStore } from "./bench/page-store.ts";
import { peakRssMiB, printTable } from "./bench/stats.ts";

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
console.log(`peak RSS: ${peakRssMiB().toFixed(1)} MiB`);
