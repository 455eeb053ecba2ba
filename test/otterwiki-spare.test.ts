/**
 * A spare (src/wiki/otterwiki/wiki_child.py) imports Otterwiki for a placeholder wiki and then
 * becomes a wiki's process through wikibot_wsgi.reconfigure(). What that leaves must equal what
 * a fresh import with the wiki's settings builds: every setting, the repository, database,
 * secret, auth, renderer and mail, the wrapper's own state, and the page it renders. A setting
 * Otterwiki captured at import and reconfigure() missed shows up here as a difference.
 */
import { Database } from "bun:sqlite";
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadSecrets } from "../src/config/keys.ts";
import { COMMITTER, openStores } from "../src/stores.ts";
import { otterwikiLauncher, PROJECT_DIR } from "../src/wiki/launch.ts";
import { createWiki } from "../src/wikis/wiki-service.ts";
import { testDid } from "./support/server.ts";

const PYTHON = join(PROJECT_DIR, ".venv", "bin", "python");
const SCRIPT = join(import.meta.dir, "support", "otterwiki_state.py");
const PAGE = "Notes/Field day";

const dataDir = mkdtempSync(join(tmpdir(), "wikibot-reconfigure-"));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

function git(cwd: string, ...args: string[]) {
  const result = Bun.spawnSync(["git", ...args], {
    cwd,
    env: {
      PATH: "/usr/local/bin:/usr/bin:/bin",
      HOME: dataDir,
      GIT_CONFIG_NOSYSTEM: "1",
      GIT_AUTHOR_NAME: "t",
      GIT_AUTHOR_EMAIL: "t@localhost",
      GIT_COMMITTER_NAME: "t",
      GIT_COMMITTER_EMAIL: "t@localhost",
    },
  });
  if (result.exitCode !== 0) throw new Error(result.stderr.toString());
}

async function wikiEnvironment(slug: string, name: string, publicUrl: URL) {
  const stores = openStores(dataDir);
  const owner =
    stores.users.findByUsername("kim") ??
    stores.users.create({
      did: testDid(),
      handle: "kim.bsky.social",
      username: "kim",
      displayName: "Kim",
    });
  const { wiki } = await createWiki(
    { ...stores, dataDir, publicUrl, committer: COMMITTER },
    { slug, name, ownerUsername: owner.username, isPublic: true, tier: "free" },
  );
  await stores.pages.write(wiki, {
    path: PAGE,
    content: "# Field day\n\nOtters at [[Home]], <mark>kelp</mark> and `code`.\n",
    author: { name: "Kim", email: "kim@users.wikibot.invalid" },
    client: "test",
  });
  const launch = otterwikiLauncher({
    dataDir,
    runDir: join(dataDir, "run"),
    secrets: loadSecrets(dataDir),
    committer: COMMITTER,
    publicUrl,
    logLevel: "info",
  })(wiki);
  const envFile = join(dataDir, `${slug}-env.json`);
  writeFileSync(envFile, JSON.stringify(launch.env));
  return { envFile, stateDir: launch.stateDir };
}

let spares = 0;
function placeholderRepository(): string {
  const repository = mkdtempSync(join(dataDir, "placeholder-"));
  writeFileSync(join(repository, "Home.md"), "# Home\n");
  git(repository, "init", "-q", "-b", "main");
  git(repository, "add", "Home.md");
  git(repository, "commit", "-q", "-m", "placeholder");
  return repository;
}

function state(mode: "fresh" | "spare", envFile: string): Record<string, unknown> {
  const args =
    mode === "fresh"
      ? [PYTHON, SCRIPT, "fresh", envFile, PAGE]
      : [
          PYTHON,
          SCRIPT,
          "spare",
          envFile,
          PAGE,
          placeholderRepository(),
          join(dataDir, `spare-${++spares}`),
        ];
  const result = Bun.spawnSync(args, {
    cwd: dataDir,
    env: { PATH: "/usr/bin:/bin", PYTHONDONTWRITEBYTECODE: "1" },
  });
  if (result.exitCode !== 0) throw new Error(`${mode}: ${result.stderr.toString()}`);
  return JSON.parse(result.stdout.toString());
}

describe("a spare that becomes a wiki's process", () => {
  test("holds exactly what a fresh import with the wiki's settings holds", async () => {
    const { envFile } = await wikiEnvironment(
      "alpha",
      "Alpha Field Notes",
      new URL("http://localhost:8080"),
    );
    const fresh = state("fresh", envFile);
    const spare = state("spare", envFile);
    for (const key of Object.keys(fresh))
      expect({ [key]: spare[key] }).toEqual({ [key]: fresh[key] });
    expect(Object.keys(spare).sort()).toEqual(Object.keys(fresh).sort());
    // It is the wiki's: its name and page, its repository, its own database.
    const [status, html] = spare.page as [number, string];
    expect(status).toBe(200);
    expect(html).toContain("Alpha Field Notes");
    expect(html).toContain("kelp");
    expect(JSON.stringify(spare.storage)).toContain("alpha");
    expect(JSON.stringify(spare.engines)).toContain(join("alpha", "otterwiki", "otterwiki.db"));
    // Nothing of the placeholder wiki's is left: its repository, folder, secret or cookie.
    const text = JSON.stringify(spare);
    expect(["placeholder-", "spare-", "ow_spare"].filter((trace) => text.includes(trace))).toEqual(
      [],
    );
  }, 30_000);

  test("applies the wiki's own stored preferences and https settings the same way", async () => {
    const { envFile, stateDir } = await wikiEnvironment(
      "beta",
      "Beta",
      new URL("https://wikibot.example"),
    );
    state("fresh", envFile);
    // Preferences an owner saved from Otterwiki's settings override the settings file.
    const db = new Database(join(stateDir, "otterwiki.db"));
    db.run("INSERT INTO preferences (name, value) VALUES ('SITE_NAME', 'Beta Renamed')");
    db.run("INSERT INTO preferences (name, value) VALUES ('RENDERER_HTML_ALLOWLIST', 'mark')");
    db.run("INSERT INTO preferences (name, value) VALUES ('HIDE_LOGO', 'true')");
    db.close();
    const fresh = state("fresh", envFile);
    const spare = state("spare", envFile);
    for (const key of Object.keys(fresh))
      expect({ [key]: spare[key] }).toEqual({ [key]: fresh[key] });
    const config = spare.config as Record<string, string>;
    expect(config.SITE_NAME).toBe("'Beta Renamed'");
    expect(config.HIDE_LOGO).toBe("True");
    expect(config.SESSION_COOKIE_SECURE).toBe("True");
    expect(String(spare.renderer)).toContain("mark");
  }, 30_000);
});
