/**
 * The per-wiki OAuth 2.1 authorization server (issue 10) driven black-box over HTTP with raw
 * fetch, as MCP clients drive it: discovery, dynamic registration, authorize → sign-in →
 * consent → code, the token endpoint (code exchange, refresh rotation, reuse detection),
 * revocation, and the attacks each step must refuse. The "browser" is a cookie jar per host
 * following our redirects; the consent form is read from the page's HTML.
 */
import {
  afterAll,
  beforeAll,
  describe,
  expect,
  setDefaultTimeout,
  setSystemTime,
  test,
} from "bun:test";
import { hashSecret } from "../src/lib/prefixed-token.ts";
import { mcpInitializeStatus } from "./support/mcp.ts";
import { addUser, createUserAndWiki, startTestServer, type TestServer } from "./support/server.ts";
import { CookieJar, NAVIGATION_HEADERS, signIn } from "./support/session.ts";

setDefaultTimeout(60_000);

let t: TestServer;
let wiki: string;
/** Every secret the server handed out, to prove none is stored in plaintext. */
const handedOut: string[] = [];

const CLAUDE_CALLBACK = "https://claude.ai/api/mcp/auth_callback";
const CLAUDE_CALLBACK_NEW = "https://claude.com/api/mcp/auth_callback";

beforeAll(async () => {
  t = await startTestServer();
  await createUserAndWiki(t, { username: "olive", slug: "notes", displayName: "Olive Owner" });
  await addUser(t, "eddie", { wiki: "notes", role: "editor", displayName: "Eddie Editor" });
  await addUser(t, "vera", { wiki: "notes", role: "viewer" });
  await addUser(t, "nora");
  await t.adminJson("create-wiki", "--slug", "other", "--owner", "olive");
  wiki = t.wikiOrigin("notes");
});
afterAll(async () => {
  setSystemTime();
  await t.close();
});

// ---------------------------------------------------------------------------------------------
// Client side helpers

interface RegisteredClient {
  client_id: string;
  client_secret?: string;
  redirect_uris: string[];
  token_endpoint_auth_method: string;
}

function randomVerifier(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(48))).toString("base64url");
}

function challengeOf(verifier: string): string {
  return new Bun.CryptoHasher("sha256").update(verifier).digest("base64url");
}

let registrations = 0;

/** Each registration from its own address (X-Forwarded-For), except where a test names one. */
async function registerRaw(
  body: unknown,
  origin = wiki,
  path = "/oauth/register",
  address?: string,
) {
  registrations += 1;
  return fetch(`${origin}${path}`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-forwarded-for": address ?? `192.0.2.${(registrations % 250) + 1}`,
    },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

/** Registers as Claude.ai does (posthog#48397): client_secret_post, both Claude callbacks. */
async function registerClaude(origin = wiki): Promise<RegisteredClient> {
  const response = await registerRaw(
    {
      client_name: "Claude",
      redirect_uris: [CLAUDE_CALLBACK, CLAUDE_CALLBACK_NEW],
      token_endpoint_auth_method: "client_secret_post",
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      scope: "offline_access mcp:tools",
    },
    origin,
  );
  expect(response.status).toBe(201);
  const client = (await response.json()) as RegisteredClient;
  if (client.client_secret !== undefined) handedOut.push(client.client_secret);
  return client;
}

async function registerWith(body: Record<string, unknown>): Promise<RegisteredClient> {
  const response = await registerRaw({ client_name: "Test app", ...body });
  expect(response.status).toBe(201);
  const client = (await response.json()) as RegisteredClient;
  if (client.client_secret !== undefined) handedOut.push(client.client_secret);
  return client;
}

/** A browser: one cookie jar per host, following redirects between our own hosts only. */
class Browser {
  private readonly jars = new Map<string, CookieJar>();

  constructor(signedInAs?: string) {
    if (signedInAs !== undefined) {
      const who = signIn(t, signedInAs);
      this.jars.set(new URL(who.origin).host, new CookieJar([who.apexCookie]));
    }
  }

  jar(url: string): CookieJar {
    const host = new URL(url).host;
    let jar = this.jars.get(host);
    if (jar === undefined) {
      jar = new CookieJar();
      this.jars.set(host, jar);
    }
    return jar;
  }

  /** Follows redirects while they stay on this server; returns the last response and its URL. */
  async open(start: string): Promise<{ response: Response; url: string }> {
    let url = start;
    for (let hop = 0; hop < 10; hop++) {
      const jar = this.jar(url);
      const response = await fetch(url, {
        headers: { ...NAVIGATION_HEADERS, cookie: jar.header() },
        redirect: "manual",
      });
      jar.store(response);
      const location = response.headers.get("location");
      if (response.status !== 302 || location === null) return { response, url };
      const next = new URL(location, url);
      if (next.port !== String(t.port)) return { response, url };
      await response.arrayBuffer();
      url = next.href;
    }
    throw new Error("too many redirects");
  }
}

interface Flow {
  verifier: string;
  state: string;
  redirectUri: string;
}

function authorizeUrl(client: RegisteredClient, flow: Flow, extra: Record<string, string> = {}) {
  const query = new URLSearchParams({
    response_type: "code",
    client_id: client.client_id,
    redirect_uri: flow.redirectUri,
    state: flow.state,
    code_challenge: challengeOf(flow.verifier),
    code_challenge_method: "S256",
    ...extra,
  });
  return `${wiki}/oauth/authorize?${query}`;
}

function newFlow(redirectUri = CLAUDE_CALLBACK): Flow {
  return { verifier: randomVerifier(), state: `st-${Math.random()}`, redirectUri };
}

function formField(html: string, name: string): string {
  const match = new RegExp(`name="${name}" value="([^"]*)"`).exec(html);
  if (match?.[1] === undefined) throw new Error(`the page has no ${name} field`);
  return match[1];
}

async function consent(browser: Browser, url: string) {
  const { response } = await browser.open(url);
  const html = await response.text();
  return {
    status: response.status,
    html,
    request: () => formField(html, "request"),
    csrf: () => formField(html, "csrf"),
  };
}

async function decide(
  browser: Browser,
  fields: Record<string, string>,
  headers: Record<string, string> = { origin: wiki },
) {
  return fetch(`${wiki}/oauth/authorize`, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      cookie: browser.jar(wiki).header(),
      ...headers,
    },
    body: new URLSearchParams(fields),
    redirect: "manual",
  });
}

/** The client's callback as it receives it: the parameters of the Location we sent. */
function callbackOf(response: Response): URLSearchParams {
  expect(response.status).toBe(302);
  const location = new URL(response.headers.get("location") ?? "");
  return location.searchParams;
}

/** Authorize → consent → Allow; returns the code. */
async function approve(
  client: RegisteredClient,
  user: string,
  flow: Flow,
  extra: Record<string, string> = {},
) {
  const browser = new Browser(user);
  const page = await consent(browser, authorizeUrl(client, flow, extra));
  expect(page.status).toBe(200);
  const answer = await decide(browser, {
    request: page.request(),
    csrf: page.csrf(),
    decision: "allow",
  });
  const callback = callbackOf(answer);
  const code = callback.get("code");
  if (code === null) throw new Error(`no code: ${callback}`);
  handedOut.push(code);
  return { code, callback, page };
}

async function tokenRequest(
  form: Record<string, string>,
  headers: Record<string, string> = {},
  path = "/oauth/token",
) {
  const response = await fetch(`${wiki}${path}`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
    body: new URLSearchParams(form),
  });
  const text = await response.text();
  const body = text === "" ? {} : (JSON.parse(text) as Record<string, unknown>);
  for (const key of ["access_token", "refresh_token"]) {
    const value = body[key];
    if (typeof value === "string") handedOut.push(value);
  }
  return { response, body };
}

function clientAuth(client: RegisteredClient): Record<string, string> {
  return client.client_secret === undefined
    ? { client_id: client.client_id }
    : { client_id: client.client_id, client_secret: client.client_secret };
}

async function exchange(
  client: RegisteredClient,
  code: string,
  flow: Flow,
  extra: Record<string, string> = {},
) {
  return tokenRequest({
    grant_type: "authorization_code",
    code,
    redirect_uri: flow.redirectUri,
    code_verifier: flow.verifier,
    ...clientAuth(client),
    ...extra,
  });
}

async function connect(client: RegisteredClient, user = "olive", flow = newFlow()) {
  const { code } = await approve(client, user, flow);
  const { response, body } = await exchange(client, code, flow);
  expect(response.status).toBe(200);
  return {
    flow,
    code,
    access: String(body.access_token),
    refresh: String(body.refresh_token),
    body,
  };
}

async function refresh(
  client: RegisteredClient,
  token: string,
  extra: Record<string, string> = {},
) {
  return tokenRequest({
    grant_type: "refresh_token",
    refresh_token: token,
    ...clientAuth(client),
    ...extra,
  });
}

// ---------------------------------------------------------------------------------------------

describe("discovery (RFC 8414, RFC 9728)", () => {
  test("the authorization server metadata names the wiki's exact issuer, S256 only and iss", async () => {
    for (const path of [
      "/.well-known/oauth-authorization-server",
      "/.well-known/oauth-authorization-server/mcp",
      // OIDC discovery, which some clients probe first (notes/mcp-and-oauth.md §2).
      "/.well-known/openid-configuration",
    ]) {
      const response = await fetch(`${wiki}${path}`);
      expect(response.status).toBe(200);
      expect(response.headers.get("access-control-allow-origin")).toBe("*");
      const metadata = (await response.json()) as Record<string, unknown>;
      expect(metadata.issuer).toBe(wiki);
      expect(metadata.authorization_endpoint).toBe(`${wiki}/oauth/authorize`);
      expect(metadata.token_endpoint).toBe(`${wiki}/oauth/token`);
      expect(metadata.registration_endpoint).toBe(`${wiki}/oauth/register`);
      expect(metadata.revocation_endpoint).toBe(`${wiki}/oauth/revoke`);
      expect(metadata.code_challenge_methods_supported).toEqual(["S256"]);
      expect(metadata.grant_types_supported).toEqual(["authorization_code", "refresh_token"]);
      expect(metadata.response_types_supported).toEqual(["code"]);
      expect(metadata.token_endpoint_auth_methods_supported).toEqual([
        "none",
        "client_secret_post",
        "client_secret_basic",
      ]);
      expect(metadata.scopes_supported).toEqual(["wiki:read", "wiki:write"]);
      expect(metadata.authorization_response_iss_parameter_supported).toBe(true);
    }
  });

  test("each wiki is its own issuer", async () => {
    const other = (await (
      await fetch(`${t.wikiOrigin("other")}/.well-known/oauth-authorization-server`)
    ).json()) as {
      issuer: string;
    };
    expect(other.issuer).toBe(t.wikiOrigin("other"));
  });

  test("the protected-resource metadata lists the wiki's issuer", async () => {
    for (const path of [
      "/.well-known/oauth-protected-resource/mcp",
      "/.well-known/oauth-protected-resource",
    ]) {
      const document = (await (await fetch(`${wiki}${path}`)).json()) as Record<string, unknown>;
      expect(document.authorization_servers).toEqual([wiki]);
    }
  });

  test("CORS preflights are answered on the metadata, token, registration and revocation endpoints", async () => {
    for (const path of [
      "/oauth/token",
      "/oauth/register",
      "/oauth/revoke",
      "/token",
      "/register",
      "/.well-known/oauth-authorization-server",
    ]) {
      const response = await fetch(`${wiki}${path}`, {
        method: "OPTIONS",
        headers: { origin: "https://inspector.example", "access-control-request-method": "POST" },
      });
      expect(response.status).toBe(204);
      expect(response.headers.get("access-control-allow-origin")).toBe("*");
      expect(response.headers.get("access-control-allow-methods")).toMatch(/\b(POST|GET)\b/);
    }
  });
});

describe("dynamic client registration (RFC 7591)", () => {
  test("a Claude.ai-shaped registration gets an id and a secret shown once", async () => {
    const response = await registerRaw({
      client_name: "Claude",
      redirect_uris: [CLAUDE_CALLBACK, CLAUDE_CALLBACK_NEW],
      token_endpoint_auth_method: "client_secret_post",
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      scope: "offline_access mcp:tools",
      application_type: "web",
    });
    expect(response.status).toBe(201);
    expect(response.headers.get("cache-control")).toBe("no-store");
    const client = (await response.json()) as Record<string, unknown>;
    expect(String(client.client_id)).toMatch(/^wbc_[a-z0-9]{16}$/);
    expect(String(client.client_secret)).toMatch(/^wbos_/);
    handedOut.push(String(client.client_secret));
    expect(client.client_secret_expires_at).toBe(0);
    expect(typeof client.client_id_issued_at).toBe("number");
    expect(client.token_endpoint_auth_method).toBe("client_secret_post");
    expect(client.redirect_uris).toEqual([CLAUDE_CALLBACK, CLAUDE_CALLBACK_NEW]);
    expect(client.client_name).toBe("Claude");
  });

  test("a public loopback client gets no secret; no method means client_secret_basic", async () => {
    const publicClient = await registerWith({
      redirect_uris: ["http://127.0.0.1/callback", "http://localhost/callback"],
      token_endpoint_auth_method: "none",
    });
    expect(publicClient.client_secret).toBeUndefined();
    expect(publicClient.token_endpoint_auth_method).toBe("none");
    const basic = await registerWith({ redirect_uris: ["https://app.example/cb"] });
    expect(basic.token_endpoint_auth_method).toBe("client_secret_basic");
    expect(basic.client_secret).toMatch(/^wbos_/);
  });

  test("the legacy /register alias registers too", async () => {
    const response = await registerRaw({ redirect_uris: [CLAUDE_CALLBACK] }, wiki, "/register");
    expect(response.status).toBe(201);
    handedOut.push(String(((await response.json()) as Record<string, unknown>).client_secret));
  });

  const refusals: [string, unknown, number, string][] = [
    [
      "a javascript: redirect",
      { redirect_uris: ["javascript:alert(1)"] },
      400,
      "invalid_redirect_uri",
    ],
    [
      "an http non-loopback redirect",
      { redirect_uris: ["http://evil.example/cb"] },
      400,
      "invalid_redirect_uri",
    ],
    [
      "http on a look-alike of localhost",
      { redirect_uris: ["http://localhost.evil.com/cb"] },
      400,
      "invalid_redirect_uri",
    ],
    ["a fragment", { redirect_uris: ["https://app.example/cb#x"] }, 400, "invalid_redirect_uri"],
    ["no redirect URIs", { client_name: "x" }, 400, "invalid_redirect_uri"],
    ["garbage JSON", "{not json", 400, "invalid_client_metadata"],
    [
      "an unsupported grant type",
      { redirect_uris: [CLAUDE_CALLBACK], grant_types: ["client_credentials"] },
      400,
      "invalid_client_metadata",
    ],
    [
      "an implicit response type",
      { redirect_uris: [CLAUDE_CALLBACK], response_types: ["token"] },
      400,
      "invalid_client_metadata",
    ],
    [
      "an unknown auth method",
      { redirect_uris: [CLAUDE_CALLBACK], token_endpoint_auth_method: "private_key_jwt" },
      400,
      "invalid_client_metadata",
    ],
    [
      "an oversized body",
      { redirect_uris: [CLAUDE_CALLBACK], client_name: "x".repeat(20_000) },
      413,
      "invalid_client_metadata",
    ],
  ];
  for (const [what, body, status, error] of refusals) {
    test(`refuses ${what}`, async () => {
      const response = await registerRaw(body);
      expect(response.status).toBe(status);
      expect(((await response.json()) as Record<string, unknown>).error).toBe(error);
    });
  }
});

describe("authorize → sign-in → consent → code", () => {
  test("an oversized state is refused with a page and nothing stored", async () => {
    const client = await registerClaude();
    const before = t.server.db
      .query<{ n: number }, []>("SELECT COUNT(*) AS n FROM oauth_requests")
      .get()?.n;
    const response = await fetch(
      authorizeUrl(client, { ...newFlow(), state: "s".repeat(8 * 1024) }),
      { headers: NAVIGATION_HEADERS, redirect: "manual" },
    );
    expect(response.status).toBe(400);
    expect(response.headers.get("location")).toBeNull();
    expect(await response.text()).toContain("limited to 1024 characters");
    const after = t.server.db
      .query<{ n: number }, []>("SELECT COUNT(*) AS n FROM oauth_requests")
      .get()?.n;
    expect(after).toBe(before);
  });

  test("new authorization requests are bounded per client: past the burst, 429 and nothing stored", async () => {
    const client = await registerClaude();
    const from = { ...NAVIGATION_HEADERS, "x-forwarded-for": "203.0.113.99" };
    for (let attempt = 0; attempt < 60; attempt++) {
      const response = await fetch(authorizeUrl(client, newFlow()), {
        headers: from,
        redirect: "manual",
      });
      expect(response.status).toBe(302);
    }
    const count = () =>
      t.server.db.query<{ n: number }, []>("SELECT COUNT(*) AS n FROM oauth_requests").get()?.n;
    const before = count();
    const refused = await fetch(authorizeUrl(client, newFlow()), {
      headers: from,
      redirect: "manual",
    });
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(count()).toBe(before);
    // Another client is not affected.
    const other = await fetch(authorizeUrl(client, newFlow()), {
      headers: { ...NAVIGATION_HEADERS, "x-forwarded-for": "203.0.113.100" },
      redirect: "manual",
    });
    expect(other.status).toBe(302);
  });

  test("a browser without a session goes through the apex handshake, then sees the consent page", async () => {
    const client = await registerClaude();
    const flow = newFlow();
    const first = await fetch(authorizeUrl(client, flow), {
      headers: NAVIGATION_HEADERS,
      redirect: "manual",
    });
    expect(first.status).toBe(302);
    const location = new URL(first.headers.get("location") ?? "");
    expect(location.origin).toBe(`http://127.0.0.1:${t.port}`);
    expect(location.pathname).toBe("/auth/handoff");
    expect(location.searchParams.get("return_to")).toMatch(
      new RegExp(`^${wiki}/oauth/authorize\\?request=wboq_`),
    );

    const browser = new Browser("olive");
    const page = await consent(browser, authorizeUrl(client, flow));
    expect(page.status).toBe(200);
    expect(page.html).toContain("<h1>Allow Claude to use notes?</h1>");
    expect(page.html).toContain("claude.ai");
    expect(page.html).toContain("Olive Owner (@olive.bsky.social)");
    expect(page.html).toContain("Read and write pages");
    expect(page.html).toMatch(
      /<button type="submit" name="decision" value="allow">Allow<\/button>/,
    );
    expect(page.html).toMatch(
      /<button type="submit" name="decision" value="deny"[^>]*>Deny<\/button>/,
    );
  });

  test("Allow redirects with code, state and iss; the code yields working tokens", async () => {
    const client = await registerClaude();
    const flow = newFlow();
    const { code, callback } = await approve(client, "olive", flow);
    expect(code).toMatch(/^wboc_/);
    expect(callback.get("state")).toBe(flow.state);
    expect(callback.get("iss")).toBe(wiki);
    const { response, body } = await exchange(client, code, flow);
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toBe("no-store");
    expect(response.headers.get("pragma")).toBe("no-cache");
    expect(body.token_type).toBe("Bearer");
    expect(body.expires_in).toBe(8 * 3600);
    expect(body.scope).toBe("wiki:read wiki:write");
    expect(String(body.access_token)).toMatch(/^wboa_/);
    expect(String(body.refresh_token)).toMatch(/^wbor_/);
    expect(await mcpInitializeStatus(t, "notes", String(body.access_token))).toBe(200);
    // Audience: the token is this wiki's and no other's.
    expect(await mcpInitializeStatus(t, "other", String(body.access_token))).toBe(401);
  });

  test("the second Claude callback and the legacy /authorize alias work", async () => {
    const client = await registerClaude();
    const flow = newFlow(CLAUDE_CALLBACK_NEW);
    const alias = await fetch(
      authorizeUrl(client, flow).replace("/oauth/authorize", "/authorize"),
      { redirect: "manual" },
    );
    expect(alias.status).toBe(302);
    expect(alias.headers.get("location")).toStartWith("/oauth/authorize?");
    const { code } = await approve(client, "olive", flow);
    const { response } = await exchange(client, code, flow);
    expect(response.status).toBe(200);
  });

  test("a viewer's consent grants wiki:read only", async () => {
    const client = await registerClaude();
    const flow = newFlow();
    const { code, page } = await approve(client, "vera", flow, { scope: "wiki:read wiki:write" });
    expect(page.html).toContain("Read pages");
    expect(page.html).not.toContain("Read and write pages");
    const { body } = await exchange(client, code, flow);
    expect(body.scope).toBe("wiki:read");
  });

  test("unknown scopes are ignored; asking for wiki:read grants only that", async () => {
    const client = await registerClaude();
    const first = newFlow();
    const claudeai = await approve(client, "eddie", first, { scope: "claudeai offline_access" });
    expect((await exchange(client, claudeai.code, first)).body.scope).toBe("wiki:read wiki:write");
    const second = newFlow();
    const readOnly = await approve(client, "eddie", second, { scope: "wiki:read" });
    expect((await exchange(client, readOnly.code, second)).body.scope).toBe("wiki:read");
  });

  test("a person without a role gets a 403 page and no code", async () => {
    const client = await registerClaude();
    const browser = new Browser("nora");
    const { response } = await browser.open(authorizeUrl(client, newFlow()));
    expect(response.status).toBe(403);
    const html = await response.text();
    expect(html).toContain("<h1>You have no access to notes</h1>");
    expect(html).not.toContain('name="csrf"');
    expect(html).not.toContain("wboc_");
  });

  test("Deny redirects with access_denied, state and iss", async () => {
    const client = await registerClaude();
    const flow = newFlow();
    const browser = new Browser("olive");
    const page = await consent(browser, authorizeUrl(client, flow));
    const callback = callbackOf(
      await decide(browser, { request: page.request(), csrf: page.csrf(), decision: "deny" }),
    );
    expect(callback.get("error")).toBe("access_denied");
    expect(callback.get("state")).toBe(flow.state);
    expect(callback.get("iss")).toBe(wiki);
    expect(callback.get("code")).toBeNull();
  });

  test("a public loopback client is matched on any port (RFC 8252 §7.3)", async () => {
    const client = await registerWith({
      redirect_uris: ["http://127.0.0.1/callback"],
      token_endpoint_auth_method: "none",
    });
    const flow = newFlow("http://127.0.0.1:54321/callback");
    const { code, callback, page } = await approve(client, "olive", flow);
    expect(page.html).toContain("a program on your own computer");
    expect(callback.get("iss")).toBe(wiki);
    const { response, body } = await exchange(client, code, flow);
    expect(response.status).toBe(200);
    expect(await mcpInitializeStatus(t, "notes", String(body.access_token))).toBe(200);
  });
});

describe("authorization request refusals", () => {
  async function openAsOlive(url: string) {
    const { response } = await new Browser("olive").open(url);
    return response;
  }

  test("an unknown client, or one registered at another wiki, gets a 400 page and never a redirect", async () => {
    const elsewhere = await registerClaude(t.wikiOrigin("other"));
    for (const client of [{ ...elsewhere }, { ...elsewhere, client_id: "wbc_aaaaaaaaaaaaaaaa" }]) {
      const response = await openAsOlive(authorizeUrl(client, newFlow()));
      expect(response.status).toBe(400);
      expect(response.headers.get("location")).toBeNull();
      expect(await response.text()).toContain("not registered with this wiki");
    }
  });

  test("a redirect URI one character off gets a 400 page and never a redirect", async () => {
    const client = await registerClaude();
    for (const uri of [
      `${CLAUDE_CALLBACK}x`,
      CLAUDE_CALLBACK.replace("claude.ai", "claude.ai.evil.com"),
      "javascript:alert(1)",
    ]) {
      const response = await openAsOlive(authorizeUrl(client, newFlow(uri)));
      expect(response.status).toBe(400);
      expect(response.headers.get("location")).toBeNull();
    }
  });

  // Parameters set to "" are left out of the request.
  const redirected: [string, () => Record<string, string>, string][] = [
    ["missing PKCE", () => ({ code_challenge: "", code_challenge_method: "" }), "invalid_request"],
    ["plain PKCE", () => ({ code_challenge_method: "plain" }), "invalid_request"],
    [
      "PKCE without a method (plain by default)",
      () => ({ code_challenge_method: "" }),
      "invalid_request",
    ],
    ["a challenge that is no SHA-256", () => ({ code_challenge: "short" }), "invalid_request"],
    ["another resource", () => ({ resource: "https://evil.example/mcp" }), "invalid_target"],
    [
      "another wiki's resource",
      () => ({ resource: `${t.wikiOrigin("other")}/mcp` }),
      "invalid_target",
    ],
    ["the wiki's origin as resource", () => ({ resource: wiki }), "invalid_target"],
    ["response_type=token", () => ({ response_type: "token" }), "unsupported_response_type"],
  ];
  for (const [what, extra, error] of redirected) {
    test(`${what} → redirect with ${error}, state and iss`, async () => {
      const client = await registerClaude();
      const flow = newFlow();
      const params = extra();
      const url = new URL(authorizeUrl(client, flow, params));
      for (const [name, value] of Object.entries(params))
        if (value === "") url.searchParams.delete(name);
      const response = await fetch(url, { redirect: "manual" });
      const callback = callbackOf(response);
      expect(callback.get("error")).toBe(error);
      expect(callback.get("state")).toBe(flow.state);
      expect(callback.get("iss")).toBe(wiki);
      expect(callback.get("code")).toBeNull();
    });
  }

  test("the resource may be given as the wiki's MCP URL, with or without a trailing slash", async () => {
    const client = await registerClaude();
    for (const resource of [`${wiki}/mcp`, `${wiki}/mcp/`]) {
      const flow = newFlow();
      const { code } = await approve(client, "olive", flow, { resource });
      const { response } = await exchange(client, code, flow, { resource: `${wiki}/mcp` });
      expect(response.status).toBe(200);
    }
  });
});

describe("consent CSRF: forged decisions are refused", () => {
  async function pending() {
    const client = await registerClaude();
    const browser = new Browser("olive");
    const page = await consent(browser, authorizeUrl(client, newFlow()));
    return { browser, request: page.request(), csrf: page.csrf() };
  }

  test("no csrf, a wrong csrf, a cross-site Origin, no Origin, another person's session", async () => {
    const { browser, request, csrf } = await pending();
    const attempts: [Browser, Record<string, string>, Record<string, string>][] = [
      [browser, { request, decision: "allow" }, { origin: wiki }],
      [
        browser,
        {
          request,
          csrf: `${csrf.slice(0, -1)}${csrf.endsWith("A") ? "B" : "A"}`,
          decision: "allow",
        },
        { origin: wiki },
      ],
      [browser, { request, csrf, decision: "allow" }, { origin: "https://evil.example" }],
      [browser, { request, csrf, decision: "allow" }, { origin: t.wikiOrigin("other") }],
      [browser, { request, csrf, decision: "allow" }, { "sec-fetch-site": "cross-site" }],
      [
        browser,
        { request, csrf, decision: "allow" },
        { origin: "null", "sec-fetch-site": "same-site" },
      ],
    ];
    const eddie = new Browser("eddie");
    await eddie.open(`${wiki}/oauth/authorize?request=${request}`);
    attempts.push([eddie, { request, csrf, decision: "allow" }, { origin: wiki }]);
    for (const [who, fields, headers] of attempts) {
      const response = await decide(who, fields, headers);
      expect(response.status).toBe(403);
      expect(response.headers.get("location")).toBeNull();
    }
    // None of them spent the request: the real person can still answer, once.
    const real = await decide(browser, { request, csrf, decision: "allow" });
    expect(callbackOf(real).get("code")).toMatch(/^wboc_/);
    const again = await decide(browser, { request, csrf, decision: "allow" });
    expect(again.status).toBe(400);
  });

  test("a browser that withholds Origin is trusted on Sec-Fetch-Site: same-origin", async () => {
    const { browser, request, csrf } = await pending();
    const response = await decide(
      browser,
      { request, csrf, decision: "allow" },
      {
        origin: "null",
        "sec-fetch-site": "same-origin",
      },
    );
    expect(callbackOf(response).get("code")).toMatch(/^wboc_/);
  });

  test("markup in a client's name is shown as text", async () => {
    const client = await registerWith({
      client_name: '<img src=x onerror=alert(1)>"Evil"',
      redirect_uris: [CLAUDE_CALLBACK],
    });
    const page = await consent(new Browser("olive"), authorizeUrl(client, newFlow()));
    expect(page.html).not.toContain("<img");
    expect(page.html).toContain("&lt;img src=x onerror=alert(1)&gt;&quot;Evil&quot;");
  });

  test("without a session the decision is refused", async () => {
    const { request, csrf } = await pending();
    const response = await fetch(`${wiki}/oauth/authorize`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: wiki },
      body: new URLSearchParams({ request, csrf, decision: "allow" }),
      redirect: "manual",
    });
    expect(response.status).toBe(403);
  });
});

describe("token endpoint", () => {
  test("client_secret_basic: form-urlencoded id and secret in Basic; the method must match", async () => {
    const client = await registerWith({ redirect_uris: [CLAUDE_CALLBACK] });
    const flow = newFlow();
    const { code } = await approve(client, "olive", flow);
    const basic = `Basic ${Buffer.from(`${encodeURIComponent(client.client_id)}:${encodeURIComponent(client.client_secret ?? "")}`).toString("base64")}`;
    // The same secret in the body is the wrong method for this client.
    const wrongMethod = await exchange(client, code, flow);
    expect(wrongMethod.response.status).toBe(401);
    expect(wrongMethod.body.error).toBe("invalid_client");

    const flow2 = newFlow();
    const second = await approve(client, "olive", flow2);
    const { response, body } = await tokenRequest(
      {
        grant_type: "authorization_code",
        code: second.code,
        redirect_uri: flow2.redirectUri,
        code_verifier: flow2.verifier,
      },
      { authorization: basic },
    );
    expect(response.status).toBe(200);
    expect(await mcpInitializeStatus(t, "notes", String(body.access_token))).toBe(200);

    const wrong = await tokenRequest(
      { grant_type: "refresh_token", refresh_token: String(body.refresh_token) },
      { authorization: `Basic ${Buffer.from(`${client.client_id}:wbos_nope`).toString("base64")}` },
    );
    expect(wrong.response.status).toBe(401);
    expect(wrong.body.error).toBe("invalid_client");
    expect(wrong.response.headers.get("www-authenticate")).toStartWith("Basic realm=");
  });

  test("a confidential client without its secret, or with another's, is invalid_client", async () => {
    const client = await registerClaude();
    const other = await registerClaude();
    const flow = newFlow();
    const { code } = await approve(client, "olive", flow);
    const none = await exchange({ ...client, client_secret: undefined }, code, flow);
    expect(none.response.status).toBe(401);
    const crossed = await exchange({ ...client, client_secret: other.client_secret }, code, flow);
    expect(crossed.response.status).toBe(401);
    expect(crossed.body.error).toBe("invalid_client");
  });

  test("the legacy /token alias exchanges codes", async () => {
    const client = await registerClaude();
    const flow = newFlow();
    const { code } = await approve(client, "olive", flow);
    const { response } = await tokenRequest(
      {
        grant_type: "authorization_code",
        code,
        redirect_uri: flow.redirectUri,
        code_verifier: flow.verifier,
        ...clientAuth(client),
      },
      {},
      "/token",
    );
    expect(response.status).toBe(200);
  });

  test("a wrong verifier is invalid_grant and spends the code", async () => {
    const client = await registerClaude();
    const flow = newFlow();
    const { code } = await approve(client, "olive", flow);
    const wrong = await exchange(client, code, flow, { code_verifier: randomVerifier() });
    expect(wrong.response.status).toBe(400);
    expect(wrong.body.error).toBe("invalid_grant");
    expect(typeof wrong.body.error_description).toBe("string");
    expect((await exchange(client, code, flow)).response.status).toBe(400);
  });

  test("a redirect_uri or resource differing from the authorization request is refused", async () => {
    const client = await registerClaude();
    const flow = newFlow();
    const { code } = await approve(client, "olive", flow);
    const redirect = await exchange(client, code, flow, { redirect_uri: CLAUDE_CALLBACK_NEW });
    expect(redirect.body.error).toBe("invalid_grant");
    const flow2 = newFlow();
    const second = await approve(client, "olive", flow2);
    const resource = await exchange(client, second.code, flow2, {
      resource: `${t.wikiOrigin("other")}/mcp`,
    });
    expect(resource.body.error).toBe("invalid_target");
  });

  test("a replayed code fails and revokes every token issued from it (RFC 6749 §10.5)", async () => {
    const client = await registerClaude();
    const { flow, code, access, refresh: refreshToken } = await connect(client);
    expect(await mcpInitializeStatus(t, "notes", access)).toBe(200);
    const replay = await exchange(client, code, flow);
    expect(replay.response.status).toBe(400);
    expect(replay.body.error).toBe("invalid_grant");
    expect(await mcpInitializeStatus(t, "notes", access)).toBe(401);
    expect((await refresh(client, refreshToken)).body.error).toBe("invalid_grant");
  });

  test("an expired code is refused", async () => {
    const client = await registerClaude();
    const flow = newFlow();
    const { code } = await approve(client, "olive", flow);
    setSystemTime(new Date(Date.now() + 6 * 60 * 1000));
    try {
      const { response, body } = await exchange(client, code, flow);
      expect(response.status).toBe(400);
      expect(body.error).toBe("invalid_grant");
      expect(String(body.error_description)).toContain("expired");
    } finally {
      setSystemTime();
    }
  });

  test("unsupported grant types and malformed requests", async () => {
    const client = await registerClaude();
    const unsupported = await tokenRequest({
      grant_type: "client_credentials",
      ...clientAuth(client),
    });
    expect(unsupported.body.error).toBe("unsupported_grant_type");
    const json = await fetch(`${wiki}/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ grant_type: "authorization_code" }),
    });
    expect(json.status).toBe(400);
    expect(((await json.json()) as Record<string, unknown>).error).toBe("invalid_request");
  });
});

describe("refresh tokens: rotation, one retry, reuse detection", () => {
  test("each refresh returns a new pair; the previous access token keeps working", async () => {
    const client = await registerClaude();
    const first = await connect(client);
    const second = await refresh(client, first.refresh);
    expect(second.response.status).toBe(200);
    expect(second.response.headers.get("cache-control")).toBe("no-store");
    expect(second.body.refresh_token).not.toBe(first.refresh);
    expect(second.body.access_token).not.toBe(first.access);
    expect(await mcpInitializeStatus(t, "notes", String(second.body.access_token))).toBe(200);
    const third = await refresh(client, String(second.body.refresh_token));
    expect(third.response.status).toBe(200);
  });

  test("a lost response: the previous token may be retried once within the grace, not twice", async () => {
    const client = await registerClaude();
    const first = await connect(client);
    const lost = await refresh(client, first.refresh);
    expect(lost.response.status).toBe(200);
    const retry = await refresh(client, first.refresh);
    expect(retry.response.status).toBe(200);
    const usable = String(retry.body.refresh_token);
    // The lost token never reached the client: presenting it now is theft, and so is a second retry.
    const secondRetry = await refresh(client, first.refresh);
    expect(secondRetry.body.error).toBe("invalid_grant");
    expect((await refresh(client, usable)).body.error).toBe("invalid_grant");
    expect(await mcpInitializeStatus(t, "notes", String(retry.body.access_token))).toBe(401);
  });

  test("reuse of an older refresh token revokes the whole grant", async () => {
    const client = await registerClaude();
    const first = await connect(client);
    const second = await refresh(client, first.refresh);
    const third = await refresh(client, String(second.body.refresh_token));
    expect(third.response.status).toBe(200);
    // first.refresh is now retired.
    const reuse = await refresh(client, first.refresh);
    expect(reuse.response.status).toBe(400);
    expect(reuse.body.error).toBe("invalid_grant");
    expect(await mcpInitializeStatus(t, "notes", String(third.body.access_token))).toBe(401);
    expect((await refresh(client, String(third.body.refresh_token))).body.error).toBe(
      "invalid_grant",
    );
  });

  test("the previous token outside the grace window is reuse", async () => {
    const client = await registerClaude();
    const first = await connect(client);
    const second = await refresh(client, first.refresh);
    setSystemTime(new Date(Date.now() + 2 * 60 * 1000));
    try {
      expect((await refresh(client, first.refresh)).body.error).toBe("invalid_grant");
      expect((await refresh(client, String(second.body.refresh_token))).body.error).toBe(
        "invalid_grant",
      );
    } finally {
      setSystemTime();
    }
  });

  test("scope may narrow, never widen", async () => {
    const client = await registerClaude();
    const first = await connect(client);
    const narrowed = await refresh(client, first.refresh, { scope: "wiki:read" });
    expect(narrowed.body.scope).toBe("wiki:read");
    const widened = await refresh(client, String(narrowed.body.refresh_token), {
      scope: "wiki:read wiki:write",
    });
    expect(widened.body.error).toBe("invalid_scope");
  });

  test("a person who lost their role cannot refresh, and the grant is revoked", async () => {
    await addUser(t, "rita", { wiki: "notes", role: "editor" });
    const client = await registerClaude();
    const first = await connect(client, "rita");
    await t.adminJson("revoke", "--wiki", "notes", "--user", "rita");
    const refused = await refresh(client, first.refresh);
    expect(refused.body.error).toBe("invalid_grant");
    const rows = t.server.db
      .query<{ revoked_at: number | null }, [string]>(
        "SELECT revoked_at FROM oauth_grants WHERE client_id = ?",
      )
      .all(client.client_id);
    expect(rows.length).toBe(1);
    expect(rows[0]?.revoked_at).not.toBeNull();
  });

  test("re-authorizing the same client replaces the earlier grant", async () => {
    const client = await registerClaude();
    const first = await connect(client, "eddie");
    const second = await connect(client, "eddie");
    expect(await mcpInitializeStatus(t, "notes", first.access)).toBe(401);
    expect(await mcpInitializeStatus(t, "notes", second.access)).toBe(200);
  });
});

describe("revocation (RFC 7009)", () => {
  test("revoking an access token ends only it; revoking the refresh token ends the grant", async () => {
    const client = await registerClaude();
    const { access, refresh: refreshToken } = await connect(client);
    const revokeAccess = await tokenRequest(
      { token: access, ...clientAuth(client) },
      {},
      "/oauth/revoke",
    );
    expect(revokeAccess.response.status).toBe(200);
    expect(await mcpInitializeStatus(t, "notes", access)).toBe(401);
    const next = await refresh(client, refreshToken);
    expect(next.response.status).toBe(200);
    const revokeRefresh = await tokenRequest(
      {
        token: String(next.body.refresh_token),
        token_type_hint: "refresh_token",
        ...clientAuth(client),
      },
      {},
      "/oauth/revoke",
    );
    expect(revokeRefresh.response.status).toBe(200);
    expect(await mcpInitializeStatus(t, "notes", String(next.body.access_token))).toBe(401);
  });

  test("unknown tokens get 200; another client's token is left alone; no client auth is 401", async () => {
    const client = await registerClaude();
    const other = await registerClaude();
    const { access } = await connect(client);
    expect(
      (await tokenRequest({ token: "wboa_nonsense", ...clientAuth(other) }, {}, "/oauth/revoke"))
        .response.status,
    ).toBe(200);
    expect(
      (await tokenRequest({ token: access, ...clientAuth(other) }, {}, "/oauth/revoke")).response
        .status,
    ).toBe(200);
    expect(await mcpInitializeStatus(t, "notes", access)).toBe(200);
    const anonymous = await tokenRequest({ token: access }, {}, "/oauth/revoke");
    expect(anonymous.response.status).toBe(401);
  });
});

describe("storage", () => {
  test("no secret, code, token or request handle is stored in plaintext", async () => {
    const client = await registerClaude();
    const browser = new Browser("olive");
    const page = await consent(browser, authorizeUrl(client, newFlow()));
    handedOut.push(page.request(), page.csrf());
    await connect(client);
    expect(handedOut.length).toBeGreaterThan(20);
    const dump = ["oauth_clients", "oauth_requests", "oauth_grants", "oauth_codes", "oauth_tokens"]
      .flatMap((table) => t.server.db.query(`SELECT * FROM ${table}`).all())
      .map((row) =>
        JSON.stringify(row, (_key, value) =>
          value instanceof Uint8Array ? Buffer.from(value).toString("hex") : value,
        ),
      )
      .join("\n");
    for (const secret of handedOut) {
      const secretPart = secret.slice(secret.indexOf(".") + 1);
      expect(dump).not.toContain(secretPart);
    }
    // And what is stored is the SHA-256 of the client secret.
    const stored = t.server.db
      .query<{ secret_hash: Uint8Array }, [string]>(
        "SELECT secret_hash FROM oauth_clients WHERE id = ?",
      )
      .get(client.client_id);
    expect(
      Buffer.from(stored?.secret_hash ?? new Uint8Array()).equals(
        Buffer.from(hashSecret(client.client_secret ?? "")),
      ),
    ).toBe(true);
  });
});

describe("registration limits", () => {
  test("one address registering in a burst is refused with 429 and Retry-After", async () => {
    const statuses: number[] = [];
    for (let index = 0; index < 15; index++) {
      const response = await registerRaw(
        { redirect_uris: [CLAUDE_CALLBACK] },
        t.wikiOrigin("other"),
        "/oauth/register",
        "198.51.100.7",
      );
      statuses.push(response.status);
      if (response.status === 429) {
        expect(Number(response.headers.get("retry-after"))).toBeGreaterThan(0);
        expect(((await response.json()) as Record<string, unknown>).error).toBe(
          "temporarily_unavailable",
        );
      } else {
        await response.arrayBuffer();
      }
    }
    expect(statuses).toContain(429);
  });
});
