/** The real server on port 0: host routing, health, tokens at the wiki gate, limits, shutdown. */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import {
  addUser,
  createToken,
  createUserAndWiki,
  makeDataDir,
  PROJECT_DIR,
  runAdmin,
  startTestServer,
  type TestServer,
  testDid,
} from "./support/server.ts";
import { spawnServer } from "./support/server-process.ts";

// Starts real processes (server, git, Otterwiki); the 5 s default is too short on 2 cores.
setDefaultTimeout(120_000);

let t: TestServer;
let owner: { token: string };

beforeAll(async () => {
  t = await startTestServer();
  owner = await createUserAndWiki(t, {
    username: "olive",
    slug: "demo",
    displayName: "Olive Owner",
  });
  await createUserAndWiki(t, { username: "pat", slug: "public-wiki", public: true });
});
afterAll(() => t.close());

function get(url: string, headers: Record<string, string> = {}) {
  return fetch(url, { headers });
}

describe("host routing", () => {
  test("the apex answers /health with 200 and JSON", async () => {
    const response = await get(`${t.origin}/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ ok: true, db: "ok" });
  });

  test("127.0.0.1:{port} is the apex too (loopback development)", async () => {
    const response = await get(`http://127.0.0.1:${t.port}/health`);
    expect(response.status).toBe(200);
  });

  test("the apex serves the landing page", async () => {
    const response = await get(`${t.origin}/`);
    expect(response.status).toBe(200);
    expect(await response.text()).toContain("<h1>wikibot</h1>");
  });

  test("{slug}.{apex} reaches that wiki", async () => {
    const response = await get(`${t.wikiOrigin("demo")}/api/v1/`, {
      authorization: `Bearer ${owner.token}`,
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      wiki: "demo",
      pages: 3,
      you: { role: "owner", can_write: true },
    });
  });

  test("an unknown slug gets a 404 that says so", async () => {
    const response = await get(`${t.wikiOrigin("nosuchwiki")}/api/v1/`);
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({
      error: { code: "unknown_wiki", message: 'there is no wiki named "nosuchwiki"' },
    });
  });

  test.each(["bad host", "exa_mple"])("a malformed Host %j gets 400", async (host) => {
    const response = await get(`http://127.0.0.1:${t.port}/health`, { host });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe("bad_host");
  });

  test("a dot after the port (request.url would not parse) gets 400 on every path, not 500", async () => {
    for (const path of ["/health", "/", "/api/v1/pages", "/mcp", "/repo.git/info/refs"]) {
      const response = await get(`http://127.0.0.1:${t.port}${path}`, {
        host: `demo.localhost:${t.port}.`,
      });
      expect(response.status).toBe(400);
    }
  });

  test("a host that is not ours gets 404", async () => {
    const response = await get(`http://127.0.0.1:${t.port}/health`, { host: "evil.example" });
    expect(response.status).toBe(404);
  });

  test("an unknown route on a wiki host is a JSON 404", async () => {
    const response = await get(`${t.wikiOrigin("demo")}/api/v1/nope`, {
      authorization: `Bearer ${owner.token}`,
    });
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ error: { code: "not_found" } });
  });
});

describe("wiki tokens at the gate", () => {
  const api = (token?: string, slug = "demo") =>
    get(
      `${t.wikiOrigin(slug)}/api/v1/`,
      token === undefined ? {} : { authorization: `Bearer ${token}` },
    );

  test("no token on a private wiki: 401 with a Bearer challenge", async () => {
    const response = await api();
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toStartWith("Bearer");
  });

  test("no token on a public wiki: readable, not writable", async () => {
    const response = await api(undefined, "public-wiki");
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ you: { role: null, can_write: false } });
  });

  test.each([
    ["garbage", "not-a-token"],
    ["right shape, unknown id", `wbt_${"a".repeat(16)}.${"b".repeat(43)}`],
  ])("a wrong token (%s) is refused", async (_, token) => {
    const response = await api(token);
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toContain('error="invalid_token"');
  });

  test("a token with one character of its secret changed is refused", async () => {
    const last = owner.token.at(-1) === "A" ? "B" : "A";
    expect((await api(owner.token.slice(0, -1) + last)).status).toBe(401);
  });

  test("another wiki's token is refused", async () => {
    const other = await createUserAndWiki(t, { username: "quinn", slug: "elsewhere" });
    expect((await api(other.token)).status).toBe(401);
    expect((await api(other.token, "elsewhere")).status).toBe(200);
  });

  test("a revoked token is refused from the next request on", async () => {
    const made = await createToken(t, "demo", "olive", "read");
    expect((await api(made.token)).status).toBe(200);
    await t.adminJson("revoke-token", "--id", made.id);
    const response = await api(made.token);
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({
      error: { message: "that token is not valid for demo: it has been revoked" },
    });
  });

  test("a token whose user lost their role is refused on a private wiki", async () => {
    await addUser(t, "vic");
    await t.adminJson("grant", "--wiki", "demo", "--user", "vic", "--role", "viewer");
    const made = await createToken(t, "demo", "vic", "read");
    expect(await (await api(made.token)).json()).toMatchObject({
      you: { role: "viewer", can_write: false },
    });
    await t.adminJson("revoke", "--wiki", "demo", "--user", "vic");
    // Removing the member revokes their tokens for the wiki too.
    expect((await api(made.token)).status).toBe(401);
  });

  test("a lapsed wiki is not writable even by its owner", async () => {
    await t.adminJson("set-tier", "--wiki", "elsewhere", "--tier", "lapsed");
    const quinn = await createToken(t, "elsewhere", "quinn");
    expect(await (await api(quinn.token, "elsewhere")).json()).toMatchObject({
      tier: "lapsed",
      you: { can_write: false },
    });
  });
});

describe("limits", () => {
  test("a body over the limit is refused with 413 before it is read", async () => {
    const response = await fetch(`${t.wikiOrigin("demo")}/api/v1/`, {
      method: "POST",
      headers: { "content-length": String(10 * 1024 * 1024), "content-type": "text/plain" },
      body: "x".repeat(10 * 1024 * 1024),
    });
    expect(response.status).toBe(413);
  });
});

describe("process", () => {
  test("the server process answers, logs JSON lines without tokens, and exits 0 on SIGTERM", async () => {
    const dataDir = makeDataDir();
    const env = {
      PATH: process.env.PATH ?? "",
      DATA_DIR: dataDir,
      PUBLIC_URL: "http://localhost:1",
    };
    await runAdmin(env, [
      "create-user",
      "--username",
      "sam",
      "--did",
      testDid(),
      "--handle",
      "sam.bsky.social",
    ]);
    const made = await runAdmin(env, ["create-wiki", "--slug", "sams", "--owner", "sam", "--json"]);
    const token: string = JSON.parse(made.stdout).token;
    const { child, port, healthy } = await spawnServer({
      dataDir,
      stdout: "pipe",
      stderr: "ignore",
    });
    try {
      expect(healthy).toBe(true);
      const api = await fetch(`http://sams.localhost:${port}/api/v1/`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(api.status).toBe(200);
    } catch (error) {
      // Never leave a server behind when an assertion above fails.
      child.kill("SIGKILL");
      throw error;
    }
    child.kill("SIGTERM");
    expect(await child.exited).toBe(0);
    const log = await new Response(child.stdout).text();
    const lines = log
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(
      lines.some(
        (line) => line.message === "request" && line.path === "/health" && line.status === 200,
      ),
    ).toBe(true);
    expect(
      lines.some((line) => line.message === "request" && line.host === `sams.localhost:${port}`),
    ).toBe(true);
    expect(lines.at(-1)).toMatchObject({ message: "stopped" });
    expect(log).not.toContain(token.split(".")[1]);
  });

  test("a server whose log reader went away keeps serving and still stops on SIGTERM", async () => {
    const { child, port, healthy } = await spawnServer({
      dataDir: makeDataDir(),
      stdout: "pipe",
      stderr: "ignore",
    });
    try {
      expect(healthy).toBe(true);
      // Closing our end makes every later log write fail with EPIPE.
      if (!(child.stdout instanceof ReadableStream)) throw new Error("stdout was not piped");
      await child.stdout.cancel();
      const statuses = [];
      for (let request = 0; request < 3; request++) {
        statuses.push((await fetch(`http://127.0.0.1:${port}/health`)).status);
      }
      expect(statuses).toEqual([200, 200, 200]);
    } catch (error) {
      child.kill("SIGKILL");
      throw error;
    }
    child.kill("SIGTERM");
    expect(await child.exited).toBe(0);
  });

  test("a malformed setting stops start-up with a message naming it", async () => {
    const child = Bun.spawn(["bun", join(PROJECT_DIR, "src/main.ts")], {
      env: { PATH: process.env.PATH ?? "", DATA_DIR: makeDataDir(), PORT: "not-a-port" },
      stderr: "pipe",
    });
    expect(await child.exited).toBe(2);
    expect(await new Response(child.stderr).text()).toContain('PORT="not-a-port" is not valid');
  });
});
