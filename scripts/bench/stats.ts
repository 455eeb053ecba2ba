/** Timing helpers for `bun run bench`: percentiles, throughput and peak RSS, printed as a table. */

export interface Summary {
  name: string;
  count: number;
  perSecond: number;
  p50: number;
  p99: number;
}

export function percentile(sortedMs: readonly number[], fraction: number): number {
  if (sortedMs.length === 0) return 0;
  const index = Math.min(sortedMs.length - 1, Math.ceil(fraction * sortedMs.length) - 1);
  return sortedMs[Math.max(0, index)] ?? 0;
}

/**
 * The summary of `latencies` (ms): throughput over `elapsedMs`, or over their sum when the
 * calls ran one after another.
 */
export function summarize(
  name: string,
  latencies: readonly number[],
  elapsedMs = latencies.reduce((sum, value) => sum + value, 0),
): Summary {
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    name,
    count: latencies.length,
    perSecond: latencies.length / (elapsedMs / 1000),
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
  };
}

/** Runs `operation` `count` times one after another and summarises the latencies. */
export async function measure(
  name: string,
  count: number,
  operation: (index: number) => Promise<unknown>,
): Promise<Summary> {
  const latencies: number[] = [];
  const started = performance.now();
  for (let index = 0; index < count; index++) {
    const before = performance.now();
    await operation(index);
    latencies.push(performance.now() - before);
  }
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    name,
    count,
    perSecond: count / elapsed,
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
  };
}

let peakRss = 0;
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage.rss());
}, 20);
sampler.unref();

export function peakRssMiB(): number {
  peakRss = Math.max(peakRss, process.memoryUsage.rss());
  return peakRss / (1024 * 1024);
}

export function printTable(rows: readonly Summary[]): void {
  console.log(
    `${"operation".padEnd(44)} ${"n".padStart(6)} ${"ops/s".padStart(9)} ${"p50 ms".padStart(8)} ${"p99 ms".padStart(8)}`,
  );
  for (const row of rows) {
    console.log(
      `${row.name.padEnd(44)} ${String(row.count).padStart(6)} ${row.perSecond.toFixed(1).padStart(9)} ${row.p50.toFixed(2).padStart(8)} ${row.p99.toFixed(2).padStart(8)}`,
    );
  }
}
