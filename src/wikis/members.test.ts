/** Members and pending grants on a real SQLite database: claiming, the last-owner rule, leaving. */

import type { Database } from "bun:sqlite";
import { beforeEach, describe, expect, test } from "bun:test";
import { type User, UserStore } from "../auth/user-store.ts";
import { WikiTokenStore } from "../auth/wiki-token.ts";
import { openDatabase } from "../db/database.ts";
import {
  claimPendingGrants,
  grantRole,
  type MemberDeps,
  parseSubject,
  removeMember,
} from "./members.ts";
import { PendingGrantStore } from "./pending-grant-store.ts";
import { OPERATOR, WikiError } from "./use-case.ts";
import { type Wiki, WikiStore } from "./wiki-store.ts";

let db: Database;
let deps: MemberDeps;
let olive: User;
let wiki: Wiki;

const DID_NEW = "did:plc:newcomernewcomernewcomer";

function makeUser(username: string, did: string): User {
  return deps.users.create({
    username,
    did,
    handle: `${username}.bsky.social`,
    displayName: username,
  });
}

beforeEach(() => {
  db = openDatabase(":memory:");
  deps = {
    db,
    users: new UserStore(db),
    wikis: new WikiStore(db),
    tokens: new WikiTokenStore(db),
    pendingGrants: new PendingGrantStore(db),
  };
  olive = makeUser("olive", "did:plc:oliveoliveoliveoliveoliv");
  wiki = deps.wikis.create({
    slug: "lab",
    name: "Lab",
    ownerId: olive.id,
    isPublic: false,
    tier: "free",
  });
});

const asOlive = () => ({ kind: "user" as const, user: olive });

describe("claimPendingGrants", () => {
  test("a grant by DID becomes a role at first sign-in, once", () => {
    const granted = grantRole(deps, asOlive(), "lab", parseSubject(DID_NEW), "editor");
    expect(granted.kind).toBe("pending");
    const newcomer = makeUser("newcomer", DID_NEW);
    expect(deps.wikis.roleOf(wiki.id, newcomer.id)).toBeNull();
    expect(claimPendingGrants(deps, newcomer)).toEqual([{ wikiId: wiki.id, role: "editor" }]);
    expect(deps.wikis.roleOf(wiki.id, newcomer.id)).toBe("editor");
    expect(deps.pendingGrants.listForWiki(wiki.id)).toEqual([]);
    expect(claimPendingGrants(deps, newcomer)).toEqual([]);
  });

  test("a grant by handle matches the verified handle, case-insensitively", () => {
    grantRole(deps, asOlive(), "lab", parseSubject("@Pat.Example.com"), "viewer");
    const other = makeUser("someone", "did:plc:someonesomeonesomeoneso");
    expect(claimPendingGrants(deps, other)).toEqual([]);
    const pat = deps.users.create({
      username: "pat",
      did: "did:plc:patpatpatpatpatpatpatpatpa".slice(0, 32),
      handle: "PAT.example.com",
      displayName: "Pat",
    });
    expect(claimPendingGrants(deps, pat)).toEqual([{ wikiId: wiki.id, role: "viewer" }]);
    expect(deps.wikis.roleOf(wiki.id, pat.id)).toBe("viewer");
  });

  test("a pending role never lowers one the person already has", () => {
    const newcomer = makeUser("newcomer", DID_NEW);
    deps.wikis.setRole(wiki.id, newcomer.id, "owner");
    deps.pendingGrants.put(wiki.id, { kind: "did", did: DID_NEW }, "viewer", olive.id);
    expect(claimPendingGrants(deps, newcomer)).toEqual([]);
    expect(deps.wikis.roleOf(wiki.id, newcomer.id)).toBe("owner");
    expect(deps.pendingGrants.listForWiki(wiki.id)).toEqual([]);
  });

  test("a deleted wiki takes its pending grants with it", () => {
    grantRole(deps, asOlive(), "lab", parseSubject(DID_NEW), "editor");
    deps.wikis.delete(wiki.id);
    expect(claimPendingGrants(deps, makeUser("newcomer", DID_NEW))).toEqual([]);
  });
});

describe("roles", () => {
  test("the last owner can be neither removed nor demoted, by anyone", () => {
    for (const actor of [asOlive(), OPERATOR]) {
      expect(() => removeMember(deps, actor, "lab", parseSubject("olive.bsky.social"))).toThrow(
        "last owner",
      );
      expect(() =>
        grantRole(deps, actor, "lab", parseSubject("olive.bsky.social"), "editor"),
      ).toThrow("last owner");
    }
    expect(deps.wikis.roleOf(wiki.id, olive.id)).toBe("owner");
  });

  test("removing a member revokes their tokens for that wiki only", () => {
    const eddie = makeUser("eddie", "did:plc:eddieeddieeddieeddieedd");
    grantRole(deps, asOlive(), "lab", parseSubject("eddie.bsky.social"), "editor");
    const other = deps.wikis.create({
      slug: "other",
      name: "Other",
      ownerId: eddie.id,
      isPublic: true,
      tier: "free",
    });
    const here = deps.tokens.create({
      wikiId: wiki.id,
      userId: eddie.id,
      scope: "write",
      label: "",
    });
    const there = deps.tokens.create({
      wikiId: other.id,
      userId: eddie.id,
      scope: "write",
      label: "",
    });
    removeMember(deps, asOlive(), "lab", parseSubject("eddie.bsky.social"));
    expect(deps.tokens.verify(here.plaintext).kind).toBe("revoked");
    expect(deps.tokens.verify(there.plaintext).kind).toBe("valid");
  });

  test("non-owners may not grant, but may leave", () => {
    const eddie = makeUser("eddie", "did:plc:eddieeddieeddieeddieedd");
    grantRole(deps, asOlive(), "lab", parseSubject("eddie.bsky.social"), "editor");
    const asEddie = { kind: "user" as const, user: eddie };
    const refusal = (() => {
      try {
        grantRole(deps, asEddie, "lab", parseSubject("olive.bsky.social"), "viewer");
      } catch (error) {
        return error;
      }
      return null;
    })();
    expect(refusal).toBeInstanceOf(WikiError);
    expect(refusal instanceof WikiError ? refusal.code : null).toBe("forbidden");
    removeMember(deps, asEddie, "lab", parseSubject("eddie.bsky.social"));
    expect(deps.wikis.roleOf(wiki.id, eddie.id)).toBeNull();
  });

  test("subjects: DIDs and handles, nothing else", () => {
    expect(parseSubject("did:web:example.com")).toEqual({
      kind: "did",
      did: "did:web:example.com",
    });
    expect(parseSubject(" @Alice.BSKY.social ")).toEqual({
      kind: "handle",
      handle: "alice.bsky.social",
    });
    for (const bad of ["did:example:1", "alice", "", "a b.com", "did:plc:short"]) {
      expect(() => parseSubject(bad)).toThrow(WikiError);
    }
  });
});
