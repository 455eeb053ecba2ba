/**
 * The landing page and the management app (DESIGN §2: `public/`, Bun's bundler). Both are built
 * once at server start into memory, so the routes serve only what the build produced (no file
 * system paths, hence no path escapes) and every asset name carries its content hash.
 */
import { join } from "node:path";

/** Where hashed assets live on the apex; the app's HTML references them under this prefix. */
export const ASSET_PREFIX = "/app/assets/";
export const LANDING_CSS_PATH = "/landing.css";

export interface WebAsset {
  body: Uint8Array<ArrayBuffer>;
  contentType: string;
  etag: string;
  /** Hashed names never change content, so browsers may keep them for good. */
  immutable: boolean;
}

export interface WebApp {
  landing: WebAsset;
  /** The landing page's one stylesheet, at LANDING_CSS_PATH. */
  landingCss: WebAsset;
  appIndex: WebAsset;
  /** Hashed JS and CSS by their path under ASSET_PREFIX, e.g. `main-1a2b3c4d.js`. */
  assets: ReadonlyMap<string, WebAsset>;
}

function etagOf(body: Uint8Array<ArrayBuffer>): string {
  const digest = new Bun.CryptoHasher("sha256").update(body).digest("base64url");
  return `"${digest.slice(0, 22)}"`;
}

async function bundle(entrypoint: string, assets: Map<string, WebAsset>): Promise<WebAsset> {
  const result = await Bun.build({
    entrypoints: [entrypoint],
    minify: true,
    target: "browser",
    publicPath: ASSET_PREFIX,
    naming: { entry: "[name].[ext]", chunk: "[name]-[hash].[ext]", asset: "[name]-[hash].[ext]" },
  });
  if (!result.success) {
    throw new AggregateError(result.logs, `building ${entrypoint} failed`);
  }
  let html: WebAsset | null = null;
  for (const output of result.outputs) {
    const body = new Uint8Array(await output.arrayBuffer());
    const name = output.path.replace(/^\.\//, "");
    const asset = { body, contentType: output.type, etag: etagOf(body), immutable: true };
    if (name.endsWith(".html")) html = { ...asset, immutable: false };
    else assets.set(name, asset);
  }
  if (html === null) throw new Error(`building ${entrypoint} produced no HTML`);
  return html;
}

async function plainFile(path: string, contentType: string): Promise<WebAsset> {
  const body = new Uint8Array(await Bun.file(path).arrayBuffer());
  return { body, contentType, etag: etagOf(body), immutable: false };
}

/**
 * Bundles `public/app/index.html` with what it references. The landing page has no script and
 * is served as written: the bundler would add an empty script chunk to it.
 */
export async function buildWebApp(publicDir: string): Promise<WebApp> {
  const assets = new Map<string, WebAsset>();
  const appIndex = await bundle(join(publicDir, "app", "index.html"), assets);
  return {
    landing: await plainFile(join(publicDir, "index.html"), "text/html;charset=utf-8"),
    landingCss: await plainFile(join(publicDir, "landing.css"), "text/css;charset=utf-8"),
    appIndex,
    assets,
  };
}

function isLoopback(publicUrl: URL): boolean {
  return ["localhost", "127.0.0.1", "[::1]"].includes(publicUrl.hostname);
}

/**
 * No inline script or style anywhere (CSP Level 3). Avatars come from the user's PDS or
 * Bluesky's CDN over https (a local PDS serves them over http, hence `http:` in loopback
 * development). The account page's "Link GitHub / Google" forms post to our `/auth/link/*`,
 * which redirects to the provider's authorization endpoint, and form-action also governs
 * redirects after a form submission (CSP3 §6.4.1), so those origins are allowed too.
 */
export function contentSecurityPolicy(publicUrl: URL, formTargets: readonly URL[] = []): string {
  const images = isLoopback(publicUrl) ? "'self' https: http: data:" : "'self' https: data:";
  const forms = ["'self'", ...new Set(formTargets.map((target) => target.origin))];
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    `img-src ${images}`,
    "connect-src 'self'",
    `form-action ${forms.join(" ")}`,
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join("; ");
}

/** The asset as a response, or 304 when the browser already holds this version (RFC 9110 §13.1.2). */
export function assetResponse(asset: WebAsset, request: Request, csp: string): Response {
  const headers = new Headers({
    etag: asset.etag,
    "cache-control": asset.immutable ? "public, max-age=31536000, immutable" : "no-cache",
    "content-security-policy": csp,
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
  });
  const match = request.headers.get("if-none-match");
  // If-None-Match compares weakly: a W/ prefix does not matter.
  const held = (tag: string) => tag.trim().replace(/^W\//, "");
  if (match?.split(",").some((tag) => held(tag) === asset.etag || held(tag) === "*")) {
    return new Response(null, { status: 304, headers });
  }
  headers.set("content-type", asset.contentType);
  return new Response(asset.body, { status: 200, headers });
}
