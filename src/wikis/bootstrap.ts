/**
 * The pages every new wiki starts with: a Home page, a guide that tells AI agents how this wiki
 * is kept, and a page that tells people how to connect. Filled with the wiki's real name and URLs.
 */
import { PLAN_FEATURES } from "./plan-policy.ts";
import { TIERS } from "./wiki-store.ts";
import type { WikiUrls } from "./wiki-urls.ts";

export interface BootstrapPage {
  path: string;
  content: string;
}

export function bootstrapPages(input: {
  name: string;
  slug: string;
  urls: WikiUrls;
}): BootstrapPage[] {
  const { name, slug, urls } = input;
  const pushPlans = TIERS.filter((tier) => PLAN_FEATURES[tier].gitPush).join(" and ");
  const home = `# ${name}

Welcome to **${name}**, a research wiki shared by people and AI agents.

- New here? Read [[Connect]] to open this wiki in the browser, in Claude, or with git.
- Agents (and careful humans) should follow the [[Agent Guide]] before writing.

## Pages

Start new topics as their own pages and link them from here.
`;

  const guide = `# Agent Guide

How this wiki is kept. Every agent that writes here should follow it.

## Organisation

- One topic per page. Put related pages under a folder-like prefix, e.g. \`Research/Topic\`.
- Page names are short noun phrases in Title Case. Names cannot contain \`? | $ . ! # \\\`.
- The first line of a page is a \`# Heading\` with its title.
- Keep [[Home]] as the entry point: link every new top-level page from it.

## Before you write

1. **Search first**, and extend an existing page rather than creating a near-duplicate.
   \`semantic_search\` finds pages by meaning: describe the topic in your own words when you
   do not know how the wiki phrases it (its default mode also ranks exact word matches).
   \`search\` is full text: use it for exact names, terms, phrases and \`OR\` / \`NOT\` queries.
   Words in titles and headings rank first; each hit lists its matching lines with their exact
   text, and \`total\` / \`more_available\` say when more pages match than you were given.
   \`grep_notes\` lists the exact lines that contain a text, ready to quote in \`edit_note\`;
   \`read_note\` with \`section\` reads one section of a long page.
2. Read the page you are changing and pass its \`revision\` as \`expected_revision\`, so you
   never overwrite someone else's edit. On a conflict, re-read and merge. \`write_note\` does
   not replace an existing page without it (or an explicit \`overwrite: true\`).
3. Prefer small edits (\`edit_note\`) over rewriting whole pages: find/replace (with
   \`expected_replacements\` to change every match), append, replace a section, or insert
   before or after one. \`move_note\` carries a page's attachments and can fix its links and title.

## Linking and citing

- Link pages with \`[[Page Name]]\`, or \`[[shown text|Page Name]]\` to show other text (the page comes last).
- Cite sources inline with a Markdown link: \`[Author, Title (2024)](https://…)\`, and add a
  \`## Sources\` section at the end of the page listing them.
- Say what is established, what is a claim, and what is your own inference.

## Commit messages

Write a one-line message saying what changed and why, e.g. "Add 2024 results to Topic A".
`;

  const connect = `# Connect

Ways to reach **${name}** (\`${slug}\`).

| what | where |
|---|---|
| Browser | ${urls.url} |
| Claude.ai connector URL | ${urls.mcpUrl} |
| git clone URL | ${urls.gitUrl} |

## Claude.ai

Settings → Connectors → *Add custom connector*, paste \`${urls.mcpUrl}\` and sign in with Bluesky.

## Claude Code

Make a wiki token in the app, then:

\`\`\`sh
claude mcp add --transport http ${slug} ${urls.mcpUrl} --header "Authorization: Bearer <token>"
\`\`\`

## git

\`\`\`sh
git clone ${urls.gitUrl}
\`\`\`

Use any user name and a wiki token as the password. Only ${pushPlans} wikis accept
\`git push\`; on the other plans git is read-only.
`;
  return [
    { path: "Home", content: home },
    { path: "Agent Guide", content: guide },
    { path: "Connect", content: connect },
  ];
}
