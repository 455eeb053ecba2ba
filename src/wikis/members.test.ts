/** Members and pending grants on a real SQLite database: claiming, the last-owner rule, leaving. */

import type { Database } from "bun:sqlite";
import { beforeEach, describe, expect, test } from "bun:test";
import { OAuthGrantStore } from "../auth/oauth-grant-store.ts";
import { type User, UserStore } from "../auth/user-store.ts";
import { WikiTokenStore } from "../auth/wiki-token.ts";
import { openDatabase } from "../db/database.ts";
import {
  claimPendingGrants,
  grantRole,
  type HandleResolution,
  type MemberDeps,
  parseSubject,
  removeMember,
  resolveGrantSubject,
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
    oauthGrants: new OAuthGrantStore(db),
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
    expect(claimPendingGrants(deps, newcomer, newcomer.handle)).toEqual([
      { wikiId: wiki.id, role: "editor" },
    ]);
    expect(deps.wikis.roleOf(wiki.id, newcomer.id)).toBe("editor");
    expect(deps.pendingGrants.listForWiki(wiki.id)).toEqual([]);
    expect(claimPendingGrants(deps, newcomer, newcomer.handle)).toEqual([]);
  });

  test("a grant by handle matches the verified handle, case-insensitively", () => {
    grantRole(deps, asOlive(), "lab", parseSubject("@Pat.Example.com"), "viewer");
    const other = makeUser("someone", "did:plc:someonesomeonesomeoneso");
    expect(claimPendingGrants(deps, other, other.handle)).toEqual([]);
    const pat = deps.users.create({
      username: "pat",
      did: "did:plc:patpatpatpatpatpatpatpatpa".slice(0, 32),
      handle: "PAT.example.com",
      displayName: "Pat",
    });
    expect(claimPendingGrants(deps, pat, pat.handle)).toEqual([
      { wikiId: wiki.id, role: "viewer" },
    ]);
    expect(deps.wikis.roleOf(wiki.id, pat.id)).toBe("viewer");
  });

  test("a pending role never lowers one the person already has", () => {
    const newcomer = makeUser("newcomer", DID_NEW);
    deps.wikis.setRole(wiki.id, newcomer.id, "owner");
    deps.pendingGrants.put(wiki.id, { kind: "did", did: DID_NEW }, "viewer", olive.id);
    expect(claimPendingGrants(deps, newcomer, newcomer.handle)).toEqual([]);
    expect(deps.wikis.roleOf(wiki.id, newcomer.id)).toBe("owner");
    expect(deps.pendingGrants.listForWiki(wiki.id)).toEqual([]);
  });

  test("a deleted wiki takes its pending grants with it", () => {
    grantRole(deps, asOlive(), "lab", parseSubject(DID_NEW), "editor");
    deps.wikis.delete(wiki.id);
    const newcomer = makeUser("newcomer", DID_NEW);
    expect(claimPendingGrants(deps, newcomer, newcomer.handle)).toEqual([]);
  });

  test("a grant by handle is claimed only with a handle verified by this sign-in", () => {
    grantRole(deps, asOlive(), "lab", parseSubject("pat.example.com"), "editor");
    // Last seen with the handle, but this sign-in (GitHub, or a failed check) verified none:
    // the handle may have moved on since.
    const stale = makeUser("stale", "did:plc:stalestalestalestalestal");
    expect(claimPendingGrants(deps, stale, null)).toEqual([]);
    expect(deps.pendingGrants.listForWiki(wiki.id)).toHaveLength(1);
    expect(claimPendingGrants(deps, stale, "pat.example.com")).toEqual([
      { wikiId: wiki.id, role: "editor" },
    ]);
  });

  test("the resolver's placeholder for a failed handle names nobody", () => {
    expect(() => parseSubject("handle.invalid")).toThrow("not a usable handle");
    expect(() => parseSubject("@HANDLE.INVALID")).toThrow("not a usable handle");
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

  test("removing a member revokes their tokens and connected apps for that wiki only", () => {
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
    // And an app Eddie connected to each wiki (rows as the authorization server writes them).
    for (const [id, wikiId] of [
      ["here", wiki.id],
      ["there", other.id],
    ] as const) {
      db.query(
        `INSERT INTO oauth_clients (id, wiki_id, auth_method, name, redirect_uris, created_at)
         VALUES (?, ?, 'none', 'Claude', '[]', 0)`,
      ).run(`client-${id}`, wikiId);
      db.query(
        `INSERT INTO oauth_grants (id, wiki_id, user_id, client_id, scope, resource, created_at)
         VALUES (?, ?, ?, ?, 'wiki:read', 'r', 0)`,
      ).run(`grant-${id}`, wikiId, eddie.id, `client-${id}`);
    }
    removeMember(deps, asOlive(), "lab", parseSubject("eddie.bsky.social"));
    expect(deps.tokens.verify(here.plaintext).kind).toBe("revoked");
    expect(deps.tokens.verify(there.plaintext).kind).toBe("valid");
    expect(deps.oauthGrants.find("grant-here")).toBeNull();
    expect(deps.oauthGrants.find("grant-there")?.userId).toBe(eddie.id);
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

describe("granting by handle resolves the handle to a DID", () => {
  const lookups: string[] = [];
  const answering =
    (answer: HandleResolution) =>
    async (handle: string): Promise<HandleResolution> => {
      lookups.push(handle);
      return answer;
    };

  test("the grant is keyed by the DID, shown with the handle, and claimed by that DID", async () => {
    const subject = await resolveGrantSubject(
      deps,
      asOlive(),
      "lab",
      parseSubject("@Pat.Example.com"),
      answering({ kind: "did", did: DID_NEW }),
    );
    expect(subject).toEqual({ kind: "did", did: DID_NEW, handle: "pat.example.com" });
    grantRole(deps, asOlive(), "lab", subject, "editor");
    // Found and removable by the name it was given as well as by the DID.
    expect(deps.pendingGrants.find(wiki.id, parseSubject("pat.example.com"))?.subject).toEqual(
      subject,
    );
    // Someone else who later holds the handle gets nothing; the DID does.
    const other = deps.users.create({
      username: "other",
      did: "did:plc:otherotherotherotherothe",
      handle: "pat.example.com",
      displayName: "Other",
    });
    expect(claimPendingGrants(deps, other, other.handle)).toEqual([]);
    const pat = makeUser("pat", DID_NEW);
    expect(claimPendingGrants(deps, pat, pat.handle)).toEqual([
      { wikiId: wiki.id, role: "editor" },
    ]);
  });

  test("a handle naming nobody is refused; when the network is down the handle is kept", async () => {
    const unknown = resolveGrantSubject(
      deps,
      asOlive(),
      "lab",
      parseSubject("typo.example.com"),
      answering({ kind: "unknown" }),
    );
    await expect(unknown).rejects.toThrow("no Bluesky account has the handle typo.example.com");
    const kept = await resolveGrantSubject(
      deps,
      asOlive(),
      "lab",
      parseSubject("pat.example.com"),
      answering({ kind: "unreachable" }),
    );
    expect(kept).toEqual({ kind: "handle", handle: "pat.example.com" });
    grantRole(deps, asOlive(), "lab", kept, "viewer");
    expect(removeMember(deps, asOlive(), "lab", parseSubject("pat.example.com"))).toBeUndefined();
    expect(deps.pendingGrants.listForWiki(wiki.id)).toEqual([]);
  });

  test("no lookup for a DID or for a caller who is not owner", async () => {
    lookups.length = 0;
    const lookup = answering({ kind: "did", did: DID_NEW });
    const byDid = parseSubject(DID_NEW);
    expect(await resolveGrantSubject(deps, asOlive(), "lab", byDid, lookup)).toEqual(byDid);
    const eve = makeUser("eve", "did:plc:eveeveeveeveeveeveeveeve");
    deps.wikis.setRole(wiki.id, eve.id, "editor");
    const asEve = { kind: "user" as const, user: eve };
    await expect(
      resolveGrantSubject(deps, asEve, "lab", parseSubject("x.example.com"), lookup),
    ).rejects.toBeInstanceOf(WikiError);
    expect(lookups).toEqual([]);
  });

  test("a handle someone here was last seen with follows the DID it names today", async () => {
    // olive.bsky.social was Olive's at her last sign-in; it now names someone else.
    const moved = await resolveGrantSubject(
      deps,
      asOlive(),
      "lab",
      parseSubject("olive.bsky.social"),
      answering({ kind: "did", did: DID_NEW }),
    );
    expect(moved).toEqual({ kind: "did", did: DID_NEW, handle: "olive.bsky.social" });
    // Naming nobody now, it goes to the person last seen with it rather than being refused.
    const known = parseSubject("olive.bsky.social");
    expect(
      await resolveGrantSubject(deps, asOlive(), "lab", known, answering({ kind: "unknown" })),
    ).toEqual(known);
  });
});
