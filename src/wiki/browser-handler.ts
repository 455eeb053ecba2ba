/**
 * The browser on a wiki host (DESIGN §1, §5): everything that is not MCP, OAuth, REST or git is
 * this fetch handler. It resolves the visitor from the wiki host's own session cookie (running
 * the per-host handshake when there is none), answers Otterwiki's account routes itself,
 * refuses blocked routes and writes by people who may only read, and forwards the rest to the
 * wiki's Otterwiki process with identity headers of our making. Every forwarded POST runs
 * under the wiki's write gate, so the page index catches up before the gate opens, and is
 * first held to the page rules of the Otterwiki view it will reach: saves to the lost-update
 * check (save-guard.ts), renames, reverts and attachments to the name rules (write-checks.ts).
 * A write that fails on the way (the worker killed or timed out, a 500) leaves nothing behind:
 * the process is stopped if it may still be writing and the working tree is put back to HEAD
 * before the gate opens, so the next writer never commits someone else's half-made change.
 */

import { decideAccess } from "../auth/access-decision.ts";
import {
  answerHandoffAtWiki,
  bounceThroughApex,
  CHECKED_MAX_AGE,
  signInUrl,
  wikiOrigin,
} from "../auth/session/handoff.ts";
import type { Session, SessionService } from "../auth/session/session.ts";
import {
  clearCookie,
  cookiePolicyFor,
  readCookie,
  serializeCookie,
  sessionOrigin,
} from "../auth/session/session-cookie.ts";
import type { User, UserStore } from "../auth/user-store.ts";
import { ANONYMOUS, type Principal } from "../auth/wiki-access.ts";
import { readBytesWithin } from "../http/body-limit.ts";
import { requestIdOf, wikiOf } from "../http/request-context.ts";
import { errorFields, type Logger } from "../lib/log.ts";
import { checkPagePath } from "../pages/page-path.ts";
import type { PageStore } from "../pages/page-store.ts";
import { repairWorkingTree } from "../repo/repository.ts";
import type { Wiki, WikiStore } from "../wikis/wiki-store.ts";
import { BrowserError, browserErrorResponse, readOnlyPage } from "./browser-error.ts";
import { canonicalForm, stringField } from "./form-body.ts";
import { type BrowserIdentity, browserIdentityOf, identityHeaders } from "./identity.ts";
import { type Lease, type OtterwikiPool, WikiProcessError } from "./process-pool.ts";
import { clientResponse, sendToOtterwiki, type UpstreamRequest } from "./proxy.ts";
import {
  classifyBrowserRoute,
  isEditorRequest,
  normalizeWikiPath,
  type OtterwikiPost,
  pageUrlPath,
  readsOnly,
  routeHeader,
  writesRepository,
} from "./route-policy.ts";
import { addBaseRevision, BASE_REVISION_FIELD, checkSave } from "./save-guard.ts";
import {
  checkAttachmentNames,
  checkEmptyPagesStillEmpty,
  checkRename,
  checkRevert,
  checkSaveFitsPlan,
} from "./write-checks.ts";

export interface BrowserHandlerDeps {
  pool: Pick<OtterwikiPool, "acquire" | "stop"> & Partial<Pick<OtterwikiPool, "prewarm">>;
  pages: PageStore;
  users: Pick<UserStore, "findById">;
  wikis: WikiStore;
  sessions: SessionService;
  publicUrl: URL;
  maxBodyBytes: number;
  logger: Logger;
}

/** Otterwiki's socket failed mid-request; the process has been reported broken. */
class ConnectionLost extends BrowserError {}

interface Visitor {
  session: Session | null;
  user: User | null;
  /** Set-Cookie values the response must carry (e.g. clearing a dead session cookie). */
  cookies: string[];
}

const FORWARDED_METHODS = new Set(["GET", "HEAD", "POST"]);

export function createBrowserHandler(deps: BrowserHandlerDeps) {
  const policy = cookiePolicyFor(deps.publicUrl);

  function visitorOf(request: Request, wiki: Wiki): Visitor {
    const token = readCookie(request, "wiki-session", policy);
    if (token === null) return { session: null, user: null, cookies: [] };
    const session = deps.sessions.validateSessionToken(token, { kind: "wiki", wikiId: wiki.id });
    const user = session === null ? null : deps.users.findById(session.userId);
    if (session === null || user === null)
      return { session: null, user: null, cookies: [clearCookie("wiki-session", policy)] };
    return { session, user, cookies: [] };
  }

  async function handle(request: Request): Promise<Response> {
    const wiki = wikiOf(request);
    const url = new URL(request.url);
    const normalized = normalizeWikiPath(url.pathname);
    if (normalized === null)
      throw new BrowserError(400, "This address is not valid", "Its path cannot be decoded.");
    if (!FORWARDED_METHODS.has(request.method))
      throw new BrowserError(405, "Method not allowed", `${request.method} is not used here.`, {
        headers: { allow: "GET, HEAD, POST" },
      });
    const route = classifyBrowserRoute(request.method, url, normalized);
    const origin = wikiOrigin(deps.publicUrl, wiki.slug);

    switch (route.kind) {
      case "handoff":
        return answerHandoffAtWiki(deps, wiki, request);
      case "blocked":
        throw new BrowserError(
          403,
          "Not available on this wiki",
          "wikibot manages this wiki's repository, members and git access itself; Otterwiki's own pages for them are switched off.",
          { links: [{ href: "/", label: "Back to the wiki" }] },
        );
      case "sign-in":
        return bounceThroughApex(deps, wiki, route.next, {
          login: true,
          extraCookies: [clearCookie("checked", policy)],
        });
      case "sign-out":
        return signOut(request, wiki, origin);
      case "account":
        return redirect(`${sessionOrigin(deps.publicUrl)}/app/`);
      case "post":
      case "otterwiki":
        break;
    }

    const visitor = visitorOf(request, wiki);
    const principal: Principal =
      visitor.user === null
        ? ANONYMOUS
        : {
            user: visitor.user,
            role: deps.wikis.roleOf(wiki.id, visitor.user.id),
            scope: "write",
            tokenId: null,
            oauthClient: null,
          };
    const identity = browserIdentityOf(wiki, principal);
    const navigation = isNavigation(request);
    const returnPath = url.pathname + url.search;

    if (identity === null) {
      if (visitor.user !== null) {
        throw new BrowserError(
          403,
          "You have no access to this wiki",
          `You are signed in as ${visitor.user.handle}, who is not a member of “${wiki.name}”. Ask its owner to invite you.`,
          { links: [{ href: "/-/logout", label: "Sign in as someone else" }] },
        );
      }
      // Ask the apex first: the visitor may be signed in there already.
      if (navigation) {
        // A stranger to a private wiki starts no process: only a public wiki is prewarmed, below.
        return bounceThroughApex(deps, wiki, returnPath, {
          login: false,
          extraCookies: visitor.cookies,
        });
      }
      if (request.method === "GET" || request.method === "HEAD")
        return redirect(signInUrl(deps.publicUrl, `${origin}${returnPath}`), visitor.cookies);
      throw new BrowserError(401, "Please sign in", "This wiki is private.");
    }
    if (visitor.user === null && navigation && readCookie(request, "checked", policy) === null) {
      // The reader is back after the bounce; the wiki's process starts meanwhile.
      deps.pool.prewarm?.(wiki);
      return bounceThroughApex(deps, wiki, returnPath, {
        login: false,
        extraCookies: visitor.cookies,
      });
    }

    const reading = request.method === "GET" || request.method === "HEAD";
    const post = route.kind === "post" ? route.post : null;
    if (!reading && !(post !== null && readsOnly(post))) {
      const write = decideAccess(wiki, principal, "write");
      if (!write.allowed) throw readOnlyPage(write.refusal);
    }
    const body = reading ? null : await readBytesWithin(request, deps.maxBodyBytes);
    if (body === null && !reading) {
      throw new BrowserError(
        413,
        "This upload is too large",
        `Requests are limited to ${deps.maxBodyBytes} bytes.`,
      );
    }
    const upstream: UpstreamRequest = {
      method: request.method,
      pathAndQuery: returnPath,
      clientHeaders: request.headers,
      body,
      publicHost: new URL(origin).host,
      identity: identityHeaders(identity),
      route: post === null ? undefined : routeHeader(post),
      requestId: requestIdOf(request) ?? undefined,
    };
    const editor = isEditorRequest(url, normalized);
    const editorRevision = editor ? await currentRevisionOf(wiki, url) : "";
    // After a crash, the working tree is repaired before anyone reads from it (cheap after once).
    await deps.pages.ensureReady(wiki);

    if (post === null) return forward(wiki, upstream, visitor.cookies, editor, editorRevision, url);
    return deps.pages.exclusive(wiki, async () => {
      await checkWrite(wiki, post, upstream, identity);
      return forwardWrite(wiki, post, upstream, visitor.cookies, editor, editorRevision, url);
    });
  }

  /** Holds the POST to the rules of the view it reaches; may rewrite `upstream`'s body. */
  async function checkWrite(
    wiki: Wiki,
    post: OtterwikiPost,
    upstream: UpstreamRequest,
    identity: BrowserIdentity,
  ): Promise<void> {
    switch (post.endpoint) {
      case "save":
        return guardSave(wiki, post.args.path, upstream, identity);
      case "rename": {
        const form = await canonicalForm(upstream);
        return checkRename(deps.pages, wiki, post.args.path, stringField(form, "new_pagename"));
      }
      case "revert":
        return checkRevert(deps.pages, wiki, post.args.revision);
      case "attachments":
      case "inline_attachment": {
        const form = await canonicalForm(upstream);
        const named = post.endpoint === "attachments" ? stringField(form, "filename") : "";
        const names = form
          .getAll("file")
          .flatMap((file) => (typeof file === "string" || file.name === "" ? [] : [file.name]))
          .map((name) => (named.trim() === "" ? name : named));
        return checkAttachmentNames(deps.pages, wiki, post.args.pagepath, names);
      }
      case "edit_attachment": {
        const form = await canonicalForm(upstream);
        const renamedTo = stringField(form, "new_filename");
        // Deleting needs no name; an empty new name only shows the form.
        if (stringField(form, "delete").trim() !== "" || renamedTo.trim() === "") return;
        if (renamedTo === post.args.filename) return;
        return checkAttachmentNames(
          deps.pages,
          wiki,
          post.args.pagepath,
          [renamedTo],
          post.args.filename,
        );
      }
      case "housekeeping":
        return checkEmptyPagesStillEmpty(deps.pages, wiki, await canonicalForm(upstream));
      default:
        // Deleting a page creates no name, and the remaining views never touch the repository.
        return;
    }
  }

  /**
   * Forwards a POST under the gate. When it fails, or after any view that writes the
   * repository, the tree is put back to HEAD: a worker killed mid-save (or by gunicorn's
   * timeout) or a view that failed after staging leaves staged files, which the next commit of
   * any writer would otherwise take in under its author's name (issue 8, defect 5).
   */
  async function forwardWrite(
    wiki: Wiki,
    post: OtterwikiPost,
    upstream: UpstreamRequest,
    cookies: string[],
    editor: boolean,
    editorRevision: string,
    url: URL,
  ): Promise<Response> {
    let response: Response;
    try {
      response = await forward(wiki, upstream, cookies, editor, editorRevision, url);
    } catch (error) {
      // No process could be had: nothing was sent, nothing to undo.
      if (error instanceof WikiProcessError) throw error;
      // The connection failed: the worker may still be running (or a git child of it).
      // reportBroken() has begun stopping the process group; wait until it is gone.
      if (error instanceof ConnectionLost) await deps.pool.stop(wiki.id);
      await restoreTree(wiki, post);
      throw error;
    }
    if (response.status >= 500 || writesRepository(post)) {
      // A 5xx came from the worker after the view ended; it is idle again, so no stop is needed.
      await restoreTree(wiki, post);
    }
    return response;
  }

  async function restoreTree(wiki: Wiki, post: OtterwikiPost): Promise<void> {
    const { repaired } = await repairWorkingTree(deps.pages.repo(wiki));
    if (repaired)
      deps.logger.warn("browser write left the working tree changed; reset to HEAD", {
        wiki: wiki.slug,
        endpoint: post.endpoint,
      });
  }

  /** Forwards with a lease on the process; a GET whose connection fails is retried once. */
  async function forward(
    wiki: Wiki,
    upstream: UpstreamRequest,
    cookies: string[],
    editor: boolean,
    editorRevision: string,
    url: URL,
  ): Promise<Response> {
    const idempotent = upstream.method !== "POST";
    for (let attempt = 1; ; attempt++) {
      const lease = await deps.pool.acquire(wiki);
      let response: Response;
      try {
        response = await sendToOtterwiki(lease.socket, upstream);
      } catch (error) {
        deps.logger.warn("otterwiki request failed", { wiki: wiki.slug, ...errorFields(error) });
        lease.reportBroken();
        if (idempotent && attempt === 1) continue;
        throw new ConnectionLost(
          502,
          "The wiki's page server stopped while answering",
          idempotent
            ? "It is being restarted; please reload."
            : "Your change may or may not have been saved. Check the page's history before trying again.",
          { links: [{ href: "/-/changelog", label: "Recent changes" }] },
        );
      }
      if (editor && response.status === 200)
        return injectBaseRevision(response, lease, cookies, editorRevision, url);
      return clientResponse(response, lease.release, cookies);
    }
  }

  async function injectBaseRevision(
    response: Response,
    lease: Lease,
    cookies: string[],
    currentRevision: string,
    url: URL,
  ): Promise<Response> {
    let html: string;
    try {
      html = await response.text();
    } finally {
      lease.release();
    }
    const rewritten = addBaseRevision(html, {
      currentRevision,
      editingOldRevision: /\/edit\/[0-9a-f]+\/?$/i.test(url.pathname),
    });
    const headers = new Headers(response.headers);
    headers.delete("content-length");
    headers.delete("content-encoding");
    const passed = clientResponse(
      new Response(rewritten, { status: response.status, headers }),
      () => undefined,
      cookies,
    );
    return passed;
  }

  /** The page's revision now ("" when it does not exist), for the editor's base field. */
  async function currentRevisionOf(wiki: Wiki, url: URL): Promise<string> {
    const decoded = decodeURIComponent(url.pathname).replace(/\/edit(?:\/[0-9a-f]+)?\/?$/i, "");
    const check = checkPagePath(decoded.replace(/^\/+/, "") || "Home");
    if (!check.ok) return "";
    await deps.pages.ensureReady(wiki);
    return deps.pages.index.get(wiki.id, check.path)?.revision ?? "";
  }

  /** Leaves the (possibly merged) save in `upstream.body`, or throws the page refusing it. */
  async function guardSave(
    wiki: Wiki,
    rawPagePath: string,
    upstream: UpstreamRequest,
    identity: BrowserIdentity,
  ): Promise<void> {
    const check = checkPagePath(rawPagePath);
    if (!check.ok) {
      throw new BrowserError(400, "This page name cannot be saved", check.reason, {
        links: [{ href: "/", label: "Back to the wiki" }],
      });
    }
    const contentType = upstream.clientHeaders.get("content-type") ?? "";
    if (!contentType.startsWith("application/x-www-form-urlencoded")) {
      throw new BrowserError(415, "Saves must come from the editor's form", "");
    }
    // Forwarded as we parsed it, whatever charset parameter the client named.
    upstream.contentType = "application/x-www-form-urlencoded";
    const form = new URLSearchParams(new TextDecoder().decode(upstream.body ?? new Uint8Array()));
    if (deps.pages.index.get(wiki.id, check.path) === null) {
      const twin = deps.pages.index
        .findCaseVariants(wiki.id, check.path)
        .find((other) => other !== check.path);
      if (twin !== undefined) {
        throw new BrowserError(
          409,
          "This page name is taken",
          `Page "${twin}" differs from "${check.path}" only in letter case; edit that page instead.`,
          { links: [{ href: `${pageUrlPath(twin)}?edit`, label: `Edit ${twin}` }] },
        );
      }
    }
    const base = form.get(BASE_REVISION_FIELD);
    form.delete(BASE_REVISION_FIELD);
    const submitted = form.get("content") ?? "";
    const result = await checkSave(deps.pages.repo(wiki), `${check.path}.md`, base, submitted);
    const pageUrl = pageUrlPath(check.path);
    switch (result.kind) {
      case "unchanged":
        checkSaveFitsPlan(deps.pages, wiki, check.path, submitted);
        upstream.body = new TextEncoder().encode(form.toString());
        return;
      case "merged":
        checkSaveFitsPlan(deps.pages, wiki, check.path, result.content);
        deps.logger.info("browser save merged with a newer revision", {
          wiki: wiki.slug,
          page: check.path,
          author: identity.email,
        });
        form.set("content", result.content);
        upstream.body = new TextEncoder().encode(form.toString());
        return;
      case "conflict": {
        const links = [
          { href: `${pageUrl}?edit`, label: "Open the editor on the current version" },
        ];
        if (result.baseRevision && result.currentRevision)
          links.unshift({
            href: `${pageUrl}/diff/${result.baseRevision}/${result.currentRevision}`,
            label: "See what changed since you started editing",
          });
        links.push({ href: `${pageUrl}/history`, label: "Page history" });
        throw new BrowserError(
          409,
          "This page changed while you were editing",
          conflictDetail(result.reason),
          { links, returnedText: submitted },
        );
      }
    }
  }

  function signOut(request: Request, wiki: Wiki, origin: string): Response {
    const visitor = visitorOf(request, wiki);
    if (visitor.session !== null) deps.sessions.invalidateSession(visitor.session.id);
    return redirect(
      `${sessionOrigin(deps.publicUrl)}/auth/logout?return_to=${encodeURIComponent(`${origin}/`)}`,
      [
        clearCookie("wiki-session", policy),
        serializeCookie("checked", policy, "1", CHECKED_MAX_AGE),
      ],
    );
  }

  return async (request: Request): Promise<Response> => {
    try {
      return await handle(request);
    } catch (error) {
      return browserErrorResponse(error, deps.logger, URL.parse(request.url)?.pathname ?? "/");
    }
  };
}

function conflictDetail(reason: "overlapping" | "deleted" | "unknown-base" | "no-base"): string {
  switch (reason) {
    case "overlapping":
      return "Someone else (a person, an agent or a git push) changed the same lines since you opened the editor. Your version was not saved, so their change is not lost. Compare, then edit the current version.";
    case "deleted":
      return "The page was deleted or moved since you opened the editor. Your version was not saved.";
    case "unknown-base":
      return "The version you started from is not in this wiki's history any more. Your version was not saved.";
    case "no-base":
      return "This save did not say which version it was based on, so it could overwrite someone else's change. Open the editor again and save from there.";
  }
}

/** A browser navigating to a page (not a script, an image or a non-browser client). */
function isNavigation(request: Request): boolean {
  return (
    request.method === "GET" &&
    request.headers.get("sec-fetch-mode") === "navigate" &&
    (request.headers.get("sec-fetch-dest") ?? "document") === "document"
  );
}

function redirect(location: string, cookies: readonly string[] = []): Response {
  const headers = new Headers({ location, "cache-control": "no-store" });
  for (const cookie of cookies) headers.append("set-cookie", cookie);
  return new Response(null, { status: 302, headers });
}
