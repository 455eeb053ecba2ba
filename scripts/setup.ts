/**
 * One-time (and idempotent) set-up run by `bun install` and before `bun run start`: the
 * Otterwiki virtualenv, the embedding model in .models/ (with --install-model, from `bun run
 * start`, also placed into MODEL_DIR), and with --test-tools (from `bun install`) Chromium for the
 * browser tests and Caddy and systemd-analyze for the deployment tests. Keys and the database
 * are made by the server on first start.
 * Usage: bun scripts/setup.ts [--quiet] [--test-tools] [--install-model]
 */
import { resolve } from "node:path";
import { readConfig } from "../src/config/config.ts";
import { ensureDeployTools } from "./setup/caddy.ts";
import { ensureChromium } from "./setup/chromium.ts";
import { ensureModel } from "./setup/model.ts";
import { ensureOtterwiki } from "./setup/otterwiki.ts";
import { ensurePds } from "./setup/pds.ts";

const args = new Set(Bun.argv.slice(2));
if (args.has("--help") || args.has("-h")) {
  console.log(
    "usage: bun scripts/setup.ts [--quiet] [--test-tools] [--install-model]\n\nCreates .venv with the pinned Otterwiki and gunicorn and .models/ with the embedding model (fast when already done).\n--install-model also places the model into MODEL_DIR (default $DATA_DIR/models) for the server.\n--test-tools also installs Debian's Chromium, Caddy and systemd (systemd-analyze) for the browser and\ndeployment tests when missing (needs root and apt-get)\nand the local PLC + PDS for the Sign in with Bluesky tests into .pds/ (npm; a few minutes once).",
  );
  process.exit(0);
}
const quiet = args.has("--quiet");
// `bun install` (postinstall) also readies what the tests need; `bun run start` does not.
const withTestTools = args.has("--test-tools");
const installModel = args.has("--install-model");

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
  // Caddy and systemd-analyze for the deployment tests (Caddyfile, systemd unit).
  try {
    await ensureDeployTools({ install: canInstall, quiet });
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
  const otterwiki = await ensureOtterwiki({ projectDir, quiet });
  // Like Chromium: without the model only semantic search is missing, so only CI stops here.
  try {
    const modelDir = installModel ? readConfig(Bun.env).modelDir : null;
    await ensureModel({ projectDir, python: otterwiki.python, quiet, modelDir });
  } catch (error) {
    if (Bun.env.CI === "true") throw error;
    console.warn(`setup: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (withTestTools) await ensureTestTools();
} catch (error) {
  console.error(`setup: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
if (!quiet) console.log(`setup: done in ${Math.round(performance.now() - started)} ms`);
