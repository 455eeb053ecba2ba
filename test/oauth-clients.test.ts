/**
 * Real OAuth clients against a wiki's own authorization server (issue 10, "Tests"): the MCP SDK
 * client's `OAuthClientProvider` + `auth()`, `mcp-remote` under Node, and Claude.ai- and Claude
 * Code-shaped clients with raw fetch. Each goes from the 401 on /mcp through protected-resource
 * metadata (RFC 9728), authorization-server metadata (RFC 8414), registration (RFC 7591), our
 * sign-in and consent page (headless Chromium, or fetch with the wiki host's session), the token
 * endpoint with PKCE, tools over /mcp, refresh and revocation (RFC 7009). Then the bearer side,
 * black box: a token at another wiki (MCP, REST, git), after the member is removed, a viewer's
 * token on a write tool, an expired token, and the commit trailer naming the client.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { auth, UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import {
  StreamableHTTPClientTransport,
  StreamableHTTPError,
} from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Browser } from "playwright-core";
import { z } from "zod";
import { gitText } from "../src/repo/git.ts";
import { repoDir } from "../src/wikis/wiki-paths.ts";
import { launchChromium, signedInContext } from "./support/browser.ts";
import { basicAuthorization } from "./support/git.ts";
import { callTool, connectMcp, INITIALIZE_MESSAGE, textOf } from "./support/mcp.ts";
import { startMcpRemote } from "./support/mcp-remote.ts";
import {
  authorizationResponse,
  authorizationServerMetadata,
  authorizationUrl,
  consentInBrowser,
  consentWithFetch,
  fetchConsentPage,
  MemoryOAuthProvider,
  pkcePair,
  register,
  revoke,
  startLoopbackReceiver,
  type TokenResponse,
  tokenRequest,
  tokenRowId,
  unusedPort,
} from "./support/oauth.ts";
import { addUser, createUserAndWiki, startTestServer, type TestServer } from "./support/server.ts";
import { signIn, wikiSession } from "./support/session.ts";
import {
  type Certificate,
  makeCertificate,
  startTlsFront,
  type TlsFront,
} from "./support/tls-front.ts";

// Chromium, Otterwiki, a Node child process and many round trips; the 5 s default is too short.
setDefaultTimeout(180_000);

let t: TestServer;
let browser: Browser;
let scratch: string;

beforeAll(async () => {
  t = await startTestServer();
  await createUserAndWiki(t, { username: "olive", slug: "demo", displayName: "Olive Owner" });
  await createUserAndWiki(t, { username: "pat", slug: "other", displayName: "Pat Other" });
  // Olive may edit both wikis, so a refusal of demo's token at "other" is about the audience.
  await t.adminJson("grant", "--wiki", "other", "--user", "olive", "--role", "editor");
  await addUser(t, "vera", { displayName: "Vera Viewer", wiki: "demo", role: "viewer" });
  await addUser(t, "erin", { displayName: "Erin Editor", wiki: "demo", role: "editor" });
  browser = await launchChromium();
  scratch = mkdtempSync(join(tmpdir(), "wikibot-oauth-clients-"));
});
afterAll(async () => {
  await browser?.close();
  await t?.close();
  if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
});

const mcpUrl = (slug: string) => `${t.wikiOrigin(slug)}/mcp`;

function wikiName(slug: string): string {
  const row = t.server.db
    .query<{ name: string }, [string]>("SELECT name FROM wikis WHERE slug = ?")
    .get(slug);
  if (row === null) throw new Error(`no wiki ${slug}`);
  return row.name;
}

function toolCallMessage(name: string, args: Record<string, unknown>) {
  return { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name, arguments: args } };
}

/** A raw JSON-RPC POST to /mcp with a bearer token: status and challenge. */
async function mcpPost(
  slug: string,
  token: string | null,
  message: unknown = INITIALIZE_MESSAGE,
): Promise<{ status: number; challenge: string; body: string }> {
  const response = await fetch(mcpUrl(slug), {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      ...(token === null ? {} : { authorization: `Bearer ${token}` }),
    },
    body: JSON.stringify(message),
  });
  return {
    status: response.status,
    challenge: response.headers.get("www-authenticate") ?? "",
    body: await response.text(),
  };
}

/** GET /api/v1/ on the wiki host: the cheapest "can this token read it" over REST. */
async function restStatus(slug: string, token: string): Promise<number> {
  const response = await fetch(`${t.wikiOrigin(slug)}/api/v1/`, {
    headers: { authorization: `Bearer ${token}` },
  });
  await response.arrayBuffer();
  return response.status;
}

/** git's first request of a clone, with the token as the Basic password (as git sends it). */
async function gitStatus(slug: string, token: string): Promise<number> {
  const response = await fetch(`${t.wikiOrigin(slug)}/repo.git/info/refs?service=git-upload-pack`, {
    headers: { authorization: basicAuthorization(token) },
  });
  await response.arrayBuffer();
  return response.status;
}

/** The status of a refused SDK call (StreamableHTTPError carries the HTTP status). */
async function refusedStatus(call: Promise<unknown>): Promise<number> {
  try {
    await call;
  } catch (error) {
    if (error instanceof StreamableHTTPError && error.code !== undefined) return error.code;
    throw error;
  }
  throw new Error("the call was expected to be refused");
}

const HistoryAnswer = z.object({ commits: z.array(z.object({ client: z.string() })) });

/** The `Client:` of a page's newest commit, read over REST with the given token. */
async function lastClientOf(slug: string, page: string, token: string): Promise<string> {
  const response = await fetch(
    `${t.wikiOrigin(slug)}/api/v1/pages/${encodeURIComponent(page)}/history`,
    { headers: { authorization: `Bearer ${token}` } },
  );
  expect(response.status).toBe(200);
  const history = HistoryAnswer.parse(await response.json());
  return history.commits[0]?.client ?? "";
}

interface Obtained {
  tokens: TokenResponse;
  clientId: string;
  tokenEndpoint: string;
  consentHtml: string;
}

const BEARER_CLIENT_NAME = "bearer-tests";
const BEARER_REDIRECT = "http://127.0.0.1/callback";
/** One registration per wiki for the bearer-side tests: /oauth/register is rate limited. */
const bearerClients = new Map<string, Promise<string>>();

function bearerClientId(slug: string, registrationEndpoint: string): Promise<string> {
  let made = bearerClients.get(slug);
  if (made === undefined) {
    made = register(registrationEndpoint, {
      client_name: BEARER_CLIENT_NAME,
      redirect_uris: [BEARER_REDIRECT],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    }).then((registered) => {
      if (registered.client === null) {
        throw new Error(`registration ${registered.status}: ${JSON.stringify(registered.body)}`);
      }
      return registered.client.client_id;
    });
    bearerClients.set(slug, made);
  }
  return made;
}

/**
 * A whole authorization-code flow with fetch for `username` on `slug`: a public client with a
 * loopback redirect, consent allowed through the wiki host's session, the code exchanged with
 * its verifier. The quick way to a real token for the bearer-side tests.
 */
async function obtainTokens(
  slug: string,
  username: string,
  scope = "wiki:read wiki:write",
): Promise<Obtained> {
  const metadata = await authorizationServerMetadata(t, slug);
  const clientId = await bearerClientId(slug, metadata.registration_endpoint);
  const redirectUri = BEARER_REDIRECT;
  const { verifier, challenge } = pkcePair();
  const jar = await wikiSession(t, slug, signIn(t, username));
  const consent = await consentWithFetch(
    authorizationUrl(metadata.authorization_endpoint, {
      clientId,
      redirectUri,
      challenge,
      state: "bearer-side",
      scope,
      resource: mcpUrl(slug),
    }),
    jar,
    "Allow",
  );
  const code = consent.redirectedTo.searchParams.get("code");
  if (code === null) throw new Error(`no code: ${consent.redirectedTo.href}`);
  const answer = await tokenRequest(metadata.token_endpoint, {
    grant_type: "authorization_code",
    code,
    redirect_uri: redirectUri,
    code_verifier: verifier,
    client_id: clientId,
    resource: mcpUrl(slug),
  });
  if (answer.tokens === null) {
    throw new Error(`token exchange ${answer.status}: ${JSON.stringify(answer.body)}`);
  }
  return {
    tokens: answer.tokens,
    clientId,
    tokenEndpoint: metadata.token_endpoint,
    consentHtml: consent.form.html,
  };
}

describe("discovery from the 401", () => {
  test("/mcp's 401 leads to the resource metadata, which names the wiki as its own issuer", async () => {
    const response = await fetch(mcpUrl("demo"), {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify(INITIALIZE_MESSAGE),
    });
    expect(response.status).toBe(401);
    const challenge = response.headers.get("www-authenticate") ?? "";
    const resourceMetadata = /resource_metadata="([^"]+)"/.exec(challenge)?.[1];
    expect(resourceMetadata).toBe(
      `${t.wikiOrigin("demo")}/.well-known/oauth-protected-resource/mcp`,
    );
    const prm = await fetch(resourceMetadata ?? "");
    expect(prm.status).toBe(200);
    const document = z
      .object({ resource: z.string(), authorization_servers: z.array(z.string()).optional() })
      .parse(await prm.json());
    expect(document.resource).toBe(mcpUrl("demo"));
    expect(document.authorization_servers).toEqual([t.wikiOrigin("demo")]);

    const metadata = await authorizationServerMetadata(t, "demo");
    expect(metadata.issuer).toBe(t.wikiOrigin("demo"));
    expect(metadata.authorization_endpoint).toBe(`${t.wikiOrigin("demo")}/oauth/authorize`);
    expect(metadata.token_endpoint).toBe(`${t.wikiOrigin("demo")}/oauth/token`);
    expect(metadata.registration_endpoint).toBe(`${t.wikiOrigin("demo")}/oauth/register`);
    expect(metadata.revocation_endpoint).toBe(`${t.wikiOrigin("demo")}/oauth/revoke`);
    expect(metadata.code_challenge_methods_supported).toEqual(["S256"]);
    expect(metadata.token_endpoint_auth_methods_supported).toEqual(
      expect.arrayContaining(["none", "client_secret_post", "client_secret_basic"]),
    );
    // Another wiki is another issuer.
    expect((await authorizationServerMetadata(t, "other")).issuer).toBe(t.wikiOrigin("other"));
  });
});

describe("the MCP SDK client's own OAuth (OAuthClientProvider + auth())", () => {
  const clientMetadata = (redirect: string) => ({
    client_name: "sdk-oauth-test",
    redirect_uris: [redirect],
    grant_types: ["authorization_code", "refresh_token"],
    response_types: ["code"],
    token_endpoint_auth_method: "none",
  });

  test("discovery, registration, sign-in and consent in Chromium, tools, a write, refresh, revocation", async () => {
    const receiver = startLoopbackReceiver();
    const provider = new MemoryOAuthProvider({
      redirectUrl: receiver.url,
      clientMetadata: clientMetadata(receiver.url),
      state: "sdk-state-1",
    });
    const serverUrl = new URL(mcpUrl("demo"));
    try {
      // 1. The first connect meets the 401: the SDK discovers, registers and asks to redirect.
      const first = new StreamableHTTPClientTransport(serverUrl, { authProvider: provider });
      await expect(
        new Client({ name: "sdk-oauth", version: "1.0.0" }).connect(first),
      ).rejects.toBeInstanceOf(UnauthorizedError);
      expect(provider.clientInformation()?.client_id).toStartWith("wbc_");
      const sent = provider.authorizationUrls[0];
      if (sent === undefined) throw new Error("the SDK asked for no redirect");
      expect(`${sent.origin}${sent.pathname}`).toBe(`${t.wikiOrigin("demo")}/oauth/authorize`);
      expect(sent.searchParams.get("code_challenge_method")).toBe("S256");
      expect(sent.searchParams.get("resource")).toBe(mcpUrl("demo"));
      expect(sent.searchParams.get("state")).toBe("sdk-state-1");

      // 2. The person: our sign-in handshake, then the consent page, then Allow.
      const context = await signedInContext(browser, signIn(t, "olive"));
      const consent = await consentInBrowser(context, sent.href, {
        decision: "Allow",
        redirectPrefix: receiver.url,
      });
      await context.close();
      expect(consent.heading).toBe(`Allow sdk-oauth-test to use ${wikiName("demo")}?`);
      expect(consent.text).toContain("127.0.0.1");
      expect(consent.text).toContain("Read and write pages");
      const returned = authorizationResponse(await receiver.next());
      expect(returned.state).toBe("sdk-state-1");
      expect(returned.iss).toBe(t.wikiOrigin("demo"));
      expect(returned.error).toBeNull();
      expect(returned.code).toStartWith("wboc_");

      // 3. The code is exchanged by the SDK; a fresh transport connects with the tokens.
      await first.finishAuth(returned.code ?? "");
      const issued = provider.tokens();
      expect(issued?.access_token).toStartWith("wboa_");
      expect(issued?.refresh_token).toStartWith("wbor_");
      expect(issued?.token_type.toLowerCase()).toBe("bearer");
      const client = new Client({ name: "sdk-oauth", version: "1.0.0" });
      await client.connect(
        new StreamableHTTPClientTransport(serverUrl, { authProvider: provider }),
      );
      const tools = await client.listTools();
      expect(tools.tools.map((tool) => tool.name)).toContain("write_note");
      const written = await callTool(client, "write_note", {
        path: "SDK OAuth",
        content: "# SDK OAuth\n\nWritten by the SDK's own OAuth client.\n",
      });
      expect(written.isError).toBeFalsy();
      expect(await lastClientOf("demo", "SDK OAuth", issued?.access_token ?? "")).toBe(
        "oauth/sdk-oauth-test",
      );

      // 4. Refresh: the access token runs out; the next call's 401 makes the SDK use the refresh
      // token (RFC 6749 §6) and retry, transparently, with rotated tokens.
      const before = provider.tokens();
      t.server.db
        .query("UPDATE oauth_tokens SET expires_at = ? WHERE id = ?")
        .run(Math.floor(Date.now() / 1000) - 1, tokenRowId(before?.access_token ?? ""));
      expect((await mcpPost("demo", before?.access_token ?? "")).status).toBe(401);
      const read = await callTool(client, "read_note", { path: "SDK OAuth" });
      expect(textOf(read)).toContain("Written by the SDK");
      expect(provider.savedTokens.length).toBe(2);
      const refreshed = provider.tokens();
      expect(refreshed?.access_token).not.toBe(before?.access_token);
      expect(refreshed?.refresh_token).toStartWith("wbor_");
      expect(refreshed?.refresh_token).not.toBe(before?.refresh_token);
      expect((await mcpPost("demo", refreshed?.access_token ?? "")).status).toBe(200);
      // auth() on its own with a stored refresh token also refreshes, without a redirect.
      expect(await auth(provider, { serverUrl })).toBe("AUTHORIZED");
      expect(provider.savedTokens.length).toBe(3);
      expect(provider.authorizationUrls.length).toBe(1);

      // 5. Revocation (RFC 7009) of the refresh token at the endpoint from the metadata takes the
      // grant's access tokens with it (§2.1): the SDK's next call meets a 401, its refresh is
      // refused, and it asks for a new authorization instead.
      const metadata = await authorizationServerMetadata(t, "demo");
      const latest = provider.tokens();
      expect(
        await revoke(metadata.revocation_endpoint, latest?.refresh_token ?? "", "refresh_token", {
          clientId: provider.clientInformation()?.client_id ?? "",
        }),
      ).toBe(200);
      expect((await mcpPost("demo", latest?.access_token ?? "")).status).toBe(401);
      await expect(client.callTool({ name: "list_notes", arguments: {} })).rejects.toBeInstanceOf(
        UnauthorizedError,
      );
      expect(provider.authorizationUrls.length).toBe(2);
      expect(provider.tokens()).toBeUndefined();
      await client.close();
    } finally {
      receiver.close();
    }
  });

  test("Deny sends the client access_denied with its state and the issuer, and no code", async () => {
    const receiver = startLoopbackReceiver();
    const provider = new MemoryOAuthProvider({
      redirectUrl: receiver.url,
      clientMetadata: clientMetadata(receiver.url),
      state: "sdk-state-deny",
    });
    try {
      const transport = new StreamableHTTPClientTransport(new URL(mcpUrl("demo")), {
        authProvider: provider,
      });
      await expect(
        new Client({ name: "sdk-oauth", version: "1.0.0" }).connect(transport),
      ).rejects.toBeInstanceOf(UnauthorizedError);
      const sent = provider.authorizationUrls[0];
      if (sent === undefined) throw new Error("the SDK asked for no redirect");
      const context = await signedInContext(browser, signIn(t, "olive"));
      await consentInBrowser(context, sent.href, {
        decision: "Deny",
        redirectPrefix: receiver.url,
      });
      await context.close();
      const returned = authorizationResponse(await receiver.next());
      expect(returned.error).toBe("access_denied");
      expect(returned.state).toBe("sdk-state-deny");
      expect(returned.iss).toBe(t.wikiOrigin("demo"));
      expect(returned.code).toBeNull();
      const grants = t.server.db
        .query<{ n: number }, [string]>(
          "SELECT count(*) AS n FROM oauth_grants WHERE client_id = ?",
        )
        .get(provider.clientInformation()?.client_id ?? "");
      expect(grants?.n).toBe(0);
    } finally {
      receiver.close();
    }
  });
});

describe("mcp-remote (Claude Desktop's proxy for remote servers), over https", () => {
  // mcp-remote's SDK sends credentials only to an https token endpoint (or the exact host
  // `localhost`), so this server is behind an https front, as behind Caddy in production.
  const DOMAIN = "wikibot.localhost";
  let https: TestServer;
  let front: TlsFront;
  let certificate: Certificate;
  let publicOrigin: string;

  beforeAll(async () => {
    const port = unusedPort();
    publicOrigin = `https://${DOMAIN}:${port}`;
    https = await startTestServer({ PUBLIC_URL: publicOrigin });
    certificate = makeCertificate(scratch, DOMAIN);
    front = startTlsFront({ port, target: https.port, certificate });
    await createUserAndWiki(https, { username: "olive", slug: "demo" });
  });
  afterAll(async () => {
    front?.close();
    await https?.close();
  });

  test("completes its OAuth flow with consent in Chromium and lists the tools over stdio", async () => {
    const wikiOrigin = `https://demo.${DOMAIN}:${new URL(publicOrigin).port}`;
    const callbackPort = unusedPort();
    const remote = startMcpRemote({
      serverUrl: `${wikiOrigin}/mcp`,
      callbackPort,
      configDir: join(scratch, "mcp-remote"),
      env: { NODE_EXTRA_CA_CERTS: certificate.certPath },
    });
    try {
      const url = new URL(await remote.authorizationUrl);
      expect(`${url.origin}${url.pathname}`).toBe(`${wikiOrigin}/oauth/authorize`);
      expect(url.searchParams.get("resource")).toBe(`${wikiOrigin}/mcp`);
      const redirect = url.searchParams.get("redirect_uri") ?? "";
      expect(redirect).toBe(`http://localhost:${callbackPort}/oauth/callback`);
      const olive = signIn(https, "olive");
      const context = await browser.newContext({ ignoreHTTPSErrors: true });
      await context.addCookies([
        {
          name: olive.name,
          value: olive.value,
          url: olive.origin,
          httpOnly: true,
          secure: true,
          sameSite: "Lax",
        },
      ]);
      const consent = await consentInBrowser(context, url.href, {
        decision: "Allow",
        redirectPrefix: redirect,
      });
      await context.close();
      expect(consent.heading).toBe("Allow MCP CLI Proxy to use demo?");
      expect(consent.redirectedTo.searchParams.get("code")).toStartWith("wboc_");

      const initialized = await remote.request(1, "initialize", {
        protocolVersion: "2025-06-18",
        capabilities: {},
        clientInfo: { name: "stdio-test", version: "1" },
      });
      expect(initialized).toMatchObject({ id: 1, result: { serverInfo: { name: "wikibot" } } });
      remote.notify("notifications/initialized");
      const listed = z
        .object({ result: z.object({ tools: z.array(z.object({ name: z.string() })) }) })
        .parse(await remote.request(2, "tools/list"));
      expect(listed.result.tools.map((tool) => tool.name)).toContain("read_note");
      const grants = https.server.db
        .query<{ n: number }, []>(
          `SELECT count(*) AS n FROM oauth_grants g JOIN oauth_clients c ON c.id = g.client_id
           WHERE c.name = 'MCP CLI Proxy' AND g.revoked_at IS NULL`,
        )
        .get();
      expect(grants?.n).toBe(1);
    } catch (error) {
      throw new Error(`${error}\n--- mcp-remote stderr ---\n${remote.stderr()}`);
    } finally {
      await remote.stop();
    }
  });
});

const CLAUDE_CALLBACK = "https://claude.ai/api/mcp/auth_callback";

describe("a Claude.ai-shaped client", () => {
  test("client_secret_post, no resource, consent in Chromium, the legacy /register, /authorize and /token, tools", async () => {
    const origin = t.wikiOrigin("demo");
    // Claude takes the scope from the 401 challenge (anthropics/claude-ai-mcp#840).
    const unauthorized = await mcpPost("demo", null);
    expect(unauthorized.status).toBe(401);
    const scope = /scope="([^"]*)"/.exec(unauthorized.challenge)?.[1] ?? "";
    const metadata = await authorizationServerMetadata(t, "demo");
    // Claude has been seen to synthesize /register, /authorize and /token on the MCP host instead
    // of reading the metadata (anthropics/claude-ai-mcp#82, #341, #706): the legacy paths, all three.
    const registered = await register(`${origin}/register`, {
      redirect_uris: [CLAUDE_CALLBACK],
      token_endpoint_auth_method: "client_secret_post",
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      client_name: "Claude",
    });
    expect(registered.status).toBe(201);
    const client = registered.client;
    if (client === null) throw new Error(JSON.stringify(registered.body));
    expect(client.client_secret).toStartWith("wbos_");
    expect(client.token_endpoint_auth_method).toBe("client_secret_post");
    expect(client.redirect_uris).toEqual([CLAUDE_CALLBACK]);

    const { verifier, challenge } = pkcePair();
    const context = await signedInContext(browser, signIn(t, "olive"));
    const consent = await consentInBrowser(
      context,
      // No `resource` (BasedHardware/omi#12122): the wiki's MCP URL is the default audience.
      authorizationUrl(`${origin}/authorize`, {
        clientId: client.client_id,
        redirectUri: CLAUDE_CALLBACK,
        challenge,
        state: "claude-state",
        ...(scope === "" ? {} : { scope }),
      }),
      { decision: "Allow", redirectPrefix: CLAUDE_CALLBACK },
    );
    await context.close();
    expect(consent.heading).toBe(`Allow Claude to use ${wikiName("demo")}?`);
    expect(consent.text).toContain("claude.ai");
    const returned = authorizationResponse(consent.redirectedTo);
    expect(`${returned.url.origin}${returned.url.pathname}`).toBe(CLAUDE_CALLBACK);
    expect(returned.state).toBe("claude-state");
    expect(returned.iss).toBe(origin);
    const code = returned.code ?? "";
    expect(code).toStartWith("wboc_");

    // The secret in the body (client_secret_post), no resource.
    const exchanged = await tokenRequest(`${origin}/token`, {
      grant_type: "authorization_code",
      code,
      redirect_uri: CLAUDE_CALLBACK,
      code_verifier: verifier,
      client_id: client.client_id,
      client_secret: client.client_secret ?? "",
    });
    expect(exchanged.status).toBe(200);
    expect(exchanged.headers.get("cache-control")).toContain("no-store");
    const tokens = exchanged.tokens;
    if (tokens === null) throw new Error(JSON.stringify(exchanged.body));
    expect(tokens.token_type.toLowerCase()).toBe("bearer");
    expect(tokens.access_token).toStartWith("wboa_");
    expect(tokens.refresh_token).toStartWith("wbor_");
    expect(tokens.scope?.split(" ")).toContain("wiki:write");

    const mcp = await connectMcp(t, "demo", tokens.access_token, "Claude-User");
    const written = await callTool(mcp, "write_note", {
      path: "From Claude",
      content: "# From Claude\n",
    });
    expect(written.isError).toBeFalsy();
    await mcp.close();
    expect(await lastClientOf("demo", "From Claude", tokens.access_token)).toBe("oauth/Claude");

    // Refresh at /token: a wrong secret is invalid_client; the right one rotates the tokens.
    const wrongSecret = await tokenRequest(`${origin}/token`, {
      grant_type: "refresh_token",
      refresh_token: tokens.refresh_token ?? "",
      client_id: client.client_id,
      client_secret: `${client.client_secret ?? ""}x`,
    });
    expect(wrongSecret.status).toBe(401);
    expect(wrongSecret.body).toMatchObject({ error: "invalid_client" });
    const refreshed = await tokenRequest(`${origin}/token`, {
      grant_type: "refresh_token",
      refresh_token: tokens.refresh_token ?? "",
      client_id: client.client_id,
      client_secret: client.client_secret ?? "",
    });
    expect(refreshed.status).toBe(200);
    expect(refreshed.tokens?.access_token).not.toBe(tokens.access_token);
    const fresh = refreshed.tokens?.access_token ?? "";
    expect((await mcpPost("demo", fresh)).status).toBe(200);
    // Revoking the access token alone (RFC 7009, secret in the body) refuses it at once.
    expect(
      await revoke(metadata.revocation_endpoint, fresh, "access_token", {
        clientId: client.client_id,
        secret: client.client_secret ?? "",
      }),
    ).toBe(200);
    expect((await mcpPost("demo", fresh)).status).toBe(401);
  });

  test("a Claude Code-shaped public client on a random loopback port; a portless registration matches any port", async () => {
    const metadata = await authorizationServerMetadata(t, "demo");
    const jar = await wikiSession(t, "demo", signIn(t, "olive"));

    const flow = async (registeredRedirect: string, usedRedirect: string) => {
      const registered = await register(metadata.registration_endpoint, {
        redirect_uris: [registeredRedirect],
        token_endpoint_auth_method: "none",
        grant_types: ["authorization_code", "refresh_token"],
        response_types: ["code"],
        client_name: "Claude Code",
      });
      expect(registered.status).toBe(201);
      const client = registered.client;
      if (client === null) throw new Error(JSON.stringify(registered.body));
      expect(client.client_secret).toBeUndefined();
      const { verifier, challenge } = pkcePair();
      const consent = await consentWithFetch(
        authorizationUrl(metadata.authorization_endpoint, {
          clientId: client.client_id,
          redirectUri: usedRedirect,
          challenge,
          state: "cc-state",
          scope: "wiki:read wiki:write",
          resource: mcpUrl("demo"),
        }),
        jar,
        "Allow",
      );
      expect(consent.form.heading).toBe(`Allow Claude Code to use ${wikiName("demo")}?`);
      const returned = authorizationResponse(consent.redirectedTo);
      expect(`${returned.url.origin}${returned.url.pathname}`).toBe(usedRedirect);
      expect(returned.state).toBe("cc-state");
      expect(returned.iss).toBe(t.wikiOrigin("demo"));
      const exchanged = await tokenRequest(metadata.token_endpoint, {
        grant_type: "authorization_code",
        code: returned.code ?? "",
        redirect_uri: usedRedirect,
        code_verifier: verifier,
        client_id: client.client_id,
        resource: mcpUrl("demo"),
      });
      expect(exchanged.status).toBe(200);
      return { client, tokens: exchanged.tokens };
    };

    const port = unusedPort();
    const exact = await flow(
      `http://localhost:${port}/callback`,
      `http://localhost:${port}/callback`,
    );
    const mcp = await connectMcp(t, "demo", exact.tokens?.access_token ?? "", "claude-code");
    expect((await mcp.listTools()).tools.map((tool) => tool.name)).toContain("search");
    await mcp.close();

    // RFC 8252 §7.3: a loopback redirect matches on any port.
    const otherPort = unusedPort();
    const portless = await flow(
      "http://localhost/callback",
      `http://localhost:${otherPort}/callback`,
    );
    expect((await mcpPost("demo", portless.tokens?.access_token ?? "")).status).toBe(200);

    // Another path on the loopback host is not the registered URI: an error page, no redirect.
    const { challenge } = pkcePair();
    const wrongPath = await fetchConsentPage(
      authorizationUrl(metadata.authorization_endpoint, {
        clientId: portless.client.client_id,
        redirectUri: `http://localhost:${otherPort}/elsewhere`,
        challenge,
        state: "cc-state",
      }),
      jar,
    );
    expect(wrongPath.status).toBe(400);
    expect(wrongPath.location).toBeNull();
  });
});

describe("the bearer side", () => {
  test("wiki A's token is refused at wiki B over MCP, REST and git, where the person is a member", async () => {
    const { tokens } = await obtainTokens("demo", "olive");
    const token = tokens.access_token;
    expect((await mcpPost("demo", token)).status).toBe(200);
    expect(await restStatus("demo", token)).toBe(200);
    expect(await gitStatus("demo", token)).toBe(200);

    const atOther = await mcpPost("other", token);
    expect(atOther.status).toBe(401);
    expect(atOther.challenge).toContain('error="invalid_token"');
    expect(await restStatus("other", token)).toBe(401);
    expect(await gitStatus("other", token)).toBe(401);
  });

  test("the role is read afresh on every request: demoted, writes stop; removed, the token is dead", async () => {
    const { tokens, tokenEndpoint, clientId } = await obtainTokens("demo", "erin");
    const token = tokens.access_token;
    expect(tokens.scope?.split(" ")).toEqual(["wiki:read", "wiki:write"]);
    const owner = signIn(t, "olive");
    const members = (method: string, body?: unknown) =>
      fetch(`${owner.origin}/api/wikis/demo/members/erin.bsky.social`, {
        method,
        headers: {
          origin: owner.origin,
          cookie: owner.apexCookie,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });

    const mcp = await connectMcp(t, "demo", token);
    const before = await callTool(mcp, "write_note", { path: "Erin", content: "# Erin\n" });
    expect(before.isError).toBeFalsy();
    // Demoted to viewer: the same token, still carrying wiki:write, may no longer write.
    const demoted = await members("PUT", { role: "viewer" });
    expect(demoted.status).toBe(200);
    await demoted.arrayBuffer();
    const after = await callTool(mcp, "write_note", { path: "Erin", content: "# Erin 2\n" });
    expect(after.isError).toBe(true);
    expect(textOf(after)).toContain("your role on demo is viewer");
    expect((await callTool(mcp, "read_note", { path: "Erin" })).isError).toBeFalsy();
    await mcp.close();

    // Removed: the grant goes with the membership, so the very next request is 401 everywhere.
    const removed = await members("DELETE");
    expect(removed.status).toBe(200);
    await removed.arrayBuffer();
    const refusedMcp = await mcpPost("demo", token);
    expect(refusedMcp.status).toBe(401);
    expect(refusedMcp.challenge).toContain('error="invalid_token"');
    expect(await restStatus("demo", token)).toBe(401);
    // Nor can the refresh token mint a new access token.
    const refreshed = await tokenRequest(tokenEndpoint, {
      grant_type: "refresh_token",
      refresh_token: tokens.refresh_token ?? "",
      client_id: clientId,
    });
    expect(refreshed.status).toBe(400);
    expect(refreshed.body).toMatchObject({ error: "invalid_grant" });
  });

  test("a viewer is granted wiki:read only; a write tool is refused with the role as the reason", async () => {
    const { tokens, consentHtml } = await obtainTokens("demo", "vera");
    expect(consentHtml).toContain("Read pages");
    expect(consentHtml).not.toContain("Read and write pages");
    expect(tokens.scope?.split(" ")).toEqual(["wiki:read"]);
    const mcp = await connectMcp(t, "demo", tokens.access_token);
    expect((await callTool(mcp, "read_note", { path: "Home" })).isError).toBeFalsy();
    // More scope cannot help a viewer, so the server does not invite the client to ask for it
    // (src/mcp/handler.ts): the refusal is a tool error the agent can read, and nothing is written.
    const refused = await callTool(mcp, "write_note", { path: "Vera", content: "x" });
    expect(refused.isError).toBe(true);
    expect(textOf(refused)).toContain("your role on demo is viewer");
    await mcp.close();
    const page = await fetch(`${t.wikiOrigin("demo")}/api/v1/pages/Vera`, {
      headers: { authorization: `Bearer ${tokens.access_token}` },
    });
    expect(page.status).toBe(404);
    await page.arrayBuffer();
  });

  test("an editor's token with wiki:read only gets 403 insufficient_scope on a write tool", async () => {
    const { tokens } = await obtainTokens("demo", "olive", "wiki:read");
    expect(tokens.scope?.split(" ")).toEqual(["wiki:read"]);
    const mcp = await connectMcp(t, "demo", tokens.access_token);
    expect(
      await refusedStatus(
        mcp.callTool({ name: "write_note", arguments: { path: "Scoped", content: "x" } }),
      ),
    ).toBe(403);
    await mcp.close();
    const raw = await mcpPost(
      "demo",
      tokens.access_token,
      toolCallMessage("write_note", { path: "Scoped", content: "x" }),
    );
    expect(raw.status).toBe(403);
    // RFC 6750 §3.1 with the scope that would do (MCP 2025-11-25 step-up authorization).
    expect(raw.challenge).toContain('error="insufficient_scope"');
    expect(raw.challenge).toContain('scope="wiki:read wiki:write"');
    expect(raw.challenge).toContain(
      `resource_metadata="${t.wikiOrigin("demo")}/.well-known/oauth-protected-resource/mcp"`,
    );
  });

  test("an expired access token is refused with 401 invalid_token; its refresh token still works", async () => {
    const { tokens, tokenEndpoint, clientId } = await obtainTokens("demo", "olive");
    expect((await mcpPost("demo", tokens.access_token)).status).toBe(200);
    t.server.db
      .query("UPDATE oauth_tokens SET expires_at = ? WHERE id = ?")
      .run(Math.floor(Date.now() / 1000) - 1, tokenRowId(tokens.access_token));
    const expired = await mcpPost("demo", tokens.access_token);
    expect(expired.status).toBe(401);
    expect(expired.challenge).toContain('error="invalid_token"');
    expect(await restStatus("demo", tokens.access_token)).toBe(401);
    const refreshed = await tokenRequest(tokenEndpoint, {
      grant_type: "refresh_token",
      refresh_token: tokens.refresh_token ?? "",
      client_id: clientId,
    });
    expect((await mcpPost("demo", refreshed.tokens?.access_token ?? "")).status).toBe(200);
  });

  test("a commit made with an OAuth token names the client in its Client: trailer", async () => {
    const { tokens } = await obtainTokens("demo", "olive");
    const mcp = await connectMcp(t, "demo", tokens.access_token);
    const written = await callTool(mcp, "write_note", {
      path: "Trailer OAuth",
      content: "# Trailer OAuth\n",
    });
    expect(written.isError).toBeFalsy();
    await mcp.close();
    expect(await lastClientOf("demo", "Trailer OAuth", tokens.access_token)).toBe(
      `oauth/${BEARER_CLIENT_NAME}`,
    );
    const message = await gitText(repoDir(t.dataDir, "demo"), ["log", "-1", "--format=%B"]);
    expect(message.trim()).toEndWith(`Client: oauth/${BEARER_CLIENT_NAME}`);
  });
});
