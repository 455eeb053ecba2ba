/**
 * The bench report: the schema of `report.json` (the types every section's figures take), small
 * builders for figures and tables, and the writer of `report.json` and `REPORT.md`. A ratio is
 * always figure ÷ reference, both measured in the same run on the same machine; what the
 * sections print to stdout is separate and unchanged.
 */

import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { Machine } from "./machine.ts";
import { renderMarkdown } from "./report-markdown.ts";
import type { Summary } from "./stats.ts";

/** A measurement that could not be taken is null (JSON has no NaN or Infinity). */
const Measured = z.number().nullable();

export const Figure = z.object({
  name: z.string().min(1),
  value: Measured,
  unit: z.string(),
  /** The same quantity measured in the same run on the path this one is compared with. */
  reference: z.object({ name: z.string().min(1), value: Measured }).optional(),
  /** value ÷ reference.value. */
  ratio: Measured.optional(),
  /** The goal an issue set for this figure, as text (e.g. "≤ 1.15"). */
  target: z.string().optional(),
});
export type Figure = z.infer<typeof Figure>;

export const Table = z.object({
  title: z.string().optional(),
  columns: z.array(z.string()).min(1),
  rows: z.array(z.array(z.union([z.string(), Measured]))),
});
export type Table = z.infer<typeof Table>;

export const SectionFigures = z.object({
  figures: z.array(Figure).min(1),
  tables: z.array(Table),
  notes: z.array(z.string()),
});
export type SectionFigures = z.infer<typeof SectionFigures>;

export const SectionReport = SectionFigures.extend({
  id: z.string().min(1),
  title: z.string().min(1),
  seconds: z.number(),
});
export type SectionReport = z.infer<typeof SectionReport>;

export const Report = z.object({
  version: z.literal(1),
  date: z.iso.datetime(),
  quick: z.boolean(),
  /** The sections asked for, in run order (all of them unless `--only`). */
  requested: z.array(z.string()),
  machine: Machine,
  sections: z.array(SectionReport),
  totalSeconds: z.number(),
  /** Peak RSS of the bench process itself (server child processes report their own). */
  peakRssMiB: z.number(),
});
export type Report = z.infer<typeof Report>;

const finite = (value: number): number | null => (Number.isFinite(value) ? value : null);

/** A figure, with its ratio to `reference` when there is one. */
export function figure(
  name: string,
  value: number,
  unit: string,
  options: { reference?: { name: string; value: number }; target?: string } = {},
): Figure {
  const { reference, target } = options;
  return {
    name,
    value: finite(value),
    unit,
    ...(reference === undefined
      ? {}
      : {
          reference: { name: reference.name, value: finite(reference.value) },
          ratio: finite(value / reference.value),
        }),
    ...(target === undefined ? {} : { target }),
  };
}

/** A table whose number cells are kept as numbers (null where not finite). */
export function table(
  columns: string[],
  rows: readonly (readonly (string | number)[])[],
  title?: string,
): Table {
  return {
    ...(title === undefined ? {} : { title }),
    columns,
    rows: rows.map((row) => row.map((cell) => (typeof cell === "number" ? finite(cell) : cell))),
  };
}

/** The table printTable prints, as data. */
export function summaryTable(rows: readonly Summary[], title?: string): Table {
  return table(
    ["operation", "n", "ops/s", "p50 ms", "p99 ms"],
    rows.map((row) => [row.name, row.count, row.perSecond, row.p50, row.p99]),
    title,
  );
}

/** Writes `report.json` and `REPORT.md` into `dir` (made if missing); returns their paths. */
export function writeReport(dir: string, report: Report): { json: string; markdown: string } {
  const checked = Report.parse(report);
  mkdirSync(dir, { recursive: true });
  const json = join(dir, "report.json");
  const markdown = join(dir, "REPORT.md");
  writeFileSync(json, `${JSON.stringify(checked, null, 2)}\n`);
  writeFileSync(markdown, renderMarkdown(checked));
  return { json, markdown };
}
