/** What the management routes share: their dependencies and the caller of each request. */
import type { User } from "../auth/user-store.ts";
import type { Logger } from "../lib/log.ts";
import type { MemberDeps } from "../wikis/members.ts";
import type { TokenDeps } from "../wikis/tokens.ts";
import type { WikiLifecycleDeps, WikiServiceDeps } from "../wikis/wiki-service.ts";
import type { GuardDeps } from "./guard.ts";

export interface ManageDeps
  extends GuardDeps,
    MemberDeps,
    TokenDeps,
    WikiServiceDeps,
    WikiLifecycleDeps {
  logger: Logger;
}

const callers = new WeakMap<Request, User>();

export function attachCaller(request: Request, user: User): void {
  callers.set(request, user);
}

/** The signed-in user the handler in front of the router admitted (src/manage/routes.ts). */
export function callerOf(request: Request): User {
  const user = callers.get(request);
  if (user === undefined) throw new Error("a management route ran without an admitted caller");
  return user;
}
