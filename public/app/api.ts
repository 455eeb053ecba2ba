/**
 * The management API (`/api`, src/manage/). Every answer is narrowed by hand before use; a
 * refusal is `{ error: { code, message } }`, handed to the view that shows it inline.
 */

export interface ApiError {
  /** HTTP status, or 0 when the server could not be reached. */
  status: number;
  code: string;
  message: string;
}

/** A refusal of what was sent (4xx), as opposed to a server or network failure: the field is to blame. */
export function blamesInput(error: ApiError): boolean {
  return error.status >= 400 && error.status < 500;
}

export type Result<T> = { ok: true; value: T } | { ok: false; error: ApiError };

type Parse<T> = (json: Record<string, unknown>) => T;

class ShapeError extends Error {}

function record(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new ShapeError(`${what} is not an object`);
  return Object.fromEntries(Object.entries(value));
}

function text(json: Record<string, unknown>, key: string): string {
  const value = json[key];
  if (typeof value !== "string") throw new ShapeError(`${key} is not a string`);
  return value;
}

function textOrNull(json: Record<string, unknown>, key: string): string | null {
  return json[key] === null || json[key] === undefined ? null : text(json, key);
}

function flag(json: Record<string, unknown>, key: string): boolean {
  const value = json[key];
  if (typeof value !== "boolean") throw new ShapeError(`${key} is not a boolean`);
  return value;
}

function list<T>(json: Record<string, unknown>, key: string, parse: Parse<T>): T[] {
  const value = json[key];
  if (!Array.isArray(value)) throw new ShapeError(`${key} is not a list`);
  return value.map((item) => parse(record(item, key)));
}

function oneOf<T extends string>(
  json: Record<string, unknown>,
  key: string,
  allowed: readonly T[],
): T {
  const value = text(json, key);
  const found = allowed.find((candidate) => candidate === value);
  if (found === undefined) throw new ShapeError(`${key} is not one of ${allowed.join(", ")}`);
  return found;
}

export const ROLES = ["viewer", "editor", "owner"] as const;
export type Role = (typeof ROLES)[number];
export const SCOPES = ["read", "write"] as const;
export type Scope = (typeof SCOPES)[number];

export interface Wiki {
  slug: string;
  name: string;
  public: boolean;
  tier: "free" | "premium" | "lapsed";
  role: Role;
  urls: { browser: string; mcp: string; git: string };
}

export interface SignInMethod {
  provider: string;
  name: string;
  linked: { label: string; linkedAt: string } | null;
}

export interface Me {
  user: {
    did: string;
    handle: string;
    username: string;
    displayName: string;
    avatarUrl: string | null;
  };
  owned: Wiki[];
  shared: Wiki[];
  /** Null while the server does not describe sign-in methods. */
  signInMethods: SignInMethod[] | null;
}

export interface Member {
  status: "active" | "pending";
  did: string | null;
  handle: string | null;
  displayName: string | null;
  role: Role;
}

export interface Token {
  id: string;
  label: string;
  scope: Scope;
  owner: string;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

/** An app a person allowed on a wiki through OAuth (Claude.ai, Claude Code, …). */
export interface Connection {
  id: string;
  clientName: string;
  /** Where the app's redirects go, e.g. claude.ai: how a person recognises it. */
  redirectHost: string;
  user: { username: string; displayName: string };
  /** wiki:read, wiki:write */
  scopes: string[];
  createdAt: string;
  lastUsedAt: string | null;
}

/** One of your own connections, with the wiki it is on. */
export interface OwnConnection extends Connection {
  wiki: { slug: string; name: string };
}

const parseWiki: Parse<Wiki> = (json) => {
  const urls = record(json.urls, "urls");
  return {
    slug: text(json, "slug"),
    name: text(json, "name"),
    public: flag(json, "public"),
    tier: oneOf(json, "tier", ["free", "premium", "lapsed"] as const),
    role: oneOf(json, "role", ROLES),
    urls: { browser: text(urls, "browser"), mcp: text(urls, "mcp"), git: text(urls, "git") },
  };
};

const parseSignInMethod: Parse<SignInMethod> = (json) => {
  const linked = json.linked === null ? null : record(json.linked, "linked");
  return {
    provider: text(json, "provider"),
    name: text(json, "name"),
    linked:
      linked === null
        ? null
        : { label: text(linked, "label"), linkedAt: text(linked, "linked_at") },
  };
};

const parseMe: Parse<Me> = (json) => {
  const user = record(json.user, "user");
  const wikis = record(json.wikis, "wikis");
  return {
    user: {
      did: text(user, "did"),
      handle: text(user, "handle"),
      username: text(user, "username"),
      displayName: text(user, "display_name"),
      avatarUrl: typeof user.avatar_url === "string" ? user.avatar_url : null,
    },
    owned: list(wikis, "owned", parseWiki),
    shared: list(wikis, "shared", parseWiki),
    signInMethods: Array.isArray(json.sign_in_methods)
      ? list(json, "sign_in_methods", parseSignInMethod)
      : null,
  };
};

const parseMember: Parse<Member> = (json) => ({
  status: oneOf(json, "status", ["active", "pending"] as const),
  did: textOrNull(json, "did"),
  handle: textOrNull(json, "handle"),
  displayName: textOrNull(json, "display_name"),
  role: oneOf(json, "role", ROLES),
});

const parseToken: Parse<Token> = (json) => ({
  id: text(json, "id"),
  label: text(json, "label"),
  scope: oneOf(json, "scope", SCOPES),
  owner: text(record(json.user, "user"), "username"),
  createdAt: text(json, "created_at"),
  lastUsedAt: textOrNull(json, "last_used_at"),
  revokedAt: textOrNull(json, "revoked_at"),
});

function texts(json: Record<string, unknown>, key: string): string[] {
  const value = json[key];
  if (!Array.isArray(value)) throw new ShapeError(`${key} is not a list`);
  const strings = value.filter((item): item is string => typeof item === "string");
  if (strings.length !== value.length) throw new ShapeError(`${key} is not a list of strings`);
  return strings;
}

const parseConnection: Parse<Connection> = (json) => {
  const client = record(json.client, "client");
  const user = record(json.user, "user");
  return {
    id: text(json, "id"),
    clientName: text(client, "name"),
    redirectHost: text(client, "redirect_host"),
    user: { username: text(user, "username"), displayName: text(user, "display_name") },
    scopes: texts(json, "scopes"),
    createdAt: text(json, "created_at"),
    lastUsedAt: textOrNull(json, "last_used_at"),
  };
};

const parseOwnConnection: Parse<OwnConnection> = (json) => {
  const wiki = record(json.wiki, "wiki");
  return {
    ...parseConnection(json),
    wiki: { slug: text(wiki, "slug"), name: text(wiki, "name") },
  };
};

const ignore: Parse<null> = () => null;

function errorOf(status: number, body: unknown): ApiError {
  try {
    const error = record(record(body, "body").error, "error");
    return { status, code: text(error, "code"), message: text(error, "message") };
  } catch {
    return { status, code: "unexpected", message: `The server answered ${status}. Try again.` };
  }
}

async function call<T>(
  method: string,
  path: string,
  body: unknown,
  parse: Parse<T>,
): Promise<Result<T>> {
  const init: RequestInit = { method, headers: { accept: "application/json" } };
  if (body !== undefined) {
    init.headers = { accept: "application/json", "content-type": "application/json" };
    init.body = JSON.stringify(body);
  }
  let response: Response;
  try {
    response = await fetch(path, init);
  } catch {
    const message = "Could not reach the server. Check your connection and try again.";
    return { ok: false, error: { status: 0, code: "network", message } };
  }
  let json: unknown = null;
  try {
    json = await response.json();
  } catch {
    // An empty or non-JSON answer: errorOf words it from the status.
  }
  if (!response.ok) return { ok: false, error: errorOf(response.status, json) };
  try {
    // An empty answer (a 204, say) reads as an empty object: only `ignore` accepts it.
    return { ok: true, value: parse(record(json ?? {}, "answer")) };
  } catch (error) {
    const detail = error instanceof ShapeError ? error.message : "unreadable";
    return {
      ok: false,
      error: {
        status: response.status,
        code: "bad_answer",
        message: `Unexpected answer (${detail}).`,
      },
    };
  }
}

const wikiPath = (slug: string) => `/api/wikis/${encodeURIComponent(slug)}`;

export const api = {
  me: () => call("GET", "/api/me", undefined, parseMe),
  createWiki: (input: { slug: string; name?: string; public: boolean }) =>
    call("POST", "/api/wikis", input, (json) => ({
      wiki: parseWiki(record(json.wiki, "wiki")),
      token: text(json, "token"),
    })),
  wiki: (slug: string) => call("GET", wikiPath(slug), undefined, parseWiki),
  updateWiki: (slug: string, change: { name?: string; public?: boolean }) =>
    call("PATCH", wikiPath(slug), change, parseWiki),
  deleteWiki: (slug: string, confirm: string) =>
    call("DELETE", wikiPath(slug), { confirm }, ignore),
  members: (slug: string) =>
    call("GET", `${wikiPath(slug)}/members`, undefined, (json) =>
      list(json, "members", parseMember),
    ),
  grant: (slug: string, member: string, role: Role) =>
    call("PUT", `${wikiPath(slug)}/members/${encodeURIComponent(member)}`, { role }, parseMember),
  removeMember: (slug: string, member: string) =>
    call("DELETE", `${wikiPath(slug)}/members/${encodeURIComponent(member)}`, undefined, ignore),
  tokens: (slug: string) =>
    call("GET", `${wikiPath(slug)}/tokens`, undefined, (json) => list(json, "tokens", parseToken)),
  createToken: (slug: string, input: { label: string; scope: Scope }) =>
    call("POST", `${wikiPath(slug)}/tokens`, input, (json) => ({
      token: parseToken(record(json.token, "token")),
      secret: text(json, "secret"),
    })),
  revokeToken: (slug: string, id: string) =>
    call("DELETE", `${wikiPath(slug)}/tokens/${encodeURIComponent(id)}`, undefined, parseToken),
  connections: (slug: string) =>
    call("GET", `${wikiPath(slug)}/connections`, undefined, (json) =>
      list(json, "connections", parseConnection),
    ),
  revokeConnection: (slug: string, id: string) =>
    call(
      "DELETE",
      `${wikiPath(slug)}/connections/${encodeURIComponent(id)}`,
      undefined,
      parseConnection,
    ),
  myConnections: () =>
    call("GET", "/api/me/connections", undefined, (json) =>
      list(json, "connections", parseOwnConnection),
    ),
  revokeMyConnection: (id: string) =>
    call("DELETE", `/api/me/connections/${encodeURIComponent(id)}`, undefined, parseOwnConnection),
  unlink: (provider: string) =>
    call("DELETE", `/api/me/links/${encodeURIComponent(provider)}`, undefined, ignore),
};
