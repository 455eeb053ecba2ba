/**
 * The pages GitHub and Google sign-in ends on when it cannot go on: what happened and where to
 * go next. Server-rendered, no script, every value escaped; never JSON or a stack trace.
 */
import { escapeHtml } from "../session/handoff.ts";

const STYLE = `body{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;color:#1a1a1a}
h1{font-size:1.5rem}a:focus-visible{outline:3px solid #ffbf47;outline-offset:2px}`;

export interface NoticeLink {
  href: string;
  text: string;
}

/** A page saying what happened, with links to carry on; `cookies` are Set-Cookie values. */
export function noticePage(options: {
  status: number;
  title: string;
  detail: string;
  links: NoticeLink[];
  cookies?: string[];
}): Response {
  const links = options.links
    .map((link) => `<p><a href="${escapeHtml(link.href)}">${escapeHtml(link.text)}</a></p>`)
    .join("\n");
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${escapeHtml(options.title)} · wikibot</title><style>${STYLE}</style></head><body><main>
<h1>${escapeHtml(options.title)}</h1>
<p>${escapeHtml(options.detail)}</p>
${links}
</main></body></html>`;
  const headers = new Headers({
    "content-type": "text/html; charset=utf-8",
    "cache-control": "no-store",
    "content-security-policy":
      "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
  });
  for (const cookie of options.cookies ?? []) headers.append("set-cookie", cookie);
  return new Response(html, { status: options.status, headers });
}
