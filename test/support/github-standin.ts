/**
 * A local stand-in for GitHub's OAuth web flow, enough for our sign-in to run against it:
 * `GET /login/oauth/authorize` (signs in whoever the test chose and redirects back with a code,
 * or with error=access_denied), `POST /login/oauth/access_token` (client authentication, one-use
 * codes bound to their redirect_uri, GitHub's 200-with-error answers) and `GET /user`.
 * https://docs.github.com/en/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps
 */

export interface GitHubUser {
  id: number;
  login: string;
}

export interface GitHubStandin {
  /** http://127.0.0.1:{port}: both the OAuth and the API base URL. */
  url: string;
  clientId: string;
  clientSecret: string;
  /** The callback URL registered for the client; authorize refuses any other. */
  registerCallback(url: string): void;
  /** Who approves the next authorization requests. */
  signInAs(user: GitHubUser): void;
  /** The next authorization is refused by the person (error=access_denied). */
  denyNext(): void;
  /** The next token request answers this HTTP status with no JSON. */
  failTokenNext(status: number): void;
  /** The next code issued is already spent: its exchange gets GitHub's 200 bad_verification_code. */
  spoilNextCode(): void;
  /** The next /user request answers 401 Bad credentials. */
  failUserNext(): void;
  /** What the last authorization request asked for (query parameters). */
  lastAuthorization(): URLSearchParams | null;
  /** Token requests answered with an access token. */
  tokensIssued(): number;
  stop(): Promise<void>;
}

interface IssuedCode {
  user: GitHubUser;
  redirectUri: string;
  used: boolean;
}

function json(body: unknown, status = 200): Response {
  return Response.json(body, { status });
}

function randomValue(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(20))).toString("hex");
}

export function startGitHubStandin(
  options: { clientId?: string; clientSecret?: string } = {},
): GitHubStandin {
  const clientId = options.clientId ?? "Iv1.standin-client";
  const clientSecret = options.clientSecret ?? "standin-secret-0123456789";
  let callback: string | null = null;
  let user: GitHubUser = { id: 1, login: "octocat" };
  let denyNext = false;
  let failTokenStatus: number | null = null;
  let spoilNextCode = false;
  let failUserNext = false;
  let lastAuthorization: URLSearchParams | null = null;
  let issued = 0;
  const codes = new Map<string, IssuedCode>();
  const tokens = new Map<string, GitHubUser>();

  function authorize(url: URL): Response {
    const params = url.searchParams;
    lastAuthorization = new URLSearchParams(params);
    const redirectUri = params.get("redirect_uri") ?? callback;
    // GitHub shows its own error page for an unknown client or a foreign redirect_uri.
    if (params.get("client_id") !== clientId || redirectUri === null || redirectUri !== callback)
      return new Response("The redirect_uri is not associated with this application.", {
        status: 400,
      });
    const back = new URL(redirectUri);
    const state = params.get("state");
    if (denyNext) {
      denyNext = false;
      back.searchParams.set("error", "access_denied");
      back.searchParams.set("error_description", "The user has denied your application access.");
    } else {
      const code = randomValue();
      codes.set(code, { user, redirectUri, used: spoilNextCode });
      spoilNextCode = false;
      back.searchParams.set("code", code);
    }
    if (state !== null) back.searchParams.set("state", state);
    return new Response(null, { status: 302, headers: { location: back.href } });
  }

  /** Client id and secret from HTTP Basic (what arctic sends) or from the form. */
  function clientOf(request: Request, form: URLSearchParams): { id: string; secret: string } {
    const header = request.headers.get("authorization") ?? "";
    if (header.startsWith("Basic ")) {
      const decoded = Buffer.from(header.slice(6), "base64").toString();
      const colon = decoded.indexOf(":");
      return { id: decoded.slice(0, colon), secret: decoded.slice(colon + 1) };
    }
    return { id: form.get("client_id") ?? "", secret: form.get("client_secret") ?? "" };
  }

  async function accessToken(request: Request): Promise<Response> {
    if (failTokenStatus !== null) {
      const status = failTokenStatus;
      failTokenStatus = null;
      return new Response("upstream trouble", { status });
    }
    const form = new URLSearchParams(await request.text());
    const wantsJson = (request.headers.get("accept") ?? "").includes("application/json");
    // GitHub answers these refusals with 200 and an error body (its documented quirk).
    const answer = (body: Record<string, string>) =>
      wantsJson
        ? json(body)
        : new Response(new URLSearchParams(body).toString(), {
            headers: { "content-type": "application/x-www-form-urlencoded" },
          });
    const client = clientOf(request, form);
    if (client.id !== clientId || client.secret !== clientSecret)
      return answer({ error: "incorrect_client_credentials" });
    const code = codes.get(form.get("code") ?? "");
    if (code === undefined || code.used) return answer({ error: "bad_verification_code" });
    code.used = true;
    if (form.has("redirect_uri") && form.get("redirect_uri") !== code.redirectUri)
      return answer({ error: "redirect_uri_mismatch" });
    const token = `gho_${randomValue()}`;
    tokens.set(token, code.user);
    issued += 1;
    return answer({ access_token: token, token_type: "bearer", scope: "" });
  }

  function currentUser(request: Request): Response {
    const header = request.headers.get("authorization") ?? "";
    const token = header.replace(/^(Bearer|token) /i, "");
    const owner = tokens.get(token);
    if (owner === undefined || failUserNext) {
      failUserNext = false;
      return json({ message: "Bad credentials" }, 401);
    }
    // GitHub refuses API requests without a User-Agent.
    if (!request.headers.has("user-agent"))
      return json({ message: "Request forbidden by administrative rules." }, 403);
    return json({ id: owner.id, login: owner.login, type: "User", name: null });
  }

  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: (request) => {
      const url = new URL(request.url);
      if (request.method === "GET" && url.pathname === "/login/oauth/authorize")
        return authorize(url);
      if (request.method === "POST" && url.pathname === "/login/oauth/access_token")
        return accessToken(request);
      if (request.method === "GET" && url.pathname === "/user") return currentUser(request);
      return json({ message: "Not Found" }, 404);
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
    denyNext: () => {
      denyNext = true;
    },
    failTokenNext: (status) => {
      failTokenStatus = status;
    },
    spoilNextCode: () => {
      spoilNextCode = true;
    },
    failUserNext: () => {
      failUserNext = true;
    },
    lastAuthorization: () => lastAuthorization,
    tokensIssued: () => issued,
    stop: () => server.stop(true),
  };
}
