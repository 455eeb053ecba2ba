/**
 * git clone and fetch over smart HTTP with the real git client against the real server: who may
 * clone, protocol v0 and v2, gzip, shallow and partial clones, and the paths that must not serve
 * anything (gitprotocol-http.adoc; ../shared/notes/git-smart-http.md).
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { encodePacket } from "../src/git/pkt-line.ts";
import { gitText } from "../src/repo/git.ts";
import { repoDir } from "../src/wikis/wiki-paths.ts";
import { WikiStore } from "../src/wikis/wiki-store.ts";
import {
  basicAuthorization,
  commitFiles,
  createGitClient,
  type GitClient,
  nextCloneDir,
  repoUrl,
} from "./support/git.ts";
import {
  createToken,
  createUserAndWiki,
  startTestServer,
  type TestServer,
} from "./support/server.ts";

// Starts a real server and many git processes; the 5 s default is too short on 2 cores.
setDefaultTimeout(120_000);

let t: TestServer;
let git: GitClient;
let privateOwner: { token: string };
let publicOwner: { token: string };

beforeAll(async () => {
  t = await startTestServer();
  git = createGitClient();
  privateOwner = await createUserAndWiki(t, { username: "olive", slug: "demo", tier: "premium" });
  publicOwner = await createUserAndWiki(t, { username: "pat", slug: "pub", public: true });
});
afterAll(async () => {
  git.close();
  await t.close();
});

const wikiOrigin = (slug: string) => t.wikiOrigin(slug);

async function clone(url: string, extra: string[] = [], env: Record<string, string> = {}) {
  const dir = nextCloneDir(git);
  const result = await git.run(["clone", ...extra, url, dir], { env });
  return { dir, ...result };
}

describe("who may clone", () => {
  test("anyone may clone a public wiki without credentials", async () => {
    const { dir, exitCode, stderr } = await clone(repoUrl(t, "pub"));
    expect(stderr).not.toContain("fatal");
    expect(exitCode).toBe(0);
    expect(readFileSync(join(dir, "Home.md"), "utf8")).toContain("#");
  });

  test("a private wiki clones with a wiki token as the password", async () => {
    const { dir, exitCode } = await clone(repoUrl(t, "demo", privateOwner.token));
    expect(exitCode).toBe(0);
    const log = await git.ok(["log", "--format=%s"], { cwd: dir });
    expect(log).toContain("demo");
  });

  test("a private wiki without credentials answers 401 with a Basic challenge for the wiki", async () => {
    const response = await fetch(
      `${wikiOrigin("demo")}/repo.git/info/refs?service=git-upload-pack`,
    );
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toStartWith('Basic realm="demo"');
    expect(await response.text()).toContain("private wiki");

    const { exitCode, stderr } = await clone(repoUrl(t, "demo"));
    expect(exitCode).not.toBe(0);
    // The challenge made git ask for a password, which these tests forbid it to prompt for.
    expect(stderr).toContain("could not read Username");
  });

  test("a wrong token is refused with 401 and git shows why", async () => {
    const { exitCode, stderr } = await clone(repoUrl(t, "demo", "wbt_0000000000000000.wrong"));
    expect(exitCode).not.toBe(0);
    expect(stderr).toContain("remote: authentication failed");
    expect(stderr).toContain("Authentication failed for");
  });

  test("another wiki's token is refused with 401, even on a public wiki", async () => {
    for (const [slug, token] of [
      ["demo", publicOwner.token],
      ["pub", privateOwner.token],
    ] as const) {
      const response = await fetch(
        `${wikiOrigin(slug)}/repo.git/info/refs?service=git-upload-pack`,
        { headers: { authorization: basicAuthorization(token) } },
      );
      expect(response.status).toBe(401);
      expect(await response.text()).toContain(`not valid for ${slug}`);
    }
  });

  test("a revoked token stops working at once", async () => {
    const made = await createToken(t, "demo", "olive");
    const url = repoUrl(t, "demo", made.token);
    expect((await clone(url)).exitCode).toBe(0);
    await t.adminJson("revoke-token", "--id", made.id);
    const { exitCode, stderr } = await clone(url);
    expect(exitCode).not.toBe(0);
    expect(stderr).toContain("Authentication failed");
  });

  test("a user whose role was removed finds their token revoked with it", async () => {
    await createUserAndWiki(t, { username: "rita", slug: "rita-wiki" });
    await t.adminJson("grant", "--wiki", "demo", "--user", "rita", "--role", "viewer");
    const made = await createToken(t, "demo", "rita");
    const url = repoUrl(t, "demo", made.token);
    expect((await clone(url)).exitCode).toBe(0);
    await t.adminJson("revoke", "--wiki", "demo", "--user", "rita");
    const response = await fetch(
      `${wikiOrigin("demo")}/repo.git/info/refs?service=git-upload-pack`,
      { headers: { authorization: basicAuthorization(String(made.token)) } },
    );
    // Removing a member revokes their tokens for the wiki (src/wikis/members.ts).
    expect(response.status).toBe(401);
    expect(await response.text()).toContain(
      "that token is not valid for demo: it has been revoked",
    );
  });
});

describe("protocol", () => {
  test("protocol v2 is spoken when the client asks for it", async () => {
    const { exitCode, stderr } = await clone(repoUrl(t, "pub"), [], { GIT_TRACE_PACKET: "1" });
    expect(exitCode).toBe(0);
    expect(stderr).toContain("< version 2");
    expect(stderr).toContain("> command=fetch");
  });

  test("protocol v0 still works", async () => {
    const dir = nextCloneDir(git);
    const result = await git.run(["-c", "protocol.version=0", "clone", repoUrl(t, "pub"), dir], {
      env: { GIT_TRACE_PACKET: "1" },
    });
    expect(result.exitCode).toBe(0);
    expect(result.stderr).not.toContain("version 2");
    expect(result.stderr).toContain("multi_ack");
    expect(existsSync(join(dir, "Home.md"))).toBe(true);
  });

  test("a Git-Protocol header that is not key=value pairs is ignored (v0 answer)", async () => {
    const response = await fetch(
      `${wikiOrigin("pub")}/repo.git/info/refs?service=git-upload-pack`,
      {
        headers: { "git-protocol": "version=2;rm -rf" },
      },
    );
    expect(response.status).toBe(200);
    const body = await response.text();
    expect(body).toStartWith("001e# service=git-upload-pack\n0000");
    expect(body).not.toContain("version 2");
    expect(body).toContain("refs/heads/main");
  });

  test("the advertisement has git's content type and is never cached", async () => {
    const response = await fetch(
      `${wikiOrigin("pub")}/repo.git/info/refs?service=git-upload-pack`,
      {
        headers: { "git-protocol": "version=2" },
      },
    );
    expect(response.headers.get("content-type")).toBe(
      "application/x-git-upload-pack-advertisement",
    );
    expect(response.headers.get("cache-control")).toContain("no-cache");
    expect(await response.text()).toContain("version 2");
  });

  test("a gzip-compressed fetch request is understood", async () => {
    const dir = (await clone(repoUrl(t, "demo", privateOwner.token))).dir;
    // Over 1 KiB of "have" lines makes git gzip the request (remote-curl.c).
    await git.ok(["checkout", "-q", "-b", "local"], { cwd: dir });
    for (let index = 0; index < 40; index++) {
      await commitFiles(git, dir, { "Local.md": `local ${index}` }, `local ${index}`);
    }
    const wiki = new WikiStore(t.server.db).findBySlug("demo");
    if (wiki === null) throw new Error("no wiki");
    await t.server.pages.write(wiki, {
      path: "Gzip Fetch",
      content: "fetched through gzip",
      author: { name: "Olive", email: "olive@example.invalid" },
      client: "test",
    });
    const result = await git.run(["fetch", "origin"], {
      cwd: dir,
      env: { GIT_TRACE_CURL: "1", GIT_TRACE_CURL_NO_DATA: "1" },
    });
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toMatch(/Send header: Content-Encoding: gzip/i);
    const fetched = await git.ok(["show", "origin/main:Gzip Fetch.md"], { cwd: dir });
    expect(fetched).toBe("fetched through gzip");
  });

  test("a shallow clone holds one commit", async () => {
    const { dir, exitCode } = await clone(repoUrl(t, "pub"), ["--depth", "1"]);
    expect(exitCode).toBe(0);
    expect((await git.ok(["rev-list", "--count", "HEAD"], { cwd: dir })).trim()).toBe("1");
    expect(existsSync(join(dir, ".git", "shallow"))).toBe(true);
  });

  test("a partial clone fetches blobs on demand", async () => {
    const { dir, exitCode, stderr } = await clone(repoUrl(t, "pub"), [
      "--filter=blob:none",
      "--no-checkout",
    ]);
    expect(stderr).not.toContain("filtering not recognized");
    expect(exitCode).toBe(0);
    expect((await git.ok(["config", "remote.origin.promisor"], { cwd: dir })).trim()).toBe("true");
    const missing = await git.ok(["rev-list", "--objects", "--all", "--missing=print"], {
      cwd: dir,
    });
    expect(missing).toMatch(/^\?[0-9a-f]{40}$/m);
    await git.ok(["checkout", "-q", "main"], { cwd: dir });
    expect(readFileSync(join(dir, "Home.md"), "utf8")).toContain("#");
  });

  // Protocol v2 lets a fetch want any object id (gitprotocol-v2.adoc: "Wants can be anything and
  // are not limited to advertised objects"), so the allow*SHA1InWant settings govern v0 only.
  test("under protocol v0 an object no ref reaches cannot be fetched by its id", async () => {
    const repo = repoDir(t.dataDir, "pub");
    const tree = (await gitText(repo, ["rev-parse", "HEAD^{tree}"])).trim();
    const dangling = (
      await gitText(repo, ["commit-tree", tree, "-m", "removed content"], {
        env: {
          GIT_AUTHOR_NAME: "x",
          GIT_AUTHOR_EMAIL: "x@x",
          GIT_COMMITTER_NAME: "x",
          GIT_COMMITTER_EMAIL: "x@x",
        },
      })
    ).trim();
    const { dir } = await clone(repoUrl(t, "pub"));
    const result = await git.run(["-c", "protocol.version=0", "fetch", "origin", dangling], {
      cwd: dir,
    });
    expect(result.exitCode).not.toBe(0);
    // git refuses client-side when the server advertises no allow-*-sha1-in-want; ask directly.
    const request = new Uint8Array([
      ...encodePacket(`want ${dangling} side-band-64k ofs-delta\n`),
      ...new TextEncoder().encode("0000"),
      ...encodePacket("done\n"),
    ]);
    const response = await fetch(`${wikiOrigin("pub")}/repo.git/git-upload-pack`, {
      method: "POST",
      headers: { "content-type": "application/x-git-upload-pack-request" },
      body: request,
    });
    const answer = await response.text();
    expect(answer).toContain(`not our ref ${dangling}`);
    expect(answer).not.toContain("PACK");
  });

  test("a corrupt gzip body ends that request and the server keeps serving", async () => {
    const response = await fetch(`${wikiOrigin("pub")}/repo.git/git-upload-pack`, {
      method: "POST",
      headers: {
        "content-type": "application/x-git-upload-pack-request",
        "content-encoding": "gzip",
      },
      body: new Uint8Array([0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]),
    });
    const body = await response.arrayBuffer().catch(() => new ArrayBuffer(0));
    expect(new TextDecoder().decode(body)).not.toContain("PACK");
    expect((await clone(repoUrl(t, "pub"))).exitCode).toBe(0);
  });
});

describe("only the three smart-HTTP endpoints answer", () => {
  /** Sends the request target exactly as written (no client-side normalisation). */
  async function rawGet(slug: string, target: string, token?: string) {
    const args = ["curl", "-s", "--path-as-is", "-o", "-", "-w", "\n%{http_code} %{content_type}"];
    if (token !== undefined) args.push("-u", `git:${token}`);
    const proc = Bun.spawn([...args, `${wikiOrigin(slug)}${target}`], { stdout: "pipe" });
    const output = await new Response(proc.stdout).text();
    await proc.exited;
    const lastNewline = output.lastIndexOf("\n");
    const [status = "", contentType = ""] = output.slice(lastNewline + 1).split(" ");
    return { status: Number(status), contentType, body: output.slice(0, lastNewline) };
  }

  test.each([
    "/repo.git",
    "/repo.git/",
    "/repo.git/HEAD",
    "/repo.git/config",
    "/repo.git/objects/info/packs",
    "/repo.git/info/refs/../../config",
    "/repo.git/%2e%2e/repo.git/config",
    "/repo.git/info%2frefs?service=git-upload-pack",
    "/repo.git/.git/config",
  ])("%s is 404 and serves no repository file", async (target) => {
    const response = await rawGet("demo", target, privateOwner.token);
    expect(response.status).toBe(404);
    expect(response.contentType).toStartWith("text/plain");
    expect(response.body).not.toContain("[core]");
    expect(response.body).not.toMatch(/[0-9a-f]{40}/);
  });

  test.each([
    "/repo.git%2finfo%2frefs?service=git-upload-pack",
    "/repo.git/../repo.git/../pub/repo.git/info/refs?service=git-upload-pack",
    "/pub/repo.git/info/refs?service=git-upload-pack",
    "//repo.git/info/refs?service=git-upload-pack",
  ])("%s does not reach git at all", async (target) => {
    // These leave /repo.git once normalised, so the wiki's browser routes answer (404, or a
    // sign-in redirect for a private wiki); what matters is that no git data comes back.
    const response = await rawGet("demo", target);
    expect(response.status).not.toBe(200);
    expect(response.contentType).not.toContain("x-git");
    expect(response.body).not.toContain("refs/heads/main");
  });

  test("info/refs without a smart service is refused: no dumb HTTP", async () => {
    for (const query of ["", "?service=git-upload-archive", "?service=upload-pack"]) {
      const response = await rawGet("pub", `/repo.git/info/refs${query}`);
      expect(response.status).toBe(403);
      expect(response.body).toContain("only smart HTTP");
    }
  });

  test("a wrong method or content type is refused before git starts", async () => {
    const get = await rawGet("pub", "/repo.git/git-upload-pack");
    expect(get.status).toBe(405);
    const post = await fetch(`${wikiOrigin("pub")}/repo.git/git-upload-pack`, {
      method: "POST",
      headers: { "content-type": "application/octet-stream" },
      body: "0000",
    });
    expect(post.status).toBe(415);
    const encoded = await fetch(`${wikiOrigin("pub")}/repo.git/git-upload-pack`, {
      method: "POST",
      headers: {
        "content-type": "application/x-git-upload-pack-request",
        "content-encoding": "br",
      },
      body: "0000",
    });
    expect(encoded.status).toBe(415);
  });

  test("the repository is the Host's wiki whatever the path says", async () => {
    // demo's token on pub's host is refused, and pub's refs are what pub's host serves.
    const onPub = await rawGet("pub", "/repo.git/info/refs?service=git-upload-pack");
    const demoHead = (await gitText(repoDir(t.dataDir, "demo"), ["rev-parse", "HEAD"])).trim();
    const pubHead = (await gitText(repoDir(t.dataDir, "pub"), ["rev-parse", "HEAD"])).trim();
    expect(onPub.body).toContain(pubHead);
    expect(onPub.body).not.toContain(demoHead);
  });
});
