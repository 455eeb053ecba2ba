import { describe, expect, test } from "bun:test";
import type { Role, Wiki } from "../wikis/wiki-store.ts";
import { decideAccess, type WikiAction } from "./access-decision.ts";
import { ANONYMOUS, type Principal } from "./wiki-access.ts";
import type { TokenScope } from "./wiki-token.ts";

function wikiOf(tier: Wiki["tier"], isPublic: boolean): Wiki {
  return {
    id: 1,
    slug: "demo",
    name: "Demo",
    ownerId: 1,
    isPublic,
    tier,
    createdAt: 0,
    indexedCommit: null,
  };
}

function member(role: Role | null, scope: TokenScope = "write"): Principal {
  return {
    user: {
      id: 7,
      did: "did:plc:x",
      handle: "x.test",
      username: "x",
      displayName: "X",
      avatarUrl: null,
      createdAt: 0,
    },
    role,
    scope,
    tokenId: "t",
    oauthClient: null,
  };
}

const reason = (wiki: Wiki, principal: Principal, action: WikiAction) => {
  const decision = decideAccess(wiki, principal, action);
  return decision.allowed ? "allowed" : decision.refusal.reason;
};

describe("decideAccess", () => {
  test.each([
    // wiki, principal, action, expected
    [wikiOf("premium", false), ANONYMOUS, "read", "unauthenticated"],
    [wikiOf("premium", true), ANONYMOUS, "read", "allowed"],
    [wikiOf("premium", true), ANONYMOUS, "mcp", "allowed"],
    [wikiOf("premium", true), ANONYMOUS, "write", "unauthenticated"],
    [wikiOf("premium", false), member(null), "read", "no_role"],
    [wikiOf("premium", true), member(null), "read", "allowed"],
    [wikiOf("premium", true), member(null), "write", "no_role"],
    [wikiOf("premium", false), member("viewer"), "write", "read_only_role"],
    // A viewer with a read token is told about the role: a new token would not help.
    [wikiOf("premium", false), member("viewer", "read"), "write", "read_only_role"],
    [wikiOf("premium", false), member("editor", "read"), "write", "read_only_token"],
    [wikiOf("premium", false), member("editor"), "write", "allowed"],
    [wikiOf("premium", false), member("owner"), "push", "allowed"],
    [wikiOf("free", false), member("owner"), "push", "free_plan"],
    [wikiOf("free", false), member("owner"), "write", "allowed"],
    // The plan comes before the role and the token: neither would help.
    [wikiOf("free", false), member("viewer", "read"), "push", "free_plan"],
    [wikiOf("lapsed", false), member("owner"), "write", "lapsed"],
    [wikiOf("lapsed", false), member("editor", "read"), "write", "lapsed"],
    [wikiOf("lapsed", false), member("owner"), "push", "lapsed"],
    [wikiOf("lapsed", false), member("owner"), "read", "allowed"],
    [wikiOf("lapsed", false), member("owner"), "mcp", "lapsed"],
    [wikiOf("lapsed", true), ANONYMOUS, "mcp", "lapsed"],
  ] as const)("case %#", (wiki, principal, action, expected) => {
    expect(reason(wiki, principal, action)).toBe(expected);
  });

  test("every refusal names the wiki or the token, in one sentence without a final period", () => {
    const refusals = [
      decideAccess(wikiOf("premium", false), ANONYMOUS, "read"),
      decideAccess(wikiOf("free", false), member("owner"), "push"),
      decideAccess(wikiOf("lapsed", false), member("owner"), "write"),
      decideAccess(wikiOf("premium", false), member("editor", "read"), "write"),
    ];
    for (const decision of refusals) {
      expect(decision.allowed).toBe(false);
      if (decision.allowed) continue;
      expect(decision.refusal.message).not.toEndWith(".");
      expect(decision.refusal.message).toMatch(/demo|token/);
    }
  });
});
