import { describe, expect, test } from "bun:test";
import { openDatabase } from "../db/database.ts";
import { OAuthClientStore, UNUSED_CLIENT_SECONDS } from "./client-store.ts";
import { CODE_SECONDS, OAuthGrantIssuer } from "./grant-issuer.ts";
import { OAuthRequestStore, REQUEST_LIFETIME_SECONDS } from "./request-store.ts";

const DAY = 24 * 3600;

function setup() {
  const db = openDatabase(":memory:");
  db.exec(`INSERT INTO users (id, did, handle, username, display_name, created_at)
           VALUES (1, 'did:plc:aaaaaaaaaaaaaaaaaaaaaaaa', 'a.test', 'alice', 'Alice', 0)`);
  db.exec("INSERT INTO wikis (id, slug, name, owner_id, created_at) VALUES (1, 'w', 'W', 1, 0)");
  let now = 1_000_000;
  const clock = () => now;
  const clients = new OAuthClientStore(db, clock);
  const requests = new OAuthRequestStore(db, clock);
  const issuer = new OAuthGrantIssuer(
    db,
    {
      revokeGrant: (id) =>
        db.query("UPDATE oauth_grants SET revoked_at = 1 WHERE id = ?").run(id).changes === 1,
      roleOf: () => "owner",
    },
    clock,
  );
  const count = (table: string) =>
    db.query<{ n: number }, []>(`SELECT count(*) AS n FROM ${table}`).get()?.n ?? 0;
  return { db, clients, requests, issuer, count, advance: (seconds: number) => (now += seconds) };
}

const REDIRECT = "https://claude.ai/api/mcp/auth_callback";

describe("sweeps", () => {
  test("clients unused for 30 days go, with their grants; used ones stay", () => {
    const s = setup();
    const idle = s.clients.register({
      wikiId: 1,
      authMethod: "none",
      name: "idle",
      redirectUris: [REDIRECT],
    });
    const busy = s.clients.register({
      wikiId: 1,
      authMethod: "none",
      name: "busy",
      redirectUris: [REDIRECT],
    });
    s.issuer.approve({
      wikiId: 1,
      userId: 1,
      clientId: idle.client.id,
      scopes: ["wiki:read"],
      resource: "https://w.example/mcp",
      redirectUri: REDIRECT,
      codeChallenge: "x".repeat(43),
    });
    s.advance(UNUSED_CLIENT_SECONDS - DAY);
    s.clients.touch(busy.client.id);
    s.advance(2 * DAY);
    expect(s.clients.deleteUnused()).toBe(1);
    expect(s.clients.find(idle.client.id, 1)).toBeNull();
    expect(s.clients.find(busy.client.id, 1)).not.toBeNull();
    expect(s.count("oauth_grants")).toBe(0);
  });

  test("expired requests, codes and the grants they leave empty are removed", () => {
    const s = setup();
    const { client } = s.clients.register({
      wikiId: 1,
      authMethod: "none",
      name: "c",
      redirectUris: [REDIRECT],
    });
    const saved = s.requests.save({
      wikiId: 1,
      clientId: client.id,
      redirectUri: REDIRECT,
      state: null,
      codeChallenge: "x".repeat(43),
      scopes: ["wiki:read"],
      resource: "https://w.example/mcp",
    });
    s.issuer.approve({
      wikiId: 1,
      userId: 1,
      clientId: client.id,
      scopes: ["wiki:read"],
      resource: "https://w.example/mcp",
      redirectUri: REDIRECT,
      codeChallenge: "x".repeat(43),
    });
    expect(s.requests.deleteExpired() + s.issuer.deleteExpired()).toBe(0);
    s.advance(Math.max(REQUEST_LIFETIME_SECONDS, CODE_SECONDS) + 1);
    expect(s.requests.find(saved.handle, 1)).toBeNull();
    expect(s.requests.deleteExpired()).toBe(1);
    expect(s.issuer.deleteExpired()).toBe(2);
    expect(s.count("oauth_codes")).toBe(0);
    expect(s.count("oauth_grants")).toBe(0);
  });
});
