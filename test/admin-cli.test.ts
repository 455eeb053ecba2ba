/** The admin CLI as an operator runs it: a real child process against a fresh DATA_DIR. */
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { RESERVED_SLUGS } from "../src/wikis/slug.ts";
import { makeDataDir, runAdmin, testDid } from "./support/server.ts";

// Each case spawns the CLI; the 5 s default is too short on 2 cores.
setDefaultTimeout(120_000);

const dataDir = makeDataDir();
const env = { DATA_DIR: dataDir, PUBLIC_URL: "https://wikibot.example" };
const admin = (...args: string[]) => runAdmin(env, args);
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

/** A failed command prints exactly one line, starting with "error:", and exits non-zero. */
async function expectRefused(args: string[], why: string) {
  const result = await admin(...args);
  expect(result.exitCode).not.toBe(0);
  expect(result.stdout).toBe("");
  const lines = result.stderr.trim().split("\n");
  expect(lines.length).toBe(1);
  expect(lines[0]).toStartWith("error: ");
  expect(lines[0]).toContain(why);
}

describe("users and wikis", () => {
  test("create-user, then create-wiki prints URLs and a token once", async () => {
    const user = await admin(
      "create-user",
      "--username",
      "alice",
      "--did",
      testDid(),
      "--handle",
      "alice.bsky.social",
      "--display-name",
      "Alice A.",
      "--json",
    );
    expect(user.exitCode).toBe(0);
    expect(JSON.parse(user.stdout)).toMatchObject({ username: "alice", display_name: "Alice A." });

    const created = await admin(
      "create-wiki",
      "--slug",
      "lab-notes",
      "--owner",
      "alice",
      "--name",
      "Lab Notes",
      "--json",
    );
    expect(created.exitCode).toBe(0);
    const json = JSON.parse(created.stdout);
    expect(Object.keys(json).sort()).toEqual(["git_url", "mcp_url", "slug", "token", "url"]);
    expect(json).toMatchObject({
      slug: "lab-notes",
      url: "https://lab-notes.wikibot.example/",
      mcp_url: "https://lab-notes.wikibot.example/mcp",
      git_url: "https://lab-notes.wikibot.example/repo.git",
    });
    expect(json.token).toMatch(/^wbt_[a-z0-9]{16}\.[A-Za-z0-9_-]{43}$/);

    const text = await admin(
      "create-wiki",
      "--slug",
      "second",
      "--owner",
      "alice",
      "--public",
      "--tier",
      "premium",
    );
    expect(text.stdout).toContain("owner's write token (shown once): wbt_");
    const list = JSON.parse((await admin("list-wikis", "--json")).stdout);
    expect(list).toEqual([
      {
        slug: "lab-notes",
        name: "Lab Notes",
        tier: "free",
        public: false,
        owner: "alice",
        url: "https://lab-notes.wikibot.example/",
      },
      {
        slug: "second",
        name: "second",
        tier: "premium",
        public: true,
        owner: "alice",
        url: "https://second.wikibot.example/",
      },
    ]);
    // The token is never stored in plain text.
    const db = await Bun.file(join(dataDir, "wikibot.db")).text();
    expect(db).not.toContain(json.token.split(".")[1]);
    // No staging folders are left behind.
    expect(readdirSync(join(dataDir, "wikis")).filter((name) => name.startsWith("."))).toEqual([]);
  });

  test("every reserved slug is refused with a clear message", async () => {
    for (const slug of RESERVED_SLUGS) {
      await expectRefused(
        ["create-wiki", "--slug", slug, "--owner", "alice"],
        `slug "${slug}" is reserved`,
      );
    }
  });

  test.each([
    ["ab", "3–63 characters"],
    ["x".repeat(64), "3–63 characters"],
    ["Upper", "lowercase letters"],
    ["-lead", "start and end"],
    ["trail-", "start and end"],
    ["under_score", "lowercase letters"],
    ["dot.ted", "lowercase letters"],
    ["xn--punycode", "two hyphens"],
    ["spa ce", "lowercase letters"],
  ])("malformed slug %j is refused", async (slug, why) => {
    await expectRefused(["create-wiki", `--slug=${slug}`, "--owner", "alice"], why);
    expect(existsSync(join(dataDir, "wikis", slug))).toBe(false);
  });

  test("duplicates and unknown owners are refused", async () => {
    await expectRefused(
      ["create-wiki", "--slug", "lab-notes", "--owner", "alice"],
      "already exists",
    );
    await expectRefused(
      ["create-wiki", "--slug", "newone", "--owner", "nobody"],
      'no user "nobody"',
    );
    await expectRefused(
      ["create-user", "--username", "alice", "--did", testDid(), "--handle", "a2.bsky.social"],
      "already exists",
    );
    await expectRefused(
      ["create-user", "--username", "bob", "--did", "did:example:1", "--handle", "bob.bsky.social"],
      "did:plc or did:web",
    );
    await expectRefused(
      ["create-user", "--username", "bob", "--did", testDid(), "--handle", "not a handle"],
      "handle",
    );
  });

  test("a folder left by a crashed creation or deletion never blocks the slug, and .trash is emptied", async () => {
    // What a deletion that died after removing the row (or a creation before writing it) leaves.
    mkdirSync(join(dataDir, "wikis", "ghost", "repo"), { recursive: true });
    writeFileSync(join(dataDir, "wikis", "ghost", "repo", "stale.md"), "stale\n");
    // What a deletion that died halfway through removing its renamed folder leaves.
    mkdirSync(join(dataDir, "wikis", ".trash", "old-abc", "repo"), { recursive: true });
    const made = await admin("create-wiki", "--slug", "ghost", "--owner", "alice", "--json");
    expect(made.exitCode).toBe(0);
    expect(existsSync(join(dataDir, "wikis", "ghost", "repo", "stale.md"))).toBe(false);
    expect(existsSync(join(dataDir, "wikis", "ghost", "repo", "Home.md"))).toBe(true);
    expect(existsSync(join(dataDir, "wikis", ".trash"))).toBe(false);
  });
});

describe("tokens, roles and tiers", () => {
  test("create-token, grant, revoke and set-tier validate their input", async () => {
    await admin(
      "create-user",
      "--username",
      "bob",
      "--did",
      testDid(),
      "--handle",
      "bob.bsky.social",
    );
    await expectRefused(
      ["create-token", "--wiki", "lab-notes", "--user", "bob"],
      "no role on lab-notes",
    );
    expect(
      (await admin("grant", "--wiki", "lab-notes", "--user", "bob", "--role", "editor")).exitCode,
    ).toBe(0);
    const token = JSON.parse(
      (
        await admin(
          "create-token",
          "--wiki",
          "lab-notes",
          "--user",
          "bob",
          "--scope",
          "read",
          "--label",
          "laptop",
          "--json",
        )
      ).stdout,
    );
    expect(Object.keys(token).sort()).toEqual(["id", "token"]);
    expect((await admin("revoke-token", "--id", token.id)).exitCode).toBe(0);
    await expectRefused(["revoke-token", "--id", token.id], "already revoked");
    await expectRefused(["revoke-token", "--id", "nope"], 'no token "nope"');
    await expectRefused(
      ["create-token", "--wiki", "lab-notes", "--user", "bob", "--scope", "admin"],
      "--scope must be read or write",
    );
    await expectRefused(
      ["grant", "--wiki", "lab-notes", "--user", "bob", "--role", "god"],
      "--role must be",
    );
    await expectRefused(
      ["grant", "--wiki", "nowiki", "--user", "bob", "--role", "viewer"],
      'no wiki "nowiki"',
    );
    expect((await admin("revoke", "--wiki", "lab-notes", "--user", "bob")).exitCode).toBe(0);
    await expectRefused(["revoke", "--wiki", "lab-notes", "--user", "bob"], "has no role");
    await expectRefused(
      ["revoke", "--wiki", "lab-notes", "--user", "alice"],
      "make someone else owner first",
    );
    expect(
      JSON.parse(
        (await admin("set-tier", "--wiki", "lab-notes", "--tier", "lapsed", "--json")).stdout,
      ),
    ).toEqual({ wiki: "lab-notes", tier: "lapsed" });
    await expectRefused(["set-tier", "--wiki", "lab-notes", "--tier", "gold"], "--tier must be");
    await expectRefused(
      ["create-wiki", "--slug", "lapsy", "--owner", "alice", "--tier", "lapsed"],
      "--tier must be free or premium",
    );
  });

  test("usage mistakes give one line and a non-zero exit; --help lists the commands", async () => {
    await expectRefused(["frobnicate"], 'unknown command "frobnicate"');
    await expectRefused(["create-user", "--username"], "--username");
    await expectRefused(["create-user", "--bogus", "x"], "bogus");
    await expectRefused(["create-wiki", "--slug", "-lead", "--owner", "alice"], "--slug");
    await expectRefused(["create-wiki", "--owner", "alice"], "--slug is required");
    const help = await admin("--help");
    expect(help.exitCode).toBe(0);
    for (const command of [
      "create-user",
      "create-wiki",
      "create-token",
      "revoke-token",
      "grant",
      "revoke",
      "set-tier",
      "list-wikis",
      "list-users",
    ]) {
      expect(help.stdout).toContain(command);
    }
  });

  test("a malformed environment is refused with the variable named", async () => {
    const result = await runAdmin({ DATA_DIR: dataDir, PUBLIC_URL: "nope" }, ["list-users"]);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain("PUBLIC_URL");
  });
});
