/**
 * A wiki's tokens: everyone makes their own (the secret shown once) and revokes their own;
 * owners see and revoke all of them.
 */
import { api, blamesInput, type Me, type Result, SCOPES, type Token, type Wiki } from "../api.ts";
import { busy, el, errorSlot, field, select, when } from "../dom.ts";
import { revealPanel } from "./reveal.ts";

function tokenRow(token: Token, cells: (string | Node)[]): HTMLTableRowElement {
  const row = el("tr", { "data-token": token.id });
  for (const cell of cells) row.append(el("td", {}, cell));
  return row;
}

export function tokensSection(_me: Me, wiki: Wiki, loaded: Result<Token[]>): HTMLElement {
  const body = el("tbody");
  const table = el(
    "table",
    { class: "tokens" },
    el(
      "thead",
      {},
      el(
        "tr",
        {},
        ...["Label", "Scope", "Owner", "Created", "Last used", "Status", ""].map((title) =>
          el("th", { scope: "col" }, title),
        ),
      ),
    ),
    body,
  );
  const empty = el("p", { class: "empty" }, "No tokens yet. Make one below for Claude or git.");
  const sectionErrors = errorSlot();
  const revealSlot = el("div");
  const section = el(
    "section",
    { "aria-labelledby": "tokens-heading" },
    el("h2", { id: "tokens-heading" }, "Tokens"),
    el(
      "p",
      { class: "hint" },
      wiki.role === "owner"
        ? "Every token of this wiki. A token acts as its owner, limited by its scope."
        : "Your tokens for this wiki. A token acts as you, limited by its scope and your role.",
    ),
    sectionErrors.element,
    el("div", { class: "table-scroll" }, table),
    empty,
    revealSlot,
  );

  const show = (tokens: Token[]) => {
    sectionErrors.clear();
    empty.hidden = tokens.length > 0;
    table.hidden = tokens.length === 0;
    body.replaceChildren(...tokens.map(row));
  };
  const reload = async () => {
    const tokens = await api.tokens(wiki.slug);
    if (tokens.ok) show(tokens.value);
    else sectionErrors.show(tokens.error.message);
  };

  const row = (token: Token): HTMLTableRowElement => {
    const label = token.label === "" ? "(no label)" : token.label;
    const status = token.revokedAt === null ? "active" : `revoked ${when(token.revokedAt)}`;
    const action = el("span");
    if (token.revokedAt === null) {
      const revoke = el("button", { type: "button", class: "danger" }, "Revoke");
      revoke.setAttribute("aria-label", `Revoke token ${label}`);
      const errors = errorSlot();
      revoke.addEventListener("click", async () => {
        errors.clear();
        if (!window.confirm(`Revoke the token "${label}"? Anything using it stops working.`))
          return;
        const revoked = await busy(revoke, () => api.revokeToken(wiki.slug, token.id));
        if (!revoked.ok) {
          errors.show(revoked.error.message);
          return;
        }
        await reload();
        section.querySelector<HTMLElement>("h2")?.focus();
      });
      action.append(revoke, errors.element);
    }
    return tokenRow(token, [
      label,
      token.scope,
      token.owner,
      when(token.createdAt),
      token.lastUsedAt === null ? "never" : when(token.lastUsedAt),
      status,
      action,
    ]);
  };

  if (loaded.ok) show(loaded.value);
  else {
    show([]);
    sectionErrors.show(loaded.error.message);
  }
  section.querySelector("h2")?.setAttribute("tabindex", "-1");
  section.append(createForm(wiki, revealSlot, reload));
  return section;
}

function createForm(
  wiki: Wiki,
  revealSlot: HTMLElement,
  reload: () => Promise<void>,
): HTMLFormElement {
  const label = el("input", { name: "label", maxlength: "100" });
  const scope = select(
    [
      ["write", "Write: read and change pages"],
      ["read", "Read: read pages only"],
    ],
    wiki.role === "viewer" ? "read" : "write",
  );
  const submit = el("button", { type: "submit" }, "Create token");
  const errors = errorSlot([label]);
  const form = el(
    "form",
    { novalidate: true, class: "inline-form", "aria-labelledby": "new-token-heading" },
    el("h3", { id: "new-token-heading" }, "New token"),
    field("Label", label, "What it is for, e.g. laptop git or Claude Code.").wrapper,
    field("Scope", scope).wrapper,
    errors.element,
    el("p", {}, submit),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    errors.clear();
    const picked = SCOPES.find((candidate) => candidate === scope.value) ?? "read";
    const created = await busy(submit, () =>
      api.createToken(wiki.slug, { label: label.value.trim(), scope: picked }),
    );
    if (!created.ok) {
      errors.show(created.error.message, blamesInput(created.error) ? label : undefined);
      label.focus();
      return;
    }
    label.value = "";
    const panel = revealPanel({ title: "Your new token", wiki, token: created.value.secret });
    revealSlot.replaceChildren(panel);
    await reload();
    panel.querySelector<HTMLElement>("h2")?.focus();
  });
  return form;
}
