/**
 * Sign-in and the app: what a signed-in request pays to check its session (in process, with a
 * wiki token check measured in the same run as the reference), the bytes a first visit to
 * /app/ downloads, and the time from the Bluesky callback to the app showing your wikis (real
 * server, local PLC + PDS, headless Chromium; skipped with the reason when those are missing).
 */
import { Database } from "bun:sqlite";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chromium } from "playwright-core";
import { SessionService } from "../../src/auth/session/session.ts";
import { SessionStore } from "../../src/auth/session/session-store.ts";
import { UserStore } from "../../src/auth/user-store.ts";
import { WikiTokenStore } from "../../src/auth/wiki-token.ts";
import { migrate } from "../../src/db/migrate.ts";
import { authenticate } from "../../src/manage/guard.ts";
import { spawnServer } from "../../test/support/server-process.ts";
import { localPdsEnv, startLocalPds } from "../pds/local-pds.ts";
import { CHROMIUM_PATH } from "../setup/chromium.ts";
import { pdsInstalled } from "../setup/pds.ts";
import { figure, type SectionFigures, table } from "./report.ts";
import { percentile } from "./stats.ts";

const PROJECT_DIR = resolve(import.meta.dir, "..", "..");

export interface MicroFigures {
  perSecond: number;
  p50Micros: number;
  p99Micros: number;
}

function timeLoop(count: number, operation: (index: number) => void): MicroFigures {
  const latencies: number[] = [];
  const started = performance.now();
  for (let index = 0; index < count; index++) {
    const before = performance.now();
    operation(index);
    latencies.push(performance.now() - before);
  }
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    perSecond: count / elapsed,
    p50Micros: percentile(latencies, 0.5) * 1000,
    p99Micros: percentile(latencies, 0.99) * 1000,
  };
}

/**
 * The management API's session check (guard.ts authenticate: cookie parse, session lookup,
 * SHA-256 + constant-time compare, user lookup) over 1,000 live sessions, interleaved with the
 * wiki token check the MCP and REST gates do, as the reference.
 */
export function benchSessionCheck(count: number): {
  session: MicroFigures;
  token: MicroFigures;
} {
  const db = new Database(":memory:", { strict: true });
  migrate(db);
  const users = new UserStore(db);
  const user = users.create({
    did: "did:plc:benchbenchbenchbenchbenc",
    handle: "bench.test",
    username: "bench",
    displayName: "Bench",
  });
  db.exec(
    `INSERT INTO wikis (id, slug, name, owner_id, created_at) VALUES (1, 'bench', 'Bench', ${user.id}, 0)`,
  );
  const sessions = new SessionService(new SessionStore(db));
  const tokens = new WikiTokenStore(db);
  const publicUrl = new URL("https://wikibot.example");
  const requests = Array.from({ length: 1000 }, () => {
    const { token } = sessions.createSession(user.id);
    return new Request(`${publicUrl.origin}/api/me`, {
      headers: { cookie: `other=1; __Host-wb_session=${token}; theme=dark` },
    });
  });
  const wikiTokens = Array.from(
    { length: 1000 },
    () => tokens.create({ wikiId: 1, userId: user.id, scope: "write", label: "" }).plaintext,
  );
  const deps = { sessions, users, publicUrl };
  // Warm both paths (statement caches, JIT) before measuring.
  for (let index = 0; index < 2000; index++) {
    authenticate(deps, requests[index % 1000] as Request);
    tokens.verify(wikiTokens[index % 1000] ?? "");
  }
  const session = timeLoop(count, (index) => {
    authenticate(deps, requests[index % requests.length] as Request);
  });
  const token = timeLoop(count, (index) => {
    if (tokens.verify(wikiTokens[index % wikiTokens.length] ?? "").kind !== "valid")
      throw new Error("bench token did not verify");
  });
  db.close();
  return { session, token };
}

export interface FirstLoad {
  files: { path: string; bytes: number; gzipBytes: number }[];
  totalBytes: number;
  totalGzipBytes: number;
}

/** What a first visit to /app/ downloads: the page and every script and stylesheet it names. */
export async function measureFirstLoad(origin: string): Promise<FirstLoad> {
  const index = await fetch(`${origin}/app/`);
  const html = await index.text();
  const paths = ["/app/"];
  for (const match of html.matchAll(/(?:src|href)="(\/app\/[^"]+\.(?:js|css))"/g))
    if (match[1] !== undefined) paths.push(match[1]);
  const files: FirstLoad["files"] = [];
  for (const path of paths) {
    const body = new Uint8Array(await (await fetch(`${origin}${path}`)).arrayBuffer());
    files.push({ path, bytes: body.length, gzipBytes: Bun.gzipSync(body).length });
  }
  return {
    files,
    totalBytes: files.reduce((sum, file) => sum + file.bytes, 0),
    totalGzipBytes: files.reduce((sum, file) => sum + file.gzipBytes, 0),
  };
}

export interface SignInFigures {
  firstLoad: FirstLoad;
  /** Callback request sent → the app showing the wiki list, per sign-in. */
  callbackToAppMs: number[];
  /** Of that, our server's answer to the callback (request start → response end). */
  callbackServerMs: number[];
  skipped: string | null;
}

const PASSWORD = "bench bench bench";

/** Signs one person in `rounds` times through the PDS pages, timing the part that is ours. */
export async function benchSignIn(rounds: number): Promise<SignInFigures> {
  const dataDir = mkdtempSync(join(tmpdir(), "wikibot-bench-signin-"));
  const missing = !pdsInstalled(PROJECT_DIR)
    ? "the local PDS is not installed (bun install sets it up)"
    : !existsSync(CHROMIUM_PATH)
      ? "Chromium is not installed (bun scripts/setup/chromium.ts)"
      : null;
  const pds = missing === null ? await startLocalPds() : null;
  const spawned = await spawnServer({
    dataDir,
    env: {
      LOG_LEVEL: "error",
      ...(pds === null ? {} : localPdsEnv(pds)),
    },
  });
  const apex = `http://127.0.0.1:${spawned.port}`;
  const browser =
    pds === null
      ? null
      : await chromium.launch({
          executablePath: CHROMIUM_PATH,
          headless: true,
          args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"],
        });
  try {
    if (!spawned.healthy) throw new Error("the server did not answer /health");
    const firstLoad = await measureFirstLoad(apex);
    const callbackToAppMs: number[] = [];
    const callbackServerMs: number[] = [];
    if (pds === null || browser === null)
      return { firstLoad, callbackToAppMs, callbackServerMs, skipped: missing };
    const { handle } = await pds.createAccount({
      name: "benchy",
      password: PASSWORD,
      displayName: "Bench",
    });
    for (let round = 0; round <= rounds; round++) {
      const context = await browser.newContext();
      const page = await context.newPage();
      let callbackAt = 0;
      let callbackServer = 0;
      page.on("request", (request) => {
        if (request.url().startsWith(`${apex}/auth/callback`)) callbackAt = performance.now();
      });
      page.on("requestfinished", (request) => {
        if (!request.url().startsWith(`${apex}/auth/callback`)) return;
        const timing = request.timing();
        callbackServer = timing.responseEnd - timing.requestStart;
      });
      await page.goto(`${apex}/auth/login`);
      await page.locator("#handle").fill(handle);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.locator("input[name=password]").fill(PASSWORD);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.getByRole("button", { name: "Authorize" }).click();
      if (round === 0) {
        // The first sign-in makes the account; it is not timed.
        await page.waitForURL(`${apex}/auth/signup`);
        await page.getByRole("button", { name: "Create my account" }).click();
      }
      await page.getByRole("heading", { name: "Your wikis" }).waitFor();
      if (round > 0) {
        callbackToAppMs.push(performance.now() - callbackAt);
        callbackServerMs.push(callbackServer);
      }
      await context.close();
    }
    return { firstLoad, callbackToAppMs, callbackServerMs, skipped: null };
  } finally {
    await browser?.close();
    spawned.child.kill("SIGTERM");
    await spawned.child.exited;
    await pds?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** The report's figures: the session check against the token check, first load, sign-in time. */
export function signInReport(
  check: { session: MicroFigures; token: MicroFigures },
  signIn: SignInFigures,
): SectionFigures {
  const load = signIn.firstLoad;
  const p50 = (values: number[]) =>
    percentile(
      [...values].sort((a, b) => a - b),
      0.5,
    );
  const timed =
    signIn.skipped === null
      ? [
          figure(
            "callback → app showing your wikis (Chromium), p50",
            p50(signIn.callbackToAppMs),
            "ms",
          ),
          figure("of which our callback answer, p50", p50(signIn.callbackServerMs), "ms"),
        ]
      : [];
  return {
    figures: [
      figure("session check per /api request p50", check.session.p50Micros, "µs", {
        reference: { name: "wiki token check p50", value: check.token.p50Micros },
      }),
      figure("session check per /api request", check.session.perSecond, "/s", {
        reference: { name: "wiki token check", value: check.token.perSecond },
      }),
      figure("app first load", load.totalBytes, "B"),
      figure("app first load, gzip", load.totalGzipBytes, "B"),
      ...timed,
    ],
    tables: [
      table(
        ["first load file", "bytes", "gzip bytes"],
        load.files.map((file) => [file.path, file.bytes, file.gzipBytes]),
      ),
    ],
    notes:
      signIn.skipped === null
        ? [
            `${signIn.callbackToAppMs.length} timed sign-ins of a known DID; callback → app ${signIn.callbackToAppMs.map((ms) => ms.toFixed(0)).join(", ")} ms`,
          ]
        : [`callback → app: skipped: ${signIn.skipped}`],
  };
}
