/**
 * The HTML of the authorization server: the consent page (who asks, where the answer goes, which
 * wiki, as whom, for what), the "no access" page, and the error page. Server-rendered, styled
 * like the sign-in pages, no script; the CSP forbids everything but inline style, and framing (clickjacking a consent button is the classic attack).
 */

import { WIKI_WRITE_SCOPE } from "../auth/protected-resource-metadata.ts";
import { escapeHtml } from "../auth/session/handoff.ts";
import type { User } from "../auth/user-store.ts";
import type { Wiki } from "../wikis/wiki-store.ts";

const STYLE = `body{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;color:#1a1a1a}
h1{font-size:1.5rem}dt{font-weight:600}dd{margin:0 0 .75rem}.hint{color:#555;font-size:.9rem}
.actions{display:flex;gap:1rem}
button{font:inherit;margin-top:1rem;padding:.5rem 1.25rem;border:1px solid #0b5cd5;border-radius:4px;background:#0b5cd5;color:#fff;cursor:pointer}
button.secondary{background:#fff;color:#0b5cd5}
button:focus-visible,a:focus-visible{outline:3px solid #ffbf47;outline-offset:2px}`;

export function htmlPage(status: number, title: string, body: string): Response {
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${escapeHtml(title)} · wikibot</title><style>${STYLE}</style></head><body><main><h1>${escapeHtml(title)}</h1>${body}</main></body></html>`;
  return new Response(html, {
    status,
    headers: {
      "content-type": "text/html; charset=utf-8",
      "cache-control": "no-store",
      "content-security-policy":
        // No form-action: browsers apply it to the redirect that answers the form, and ours
        // goes to the client's redirect URI on another origin.
        "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
      "x-frame-options": "DENY",
      // Not no-referrer: under it a browser sends `Origin: null` on the form's same-origin POST
      // (Fetch §3.2.5), which the decision's Origin check would refuse. same-origin still keeps
      // the page's URL (it carries the request handle) from the client's site.
      "referrer-policy": "same-origin",
    },
  });
}

export interface ConsentView {
  clientName: string;
  redirectHost: string;
  /** A loopback redirect: the answer goes to a program on the person's own computer. */
  redirectIsLoopback: boolean;
  wiki: Wiki;
  user: User;
  scopes: readonly string[];
  /** The request handle and the CSRF token the form posts back. */
  requestHandle: string;
  csrf: string;
}

export function consentPage(view: ConsentView): Response {
  const access = view.scopes.includes(WIKI_WRITE_SCOPE) ? "Read and write pages" : "Read pages";
  const person =
    view.user.displayName !== "" && view.user.displayName !== view.user.handle
      ? `${escapeHtml(view.user.displayName)} (@${escapeHtml(view.user.handle)})`
      : `@${escapeHtml(view.user.handle)}`;
  const where = view.redirectIsLoopback
    ? `${escapeHtml(view.redirectHost)} <span class="hint">(a program on your own computer)</span>`
    : escapeHtml(view.redirectHost);
  return htmlPage(
    200,
    `Allow ${view.clientName} to use ${view.wiki.name}?`,
    `<p>An app wants to use this wiki as you. Only allow apps you have just connected yourself.</p>
<dl>
<dt>App</dt><dd>${escapeHtml(view.clientName)}</dd>
<dt>Sends the answer to</dt><dd>${where}</dd>
<dt>Wiki</dt><dd>${escapeHtml(view.wiki.name)} <span class="hint">(${escapeHtml(view.wiki.slug)})</span></dd>
<dt>Signed in as</dt><dd>${person}</dd>
<dt>Access</dt><dd>${access}</dd>
</dl>
<form method="post" action="/oauth/authorize">
<input type="hidden" name="request" value="${escapeHtml(view.requestHandle)}">
<input type="hidden" name="csrf" value="${escapeHtml(view.csrf)}">
<div class="actions"><button type="submit" name="decision" value="allow">Allow</button><button type="submit" name="decision" value="deny" class="secondary">Deny</button></div>
</form>
<p class="hint">You can disconnect the app at any time from the wiki's settings.</p>`,
  );
}

/** A signed-in person without a role here: no code is issued, and nothing to approve. */
export function noAccessPage(wiki: Wiki): Response {
  return htmlPage(
    403,
    `You have no access to ${wiki.name}`,
    `<p>An app asked to use this wiki as you, but you are not a member of it. Ask an owner of ${escapeHtml(wiki.name)} to add you, then connect the app again.</p>`,
  );
}
