/**
 * What every management request passes before a route sees it: the apex session (the caller),
 * and for state-changing requests a same-origin check and a small JSON body.
 *
 * Same origin: the session cookie is SameSite=Lax, which still rides along on some cross-site
 * requests, and a form can POST text/plain without a preflight. So a state-changing request must
 * name our apex in `Origin` (RFC 6454 §7; every current browser sends it on POST, PUT, PATCH and
 * DELETE) or carry `Sec-Fetch-Site: same-origin` (W3C Fetch Metadata), and must be
 * `application/json`, which a cross-site page cannot send without a CORS preflight we never
 * answer. https://owasp.org/www-community/attacks/csrf
 */
import type { SessionService } from "../auth/session/session.ts";
import { cookiePolicyFor, readCookie, sessionOrigin } from "../auth/session/session-cookie.ts";
import type { User, UserStore } from "../auth/user-store.ts";
import { readTextWithin } from "../http/body-limit.ts";
import { ManageError } from "./manage-error.ts";

/** Management bodies are a few small fields; nothing legitimate comes near this. */
export const MAX_MANAGE_BODY_BYTES = 16 * 1024;

export const STATE_CHANGING = new Set(["POST", "PUT", "PATCH", "DELETE"]);

export interface GuardDeps {
  sessions: SessionService;
  users: UserStore;
  publicUrl: URL;
}

/** The signed-in user behind the apex session cookie; 401 without a valid one. */
export function authenticate(deps: GuardDeps, request: Request): User {
  const token = readCookie(request, "apex-session", cookiePolicyFor(deps.publicUrl));
  const session =
    token === null ? null : deps.sessions.validateSessionToken(token, { kind: "apex" });
  const user = session === null ? null : deps.users.findById(session.userId);
  if (user === null)
    throw new ManageError(401, "unauthenticated", "sign in first: no valid session was presented");
  return user;
}

/** The origins of our apex: PUBLIC_URL and, in loopback development, 127.0.0.1 (sessionOrigin). */
function apexOrigins(publicUrl: URL): Set<string> {
  return new Set([publicUrl.origin, sessionOrigin(publicUrl)]);
}

function isSameOrigin(deps: GuardDeps, request: Request): boolean {
  const origin = request.headers.get("origin");
  if (origin !== null) return apexOrigins(deps.publicUrl).has(origin);
  return request.headers.get("sec-fetch-site") === "same-origin";
}

function isJson(request: Request): boolean {
  const type = request.headers.get("content-type");
  if (type === null) return false;
  const essence = type.split(";")[0]?.trim().toLowerCase();
  return essence === "application/json";
}

function hasBody(request: Request): boolean {
  const length = request.headers.get("content-length");
  if (length !== null) return length !== "0";
  return request.headers.has("transfer-encoding");
}

/**
 * Checks a state-changing request and returns it with its body read (or the same request when
 * it changes nothing). POST, PUT and PATCH must send JSON; a DELETE may send none, but what it
 * sends must be JSON. Throws the refusal.
 */
export async function admitRequest(deps: GuardDeps, request: Request): Promise<Request> {
  if (!STATE_CHANGING.has(request.method)) return request;
  if (!isSameOrigin(deps, request))
    throw new ManageError(
      403,
      "cross_origin",
      "state-changing requests must come from this site (Origin or Sec-Fetch-Site: same-origin)",
    );
  const bodyRequired = request.method !== "DELETE";
  if (!bodyRequired && !hasBody(request)) return request;
  if (!isJson(request))
    throw new ManageError(415, "unsupported_media_type", "send the body as application/json");
  const text = await readTextWithin(request, MAX_MANAGE_BODY_BYTES);
  if (text === null)
    throw new ManageError(
      413,
      "body_too_large",
      `management requests are limited to ${MAX_MANAGE_BODY_BYTES} bytes`,
    );
  try {
    JSON.parse(text);
  } catch {
    throw new ManageError(400, "bad_request", "the body is not valid JSON");
  }
  // A fresh request over the text already read, for the router to parse and validate.
  const headers = new Headers(request.headers);
  headers.delete("content-length");
  return new Request(request.url, { method: request.method, headers, body: text });
}
