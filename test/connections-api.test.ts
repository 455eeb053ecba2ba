/**
 * Connected apps in the management API: `/api/wikis/{slug}/connections` (owners see and revoke
 * everyone's, members their own, strangers get 404) and `/api/me/connections` (a person's own
 * across wikis). Grants are made in the database as the authorization server leaves them
 * (test/support/connected-app.ts); revocation is checked where it takes effect: the tokens are
 * gone, the verifier refuses them and /mcp answers 401. Every answer is checked against
 * /api/openapi.json.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import SwaggerParser from "@apidevtools/swagger-parser";
import Ajv2020 from "ajv/dist/2020.js";
import {
  accessTokenState,
  connectApp,
  grantState,
  type TestConnection,
} from "./support/connected-app.ts";
import { mcpInitializeStatus } from "./support/mcp.ts";
import { addUser, startTestServer, type TestServer } from "./support/server.ts";
import { type SignedIn, signIn } from "./support/session.ts";

// Creates wikis (git) and starts Otterwiki processes; the 5 s default is too short on 2 cores.
setDefaultTimeout(60_000);

let t: TestServer;
let olive: SignedIn;
let eddie: SignedIn;
let vera: SignedIn;
let sam: SignedIn;
/** Every answer seen, checked against the OpenAPI document at the end. */
const samples: { method: string; pattern: string; status: number; body: unknown }[] = [];

/** lab: olive owns, eddie edits, vera views. garden: sam owns, olive edits. */
let eddieOnLab: TestConnection;
let veraOnLab: TestConnection;
let oliveOnLab: TestConnection;
let oliveOnGarden: TestConnection;

beforeAll(async () => {
  t = await startTestServer();
  await addUser(t, "olive", { displayName: "Olive Owner" });
  await addUser(t, "eddie", { displayName: "Eddie Editor" });
  await addUser(t, "vera", { displayName: "Vera Viewer" });
  await addUser(t, "sam", { displayName: "Sam Stranger" });
  await t.adminJson("create-wiki", "--slug", "lab", "--owner", "olive", "--name", "The Lab");
  await t.adminJson("grant", "--wiki", "lab", "--user", "eddie", "--role", "editor");
  await t.adminJson("grant", "--wiki", "lab", "--user", "vera", "--role", "viewer");
  await t.adminJson("create-wiki", "--slug", "garden", "--owner", "sam", "--name", "Garden");
  await t.adminJson("grant", "--wiki", "garden", "--user", "olive", "--role", "editor");
  olive = signIn(t, "olive");
  eddie = signIn(t, "eddie");
  vera = signIn(t, "vera");
  sam = signIn(t, "sam");
  const hourAgo = Math.floor(Date.now() / 1000) - 3600;
  eddieOnLab = connectApp(t, { slug: "lab", username: "eddie", createdAt: hourAgo - 20 });
  veraOnLab = connectApp(t, {
    slug: "lab",
    username: "vera",
    clientName: "Claude Code",
    redirectUri: "http://127.0.0.1:33418/callback",
    scopes: ["wiki:read"],
    createdAt: hourAgo - 10,
    lastUsedAt: hourAgo,
  });
  oliveOnLab = connectApp(t, { slug: "lab", username: "olive", createdAt: hourAgo });
  oliveOnGarden = connectApp(t, {
    slug: "garden",
    username: "olive",
    clientName: "Garden Bot",
    redirectUri: "https://bot.example.org/cb",
    createdAt: hourAgo + 10,
  });
});
afterAll(async () => {
  await t?.close();
});

/** A request from `who`'s browser, same-origin unless `origin` says otherwise. */
async function api(
  who: SignedIn | null,
  method: string,
  path: string,
  pattern: string,
  origin?: string,
  // biome-ignore lint/suspicious/noExplicitAny: JSON answers; every field read is checked by an expect
): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = { origin: origin ?? who?.origin ?? t.origin };
  if (who !== null) headers.cookie = who.apexCookie;
  const response = await fetch(`${who?.origin ?? t.origin}${path}`, { method, headers });
  const body = await response.json();
  if (response.status !== 200)
    expect(body).toEqual({ error: { code: expect.any(String), message: expect.any(String) } });
  samples.push({ method, pattern, status: response.status, body });
  return { status: response.status, body };
}

const WIKI_LIST = "/api/wikis/{slug}/connections";
const WIKI_ONE = "/api/wikis/{slug}/connections/{id}";
const MY_LIST = "/api/me/connections";
const MY_ONE = "/api/me/connections/{id}";

const ids = (body: { connections: { id: string }[] }) =>
  body.connections.map((connection) => connection.id);

describe("a wiki's connected apps", () => {
  test("the owner sees every connection, newest first, in the documented shape", async () => {
    const listed = await api(olive, "GET", "/api/wikis/lab/connections", WIKI_LIST);
    expect(listed.status).toBe(200);
    expect(ids(listed.body)).toEqual([oliveOnLab.grantId, veraOnLab.grantId, eddieOnLab.grantId]);
    const vera = listed.body.connections[1];
    expect(vera).toEqual({
      id: veraOnLab.grantId,
      client: { id: veraOnLab.clientId, name: "Claude Code", redirect_host: "127.0.0.1" },
      user: {
        username: "vera",
        did: expect.stringMatching(/^did:plc:/),
        display_name: "Vera Viewer",
      },
      scopes: ["wiki:read"],
      created_at: expect.any(String),
      last_used_at: expect.any(String),
    });
    expect(Date.parse(vera.last_used_at)).toBeGreaterThan(Date.parse(vera.created_at));
    const eddie = listed.body.connections[2];
    expect(eddie.client.redirect_host).toBe("claude.ai");
    expect(eddie.scopes).toEqual(["wiki:read", "wiki:write"]);
    expect(eddie.last_used_at).toBeNull();
  });

  test("an editor and a viewer see only their own; a stranger gets 404", async () => {
    const asEditor = await api(eddie, "GET", "/api/wikis/lab/connections", WIKI_LIST);
    expect(asEditor.status).toBe(200);
    expect(ids(asEditor.body)).toEqual([eddieOnLab.grantId]);
    const asViewer = await api(vera, "GET", "/api/wikis/lab/connections", WIKI_LIST);
    expect(ids(asViewer.body)).toEqual([veraOnLab.grantId]);
    const asStranger = await api(sam, "GET", "/api/wikis/lab/connections", WIKI_LIST);
    expect(asStranger.status).toBe(404);
    const unknownWiki = await api(olive, "GET", "/api/wikis/nowhere/connections", WIKI_LIST);
    expect(unknownWiki.status).toBe(404);
    expect((await api(null, "GET", "/api/wikis/lab/connections", WIKI_LIST)).status).toBe(401);
  });

  test("the app's token works on /mcp before anything is revoked", async () => {
    expect(accessTokenState(t, eddieOnLab.accessToken)).toBe("valid");
    expect(await mcpInitializeStatus(t, "lab", eddieOnLab.accessToken)).toBe(200);
  });

  test("a viewer may not revoke someone else's connection, nor a stranger anyone's", async () => {
    const path = `/api/wikis/lab/connections/${eddieOnLab.grantId}`;
    const byViewer = await api(vera, "DELETE", path, WIKI_ONE);
    expect(byViewer.status).toBe(403);
    expect(byViewer.body.error.code).toBe("forbidden");
    const byStranger = await api(sam, "DELETE", path, WIKI_ONE);
    expect(byStranger.status).toBe(404);
    expect(grantState(t, eddieOnLab.grantId)).toEqual({ tokens: 1, revoked: false });
    expect(accessTokenState(t, eddieOnLab.accessToken)).toBe("valid");
  });

  test("a grant of another wiki is not found through this one, even for its owner", async () => {
    // olive owns lab and connected an app on garden: lab's URL must not reach garden's grant.
    const through = await api(
      olive,
      "DELETE",
      `/api/wikis/lab/connections/${oliveOnGarden.grantId}`,
      WIKI_ONE,
    );
    expect(through.status).toBe(404);
    expect(grantState(t, oliveOnGarden.grantId)).toEqual({ tokens: 1, revoked: false });
    const unknown = await api(olive, "DELETE", "/api/wikis/lab/connections/nosuchgrant", WIKI_ONE);
    expect(unknown.status).toBe(404);
    const overlong = await api(
      olive,
      "DELETE",
      `/api/wikis/lab/connections/${"x".repeat(65)}`,
      WIKI_ONE,
    );
    expect(overlong.status).toBe(400);
  });

  test("a cross-site DELETE is refused and changes nothing", async () => {
    const path = `/api/wikis/lab/connections/${eddieOnLab.grantId}`;
    const forged = await api(olive, "DELETE", path, WIKI_ONE, "https://evil.example");
    expect(forged.status).toBe(403);
    expect(forged.body.error.code).toBe("cross_origin");
    const mine = `/api/me/connections/${oliveOnLab.grantId}`;
    const forgedMine = await api(olive, "DELETE", mine, MY_ONE, "https://evil.example");
    expect(forgedMine.status).toBe(403);
    expect(grantState(t, eddieOnLab.grantId)).toEqual({ tokens: 1, revoked: false });
    expect(grantState(t, oliveOnLab.grantId)).toEqual({ tokens: 1, revoked: false });
  });

  test("the owner revokes someone's connection: its tokens are gone and /mcp refuses it", async () => {
    const path = `/api/wikis/lab/connections/${eddieOnLab.grantId}`;
    const revoked = await api(olive, "DELETE", path, WIKI_ONE);
    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({
      id: eddieOnLab.grantId,
      client: { name: "Claude" },
      user: { username: "eddie" },
    });
    expect(grantState(t, eddieOnLab.grantId)).toEqual({ tokens: 0, revoked: true });
    expect(accessTokenState(t, eddieOnLab.accessToken)).not.toBe("valid");
    expect(await mcpInitializeStatus(t, "lab", eddieOnLab.accessToken)).toBe(401);

    const again = await api(olive, "DELETE", path, WIKI_ONE);
    expect(again.status).toBe(404);
    const listed = await api(olive, "GET", "/api/wikis/lab/connections", WIKI_LIST);
    expect(ids(listed.body)).toEqual([oliveOnLab.grantId, veraOnLab.grantId]);
    const asEditor = await api(eddie, "GET", "/api/wikis/lab/connections", WIKI_LIST);
    expect(ids(asEditor.body)).toEqual([]);
  });

  test("a viewer revokes their own connection", async () => {
    const path = `/api/wikis/lab/connections/${veraOnLab.grantId}`;
    const revoked = await api(vera, "DELETE", path, WIKI_ONE);
    expect(revoked.status).toBe(200);
    expect(revoked.body.id).toBe(veraOnLab.grantId);
    expect(grantState(t, veraOnLab.grantId)).toEqual({ tokens: 0, revoked: true });
    expect(accessTokenState(t, veraOnLab.accessToken)).not.toBe("valid");
  });
});

describe("your connected apps across wikis", () => {
  test("lists the caller's own connections on every wiki, with the wiki", async () => {
    const mine = await api(olive, "GET", "/api/me/connections", MY_LIST);
    expect(mine.status).toBe(200);
    expect(ids(mine.body)).toEqual([oliveOnGarden.grantId, oliveOnLab.grantId]);
    expect(mine.body.connections[0]).toMatchObject({
      wiki: { slug: "garden", name: "Garden" },
      client: { name: "Garden Bot", redirect_host: "bot.example.org" },
      user: { username: "olive", display_name: "Olive Owner" },
    });
    expect(mine.body.connections[1].wiki).toEqual({ slug: "lab", name: "The Lab" });
    const strangers = await api(sam, "GET", "/api/me/connections", MY_LIST);
    expect(strangers.body.connections).toEqual([]);
    expect((await api(null, "GET", "/api/me/connections", MY_LIST)).status).toBe(401);
  });

  test("someone else's connection is not found, even for the wiki's owner", async () => {
    const other = connectApp(t, { slug: "lab", username: "eddie", clientName: "Second" });
    const attempt = await api(olive, "DELETE", `/api/me/connections/${other.grantId}`, MY_ONE);
    expect(attempt.status).toBe(404);
    expect(grantState(t, other.grantId)).toEqual({ tokens: 1, revoked: false });
    const mine = await api(eddie, "DELETE", `/api/me/connections/${other.grantId}`, MY_ONE);
    expect(mine.status).toBe(200);
    expect(grantState(t, other.grantId)).toEqual({ tokens: 0, revoked: true });
  });

  test("revoking one of your own ends it on its wiki, the others stay", async () => {
    const path = `/api/me/connections/${oliveOnGarden.grantId}`;
    const revoked = await api(olive, "DELETE", path, MY_ONE);
    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({
      id: oliveOnGarden.grantId,
      wiki: { slug: "garden", name: "Garden" },
    });
    expect(grantState(t, oliveOnGarden.grantId)).toEqual({ tokens: 0, revoked: true });
    expect(accessTokenState(t, oliveOnGarden.accessToken)).not.toBe("valid");
    expect(accessTokenState(t, oliveOnLab.accessToken)).toBe("valid");
    expect((await api(olive, "DELETE", path, MY_ONE)).status).toBe(404);
    const mine = await api(olive, "GET", "/api/me/connections", MY_LIST);
    expect(ids(mine.body)).toEqual([oliveOnLab.grantId]);
    // garden's owner no longer sees it either.
    const garden = await api(sam, "GET", "/api/wikis/garden/connections", WIKI_LIST);
    expect(ids(garden.body)).toEqual([]);
  });
});

describe("/api/openapi.json", () => {
  test("documents the four operations and every answer seen above", async () => {
    const document = await (await fetch(`${t.origin}/api/openapi.json`)).json();
    await SwaggerParser.validate(structuredClone(document) as never);
    for (const [path, method] of [
      [WIKI_LIST, "get"],
      [WIKI_ONE, "delete"],
      [MY_LIST, "get"],
      [MY_ONE, "delete"],
    ] as const) {
      expect({ path, method, documented: document.paths[path]?.[method] !== undefined }).toEqual({
        path,
        method,
        documented: true,
      });
    }
    const dereferenced = (await SwaggerParser.dereference(
      structuredClone(document) as never,
      // biome-ignore lint/suspicious/noExplicitAny: an OpenAPI document walked by path; misses fail the expect below
    )) as any;
    const ajv = new Ajv2020({ strict: false, validateFormats: false });
    let checked = 0;
    for (const sample of samples) {
      const operation = dereferenced.paths[sample.pattern]?.[sample.method.toLowerCase()];
      const at = `${sample.method} ${sample.pattern} ${sample.status}`;
      expect({ at, documented: operation !== undefined }).toEqual({ at, documented: true });
      const schema =
        operation.responses[String(sample.status)]?.content?.["application/json"]?.schema;
      // 401 and the cross-origin 403 are answered in front of the router, in the same shape.
      if (schema === undefined) continue;
      const valid = ajv.validate(schema, sample.body);
      expect({ at, errors: valid ? null : ajv.errors }).toEqual({ at, errors: null });
      checked += 1;
    }
    expect(checked).toBeGreaterThan(15);
  });
});
