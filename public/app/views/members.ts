/** A wiki's members: owners grant, change and remove roles; anyone may leave. */
import {
  api,
  blamesInput,
  type Me,
  type Member,
  type Result,
  ROLES,
  type Role,
  type Wiki,
} from "../api.ts";
import { busy, el, errorSlot, field, select } from "../dom.ts";
import { HOME_PATH, navigate } from "../router.ts";

const ROLE_OPTIONS: [Role, string][] = [
  ["viewer", "Viewer (reads)"],
  ["editor", "Editor (reads and writes)"],
  ["owner", "Owner (manages the wiki)"],
];

/** How the API names a member in its URLs: a DID when known, else the pending handle. */
function subjectOf(member: Member): string {
  return member.did ?? member.handle ?? "";
}

function nameOf(member: Member): string {
  return member.displayName || member.handle || member.did || "someone";
}

export function membersSection(me: Me, wiki: Wiki, loaded: Result<Member[]>): HTMLElement {
  const owner = wiki.role === "owner";
  const list = el("ul", { class: "members" });
  const sectionErrors = errorSlot();
  const section = el(
    "section",
    { "aria-labelledby": "members-heading" },
    el("h2", { id: "members-heading" }, "Members"),
    sectionErrors.element,
    list,
  );

  const reload = async () => {
    const members = await api.members(wiki.slug);
    if (!members.ok) sectionErrors.show(members.error.message);
    else show(members.value);
  };

  const item = (member: Member): HTMLLIElement => {
    const self = member.did !== null && member.did === me.user.did;
    const who = el(
      "span",
      { class: "member-name" },
      nameOf(member),
      member.handle !== null && member.handle !== nameOf(member)
        ? el("span", { class: "muted" }, ` @${member.handle}`)
        : null,
      self ? el("span", { class: "muted" }, " (you)") : null,
      member.status === "pending"
        ? el("span", { class: "tag" }, "pending: not signed in yet")
        : null,
    );
    const errors = errorSlot();
    const row = el("li", { class: "member" }, who);
    if (owner) {
      const role = select(ROLE_OPTIONS, member.role);
      role.setAttribute("aria-label", `Role of ${nameOf(member)}`);
      const change = el("button", { type: "button" }, "Change role");
      change.setAttribute("aria-label", `Change role of ${nameOf(member)}`);
      change.addEventListener("click", async () => {
        errors.clear();
        const picked = ROLES.find((candidate) => candidate === role.value) ?? member.role;
        const granted = await busy(change, () => api.grant(wiki.slug, subjectOf(member), picked));
        if (!granted.ok) {
          errors.show(granted.error.message, role);
          return;
        }
        await reload();
        section
          .querySelector<HTMLElement>(`[data-member="${CSS.escape(subjectOf(member))}"] select`)
          ?.focus();
      });
      row.append(el("span", { class: "controls" }, role, change));
    } else {
      row.append(el("span", { class: "muted" }, ` ${member.role}`));
    }
    if (owner || self) {
      const remove = el(
        "button",
        { type: "button", class: "danger" },
        self ? "Leave this wiki" : "Remove",
      );
      if (!self) remove.setAttribute("aria-label", `Remove ${nameOf(member)}`);
      remove.addEventListener("click", async () => {
        errors.clear();
        const question = self
          ? `Leave ${wiki.name}? Your tokens for it are revoked.`
          : `Remove ${nameOf(member)} from ${wiki.name}? Their tokens for it are revoked.`;
        if (!window.confirm(question)) return;
        const removed = await busy(remove, () => api.removeMember(wiki.slug, subjectOf(member)));
        if (!removed.ok) {
          errors.show(removed.error.message);
          return;
        }
        if (self) navigate(HOME_PATH);
        else {
          await reload();
          section.querySelector("h2")?.setAttribute("tabindex", "-1");
          section.querySelector<HTMLElement>("h2")?.focus();
        }
      });
      row.append(" ", remove);
    }
    row.dataset.member = subjectOf(member);
    row.append(errors.element);
    return row;
  };

  const show = (members: Member[]) => {
    sectionErrors.clear();
    list.replaceChildren(...members.map(item));
  };
  if (loaded.ok) show(loaded.value);
  else sectionErrors.show(loaded.error.message);

  if (owner) section.append(addForm(wiki, reload));
  return section;
}

function addForm(wiki: Wiki, reload: () => Promise<void>): HTMLFormElement {
  const who = el("input", {
    name: "member",
    autocomplete: "off",
    autocapitalize: "none",
    spellcheck: "false",
    maxlength: "300",
  });
  const role = select(ROLE_OPTIONS, "editor");
  const submit = el("button", { type: "submit" }, "Add member");
  const errors = errorSlot([who]);
  const form = el(
    "form",
    { novalidate: true, class: "inline-form", "aria-labelledby": "add-member-heading" },
    el("h3", { id: "add-member-heading" }, "Add someone"),
    field(
      "Bluesky handle or DID",
      who,
      "e.g. alice.bsky.social. Someone who has never signed in is added as pending until they do.",
    ).wrapper,
    field("Role", role).wrapper,
    errors.element,
    el("p", {}, submit),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    errors.clear();
    const subject = who.value.trim().replace(/^@/, "");
    if (subject === "") {
      errors.show("Enter a Bluesky handle (alice.bsky.social) or a DID.", who);
      who.focus();
      return;
    }
    const picked = ROLES.find((candidate) => candidate === role.value) ?? "viewer";
    const granted = await busy(submit, () => api.grant(wiki.slug, subject, picked));
    if (!granted.ok) {
      errors.show(granted.error.message, blamesInput(granted.error) ? who : undefined);
      who.focus();
      return;
    }
    who.value = "";
    await reload();
    who.focus();
  });
  return form;
}
