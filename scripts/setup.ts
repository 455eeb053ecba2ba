/**
 * One-time (and idempotent) set-up run by `bun install` and before `bun run start`: the
 * Otterwiki virtualenv, and with --test-tools (from `bun install`) Chromium for the browser
 * tests. Keys and the database are made by the server on first start.
 * Usage: bun scripts/setup.ts [--quiet] [--test-tools]
 */
import { resolve } from "node:path";
import { ensureChromium } from "./setup/chromium.ts";
import { ensureOtterwiki } from "./setup/otterwiki.ts";
import { ensurePds } from "./setup/pds.ts";

const args = new Set(Bun.argv.slice(2));
if (args.has("--help") || args.has("-h")) {
  console.log(
    "usage: bun scripts/setup.ts [--quiet] [--test-tools]\n\nCreates .venv with the pinned Otterwiki and gunicorn (fast when already done).\n--test-tools also installs Debian's Chromium for the browser tests when missing (needs root and apt-get)\nand the local PLC + PDS for the Sign in with Bluesky tests into .pds/ (npm; a few minutes once).",
  );
  process.exit(0);
}
const quiet = args.has("--quiet");
// `bun install` (postinstall) also readies what the tests need; `bun run start` does not.
const withTestTools = args.has("--test-tools");

/**
 * The browser tests need Debian's Chromium. Where we may install it (root with apt-get, as on a
 * fresh machine of ours and on CI) we do, so `bun install && bun test` passes from scratch;
 * elsewhere we say how, and only CI treats a missing Chromium as a set-up failure.
 */
async function ensureTestTools(): Promise<void> {
  const canInstall = process.getuid?.() === 0 && Bun.which("apt-get") !== null;
  try {
    await ensureChromium({ install: canInstall, quiet });
  } catch (error) {
    if (Bun.env.CI === "true") throw error;
    console.warn(`setup: ${error instanceof Error ? error.message : String(error)}`);
  }
  // The local PLC + PDS for the Sign in with Bluesky tests (a few minutes once, then a no-op).
  try {
    await ensurePds({ projectDir, quiet });
  } catch (error) {
    if (Bun.env.CI === "true") throw error;
    console.warn(`setup: ${error instanceof Error ? error.message : String(error)}`);
  }
}
const projectDir = resolve(import.meta.dir, "..");
const started = performance.now();
try {
  await ensureOtterwiki({ projectDir, quiet });
  if (withTestTools) await ensureTestTools();
} catch (error) {
  console.error(`setup: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
if (!quiet) console.log(`setup: done in ${Math.round(performance.now() - started)} ms`);
