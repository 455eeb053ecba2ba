/**
 * OAuth access tokens at the bearer gate's core (resolveWikiToken), on a real SQLite database:
 * bound to one wiki and its MCP URL, scopes capping the role, the role re-read every time, and
 * every way a token stops working (expired, grant revoked, unknown, tampered).
 */
import type { Database } from "bun:sqlite";
import { beforeEach, describe, expect, test } from "bun:test";
import { openDatabase } from "../db/database.ts";
import { mintToken } from "../lib/prefixed-token.ts";
import { unixNow } from "../lib/time.ts";
import { type Wiki, WikiStore } from "../wikis/wiki-store.ts";
import { OAUTH_ACCESS_TOKEN_PREFIX, OAuthAccessTokenStore } from "./oauth-access-token.ts";
import { OAuthGrantStore } from "./oauth-grant-store.ts";
import { type User, UserStore } from "./user-store.ts";
import { resolveWikiToken, type WikiAccessDeps } from "./wiki-access.ts";
import { WikiTokenStore } from "./wiki-token.ts";

const PUBLIC_URL = new URL("https://wikibot.example");
let db: Database;
let deps: WikiAccessDeps;
let olive: User;
let lab: Wiki;
let other: Wiki;

function makeWiki(slug: string): Wiki {
  return deps.wikis.create({ slug, name: slug, ownerId: olive.id, isPublic: false, tier: "free" });
}

/** A client, a grant and an access token as the authorization server leaves them. */
function issue(
  wiki: Wiki,
  options: { scope?: string; resource?: string; expiresIn?: number; user?: User } = {},
): { token: string; grantId: string } {
  const now = unixNow();
  const clientId = `wbc_${crypto.randomUUID().slice(0, 8)}`;
  db.query(
    `INSERT INTO oauth_clients (id, wiki_id, auth_method, name, redirect_uris, created_at)
     VALUES (?, ?, 'none', 'Claude', '["https://claude.ai/api/mcp/auth_callback"]', ?)`,
  ).run(clientId, wiki.id, now);
  const grantId = `g_${crypto.randomUUID().slice(0, 8)}`;
  db.query(
    `INSERT INTO oauth_grants (id, wiki_id, user_id, client_id, scope, resource, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?)`,
  ).run(
    grantId,
    wiki.id,
    (options.user ?? olive).id,
    clientId,
    options.scope ?? "wiki:read wiki:write",
    options.resource ?? `https://${wiki.slug}.wikibot.example/mcp`,
    now,
  );
  const minted = mintToken(OAUTH_ACCESS_TOKEN_PREFIX);
  db.query(
    `INSERT INTO oauth_tokens (id, secret_hash, grant_id, kind, expires_at, created_at)
     VALUES (?, ?, ?, 'access', ?, ?)`,
  ).run(minted.id, minted.secretHash, grantId, now + (options.expiresIn ?? 3600), now);
  return { token: minted.plaintext, grantId };
}

beforeEach(() => {
  db = openDatabase(":memory:");
  const users = new UserStore(db);
  deps = {
    users,
    wikis: new WikiStore(db),
    tokens: new WikiTokenStore(db),
    oauthTokens: new OAuthAccessTokenStore(db),
    publicUrl: PUBLIC_URL,
  };
  olive = users.create({
    did: "did:plc:oliveoliveoliveoliveoliv",
    handle: "olive.test",
    username: "olive",
    displayName: "Olive",
  });
  lab = makeWiki("lab");
  other = makeWiki("other");
});

describe("an OAuth access token", () => {
  test("acts for its user on its wiki, with its scopes capping the role, and names its client", () => {
    const { token, grantId } = issue(lab);
    const access = resolveWikiToken(deps, lab, token);
    expect(access).toMatchObject({
      kind: "authenticated",
      principal: {
        user: { username: "olive" },
        role: "owner",
        scope: "write",
        tokenId: `oauth:${grantId}`,
        oauthClient: { clientName: "Claude", scopes: ["wiki:read", "wiki:write"] },
      },
    });
    const readOnly = issue(lab, { scope: "wiki:read" });
    expect(resolveWikiToken(deps, lab, readOnly.token)).toMatchObject({
      principal: { scope: "read" },
    });
  });

  test("is not valid at another wiki, nor with another audience on its own", () => {
    const { token } = issue(lab);
    expect(resolveWikiToken(deps, other, token)).toEqual({
      kind: "invalid",
      reason: "it was made for another wiki",
    });
    const elsewhere = issue(lab, { resource: "https://lab.wikibot.example/api" });
    expect(resolveWikiToken(deps, lab, elsewhere.token)).toMatchObject({ kind: "invalid" });
  });

  test("the role is read again on every request: removed, the next request has none", () => {
    const vera = deps.users.create({
      did: "did:plc:veraveraveraveraveraver",
      handle: "vera.test",
      username: "vera",
      displayName: "Vera",
    });
    deps.wikis.setRole(lab.id, vera.id, "editor");
    const { token } = issue(lab, { user: vera });
    expect(resolveWikiToken(deps, lab, token)).toMatchObject({ principal: { role: "editor" } });
    deps.wikis.removeRole(lab.id, vera.id);
    expect(resolveWikiToken(deps, lab, token)).toMatchObject({ principal: { role: null } });
  });

  test("expired, revoked, tampered or unknown: invalid, each with its reason", () => {
    const expired = issue(lab, { expiresIn: -1 });
    expect(resolveWikiToken(deps, lab, expired.token)).toEqual({
      kind: "invalid",
      reason: "it has expired",
    });
    const revoked = issue(lab);
    expect(new OAuthGrantStore(db).revoke(revoked.grantId)).toBe(true);
    expect(resolveWikiToken(deps, lab, revoked.token)).toEqual({
      kind: "invalid",
      reason: "it is unknown",
    });
    const live = issue(lab);
    const last = live.token.at(-1) === "A" ? "B" : "A";
    expect(resolveWikiToken(deps, lab, `${live.token.slice(0, -1)}${last}`)).toEqual({
      kind: "invalid",
      reason: "it is unknown",
    });
    expect(resolveWikiToken(deps, lab, "wboa_nonsense")).toEqual({
      kind: "invalid",
      reason: "it is malformed",
    });
  });

  test("a grant revoked but with its tokens still present is refused as revoked", () => {
    const { token, grantId } = issue(lab);
    db.query("UPDATE oauth_grants SET revoked_at = 1 WHERE id = ?").run(grantId);
    expect(resolveWikiToken(deps, lab, token)).toEqual({
      kind: "invalid",
      reason: "it has been revoked",
    });
  });
});
