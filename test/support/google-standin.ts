/**
 * A local stand-in for Google's OpenID Connect code flow with PKCE, enough for our sign-in:
 * `GET /o/oauth2/v2/auth` (requires an S256 code_challenge), `POST /token` (client
 * authentication, one-use codes bound to redirect_uri, and the RFC 7636 §4.6 verifier check)
 * and `GET /v1/userinfo` ({ sub, email }). One origin plays accounts.google.com,
 * oauth2.googleapis.com and openidconnect.googleapis.com (GOOGLE_OAUTH_BASE_URL / _API_).
 */
import { createHash } from "node:crypto";

export interface GoogleUser {
  sub: string;
  email: string;
}

export interface GoogleStandin {
  url: string;
  clientId: string;
  clientSecret: string;
  registerCallback(url: string): void;
  signInAs(user: GoogleUser): void;
  /** Token requests refused because the PKCE verifier did not match. */
  verifierRefusals(): number;
  stop(): Promise<void>;
}

interface IssuedCode {
  user: GoogleUser;
  redirectUri: string;
  challenge: string;
}

function randomValue(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(20))).toString("hex");
}

export function startGoogleStandin(): GoogleStandin {
  const clientId = "123-standin.apps.googleusercontent.com";
  const clientSecret = "GOCSPX-standin";
  let callback: string | null = null;
  let user: GoogleUser = { sub: "100000000000000000001", email: "someone@example.com" };
  let refusals = 0;
  const codes = new Map<string, IssuedCode>();
  const tokens = new Map<string, GoogleUser>();
  const error = (code: string, status = 400) => Response.json({ error: code }, { status });

  function authorize(params: URLSearchParams): Response {
    const redirectUri = params.get("redirect_uri");
    if (params.get("client_id") !== clientId || redirectUri === null || redirectUri !== callback)
      return new Response("Error 400: redirect_uri_mismatch", { status: 400 });
    const back = new URL(redirectUri);
    const challenge = params.get("code_challenge");
    if (params.get("code_challenge_method") !== "S256" || challenge === null) {
      back.searchParams.set("error", "invalid_request");
    } else if (!(params.get("scope") ?? "").split(" ").includes("openid")) {
      back.searchParams.set("error", "invalid_scope");
    } else {
      const code = `4/${randomValue()}`;
      codes.set(code, { user, redirectUri, challenge });
      back.searchParams.set("code", code);
    }
    back.searchParams.set("state", params.get("state") ?? "");
    return new Response(null, { status: 302, headers: { location: back.href } });
  }

  async function token(request: Request): Promise<Response> {
    const form = new URLSearchParams(await request.text());
    const basic = (request.headers.get("authorization") ?? "").replace(/^Basic /, "");
    const [id, secret] = Buffer.from(basic, "base64").toString().split(":");
    if (id !== clientId || secret !== clientSecret) return error("invalid_client", 401);
    const code = codes.get(form.get("code") ?? "");
    codes.delete(form.get("code") ?? "");
    if (code === undefined || form.get("redirect_uri") !== code.redirectUri)
      return error("invalid_grant");
    const verifier = form.get("code_verifier") ?? "";
    if (createHash("sha256").update(verifier).digest("base64url") !== code.challenge) {
      refusals += 1;
      return error("invalid_grant");
    }
    const accessToken = `ya29.${randomValue()}`;
    tokens.set(accessToken, code.user);
    return Response.json({ access_token: accessToken, token_type: "Bearer", expires_in: 3599 });
  }

  function userinfo(request: Request): Response {
    const owner = tokens.get((request.headers.get("authorization") ?? "").replace(/^Bearer /, ""));
    if (owner === undefined) return error("invalid_token", 401);
    return Response.json({ sub: owner.sub, email: owner.email, email_verified: true });
  }

  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: (request) => {
      const url = new URL(request.url);
      if (request.method === "GET" && url.pathname === "/o/oauth2/v2/auth")
        return authorize(url.searchParams);
      if (request.method === "POST" && url.pathname === "/token") return token(request);
      if (request.method === "GET" && url.pathname === "/v1/userinfo") return userinfo(request);
      return error("not_found", 404);
    },
  });

  return {
    url: `http://127.0.0.1:${server.port}`,
    clientId,
    clientSecret,
    registerCallback: (url) => {
      callback = url;
    },
    signInAs: (next) => {
      user = next;
    },
    verifierRefusals: () => refusals,
    stop: () => server.stop(true),
  };
}
