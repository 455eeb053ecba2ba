/**
 * OAuth 2.1 client-side helpers for tests against a wiki's own authorization server: RFC 8414
 * metadata, RFC 7591 registration, PKCE (RFC 7636), the consent page driven in Chromium or with
 * fetch, the token and revocation endpoints, a loopback redirect receiver (RFC 8252 §7.3), and an
 * in-memory `OAuthClientProvider` for the MCP SDK's own OAuth client.
 */
import type { OAuthClientProvider } from "@modelcontextprotocol/sdk/client/auth.js";
import type {
  OAuthClientInformationMixed,
  OAuthClientMetadata,
  OAuthTokens,
} from "@modelcontextprotocol/sdk/shared/auth.js";
import type { BrowserContext } from "playwright-core";
import { z } from "zod";
import type { TestServer } from "./server.ts";
import { type CookieJar, NAVIGATION_HEADERS } from "./session.ts";

export const AuthorizationServerMetadata = z.object({
  issuer: z.string(),
  authorization_endpoint: z.string(),
  token_endpoint: z.string(),
  registration_endpoint: z.string(),
  revocation_endpoint: z.string(),
  code_challenge_methods_supported: z.array(z.string()),
  token_endpoint_auth_methods_supported: z.array(z.string()),
  scopes_supported: z.array(z.string()),
});
export type AuthorizationServerMetadata = z.infer<typeof AuthorizationServerMetadata>;

/** RFC 8414 §3: the wiki is its own issuer, so the document sits at the origin's well-known path. */
export async function authorizationServerMetadata(
  t: TestServer,
  slug: string,
): Promise<AuthorizationServerMetadata> {
  const response = await fetch(`${t.wikiOrigin(slug)}/.well-known/oauth-authorization-server`);
  if (response.status !== 200) {
    throw new Error(`AS metadata of ${slug}: ${response.status} ${await response.text()}`);
  }
  return AuthorizationServerMetadata.parse(await response.json());
}

export const RegisteredClient = z.object({
  client_id: z.string(),
  client_secret: z.string().optional(),
  redirect_uris: z.array(z.string()),
  token_endpoint_auth_method: z.string().optional(),
  client_name: z.string().optional(),
});
export type RegisteredClient = z.infer<typeof RegisteredClient>;

/** POSTs an RFC 7591 registration; the status and the raw JSON (for refusals) come back too. */
export async function register(
  endpoint: string,
  metadata: Record<string, unknown>,
): Promise<{ status: number; body: unknown; client: RegisteredClient | null }> {
  const response = await fetch(endpoint, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify(metadata),
  });
  const body: unknown = await response.json();
  const parsed = RegisteredClient.safeParse(body);
  return {
    status: response.status,
    body,
    client: response.status === 201 && parsed.success ? parsed.data : null,
  };
}

function base64url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64url");
}

/** RFC 7636 §4.1–4.2: a 43-character verifier and its S256 challenge. */
export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = base64url(crypto.getRandomValues(new Uint8Array(32)));
  const challenge = base64url(new Bun.CryptoHasher("sha256").update(verifier).digest());
  return { verifier, challenge };
}

/** An authorization request URL (RFC 6749 §4.1.1 + PKCE); `resource` only when given. */
export function authorizationUrl(
  endpoint: string,
  params: {
    clientId: string;
    redirectUri: string;
    challenge: string;
    state: string;
    scope?: string;
    resource?: string;
  },
): string {
  const url = new URL(endpoint);
  url.searchParams.set("response_type", "code");
  url.searchParams.set("client_id", params.clientId);
  url.searchParams.set("redirect_uri", params.redirectUri);
  url.searchParams.set("code_challenge", params.challenge);
  url.searchParams.set("code_challenge_method", "S256");
  url.searchParams.set("state", params.state);
  if (params.scope !== undefined) url.searchParams.set("scope", params.scope);
  if (params.resource !== undefined) url.searchParams.set("resource", params.resource);
  return url.href;
}

export const TokenResponse = z.object({
  access_token: z.string(),
  token_type: z.string(),
  expires_in: z.number().optional(),
  refresh_token: z.string().optional(),
  scope: z.string().optional(),
});
export type TokenResponse = z.infer<typeof TokenResponse>;

export interface TokenAnswer {
  status: number;
  headers: Headers;
  /** The raw JSON (RFC 6749 §5.2 error bodies included). */
  body: unknown;
  /** The parsed success body, or null. */
  tokens: TokenResponse | null;
}

/** POSTs a form to the token endpoint, optionally with HTTP Basic client authentication. */
export async function tokenRequest(
  endpoint: string,
  params: Record<string, string>,
  basic?: { clientId: string; secret: string },
): Promise<TokenAnswer> {
  const headers: Record<string, string> = {
    "content-type": "application/x-www-form-urlencoded",
    accept: "application/json",
  };
  if (basic !== undefined) {
    // RFC 6749 §2.3.1: both parts form-urlencoded before base64.
    const pair = `${encodeURIComponent(basic.clientId)}:${encodeURIComponent(basic.secret)}`;
    headers.authorization = `Basic ${Buffer.from(pair).toString("base64")}`;
  }
  const response = await fetch(endpoint, {
    method: "POST",
    headers,
    body: new URLSearchParams(params),
  });
  const text = await response.text();
  const body: unknown = text === "" ? null : JSON.parse(text);
  const parsed = TokenResponse.safeParse(body);
  return {
    status: response.status,
    headers: response.headers,
    body,
    tokens: response.status === 200 && parsed.success ? parsed.data : null,
  };
}

/** RFC 7009 revocation with the client's credentials in the body (public: client_id only). */
export async function revoke(
  endpoint: string,
  token: string,
  hint: "access_token" | "refresh_token",
  client: { clientId: string; secret?: string },
): Promise<number> {
  const params: Record<string, string> = {
    token,
    token_type_hint: hint,
    client_id: client.clientId,
  };
  if (client.secret !== undefined) params.client_secret = client.secret;
  const response = await fetch(endpoint, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(params),
  });
  await response.arrayBuffer();
  return response.status;
}

/** What a redirect back to the client carried (RFC 6749 §4.1.2, RFC 9207 `iss`). */
export interface AuthorizationResponse {
  url: URL;
  code: string | null;
  state: string | null;
  iss: string | null;
  error: string | null;
}

export function authorizationResponse(url: URL): AuthorizationResponse {
  const get = (name: string) => url.searchParams.get(name);
  return { url, code: get("code"), state: get("state"), iss: get("iss"), error: get("error") };
}

/** A native app's redirect receiver on 127.0.0.1 (RFC 8252 §7.3): records each request's URL. */
export interface LoopbackReceiver {
  port: number;
  /** `http://127.0.0.1:{port}{path}` */
  url: string;
  /** The next request the browser made to the receiver (waits for it). */
  next(): Promise<URL>;
  close(): void;
}

export function startLoopbackReceiver(path = "/callback"): LoopbackReceiver {
  const received: URL[] = [];
  const waiting: ((url: URL) => void)[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(request) {
      const url = new URL(request.url);
      if (url.pathname !== path) return new Response("not here", { status: 404 });
      const waiter = waiting.shift();
      if (waiter === undefined) received.push(url);
      else waiter(url);
      return new Response("<!doctype html><title>Done</title><p>You may close this window.</p>", {
        headers: { "content-type": "text/html; charset=utf-8" },
      });
    },
  });
  const port = server.port ?? 0;
  return {
    port,
    url: `http://127.0.0.1:${port}${path}`,
    next() {
      const first = received.shift();
      if (first !== undefined) return Promise.resolve(first);
      return new Promise((resolve) => waiting.push(resolve));
    },
    close: () => void server.stop(true),
  };
}

/** A port nothing listens on right now, for a redirect URI that is never served. */
export function unusedPort(): number {
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
  const port = server.port ?? 0;
  server.stop(true);
  return port;
}

export type Decision = "Allow" | "Deny";

export interface ConsentResult {
  /** The consent page's `<h1>`. */
  heading: string;
  /** The consent page's visible text. */
  text: string;
  /** Where the decision sent the browser: the client's redirect URI with the response. */
  redirectedTo: URL;
}

/**
 * Opens an authorization URL in a (signed-in) Chromium context, lets the server take the browser
 * through sign-in to the consent page, clicks the decision button and returns where the browser
 * was sent. A redirect target off this machine (e.g. https://claude.ai) is intercepted and never
 * reached: the request is answered locally and only its URL kept.
 */
export async function consentInBrowser(
  context: BrowserContext,
  url: string,
  options: { decision: Decision; redirectPrefix: string },
): Promise<ConsentResult> {
  const page = await context.newPage();
  try {
    const target = new URL(options.redirectPrefix);
    if (target.protocol === "https:") {
      await page.route(`${target.origin}/**`, (route) =>
        route.fulfill({ status: 200, contentType: "text/html", body: "<p>intercepted</p>" }),
      );
    }
    await page.goto(url);
    const heading = (await page.locator("h1").first().textContent()) ?? "";
    const text = (await page.locator("body").textContent()) ?? "";
    const button = page.getByRole("button", { name: options.decision, exact: true });
    // The form's POST: its answer is the redirect to the client (or a refusal page).
    const decided = page.waitForResponse(
      (response) =>
        response.request().method() === "POST" && response.request().isNavigationRequest(),
    );
    await button.click();
    const answer = await decided;
    try {
      await page.waitForURL((current) => current.href.startsWith(options.redirectPrefix), {
        timeout: 10_000,
      });
    } catch {
      const shown = (await page.locator("body").textContent())?.trim() ?? "";
      const origin = await answer.request().headerValue("origin");
      throw new Error(
        `after ${options.decision} the browser stayed at ${page.url()}: the POST (Origin: ${origin}) answered ${answer.status()}: ${shown.slice(0, 500)}`,
      );
    }
    return { heading: heading.trim(), text, redirectedTo: new URL(page.url()) };
  } finally {
    await page.close();
  }
}

function decodeEntities(value: string): string {
  return value
    .replace(/&quot;/g, '"')
    .replace(/&#39;|&#x27;/g, "'")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");
}

function attribute(tag: string, name: string): string | null {
  const match = new RegExp(`\\s${name}\\s*=\\s*("([^"]*)"|'([^']*)')`, "i").exec(tag);
  if (match === null) return null;
  return decodeEntities(match[2] ?? match[3] ?? "");
}

/** The consent form as a browser would submit it: action, hidden fields, the two buttons. */
export interface ConsentForm {
  action: string;
  fields: Record<string, string>;
  buttons: Record<Decision, { name: string | null; value: string | null }>;
  heading: string;
  html: string;
}

export function parseConsentForm(html: string, pageUrl: string): ConsentForm {
  const form = /<form\b[^>]*>/i.exec(html)?.[0];
  if (form === undefined) throw new Error(`no form on the consent page:\n${html.slice(0, 2000)}`);
  const action = new URL(attribute(form, "action") ?? pageUrl, pageUrl).href;
  const fields: Record<string, string> = {};
  for (const input of html.match(/<input\b[^>]*>/gi) ?? []) {
    const name = attribute(input, "name");
    if (name !== null && attribute(input, "type")?.toLowerCase() === "hidden") {
      fields[name] = attribute(input, "value") ?? "";
    }
  }
  const buttonOf = (label: Decision) => {
    const found = new RegExp(`<button\\b([^>]*)>\\s*${label}\\s*</button>`, "i").exec(html);
    if (found === null) throw new Error(`no "${label}" button on the consent page`);
    const tag = `<button${found[1] ?? ""}>`;
    return { name: attribute(tag, "name"), value: attribute(tag, "value") };
  };
  const heading = /<h1\b[^>]*>([\s\S]*?)<\/h1>/i.exec(html)?.[1] ?? "";
  return {
    action,
    fields,
    buttons: { Allow: buttonOf("Allow"), Deny: buttonOf("Deny") },
    heading: decodeEntities(heading.replace(/<[^>]*>/g, "")).trim(),
    html,
  };
}

/**
 * Loads the consent page with fetch and the wiki host's session cookie (test/support/session.ts
 * wikiSession), following same-host redirects (e.g. to `/oauth/authorize?request=…`).
 */
export async function fetchConsentPage(
  url: string,
  jar: CookieJar,
): Promise<{ status: number; url: string; html: string; location: string | null }> {
  let current = url;
  for (let hop = 0; hop < 4; hop++) {
    const response = await fetch(current, {
      headers: { ...NAVIGATION_HEADERS, cookie: jar.header() },
      redirect: "manual",
    });
    jar.store(response);
    const location = response.headers.get("location");
    const next = location === null ? null : new URL(location, current);
    if (
      (response.status === 302 || response.status === 303) &&
      next !== null &&
      next.host === new URL(current).host &&
      next.pathname.endsWith("/authorize")
    ) {
      await response.arrayBuffer();
      current = next.href;
      continue;
    }
    return { status: response.status, url: current, html: await response.text(), location };
  }
  throw new Error("the authorization endpoint kept redirecting");
}

/** Submits the consent form as the browser would (same origin); returns the raw answer. */
export async function submitConsent(
  form: ConsentForm,
  jar: CookieJar,
  decision: Decision,
  overrides: { fields?: Record<string, string>; origin?: string | null } = {},
): Promise<Response> {
  const body = new URLSearchParams({ ...form.fields, ...overrides.fields });
  const button = form.buttons[decision];
  if (button.name !== null) body.set(button.name, button.value ?? "");
  const origin = overrides.origin === undefined ? new URL(form.action).origin : overrides.origin;
  const headers: Record<string, string> = {
    ...NAVIGATION_HEADERS,
    "content-type": "application/x-www-form-urlencoded",
    cookie: jar.header(),
    "sec-fetch-site": origin === new URL(form.action).origin ? "same-origin" : "cross-site",
  };
  if (origin !== null) headers.origin = origin;
  return fetch(form.action, { method: "POST", headers, body, redirect: "manual" });
}

/** The whole consent step with fetch: load the page, press a button, read the Location. */
export async function consentWithFetch(
  url: string,
  jar: CookieJar,
  decision: Decision,
): Promise<{ form: ConsentForm; redirectedTo: URL }> {
  const page = await fetchConsentPage(url, jar);
  if (page.status !== 200) {
    throw new Error(`consent page answered ${page.status} (${page.location}): ${page.html}`);
  }
  const form = parseConsentForm(page.html, page.url);
  const answer = await submitConsent(form, jar, decision);
  const location = answer.headers.get("location");
  await answer.arrayBuffer();
  if (location === null) throw new Error(`the consent POST answered ${answer.status}, no Location`);
  return { form, redirectedTo: new URL(location, form.action) };
}

/** The row id of a `wboa_`/`wbor_` token, for tests that age or inspect it in the database. */
export function tokenRowId(token: string): string {
  const match = /^wbo[a-z]_([a-z0-9]+)\./.exec(token);
  if (match?.[1] === undefined) throw new Error(`not an OAuth token: ${token.slice(0, 8)}…`);
  return match[1];
}

/**
 * An `OAuthClientProvider` (MCP SDK client/auth.js) that keeps everything in memory and, instead
 * of sending a user agent anywhere, records each authorization URL for the test to open.
 */
export class MemoryOAuthProvider implements OAuthClientProvider {
  readonly authorizationUrls: URL[] = [];
  /** Every token set saved, in order (the first from the code, then one per refresh). */
  readonly savedTokens: OAuthTokens[] = [];
  private client: OAuthClientInformationMixed | undefined;
  private current: OAuthTokens | undefined;
  private verifier: string | undefined;

  constructor(
    private readonly options: {
      redirectUrl: string;
      clientMetadata: OAuthClientMetadata;
      state: string;
    },
  ) {}

  get redirectUrl(): string {
    return this.options.redirectUrl;
  }

  get clientMetadata(): OAuthClientMetadata {
    return this.options.clientMetadata;
  }

  state(): string {
    return this.options.state;
  }

  clientInformation(): OAuthClientInformationMixed | undefined {
    return this.client;
  }

  saveClientInformation(information: OAuthClientInformationMixed): void {
    this.client = information;
  }

  tokens(): OAuthTokens | undefined {
    return this.current;
  }

  saveTokens(tokens: OAuthTokens): void {
    this.current = tokens;
    this.savedTokens.push(tokens);
  }

  redirectToAuthorization(url: URL): void {
    this.authorizationUrls.push(url);
  }

  saveCodeVerifier(verifier: string): void {
    this.verifier = verifier;
  }

  codeVerifier(): string {
    if (this.verifier === undefined) throw new Error("no code verifier saved");
    return this.verifier;
  }

  invalidateCredentials(scope: "all" | "client" | "tokens" | "verifier" | "discovery"): void {
    if (scope === "all" || scope === "client") this.client = undefined;
    if (scope === "all" || scope === "tokens") this.current = undefined;
    if (scope === "all" || scope === "verifier") this.verifier = undefined;
  }
}
