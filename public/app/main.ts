/**
 * The management app at /app/ (DESIGN §2): who you are, your wikis, their members and tokens.
 * Plain DOM, no framework; every view is rebuilt from the API on navigation.
 */
import { api, type Me } from "./api.ts";
import { el } from "./dom.ts";
import { ACCOUNT_PATH, appLink, currentRoute, HOME_PATH, startRouter } from "./router.ts";
import { accountView } from "./views/account.ts";
import { homeView } from "./views/home.ts";
import { wikiView } from "./views/wiki.ts";

const main = document.getElementById("main");
const nav = document.getElementById("nav");

function signedOutView(): HTMLElement[] {
  const returnTo = location.pathname + location.search;
  const href = `/auth/login?return_to=${encodeURIComponent(returnTo)}`;
  return [
    el("h1", { tabindex: "-1" }, "Sign in to manage your wikis"),
    el(
      "p",
      {},
      "Create wikis, invite people by their Bluesky handle, and make tokens for Claude and git.",
    ),
    el("p", {}, el("a", { class: "button primary", href }, "Sign in with Bluesky")),
    el("p", {}, el("a", { href: "/" }, "What is wikibot?")),
  ];
}

function failedView(message: string): HTMLElement[] {
  return [
    el("h1", { tabindex: "-1" }, "The app could not load"),
    el("p", { class: "error", role: "alert" }, message),
    el("p", {}, el("a", { href: location.pathname }, "Try again")),
  ];
}

function missingView(): HTMLElement[] {
  return [
    el("h1", { tabindex: "-1" }, "Page not found"),
    el("p", {}, "There is nothing at this address. ", appLink(HOME_PATH, "Go to your wikis"), "."),
  ];
}

/** After linking GitHub or Google the sign-in lands on `/app/?linked={provider}`: say it worked. */
function linkedNotice(me: Me): HTMLElement[] {
  const provider = new URLSearchParams(location.search).get("linked");
  const method = me.signInMethods?.find((candidate) => candidate.provider === provider);
  if (method === undefined || method.linked === null) return [];
  return [
    el(
      "p",
      { class: "done notice", role: "status" },
      `${method.name} is now linked (${method.linked.label}): you can sign in with it too. `,
      appLink(ACCOUNT_PATH, "Manage sign-in methods"),
    ),
  ];
}

let renders = 0;

async function render(focus: boolean): Promise<void> {
  if (main === null) return;
  renders += 1;
  const mine = renders;
  const me = await api.me();
  // A newer navigation started while this one waited: let it win.
  if (mine !== renders) return;
  let content: HTMLElement[];
  if (!me.ok && me.error.status === 401) {
    content = signedOutView();
  } else if (!me.ok) {
    content = failedView(me.error.message);
  } else {
    const route = currentRoute();
    if (route.view === "home") content = homeView(me.value);
    else if (route.view === "account") content = await accountView(me.value);
    else if (route.view === "wiki") content = await wikiView(me.value, route.slug);
    else content = missingView();
    if (mine !== renders) return;
  }
  if (nav !== null) {
    nav.hidden = !me.ok;
    for (const link of nav.querySelectorAll("a")) {
      if (link.pathname === location.pathname) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
  }
  main.replaceChildren(...content);
  const heading = main.querySelector("h1");
  if (me.ok) heading?.after(...linkedNotice(me.value));
  document.title = `${heading?.textContent ?? "wikibot"} — wikibot`;
  if (focus && heading instanceof HTMLElement) heading.focus();
}

startRouter((focus) => {
  void render(focus);
});
