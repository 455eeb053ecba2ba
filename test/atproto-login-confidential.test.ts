/**
 * The confidential client (https PUBLIC_URL): client_id is our metadata document, the token
 * request is authenticated with private_key_jwt (ES256, key in DATA_DIR/keys) and tokens are
 * DPoP-bound — against the same real local PDS, which fetches our metadata and JWKS. The PDS
 * requires an https client_id with a real-looking host, so PUBLIC_URL is
 * https://wiki.e2e.internal and the PDS's fetches of it are rewritten to a local forwarder
 * (notes/atproto-login.md §5, REWRITE recipe); the browser only drives the PDS's pages, and our
 * routes are called with that Host.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import type { Browser } from "playwright-core";
import { launchChromium } from "./support/browser.ts";
import { type LocalPds, localPdsEnv, startLocalPds } from "./support/pds.ts";
import { startTestServer, type TestServer } from "./support/server.ts";

setDefaultTimeout(120_000);

const PUBLIC_URL = "https://wiki.e2e.internal";
const PASSWORD = "correct horse battery";

let pds: LocalPds;
let t: TestServer;
let browser: Browser;
let forwarder: ReturnType<typeof Bun.serve>;
/** What the PDS fetched from us, by path. */
const fetchedByPds: string[] = [];

/** Calls our server as https://wiki.e2e.internal (the forwarder and the tests alike). */
function ours(path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set("host", new URL(PUBLIC_URL).host);
  return fetch(`http://127.0.0.1:${t.port}${path}`, { ...init, headers, redirect: "manual" });
}

beforeAll(async () => {
  forwarder = Bun.serve({
    port: 0,
    async fetch(request) {
      const url = new URL(request.url);
      fetchedByPds.push(url.pathname);
      const response = await ours(`${url.pathname}${url.search}`);
      return new Response(await response.arrayBuffer(), {
        status: response.status,
        headers: { "content-type": response.headers.get("content-type") ?? "text/plain" },
      });
    },
  });
  [pds, browser] = await Promise.all([
    startLocalPds({ REWRITE_FROM: PUBLIC_URL, REWRITE_TO: `http://localhost:${forwarder.port}` }),
    launchChromium(),
  ]);
  t = await startTestServer({
    PUBLIC_URL,
    ...localPdsEnv(pds),
  });
  await pds.createAccount({ name: "frank", password: PASSWORD, displayName: "Frank" });
});

afterAll(async () => {
  await browser?.close();
  await t?.close();
  await pds?.stop();
  forwarder?.stop(true);
});

test("our client metadata and JWKS are served, and the JWKS has no private members", async () => {
  const metadata = await ours("/auth/client-metadata.json");
  expect(metadata.status).toBe(200);
  expect(metadata.headers.get("content-type")).toStartWith("application/json");
  expect(await metadata.json()).toMatchObject({
    client_id: `${PUBLIC_URL}/auth/client-metadata.json`,
    redirect_uris: [`${PUBLIC_URL}/auth/callback`],
    scope: "atproto",
    token_endpoint_auth_method: "private_key_jwt",
    token_endpoint_auth_signing_alg: "ES256",
    dpop_bound_access_tokens: true,
    jwks_uri: `${PUBLIC_URL}/auth/jwks.json`,
  });
  const jwks = await (await ours("/auth/jwks.json")).json();
  expect(jwks.keys).toHaveLength(1);
  expect(jwks.keys[0]).toMatchObject({ kty: "EC", crv: "P-256", alg: "ES256" });
  expect(typeof jwks.keys[0].kid).toBe("string");
  for (const secret of ["d", "p", "q", "dp", "dq", "qi", "k"])
    expect(jwks.keys[0]).not.toHaveProperty(secret);
});

test("a new person signs in with private_key_jwt and DPoP and gets a secure host-only session", async () => {
  const start = await ours("/auth/login", {
    method: "POST",
    headers: { origin: PUBLIC_URL, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ handle: "frank.test" }),
  });
  expect(start.status).toBe(302);
  const authorize = new URL(start.headers.get("location") ?? "");
  expect(authorize.origin).toBe(pds.pdsUrl);
  expect(authorize.searchParams.get("client_id")).toBe(`${PUBLIC_URL}/auth/client-metadata.json`);
  // The PAR was accepted only after the PDS read our metadata and verified our client assertion
  // against the published key.
  expect(fetchedByPds).toContain("/auth/client-metadata.json");
  expect(fetchedByPds).toContain("/auth/jwks.json");

  // The person signs in and consents on the PDS; its redirect back to us is taken from the page.
  const context = await browser.newContext();
  const page = await context.newPage();
  const held: { url: URL | null } = { url: null };
  await context.route(
    (url) => url.origin === pds.pdsUrl && url.pathname === "/oauth/authorize/redirect",
    async (route) => {
      held.url = new URL(route.request().url());
      await route.abort();
    },
  );
  await page.goto(authorize.href);
  await page.locator("input[name=password]").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("button", { name: "Authorize" }).click();
  for (let i = 0; i < 100 && held.url === null; i++) await Bun.sleep(50);
  await context.close();
  if (held.url === null) throw new Error("the PDS never sent the browser back");
  expect(held.url.searchParams.get("redirect_uri")).toBe(`${PUBLIC_URL}/auth/callback`);
  const query = new URLSearchParams();
  for (const name of ["state", "iss", "code"])
    query.set(name, held.url.searchParams.get(name) ?? "");

  const callback = await ours(`/auth/callback?${query}`);
  expect(callback.status).toBe(302);
  expect(callback.headers.get("location")).toBe("/auth/signup");
  const signupCookie = callback.headers.getSetCookie()[0] ?? "";
  expect(signupCookie).toStartWith("__Host-wb_signup=signup_");
  expect(signupCookie).toContain("Secure");

  const signup = await ours("/auth/signup", {
    method: "POST",
    headers: {
      origin: PUBLIC_URL,
      "content-type": "application/x-www-form-urlencoded",
      cookie: signupCookie.split(";")[0] ?? "",
    },
    body: new URLSearchParams({ username: "frank" }),
  });
  expect(signup.status).toBe(302);
  expect(signup.headers.get("location")).toBe(`${PUBLIC_URL}/app/`);
  const cookies = signup.headers.getSetCookie();
  const session = cookies.find((cookie) => cookie.startsWith("__Host-wb_session=sess_"));
  expect(session).toContain("Secure");
  expect(session).toContain("HttpOnly");
  expect(cookies.some((cookie) => cookie.startsWith("__Host-wb_signup=;"))).toBe(true);
  const user = t.server.db
    .query<{ username: string; handle: string }, []>("SELECT username, handle FROM users")
    .all();
  expect(user).toEqual([{ username: "frank", handle: "frank.test" }]);
  // Nothing of the PDS session is kept: it was revoked after reading the identity.
  expect(t.server.db.query("SELECT COUNT(*) AS n FROM atproto_oauth_sessions").get()).toEqual({
    n: 0,
  });
});
