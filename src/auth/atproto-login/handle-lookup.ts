/**
 * A Bluesky handle to the DID it names today, verified both ways (the handle's DNS or
 * well-known record names the DID, and the DID document names the handle back), for granting a
 * role by handle: the grant then follows the person, not a name that may change hands.
 */
import type { NodeOAuthClient } from "@atproto/oauth-client-node";
import type { HandleResolution } from "../../wikis/members.ts";

/** Errors of the identity resolvers themselves (@atproto-labs/*-resolver): an answer, not silence. */
const RESOLVER_ERRORS = new Set([
  "IdentityResolverError",
  "HandleResolverError",
  "DidResolverError",
  "OAuthResolverError",
]);

/**
 * Whether an identity failure means "no such handle" rather than "could not ask". Resolvers
 * answer an unknown handle differently (null, a 400, another status), so the test is the other
 * way round: a failure that reached no server (a fetch that threw: Bun's fetch and our hardened
 * fetch throw TypeErrors; a timeout or abort) is unreachable, and a failure the resolvers raised
 * from an answer means the handle names nobody.
 */
export function isUnknownHandle(error: unknown): boolean {
  let answered = false;
  for (let cause = error, depth = 0; cause instanceof Error && depth < 8; depth++) {
    if (cause instanceof TypeError || cause.name === "AbortError" || cause.name === "TimeoutError")
      return false;
    if (RESOLVER_ERRORS.has(cause.name)) answered = true;
    cause = cause.cause;
  }
  return answered;
}

export function createHandleLookup(
  client: NodeOAuthClient | null,
): ((handle: string) => Promise<HandleResolution>) | null {
  if (client === null) return null;
  return async (handle) => {
    try {
      const identity = await client.identityResolver.resolve(handle);
      return { kind: "did", did: identity.did };
    } catch (error) {
      return isUnknownHandle(error) ? { kind: "unknown" } : { kind: "unreachable" };
    }
  };
}
