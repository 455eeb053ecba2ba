/**
 * REPORT.md from the checked report: a header (date, quick or full, machine, versions), then one
 * section per bench with its figures (and their references and ratios), tables and notes. Numbers
 * are rounded for reading; report.json keeps them whole.
 */

import type { Figure, Report, SectionReport, Table } from "./report.ts";

/** Three significant digits or so, without exponent notation and with thousands grouped. */
export function formatNumber(value: number | null): string {
  if (value === null) return "—";
  const magnitude = Math.abs(value);
  const digits =
    Number.isInteger(value) || magnitude >= 100
      ? 0
      : magnitude >= 10
        ? 1
        : magnitude >= 1
          ? 2
          : magnitude >= 0.01
            ? 3
            : 4;
  return value.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

/** Ratios keep two decimals below 10 so that 1.00× and 0.98× line up. */
function formatRatio(ratio: number): string {
  const digits = Math.abs(ratio) >= 100 ? 0 : Math.abs(ratio) >= 10 ? 1 : 2;
  return `${ratio.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits })}×`;
}

/** A table cell: no pipe or line break can end the cell or the row early. */
function cell(text: string): string {
  return text
    .replaceAll("\\", "\\\\")
    .replaceAll("|", "\\|")
    .replace(/\s*\n\s*/g, " ");
}

function markdownTable(columns: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const line = (cells: readonly string[]) => `| ${cells.map(cell).join(" | ")} |`;
  return [line(columns), line(columns.map(() => "---")), ...rows.map(line)];
}

function withUnit(value: number | null, unit: string): string {
  const text = formatNumber(value);
  return value === null || unit === "" ? text : `${text} ${unit}`;
}

function figureRows(figures: readonly Figure[]): string[] {
  const hasReference = figures.some((f) => f.reference !== undefined);
  const hasTarget = figures.some((f) => f.target !== undefined);
  const columns = [
    "figure",
    "value",
    ...(hasReference ? ["reference", "reference value", "ratio"] : []),
    ...(hasTarget ? ["target"] : []),
  ];
  const rows = figures.map((f) => [
    f.name,
    withUnit(f.value, f.unit),
    ...(hasReference
      ? f.reference === undefined
        ? ["", "", ""]
        : [
            f.reference.name,
            withUnit(f.reference.value, f.unit),
            f.ratio === undefined || f.ratio === null ? "—" : formatRatio(f.ratio),
          ]
      : []),
    ...(hasTarget ? [f.target ?? ""] : []),
  ]);
  return markdownTable(columns, rows);
}

function tableRows(data: Table): string[] {
  const rows = data.rows.map((row) =>
    row.map((value) => (typeof value === "string" ? value : formatNumber(value))),
  );
  return [
    ...(data.title === undefined ? [] : [`**${data.title}**`, ""]),
    ...markdownTable(data.columns, rows),
  ];
}

function anchor(section: SectionReport): string {
  return `section-${section.id}`;
}

function sectionLines(section: SectionReport): string[] {
  return [
    `<a id="${anchor(section)}"></a>`,
    "",
    `## ${section.title}`,
    "",
    `\`${section.id}\`, ${formatNumber(section.seconds)} s`,
    "",
    ...figureRows(section.figures),
    ...section.tables.flatMap((data) => ["", ...tableRows(data)]),
    ...(section.notes.length === 0 ? [] : ["", ...section.notes.map((note) => `- ${note}`)]),
    "",
  ];
}

const GIB = 1024 ** 3;

export function renderMarkdown(report: Report): string {
  const m = report.machine;
  const missing = (value: string | null) => value ?? "not found";
  const lines = [
    "# wikibot benchmark report",
    "",
    report.quick
      ? "**Quick run** (`bun run bench --quick`): a smoke run with few iterations; its figures are rough."
      : "**Full run** (`bun run bench`).",
    "",
    `Run on ${report.date}, ${formatNumber(report.totalSeconds)} s in all. Each ratio is the figure ÷ its reference, both measured in the same run on this machine. Peak RSS of the bench process: ${formatNumber(report.peakRssMiB)} MiB (servers spawned by a section report their own).`,
    "",
    ...markdownTable(
      ["machine", ""],
      [
        ["CPU", `${m.cores} cores, ${m.cpuModel}`],
        ["memory", `${formatNumber(m.memoryBytes / GIB)} GiB`],
        ["OS", `${m.os} (kernel ${m.kernel}, ${m.arch})`],
        ["Bun", m.bun],
        ["SQLite", m.sqlite],
        ["git", missing(m.git)],
        ["Python (Otterwiki venv)", missing(m.python)],
        ["Otterwiki", missing(m.otterwiki)],
      ],
    ),
    "",
    `Sections: ${report.sections.map((s) => `[${s.id}](#${anchor(s)})`).join(", ")}`,
    "",
    ...report.sections.flatMap(sectionLines),
  ];
  return `${lines.join("\n").trimEnd()}\n`;
}
