/**
 * The production edge for real: Debian's Caddy runs the repository's Caddyfile in front of the
 * server on local ports and every client goes through it: Chromium reading a private wiki
 * (the per-host handshake included), the MCP SDK, and git cloning and pushing. Caddy gets the
 * Caddyfile's own `(wikibot)` snippet under a plain-http site address (the one change: no
 * certificate), so its headers, compression, body limit, streaming and access log are the
 * ones production runs. PUBLIC_URL is Caddy's address, as it is in production.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import type { Browser } from "playwright-core";
import { CADDY, findTool, installHint } from "../scripts/setup/caddy.ts";
import { readConfig } from "../src/config/config.ts";
import { encodePacket, FLUSH_PACKET } from "../src/git/pkt-line.ts";
import { launchChromium, signedInContext } from "./support/browser.ts";
import {
  basicAuthorization,
  commitFiles,
  createGitClient,
  type GitClient,
  nextCloneDir,
  repoUrl,
} from "./support/git.ts";
import { callTool, connectMcp, structuredOf } from "./support/mcp.ts";
import {
  createUserAndWiki,
  PROJECT_DIR,
  startTestServer,
  type TestServer,
} from "./support/server.ts";
import { freePort } from "./support/server-process.ts";
import { signIn } from "./support/session.ts";

// Starts real processes (server, Caddy, Otterwiki, Chromium, git); 5 s is too short on 2 cores.
setDefaultTimeout(120_000);

let t: TestServer;
/** The test server as clients see it through Caddy: its origins are Caddy's port. */
let edge: TestServer;
let caddy: Subprocess<"ignore", "ignore", "pipe">;
let caddyLog: Promise<string>;
let scratch: string;
let accessLog: string;
let browser: Browser;
let git: GitClient;
let ownerToken: string;

const MIB = 1024 * 1024;
const DEFAULTS = readConfig({});
/**
 * The Caddyfile's request_body max_size: the server's own ceiling with the default settings
 * (src/server.ts; test/deploy-config.test.ts checks the Caddyfile says so).
 */
const CADDY_BODY_LIMIT = Math.max(DEFAULTS.maxBodyBytes, DEFAULTS.maxPackBytes + MIB);
/** The server here takes bigger packs than that, so only Caddy can refuse a body in between. */
const PACK_LIMIT = CADDY_BODY_LIMIT * 2;

/**
 * The production Caddyfile with its global options and site blocks replaced: the `(wikibot)`
 * snippet verbatim, imported by an http site for the apex (localhost and 127.0.0.1, where the
 * loopback session lives) and every wiki host, on `port`. No admin endpoint (a fixed port
 * another Caddy may hold) and no automatic https (no certificate to get).
 */
function edgeCaddyfile(port: number): string {
  const source = readFileSync(join(PROJECT_DIR, "Caddyfile"), "utf8");
  const snippet = source.match(/^\(wikibot\) \{$[\s\S]*?^\}$/m)?.[0];
  if (snippet === undefined) throw new Error("the Caddyfile has no (wikibot) snippet");
  return [
    "{\n\tadmin off\n\tauto_https off\n}",
    snippet,
    `http://localhost:${port}, http://*.localhost:${port}, http://127.0.0.1:${port} {\n\timport wikibot\n}`,
    "",
  ].join("\n\n");
}

beforeAll(async () => {
  const caddyPath = findTool(CADDY);
  if (caddyPath === null) throw new Error(installHint(CADDY));
  scratch = mkdtempSync(join(tmpdir(), "wikibot-caddy-"));
  accessLog = join(scratch, "access.log");
  const port = await freePort();
  t = await startTestServer({
    PUBLIC_URL: `http://localhost:${port}`,
    GIT_MAX_PACK_BYTES: String(PACK_LIMIT),
  });
  edge = { ...t, port, wikiOrigin: (slug) => `http://${slug}.localhost:${port}` };
  const config = join(scratch, "Caddyfile");
  await Bun.write(config, edgeCaddyfile(port));
  caddy = Bun.spawn([caddyPath, "run", "--config", config, "--adapter", "caddyfile"], {
    // Caddy keeps its state under HOME / XDG dirs: a scratch one, never the machine's.
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: scratch,
      XDG_DATA_HOME: join(scratch, "data"),
      XDG_CONFIG_HOME: join(scratch, "config"),
      WIKIBOT_UPSTREAM: `127.0.0.1:${t.port}`,
      WIKIBOT_ACCESS_LOG: accessLog,
    },
    stdin: "ignore",
    stdout: "ignore",
    stderr: "pipe",
  });
  caddyLog = new Response(caddy.stderr).text();
  let ready = false;
  for (let attempt = 0; attempt < 200 && !ready && caddy.exitCode === null; attempt++) {
    const health = await fetch(`http://127.0.0.1:${port}/health`).catch(() => null);
    ready = health?.status === 200 && health.headers.get("server") === "Caddy";
    if (!ready) await Bun.sleep(50);
  }
  if (!ready) throw new Error(`Caddy did not come up:\n${await stopCaddy()}`);
  ownerToken = (await createUserAndWiki(t, { username: "olive", slug: "lab", tier: "premium" }))
    .token;
  browser = await launchChromium();
  git = createGitClient();
});

/** Stops Caddy (no process left behind) and returns what it logged. */
async function stopCaddy(): Promise<string> {
  if (caddy.exitCode === null) {
    caddy.kill("SIGTERM");
    const stopped = await Promise.race([caddy.exited, Bun.sleep(10_000).then(() => null)]);
    if (stopped === null) caddy.kill("SIGKILL");
    await caddy.exited;
  }
  return caddyLog;
}

afterAll(async () => {
  await browser?.close();
  git?.close();
  if (caddy !== undefined) await stopCaddy();
  await t?.close();
  if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
});

function fieldOf(value: unknown, name: string): unknown {
  return typeof value === "object" && value !== null ? Reflect.get(value, name) : undefined;
}

/** The access log's entries so far (one JSON object a line). */
function accessEntries(): { method: string; host: string; uri: string; status: number }[] {
  return readFileSync(accessLog, "utf8")
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => {
      const entry: unknown = JSON.parse(line);
      const request = fieldOf(entry, "request");
      return {
        method: String(fieldOf(request, "method")),
        host: String(fieldOf(request, "host")),
        uri: String(fieldOf(request, "uri")),
        status: Number(fieldOf(entry, "status")),
      };
    });
}

describe("through Caddy", () => {
  test("Chromium reads a private wiki: handshake across the apex and the wiki host, compressed HTML, HSTS", async () => {
    const context = await signedInContext(browser, signIn(t, "olive"));
    const page = await context.newPage();
    const response = await page.goto(`${edge.wikiOrigin("lab")}/Home`);
    expect(response?.status()).toBe(200);
    expect(page.url()).toBe(`${edge.wikiOrigin("lab")}/Home`);
    expect(await page.locator("#wikibot-account").textContent()).toBe("Sign out");
    const headers = response?.headers() ?? {};
    expect(headers.server?.split("\n")).toContain("Caddy");
    expect(["zstd", "gzip"]).toContain(headers["content-encoding"] ?? "none");
    expect(headers["strict-transport-security"]).toBe("max-age=31536000; includeSubDomains");
    await context.close();
    const handoffs = accessEntries().filter((entry) => entry.uri.startsWith("/auth/handoff?"));
    expect(handoffs.map((entry) => entry.host)).toContain(`127.0.0.1:${edge.port}`);
    expect(handoffs.map((entry) => entry.host)).toContain(`lab.localhost:${edge.port}`);
    // The one-time code travelled in the query string; the log keeps no copy of it.
    const withCode = handoffs.filter((entry) => entry.uri.includes("code="));
    expect(withCode.length).toBeGreaterThan(0);
    for (const entry of withCode) expect(entry.uri).toMatch(/[?&]code=REDACTED(&|$)/);
  });

  test("an MCP client writes and reads a page, and the bearer token stays out of the log", async () => {
    const client = await connectMcp(edge, "lab", ownerToken);
    try {
      const written = structuredOf(
        await callTool(client, "write_note", {
          path: "Through Caddy",
          content: "# Through Caddy\n\nWritten over MCP behind the edge.\n",
        }),
      );
      const read = structuredOf(await callTool(client, "read_note", { path: "Through Caddy" }));
      expect(read.revision).toBe(written.revision);
      expect(JSON.stringify(read)).toContain("Written over MCP behind the edge.");
    } finally {
      await client.close();
    }
    const mcpPosts = accessEntries().filter(
      (entry) => entry.uri === "/mcp" && entry.method === "POST",
    );
    expect(mcpPosts.length).toBeGreaterThanOrEqual(3);
    expect(mcpPosts.map((entry) => entry.status).filter((status) => status >= 300)).toEqual([]);
    const secret = ownerToken.slice(ownerToken.indexOf(".") + 1);
    expect(readFileSync(accessLog, "utf8")).not.toContain(secret);
  });

  test("git clones and pushes through Caddy, and the token stays out of the log", async () => {
    const dir = nextCloneDir(git);
    await git.ok(["clone", "-q", repoUrl(edge, "lab", ownerToken), dir]);
    expect(readFileSync(join(dir, "Home.md"), "utf8")).toContain("lab");
    await commitFiles(git, dir, { "Pushed.md": "# Pushed\n\nBy git, through Caddy.\n" }, "push");
    await git.ok(["push", "-q", "origin", "HEAD:main"], { cwd: dir });
    const page = await fetch(`${edge.wikiOrigin("lab")}/api/v1/pages/Pushed`, {
      headers: { authorization: `Bearer ${ownerToken}` },
    });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("By git, through Caddy.");
    const services = accessEntries()
      .filter((entry) => entry.host === `lab.localhost:${edge.port}`)
      .map((entry) => entry.uri);
    expect(services).toContain("/repo.git/git-upload-pack");
    expect(services).toContain("/repo.git/git-receive-pack");
    const secret = ownerToken.slice(ownerToken.indexOf(".") + 1);
    expect(readFileSync(accessLog, "utf8")).not.toContain(secret);
  });

  test("only HTML, JSON and the like are compressed: git's advertisement and packs never are", async () => {
    const json = await fetch(`${edge.origin}/api/openapi.json`, {
      headers: { "accept-encoding": "gzip" },
    });
    expect(json.headers.get("content-encoding")).toBe("gzip");
    expect((await json.json()).openapi).toBeString();
    const git = { "accept-encoding": "gzip, zstd", authorization: basicAuthorization(ownerToken) };
    const refs = await fetch(
      `${edge.wikiOrigin("lab")}/repo.git/info/refs?service=git-upload-pack`,
      { headers: git },
    );
    expect(refs.headers.get("content-type")).toBe("application/x-git-upload-pack-advertisement");
    expect(refs.headers.get("content-encoding")).toBeNull();
    const head = (await refs.text()).match(/([0-9a-f]{40}) HEAD/)?.[1];
    expect(head).toBeString();
    const pack = await fetch(`${edge.wikiOrigin("lab")}/repo.git/git-upload-pack`, {
      method: "POST",
      headers: { ...git, "content-type": "application/x-git-upload-pack-request" },
      body: Buffer.concat([
        encodePacket(`want ${head}\n`),
        Buffer.from(FLUSH_PACKET),
        encodePacket("done\n"),
      ]),
    });
    expect(pack.headers.get("content-type")).toBe("application/x-git-upload-pack-result");
    expect(pack.headers.get("content-encoding")).toBeNull();
    // NAK, then the pack itself, byte for byte as git wrote it.
    const bytes = Buffer.from(await pack.arrayBuffer());
    expect(bytes.subarray(0, 8).toString()).toBe("0008NAK\n");
    expect(bytes.includes(Buffer.from("PACK"))).toBe(true);
  });

  test("bodies: the server's own limit answers below Caddy's; past Caddy's, Caddy refuses", async () => {
    const mcp = `${edge.wikiOrigin("lab")}/mcp`;
    const auth = { authorization: `Bearer ${ownerToken}`, "content-type": "application/json" };
    const overServer = await fetch(mcp, {
      method: "POST",
      headers: auth,
      body: new Uint8Array(DEFAULTS.maxBodyBytes + 1),
    });
    expect(overServer.status).toBe(413);
    expect(await overServer.json()).toMatchObject({ error: { code: "body_too_large" } });
    // The server here takes packs up to PACK_LIMIT, so only Caddy can refuse this one.
    const overCaddy = await fetch(`${edge.wikiOrigin("lab")}/repo.git/git-receive-pack`, {
      method: "POST",
      headers: {
        authorization: basicAuthorization(ownerToken),
        "content-type": "application/x-git-receive-pack-request",
      },
      body: new Uint8Array(CADDY_BODY_LIMIT + 1),
    });
    expect(overCaddy.status).toBe(413);
    expect(overCaddy.headers.get("server")).toBe("Caddy");
    expect(await overCaddy.text()).toBe("request body too large");
  });

  test("a client cannot choose its rate-limit key: Caddy replaces a forged X-Forwarded-For", async () => {
    const apex = `http://127.0.0.1:${edge.port}`;
    const startSignIn = (forged: string) =>
      fetch(`${apex}/auth/login`, {
        method: "POST",
        redirect: "manual",
        headers: {
          origin: apex,
          "content-type": "application/x-www-form-urlencoded",
          "x-forwarded-for": forged,
        },
        body: new URLSearchParams({ handle: "x" }),
      });
    // Sign-in starts allow a burst of 20 per client (README, "Sign in"); each claims a new address.
    for (let attempt = 1; attempt <= 20; attempt++) {
      expect((await startSignIn(`203.0.113.${attempt}`)).status).toBe(400);
    }
    const refused = await startSignIn("203.0.113.99");
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
  });
});
