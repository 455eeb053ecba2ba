import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { migrate } from "../../db/migrate.ts";
import { createLogger } from "../../lib/log.ts";
import { WikiStore } from "../../wikis/wiki-store.ts";
import { SessionService } from "../session/session.ts";
import { SessionStore } from "../session/session-store.ts";
import { UserStore } from "../user-store.ts";
import {
  type AtprotoLoginDeps,
  checkUsername,
  finishLogin,
  normalizeHandleInput,
  startLogin,
  suggestUsername,
} from "./login-flow.ts";
import { createAtprotoOAuthClient } from "./oauth-client.ts";
import { AtprotoStateStore, Sealer } from "./oauth-stores.ts";
import { PendingSignupStore } from "./pending-signup-store.ts";

const KEY = Buffer.alloc(32, 7).toString("base64url");

describe("handle input", () => {
  test("a leading @, spaces, case and hidden format characters are removed", () => {
    expect(normalizeHandleInput("  @Alice.Bsky.Social ")).toBe("alice.bsky.social");
    expect(normalizeHandleInput("alice\u200b.bsky.social\u202e")).toBe("alice.bsky.social");
  });
});

describe("usernames", () => {
  test("pre-filled from the handle's first label when that is a valid username", () => {
    expect(suggestUsername("alice.bsky.social")).toBe("alice");
    expect(suggestUsername("Jo_Ann.example.com")).toBe("jo-ann");
    expect(suggestUsername("al.example.com")).toBe("");
    expect(suggestUsername("admin.example.com")).toBe("");
    expect(suggestUsername("handle.invalid")).toBe("");
  });

  test("checked like slugs, with reasons that say username", () => {
    expect(checkUsername("alice")).toBeNull();
    expect(checkUsername("ab")).toContain('The username "ab" must be 3–63 characters');
    expect(checkUsername("api")).toContain("reserved");
    expect(checkUsername("a--b")).toContain("two hyphens");
    expect(checkUsername("Alice")).toContain("lowercase");
  });
});

describe("sealed stores", () => {
  test("a sealed value opens only with its key and its context", () => {
    const sealer = new Sealer(KEY);
    const sealed = sealer.seal({ secret: "s3cret" }, "state:a");
    expect(Buffer.from(sealed).toString("latin1")).not.toContain("s3cret");
    expect(sealer.open(sealed, "state:a")).toEqual({ secret: "s3cret" });
    expect(sealer.open(sealed, "state:b")).toBeNull();
    expect(
      new Sealer(Buffer.alloc(32, 8).toString("base64url")).open(sealed, "state:a"),
    ).toBeNull();
    const tampered = new Uint8Array(sealed);
    tampered[20] = (tampered[20] ?? 0) ^ 1;
    expect(sealer.open(tampered, "state:a")).toBeNull();
  });

  test("a state row moved to another key reads as absent, and deleted states are gone", async () => {
    const db = new Database(":memory:", { strict: true });
    migrate(db);
    const store = new AtprotoStateStore(db, new Sealer(KEY));
    const value = {
      iss: "https://pds.example.com",
      dpopJwk: { kty: "EC" as const, crv: "P-256" as const, x: "x", y: "y", d: "d" },
      authMethod: { method: "none" as const },
      verifier: "v",
    };
    await store.set("one", value);
    expect(await store.get("one")).toEqual(value);
    db.query("UPDATE atproto_oauth_states SET key = 'two' WHERE key = 'one'").run();
    expect(await store.get("two")).toBeUndefined();
    await store.del("two");
    expect(db.query("SELECT COUNT(*) AS n FROM atproto_oauth_states").get()).toEqual({ n: 0 });
  });
});

describe("pending signups", () => {
  test("found only with the exact token, and gone once deleted", () => {
    const db = new Database(":memory:", { strict: true });
    migrate(db);
    const store = new PendingSignupStore(db);
    const token = store.create({
      did: "did:plc:abcdefghijklmnopqrstuvwx",
      handle: "alice.test",
      displayName: "Alice",
      avatarUrl: "https://pds.example/xrpc/com.atproto.sync.getBlob?did=x&cid=y",
      returnTo: null,
    });
    const found = store.find(token);
    expect(found?.handle).toBe("alice.test");
    expect(found?.avatarUrl).toBe("https://pds.example/xrpc/com.atproto.sync.getBlob?did=x&cid=y");
    const otherLast = token.endsWith("A") ? "B" : "A";
    expect(store.find(`${token.slice(0, -1)}${otherLast}`)).toBeNull();
    expect(store.find("signup_x.y")).toBeNull();
    expect(store.find(null)).toBeNull();
    store.delete(found?.id ?? "");
    expect(store.find(token)).toBeNull();
  });
});

describe("a PDS that does not answer", () => {
  test("ends on the sign-in form saying the server did not answer, not on an error", async () => {
    const did = "did:plc:abcdefghijklmnopqrstuvwx";
    // The network edge: the handle and the DID resolve, the PDS refuses every connection.
    const respond = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
      const url = new URL(new Request(input, init).url);
      if (url.pathname === "/xrpc/com.atproto.identity.resolveHandle")
        return Response.json({ did });
      if (url.origin === "https://plc.example.com") {
        return Response.json({
          "@context": ["https://www.w3.org/ns/did/v1"],
          id: did,
          alsoKnownAs: ["at://down.example.com"],
          verificationMethod: [],
          service: [
            {
              id: "#atproto_pds",
              type: "AtprotoPersonalDataServer",
              serviceEndpoint: "https://pds.down.example.com",
            },
          ],
        });
      }
      throw new TypeError("fetch failed: connection refused");
    };
    const network = Object.assign(respond, { preconnect: fetch.preconnect });
    const logged: string[] = [];
    const { deps } = loginDeps(network, {
      logger: { ...createLogger("error", () => {}), warn: (message) => logged.push(message) },
    });
    const response = await startLogin(deps, "down.example.com", null);
    expect(response.status).toBe(502);
    expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8");
    const html = await response.text();
    expect(html).toContain("did not answer as expected. They may be down");
    expect(html).not.toContain("connection refused");
    expect(logged).toEqual(["sign-in could not start"]);
  });
});

describe("a DID whose PDS names another authorization server", () => {
  test("the token is revoked and the callback refused (issuer binding, notes §2)", async () => {
    const did = "did:plc:bcdefghijklmnopqrstuvwxy";
    // Stand-ins for Bluesky's parties, speaking their protocols: a PLC directory, two PDSs each
    // naming its own authorization server, and those servers. The DID document first names
    // PDS one; by the time the token arrives it names PDS two (a hostile or moved identity).
    let pdsOfDid = "https://pds-one.example.com";
    const seen: string[] = [];
    const asMetadata = (issuer: string) => ({
      issuer,
      authorization_endpoint: `${issuer}/oauth/authorize`,
      token_endpoint: `${issuer}/oauth/token`,
      pushed_authorization_request_endpoint: `${issuer}/oauth/par`,
      revocation_endpoint: `${issuer}/oauth/revoke`,
      require_pushed_authorization_requests: true,
      response_types_supported: ["code"],
      grant_types_supported: ["authorization_code", "refresh_token"],
      code_challenge_methods_supported: ["S256"],
      token_endpoint_auth_methods_supported: ["none", "private_key_jwt"],
      token_endpoint_auth_signing_alg_values_supported: ["ES256"],
      dpop_signing_alg_values_supported: ["ES256"],
      scopes_supported: ["atproto"],
      authorization_response_iss_parameter_supported: true,
      client_id_metadata_document_supported: true,
    });
    const respond = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
      const request = new Request(input, init);
      const url = new URL(request.url);
      seen.push(`${request.method} ${url.origin}${url.pathname}`);
      if (url.pathname === "/xrpc/com.atproto.identity.resolveHandle")
        return Response.json({ did });
      if (url.origin === "https://plc.example.com") {
        return Response.json({
          "@context": ["https://www.w3.org/ns/did/v1"],
          id: did,
          alsoKnownAs: ["at://moved.example.com"],
          verificationMethod: [],
          service: [
            { id: "#atproto_pds", type: "AtprotoPersonalDataServer", serviceEndpoint: pdsOfDid },
          ],
        });
      }
      if (url.pathname === "/.well-known/oauth-protected-resource") {
        const as = url.origin.replace("pds-", "as-");
        return Response.json({ resource: url.origin, authorization_servers: [as] });
      }
      if (url.pathname === "/.well-known/oauth-authorization-server")
        return Response.json(asMetadata(url.origin));
      if (url.pathname === "/oauth/par")
        return Response.json(
          { request_uri: "urn:ietf:params:oauth:request_uri:x", expires_in: 60 },
          { status: 201 },
        );
      if (url.pathname === "/oauth/token") {
        pdsOfDid = "https://pds-two.example.com";
        return Response.json({
          access_token: "at",
          token_type: "DPoP",
          expires_in: 60,
          scope: "atproto",
          sub: did,
        });
      }
      if (url.pathname === "/oauth/revoke") return new Response(null, { status: 200 });
      return new Response("not found", { status: 404 });
    };
    const network = Object.assign(respond, { preconnect: fetch.preconnect });
    const { deps, db } = loginDeps(network, {
      signupCookie: { set: () => "signup", clear: () => "cleared" },
    });
    const started = await startLogin(deps, "moved.example.com", null);
    expect(started.status).toBe(302);
    const state = db.query<{ key: string }, []>("SELECT key FROM atproto_oauth_states").get();
    if (state === null) throw new Error("no state stored");
    const response = await finishLogin(
      deps,
      new URLSearchParams({ state: state.key, iss: "https://as-one.example.com", code: "c" }),
    );
    expect(response.status).toBe(400);
    expect(await response.text()).toContain("The sign-in answer came from the wrong server");
    expect(seen).toContain("POST https://as-one.example.com/oauth/token");
    expect(seen).toContain("POST https://as-one.example.com/oauth/revoke");
    expect(db.query("SELECT COUNT(*) AS n FROM users").get()).toEqual({ n: 0 });
    expect(db.query("SELECT COUNT(*) AS n FROM pending_signups").get()).toEqual({ n: 0 });
  });
});

/** Login dependencies on an in-memory database, with `network` as every outbound fetch. */
function loginDeps(
  network: AtprotoLoginDeps["fetch"],
  overrides: Partial<AtprotoLoginDeps> = {},
): { deps: AtprotoLoginDeps; db: Database } {
  const db = new Database(":memory:", { strict: true });
  migrate(db);
  const publicUrl = new URL("http://localhost:8080");
  const deps: AtprotoLoginDeps = {
    client: createAtprotoOAuthClient({
      publicUrl,
      db,
      sealingKey: KEY,
      fetch: network,
      plcUrl: new URL("https://plc.example.com"),
      handleResolverUrl: new URL("https://resolver.example.com"),
      allowHttp: false,
      clientKey: null,
    }),
    unavailableReason: null,
    users: new UserStore(db),
    pendingSignups: new PendingSignupStore(db),
    handoff: {
      sessions: new SessionService(new SessionStore(db)),
      wikis: new WikiStore(db),
      publicUrl,
    },
    fetch: network,
    logger: createLogger("error", () => {}),
    claimPendingGrants: () => {},
    signupCookie: { set: () => "", clear: () => "" },
    ...overrides,
  };
  return { deps, db };
}
