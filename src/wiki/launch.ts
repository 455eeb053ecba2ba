/**
 * How one wiki's Otterwiki is launched: paths, its own SECRET_KEY (derived from the server
 * secret, so it survives restarts without being stored), its own session cookie name (cookies
 * ignore ports, so a shared name breaks CSRF across wikis), SITE_NAME from the wiki's name and
 * the committer every Otterwiki commit carries. The environment is complete: nothing of ours
 * (or of the host) leaks into the Python process.
 */
import { join, resolve } from "node:path";
import type { LogLevel } from "../config/config.ts";
import { deriveKey, type Secrets } from "../config/keys.ts";
import type { Author } from "../pages/page-store.ts";
import { repoDir, wikiDir } from "../wikis/wiki-paths.ts";
import type { Wiki } from "../wikis/wiki-store.ts";
import { ANONYMOUS_EMAIL } from "./identity.ts";
import type { OtterwikiLaunch } from "./otterwiki-process.ts";

export const PROJECT_DIR = resolve(import.meta.dir, "..", "..");

export interface LaunchOptions {
  dataDir: string;
  runDir: string;
  secrets: Secrets;
  committer: Author;
  publicUrl: URL;
  logLevel: LogLevel;
  /** Defaults to the project's `.venv/bin/gunicorn`. */
  gunicorn?: string;
}

const PYTHON_LOG_LEVELS: Record<LogLevel, string> = {
  debug: "DEBUG",
  info: "WARNING",
  warn: "WARNING",
  error: "ERROR",
};

/** The socket of a wiki's process; named by id so the path stays short whatever the slug. */
export function socketPathOf(runDir: string, wiki: Wiki): string {
  return join(runDir, `ow-${wiki.id}.sock`);
}

export function otterwikiLauncher(options: LaunchOptions): (wiki: Wiki) => OtterwikiLaunch {
  const gunicorn = options.gunicorn ?? join(PROJECT_DIR, ".venv", "bin", "gunicorn");
  const wrapperDir = join(PROJECT_DIR, "src", "wiki", "otterwiki");
  return (wiki) => {
    const dir = wikiDir(options.dataDir, wiki.slug);
    const stateDir = join(dir, "otterwiki");
    return {
      gunicorn,
      wrapperDir,
      wikiDir: dir,
      stateDir,
      socket: socketPathOf(options.runDir, wiki),
      env: {
        // Otterwiki only needs `git`; a fixed PATH keeps the host's environment out.
        PATH: "/usr/local/bin:/usr/bin:/bin",
        HOME: stateDir,
        LANG: "C.UTF-8",
        PYTHONUTF8: "1",
        PYTHONDONTWRITEBYTECODE: "1",
        WIKIBOT_REPOSITORY: repoDir(options.dataDir, wiki.slug),
        WIKIBOT_STATE_DIR: stateDir,
        // Keyed by id: a wiki re-created under a freed slug never inherits old cookies.
        WIKIBOT_SECRET_KEY: deriveKey(options.secrets, `otterwiki-secret-key:${wiki.id}`),
        WIKIBOT_COOKIE_NAME: `ow_${wiki.slug}`,
        WIKIBOT_SITE_NAME: wiki.name,
        WIKIBOT_COMMITTER_NAME: options.committer.name,
        WIKIBOT_COMMITTER_EMAIL: options.committer.email,
        WIKIBOT_COOKIE_SECURE: options.publicUrl.protocol === "https:" ? "true" : "false",
        // Fixed per deployment; gunicorn no longer takes the scheme from X-Forwarded-Proto.
        WIKIBOT_URL_SCHEME: options.publicUrl.protocol === "https:" ? "https" : "http",
        WIKIBOT_LOG_LEVEL: PYTHON_LOG_LEVELS[options.logLevel],
        WIKIBOT_ANONYMOUS_EMAIL: ANONYMOUS_EMAIL,
      },
    };
  };
}
