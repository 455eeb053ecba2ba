/**
 * The management API (`/api` on the apex) against the real server: sessions made through
 * `completeSignIn` as the Bluesky login makes them, wikis created and deleted with their
 * repositories and Otterwiki processes, members and tokens checked where they are used (the
 * wiki host, /api/v1, /mcp). Also: who may call what, the same-origin and JSON rules, and that
 * /api/openapi.json is valid, lists every route and describes the real answers.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import SwaggerParser from "@apidevtools/swagger-parser";
import Ajv2020 from "ajv/dist/2020.js";
import { PendingSignupStore } from "../src/auth/atproto-login/pending-signup-store.ts";
import { mcpInitializeStatus } from "./support/mcp.ts";
import { addUser, startTestServer, type TestServer, testDid } from "./support/server.ts";
import { NAVIGATION_HEADERS, type SignedIn, signIn, wikiSession } from "./support/session.ts";

// Creates wikis (git) and starts Otterwiki processes; the 5 s default is too short on 2 cores.
setDefaultTimeout(60_000);

let t: TestServer;
let olive: SignedIn;
let eddie: SignedIn;
let vera: SignedIn;
/** Every answer seen, by "METHOD /api/path-pattern status", checked against the OpenAPI file. */
const samples: { method: string; pattern: string; status: number; body: unknown }[] = [];

beforeAll(async () => {
  t = await startTestServer();
  await addUser(t, "olive", { displayName: "Olive Owner" });
  await addUser(t, "eddie", { displayName: "Eddie Editor" });
  await addUser(t, "vera", { displayName: "Vera Viewer" });
  olive = signIn(t, "olive");
  eddie = signIn(t, "eddie");
  vera = signIn(t, "vera");
});
afterAll(async () => {
  await t?.close();
});

interface Call {
  body?: unknown;
  /** Raw body text, sent as is (for the content-type and JSON tests). */
  raw?: string;
  headers?: Record<string, string>;
  /** The path pattern for the OpenAPI check, e.g. /api/wikis/{slug}. */
  pattern?: string;
}

/** A same-origin JSON request from `who`'s browser, as the app will send it. */
async function api(
  who: SignedIn | null,
  method: string,
  path: string,
  call: Call = {},
  // biome-ignore lint/suspicious/noExplicitAny: JSON answers; every field read is checked by an expect
): Promise<{ status: number; body: any }> {
  const origin = who?.origin ?? t.origin;
  const headers: Record<string, string> = { origin };
  if (who !== null) headers.cookie = who.apexCookie;
  let body: string | undefined;
  if (call.raw !== undefined) body = call.raw;
  else if (call.body !== undefined) {
    body = JSON.stringify(call.body);
    headers["content-type"] = "application/json";
  }
  const response = await fetch(`${origin}${path}`, {
    method,
    headers: { ...headers, ...call.headers },
    body,
  });
  const text = await response.text();
  const parsed = text === "" ? null : JSON.parse(text);
  if (response.status !== 200 && response.status !== 201) {
    // Every refusal has the one error shape.
    expect(parsed).toEqual({ error: { code: expect.any(String), message: expect.any(String) } });
  }
  samples.push({ method, pattern: call.pattern ?? path, status: response.status, body: parsed });
  return { status: response.status, body: parsed };
}

async function createWiki(who: SignedIn, slug: string, extra: Record<string, unknown> = {}) {
  const created = await api(who, "POST", "/api/wikis", { body: { slug, ...extra } });
  expect(created.status).toBe(201);
  return created.body as { wiki: { slug: string }; token: string };
}

/** GET /api/v1/ on the wiki host with a wiki token: the cheapest "can this token read it". */
async function restRead(slug: string, token: string): Promise<number> {
  const response = await fetch(`${t.wikiOrigin(slug)}/api/v1/`, {
    headers: { authorization: `Bearer ${token}` },
  });
  await response.arrayBuffer();
  return response.status;
}

describe("the caller", () => {
  test("GET /api/me names the user and splits owned from shared wikis", async () => {
    await createWiki(olive, "olives", { name: "Olive's notes" });
    const granted = await api(olive, "PUT", "/api/wikis/olives/members/vera.bsky.social", {
      body: { role: "viewer" },
      pattern: "/api/wikis/{slug}/members/{member}",
    });
    expect(granted.status).toBe(200);
    const me = await api(vera, "GET", "/api/me");
    expect(me.status).toBe(200);
    expect(me.body.user).toEqual({
      did: expect.stringMatching(/^did:plc:/),
      handle: "vera.bsky.social",
      username: "vera",
      display_name: "Vera Viewer",
      avatar_url: null,
    });
    expect(me.body.wikis.owned).toEqual([]);
    expect(me.body.wikis.shared).toEqual([
      expect.objectContaining({ slug: "olives", name: "Olive's notes", role: "viewer" }),
    ]);
    const mine = await api(olive, "GET", "/api/me");
    expect(mine.body.wikis.owned.map((wiki: { slug: string }) => wiki.slug)).toEqual(["olives"]);
  });

  test("sign-in methods: none enabled here; unlinking what is not linked is 404", async () => {
    expect((await api(olive, "GET", "/api/me")).body.sign_in_methods).toEqual([]);
    const missing = await api(olive, "DELETE", "/api/me/links/github", {
      pattern: "/api/me/links/{provider}",
    });
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe("not_found");
  });

  test("no session, a tampered cookie and a signed-out session are 401", async () => {
    expect((await api(null, "GET", "/api/me")).status).toBe(401);
    const tampered: SignedIn = {
      ...olive,
      apexCookie: `${olive.name}=${olive.value.slice(0, -2)}${olive.value.endsWith("AA") ? "BB" : "AA"}`,
    };
    const refused = await api(tampered, "GET", "/api/me");
    expect(refused.status).toBe(401);
    expect(refused.body.error.code).toBe("unauthenticated");
    // A wiki-host session is not an apex session.
    const jar = await wikiSession(t, "olives", olive);
    const hostCookie = jar.header();
    expect(hostCookie).not.toBe("");
    const hostSession = await fetch(`${olive.origin}/api/me`, { headers: { cookie: hostCookie } });
    expect(hostSession.status).toBe(401);
    await hostSession.arrayBuffer();
    // Ended sessions stop at once.
    const gone = signIn(t, "olive");
    expect((await api(gone, "GET", "/api/me")).status).toBe(200);
    // sess_<16-character id>.<secret>: end it as sign-out does.
    t.server.db.query("DELETE FROM sessions WHERE id = ?").run(gone.value.slice(5, 21));
    expect((await api(gone, "GET", "/api/me")).status).toBe(401);
    expect((await api(null, "GET", "/api/wikis")).status).toBe(401);
    expect((await api(null, "POST", "/api/wikis", { body: { slug: "sneaky" } })).status).toBe(401);
  });
});

describe("state-changing requests", () => {
  test("changes are bounded per account: past the burst, 429 with Retry-After; others unaffected", async () => {
    await addUser(t, "rita", { displayName: "Rita Rapid" });
    const rita = signIn(t, "rita");
    // Cheap changes that fail (no such wiki) still count: the bound is on asking.
    for (let attempt = 0; attempt < 100; attempt++) {
      const answer = await api(rita, "DELETE", "/api/wikis/no-such-wiki/tokens/x", {
        pattern: "/api/wikis/{slug}/tokens/{id}",
      });
      expect(answer.status).toBe(404);
    }
    const response = await fetch(`${rita.origin}/api/wikis/no-such-wiki/tokens/x`, {
      method: "DELETE",
      headers: { origin: rita.origin, cookie: rita.apexCookie },
    });
    expect(response.status).toBe(429);
    expect(Number(response.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe(
      "rate_limited",
    );
    // Reading is not bounded by it, and another account is not affected.
    expect((await api(rita, "GET", "/api/me")).status).toBe(200);
    const other = await api(olive, "DELETE", "/api/wikis/no-such-wiki/tokens/x", {
      pattern: "/api/wikis/{slug}/tokens/{id}",
    });
    expect(other.status).toBe(404);
  });

  test("a cross-origin POST is refused; Sec-Fetch-Site: same-origin without Origin is admitted", async () => {
    const foreign = await api(olive, "POST", "/api/wikis", {
      body: { slug: "csrf-wiki" },
      headers: { origin: "http://evil.example.com" },
    });
    expect(foreign.status).toBe(403);
    expect(foreign.body.error.code).toBe("cross_origin");
    const wikiHost = await api(olive, "POST", "/api/wikis", {
      body: { slug: "csrf-wiki" },
      headers: { origin: t.wikiOrigin("olives") },
    });
    expect(wikiHost.status).toBe(403);
    const crossSite = await fetch(`${olive.origin}/api/wikis`, {
      method: "POST",
      headers: {
        cookie: olive.apexCookie,
        "content-type": "application/json",
        "sec-fetch-site": "cross-site",
      },
      body: JSON.stringify({ slug: "csrf-wiki" }),
    });
    expect(crossSite.status).toBe(403);
    await crossSite.arrayBuffer();
    expect(t.server.db.query("SELECT 1 FROM wikis WHERE slug = 'csrf-wiki'").get()).toBeNull();
    const fetchMetadata = await fetch(`${olive.origin}/api/wikis/olives`, {
      method: "PATCH",
      headers: {
        cookie: olive.apexCookie,
        "content-type": "application/json",
        "sec-fetch-site": "same-origin",
      },
      body: JSON.stringify({ name: "Olive's notes" }),
    });
    expect(fetchMetadata.status).toBe(200);
    await fetchMetadata.arrayBuffer();
  });

  test("a form-encoded or text body is 415, broken JSON 400, a large body 413", async () => {
    const form = await api(olive, "POST", "/api/wikis", {
      raw: "slug=formwiki",
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expect(form.status).toBe(415);
    const text = await api(olive, "POST", "/api/wikis", {
      raw: JSON.stringify({ slug: "textwiki" }),
      headers: { "content-type": "text/plain" },
    });
    expect(text.status).toBe(415);
    const none = await api(olive, "POST", "/api/wikis");
    expect(none.status).toBe(415);
    const broken = await api(olive, "POST", "/api/wikis", {
      raw: "{slug:",
      headers: { "content-type": "application/json" },
    });
    expect(broken.status).toBe(400);
    const large = await api(olive, "POST", "/api/wikis", {
      body: { slug: "bigwiki", name: "x".repeat(17 * 1024) },
    });
    expect(large.status).toBe(413);
    expect(t.server.db.query("SELECT slug FROM wikis WHERE slug LIKE '%wiki'").all()).toEqual([]);
    // Fields the schema does not name are dropped: a new wiki is free whatever the body says.
    const unknownField = await api(olive, "POST", "/api/wikis", {
      body: { slug: "tierwiki", tier: "premium" },
    });
    expect(unknownField.status).toBe(201);
    expect(unknownField.body.wiki.tier).toBe("free");
  });
});

describe("wikis", () => {
  test("create, list, read and change a wiki; the first token works on /mcp", async () => {
    const created = await createWiki(eddie, "eddies", { name: "Eddie's lab", public: true });
    expect(created.wiki).toMatchObject({
      slug: "eddies",
      name: "Eddie's lab",
      public: true,
      tier: "free",
      role: "owner",
      urls: { mcp: `${t.wikiOrigin("eddies")}/mcp` },
    });
    expect(created.token).toMatch(/^wbt_/);
    expect(await mcpInitializeStatus(t, "eddies", created.token)).toBe(200);
    const list = await api(eddie, "GET", "/api/wikis");
    expect(list.body.wikis.map((wiki: { slug: string }) => wiki.slug)).toEqual(["eddies"]);
    const one = await api(eddie, "GET", "/api/wikis/eddies", { pattern: "/api/wikis/{slug}" });
    expect(one.body).toMatchObject({ slug: "eddies", role: "owner" });
    const changed = await api(eddie, "PATCH", "/api/wikis/eddies", {
      body: { name: "Eddie's workshop", public: false },
      pattern: "/api/wikis/{slug}",
    });
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({ name: "Eddie's workshop", public: false });
    const anonymous = await fetch(`${t.wikiOrigin("eddies")}/api/v1/`);
    expect(anonymous.status).toBe(401);
    await anonymous.arrayBuffer();
  });

  test("taken, reserved and malformed slugs are refused with the CLI's reasons", async () => {
    const taken = await api(eddie, "POST", "/api/wikis", { body: { slug: "olives" } });
    expect(taken.status).toBe(409);
    expect(taken.body.error.message).toContain("already exists");
    const malformed = await api(eddie, "POST", "/api/wikis", { body: { slug: "Bad_Slug" } });
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.message).toContain("lowercase letters");
    const badName = await api(eddie, "PATCH", "/api/wikis/eddies", {
      body: { name: "   " },
      pattern: "/api/wikis/{slug}",
    });
    expect(badName.status).toBe(400);
  });

  test("a viewer or editor calling owner endpoints is refused; a stranger sees no wiki", async () => {
    await api(olive, "PUT", "/api/wikis/olives/members/eddie.bsky.social", {
      body: { role: "editor" },
      pattern: "/api/wikis/{slug}/members/{member}",
    });
    for (const who of [vera, eddie]) {
      const patch = await api(who, "PATCH", "/api/wikis/olives", {
        body: { public: true },
        pattern: "/api/wikis/{slug}",
      });
      expect(patch.status).toBe(403);
      expect(patch.body.error.code).toBe("forbidden");
      const del = await api(who, "DELETE", "/api/wikis/olives", {
        body: { confirm: "olives" },
        pattern: "/api/wikis/{slug}",
      });
      expect(del.status).toBe(403);
      const grant = await api(who, "PUT", "/api/wikis/olives/members/vera.bsky.social", {
        body: { role: "owner" },
        pattern: "/api/wikis/{slug}/members/{member}",
      });
      expect(grant.status).toBe(403);
      // Members may read the wiki and its member list.
      expect(
        (await api(who, "GET", "/api/wikis/olives", { pattern: "/api/wikis/{slug}" })).status,
      ).toBe(200);
      const members = await api(who, "GET", "/api/wikis/olives/members", {
        pattern: "/api/wikis/{slug}/members",
      });
      expect(members.status).toBe(200);
    }
    expect(
      (
        await api(olive, "GET", "/api/wikis/olives/members/vera.bsky.social", {
          pattern: "/api/wikis/{slug}/members/{member}",
        })
      ).body.role,
    ).toBe("viewer");
    // Nothing changed.
    expect(
      (await api(olive, "GET", "/api/wikis/olives", { pattern: "/api/wikis/{slug}" })).body.public,
    ).toBe(false);
    await addUser(t, "stan");
    const stranger = signIn(t, "stan");
    const hidden = await api(stranger, "GET", "/api/wikis/olives", {
      pattern: "/api/wikis/{slug}",
    });
    expect(hidden.status).toBe(404);
    const missing = await api(stranger, "GET", "/api/wikis/nosuchwiki", {
      pattern: "/api/wikis/{slug}",
    });
    expect(missing.status).toBe(404);
    expect(missing.body.error.message).toBe('no wiki "nosuchwiki"');
    expect(hidden.body.error.message).toBe('no wiki "olives"');
  });

  test("delete needs the slug typed back; then the host is gone, with its process and data", async () => {
    await createWiki(olive, "doomed", { public: true });
    // Start the wiki's Otterwiki process by reading it in the browser.
    const page = await fetch(`${t.wikiOrigin("doomed")}/Home`);
    expect(page.status).toBe(200);
    await page.arrayBuffer();
    const live = () => t.server.wikiProcesses().processes.map((process) => process.wiki);
    expect(live()).toContain("doomed");
    const dataDir = join(t.dataDir, "wikis", "doomed");
    expect(existsSync(dataDir)).toBe(true);

    const pattern = "/api/wikis/{slug}";
    const bare = await api(olive, "DELETE", "/api/wikis/doomed", { pattern });
    expect(bare.status).toBe(400);
    const wrong = await api(olive, "DELETE", "/api/wikis/doomed", {
      body: { confirm: "olives" },
      pattern,
    });
    expect(wrong.status).toBe(400);
    expect(wrong.body.error.message).toContain('type the wiki\'s slug ("doomed")');
    const text = await api(olive, "DELETE", "/api/wikis/doomed", {
      raw: "doomed",
      headers: { "content-type": "text/plain" },
      pattern,
    });
    expect(text.status).toBe(415);
    expect(existsSync(dataDir)).toBe(true);

    const deleted = await api(olive, "DELETE", "/api/wikis/doomed", {
      body: { confirm: "doomed" },
      pattern,
    });
    expect(deleted).toEqual({ status: 200, body: { deleted: "doomed" } });
    const after = await fetch(`${t.wikiOrigin("doomed")}/Home`);
    expect(after.status).toBe(404);
    expect(await after.json()).toMatchObject({ error: { code: "unknown_wiki" } });
    expect(existsSync(dataDir)).toBe(false);
    expect(live()).not.toContain("doomed");
    expect((await api(olive, "GET", "/api/wikis/doomed", { pattern })).status).toBe(404);
    expect(
      t.server.db
        .query("SELECT COUNT(*) AS n FROM pages WHERE wiki_id NOT IN (SELECT id FROM wikis)")
        .get(),
    ).toEqual({ n: 0 });
    // The slug is free again.
    await createWiki(olive, "doomed");
  });
});

describe("members", () => {
  test("a granted member's token and session read the wiki; removed, the next request is refused", async () => {
    await createWiki(olive, "shared");
    const member = "/api/wikis/{slug}/members/{member}";
    // Grant by DID this time.
    const eddieDid = t.server.db
      .query<{ did: string }, []>("SELECT did FROM users WHERE username = 'eddie'")
      .get()?.did;
    expect(eddieDid).toBeDefined();
    const granted = await api(olive, "PUT", `/api/wikis/shared/members/${eddieDid}`, {
      body: { role: "editor" },
      pattern: member,
    });
    expect(granted.body).toMatchObject({ status: "active", username: "eddie", role: "editor" });
    const made = await api(eddie, "POST", "/api/wikis/shared/tokens", {
      body: { label: "laptop", scope: "read" },
      pattern: "/api/wikis/{slug}/tokens",
    });
    expect(made.status).toBe(201);
    expect(await restRead("shared", made.body.secret)).toBe(200);
    const jar = await wikiSession(t, "shared", eddie);
    // The REST API takes tokens only; the session is checked on the browser wiki.
    const browserRead = async () => {
      const response = await fetch(`${t.wikiOrigin("shared")}/Home`, {
        headers: { ...NAVIGATION_HEADERS, cookie: jar.header() },
        redirect: "manual",
      });
      await response.arrayBuffer();
      return response.status;
    };
    expect(await browserRead()).toBe(200);

    const removed = await api(olive, "DELETE", "/api/wikis/shared/members/eddie.bsky.social", {
      pattern: member,
    });
    expect(removed.status).toBe(200);
    expect(await restRead("shared", made.body.secret)).toBe(401);
    expect(await browserRead()).toBe(403);
    const gone = await api(olive, "GET", "/api/wikis/shared/members/eddie.bsky.social", {
      pattern: member,
    });
    expect(gone.status).toBe(404);
  });

  test("the last owner can be neither removed nor demoted; with a second owner they can leave", async () => {
    const member = "/api/wikis/{slug}/members/{member}";
    const leave = await api(olive, "DELETE", "/api/wikis/shared/members/olive.bsky.social", {
      pattern: member,
    });
    expect(leave.status).toBe(409);
    expect(leave.body.error.message).toContain("last owner");
    const demote = await api(olive, "PUT", "/api/wikis/shared/members/olive.bsky.social", {
      body: { role: "editor" },
      pattern: member,
    });
    expect(demote.status).toBe(409);
    await api(olive, "PUT", "/api/wikis/shared/members/vera.bsky.social", {
      body: { role: "owner" },
      pattern: member,
    });
    const left = await api(olive, "DELETE", "/api/wikis/shared/members/olive.bsky.social", {
      pattern: member,
    });
    expect(left.status).toBe(200);
    expect(
      (await api(olive, "GET", "/api/wikis/shared", { pattern: "/api/wikis/{slug}" })).status,
    ).toBe(404);
    // Vera, now the only owner, cannot leave either.
    const stuck = await api(vera, "DELETE", "/api/wikis/shared/members/vera.bsky.social", {
      pattern: member,
    });
    expect(stuck.status).toBe(409);
  });

  test("someone who never signed in gets a pending grant; a handle that names nobody is refused", async () => {
    const member = "/api/wikis/{slug}/members/{member}";
    // Handles are resolved to the DID they name today (the sign-in tests do it against a real
    // PDS); this one names nobody, which is most likely a typo.
    const nobody = await api(olive, "PUT", "/api/wikis/olives/members/@Newcomer.Example.COM", {
      body: { role: "editor" },
      pattern: member,
    });
    expect(nobody.status).toBe(404);
    expect(nobody.body.error.message).toBe(
      "no Bluesky account has the handle newcomer.example.com; check the spelling",
    );
    const did = testDid();
    const byDid = await api(olive, "PUT", `/api/wikis/olives/members/${did}`, {
      body: { role: "viewer" },
      pattern: member,
    });
    expect(byDid.body).toMatchObject({ status: "pending", did, role: "viewer" });
    const list = await api(olive, "GET", "/api/wikis/olives/members", {
      pattern: "/api/wikis/{slug}/members",
    });
    expect(
      list.body.members.filter((entry: { status: string }) => entry.status === "pending"),
    ).toHaveLength(1);
    const dropped = await api(olive, "DELETE", `/api/wikis/olives/members/${did}`, {
      pattern: member,
    });
    expect(dropped.status).toBe(200);
    const bad = await api(olive, "PUT", "/api/wikis/olives/members/not a handle", {
      body: { role: "viewer" },
      pattern: member,
    });
    expect(bad.status).toBe(400);
    const badRole = await api(olive, "PUT", "/api/wikis/olives/members/x.bsky.social", {
      body: { role: "admin" },
      pattern: member,
    });
    expect(badRole.status).toBe(400);
  });
});

describe("tokens", () => {
  test("made for yourself, secret once; owners see all, others their own; revoked tokens stop on /mcp", async () => {
    const tokens = "/api/wikis/{slug}/tokens";
    const one = "/api/wikis/{slug}/tokens/{id}";
    await createWiki(olive, "tokenwiki");
    await api(olive, "PUT", "/api/wikis/tokenwiki/members/eddie.bsky.social", {
      body: { role: "editor" },
      pattern: "/api/wikis/{slug}/members/{member}",
    });
    const ownerMade = await api(olive, "POST", "/api/wikis/tokenwiki/tokens", {
      body: { label: "claude code" },
      pattern: tokens,
    });
    expect(ownerMade.status).toBe(201);
    expect(ownerMade.body.token).toMatchObject({
      label: "claude code",
      scope: "write",
      user: { username: "olive" },
      last_used_at: null,
      revoked_at: null,
    });
    expect(await mcpInitializeStatus(t, "tokenwiki", ownerMade.body.secret)).toBe(200);
    const editorMade = await api(eddie, "POST", "/api/wikis/tokenwiki/tokens", {
      body: { label: "eddie's", scope: "read" },
      pattern: tokens,
    });
    expect(editorMade.status).toBe(201);

    const ownerList = await api(olive, "GET", "/api/wikis/tokenwiki/tokens", { pattern: tokens });
    // The first token, Olive's new one and Eddie's; never a secret.
    expect(ownerList.body.tokens).toHaveLength(3);
    expect(JSON.stringify(ownerList.body)).not.toContain(ownerMade.body.secret.split(".")[1]);
    const used = ownerList.body.tokens.find(
      (token: { id: string }) => token.id === ownerMade.body.token.id,
    );
    expect(used.last_used_at).not.toBeNull();
    const editorList = await api(eddie, "GET", "/api/wikis/tokenwiki/tokens", { pattern: tokens });
    expect(editorList.body.tokens.map((token: { id: string }) => token.id)).toEqual([
      editorMade.body.token.id,
    ]);

    // An editor may not revoke the owner's token; an owner may revoke the editor's.
    const notTheirs = await api(
      eddie,
      "DELETE",
      `/api/wikis/tokenwiki/tokens/${ownerMade.body.token.id}`,
      {
        pattern: one,
      },
    );
    expect(notTheirs.status).toBe(403);
    expect(await mcpInitializeStatus(t, "tokenwiki", ownerMade.body.secret)).toBe(200);
    const byOwner = await api(
      olive,
      "DELETE",
      `/api/wikis/tokenwiki/tokens/${editorMade.body.token.id}`,
      {
        pattern: one,
      },
    );
    expect(byOwner.status).toBe(200);
    expect(byOwner.body.revoked_at).not.toBeNull();

    const own = await api(
      olive,
      "DELETE",
      `/api/wikis/tokenwiki/tokens/${ownerMade.body.token.id}`,
      {
        pattern: one,
      },
    );
    expect(own.status).toBe(200);
    expect(await mcpInitializeStatus(t, "tokenwiki", ownerMade.body.secret)).toBe(401);
    const again = await api(
      olive,
      "DELETE",
      `/api/wikis/tokenwiki/tokens/${ownerMade.body.token.id}`,
      {
        pattern: one,
      },
    );
    expect(again.status).toBe(409);
    // A token id of another wiki is unknown here.
    await createWiki(eddie, "eddies-two");
    const foreignId = (await api(eddie, "GET", "/api/wikis/eddies-two/tokens", { pattern: tokens }))
      .body.tokens[0].id;
    const elsewhere = await api(olive, "DELETE", `/api/wikis/tokenwiki/tokens/${foreignId}`, {
      pattern: one,
    });
    expect(elsewhere.status).toBe(404);
    const viewerCannot = await api(vera, "POST", "/api/wikis/tokenwiki/tokens", {
      body: {},
      pattern: tokens,
    });
    expect(viewerCannot.status).toBe(404);
  });
});

describe("POST /api/signup", () => {
  /** A proved Bluesky identity waiting for a username, as the sign-in callback leaves it. */
  function pendingSignup(name: string): { cookie: string; did: string } {
    const did = testDid();
    const secret = new PendingSignupStore(t.server.db).create({
      did,
      handle: `${name}.test`,
      displayName: `${name} Display`,
      avatarUrl: null,
      returnTo: null,
    });
    return { cookie: `wb_signup=${secret}`, did };
  }
  const asSignup = (cookie: string) => ({ ...olive, apexCookie: cookie });

  test("creates the account with the chosen name, signs in, and claims earlier grants", async () => {
    const { cookie, did } = pendingSignup("nina");
    await createWiki(olive, "nina-lab");
    // Granted before Nina ever signed in.
    const granted = await api(olive, "PUT", `/api/wikis/nina-lab/members/${did}`, {
      body: { role: "editor" },
      pattern: "/api/wikis/{slug}/members/{member}",
    });
    expect(granted.body.status).toBe("pending");
    const bad = await api(asSignup(cookie), "POST", "/api/signup", { body: { username: "Ni" } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe("invalid_username");
    const taken = await api(asSignup(cookie), "POST", "/api/signup", {
      body: { username: "olive" },
    });
    expect(taken.status).toBe(409);
    expect(taken.body.error.message).toContain('"olive" is taken');

    const response = await fetch(`${t.origin}/api/signup`, {
      method: "POST",
      headers: { origin: olive.origin, cookie, "content-type": "application/json" },
      body: JSON.stringify({ username: "nina" }),
    });
    const body = await response.json();
    samples.push({ method: "POST", pattern: "/api/signup", status: response.status, body });
    expect(response.status).toBe(201);
    expect(body).toEqual({
      user: {
        did,
        handle: "nina.test",
        username: "nina",
        display_name: "nina Display",
        avatar_url: null,
      },
      location: `${olive.origin}/app/`,
    });
    const cookies = response.headers.getSetCookie();
    const session = cookies.find((line) => line.startsWith("wb_session=sess_"))?.split(";")[0];
    expect(session).toBeDefined();
    // The signup cookie is spent and cleared.
    expect(cookies.some((line) => /^wb_signup=;.*Max-Age=0/.test(line))).toBe(true);
    const me = await api({ ...olive, apexCookie: session ?? "" }, "GET", "/api/me");
    expect(me.body.user.username).toBe("nina");
    expect(me.body.wikis.shared.map((wiki: { slug: string }) => wiki.slug)).toEqual(["nina-lab"]);
    // The same cookie cannot make a second account.
    const again = await api(asSignup(cookie), "POST", "/api/signup", {
      body: { username: "nina2" },
    });
    expect(again.status).toBe(401);
    expect(again.body.error.code).toBe("signup_expired");
  });

  test("without a sign-up in progress, cross-origin, or not JSON: refused", async () => {
    const none = await api(null, "POST", "/api/signup", { body: { username: "zed" } });
    expect(none.status).toBe(401);
    const { cookie } = pendingSignup("otto");
    const crossOrigin = await api(asSignup(cookie), "POST", "/api/signup", {
      body: { username: "otto" },
      headers: { origin: "https://evil.example" },
    });
    expect(crossOrigin.status).toBe(403);
    const form = await api(asSignup(cookie), "POST", "/api/signup", {
      raw: "username=otto",
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expect(form.status).toBe(415);
    expect(t.server.db.query("SELECT 1 FROM users WHERE username = 'otto'").get()).toBeNull();
  });
});

describe("/api/openapi.json", () => {
  test("is valid OpenAPI 3.1, lists every route, and describes every answer seen above", async () => {
    const response = await fetch(`${t.origin}/api/openapi.json`);
    expect(response.status).toBe(200);
    const document = await response.json();
    await SwaggerParser.validate(structuredClone(document) as never);
    const operations = Object.entries(
      document.paths as Record<string, Record<string, unknown>>,
    ).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(operations.sort()).toEqual(
      [
        "GET /api/me",
        "DELETE /api/me/links/{provider}",
        "POST /api/signup",
        "GET /api/wikis",
        "POST /api/wikis",
        "GET /api/wikis/{slug}",
        "PATCH /api/wikis/{slug}",
        "DELETE /api/wikis/{slug}",
        "GET /api/wikis/{slug}/members",
        "GET /api/wikis/{slug}/members/{member}",
        "PUT /api/wikis/{slug}/members/{member}",
        "DELETE /api/wikis/{slug}/members/{member}",
        "GET /api/wikis/{slug}/tokens",
        "POST /api/wikis/{slug}/tokens",
        "DELETE /api/wikis/{slug}/tokens/{id}",
        "GET /api/wikis/{slug}/connections",
        "DELETE /api/wikis/{slug}/connections/{id}",
        "GET /api/me/connections",
        "DELETE /api/me/connections/{id}",
      ].sort(),
    );
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
      // 401, 413 and 415 are answered in front of the router, in the same documented shape.
      if (schema === undefined) continue;
      const valid = ajv.validate(schema, sample.body);
      expect({ at, errors: valid ? null : ajv.errors }).toEqual({ at, errors: null });
      checked += 1;
    }
    expect(checked).toBeGreaterThan(30);
  });
});
