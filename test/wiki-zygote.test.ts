/**
 * Wiki processes forked from one pre-loaded parent (WIKI_LAUNCHER=zygote, issue 14), under the
 * real server and real Otterwiki: two wikis forked from the same zygote keep their own settings,
 * secret, cookie and repository; a killed child and a killed zygote are both recovered on the
 * next request; a rename reaches the wiki's process; the titles that stale-process cleanup and
 * `admin doctor` rely on name each child's socket.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync } from "node:fs";
import { join } from "node:path";
import { repoDir } from "../src/wikis/wiki-paths.ts";
import {
  addPublicWiki,
  addUser,
  makeDataDir,
  PROJECT_DIR,
  runAdmin,
  startTestServer,
  type TestServer,
  testDid,
} from "./support/server.ts";
import { spawnServer } from "./support/server-process.ts";
import { type SignedIn, signIn } from "./support/session.ts";

// Starts real processes (server, zygote, git, Otterwiki); 5 s is too short on a busy 2-core box.
setDefaultTimeout(180_000);

let t: TestServer;
let olive: SignedIn;

/** A public wiki of olive's, named `Wiki <slug>`. */
const addWiki = (slug: string) => addPublicWiki(t, slug, "olive");

beforeAll(async () => {
  t = await startTestServer({ WIKI_LAUNCHER: "zygote", WIKI_PROCESSES_MAX: "4" });
  await addUser(t, "olive");
  for (const slug of ["alpha", "beta"]) await addWiki(slug);
  olive = signIn(t, "olive");
});
afterAll(async () => {
  await t?.close();
});

function wikiRecord(slug: string) {
  const wiki = t.server.browserSessions.wikis.findBySlug(slug);
  if (wiki === null) throw new Error(`no wiki ${slug}`);
  return wiki;
}

function pidOf(slug: string): number {
  const pid = t.server.wikiProcesses().processes.find((entry) => entry.wiki === slug)?.pid;
  if (typeof pid !== "number") throw new Error(`${slug} has no process`);
  return pid;
}

function parentOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
}

/** Running and not a zombie. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

function commandLine(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
}

/** Whether `text` is anywhere in the process's writable memory (/proc/<pid>/mem, as its owner). */
function memoryHolds(pid: number, text: string): boolean {
  const needle = Buffer.from(text);
  const mem = openSync(`/proc/${pid}/mem`, "r");
  try {
    for (const line of readFileSync(`/proc/${pid}/maps`, "utf8").split("\n")) {
      const [range = "", perms = ""] = line.split(" ");
      if (!perms.startsWith("rw")) continue;
      const [start = 0, end = 0] = range.split("-").map((hex) => Number.parseInt(hex, 16));
      const chunk = Buffer.alloc(end - start);
      let read = 0;
      try {
        read = readSync(mem, chunk, 0, chunk.length, start);
      } catch {
        continue; // e.g. [vvar]: not readable through mem
      }
      if (chunk.subarray(0, read).includes(needle)) return true;
    }
    return false;
  } finally {
    closeSync(mem);
  }
}

async function until(condition: () => boolean): Promise<void> {
  for (let tries = 0; tries < 2400 && !condition(); tries++) await Bun.sleep(25);
  if (!condition()) throw new Error("condition never held");
}

async function view(slug: string, path = "/"): Promise<Response> {
  return fetch(`${t.wikiOrigin(slug)}${path}`, { redirect: "manual" });
}

function socketOf(slug: string): string {
  return join(t.dataDir, "run", `ow-${wikiRecord(slug).id}.sock`);
}

/** Straight to a wiki's socket as an editor, the way only the proxy may talk to it. */
function direct(slug: string, path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set("x-otterwiki-name", "Olive");
  headers.set("x-otterwiki-email", "olive@users.wikibot.invalid");
  headers.set("x-otterwiki-permissions", "READ,WRITE,UPLOAD");
  return fetch(`${t.wikiOrigin(slug)}${path}`, {
    ...init,
    headers,
    unix: socketOf(slug),
    redirect: "manual",
  });
}

function head(slug: string): string {
  const result = Bun.spawnSync(["git", "-C", repoDir(t.dataDir, slug), "rev-parse", "HEAD"]);
  return result.stdout.toString().trim();
}

describe("two wikis forked from one zygote stay apart", () => {
  test("each renders its own name and pages, from the same parent", async () => {
    await t.server.pages.write(wikiRecord("alpha"), {
      path: "Only Alpha",
      content: "# Only Alpha\n\nAlpha's own words.\n",
      author: { name: "Olive", email: "olive@users.wikibot.invalid" },
      client: "test",
    });
    const [alpha, beta] = await Promise.all([view("alpha"), view("beta")]);
    expect(alpha.status).toBe(200);
    expect(beta.status).toBe(200);
    const [alphaHtml, betaHtml] = await Promise.all([alpha.text(), beta.text()]);
    expect(alphaHtml).toContain("Welcome to <strong>Wiki alpha</strong>");
    expect(alphaHtml).not.toContain("Wiki beta");
    expect(betaHtml).toContain("Welcome to <strong>Wiki beta</strong>");
    expect(betaHtml).not.toContain("Wiki alpha");
    const page = await view("alpha", "/Only%20Alpha");
    expect(await page.text()).toContain("Alpha's own words.");
    const missing = await view("beta", "/Only%20Alpha");
    expect(await missing.text()).not.toContain("Alpha's own words.");

    const alphaPid = pidOf("alpha");
    const betaPid = pidOf("beta");
    expect(alphaPid).not.toBe(betaPid);
    const zygote = parentOf(alphaPid);
    expect(parentOf(betaPid)).toBe(zygote);
    expect(commandLine(zygote).slice(0, 2)).toEqual([
      "wikibot-otterwiki-zygote",
      join(t.dataDir, "run"),
    ]);
    // Each child names its own socket, as gunicorn's --bind did (stale-process cleanup).
    expect(commandLine(alphaPid)).toEqual(["wikibot-otterwiki", `unix:${socketOf("alpha")}`]);
    expect(commandLine(betaPid)).toEqual(["wikibot-otterwiki", `unix:${socketOf("beta")}`]);
    // No wiki's secret ever passes through the zygote's environment.
    const zygoteEnvironment = readFileSync(`/proc/${zygote}/environ`, "utf8");
    expect(zygoteEnvironment).not.toContain("WIKIBOT_");
    const settings = (slug: string) =>
      readFileSync(join(t.dataDir, "wikis", slug, "otterwiki", "settings.cfg"), "utf8");
    const secretOf = (slug: string) => /^SECRET_KEY = (.*)$/m.exec(settings(slug))?.[1];
    expect(secretOf("alpha")).toBeString();
    expect(secretOf("alpha")).not.toBe(secretOf("beta"));
    // Nor its memory, which every later child inherits: not even freed, a secret never went in.
    for (const slug of ["alpha", "beta"]) {
      const secret = secretOf(slug)?.slice(1, -1) ?? "";
      expect(secret.length).toBeGreaterThanOrEqual(16);
      expect(memoryHolds(zygote, secret)).toBe(false);
      expect(memoryHolds(pidOf(slug), secret)).toBe(true);
    }
    expect(settings("beta")).toContain(repoDir(t.dataDir, "beta"));
    expect(settings("beta")).not.toContain(repoDir(t.dataDir, "alpha"));
  });

  test("a session cookie and CSRF token of one wiki are refused by the other", async () => {
    // Both processes up (through the proxy, which starts them), then straight to each socket.
    expect((await view("alpha")).status).toBe(200);
    expect((await view("beta")).status).toBe(200);
    const form = await direct("alpha", "/Shared%20Note/edit");
    expect(form.status).toBe(200);
    const html = await form.text();
    const csrf = /name="csrf_token" value="([^"]+)"/.exec(html)?.[1];
    expect(csrf).toBeString();
    const cookie = form.headers
      .getSetCookie()
      .map((line) => line.split(";")[0] ?? "")
      .find((pair) => pair.startsWith("ow_alpha="));
    expect(cookie).toBeString();
    const save = (slug: string, cookieName: string) =>
      direct(slug, "/Shared%20Note/save", {
        method: "POST",
        headers: {
          cookie: `${cookieName}=${cookie?.slice("ow_alpha=".length)}`,
          "content-type": "application/x-www-form-urlencoded",
          "x-wikibot-route": "save?path=Shared%20Note",
        },
        body: new URLSearchParams({ csrf_token: csrf ?? "", content: "# Shared Note\n\nhi" }),
      });
    const betaBefore = head("beta");
    // Beta's process holds its own secret: alpha's signed cookie is no session there.
    const refused = await save("beta", "ow_beta");
    expect(refused.status).toBe(400);
    expect(await refused.text()).toContain("CSRF");
    expect(head("beta")).toBe(betaBefore);
    // The same cookie and token do work on alpha, so the refusal above is beta's alone.
    const alphaBefore = head("alpha");
    const saved = await save("alpha", "ow_alpha");
    expect(saved.status).toBe(302);
    expect(head("alpha")).not.toBe(alphaBefore);
  });
});

describe("recovery", () => {
  test("a killed child is replaced on the next request; its zygote and the other wiki live on", async () => {
    expect((await view("alpha")).status).toBe(200);
    expect((await view("beta")).status).toBe(200);
    const victim = pidOf("alpha");
    const survivor = pidOf("beta");
    const zygote = parentOf(victim);
    process.kill(victim, "SIGKILL");
    await until(() => !alive(victim));
    const response = await view("alpha");
    expect(response.status).toBe(200);
    expect(await response.text()).toContain("Welcome to <strong>Wiki alpha</strong>");
    const replacement = pidOf("alpha");
    expect(replacement).not.toBe(victim);
    expect(parentOf(replacement)).toBe(zygote);
    expect(pidOf("beta")).toBe(survivor);
    expect(alive(survivor)).toBe(true);
  });

  test("a killed zygote takes its children along and is started again", async () => {
    expect((await view("alpha")).status).toBe(200);
    expect((await view("beta")).status).toBe(200);
    const children = [pidOf("alpha"), pidOf("beta")];
    const zygote = parentOf(children[0] ?? 0);
    process.kill(zygote, "SIGKILL");
    await until(() => !alive(zygote) && children.every((pid) => !alive(pid)));
    for (const slug of ["alpha", "beta"]) {
      const response = await view(slug);
      expect(response.status).toBe(200);
      expect(await response.text()).toContain(`Welcome to <strong>Wiki ${slug}</strong>`);
    }
    const newZygote = parentOf(pidOf("alpha"));
    expect(newZygote).not.toBe(zygote);
    expect(parentOf(pidOf("beta"))).toBe(newZygote);
    expect(readFileSync(join(t.dataDir, "run", "zygote.pid"), "utf8").trim()).toBe(
      String(newZygote),
    );
  });
});

describe("a damaged warm cache", () => {
  test("a cache file of the right version but the wrong shape neither stops the zygote nor stays", async () => {
    expect((await view("alpha")).status).toBe(200);
    const cache = join(t.dataDir, "run", "warm-cache");
    // What a crashed or compromised child could leave: Python and werkzeug versions right,
    // entries wrong (the zygote used to die unpacking them, at every restart).
    const written = Bun.spawnSync(
      [
        join(PROJECT_DIR, ".venv", "bin", "python"),
        "-c",
        [
          "import marshal, sys, werkzeug",
          "from importlib.metadata import version",
          "v = getattr(werkzeug, '__version__', '') or version('werkzeug')",
          "marshal.dump(((sys.version, v), [1], [2], [3]), open(sys.argv[1], 'wb'))",
        ].join("\n"),
        cache,
      ],
      { stderr: "pipe" },
    );
    expect(written.stderr.toString()).toBe("");
    const before = [pidOf("alpha"), pidOf("beta")];
    const zygote = parentOf(before[0] ?? 0);
    process.kill(zygote, "SIGKILL");
    await until(() => !alive(zygote));
    for (const slug of ["alpha", "beta"]) {
      const response = await view(slug);
      expect(response.status).toBe(200);
      expect(await response.text()).toContain(`Welcome to <strong>Wiki ${slug}</strong>`);
    }
    expect(parentOf(pidOf("alpha"))).not.toBe(zygote);
    const stored = Bun.spawnSync([
      join(PROJECT_DIR, ".venv", "bin", "python"),
      "-c",
      "import marshal, sys\ntry:\n    d = marshal.load(open(sys.argv[1], 'rb'))\n    print(type(d[1]).__name__)\nexcept OSError:\n    print('gone')",
      cache,
    ]);
    // Removed, or already written again by a child in the shape flush() writes.
    expect(["gone", "list"]).toContain(stored.stdout.toString().trim());
  });
});

describe("settings", () => {
  test("a rename reaches the wiki's process", async () => {
    expect(await (await view("beta")).text()).toContain("Welcome to <strong>Wiki beta</strong>");
    const before = pidOf("beta");
    const renamed = await fetch(`${olive.origin}/api/wikis/beta`, {
      method: "PATCH",
      headers: {
        origin: olive.origin,
        cookie: olive.apexCookie,
        "content-type": "application/json",
      },
      body: JSON.stringify({ name: "Beta Renamed" }),
    });
    expect(renamed.status).toBe(200);
    const html = await (await view("beta")).text();
    expect(html).toContain("&ndash; Beta Renamed</title>");
    expect(html).not.toContain("&ndash; Wiki beta</title>");
    expect(pidOf("beta")).not.toBe(before);
    expect(alive(before)).toBe(false);
  });
});

describe("spares", () => {
  async function spareState(): Promise<string> {
    const health: unknown = await (await fetch(`${t.origin}/health`)).json();
    const launcher = Reflect.get(Object(health), "wiki_launcher");
    return String(Reflect.get(Object(launcher), "spare"));
  }

  function liveSpares(): number[] {
    const runDir = join(t.dataDir, "run");
    return readdirSync("/proc")
      .filter((entry) => /^\d+$/.test(entry))
      .map(Number)
      .filter((pid) => {
        try {
          const argv = commandLine(pid);
          return alive(pid) && argv[0] === "wikibot-otterwiki-spare" && argv[1]?.startsWith(runDir);
        } catch {
          return false;
        }
      });
  }

  /** The zygote's spare, once /health says it is ready (and it is, not one just killed). */
  async function readySpare(): Promise<number> {
    for (let tries = 0; tries < 2400; tries++) {
      const spares = liveSpares();
      if ((await spareState()) === "ready" && spares.length === 1) return spares[0] ?? 0;
      await Bun.sleep(25);
    }
    throw new Error(`no spare became ready: ${await spareState()}, ${liveSpares().length} alive`);
  }

  test("a ready spare becomes the next wiki's process, and another takes its place", async () => {
    await addWiki("gamma");
    const spare = await readySpare();
    const html = await (await view("gamma")).text();
    expect(html).toContain("Welcome to <strong>Wiki gamma</strong>");
    expect(pidOf("gamma")).toBe(spare);
    expect(commandLine(spare)).toEqual(["wikibot-otterwiki", `unix:${socketOf("gamma")}`]);
    const next = await readySpare();
    expect(next).not.toBe(spare);
    expect(parentOf(next)).toBe(parentOf(spare));
  });

  test("a killed spare is replaced and never reported as a wiki's process", async () => {
    await addWiki("delta");
    const spare = await readySpare();
    const live = t.server.wikiProcesses().processes.length;
    process.kill(spare, "SIGKILL");
    await until(() => !alive(spare));
    const next = await readySpare();
    expect(next).not.toBe(spare);
    expect(t.server.wikiProcesses().processes.length).toBe(live);
    expect((await view("delta")).status).toBe(200);
    expect(pidOf("delta")).toBe(next);
  });

  test("a wiki a spare could not become gets a process of its own, which imports Otterwiki", async () => {
    await addWiki("epsilon");
    // No commit on its branch: a fresh import starts it with Otterwiki's own first page, which
    // a spare refuses to do (wikibot_wsgi.reconfigure).
    const repo = repoDir(t.dataDir, "epsilon");
    const unborn = Bun.spawnSync(["git", "update-ref", "-d", "refs/heads/main"], { cwd: repo });
    expect(unborn.exitCode).toBe(0);
    const spare = await readySpare();
    const first = await view("epsilon");
    await first.arrayBuffer();
    expect(first.status).toBeGreaterThanOrEqual(500);
    expect(alive(spare)).toBe(false);
    const zygoteLog = readFileSync(join(t.dataDir, "run", "zygote.log"), "utf8");
    expect(zygoteLog).toContain(`could not become ${socketOf("epsilon")}'s process`);
    let again = await view("epsilon");
    for (let tries = 0; tries < 200 && again.status !== 200; tries++) {
      await again.arrayBuffer();
      await Bun.sleep(100);
      again = await view("epsilon");
    }
    expect(again.status).toBe(200);
    await again.arrayBuffer();
    expect(pidOf("epsilon")).not.toBe(spare);
    // Another wiki still gets the spare.
    await addWiki("zeta");
    const ready = await readySpare();
    expect((await view("zeta")).status).toBe(200);
    expect(pidOf("zeta")).toBe(ready);
  });
});

describe("shutdown", () => {
  test("stopping the server ends every child, the zygote and their sockets", async () => {
    expect((await view("alpha")).status).toBe(200);
    const child = pidOf("alpha");
    const zygote = parentOf(child);
    const socket = socketOf("alpha");
    await t.server.stop();
    expect(alive(child)).toBe(false);
    expect(alive(zygote)).toBe(false);
    expect(existsSync(socket)).toBe(false);
    expect(existsSync(join(t.dataDir, "run", "zygote.pid"))).toBe(false);
  });
});

describe("a server killed outright", () => {
  /** Processes whose command line names this data dir's run folder (children and zygote). */
  function otterwikisOf(runDir: string): number[] {
    return readdirSync("/proc")
      .filter((entry) => /^\d+$/.test(entry))
      .map(Number)
      .filter((pid) => {
        try {
          return alive(pid) && readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(runDir);
        } catch {
          return false;
        }
      });
  }

  test("leaves no Otterwiki running, and the next start clears its sockets and pid files", async () => {
    const dataDir = makeDataDir();
    const runDir = join(dataDir, "run");
    const env = { DATA_DIR: dataDir, PUBLIC_URL: "http://localhost:8080" };
    const admin = async (...args: string[]) => {
      const result = await runAdmin(env, args);
      if (result.exitCode !== 0) throw new Error(result.stderr);
    };
    await admin(
      "create-user",
      "--username",
      "kim",
      "--did",
      testDid(),
      "--handle",
      "kim.bsky.social",
    );
    await admin("create-wiki", "--slug", "gamma", "--owner", "kim", "--public");
    const first = await spawnServer({ dataDir, env: { WIKI_LAUNCHER: "zygote" } });
    try {
      expect(first.healthy).toBe(true);
      const page = await fetch(`http://gamma.localhost:${first.port}/`);
      expect(page.status).toBe(200);
      await page.arrayBuffer();
      // The zygote, gamma's process and the next spare (started once gamma has answered).
      await until(() => otterwikisOf(runDir).length === 3);
    } finally {
      first.child.kill("SIGKILL");
      await first.child.exited;
    }
    // The zygote reads EOF on its control pipe and ends its children, then itself.
    await until(() => otterwikisOf(runDir).length === 0);
    expect(readdirSync(runDir).filter((name) => name.endsWith(".pid")).length).toBeGreaterThan(0);

    const second = await spawnServer({ dataDir, env: { WIKI_LAUNCHER: "zygote" } });
    try {
      expect(second.healthy).toBe(true);
      const left = readdirSync(runDir).filter((name) => /^ow-\d+\.sock/.test(name));
      expect(left).toEqual([]);
      const again = await fetch(`http://gamma.localhost:${second.port}/`);
      expect(again.status).toBe(200);
      await again.arrayBuffer();
    } finally {
      second.child.kill("SIGTERM");
      await second.child.exited;
    }
    expect(otterwikisOf(runDir)).toEqual([]);
  });
});
