/** One wiki's page: its settings, plan and addresses, members, tokens, connected apps, deletion. */
import { api, blamesInput, type Me, type Wiki } from "../api.ts";
import { busy, copyButton, el, errorSlot, field } from "../dom.ts";
import { appLink, HOME_PATH, navigate } from "../router.ts";
import { connectionsSection } from "./connections.ts";
import { membersSection } from "./members.ts";
import { revealPanel, takeFirstToken } from "./reveal.ts";
import { tokensSection } from "./tokens.ts";

const PLAN_WORDS: Record<Wiki["tier"], string> = {
  free: "Free plan: read and edit in the browser and with Claude; git is read-only (clone and pull). Premium adds git push.",
  premium: "Premium plan: every way in works, including git push.",
  lapsed:
    "Lapsed plan: the wiki is read-only and Claude (MCP) cannot reach it until the plan is renewed. Nothing has been deleted.",
};

const ROLE_WORDS: Record<Wiki["role"], string> = {
  owner: "Owner: you manage the wiki, its members and its tokens.",
  editor: "Editor: you read and write pages.",
  viewer: "Viewer: you read pages.",
};

function addressRow(title: string, value: string, copyLabel: string, link: boolean): HTMLElement[] {
  return [
    el("dt", {}, title),
    el(
      "dd",
      {},
      link ? el("a", { href: value }, value) : el("code", {}, value),
      " ",
      copyButton(copyLabel, value),
    ),
  ];
}

function aboutSection(initial: Wiki, heading: HTMLHeadingElement): HTMLElement {
  let wiki = initial;
  const owner = wiki.role === "owner";
  const visibility = el("p", {});
  const showVisibility = () => {
    visibility.textContent = wiki.public
      ? "Public: anyone can read this wiki; only members edit."
      : "Private: only members can read this wiki.";
  };
  showVisibility();
  const section = el(
    "section",
    { "aria-labelledby": "about-heading" },
    el("h2", { id: "about-heading" }, "About this wiki"),
    el(
      "dl",
      { class: "addresses" },
      ...addressRow("In the browser", wiki.urls.browser, "Copy browser address", true),
      ...addressRow("Claude (MCP)", wiki.urls.mcp, "Copy MCP address", false),
      ...addressRow("git", wiki.urls.git, "Copy git address", false),
      el("dt", {}, "Your role"),
      el("dd", {}, ROLE_WORDS[wiki.role]),
      el("dt", {}, "Plan"),
      el("dd", {}, PLAN_WORDS[wiki.tier]),
    ),
    visibility,
  );
  if (!owner) return section;

  const name = el("input", { name: "name", maxlength: "100", value: wiki.name });
  const save = el("button", { type: "submit" }, "Rename");
  const nameErrors = errorSlot([name]);
  const rename = el(
    "form",
    { novalidate: true, class: "inline-form" },
    field("Name", name).wrapper,
    el("p", {}, save),
    nameErrors.element,
  );
  rename.addEventListener("submit", async (event) => {
    event.preventDefault();
    nameErrors.clear();
    const changed = await busy(save, () => api.updateWiki(wiki.slug, { name: name.value.trim() }));
    if (!changed.ok) {
      nameErrors.show(changed.error.message, blamesInput(changed.error) ? name : undefined);
      name.focus();
      return;
    }
    wiki = changed.value;
    heading.textContent = wiki.name;
    document.title = `${wiki.name} — wikibot`;
    nameErrors.clear();
    announceInline(section, "Renamed.");
  });

  const toggle = el("button", { type: "button" });
  const toggleErrors = errorSlot();
  const showToggle = () => {
    toggle.textContent = wiki.public ? "Make it private" : "Make it public";
  };
  showToggle();
  toggle.addEventListener("click", async () => {
    toggleErrors.clear();
    const changed = await busy(toggle, () => api.updateWiki(wiki.slug, { public: !wiki.public }));
    if (!changed.ok) {
      toggleErrors.show(changed.error.message);
      return;
    }
    wiki = changed.value;
    showVisibility();
    showToggle();
    announceInline(section, wiki.public ? "The wiki is now public." : "The wiki is now private.");
  });
  section.append(el("p", {}, toggle), toggleErrors.element, rename);
  return section;
}

/** A short confirmation inside the section, announced politely. */
function announceInline(section: HTMLElement, message: string): void {
  let said = section.querySelector<HTMLElement>(":scope > .done");
  if (said === null) {
    said = el("p", { class: "done", role: "status" });
    section.append(said);
  }
  said.textContent = message;
}

function deleteSection(wiki: Wiki): HTMLElement {
  const confirm = el("input", {
    name: "confirm",
    autocomplete: "off",
    autocapitalize: "none",
    spellcheck: "false",
  });
  const submit = el("button", { type: "submit", class: "danger" }, "Delete this wiki forever");
  const errors = errorSlot([confirm]);
  const form = el(
    "form",
    { novalidate: true, "aria-labelledby": "delete-heading", class: "danger-zone" },
    el("h2", { id: "delete-heading" }, "Delete this wiki"),
    el(
      "p",
      {},
      "Deleting removes every page, its whole history and every token. It cannot be undone.",
    ),
    field(`Type the slug, ${wiki.slug}, to confirm`, confirm).wrapper,
    errors.element,
    el("p", {}, submit),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    errors.clear();
    if (confirm.value.trim() !== wiki.slug) {
      errors.show(`Type ${wiki.slug} exactly to delete this wiki.`, confirm);
      confirm.focus();
      return;
    }
    const deleted = await busy(submit, () => api.deleteWiki(wiki.slug, confirm.value.trim()));
    if (!deleted.ok) {
      errors.show(deleted.error.message, blamesInput(deleted.error) ? confirm : undefined);
      confirm.focus();
      return;
    }
    navigate(HOME_PATH);
  });
  return form;
}

export async function wikiView(me: Me, slug: string): Promise<HTMLElement[]> {
  const [wiki, members, tokens, connections] = await Promise.all([
    api.wiki(slug),
    api.members(slug),
    api.tokens(slug),
    api.connections(slug),
  ]);
  if (!wiki.ok) {
    return [
      el(
        "h1",
        { tabindex: "-1" },
        wiki.error.status === 404 ? "Wiki not found" : "Could not load the wiki",
      ),
      el("p", { class: "error", role: "alert" }, wiki.error.message),
      el("p", {}, appLink(HOME_PATH, "Back to your wikis")),
    ];
  }
  const heading = el("h1", { tabindex: "-1" }, wiki.value.name);
  const first = takeFirstToken(slug);
  return [
    el("p", { class: "crumbs" }, appLink(HOME_PATH, "Wikis"), " › ", wiki.value.slug),
    heading,
    first === null
      ? null
      : revealPanel({ title: "Your wiki is ready: here is its first token", ...first }),
    aboutSection(wiki.value, heading),
    membersSection(me, wiki.value, members),
    tokensSection(me, wiki.value, tokens),
    connectionsSection(me, wiki.value, connections),
    wiki.value.role === "owner" ? deleteSection(wiki.value) : null,
  ].filter((part): part is HTMLElement => part !== null);
}
