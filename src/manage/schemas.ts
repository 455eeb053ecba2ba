/**
 * The management API's wire shapes, as route schemas: Elysia validates request bodies against
 * them and @elysiajs/openapi builds /api/openapi.json from them, so the document cannot drift
 * from the routes. Times are RFC 3339 strings; names are snake_case on the wire.
 */
import { t } from "elysia";
import type { IdentityLink, ProviderName } from "../auth/provider-login/identity-link-store.ts";
import type { User } from "../auth/user-store.ts";
import type { WikiToken } from "../auth/wiki-token.ts";
import type { Membership } from "../wikis/members.ts";
import type { Role, Wiki } from "../wikis/wiki-store.ts";
import { wikiUrls } from "../wikis/wiki-urls.ts";

export const ROLE = t.Union([t.Literal("viewer"), t.Literal("editor"), t.Literal("owner")]);
export const SCOPE = t.Union([t.Literal("read"), t.Literal("write")]);
const TIME = t.String({ format: "date-time" });
const NULLABLE_TIME = t.Union([TIME, t.Null()]);

export const ERROR = t.Object(
  { error: t.Object({ code: t.String(), message: t.String() }) },
  { description: "Every refusal: `{ error: { code, message } }`" },
);

/** The refusals every authenticated route may give. */
export const COMMON_ERRORS = { 400: ERROR, 401: ERROR, 403: ERROR, 404: ERROR };
export const WRITE_ERRORS = { ...COMMON_ERRORS, 409: ERROR, 413: ERROR, 415: ERROR };

export const USER = t.Object({
  did: t.String(),
  handle: t.String(),
  username: t.String(),
  display_name: t.String(),
  avatar_url: t.Union([t.String(), t.Null()], {
    description: "The Bluesky profile's avatar, served by the user's PDS; null when there is none",
  }),
});

export const PROVIDER = t.Union([t.Literal("github"), t.Literal("google")]);

export const SIGN_IN_METHOD = t.Object({
  provider: PROVIDER,
  name: t.String({ description: "For people: GitHub, Google" }),
  linked: t.Union([t.Object({ label: t.String(), linked_at: TIME }), t.Null()], {
    description: "The linked account (GitHub login or Google email), or null when none is",
  }),
});

export const WIKI = t.Object({
  slug: t.String(),
  name: t.String(),
  public: t.Boolean(),
  tier: t.Union([t.Literal("free"), t.Literal("premium"), t.Literal("lapsed")]),
  role: ROLE,
  created_at: TIME,
  urls: t.Object({ browser: t.String(), mcp: t.String(), git: t.String() }),
});

export const MEMBER = t.Object({
  status: t.Union([t.Literal("active"), t.Literal("pending")], {
    description: "pending: granted to someone who has not signed in yet; claimed at first sign-in",
  }),
  did: t.Union([t.String(), t.Null()]),
  handle: t.Union([t.String(), t.Null()]),
  username: t.Union([t.String(), t.Null()]),
  display_name: t.Union([t.String(), t.Null()]),
  avatar_url: t.Union([t.String(), t.Null()]),
  role: ROLE,
});

export const TOKEN = t.Object({
  id: t.String(),
  label: t.String(),
  scope: SCOPE,
  user: t.Object({ username: t.String(), did: t.String() }),
  created_at: TIME,
  last_used_at: NULLABLE_TIME,
  revoked_at: NULLABLE_TIME,
});

export const SLUG_PARAMS = t.Object({ slug: t.String({ maxLength: 63 }) });

const iso = (unixSeconds: number) => new Date(unixSeconds * 1000).toISOString();
const isoOrNull = (unixSeconds: number | null) => (unixSeconds === null ? null : iso(unixSeconds));

export function userJson(user: User) {
  return {
    did: user.did,
    handle: user.handle,
    username: user.username,
    display_name: user.displayName,
    avatar_url: user.avatarUrl,
  };
}

/** One entry per enabled provider, with this user's link there if any. */
export function signInMethodsJson(
  providers: readonly { name: ProviderName; displayName: string }[],
  links: IdentityLink[],
) {
  return providers.map((provider) => {
    const link = links.find((candidate) => candidate.provider === provider.name);
    return {
      provider: provider.name,
      name: provider.displayName,
      linked: link === undefined ? null : { label: link.label, linked_at: iso(link.createdAt) },
    };
  });
}

export function wikiJson(publicUrl: URL, wiki: Wiki, role: Role) {
  const urls = wikiUrls(publicUrl, wiki.slug);
  return {
    slug: wiki.slug,
    name: wiki.name,
    public: wiki.isPublic,
    tier: wiki.tier,
    role,
    created_at: iso(wiki.createdAt),
    urls: { browser: urls.url, mcp: urls.mcpUrl, git: urls.gitUrl },
  };
}

export function memberJson(membership: Membership) {
  if (membership.kind === "member") {
    return { status: "active", ...userJson(membership.user), role: membership.role };
  }
  const { subject } = membership;
  return {
    status: "pending",
    did: subject.kind === "did" ? subject.did : null,
    handle: subject.handle ?? null,
    username: null,
    display_name: null,
    avatar_url: null,
    role: membership.role,
  };
}

export function tokenJson(token: WikiToken, owner: User | null) {
  return {
    id: token.id,
    label: token.label,
    scope: token.scope,
    user: { username: owner?.username ?? "", did: owner?.did ?? "" },
    created_at: iso(token.createdAt),
    last_used_at: isoOrNull(token.lastUsedAt),
    revoked_at: isoOrNull(token.revokedAt),
  };
}
