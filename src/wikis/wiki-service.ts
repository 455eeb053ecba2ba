/**
 * Creating a wiki end to end: the repository with its bootstrap commit, the database rows, the
 * owner's first token and the page index. The repository is built in a temporary folder and
 * renamed into place, so a crash leaves either nothing or a folder with no database row, which
 * the next attempt moves aside.
 */
import type { Database } from "bun:sqlite";
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { commitAuthorOf } from "../auth/commit-author.ts";
import type { UserStore } from "../auth/user-store.ts";
import type { WikiTokenStore } from "../auth/wiki-token.ts";
import { randomId } from "../lib/random.ts";
import { syncPageIndex } from "../pages/index-sync.ts";
import { PageIndex } from "../pages/page-index.ts";
import type { Author } from "../pages/page-store.ts";
import { runGit } from "../repo/git.ts";
import { initRepository } from "../repo/repository.ts";
import { bootstrapPages } from "./bootstrap.ts";
import { checkSlug } from "./slug.ts";
import { repoDir, wikiDir } from "./wiki-paths.ts";
import type { Tier, Wiki, WikiStore } from "./wiki-store.ts";
import { type WikiUrls, wikiUrls } from "./wiki-urls.ts";

/** A request that cannot be carried out as given (bad slug, unknown user, taken name). */
export class WikiError extends Error {
  override name = "WikiError";
}

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

export async function createWiki(
  deps: WikiServiceDeps,
  input: { slug: string; ownerUsername: string; name?: string; isPublic: boolean; tier: Tier },
): Promise<CreatedWiki> {
  const slugCheck = checkSlug(input.slug);
  if (!slugCheck.ok) throw new WikiError(slugCheck.reason);
  const slug = slugCheck.slug;
  const owner = deps.users.findByUsername(input.ownerUsername);
  if (owner === null)
    throw new WikiError(`no user "${input.ownerUsername}"; create it with create-user first`);
  const name = (input.name ?? slug).trim();
  if (name.length === 0 || name.length > MAX_NAME_LENGTH || hasControlCharacter(name)) {
    throw new WikiError(`wiki name must be 1–${MAX_NAME_LENGTH} printable characters`);
  }
  if (deps.wikis.findBySlug(slug) !== null)
    throw new WikiError(`a wiki named "${slug}" already exists`);

  const target = wikiDir(deps.dataDir, slug);
  const wikisRoot = dirname(target);
  mkdirSync(wikisRoot, { recursive: true });
  if (existsSync(target)) {
    // Left by a creation that died before its database row was written.
    const trash = join(wikisRoot, ".trash");
    mkdirSync(trash, { recursive: true });
    renameSync(target, join(trash, `${slug}-${Date.now()}`));
  }

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
      stdin: `Create wiki ${name}\n\nClient: admin\n`,
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
      throw new WikiError(`a wiki named "${slug}" already exists`);
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
