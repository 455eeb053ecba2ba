/**
 * A wiki's life, shared by the admin CLI and the management API (DESIGN §10).
 * Creating one end to end: the repository with its bootstrap commit, the database rows, the
 * owner's first token and the page index. The repository is built in a temporary folder and
 * renamed into place, so a crash leaves either nothing or a folder with no database row, which
 * the next attempt moves aside. Changing and deleting one: owners only, see each function.
 */
import type { Database } from "bun:sqlite";
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { commitAuthorOf } from "../auth/commit-author.ts";
import type { UserStore } from "../auth/user-store.ts";
import type { WikiTokenStore } from "../auth/wiki-token.ts";
import { randomId } from "../lib/random.ts";
import { syncPageIndex } from "../pages/index-sync.ts";
import { PageIndex } from "../pages/page-index.ts";
import type { Author } from "../pages/page-store.ts";
import type { WriteGate } from "../pages/write-gate.ts";
import { runGit } from "../repo/git.ts";
import { initRepository } from "../repo/repository.ts";
import { bootstrapPages } from "./bootstrap.ts";
import type { PlanPolicy } from "./plan-policy.ts";
import { checkSlug } from "./slug.ts";
import { type Actor, requireRole, WikiError, wikiForActor } from "./use-case.ts";
import { repoDir, wikiDir } from "./wiki-paths.ts";
import type { Tier, Wiki, WikiStore } from "./wiki-store.ts";
import { type WikiUrls, wikiUrls } from "./wiki-urls.ts";

export { WikiError };

export interface WikiServiceDeps {
  db: Database;
  wikis: WikiStore;
  users: UserStore;
  tokens: WikiTokenStore;
  dataDir: string;
  publicUrl: URL;
  committer: Author;
}

export interface CreatedWiki {
  wiki: Wiki;
  urls: WikiUrls;
  token: string;
}

const MAX_NAME_LENGTH = 100;

const hasControlCharacter = (text: string) =>
  [...text].some((char) => (char.codePointAt(0) ?? 0) < 0x20);

function checkedName(raw: string): string {
  const name = raw.trim();
  if (name.length === 0 || name.length > MAX_NAME_LENGTH || hasControlCharacter(name)) {
    throw new WikiError(`wiki name must be 1–${MAX_NAME_LENGTH} printable characters`);
  }
  return name;
}

export async function createWiki(
  deps: WikiServiceDeps,
  input: {
    slug: string;
    ownerUsername: string;
    name?: string;
    isPublic: boolean;
    tier: Tier;
    /** Named in the first commit's `Client:` trailer. */
    client?: string;
    /**
     * Holds the owner to the plan's wikis-per-owner limit (the management API). The admin CLI
     * passes none: the operator may give anyone more wikis than a plan allows.
     */
    plans?: PlanPolicy;
  },
): Promise<CreatedWiki> {
  const slugCheck = checkSlug(input.slug);
  if (!slugCheck.ok) throw new WikiError(slugCheck.reason);
  const slug = slugCheck.slug;
  const owner = deps.users.findByUsername(input.ownerUsername);
  if (owner === null)
    throw new WikiError(`no user "${input.ownerUsername}"; create it with create-user first`);
  const name = checkedName(input.name ?? slug);
  if (deps.wikis.findBySlug(slug) !== null)
    throw new WikiError(`a wiki named "${slug}" already exists`, "conflict");
  const refuseOverPlan = () => {
    if (input.plans === undefined) return;
    const refusal = input.plans.refuseNewWiki(input.tier, deps.wikis.countOwnedBy(owner.id));
    if (refusal !== null) throw new WikiError(refusal, "plan_limit");
  };
  // Checked before the repository is built, and again in the transaction that adds the row,
  // so two creations at once cannot both take the last place.
  refuseOverPlan();

  const target = wikiDir(deps.dataDir, slug);
  const wikisRoot = dirname(target);
  mkdirSync(wikisRoot, { recursive: true });
  // A folder here was left by a creation that died before its row was written, or by a deletion
  // that died after removing the row.
  await discardWikiFolder(target);

  const urls = wikiUrls(deps.publicUrl, slug);
  const staging = join(wikisRoot, `.new-${slug}-${randomId(8)}`);
  try {
    const stagingRepo = join(staging, "repo");
    mkdirSync(staging, { recursive: true });
    await initRepository(stagingRepo);
    const pages = bootstrapPages({ name, slug, urls });
    const files = pages.map((page) => `${page.path}.md`);
    for (const page of pages) writeFileSync(join(stagingRepo, `${page.path}.md`), page.content);
    await runGit(stagingRepo, ["add", "--", ...files]);
    const author = commitAuthorOf(owner);
    await runGit(stagingRepo, ["commit", "-q", "--no-verify", "-F", "-"], {
      stdin: `Create wiki ${name}\n\nClient: ${input.client ?? "admin"}\n`,
      env: {
        GIT_AUTHOR_NAME: author.name,
        GIT_AUTHOR_EMAIL: author.email,
        GIT_COMMITTER_NAME: deps.committer.name,
        GIT_COMMITTER_EMAIL: deps.committer.email,
      },
    });
    renameSync(staging, target);
  } catch (error) {
    rmSync(staging, { recursive: true, force: true });
    throw error;
  }

  let created: { wiki: Wiki; token: string };
  try {
    created = deps.db
      .transaction(() => {
        refuseOverPlan();
        const wiki = deps.wikis.create({
          slug,
          name,
          ownerId: owner.id,
          isPublic: input.isPublic,
          tier: input.tier,
        });
        const { plaintext } = deps.tokens.create({
          wikiId: wiki.id,
          userId: owner.id,
          scope: "write",
          label: "first token",
        });
        return { wiki, token: plaintext };
      })
      .immediate();
  } catch (error) {
    rmSync(target, { recursive: true, force: true });
    if (error instanceof Error && /UNIQUE constraint failed: wikis.slug/.test(error.message)) {
      throw new WikiError(`a wiki named "${slug}" already exists`, "conflict");
    }
    throw error;
  }
  await syncPageIndex(
    { db: deps.db, wikis: deps.wikis, pageIndex: new PageIndex(deps.db) },
    created.wiki.id,
    repoDir(deps.dataDir, slug),
  );
  return { wiki: deps.wikis.findById(created.wiki.id) ?? created.wiki, urls, token: created.token };
}

/** What changing or deleting a wiki needs beyond the stores. */
export interface WikiLifecycleDeps {
  db: Database;
  wikis: WikiStore;
  dataDir: string;
  /** The per-wiki write gate (DESIGN §4): deletion waits for writes in flight. */
  gate: WriteGate;
  /**
   * Stops the wiki's Otterwiki process, if one runs. Passed in by the server so this layer
   * never imports the wiki proxy (DESIGN §10); the next request starts a fresh one.
   */
  stopWikiProcesses(wikiId: number): Promise<void>;
  /** Drops the wiki's search index and chunks (the search worker may hold it open). */
  forgetSearchIndex(wikiId: number, slug: string): Promise<void>;
}

/** Renames a wiki or makes it public or private. Owners only. */
export async function updateWiki(
  deps: WikiLifecycleDeps,
  actor: Actor,
  slug: string,
  changes: { name?: string; isPublic?: boolean },
): Promise<Wiki> {
  const { wiki, role } = wikiForActor(deps.wikis, actor, slug);
  requireRole(role, "owner", "change its settings");
  const name = changes.name === undefined ? undefined : checkedName(changes.name);
  deps.db
    .transaction(() => {
      if (name !== undefined) deps.wikis.setName(wiki.id, name);
      if (changes.isPublic !== undefined) deps.wikis.setPublic(wiki.id, changes.isPublic);
    })
    .immediate();
  // Otterwiki reads the site name once at start (src/wiki/launch.ts); the public flag is
  // decided per request, so only a rename needs a fresh process.
  if (name !== undefined && name !== wiki.name) await deps.stopWikiProcesses(wiki.id);
  return deps.wikis.findById(wiki.id) ?? wiki;
}

/**
 * Deletes a wiki for good: its rows (ACLs, tokens, sessions, pages and pending grants cascade),
 * its Otterwiki process and its data folder. `confirm` must repeat the slug, so a slip of the
 * hand or a replayed request for another wiki deletes nothing. Owners only.
 *
 * It runs under the wiki's write gate, so no write is in flight while the repository goes. The
 * row goes first: from then on the host answers 404 and the pool cannot start the wiki again.
 * The folder is renamed into `.trash` before removal, so a crash never leaves half a wiki
 * under a slug someone may create again.
 */
export async function deleteWiki(
  deps: WikiLifecycleDeps,
  actor: Actor,
  slug: string,
  confirm: string,
): Promise<void> {
  const { wiki, role } = wikiForActor(deps.wikis, actor, slug);
  requireRole(role, "owner", "delete it");
  if (confirm !== wiki.slug)
    throw new WikiError(`type the wiki's slug ("${wiki.slug}") to confirm its deletion`);
  await deps.gate.run(wiki.id, async () => {
    deps.db.transaction(() => deps.wikis.delete(wiki.id)).immediate();
    await deps.stopWikiProcesses(wiki.id);
    // Before the folder goes: the worker must not save this wiki's index into it again.
    await deps.forgetSearchIndex(wiki.id, wiki.slug);
    await discardWikiFolder(wikiDir(deps.dataDir, wiki.slug));
  });
}

/**
 * Removes a wiki's folder: renamed into `.trash` first (one atomic step, so the slug's place is
 * free at once and never holds half a wiki), then everything in `.trash` is deleted — including
 * what an earlier crash left there mid-removal.
 */
async function discardWikiFolder(target: string): Promise<void> {
  const trash = join(dirname(target), ".trash");
  mkdirSync(trash, { recursive: true });
  if (existsSync(target)) renameSync(target, join(trash, `${basename(target)}-${randomId(8)}`));
  // Best effort: another process may be emptying the same folder; what stays is removed next time.
  await rm(trash, { recursive: true, force: true }).catch(() => undefined);
}
