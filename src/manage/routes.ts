/**
 * The management API at `/api` on the apex (DESIGN §2): a plain fetch handler, mounted by
 * createApp. In front of the router it authenticates the apex session and admits
 * state-changing requests (guard.ts); behind it each entity's routes call the use cases the
 * admin CLI calls (src/wikis/). `/api/openapi.json` is generated from the route schemas by
 * @elysiajs/openapi and is the only route answered without a session.
 */
import { toOpenAPISchema } from "@elysiajs/openapi";
import { Elysia, ValidationError } from "elysia";
import { jsonError, jsonResponse } from "../http/json.ts";
import { RateLimiter } from "../http/rate-limit.ts";
import { errorFields } from "../lib/log.ts";
import { connectionRoutes } from "./connections.ts";
import { attachCaller, type ManageDeps } from "./context.ts";
import { admitRequest, authenticate, STATE_CHANGING } from "./guard.ts";
import { linkRoutes } from "./links.ts";
import { ManageError, refusalResponse } from "./manage-error.ts";
import { meRoutes } from "./me.ts";
import { memberRoutes } from "./members.ts";
import { SIGNUP_PATH, signupRoutes } from "./signup.ts";
import { tokenRoutes } from "./tokens.ts";
import { wikiRoutes } from "./wikis.ts";

export const MANAGE_PREFIX = "/api";
const OPENAPI_PATH = `${MANAGE_PREFIX}/openapi.json`;

export type ManageHandler = (request: Request) => Promise<Response>;

/** Whether a path on the apex belongs to the management API. */
export function isManagePath(path: string): boolean {
  return path === MANAGE_PREFIX || path.startsWith(`${MANAGE_PREFIX}/`);
}

function validationMessage(error: ValidationError): string {
  const detail = error.valueError;
  if (detail === undefined) return `the request ${error.type} is malformed`;
  const where = detail.path === "" ? error.type : `${error.type} field ${detail.path.slice(1)}`;
  return `${where}: ${detail.message}`;
}

export function createManageHandler(deps: ManageDeps): ManageHandler {
  // Every account may sign up, and each change can cost a repository on disk (a new wiki) or a
  // request to a server the caller names (a grant by handle), so changes are bounded per
  // account: far above what a person clicks, far below a script's loop. How many wikis a plan
  // allows is the plan policy's (issue 12), not this.
  const changesPerUser = new RateLimiter({ burst: 100, perMinute: 60, maxKeys: 10_000 });
  const router = new Elysia({ prefix: MANAGE_PREFIX })
    .onError(({ code, error, request }) => {
      const refusal = refusalResponse(error);
      if (refusal !== null) return refusal;
      if (code === "NOT_FOUND") return jsonError(404, "not_found", "no such route");
      if (error instanceof ValidationError)
        return jsonError(400, "bad_request", validationMessage(error));
      if (code === "PARSE") return jsonError(400, "bad_request", "the request is malformed");
      deps.logger.error("unhandled error", {
        path: URL.parse(request.url)?.pathname ?? "",
        ...errorFields(error),
      });
      return jsonError(500, "internal_error", "something went wrong on our side");
    })
    .use(signupRoutes(deps))
    .use(meRoutes(deps))
    .use(linkRoutes(deps))
    .use(wikiRoutes(deps))
    .use(memberRoutes(deps))
    .use(tokenRoutes(deps))
    .use(connectionRoutes(deps));

  let document: unknown = null;
  const openApiDocument = () => {
    if (document !== null) return document;
    const { paths, components } = toOpenAPISchema(router);
    document = {
      openapi: "3.1.0",
      info: {
        title: "wikibot management API",
        version: "1",
        description:
          "Signed-in users manage their wikis, members, tokens and connected apps. " +
          "Authentication: the apex " +
          "session cookie (POST /api/signup: the sign-up cookie of a first sign-in). " +
          "State-changing requests need a same-origin Origin (or Sec-Fetch-Site: same-origin) " +
          "and a JSON body, and are limited per account (429 with Retry-After).",
      },
      paths,
      components,
    };
    return document;
  };

  return async (request) => {
    const path = URL.parse(request.url)?.pathname ?? "";
    if (path === OPENAPI_PATH && request.method === "GET")
      return jsonResponse(openApiDocument(), 200, { "cache-control": "no-cache" });
    try {
      // Choosing a username comes before any session: the pending signup cookie is the caller.
      if (path === `${MANAGE_PREFIX}${SIGNUP_PATH}`)
        return await router.handle(await admitRequest(deps, request));
      const user = authenticate(deps, request);
      if (STATE_CHANGING.has(request.method)) {
        const admitted = changesPerUser.take(String(user.id));
        if (!admitted.ok)
          throw new ManageError(
            429,
            "rate_limited",
            `too many changes from your account; try again in ${admitted.retryAfterSeconds} s`,
            { "retry-after": String(admitted.retryAfterSeconds) },
          );
      }
      const admitted = await admitRequest(deps, request);
      attachCaller(admitted, user);
      return await router.handle(admitted);
    } catch (error) {
      const refusal = refusalResponse(error);
      if (refusal !== null) return refusal;
      throw error;
    }
  };
}
