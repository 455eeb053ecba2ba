import type { Database } from "bun:sqlite";
import { beforeEach, describe, expect, test } from "bun:test";
import { openDatabase } from "../../db/database.ts";
import { WikiStore } from "../../wikis/wiki-store.ts";
import { UserStore } from "../user-store.ts";
import { SESSION_LIFETIME_SECONDS, SessionService } from "./session.ts";
import { SessionStore } from "./session-store.ts";

let db: Database;
let clock: number;
let sessions: SessionService;
let userId: number;
let wikiA: number;
let wikiB: number;
const STATE = "abcdefghijklmnopqrstuv";

beforeEach(() => {
  db = openDatabase(":memory:");
  clock = 1_800_000_000;
  sessions = new SessionService(new SessionStore(db), () => clock);
  const users = new UserStore(db);
  const user = users.create({
    did: "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa",
    handle: "alice.test",
    username: "alice",
    displayName: "Alice",
  });
  userId = user.id;
  const wikis = new WikiStore(db);
  wikiA = wikis.create({
    slug: "alpha",
    name: "A",
    ownerId: userId,
    isPublic: false,
    tier: "free",
  }).id;
  wikiB = wikis.create({
    slug: "beta",
    name: "B",
    ownerId: userId,
    isPublic: false,
    tier: "free",
  }).id;
});

describe("sessions", () => {
  test("a token is sess_<id>.<secret>, valid on the apex only, and only its hash is stored", () => {
    const { token, session } = sessions.createSession(userId);
    expect(token).toMatch(/^sess_[a-z0-9]{16}\.[A-Za-z0-9_-]{43}$/);
    expect(sessions.validateSessionToken(token, { kind: "apex" })?.userId).toBe(userId);
    expect(sessions.validateSessionToken(token, { kind: "wiki", wikiId: wikiA })).toBeNull();
    const row = db
      .query<{ secret_hash: Uint8Array }, [string]>("SELECT secret_hash FROM sessions WHERE id = ?")
      .get(session.id);
    const secret = token.split(".")[1] ?? "";
    expect(row?.secret_hash.byteLength).toBe(32);
    expect(Buffer.from(row?.secret_hash ?? []).toString("utf8")).not.toContain(secret);
  });

  test.each([
    [
      "a tampered secret",
      (token: string) => `${token.slice(0, -1)}${token.endsWith("A") ? "B" : "A"}`,
    ],
    // Another first character for sure: the id may already start with "0" (1 time in 36).
    ["an unknown id", (token: string) => `sess_${token[5] === "0" ? "1" : "0"}${token.slice(6)}`],
    ["no prefix", (token: string) => token.slice(5)],
    ["trailing junk", (token: string) => `${token} `],
    ["an empty string", () => ""],
  ])("%s is refused", (_, mangle) => {
    const { token } = sessions.createSession(userId);
    expect(sessions.validateSessionToken(mangle(token), { kind: "apex" })).toBeNull();
  });

  test("a session expires after its lifetime and its row is removed", () => {
    const { token, session } = sessions.createSession(userId);
    clock += SESSION_LIFETIME_SECONDS - 1;
    expect(sessions.validateSessionToken(token, { kind: "apex" })).not.toBeNull();
    clock += 1;
    expect(sessions.validateSessionToken(token, { kind: "apex" })).toBeNull();
    expect(db.query("SELECT 1 FROM sessions WHERE id = ?").get(session.id)).toBeNull();
  });

  test("invalidating a user's sessions ends all of them", () => {
    const first = sessions.createSession(userId);
    const second = sessions.createSession(userId);
    sessions.invalidateUserSessions(userId);
    expect(sessions.validateSessionToken(first.token, { kind: "apex" })).toBeNull();
    expect(sessions.validateSessionToken(second.token, { kind: "apex" })).toBeNull();
  });
});

describe("handoff codes", () => {
  test("a code is redeemed once, on its wiki, by the browser holding the state", () => {
    const apex = sessions.createSession(userId);
    const code = sessions.createHandoffCode(apex.session, wikiA, STATE);
    expect(code).toMatch(/^handoff_[a-z0-9]{16}\.[A-Za-z0-9_-]{43}$/);
    const issued = sessions.redeemHandoffCode(code, wikiA, STATE);
    expect(issued).not.toBeNull();
    if (issued === null) return;
    expect(issued.token).not.toBe(apex.token);
    expect(issued.session.expiresAt).toBe(apex.session.expiresAt);
    expect(
      sessions.validateSessionToken(issued.token, { kind: "wiki", wikiId: wikiA })?.userId,
    ).toBe(userId);
    // A wiki host's session works on no other host, the apex included.
    expect(sessions.validateSessionToken(issued.token, { kind: "wiki", wikiId: wikiB })).toBeNull();
    expect(sessions.validateSessionToken(issued.token, { kind: "apex" })).toBeNull();
    expect(sessions.redeemHandoffCode(code, wikiA, STATE)).toBeNull();
  });

  test("a code for another wiki, without the state or with another state is refused and spent", () => {
    const apex = sessions.createSession(userId);
    const forB = sessions.createHandoffCode(apex.session, wikiB, STATE);
    expect(sessions.redeemHandoffCode(forB, wikiA, STATE)).toBeNull();
    expect(sessions.redeemHandoffCode(forB, wikiB, STATE)).toBeNull();
    const noState = sessions.createHandoffCode(apex.session, wikiA, STATE);
    expect(sessions.redeemHandoffCode(noState, wikiA, null)).toBeNull();
    const otherState = sessions.createHandoffCode(apex.session, wikiA, STATE);
    expect(sessions.redeemHandoffCode(otherState, wikiA, "zzzzzzzzzzzzzzzzzzzzzz")).toBeNull();
  });

  test("a code older than a minute is refused", () => {
    const apex = sessions.createSession(userId);
    const code = sessions.createHandoffCode(apex.session, wikiA, STATE);
    clock += 61;
    expect(sessions.redeemHandoffCode(code, wikiA, STATE)).toBeNull();
  });

  test("signing out of the apex ends the wiki-host sessions minted from it, and pending codes", () => {
    const apex = sessions.createSession(userId);
    const issued = sessions.redeemHandoffCode(
      sessions.createHandoffCode(apex.session, wikiA, STATE),
      wikiA,
      STATE,
    );
    const pending = sessions.createHandoffCode(apex.session, wikiB, STATE);
    sessions.invalidateSession(apex.session.id);
    expect(
      sessions.validateSessionToken(issued?.token ?? "", { kind: "wiki", wikiId: wikiA }),
    ).toBeNull();
    expect(sessions.redeemHandoffCode(pending, wikiB, STATE)).toBeNull();
  });

  test("codes are minted from apex sessions only", () => {
    const apex = sessions.createSession(userId);
    const issued = sessions.redeemHandoffCode(
      sessions.createHandoffCode(apex.session, wikiA, STATE),
      wikiA,
      STATE,
    );
    if (issued === null) throw new Error("no wiki session");
    expect(() => sessions.createHandoffCode(issued.session, wikiB, STATE)).toThrow("apex");
  });
});
