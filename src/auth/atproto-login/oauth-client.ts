/**
 * Builds our ATProto OAuth client (notes/atproto-login.md §2–§4). Everything that touches the
 * network is injected: the hardened fetch, our handle resolver (the library's default one throws
 * on Bun, and would filter nothing there anyway) and the PLC directory. Scope `atproto` only: we
 * want the DID, nothing in the account.
 * With PUBLIC_URL on localhost this is the loopback development client of the atproto OAuth
 * spec ("Localhost Client Development"): client_id `http://localhost?redirect_uri=…`, a public
 * client whose callback is `http://127.0.0.1:{port}/auth/callback` (RFC 8252 §7.3 wants the IP
 * literal, so the apex session lives on 127.0.0.1 too, see sessionOrigin).
 * With an https PUBLIC_URL it is a confidential web client: client_id
 * `{PUBLIC_URL}/auth/client-metadata.json`, private_key_jwt (ES256 key in DATA_DIR/keys),
 * public JWKS at `/auth/jwks.json`, DPoP-bound tokens.
 */
import type { Database } from "bun:sqlite";
import { resolveTxt } from "node:dns/promises";
import type { JoseKey } from "@atproto/jwk-jose";
import {
  AtprotoHandleResolver,
  buildAtprotoLoopbackClientMetadata,
  type HandleResolver,
  NodeOAuthClient,
  requestLocalLock,
  XrpcHandleResolver,
} from "@atproto/oauth-client-node";
import { sessionOrigin } from "../session/session-cookie.ts";
import { AtprotoSessionStore, AtprotoStateStore, Sealer } from "./oauth-stores.ts";

export const CALLBACK_PATH = "/auth/callback";
export const ATPROTO_SCOPE = "atproto";

export interface AtprotoClientOptions {
  publicUrl: URL;
  db: Database;
  /** 256-bit key sealing the stores (deriveKey(secrets, "atproto-oauth-stores")). */
  sealingKey: string;
  /** The hardened fetch (hardened-fetch.ts); the client gets no other. */
  fetch: typeof fetch;
  plcUrl: URL;
  /** An XRPC resolveHandle service (tests: the local PDS); null: DNS TXT then https well-known. */
  handleResolverUrl: URL | null;
  /** http issuers and PDSs (a local PDS is http://localhost:PORT): tests and development only. */
  allowHttp: boolean;
  /** The confidential client's key (https PUBLIC_URL); null builds the loopback client. */
  clientKey: JoseKey | null;
}

/** How this PUBLIC_URL signs in: loopback development client, confidential web client, or not. */
export type ClientKind = "loopback" | "confidential" | { unsupported: string };

export function clientKindFor(publicUrl: URL): ClientKind {
  if (publicUrl.hostname === "localhost") return "loopback";
  if (publicUrl.protocol === "https:") return "confidential";
  return {
    unsupported:
      "Sign in with Bluesky needs PUBLIC_URL on https (or on localhost for local development).",
  };
}

export const CLIENT_METADATA_PATH = "/auth/client-metadata.json";
export const JWKS_PATH = "/auth/jwks.json";

/**
 * The confidential web client's metadata document, served at its own client_id URL (atproto
 * OAuth "Client ID Metadata Document"): private_key_jwt with ES256, DPoP-bound tokens, keys
 * published at jwks_uri (never embedded, so a key rotation is one file).
 */
export function confidentialClientMetadata(publicUrl: URL) {
  const origin = publicUrl.origin;
  return {
    client_id: `${origin}${CLIENT_METADATA_PATH}`,
    client_name: "wikibot",
    client_uri: origin,
    redirect_uris: [`${origin}${CALLBACK_PATH}`] as [string],
    grant_types: ["authorization_code", "refresh_token"] as ["authorization_code", "refresh_token"],
    response_types: ["code"] as ["code"],
    scope: ATPROTO_SCOPE,
    application_type: "web" as const,
    token_endpoint_auth_method: "private_key_jwt" as const,
    token_endpoint_auth_signing_alg: "ES256",
    dpop_bound_access_tokens: true,
    jwks_uri: `${origin}${JWKS_PATH}`,
  };
}

export function createAtprotoOAuthClient(options: AtprotoClientOptions): NodeOAuthClient {
  const sealer = new Sealer(options.sealingKey);
  const handleResolver: HandleResolver =
    options.handleResolverUrl !== null
      ? new XrpcHandleResolver(options.handleResolverUrl, { fetch: options.fetch })
      : new AtprotoHandleResolver({ resolveTxt: resolveTxtRecords, fetch: options.fetch });
  const confidential = options.clientKey !== null;
  return new NodeOAuthClient({
    clientMetadata: confidential
      ? confidentialClientMetadata(options.publicUrl)
      : buildAtprotoLoopbackClientMetadata({
          scope: ATPROTO_SCOPE,
          redirect_uris: [loopbackRedirect(`${sessionOrigin(options.publicUrl)}${CALLBACK_PATH}`)],
        }),
    keyset: options.clientKey === null ? undefined : [options.clientKey],
    stateStore: new AtprotoStateStore(options.db, sealer),
    sessionStore: new AtprotoSessionStore(options.db, sealer),
    handleResolver,
    fetch: options.fetch,
    plcDirectoryUrl: options.plcUrl.href,
    // Also forwarded to did:web resolution, whose own default is true (notes §2): always explicit.
    allowHttp: options.allowHttp,
    // One server process: an in-process lock serializes token refreshes per DID.
    requestLock: requestLocalLock,
  });
}

function loopbackRedirect(url: string): `http://127.0.0.1${string}` {
  if (!url.startsWith("http://127.0.0.1")) throw new TypeError(`not a loopback callback: ${url}`);
  return `http://127.0.0.1${url.slice("http://127.0.0.1".length)}`;
}

/** `_atproto.{handle}` TXT records, each joined from its chunks; null when there are none. */
async function resolveTxtRecords(hostname: string): Promise<string[] | null> {
  try {
    const records = await resolveTxt(hostname);
    return records.map((chunks) => chunks.join(""));
  } catch (error) {
    const code = error instanceof Error && "code" in error ? error.code : undefined;
    if (code === "ENOTFOUND" || code === "ENODATA") return null;
    throw error;
  }
}
