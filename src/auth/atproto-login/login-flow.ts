/**
 * Sign in with Bluesky, start to finish, as plain functions that return Responses (the routes
 * file only reads the request). After the callback the DID is the identity; the handle is
 * re-verified both ways and the display name re-read from the public profile record at every
 * sign-in; the PDS session is signed out at once, because we issue our own session through
 * `completeSignIn`. A new DID chooses a username first (signup). Every failure ends on a page
 * saying what happened and how to retry (pages.ts); the detail goes to the log only.
 */
import {
  FetchError,
  type NodeOAuthClient,
  OAuthCallbackError,
  OAuthResolverError,
  OAuthResponseError,
} from "@atproto/oauth-client-node";
import { z } from "zod";
import { jsonError, jsonResponse } from "../../http/json.ts";
import type { Logger } from "../../lib/log.ts";
import { errorFields } from "../../lib/log.ts";
import { checkSlug, RESERVED_SLUGS } from "../../wikis/slug.ts";
import { type HandoffDeps, validReturnTo } from "../session/handoff.ts";
import { completeSignIn } from "../session/sign-in.ts";
import type { Identity, User, UserStore } from "../user-store.ts";
import { isUnknownHandle } from "./handle-lookup.ts";
import { HardenedFetchError } from "./hardened-fetch.ts";
import { failurePage, loginPage, type OtherSignIn, signupPage } from "./pages.ts";
import type { PendingSignup, PendingSignupStore } from "./pending-signup-store.ts";

export interface AtprotoLoginDeps {
  /** Null when this PUBLIC_URL has no client yet; `unavailableReason` says why. */
  client: NodeOAuthClient | null;
  unavailableReason: string | null;
  users: UserStore;
  pendingSignups: PendingSignupStore;
  handoff: HandoffDeps;
  /** The hardened fetch, for the public profile record. */
  fetch: typeof fetch;
  logger: Logger;
  /** Turns roles granted before this person signed in into theirs (wikis/members.ts). */
  claimPendingGrants: (user: User, verifiedHandle: string | null) => void;
  /** Buttons for the other enabled ways in (GitHub, Google), shown on every sign-in form. */
  otherSignIns?: readonly OtherSignIn[];
  /** Where the signup cookie goes: serialize / clear / read (session-cookie.ts policy). */
  signupCookie: {
    set(value: string, maxAgeSeconds: number): string;
    clear(): string;
  };
}

/** A handle (https://atproto.com/specs/handle#handle-identifier-syntax) or a did:plc / did:web. */
const HANDLE_PATTERN =
  /^([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const DID_PATTERN = /^did:(?:plc:[a-z2-7]{24}|web:[a-z0-9.%:-]+)$/;
const HANDLE_INVALID = "handle.invalid";
const MAX_DISPLAY_NAME = 64;

/**
 * What a person typed, as the resolver wants it: Unicode control and format characters (which
 * hide in pasted text) and a leading "@" removed, lowercased (notes §6, cookbook).
 */
export function normalizeHandleInput(raw: string): string {
  return raw
    .replace(/[\p{Cc}\p{Cf}]/gu, "")
    .trim()
    .replace(/^@/, "")
    .toLowerCase();
}

function loginHref(returnTo: string | null): string {
  return returnTo === null
    ? "/auth/login"
    : `/auth/login?return_to=${encodeURIComponent(returnTo)}`;
}

/** POST /auth/login: resolve the handle, push the authorization request, send the browser. */
export async function startLogin(
  deps: AtprotoLoginDeps,
  rawHandle: string,
  returnTo: string | null,
): Promise<Response> {
  if (deps.client === null) {
    return failurePage({
      status: 503,
      title: "Sign-in is not available here",
      detail: deps.unavailableReason ?? "",
      retryHref: "/",
    });
  }
  const handle = normalizeHandleInput(rawHandle);
  if (!HANDLE_PATTERN.test(handle) && !DID_PATTERN.test(handle)) {
    return loginPage({
      handle: rawHandle,
      returnTo,
      otherSignIns: deps.otherSignIns,
      status: 400,
      error:
        handle === ""
          ? "Enter your Bluesky handle, for example alice.bsky.social."
          : `"${handle}" is not a Bluesky handle. A handle looks like alice.bsky.social.`,
    });
  }
  try {
    const url = await deps.client.authorize(handle, {
      scope: "atproto",
      state: JSON.stringify({ returnTo }),
    });
    return new Response(null, {
      status: 302,
      headers: { location: url.href, "cache-control": "no-store" },
    });
  } catch (error) {
    // What a remote party caused is a page; anything else (our database, a bug) is a logged 500.
    if (!isRemoteFailure(error)) throw error;
    deps.logger.warn("sign-in could not start", { ...errorFields(error) });
    if (error instanceof OAuthResolverError && isUnknownHandle(error)) {
      return loginPage({
        handle: rawHandle,
        returnTo,
        otherSignIns: deps.otherSignIns,
        status: 404,
        error: `We could not find the Bluesky account "${handle}". Check the spelling and try again.`,
      });
    }
    return loginPage({
      handle: rawHandle,
      returnTo,
      otherSignIns: deps.otherSignIns,
      status: 502,
      error: `The Bluesky servers for "${handle}" did not answer as expected. They may be down; try again in a minute.`,
    });
  }
}

/** Errors a handle, DID document, PDS or authorization server can cause us (not our own bugs). */
function isRemoteFailure(error: unknown): boolean {
  return (
    error instanceof OAuthResolverError ||
    error instanceof OAuthResponseError ||
    error instanceof FetchError ||
    error instanceof HardenedFetchError
  );
}

/** Our app state, round-tripped through the library's encrypted state store. */
const AppStateSchema = z.object({ returnTo: z.string().nullable() });

function returnToOf(deps: AtprotoLoginDeps, state: string | undefined | null): string | null {
  if (state == null) return null;
  try {
    const parsed = AppStateSchema.safeParse(JSON.parse(state));
    return parsed.success ? validReturnTo(deps.handoff, parsed.data.returnTo) : null;
  } catch {
    return null;
  }
}

/** GET /auth/callback: finish the authorization and sign the person in (or on to signup). */
export async function finishLogin(
  deps: AtprotoLoginDeps,
  params: URLSearchParams,
): Promise<Response> {
  if (deps.client === null) return startLogin(deps, "", null);
  if (!params.has("state")) {
    return failurePage({
      status: 400,
      title: "This sign-in link is not complete",
      detail: "It carries no sign-in request. Start again from the sign-in page.",
      retryHref: "/auth/login",
    });
  }
  let result: Awaited<ReturnType<NodeOAuthClient["callback"]>>;
  try {
    result = await deps.client.callback(params);
  } catch (error) {
    return callbackFailure(deps, error);
  }
  const { session } = result;
  const returnTo = returnToOf(deps, result.state);
  let identity: Identity;
  try {
    identity = await readIdentity(deps, session.did, (await session.getTokenInfo(false)).aud);
  } catch (error) {
    deps.logger.warn("sign-in: identity could not be read", errorFields(error));
    return failurePage({
      status: 502,
      title: "We could not check your Bluesky identity",
      detail:
        "Your Bluesky server confirmed the sign-in, but we could not read your handle from the directory. Try again in a minute.",
      retryHref: loginHref(returnTo),
    });
  } finally {
    // We keep no PDS session: our own session is what signs you in here.
    await session.signOut().catch((error: unknown) => {
      deps.logger.warn("sign-in: the PDS session could not be revoked", errorFields(error));
    });
  }
  const known = deps.users.findByDid(session.did);
  if (known !== null) {
    const user = deps.users.updateIdentity(known.id, identity) ?? known;
    deps.claimPendingGrants(user, verifiedHandleOf(identity.handle));
    return completeSignIn(deps.handoff, user.id, returnTo);
  }
  const token = deps.pendingSignups.create({
    did: session.did,
    handle: identity.handle,
    displayName: identity.displayName,
    avatarUrl: identity.avatarUrl,
    returnTo,
  });
  return new Response(null, {
    status: 302,
    headers: new Headers([
      ["location", "/auth/signup"],
      ["cache-control", "no-store"],
      ["set-cookie", deps.signupCookie.set(token, 15 * 60)],
    ]),
  });
}

function callbackFailure(deps: AtprotoLoginDeps, error: unknown): Response {
  const returnTo =
    error instanceof OAuthCallbackError ? returnToOf(deps, error.state ?? null) : null;
  const retryHref = loginHref(returnTo);
  // The library quotes the state it could not find; a query value never reaches the log.
  const reason = error instanceof Error ? error.message.replace(/"[^"]*"/g, '"…"') : String(error);
  deps.logger.warn("sign-in callback refused", {
    reason,
    cause: error instanceof Error && error.cause instanceof Error ? error.cause.message : undefined,
  });
  if (error instanceof OAuthCallbackError) {
    const code = error.params.get("error");
    if (code === "access_denied") {
      return failurePage({
        status: 403,
        title: "Sign-in cancelled",
        detail:
          "Your Bluesky server says access was not granted, so you are not signed in. If that was a mistake, sign in again and choose Accept.",
        retryHref,
      });
    }
    if (code !== null) {
      return failurePage({
        status: 502,
        title: "Your Bluesky server stopped the sign-in",
        detail: `It answered "${code}". Try again; if it keeps happening, your server may be having trouble.`,
        retryHref,
      });
    }
    if (error.message.startsWith("Unknown authorization session")) {
      return failurePage({
        status: 400,
        title: "This sign-in link has expired",
        detail:
          "It was used already or is more than an hour old. Each sign-in link works once; start again.",
        retryHref,
      });
    }
    if (/issuer|iss missing/i.test(error.message)) {
      return failurePage({
        status: 400,
        title: "The sign-in answer came from the wrong server",
        detail:
          "It did not come from the Bluesky server the sign-in was sent to, so we did not trust it. Start again.",
        retryHref,
      });
    }
  }
  return failurePage({
    status: 502,
    title: "We could not finish signing you in",
    detail:
      "Your Bluesky server did not confirm the sign-in. It may be down or the link may be stale; start again.",
    retryHref,
  });
}

/** A blob CID as the PDS writes it (CIDv1, base32 multibase "b…"). */
const BLOB_CID = /^b[a-z2-7]{20,120}$/;

const ProfileRecordSchema = z.object({
  value: z.object({
    displayName: z.string().optional(),
    // https://atproto.com/specs/data-model#blob-type: { $type: "blob", ref: { $link }, … }
    avatar: z.object({ ref: z.object({ $link: z.string().regex(BLOB_CID) }) }).optional(),
  }),
});

/**
 * The handle, verified both ways by the identity resolver (DID document ↔ handle; a mismatch
 * reads "handle.invalid"), and the display name and avatar from the public profile record on
 * the PDS. With scope `atproto` only, the profile is read unauthenticated with
 * com.atproto.repo.getRecord (notes §2). A missing or unreadable profile is no failure: the
 * handle stands in, and there is no avatar. The avatar is served by the PDS itself
 * (com.atproto.sync.getBlob), so we keep its URL and never fetch or store the image.
 */
async function readIdentity(
  deps: AtprotoLoginDeps,
  did: string,
  pdsUrl: string,
): Promise<Identity> {
  if (deps.client === null) throw new Error("no client");
  const resolved = await deps.client.identityResolver.resolve(did, { noCache: true });
  const handle = resolved.handle;
  let displayName = "";
  let avatarUrl: string | null = null;
  try {
    const url = new URL("/xrpc/com.atproto.repo.getRecord", pdsUrl);
    url.search = new URLSearchParams({
      repo: did,
      collection: "app.bsky.actor.profile",
      rkey: "self",
    }).toString();
    const response = await deps.fetch(url, { headers: { accept: "application/json" } });
    if (response.ok) {
      const parsed = ProfileRecordSchema.safeParse(await response.json());
      if (parsed.success) {
        displayName = (parsed.data.value.displayName ?? "").trim();
        const cid = parsed.data.value.avatar?.ref.$link;
        if (cid !== undefined) {
          const blob = new URL("/xrpc/com.atproto.sync.getBlob", pdsUrl);
          blob.search = new URLSearchParams({ did, cid }).toString();
          avatarUrl = blob.href;
        }
      }
    }
  } catch (error) {
    deps.logger.info("sign-in: no public profile", errorFields(error));
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what we drop
  displayName = displayName.replace(/[\u0000-\u001f\u007f]/g, "").slice(0, MAX_DISPLAY_NAME);
  if (displayName === "") displayName = handle === HANDLE_INVALID ? did : handle;
  return { handle, displayName, avatarUrl };
}

/** The handle the resolver verified both ways, or null when verification failed. */
function verifiedHandleOf(handle: string): string | null {
  return handle === HANDLE_INVALID ? null : handle;
}

/** A first guess at a username: the handle's first label, made into a valid one where possible. */
export function suggestUsername(handle: string): string {
  if (handle === HANDLE_INVALID) return "";
  const label = (handle.split(".")[0] ?? "")
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/-{2,}/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 63);
  return label.length >= 3 && !RESERVED_SLUGS.has(label) ? label : "";
}

function expiredSignup(deps: AtprotoLoginDeps): Response {
  return failurePage({
    status: 400,
    title: "This sign-up has expired",
    detail:
      "Choosing a username must happen within 15 minutes of confirming your Bluesky account, in the same browser. Sign in again to continue.",
    retryHref: "/auth/login",
    cookies: [deps.signupCookie.clear()],
  });
}

/** GET /auth/signup */
export function showSignup(deps: AtprotoLoginDeps, cookie: string | null): Response {
  const pending = deps.pendingSignups.find(cookie);
  if (pending === null) return expiredSignup(deps);
  return signupPage({
    handle: pending.handle,
    displayName: pending.displayName,
    username: suggestUsername(pending.handle),
  });
}

/** What choosing a username came to: the account, or why not (shown next to the field). */
type SignupOutcome =
  | { kind: "expired" }
  | { kind: "refused"; pending: PendingSignup; status: 400 | 409; message: string }
  | { kind: "signed-up"; pending: PendingSignup; user: User };

/**
 * Creates the account of a pending signup with the chosen username, the one place that does
 * (the form at /auth/signup and POST /api/signup both call it).
 */
function claimUsername(
  deps: AtprotoLoginDeps,
  cookie: string | null,
  rawUsername: string,
): SignupOutcome {
  const pending = deps.pendingSignups.find(cookie);
  if (pending === null) return { kind: "expired" };
  const username = rawUsername.trim().toLowerCase();
  const refused = (status: 400 | 409, message: string): SignupOutcome => ({
    kind: "refused",
    pending,
    status,
    message,
  });
  const problem = checkUsername(username);
  if (problem !== null) return refused(400, problem);
  // The DID may have finished a signup in another tab meanwhile: then that account signs in.
  const existing = deps.users.findByDid(pending.did);
  if (existing !== null) return { kind: "signed-up", pending, user: existing };
  const taken = `The username "${username}" is taken. Choose another.`;
  if (deps.users.findByUsername(username) !== null) return refused(409, taken);
  try {
    const user = deps.users.create({
      did: pending.did,
      handle: pending.handle,
      username,
      displayName: pending.displayName,
      avatarUrl: pending.avatarUrl,
    });
    return { kind: "signed-up", pending, user };
  } catch (error) {
    // A concurrent signup took the name (or the DID) between our check and the insert.
    if (!(error instanceof Error) || !/UNIQUE constraint failed/.test(error.message)) throw error;
    const raced = deps.users.findByDid(pending.did);
    if (raced !== null) return { kind: "signed-up", pending, user: raced };
    return refused(409, taken);
  }
}

/** POST /auth/signup: create the account with the chosen username and sign in. */
export function submitSignup(
  deps: AtprotoLoginDeps,
  cookie: string | null,
  rawUsername: string,
): Response {
  const outcome = claimUsername(deps, cookie, rawUsername);
  if (outcome.kind === "expired") return expiredSignup(deps);
  if (outcome.kind === "refused") {
    return signupPage({
      handle: outcome.pending.handle,
      displayName: outcome.pending.displayName,
      username: rawUsername.slice(0, 100),
      error: outcome.message,
      status: outcome.status,
    });
  }
  return finishSignup(deps, outcome.pending, outcome.user);
}

/**
 * POST /api/signup `{ username }`: the same as the form, answered in the management API's JSON
 * shape. The session cookie is set on this answer; `location` says where the form would have
 * gone.
 */
export function submitSignupJson(
  deps: AtprotoLoginDeps,
  cookie: string | null,
  rawUsername: string,
): Response {
  const outcome = claimUsername(deps, cookie, rawUsername);
  if (outcome.kind === "expired") {
    const response = jsonError(
      401,
      "signup_expired",
      "no sign-up is in progress in this browser, or it is more than 15 minutes old: sign in with Bluesky again",
    );
    response.headers.append("set-cookie", deps.signupCookie.clear());
    return response;
  }
  if (outcome.kind === "refused")
    return jsonError(
      outcome.status,
      outcome.status === 409 ? "username_taken" : "invalid_username",
      outcome.message,
    );
  const signedIn = finishSignup(deps, outcome.pending, outcome.user);
  const { user } = outcome;
  const response = jsonResponse(
    {
      user: {
        did: user.did,
        handle: user.handle,
        username: user.username,
        display_name: user.displayName,
        avatar_url: user.avatarUrl,
      },
      location: signedIn.headers.get("location") ?? "/",
    },
    201,
    { "cache-control": "no-store" },
  );
  for (const cookie of signedIn.headers.getSetCookie())
    response.headers.append("set-cookie", cookie);
  return response;
}

/** Usernames follow the slug rules (wikis/slug.ts): DNS-label shaped, minus reserved names. */
export function checkUsername(username: string): string | null {
  const check = checkSlug(username);
  if (check.ok) return null;
  return `${check.reason.replace(/^slug /, "The username ")}.`;
}

function finishSignup(deps: AtprotoLoginDeps, pending: PendingSignup, user: User): Response {
  deps.pendingSignups.delete(pending.id);
  // Verified both ways at the callback, minutes ago (a pending signup lives 15 minutes).
  deps.claimPendingGrants(user, verifiedHandleOf(pending.handle));
  const response = completeSignIn(deps.handoff, user.id, pending.returnTo);
  response.headers.append("set-cookie", deps.signupCookie.clear());
  return response;
}
