// Makes sure the deployment tools the tests run are installed: Caddy (test/caddy-edge.test.ts
// puts the real Caddyfile in front of the server) and systemd-analyze (test/deploy-config.test.ts
// verifies scripts/wikibot.service), both as Debian packages. Installing needs apt and root, as
// on CI; elsewhere it says how. Run by setup --test-tools; `bun scripts/setup/caddy.ts` by hand.
// Installing Debian's caddy enables its service, but it starts only where systemd runs (never in
// a container, where invoke-rc.d skips it); the tests run their own `caddy run` on free ports.

import { runCommand } from "./command.ts";

export interface DebianTool {
  /** The command the tests run, found on PATH. */
  command: string;
  /** The Debian (bookworm) package that ships it. */
  debianPackage: string;
}

export const CADDY: DebianTool = { command: "caddy", debianPackage: "caddy" };
export const SYSTEMD_ANALYZE: DebianTool = {
  command: "systemd-analyze",
  debianPackage: "systemd",
};

/** What to run when a tool is missing; CI does it through `bun scripts/setup/caddy.ts`. */
export function installHint(tool: DebianTool): string {
  return `The deployment tests need ${tool.command}: run \`apt-get update && apt-get install -y ${tool.debianPackage}\` as root (\`bun install\` does this when it runs as root; CI does).`;
}

/** The tool's path, or null when it is not on PATH. */
export function findTool(tool: DebianTool): string | null {
  return Bun.which(tool.command);
}

/**
 * Returns the path of each tool, installing the missing ones with one apt-get call when allowed.
 * Idempotent: with everything present it only looks them up.
 */
export async function ensureDeployTools(options: {
  install: boolean;
  quiet: boolean;
}): Promise<string[]> {
  const tools = [CADDY, SYSTEMD_ANALYZE];
  const missing = tools.filter((tool) => findTool(tool) === null);
  if (missing.length > 0) {
    if (!options.install) throw new Error(missing.map(installHint).join("\n"));
    if (process.getuid?.() !== 0 || Bun.which("apt-get") === null) {
      throw new Error(
        `cannot install ${missing.map((tool) => tool.command).join(" and ")} here (needs root and apt-get). ${missing.map(installHint).join(" ")}`,
      );
    }
    const packages = missing.map((tool) => tool.debianPackage);
    if (!options.quiet) console.log(`deploy tools: installing ${packages.join(", ")} with apt-get`);
    await aptGet(["update", "-qq"]);
    await aptGet(["install", "-y", "-qq", "--no-install-recommends", ...packages]);
  }
  return tools.map((tool) => {
    const path = findTool(tool);
    if (path === null) {
      throw new Error(`apt-get installed ${tool.debianPackage} but ${tool.command} is not on PATH`);
    }
    return path;
  });
}

function aptGet(args: string[]): Promise<void> {
  return runCommand(["apt-get", ...args], {
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
  });
}

if (import.meta.main) {
  try {
    const paths = await ensureDeployTools({
      install: true,
      quiet: process.argv.includes("--quiet"),
    });
    console.log(paths.join("\n"));
  } catch (error) {
    console.error(`deploy tools: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
}
