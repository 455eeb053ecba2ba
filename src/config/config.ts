/**
 * The one place that reads the environment. `readConfig(env)` applies defaults, checks every
 * value once and returns a frozen `Config`; a bad value throws a `ConfigError` that names the
 * variable and what it accepts, so start-up stops with a message an operator can act on.
 */
import { resolve } from "node:path";

export class ConfigError extends Error {
  override name = "ConfigError";
}

export type LogLevel = "debug" | "info" | "warn" | "error";
export type WikiLauncher = "zygote" | "gunicorn";

export interface Config {
  /** TCP port to listen on; 0 picks a free port (tests). */
  readonly port: number;
  /** Public origin of the apex, e.g. `https://wikibot.example` (no path, no trailing slash). */
  readonly publicUrl: URL;
  /** True when PUBLIC_URL was not set, so a port-0 server may rewrite the apex port. */
  readonly publicUrlIsDefault: boolean;
  readonly dataDir: string;
  readonly modelDir: string;
  /** The Otterwiki virtualenv (VENV_DIR); default `<project>/.venv`, the one `bun run setup` fills. */
  readonly venvDir: string;
  /** /health and the log warn once DATA_DIR's filesystem is at least this full (percent used). */
  readonly diskWarnPercent: number;
  /**
   * How wiki processes start (WIKI_LAUNCHER): `zygote` forks each from one pre-loaded Python
   * process (fast, ~30 MiB each); `gunicorn` runs a gunicorn per wiki, as before (~75 MiB each).
   */
  readonly wikiLauncher: WikiLauncher;
  readonly wikiProcessesMax: number;
  readonly wikiIdleSeconds: number;
  readonly logLevel: LogLevel;
  /** Largest accepted request body outside git pushes. */
  readonly maxBodyBytes: number;
  /** Largest accepted git pack (receive.maxInputSize). */
  readonly maxPackBytes: number;
  /** Sign in with Bluesky: where did:plc documents are read (ATPROTO_PLC_URL). */
  readonly atprotoPlcUrl: URL;
  /**
   * An XRPC service answering com.atproto.identity.resolveHandle (ATPROTO_HANDLE_RESOLVER), for
   * tests and `bun run dev` against a local PDS; null resolves handles by DNS and https.
   */
  readonly atprotoHandleResolver: URL | null;
  /** ATPROTO_ALLOW_LOOPBACK_HTTP=true: the login may fetch http and loopback (tests, dev only). */
  readonly atprotoAllowLoopbackHttp: boolean;
  /** Each plan's quotas (PLAN_FREE_*, PLAN_PREMIUM_*); src/wikis/plan-policy.ts applies them. */
  readonly plans: PlanLimits;
  /** Sign in with GitHub, to link to an account; null unless both client id and secret are set. */
  readonly githubLogin: ProviderLoginConfig | null;
  /** Sign in with Google, likewise. */
  readonly googleLogin: ProviderLoginConfig | null;
}

/** One OAuth provider's registered client and its endpoints (overridable for a test stand-in). */
export interface ProviderLoginConfig {
  readonly clientId: string;
  /** NOTE: a secret; never log it. */
  readonly clientSecret: string;
  readonly authorizationEndpoint: URL;
  readonly tokenEndpoint: URL;
  /** Where the signed-in provider user is read: GitHub's /user, Google's OIDC userinfo. */
  readonly userEndpoint: URL;
}

/** What one plan allows, in numbers. A lapsed wiki writes nothing, so none apply to it. */
export interface PlanQuotas {
  /** Wikis one person may own (be the creator of) while creating a wiki on this plan. */
  readonly wikisPerOwner: number;
  /** Markdown pages in one wiki. */
  readonly pagesPerWiki: number;
  /** The sum of the sizes of one wiki's Markdown pages, in bytes (attachments not counted). */
  readonly bytesPerWiki: number;
}

export interface PlanLimits {
  readonly free: PlanQuotas;
  readonly premium: PlanQuotas;
}

export const DEFAULT_PLAN_LIMITS: PlanLimits = Object.freeze({
  free: Object.freeze({ wikisPerOwner: 10, pagesPerWiki: 1_000, bytesPerWiki: 50 * 1024 * 1024 }),
  premium: Object.freeze({
    wikisPerOwner: 100,
    pagesPerWiki: 20_000,
    bytesPerWiki: 1024 * 1024 * 1024,
  }),
});

const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];
const WIKI_LAUNCHERS: readonly WikiLauncher[] = ["zygote", "gunicorn"];
/**
 * Live wikis at once by default: what a 2 GB VPS holds next to the server, the search worker
 * and the OS with room to spare (~800 MiB for Otterwiki): the zygote (~70 MiB) plus ~30 MiB
 * per wiki, or ~75–100 MiB per gunicorn (bench/REPORT.md).
 */
const DEFAULT_WIKI_PROCESSES_MAX: Record<WikiLauncher, number> = { zygote: 24, gunicorn: 8 };
const DEFAULT_VENV_DIR = resolve(import.meta.dir, "..", "..", ".venv");
const MIB = 1024 * 1024;

type Env = Record<string, string | undefined>;

function readInteger(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  if (!/^\d+$/.test(raw.trim())) {
    throw new ConfigError(`${name}="${raw}" is not valid: expected a whole number ${min}–${max}`);
  }
  const value = Number(raw.trim());
  if (value < min || value > max) {
    throw new ConfigError(`${name}=${value} is out of range: expected ${min}–${max}`);
  }
  return value;
}

function readPublicUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(
      `PUBLIC_URL="${raw}" is not a URL: expected an origin such as https://wikibot.example or http://localhost:8080`,
    );
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ConfigError(`PUBLIC_URL="${raw}" must start with http:// or https://`);
  }
  if ((url.pathname !== "/" && url.pathname !== "") || url.search || url.hash || url.username) {
    throw new ConfigError(
      `PUBLIC_URL="${raw}" must be a bare origin (no path, query, fragment or credentials)`,
    );
  }
  if (/^\d+\.\d+\.\d+\.\d+$/.test(url.hostname) && url.hostname !== "127.0.0.1") {
    throw new ConfigError(
      `PUBLIC_URL="${raw}" uses an IP address; wikis live on subdomains, so it needs a host name`,
    );
  }
  return url;
}

/** Builds the configuration from an environment map (usually `Bun.env`). */
export function readConfig(env: Env): Config {
  const rawUrl = env.PUBLIC_URL;
  const publicUrl = readPublicUrl(rawUrl && rawUrl !== "" ? rawUrl : "http://localhost:8080");
  const logLevel = readChoice(env, "LOG_LEVEL", LOG_LEVELS, "info");
  const dataDir = env.DATA_DIR && env.DATA_DIR !== "" ? env.DATA_DIR : "./data";
  const maxPackBytes = readInteger(env, "GIT_MAX_PACK_BYTES", 100 * MIB, 1024, 10 * 1024 * MIB);
  const allowLoopbackHttp = readBoolean(env, "ATPROTO_ALLOW_LOOPBACK_HTTP");
  const wikiLauncher = readChoice(env, "WIKI_LAUNCHER", WIKI_LAUNCHERS, "zygote");
  return Object.freeze({
    port: readInteger(env, "PORT", 8080, 0, 65535),
    publicUrl,
    publicUrlIsDefault: !rawUrl,
    dataDir,
    modelDir: env.MODEL_DIR && env.MODEL_DIR !== "" ? env.MODEL_DIR : `${dataDir}/models`,
    venvDir: env.VENV_DIR && env.VENV_DIR !== "" ? env.VENV_DIR : DEFAULT_VENV_DIR,
    diskWarnPercent: readInteger(env, "DISK_WARN_PERCENT", 80, 1, 100),
    wikiLauncher,
    wikiProcessesMax: readInteger(
      env,
      "WIKI_PROCESSES_MAX",
      DEFAULT_WIKI_PROCESSES_MAX[wikiLauncher],
      1,
      10_000,
    ),
    wikiIdleSeconds: readInteger(env, "WIKI_IDLE_SECONDS", 600, 1, 7 * 24 * 3600),
    logLevel,
    maxBodyBytes: readInteger(env, "MAX_BODY_BYTES", 4 * MIB, 1024, 1024 * MIB),
    maxPackBytes,
    plans: readPlanLimits(env),
    atprotoPlcUrl: readServiceUrl(env, "ATPROTO_PLC_URL") ?? new URL("https://plc.directory"),
    atprotoHandleResolver: readServiceUrl(env, "ATPROTO_HANDLE_RESOLVER"),
    atprotoAllowLoopbackHttp: allowLoopbackHttp,
    githubLogin: readProviderLogin(env, "GITHUB", allowLoopbackHttp, (oauthBase, apiBase) => ({
      authorizationEndpoint: new URL("/login/oauth/authorize", oauthBase ?? GITHUB_OAUTH_BASE),
      tokenEndpoint: new URL("/login/oauth/access_token", oauthBase ?? GITHUB_OAUTH_BASE),
      userEndpoint: new URL("/user", apiBase ?? GITHUB_API_BASE),
    })),
    googleLogin: readProviderLogin(env, "GOOGLE", allowLoopbackHttp, (oauthBase, apiBase) => ({
      authorizationEndpoint: new URL(
        "/o/oauth2/v2/auth",
        oauthBase ?? "https://accounts.google.com",
      ),
      tokenEndpoint: new URL("/token", oauthBase ?? "https://oauth2.googleapis.com"),
      userEndpoint: new URL("/v1/userinfo", apiBase ?? "https://openidconnect.googleapis.com"),
    })),
  });
}

/**
 * `PLAN_{FREE,PREMIUM}_{WIKIS_PER_OWNER,PAGES_PER_WIKI,BYTES_PER_WIKI}`. Premium must allow at
 * least what free allows: an upgrade that shrinks a limit would refuse writes the free plan took.
 */
function readPlanLimits(env: Env): PlanLimits {
  const read = (plan: "FREE" | "PREMIUM", fallback: PlanQuotas): PlanQuotas =>
    Object.freeze({
      wikisPerOwner: readInteger(
        env,
        `PLAN_${plan}_WIKIS_PER_OWNER`,
        fallback.wikisPerOwner,
        0,
        1_000_000,
      ),
      pagesPerWiki: readInteger(
        env,
        `PLAN_${plan}_PAGES_PER_WIKI`,
        fallback.pagesPerWiki,
        1,
        100_000_000,
      ),
      bytesPerWiki: readInteger(
        env,
        `PLAN_${plan}_BYTES_PER_WIKI`,
        fallback.bytesPerWiki,
        1024,
        Number.MAX_SAFE_INTEGER,
      ),
    });
  const free = read("FREE", DEFAULT_PLAN_LIMITS.free);
  const premium = read("PREMIUM", DEFAULT_PLAN_LIMITS.premium);
  for (const [field, suffix] of [
    ["wikisPerOwner", "WIKIS_PER_OWNER"],
    ["pagesPerWiki", "PAGES_PER_WIKI"],
    ["bytesPerWiki", "BYTES_PER_WIKI"],
  ] as const) {
    if (premium[field] < free[field]) {
      throw new ConfigError(
        `PLAN_PREMIUM_${suffix}=${premium[field]} is below PLAN_FREE_${suffix}=${free[field]}: premium must allow at least what free allows`,
      );
    }
  }
  return Object.freeze({ free, premium });
}

const GITHUB_OAUTH_BASE = "https://github.com";
const GITHUB_API_BASE = "https://api.github.com";

/**
 * `{P}_CLIENT_ID` and `{P}_CLIENT_SECRET` enable a provider; one without the other is a mistake.
 * `{P}_OAUTH_BASE_URL` (authorize and token) and `{P}_API_BASE_URL` (the user) replace the
 * provider's origins, for a stand-in in tests or GitHub Enterprise; plain http only with
 * ATPROTO_ALLOW_LOOPBACK_HTTP, so a production instance never sends a client secret in clear.
 */
function readProviderLogin(
  env: Env,
  prefix: "GITHUB" | "GOOGLE",
  allowHttp: boolean,
  endpoints: (
    oauthBase: URL | null,
    apiBase: URL | null,
  ) => Pick<ProviderLoginConfig, "authorizationEndpoint" | "tokenEndpoint" | "userEndpoint">,
): ProviderLoginConfig | null {
  const clientId = (env[`${prefix}_CLIENT_ID`] ?? "").trim();
  const clientSecret = (env[`${prefix}_CLIENT_SECRET`] ?? "").trim();
  const oauthBase = readProviderBase(env, `${prefix}_OAUTH_BASE_URL`, allowHttp);
  const apiBase = readProviderBase(env, `${prefix}_API_BASE_URL`, allowHttp);
  if (clientId === "" && clientSecret === "") return null;
  if (clientId === "" || clientSecret === "") {
    const missing = clientId === "" ? `${prefix}_CLIENT_ID` : `${prefix}_CLIENT_SECRET`;
    throw new ConfigError(
      `${missing} is not set: set both ${prefix}_CLIENT_ID and ${prefix}_CLIENT_SECRET to enable that sign-in, or neither`,
    );
  }
  return Object.freeze({ clientId, clientSecret, ...endpoints(oauthBase, apiBase) });
}

function readProviderBase(env: Env, name: string, allowHttp: boolean): URL | null {
  const url = readServiceUrl(env, name);
  if (url === null) return null;
  if (url.protocol === "http:" && !allowHttp) {
    throw new ConfigError(
      `${name}="${env[name]}" must be https (http only with ATPROTO_ALLOW_LOOPBACK_HTTP, for tests)`,
    );
  }
  if (url.pathname !== "/" || url.search !== "" || url.username !== "") {
    throw new ConfigError(`${name}="${env[name]}" must be a bare origin such as https://host`);
  }
  return url;
}

function readServiceUrl(env: Env, name: string): URL | null {
  const raw = env[name];
  if (raw === undefined || raw === "") return null;
  const url = URL.parse(raw);
  if (url === null || (url.protocol !== "https:" && url.protocol !== "http:")) {
    throw new ConfigError(`${name}="${raw}" is not valid: expected an http(s) URL`);
  }
  return url;
}

/** One of `choices`, in any case; unset or empty is `fallback`. */
function readChoice<T extends string>(
  env: Env,
  name: string,
  choices: readonly T[],
  fallback: T,
): T {
  const raw = (env[name] || fallback).trim().toLowerCase();
  const chosen = choices.find((choice) => choice === raw);
  if (chosen === undefined) {
    throw new ConfigError(
      `${name}="${env[name]}" is not valid: expected one of ${choices.join(", ")}`,
    );
  }
  return chosen;
}

function readBoolean(env: Env, name: string): boolean {
  const raw = (env[name] ?? "").trim().toLowerCase();
  if (raw === "" || raw === "false" || raw === "0") return false;
  if (raw === "true" || raw === "1") return true;
  throw new ConfigError(`${name}="${env[name]}" is not valid: expected true or false`);
}
