/**
 * The two checks every sign-in form post passes (Bluesky, GitHub, Google): it comes from one of
 * our pages, and it is a small urlencoded form.
 */
import { readTextWithin } from "../../http/body-limit.ts";
import { sessionOrigin } from "./session-cookie.ts";

/** A sign-in form is a handle or a few hidden fields; nothing legitimate comes near this. */
const MAX_FORM_BYTES = 8 * 1024;

/**
 * Cross-site form posts are refused: a browser always sends Origin on a POST, and ours is the
 * session origin (the apex, or 127.0.0.1:{port} in loopback development) or PUBLIC_URL.
 * Without Origin only Sec-Fetch-Site can tell (W3C Fetch Metadata). Tools without either (curl)
 * carry no ambient cookies of a victim, so they may pass.
 */
export function isCrossSiteForm(request: Request, publicUrl: URL): boolean {
  const origin = request.headers.get("origin");
  if (origin === null) return request.headers.get("sec-fetch-site") === "cross-site";
  return origin !== sessionOrigin(publicUrl) && origin !== publicUrl.origin;
}

/** The fields of a urlencoded POST body, or null when it is not one or is too large. */
export async function readSignInForm(request: Request): Promise<URLSearchParams | null> {
  const type = request.headers.get("content-type") ?? "";
  if (!type.toLowerCase().startsWith("application/x-www-form-urlencoded")) return null;
  const text = await readTextWithin(request, MAX_FORM_BYTES);
  return text === null ? null : new URLSearchParams(text);
}
