/** Where a wiki lives on disk (DESIGN §3). The slug is validated before it reaches a path. */
import { join } from "node:path";
import { checkSlug } from "./slug.ts";

export function wikiDir(dataDir: string, slug: string): string {
  const check = checkSlug(slug);
  if (!check.ok) throw new Error(`refusing a path for an invalid slug: ${check.reason}`);
  return join(dataDir, "wikis", check.slug);
}

export function repoDir(dataDir: string, slug: string): string {
  return join(wikiDir(dataDir, slug), "repo");
}
