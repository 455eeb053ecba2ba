/**
 * The once-only token panel: after a wiki or a token is created, the secret and the commands
 * built from it. The API never shows the secret again, so neither does the app: the panel lives
 * only in this page's memory.
 */
import type { Wiki } from "../api.ts";
import { copyButton, el, uid } from "../dom.ts";

/** The Claude Code command, exactly as README's "MCP and REST" section gives it. */
export function claudeCodeCommand(wiki: Wiki, token: string): string {
  return `claude mcp add --transport http ${wiki.slug} ${wiki.urls.mcp} --header "Authorization: Bearer ${token}"`;
}

/** git ignores the user name and takes the token as the password (README "git"). */
export function gitCloneCommand(wiki: Wiki, token: string): string {
  const url = new URL(wiki.urls.git);
  url.username = "git";
  url.password = token;
  return `git clone ${url.href}`;
}

function row(title: string, value: string, copyLabel: string): HTMLElement {
  return el(
    "div",
    { class: "reveal-row" },
    el("h3", {}, title),
    el("code", { class: "block" }, value),
    copyButton(copyLabel, value),
  );
}

export function revealPanel(options: { title: string; wiki: Wiki; token: string }): HTMLElement {
  const { wiki, token } = options;
  const headingId = uid("reveal");
  const panel = el(
    "section",
    { class: "reveal", "aria-labelledby": headingId },
    el("h2", { id: headingId, tabindex: "-1" }, options.title),
    el(
      "p",
      { class: "warning" },
      el("strong", {}, "Copy it now: this token will not be shown again. "),
      "Anyone who has it can use this wiki as you. If you lose it, make a new one and revoke this one.",
    ),
    row("Token", token, "Copy token"),
    row("Claude.ai connector URL", wiki.urls.mcp, "Copy connector URL"),
    row("Claude Code", claudeCodeCommand(wiki, token), "Copy Claude Code command"),
    row("git", gitCloneCommand(wiki, token), "Copy git command"),
  );
  const done = el("button", { type: "button" }, "I have copied it: hide the token");
  done.addEventListener("click", () => {
    const heading = document.querySelector("main h1");
    panel.remove();
    if (heading instanceof HTMLElement) heading.focus();
  });
  panel.append(el("p", {}, done));
  return panel;
}

/** A wiki's first token, carried from the create form to the wiki's page, then forgotten. */
let held: { wiki: Wiki; token: string } | null = null;

export function holdFirstToken(wiki: Wiki, token: string): void {
  held = { wiki, token };
}

export function takeFirstToken(slug: string): { wiki: Wiki; token: string } | null {
  const found = held !== null && held.wiki.slug === slug ? held : null;
  held = null;
  return found;
}
