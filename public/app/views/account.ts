/** Account: who you are, the ways you can sign in, your connected apps, and signing out. */
import { api, type Me, type SignInMethod } from "../api.ts";
import { busy, el, errorSlot, when } from "../dom.ts";
import { myConnectionsSection } from "./connections.ts";

function profile(me: Me): HTMLElement {
  const { user } = me;
  return el(
    "section",
    { "aria-labelledby": "profile-heading", class: "profile" },
    el("h2", { id: "profile-heading" }, "Profile"),
    user.avatarUrl === null
      ? null
      : el("img", { src: user.avatarUrl, alt: "", width: "64", height: "64", class: "avatar" }),
    el(
      "dl",
      {},
      el("dt", {}, "Name"),
      el("dd", {}, user.displayName || user.handle),
      el("dt", {}, "Bluesky handle"),
      el("dd", {}, `@${user.handle}`),
      el("dt", {}, "Username"),
      el("dd", {}, user.username),
      el("dt", {}, "DID"),
      el("dd", {}, el("code", {}, user.did)),
    ),
  );
}

function methodItem(method: SignInMethod): HTMLLIElement {
  const item = el("li", { class: "method" });
  if (method.linked === null) {
    item.append(
      el("span", {}, `${method.name}: not linked `),
      el(
        "form",
        {
          method: "post",
          action: `/auth/link/${encodeURIComponent(method.provider)}`,
          class: "inline",
        },
        el("button", { type: "submit" }, `Link ${method.name}`),
      ),
    );
    return item;
  }
  const unlink = el("button", { type: "button", class: "danger" }, "Unlink");
  unlink.setAttribute("aria-label", `Unlink ${method.name}`);
  const errors = errorSlot();
  const state = el(
    "span",
    {},
    `${method.name}: linked as ${method.linked.label} since ${when(method.linked.linkedAt)} `,
  );
  unlink.addEventListener("click", async () => {
    errors.clear();
    const done = await busy(unlink, () => api.unlink(method.provider));
    if (!done.ok) {
      errors.show(done.error.message);
      return;
    }
    // Rebuild the list from the server, which decides what can be linked now.
    const me = await api.me();
    const section = item.closest("section");
    if (me.ok && me.value.signInMethods !== null && section !== null) {
      section.replaceWith(methodsSection(me.value.signInMethods));
      document.getElementById("methods-heading")?.focus();
    } else {
      state.textContent = `${method.name}: not linked`;
      unlink.remove();
    }
  });
  item.append(state, unlink, errors.element);
  return item;
}

function methodsSection(methods: SignInMethod[]): HTMLElement {
  return el(
    "section",
    { "aria-labelledby": "methods-heading" },
    el("h2", { id: "methods-heading", tabindex: "-1" }, "Ways to sign in"),
    el("p", {}, "Bluesky is always one. Linking another account lets you sign in with it too."),
    el("ul", { class: "methods" }, ...methods.map(methodItem)),
  );
}

export async function accountView(me: Me): Promise<HTMLElement[]> {
  const connections = await api.myConnections();
  return [
    el("h1", { tabindex: "-1" }, "Account"),
    profile(me),
    // Empty when no other provider is configured here: then there is nothing to link.
    me.signInMethods === null || me.signInMethods.length === 0
      ? null
      : methodsSection(me.signInMethods),
    myConnectionsSection(connections),
    el(
      "section",
      { "aria-labelledby": "sign-out-heading" },
      el("h2", { id: "sign-out-heading" }, "Sign out"),
      el(
        "p",
        {},
        "Signs you out of wikibot in this browser. Tokens you made keep working until revoked.",
      ),
      el(
        "form",
        { method: "post", action: "/auth/logout" },
        el("button", { type: "submit" }, "Sign out"),
      ),
    ),
  ].filter((part): part is HTMLElement => part !== null);
}
