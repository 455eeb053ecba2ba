/**
 * The HTML of the sign-in pages: the handle form, the username form, and the page every failure
 * ends on (what happened, how to retry). Small, server-rendered, no script; every field has a
 * label and its error is tied to it with aria-describedby so a screen reader reads both.
 */
import { escapeHtml } from "../session/handoff.ts";

const NO_STORE = { "cache-control": "no-store" };

const STYLE = `body{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;color:#1a1a1a}
h1{font-size:1.5rem}label{display:block;font-weight:600;margin:.5rem 0 .25rem}
input[type=text]{font:inherit;width:100%;box-sizing:border-box;padding:.5rem;border:1px solid #767676;border-radius:4px}
input[aria-invalid=true]{border-color:#b00020}.error{color:#b00020}.hint{color:#555;font-size:.9rem}
button{font:inherit;margin-top:1rem;padding:.5rem 1.25rem;border:0;border-radius:4px;background:#0b5cd5;color:#fff;cursor:pointer}
button:focus-visible,input:focus-visible,a:focus-visible{outline:3px solid #ffbf47;outline-offset:2px}`;

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${escapeHtml(title)} · wikibot</title><style>${STYLE}</style></head><body><main>${body}</main></body></html>`;
}

export function htmlResponse(
  html: string,
  status: number,
  cookies: string[] = [],
  extraHeaders: Record<string, string> = {},
): Response {
  const headers = new Headers({
    "content-type": "text/html; charset=utf-8",
    ...NO_STORE,
    "content-security-policy":
      "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    ...extraHeaders,
  });
  for (const cookie of cookies) headers.append("set-cookie", cookie);
  return new Response(html, { status, headers });
}

function errorBlock(id: string, error: string | null): string {
  return error === null ? "" : `<p class="error" id="${id}" role="alert">${escapeHtml(error)}</p>`;
}

/** A button to sign in another way (GitHub, Google): a form post to `path`. */
export interface OtherSignIn {
  path: string;
  label: string;
}

function otherSignInForms(others: readonly OtherSignIn[], returnField: string): string {
  if (others.length === 0) return "";
  const forms = others
    .map(
      (other) =>
        `<form method="post" action="${escapeHtml(other.path)}">${returnField}<button type="submit">${escapeHtml(other.label)}</button></form>`,
    )
    .join("\n");
  return `\n<h2>Or sign in another way</h2>
<p class="hint">Works once you have linked that account from your account page.</p>
${forms}`;
}

/** The sign-in form: a Bluesky handle, and where to go afterwards (kept, already validated). */
export function loginPage(options: {
  handle?: string;
  returnTo: string | null;
  error?: string | null;
  status?: number;
  /** Other enabled providers, shown as buttons under the form. */
  otherSignIns?: readonly OtherSignIn[];
}): Response {
  const error = options.error ?? null;
  const described = error === null ? "handle-hint" : "handle-hint handle-error";
  const returnField =
    options.returnTo === null
      ? ""
      : `<input type="hidden" name="return_to" value="${escapeHtml(options.returnTo)}">`;
  const html = page(
    "Sign in",
    `<h1>Sign in with Bluesky</h1>
<form method="post" action="/auth/login">
<label for="handle">Your Bluesky handle</label>
<p class="hint" id="handle-hint">For example alice.bsky.social. You confirm on your own Bluesky server; we never see your password.</p>
<input type="text" id="handle" name="handle" required autocomplete="username" autocapitalize="none" spellcheck="false" autofocus aria-describedby="${described}"${error === null ? "" : ' aria-invalid="true"'} value="${escapeHtml(options.handle ?? "")}">
${errorBlock("handle-error", error)}${returnField}
<button type="submit">Sign in</button>
</form>${otherSignInForms(options.otherSignIns ?? [], returnField)}`,
  );
  return htmlResponse(html, options.status ?? 200);
}

/** A new account chooses its username, pre-filled from the handle. */
export function signupPage(options: {
  handle: string;
  displayName: string;
  username: string;
  error?: string | null;
  status?: number;
}): Response {
  const error = options.error ?? null;
  const described = error === null ? "username-hint" : "username-hint username-error";
  const who =
    options.displayName !== "" && options.displayName !== options.handle
      ? `${escapeHtml(options.displayName)} (@${escapeHtml(options.handle)})`
      : `@${escapeHtml(options.handle)}`;
  const html = page(
    "Choose a username",
    `<h1>Welcome, ${who}</h1>
<p>Your Bluesky account is confirmed. Choose the username you will have here; it cannot be changed later.</p>
<form method="post" action="/auth/signup">
<label for="username">Username</label>
<p class="hint" id="username-hint">3–63 lowercase letters, digits and single hyphens; starts and ends with a letter or digit.</p>
<input type="text" id="username" name="username" required minlength="3" maxlength="63" autocapitalize="none" spellcheck="false" autofocus aria-describedby="${described}"${error === null ? "" : ' aria-invalid="true"'} value="${escapeHtml(options.username)}">
${errorBlock("username-error", error)}
<button type="submit">Create my account</button>
</form>`,
  );
  return htmlResponse(html, options.status ?? 200);
}

/** Where every failure ends: what happened, and a link to try again. */
export function failurePage(options: {
  status: number;
  title: string;
  detail: string;
  retryHref: string;
  cookies?: string[];
}): Response {
  const html = page(
    options.title,
    `<h1>${escapeHtml(options.title)}</h1>
<p>${escapeHtml(options.detail)}</p>
<p><a href="${escapeHtml(options.retryHref)}">Try signing in again</a></p>`,
  );
  return htmlResponse(html, options.status, options.cookies ?? []);
}
