/**
 * The providers a person can link as a second way in: GitHub (OAuth 2.0 web flow) and Google
 * (OpenID Connect, code flow with PKCE). Each says where its endpoints are (config), what it
 * asks for, and how its user answer becomes a stable subject and a label to show. Built only
 * for providers whose client id and secret are configured.
 */
import { z } from "zod";
import type { ProviderLoginConfig } from "../../config/config.ts";
import type { ProviderName } from "./identity-link-store.ts";

export type { ProviderName };

/** Who the provider says signed in: a stable id, and what we show (login or email). */
export interface ProviderIdentity {
  subject: string;
  label: string;
}

export interface SignInProvider {
  name: ProviderName;
  /** For people: "GitHub", "Google". */
  displayName: string;
  endpoints: ProviderLoginConfig;
  scopes: string[];
  /** Google wants PKCE (RFC 7636); GitHub's web flow works without it. */
  usesPkce: boolean;
  /** Headers of the user request besides the bearer token. */
  userRequestHeaders: Record<string, string>;
  /** The identity from the user endpoint's JSON, or null when it is not the expected shape. */
  readIdentity(json: unknown): ProviderIdentity | null;
}

/** Longest label we keep; GitHub logins are ≤ 39 characters, emails ≤ 254. */
const MAX_LABEL = 254;

/** https://docs.github.com/en/rest/users/users#get-the-authenticated-user: `id` never changes. */
const GitHubUserSchema = z.object({
  id: z.number().int().positive(),
  login: z.string().min(1).max(MAX_LABEL),
});

/** OIDC Core §5.3.2: `sub` is the stable identifier; the email may change or be absent. */
const GoogleUserSchema = z.object({
  sub: z.string().min(1).max(255),
  email: z.string().max(MAX_LABEL).optional(),
});

function github(endpoints: ProviderLoginConfig): SignInProvider {
  return {
    name: "github",
    displayName: "GitHub",
    endpoints,
    // No scope: the public profile (id, login) needs none.
    scopes: [],
    usesPkce: false,
    // GitHub's REST API refuses requests without a User-Agent.
    userRequestHeaders: {
      accept: "application/vnd.github+json",
      "user-agent": "wikibot",
      "x-github-api-version": "2022-11-28",
    },
    readIdentity(json) {
      const parsed = GitHubUserSchema.safeParse(json);
      if (!parsed.success) return null;
      return { subject: String(parsed.data.id), label: parsed.data.login };
    },
  };
}

function google(endpoints: ProviderLoginConfig): SignInProvider {
  return {
    name: "google",
    displayName: "Google",
    endpoints,
    scopes: ["openid", "email"],
    usesPkce: true,
    userRequestHeaders: { accept: "application/json" },
    readIdentity(json) {
      const parsed = GoogleUserSchema.safeParse(json);
      if (!parsed.success) return null;
      const email = parsed.data.email ?? "";
      return { subject: parsed.data.sub, label: email === "" ? parsed.data.sub : email };
    },
  };
}

/** The enabled providers, in the order their buttons appear. */
export function enabledProviders(config: {
  githubLogin: ProviderLoginConfig | null;
  googleLogin: ProviderLoginConfig | null;
}): SignInProvider[] {
  const providers: SignInProvider[] = [];
  if (config.githubLogin !== null) providers.push(github(config.githubLogin));
  if (config.googleLogin !== null) providers.push(google(config.googleLogin));
  return providers;
}
