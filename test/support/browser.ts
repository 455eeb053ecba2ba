/**
 * Headless Chromium for browser tests: Debian's /usr/bin/chromium driven by playwright-core.
 * Playwright starts it with a fresh temporary profile (--user-data-dir) and each actor gets
 * its own context, i.e. its own cookie jar. A missing Chromium fails the test with the
 * command that installs it (CI installs it through scripts/setup/chromium.ts).
 */
import { existsSync } from "node:fs";
import { type Browser, type BrowserContext, chromium } from "playwright-core";
import { CHROMIUM_HINT, CHROMIUM_PATH } from "../../scripts/setup/chromium.ts";
import type { SignedIn } from "./session.ts";

const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) throw new Error(CHROMIUM_HINT);
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS });
}

/** A context (cookie jar) already signed in at the apex, as after Sign in with Bluesky. */
export async function signedInContext(browser: Browser, who: SignedIn): Promise<BrowserContext> {
  const context = await browser.newContext();
  await context.addCookies([
    { name: who.name, value: who.value, url: who.origin, httpOnly: true, sameSite: "Lax" },
  ]);
  return context;
}
