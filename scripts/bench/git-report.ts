/**
 * The report's figures for the git sections (git.ts): clone and push over HTTP against the same
 * git work on local paths, and the write gate and memory of large and refused pushes.
 */

import type { GitBenchResult, PushRulesBenchResult } from "./git.ts";
import { figure, type SectionFigures, summaryTable, table } from "./report.ts";
import type { Summary } from "./stats.ts";

/** p50 of `row` against p50 of `reference`, or nothing when a row is missing. */
function p50Against(row: Summary | undefined, reference: Summary | undefined) {
  if (row === undefined || reference === undefined) return [];
  return [
    figure(`${row.name} p50`, row.p50, "ms", {
      reference: { name: `${reference.name} p50`, value: reference.p50 },
    }),
  ];
}

/** The report's figures: clone and push over HTTP against the same git work on local paths. */
export function gitReport(result: GitBenchResult): SectionFigures {
  const [http, local, noLocal, push, pushFloor] = result.rows;
  const big = result.bigPush;
  const bigName = `${(big.bytes / 1e6).toFixed(0)} MB push`;
  return {
    figures: [
      ...p50Against(http, local),
      ...p50Against(http, noLocal),
      ...p50Against(push, pushFloor),
      figure(bigName, big.ms, "ms", {
        reference: { name: `${bigName} to a local bare copy`, value: big.floorMs },
      }),
      figure(`server peak RSS during the ${bigName}`, big.rssPeakMiB, "MiB", {
        reference: { name: "server RSS before it", value: big.rssBeforeMiB },
      }),
      figure("server VmHWM after it", big.hwmMiB, "MiB"),
      figure("pack size", result.packMiB, "MiB"),
    ],
    tables: [summaryTable(result.rows)],
    notes: [],
  };
}

/** The report's figures: the write gate's hold time for a large push, and refused pushes' memory. */
export function pushRulesReport(result: PushRulesBenchResult): SectionFigures {
  const pushName = `push of ${result.files} new pages`;
  return {
    figures: [
      figure(pushName, result.pushMs, "ms", {
        reference: { name: `${pushName} to a local bare copy`, value: result.floorMs },
      }),
      figure("write gate held", result.gateHeldMs, "ms"),
      figure("pack scan before the gate", result.scanMs, "ms"),
      ...result.refusals.flatMap((refusal) => {
        const name = `${(refusal.bytes / 1e6).toFixed(0)} MB page of zeros`;
        return [
          figure(`${name}: refused (1 = yes)`, refusal.refused ? 1 : 0, "", { target: "1" }),
          figure(`${name}: server + git peak RSS`, refusal.treePeakMiB, "MiB"),
        ];
      }),
    ],
    tables: [
      table(
        [
          "page of zeros",
          "pack KiB",
          "refused",
          "push ms",
          "gate held ms",
          "pack scan ms",
          "server + git peak RSS MiB",
          "largest child MiB",
          "server VmHWM MiB",
        ],
        result.refusals.map((refusal) => [
          `${(refusal.bytes / 1e6).toFixed(0)} MB`,
          refusal.wireBytes / 1024,
          refusal.refused ? "yes" : "NOT REFUSED",
          refusal.pushMs,
          refusal.gateHeldMs,
          refusal.scanMs,
          refusal.treePeakMiB,
          refusal.childPeakMiB,
          refusal.serverHwmMiB,
        ]),
      ),
    ],
    notes: [],
  };
}
