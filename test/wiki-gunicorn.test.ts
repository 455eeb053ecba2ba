/**
 * The old launcher, still selectable (WIKI_LAUNCHER=gunicorn, issue 14): every other suite now
 * runs the zygote, so this one keeps gunicorn's own path under test. A public wiki renders
 * through the proxy from a real gunicorn; straight to its socket it takes no SCRIPT_NAME or
 * underscore header; a killed gunicorn is replaced on the next request.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { WikiStore } from "../src/wikis/wiki-store.ts";
import { addUser, startTestServer, type TestServer } from "./support/server.ts";

setDefaultTimeout(120_000);

let t: TestServer;

beforeAll(async () => {
  t = await startTestServer({ WIKI_LAUNCHER: "gunicorn" });
  await addUser(t, "gus");
  await t.adminJson("create-wiki", "--slug", "old", "--owner", "gus", "--public", "--name", "Old");
});
afterAll(async () => {
  await t?.close();
});

function socketOf(): string {
  const wiki = new WikiStore(t.server.db).findBySlug("old");
  if (wiki === null) throw new Error("no wiki");
  return join(t.dataDir, "run", `ow-${wiki.id}.sock`);
}

function pidOf(): number {
  return Number(readFileSync(`${socketOf()}.pid`, "utf8").trim());
}

test("a public wiki renders from gunicorn, and /health names the launcher", async () => {
  const response = await fetch(`${t.wikiOrigin("old")}/`);
  expect(response.status).toBe(200);
  expect(await response.text()).toContain("Welcome to <strong>Old</strong>");
  expect(readFileSync(`/proc/${pidOf()}/cmdline`, "utf8")).toContain("gunicorn");
  const health: unknown = await (await fetch(`${t.origin}/health`)).json();
  expect(JSON.stringify(health)).toContain('"kind":"gunicorn"');
});

test("straight to its socket, it takes no SCRIPT_NAME or underscore header", async () => {
  const direct = (path: string, headers: Record<string, string>) =>
    fetch(`${new URL(t.wikiOrigin("old")).origin}${path}`, {
      unix: socketOf(),
      headers: {
        "x-otterwiki-name": "Gus",
        "x-otterwiki-email": "gus@users.wikibot.invalid",
        "x-otterwiki-permissions": "READ,WRITE,UPLOAD,ADMIN",
        ...headers,
      },
      redirect: "manual",
    });
  const moved = await direct("/x/-/admin/repository_management", { SCRIPT_NAME: "/x" });
  expect(await moved.text()).not.toContain("git_remote_pull_url");
  const blocked = await direct("/-/admin/repository_management", {
    X_Otterwiki_Permissions: "READ,WRITE,UPLOAD,ADMIN",
  });
  expect(blocked.status).toBe(403);
});

test("a killed gunicorn is replaced on the next request", async () => {
  expect((await fetch(`${t.wikiOrigin("old")}/`)).status).toBe(200);
  const before = pidOf();
  process.kill(-before, "SIGKILL");
  let status = 0;
  for (let attempt = 0; attempt < 50 && status !== 200; attempt++) {
    status = (await fetch(`${t.wikiOrigin("old")}/`)).status;
    if (status !== 200) await Bun.sleep(200);
  }
  expect(status).toBe(200);
  expect(pidOf()).not.toBe(before);
});
