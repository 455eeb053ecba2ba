/**
 * One-time (and idempotent) set-up run by `bun install` and before `bun run start`: the
 * Otterwiki virtualenv. Keys and the database are made by the server on first start.
 * Usage: bun scripts/setup.ts [--quiet]
 */
import { resolve } from "node:path";
import { ensureChromium } from "./setup/chromium.ts";
import { ensureOtterwiki } from "./setup/otterwiki.ts";

const args = new Set(Bun.argv.slice(2));
if (args.has("--help") || args.has("-h")) {
  console.log(
    "usage: bun scripts/setup.ts [--quiet]\n\nCreates .venv with the pinned Otterwiki and gunicorn (fast when already done).",
  );
  process.exit(0);
}
const quiet = args.has("--quiet");
const projectDir = resolve(import.meta.dir, "..");
const started = performance.now();
try {
  await ensureOtterwiki({ projectDir, quiet });
  // CI must run the browser tests; elsewhere they say how to install Chromium.
  if (Bun.env.CI === "true") await ensureChromium({ install: true, quiet });
} catch (error) {
  console.error(`setup: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
if (!quiet) console.log(`setup: done in ${Math.round(performance.now() - started)} ms`);
