// Makes sure Debian's Chromium is at /usr/bin/chromium for the browser tests, which drive it
// with playwright-core (never a browser Playwright downloads). Installing needs apt and root,
// as on CI; elsewhere it says how to install it. Run by .ci/run and, with CI=true, by setup.
import { existsSync } from "node:fs";
import { runCommand } from "./command.ts";

export const CHROMIUM_PATH = "/usr/bin/chromium";

export const CHROMIUM_HINT =
  "The browser tests need Debian's Chromium at /usr/bin/chromium: run `apt-get update && apt-get install -y chromium` as root (CI does this through `bun scripts/setup/chromium.ts`).";

/** Returns the Chromium path, installing the Debian package first when allowed and missing. */
export async function ensureChromium(options: {
  install: boolean;
  quiet: boolean;
}): Promise<string> {
  if (existsSync(CHROMIUM_PATH)) return CHROMIUM_PATH;
  if (!options.install) throw new Error(CHROMIUM_HINT);
  if (process.getuid?.() !== 0 || Bun.which("apt-get") === null) {
    throw new Error(`cannot install Chromium here (needs root and apt-get). ${CHROMIUM_HINT}`);
  }
  const say = (line: string) => {
    if (!options.quiet) console.log(`chromium: ${line}`);
  };
  say("installing the Debian package with apt-get");
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  for (const argv of [
    ["apt-get", "update", "-qq"],
    ["apt-get", "install", "-y", "-qq", "chromium"],
  ]) {
    await runCommand(argv, { env });
  }
  if (!existsSync(CHROMIUM_PATH))
    throw new Error(`apt-get finished but ${CHROMIUM_PATH} is missing`);
  say(`installed ${CHROMIUM_PATH}`);
  return CHROMIUM_PATH;
}

if (import.meta.main) {
  try {
    console.log(await ensureChromium({ install: true, quiet: process.argv.includes("--quiet") }));
  } catch (error) {
    console.error(`chromium: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
}
