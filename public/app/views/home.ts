/** Home: the wikis you own, the ones shared with you, and the form that creates one. */
import { api, blamesInput, type Me, type Wiki } from "../api.ts";
import { busy, el, errorSlot, field } from "../dom.ts";
import { appLink, navigate, wikiPath } from "../router.ts";
import { holdFirstToken } from "./reveal.ts";

const ROLE_WORDS = { owner: "owner", editor: "editor", viewer: "viewer" } as const;

function wikiItem(wiki: Wiki): HTMLLIElement {
  return el(
    "li",
    { class: "wiki-item" },
    el("span", { class: "wiki-title" }, appLink(wikiPath(wiki.slug), wiki.name)),
    el("span", { class: "muted" }, ` ${wiki.slug} · ${ROLE_WORDS[wiki.role]}`),
    el("span", { class: "muted" }, wiki.public ? " · public" : " · private"),
    " ",
    el(
      "a",
      { href: wiki.urls.browser, class: "open" },
      "Open wiki",
      el("span", { class: "visually-hidden" }, ` ${wiki.name} in the browser`),
    ),
  );
}

function wikiList(title: string, wikis: Wiki[], empty: string): HTMLElement {
  const id = `list-${title.toLowerCase().replace(/\W+/g, "-")}`;
  return el(
    "section",
    { "aria-labelledby": id },
    el("h2", { id }, title),
    wikis.length === 0
      ? el("p", { class: "empty" }, empty)
      : el("ul", { class: "wikis" }, ...wikis.map(wikiItem)),
  );
}

function createForm(): HTMLElement {
  const slug = el("input", {
    name: "slug",
    autocomplete: "off",
    autocapitalize: "none",
    spellcheck: "false",
    maxlength: "63",
    required: true,
  });
  const name = el("input", { name: "name", maxlength: "100" });
  const isPublic = el("input", { type: "checkbox", name: "public", id: "create-public" });
  const slugField = field(
    "Slug",
    slug,
    "3–63 lowercase letters, digits and single hyphens, e.g. protein-notes. It becomes the wiki's web address and cannot be changed.",
  );
  const nameField = field("Name (optional)", name, "Shown to people; you can change it later.");
  const submit = el("button", { type: "submit", class: "primary" }, "Create wiki");
  const errors = errorSlot([slug, name]);
  const form = el(
    "form",
    { novalidate: true, "aria-labelledby": "create-heading" },
    el("h2", { id: "create-heading" }, "Create a wiki"),
    slugField.wrapper,
    nameField.wrapper,
    el(
      "div",
      { class: "field check" },
      isPublic,
      el("label", { for: isPublic.id }, "Public: anyone may read it; only members edit"),
    ),
    errors.element,
    el("p", {}, submit),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    errors.clear();
    const input = {
      slug: slug.value.trim(),
      ...(name.value.trim() === "" ? {} : { name: name.value.trim() }),
      public: isPublic.checked,
    };
    const created = await busy(submit, () => api.createWiki(input));
    if (!created.ok) {
      // The API names the field it refuses ("body field name: …", "wiki name must be …").
      const aboutName = /field name\b|^wiki name/.test(created.error.message);
      const blamed = aboutName ? name : slug;
      if (!blamesInput(created.error)) {
        errors.show(created.error.message);
        submit.focus();
        return;
      }
      errors.show(created.error.message, blamed);
      blamed.focus();
      return;
    }
    holdFirstToken(created.value.wiki, created.value.token);
    navigate(wikiPath(created.value.wiki.slug));
  });
  return form;
}

export function homeView(me: Me): HTMLElement[] {
  return [
    el("h1", { tabindex: "-1" }, "Wikis"),
    wikiList(
      "Your wikis",
      me.owned,
      "You own no wikis yet. Create one below: it only needs a slug.",
    ),
    wikiList(
      "Shared with you",
      me.shared,
      "No one has shared a wiki with you yet. When an owner adds your Bluesky handle, the wiki appears here.",
    ),
    createForm(),
  ];
}
