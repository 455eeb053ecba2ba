/** Client-side routes under /app/, on the History API; links marked `data-route` stay in the app. */
import { el } from "./dom.ts";

let onChange: (focus: boolean) => void = () => {};

export function startRouter(render: (focus: boolean) => void): void {
  onChange = render;
  window.addEventListener("popstate", () => onChange(true));
  document.addEventListener("click", (event) => {
    if (event.defaultPrevented || event.button !== 0) return;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    const target = event.target instanceof Element ? event.target.closest("a[data-route]") : null;
    if (!(target instanceof HTMLAnchorElement) || target.origin !== location.origin) return;
    event.preventDefault();
    navigate(target.pathname + target.search);
  });
  onChange(false);
}

export function navigate(path: string): void {
  history.pushState(null, "", path);
  onChange(true);
}

/** A link to a page of the app. */
export function appLink(path: string, ...children: (Node | string)[]): HTMLAnchorElement {
  return el("a", { href: path, "data-route": true }, ...children);
}

export const HOME_PATH = "/app/";
export const ACCOUNT_PATH = "/app/account";
export const wikiPath = (slug: string) => `/app/wikis/${encodeURIComponent(slug)}`;

export type Route =
  | { view: "home" }
  | { view: "account" }
  | { view: "wiki"; slug: string }
  | { view: "missing" };

export function currentRoute(): Route {
  const path = location.pathname;
  if (path === HOME_PATH || path === "/app") return { view: "home" };
  if (path === ACCOUNT_PATH) return { view: "account" };
  const wiki = /^\/app\/wikis\/([^/]+)\/?$/.exec(path);
  if (wiki?.[1] !== undefined) {
    try {
      return { view: "wiki", slug: decodeURIComponent(wiki[1]) };
    } catch {
      return { view: "missing" };
    }
  }
  return { view: "missing" };
}
