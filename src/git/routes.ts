/**
 * Git smart HTTP on a wiki host (DESIGN §2): exactly `GET /repo.git/info/refs?service=…`,
 * `POST /repo.git/git-upload-pack` and `POST /repo.git/git-receive-pack`; anything else under
 * `/repo.git` is 404, so no repository file is ever served (no dumb HTTP). The repository comes
 * only from the wiki the Host header resolved to, never from the URL path.
 */
import { join } from "node:path";
import type { WikiAccessDeps } from "../auth/wiki-access.ts";
import { exceedsDeclaredLength } from "../http/body-limit.ts";
import { wikiOf } from "../http/request-context.ts";
import { errorFields, type Logger } from "../lib/log.ts";
import { MINUTE } from "../lib/time.ts";
import type { PageStore } from "../pages/page-store.ts";
import type { PlanPolicy } from "../wikis/plan-policy.ts";
import type { Wiki } from "../wikis/wiki-store.ts";
import { wikiUrls } from "../wikis/wiki-urls.ts";
import { authorizeGitService, type GitService, parseGitService } from "./git-access.ts";
import { GitHttpError } from "./git-http-error.ts";
import { prepareSpoolDir, receivePack } from "./push.ts";
import { installPushHooks } from "./push-hook.ts";
import {
  advertiseRefs,
  gitProtocolOf,
  NO_CACHE_HEADERS,
  receivePackPolicy,
  runService,
  serviceRequestBody,
  UPLOAD_PACK_POLICY,
} from "./smart-http.ts";

/**
 * The largest upload-pack request we read, after gunzip: the default of git http-backend's own
 * `http.maxRequestBuffer`. Want/have negotiation stays far below it.
 */
const MAX_FETCH_REQUEST_BYTES = 10 * 1024 * 1024;

/** Idle time after which a transfer is abandoned. Git sends keep-alives every 5 s. */
export const DEFAULT_GIT_INACTIVITY_MS = 5 * MINUTE;

export interface GitHandlerDeps extends WikiAccessDeps {
  pages: PageStore;
  /** The plans: a push is held to the wiki's page and byte quotas by the pre-receive hook. */
  plans: PlanPolicy;
  dataDir: string;
  publicUrl: URL;
  /** receive.maxInputSize; the server's body limit must sit just above it. */
  maxPackBytes: number;
  /**
   * The largest file other than a page a push may hold: the server's request-body limit, so git
   * accepts no attachment the browser could not upload.
   */
  maxFileBytes: number;
  logger: Logger;
  /**
   * Turns off Bun's per-request idle timeout (10 s by default, serve.d.ts), which would cut a
   * clone while pack-objects is quiet; our own inactivity watchdog replaces it.
   */
  disableIdleTimeout: (request: Request) => void;
  inactivityMs?: number;
}

export function createGitHandler(deps: GitHandlerDeps): (request: Request) => Promise<Response> {
  const spoolDir = join(deps.dataDir, "tmp", "git-push");
  prepareSpoolDir(spoolDir);
  const hooksDir = installPushHooks(join(deps.dataDir, "tmp", "git-hooks"), {
    maxFileBytes: deps.maxFileBytes,
  });
  const inactivityMs = deps.inactivityMs ?? DEFAULT_GIT_INACTIVITY_MS;

  async function route(request: Request): Promise<Response> {
    const wiki = wikiOf(request);
    const url = new URL(request.url);
    switch (url.pathname) {
      case "/repo.git/info/refs": {
        requireMethod(request, "GET");
        const service = parseGitService(url.searchParams.get("service"));
        if (service === null) {
          throw new GitHttpError(
            403,
            "only smart HTTP is served here: use git 1.6.6 or newer (service=git-upload-pack or git-receive-pack)",
          );
        }
        authorizeGitService(deps, wiki, request.headers.get("authorization"), service);
        return advertiseRefs({
          service,
          gitDir: gitDirOf(wiki),
          policy: policyOf(service),
          gitProtocol: gitProtocolOf(request),
        });
      }
      case "/repo.git/git-upload-pack":
        requireMethod(request, "POST");
        authorizeGitService(deps, wiki, request.headers.get("authorization"), "git-upload-pack");
        return uploadPack(request, wiki);
      case "/repo.git/git-receive-pack": {
        requireMethod(request, "POST");
        const authorization = request.headers.get("authorization");
        const principal = authorizeGitService(deps, wiki, authorization, "git-receive-pack");
        const body = serviceRequestBody(request, "git-receive-pack");
        deps.disableIdleTimeout(request);
        return receivePack(
          {
            pages: deps.pages,
            maxPackBytes: deps.maxPackBytes,
            maxFileBytes: deps.maxFileBytes,
            hooksDir,
            inactivityMs,
            logger: deps.logger,
            spoolDir,
            reauthorize: () => {
              const current = deps.wikis.findById(wiki.id);
              if (current === null) throw new GitHttpError(404, "this wiki no longer exists");
              authorizeGitService(deps, current, authorization, "git-receive-pack");
              return current;
            },
            plans: deps.plans,
          },
          wiki,
          body,
          principal.user?.username ?? "anonymous",
          gitProtocolOf(request),
        );
      }
      default:
        throw new GitHttpError(
          404,
          `not found: this wiki serves git over smart HTTP only: git clone ${wikiUrls(deps.publicUrl, wiki.slug).gitUrl}`,
        );
    }
  }

  function uploadPack(request: Request, wiki: Wiki): Response {
    if (exceedsDeclaredLength(request, MAX_FETCH_REQUEST_BYTES)) {
      throw new GitHttpError(413, `fetch requests are limited to ${MAX_FETCH_REQUEST_BYTES} bytes`);
    }
    const body = serviceRequestBody(request, "git-upload-pack");
    deps.disableIdleTimeout(request);
    const run = runService({
      service: "git-upload-pack",
      gitDir: gitDirOf(wiki),
      policy: UPLOAD_PACK_POLICY,
      gitProtocol: gitProtocolOf(request),
      stdin: body,
      inactivityMs,
      maxInputBytes: MAX_FETCH_REQUEST_BYTES,
    });
    // A client that hangs up mid-clone leaves pack-objects running for nothing.
    request.signal.addEventListener("abort", run.kill, { once: true });
    run.finished.then((exit) => {
      request.signal.removeEventListener("abort", run.kill);
      if (exit.exitCode !== 0 || exit.inputFailure !== null || exit.timedOut) {
        deps.logger.warn("git upload-pack ended early", {
          wiki: wiki.slug,
          exit_code: exit.exitCode,
          signal: exit.signal,
          timed_out: exit.timedOut,
          input: exit.inputFailure,
          stderr: exit.stderr.trim(),
        });
      }
    });
    return new Response(run.output, {
      headers: { "content-type": "application/x-git-upload-pack-result", ...NO_CACHE_HEADERS },
    });
  }

  function policyOf(service: GitService): readonly string[] {
    return service === "git-upload-pack"
      ? UPLOAD_PACK_POLICY
      : receivePackPolicy({
          maxPackBytes: deps.maxPackBytes,
          checkout: "updateInstead",
          hooksDir,
          maxFileBytes: deps.maxFileBytes,
        });
  }

  function gitDirOf(wiki: Wiki): string {
    // Passing the .git directory itself (not the work tree) means git never searches upwards.
    return join(deps.pages.repo(wiki), ".git");
  }

  return async (request) => {
    try {
      return await route(request);
    } catch (error) {
      if (error instanceof GitHttpError) {
        if (error.status === 401 || error.status === 403 || error.detail !== null) {
          deps.logger.info("git request refused", {
            status: error.status,
            reason: error.detail ?? error.message,
          });
        }
        return error.toResponse();
      }
      deps.logger.error("git request failed", errorFields(error));
      return new GitHttpError(500, "the git service failed on our side; try again").toResponse();
    }
  };
}

function requireMethod(request: Request, method: "GET" | "POST"): void {
  if (request.method !== method) {
    throw new GitHttpError(405, `use ${method} here`, { allow: method });
  }
}
