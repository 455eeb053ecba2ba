/**
 * The admin CLI's commands: each validates its options and returns text and a JSON value.
 * Whatever touches a wiki goes through the use cases the management API calls too
 * (src/wikis/: wiki-service, members, tokens), acting as the operator.
 */
import type { Database } from "bun:sqlite";
import type { OAuthGrantStore } from "../auth/oauth-grant-store.ts";
import type { UserStore } from "../auth/user-store.ts";
import type { TokenScope, WikiTokenStore } from "../auth/wiki-token.ts";
import type { Config } from "../config/config.ts";
import { createLogger } from "../lib/log.ts";
import type { Author } from "../pages/page-store.ts";
import { reindexWithProgress } from "../search/reindex-progress.ts";
import { grantRole, removeMember } from "../wikis/members.ts";
import type { PendingGrantStore } from "../wikis/pending-grant-store.ts";
import { createToken, revokeToken } from "../wikis/tokens.ts";
import { OPERATOR } from "../wikis/use-case.ts";
import { createWiki } from "../wikis/wiki-service.ts";
import { parseRole, parseTier, type Wiki, type WikiStore } from "../wikis/wiki-store.ts";
import { wikiUrls } from "../wikis/wiki-urls.ts";
import { backupCommand } from "./backup.ts";
import { doctor } from "./doctor.ts";
import { restoreCommand } from "./restore.ts";

export class AdminError extends Error {
  override name = "AdminError";
}

export interface CommandContext {
  db: Database;
  users: UserStore;
  wikis: WikiStore;
  tokens: WikiTokenStore;
  pendingGrants: PendingGrantStore;
  oauthGrants: OAuthGrantStore;
  dataDir: string;
  /** Where the embedding model is (MODEL_DIR), for `reindex` without a running server. */
  modelDir: string;
  publicUrl: URL;
  committer: Author;
}

export type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;
export type OptionSpec = Record<string, { type: "string" | "boolean" }>;

export interface CommandResult {
  text: string;
  json: unknown;
  /** Non-zero when the command ran but found something wrong (doctor); its output says what. */
  exitCode?: number;
}

export interface Command {
  usage: string;
  options: OptionSpec;
  run(context: CommandContext, values: Values): Promise<CommandResult>;
}

/** Runs before anything under DATA_DIR is opened or made: doctor inspects a possibly broken install. */
export interface ConfigOnlyCommand {
  usage: string;
  options: OptionSpec;
  runWithConfig(config: Config, values: Values): Promise<CommandResult>;
}

export function required(values: Values, name: string): string {
  const value = values[name];
  if (typeof value !== "string" || value.trim() === "")
    throw new AdminError(`--${name} is required`);
  return value.trim();
}

function optional(values: Values, name: string): string | undefined {
  const value = values[name];
  return typeof value === "string" ? value.trim() : undefined;
}

function wikiNamed(context: CommandContext, slug: string): Wiki {
  const wiki = context.wikis.findBySlug(slug);
  if (wiki === null) throw new AdminError(`no wiki "${slug}"`);
  return wiki;
}

function userNamed(context: CommandContext, username: string) {
  const user = context.users.findByUsername(username);
  if (user === null) throw new AdminError(`no user "${username}"`);
  return user;
}

const USERNAME = /^[a-z0-9](?:[a-z0-9._-]{0,38}[a-z0-9])?$/;
const DID = /^did:(plc:[a-z2-7]{24}|web:[a-zA-Z0-9.%:-]+)$/;
const HANDLE =
  /^([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/;

export const COMMANDS: Record<string, Command | ConfigOnlyCommand> = {
  doctor,
  "create-user": {
    usage: "--username U --did D --handle H [--display-name N]",
    options: {
      username: { type: "string" },
      did: { type: "string" },
      handle: { type: "string" },
      "display-name": { type: "string" },
    },
    async run(context, values) {
      const username = required(values, "username").toLowerCase();
      const did = required(values, "did");
      const handle = required(values, "handle").toLowerCase();
      if (!USERNAME.test(username))
        throw new AdminError(
          `username "${username}" must be 1–40 of a–z 0–9 . _ - (starting and ending with a letter or digit)`,
        );
      if (!DID.test(did))
        throw new AdminError(`did "${did}" is not a did:plc or did:web identifier`);
      if (!HANDLE.test(handle))
        throw new AdminError(
          `handle "${handle}" is not a domain-style handle such as alice.bsky.social`,
        );
      if (context.users.findByUsername(username))
        throw new AdminError(`user "${username}" already exists`);
      if (context.users.findByDid(did))
        throw new AdminError(`a user with did ${did} already exists`);
      const displayName = optional(values, "display-name") || handle;
      const user = context.users.create({ username, did, handle, displayName });
      return {
        text: `created user ${user.username} (${user.did})`,
        json: {
          id: user.id,
          username: user.username,
          did: user.did,
          handle: user.handle,
          display_name: user.displayName,
        },
      };
    },
  },
  "create-wiki": {
    usage: "--slug S --owner U [--name N] [--public] [--tier free|premium]",
    options: {
      slug: { type: "string" },
      owner: { type: "string" },
      name: { type: "string" },
      public: { type: "boolean" },
      tier: { type: "string" },
    },
    async run(context, values) {
      const tierName = optional(values, "tier") ?? "free";
      const tier = parseTier(tierName);
      if (tier === null || tier === "lapsed")
        throw new AdminError(`--tier must be free or premium, not "${tierName}"`);
      const created = await createWiki(context, {
        slug: required(values, "slug"),
        ownerUsername: required(values, "owner"),
        name: optional(values, "name"),
        isPublic: values.public === true,
        tier,
      });
      const { wiki, urls, token } = created;
      return {
        text: [
          `created wiki ${wiki.slug} (${wiki.name}, ${wiki.tier}${wiki.isPublic ? ", public" : ""})`,
          `  browser: ${urls.url}`,
          `  MCP:     ${urls.mcpUrl}`,
          `  git:     ${urls.gitUrl}`,
          `  owner's write token (shown once): ${token}`,
        ].join("\n"),
        json: { slug: wiki.slug, url: urls.url, mcp_url: urls.mcpUrl, git_url: urls.gitUrl, token },
      };
    },
  },
  "create-token": {
    usage: "--wiki S --user U [--scope read|write] [--label L]",
    options: {
      wiki: { type: "string" },
      user: { type: "string" },
      scope: { type: "string" },
      label: { type: "string" },
    },
    async run(context, values) {
      const wiki = wikiNamed(context, required(values, "wiki"));
      const user = userNamed(context, required(values, "user"));
      const scopeName = optional(values, "scope") ?? "write";
      if (scopeName !== "read" && scopeName !== "write")
        throw new AdminError(`--scope must be read or write, not "${scopeName}"`);
      const scope: TokenScope = scopeName;
      const label = optional(values, "label") ?? "";
      if (label.length > 100) throw new AdminError("--label is limited to 100 characters");
      const { token, plaintext } = createToken(context, OPERATOR, wiki.slug, {
        user,
        scope,
        label,
      });
      return {
        text: `token ${token.id} (${scope}) for ${user.username} on ${wiki.slug}, shown once:\n${plaintext}`,
        json: { id: token.id, token: plaintext },
      };
    },
  },
  "revoke-token": {
    usage: "--id ID",
    options: { id: { type: "string" } },
    async run(context, values) {
      const id = required(values, "id");
      revokeToken(context, OPERATOR, { slug: null, id });
      return { text: `revoked token ${id}`, json: { id, revoked: true } };
    },
  },
  grant: {
    usage: "--wiki S --user U --role viewer|editor|owner",
    options: { wiki: { type: "string" }, user: { type: "string" }, role: { type: "string" } },
    async run(context, values) {
      const wiki = wikiNamed(context, required(values, "wiki"));
      const user = userNamed(context, required(values, "user"));
      const roleName = required(values, "role");
      const role = parseRole(roleName);
      if (role === null)
        throw new AdminError(`--role must be viewer, editor or owner, not "${roleName}"`);
      grantRole(context, OPERATOR, wiki.slug, { kind: "did", did: user.did }, role);
      return {
        text: `${user.username} is now ${role} of ${wiki.slug}`,
        json: { wiki: wiki.slug, user: user.username, role },
      };
    },
  },
  revoke: {
    usage: "--wiki S --user U",
    options: { wiki: { type: "string" }, user: { type: "string" } },
    async run(context, values) {
      const wiki = wikiNamed(context, required(values, "wiki"));
      const user = userNamed(context, required(values, "user"));
      if (context.wikis.roleOf(wiki.id, user.id) === null)
        throw new AdminError(`${user.username} has no role on ${wiki.slug}`);
      removeMember(context, OPERATOR, wiki.slug, { kind: "did", did: user.did });
      return {
        text: `${user.username} no longer has access to ${wiki.slug}`,
        json: { wiki: wiki.slug, user: user.username, role: null },
      };
    },
  },
  "set-tier": {
    usage: "--wiki S --tier free|premium|lapsed",
    options: { wiki: { type: "string" }, tier: { type: "string" } },
    async run(context, values) {
      const wiki = wikiNamed(context, required(values, "wiki"));
      const tierName = required(values, "tier");
      const tier = parseTier(tierName);
      if (tier === null)
        throw new AdminError(`--tier must be free, premium or lapsed, not "${tierName}"`);
      context.wikis.setTier(wiki.id, tier);
      return { text: `${wiki.slug} is now ${tier}`, json: { wiki: wiki.slug, tier } };
    },
  },
  "list-wikis": {
    usage: "",
    options: {},
    async run(context) {
      const rows = context.wikis.list().map((wiki) => ({
        slug: wiki.slug,
        name: wiki.name,
        tier: wiki.tier,
        public: wiki.isPublic,
        owner: context.users.findById(wiki.ownerId)?.username ?? null,
        url: wikiUrls(context.publicUrl, wiki.slug).url,
      }));
      const text =
        rows.length === 0
          ? "no wikis"
          : rows
              .map(
                (row) =>
                  `${row.slug}\t${row.tier}${row.public ? "\tpublic" : "\tprivate"}\t${row.owner}\t${row.url}`,
              )
              .join("\n");
      return { text, json: rows };
    },
  },
  reindex: {
    usage: "--wiki S | --all   (rebuild semantic search; in-process when no server runs)",
    options: { wiki: { type: "string" }, all: { type: "boolean" } },
    async run(context, values) {
      const slug = optional(values, "wiki");
      if ((slug === undefined) === (values.all !== true))
        throw new AdminError("give either --wiki S or --all");
      const wiki = slug === undefined ? null : wikiNamed(context, slug);
      const tty = process.stderr.isTTY === true;
      let lastLine = 0;
      const result = await reindexWithProgress({
        db: context.db,
        dataDir: context.dataDir,
        modelDir: context.modelDir,
        wikiId: wiki?.id ?? null,
        logger: createLogger("warn"),
        progress(line, final) {
          // A terminal gets one line redrawn; a log gets a line every few seconds.
          if (tty) process.stderr.write(`\r${line}${final ? "\n" : ""}`);
          else if (final || Date.now() - lastLine >= 5000) {
            process.stderr.write(`${line}\n`);
            lastLine = Date.now();
          }
        },
      });
      const target = wiki === null ? "all wikis" : wiki.slug;
      return {
        text: `reindexed ${target}: ${result.pages} pages, ${result.chunks} chunks in ${result.seconds}s (${result.mode === "server" ? "by the running server" : "in this process"})`,
        json: { wiki: wiki?.slug ?? null, ...result },
      };
    },
  },
  "list-users": {
    usage: "",
    options: {},
    async run(context) {
      const rows = context.users.list().map((user) => ({
        username: user.username,
        did: user.did,
        handle: user.handle,
        display_name: user.displayName,
      }));
      const text =
        rows.length === 0
          ? "no users"
          : rows.map((row) => `${row.username}\t${row.handle}\t${row.did}`).join("\n");
      return { text, json: rows };
    },
  },
  backup: backupCommand,
  restore: restoreCommand,
};
