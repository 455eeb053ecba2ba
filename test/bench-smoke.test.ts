/**
 * The bench never rots (issue 12): `bun scripts/bench.ts --quick` over the sections that finish
 * in about two minutes on 2 cores, into a temp dir; it must exit 0 and write a REPORT.md and a
 * report.json that the report schema accepts, with every section asked for and a number for
 * every figure. Left to full runs: git (its 5,000-commit fixture alone takes over a minute), the
 * browser wiki, sign-in (local PDS + Chromium) and the embedding model's children. No figure's
 * size is asserted.
 */

import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Report } from "../scripts/bench/report.ts";
import { type CommandResult, captureCommand } from "../scripts/setup/command.ts";
import { PROJECT_DIR } from "./support/server.ts";

const SMOKE_SECTIONS = [
  "store",
  "tokens",
  "mcp",
  "search",
  "push-rules",
  "oauth",
  "retrieval",
  "vector-index",
  "indexing",
];

// The quick run of these sections took 110–145 s on 2 cores; a loaded machine is slower.
setDefaultTimeout(600_000);

type Run = CommandResult;

function bench(args: string[]): Promise<Run> {
  return captureCommand([process.execPath, join(PROJECT_DIR, "scripts", "bench.ts"), ...args], {
    cwd: PROJECT_DIR,
  });
}

/** The section names `--help` lists after "--only". */
function helpSections(help: string): string[] {
  const listed = /--only\s+run only these sections: ([^\n]+)/.exec(help)?.[1] ?? "";
  return listed.split(",").map((name) => name.trim());
}

const out = mkdtempSync(join(tmpdir(), "wikibot-bench-smoke-"));
let run: Run;

beforeAll(async () => {
  run = await bench(["--quick", "--only", SMOKE_SECTIONS.join(","), "--out", out]);
});

afterAll(() => {
  rmSync(out, { recursive: true, force: true });
});

describe("bun run bench --quick (smoke run)", () => {
  test("exits 0 and writes REPORT.md and report.json to --out", () => {
    if (run.exitCode !== 0) console.error(run.stderr);
    expect(run.exitCode).toBe(0);
    expect(readdirSync(out).sort()).toEqual(["REPORT.md", "report.json"]);
    expect(run.stdout).toContain(`report: ${join(out, "REPORT.md")}`);
  });

  test("report.json passes the schema with every section asked for, each with numbers", () => {
    const report = Report.parse(JSON.parse(readFileSync(join(out, "report.json"), "utf8")));
    expect(report.quick).toBe(true);
    expect(report.requested).toEqual(SMOKE_SECTIONS);
    expect(report.sections.map((section) => section.id)).toEqual(SMOKE_SECTIONS);
    for (const section of report.sections) {
      expect(section.figures.length).toBeGreaterThan(0);
      const unmeasured = section.figures.filter((figure) => figure.value === null);
      expect({ section: section.id, unmeasured }).toEqual({ section: section.id, unmeasured: [] });
      for (const figure of section.figures) {
        if (figure.reference === undefined) continue;
        expect(typeof figure.reference.value).toBe("number");
        expect(figure.ratio).toBeDefined();
      }
      for (const data of section.tables) {
        for (const row of data.rows) expect(row).toHaveLength(data.columns.length);
      }
    }
    // Figures compared with a reference measured in the same run: the store against git.
    const store = report.sections.find((section) => section.id === "store");
    expect(store?.figures.some((figure) => figure.reference !== undefined)).toBe(true);
  });

  test("report.json names the machine and the versions it ran with", () => {
    const report = Report.parse(JSON.parse(readFileSync(join(out, "report.json"), "utf8")));
    expect(report.machine.cores).toBe(navigator.hardwareConcurrency);
    expect(report.machine.bun).toBe(Bun.version);
    expect(report.machine.memoryBytes).toBeGreaterThan(0);
    expect(report.machine.git).toMatch(/^\d+\.\d+/);
    expect(report.machine.otterwiki).toMatch(/^\d+\.\d+/);
    expect(report.machine.python).toMatch(/^3\.\d+/);
    expect(Date.parse(report.date)).not.toBeNaN();
  });

  test("REPORT.md has the header, the machine and one heading per section", () => {
    const markdown = readFileSync(join(out, "REPORT.md"), "utf8");
    const report = Report.parse(JSON.parse(readFileSync(join(out, "report.json"), "utf8")));
    expect(markdown).toStartWith("# wikibot benchmark report\n");
    expect(markdown).toContain("**Quick run**");
    expect(markdown).toContain(`| CPU | ${report.machine.cores} cores,`);
    expect(markdown).toContain(`| Bun | ${Bun.version} |`);
    const headings = [...markdown.matchAll(/^## (.+)$/gm)].map((match) => match[1]);
    expect(headings).toEqual(report.sections.map((section) => section.title));
    // Every figure of the store section is a row of its figures table.
    for (const figure of report.sections[0]?.figures ?? []) {
      expect(markdown).toContain(`| ${figure.name} |`);
    }
  });
});

describe("bench arguments", () => {
  test("--help lists the sections and --only accepts exactly those", async () => {
    const help = await bench(["--help"]);
    expect(help.exitCode).toBe(0);
    const listed = helpSections(help.stdout);
    expect(listed).toEqual(expect.arrayContaining(SMOKE_SECTIONS));
    const unknown = await bench(["--only", "store,nosuch", "--out", join(out, "unknown")]);
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toContain('unknown section "nosuch"');
    expect(unknown.stderr).toContain(`choose from ${listed.join(", ")}`);
    expect(existsSync(join(out, "unknown"))).toBe(false);
  });

  test("--out without a directory and an empty --only are refused before anything runs", async () => {
    const noDir = await bench(["--quick", "--only", "tokens", "--out"]);
    expect(noDir.exitCode).toBe(2);
    expect(noDir.stderr).toContain("--out needs a directory");
    const empty = await bench(["--quick", "--only", ",", "--out", join(out, "empty")]);
    expect(empty.exitCode).toBe(2);
    expect(existsSync(join(out, "empty"))).toBe(false);
  });
});
