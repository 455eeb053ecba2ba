/**
 * Request bodies the browser proxy must read before forwarding: bounded by the body limit, and
 * forms re-serialised from our own parse so Otterwiki reads exactly the fields we checked.
 */
import { BrowserError } from "./browser-error.ts";
import type { UpstreamRequest } from "./proxy.ts";

/**
 * The request's form as we read it, with `upstream` re-serialised from it: Werkzeug then parses
 * the same fields and file names we checked, not its own reading of an odd multipart body.
 */
export async function canonicalForm(upstream: UpstreamRequest): Promise<FormData> {
  const contentType = upstream.clientHeaders.get("content-type") ?? "";
  let form: FormData;
  try {
    form = await new Request("http://wiki.invalid/", {
      method: "POST",
      headers: { "content-type": contentType },
      body: upstream.body,
    }).formData();
  } catch {
    throw new BrowserError(400, "This form could not be read", "Send it from the wiki's own page.");
  }
  const hasFiles = [...form.values()].some((value) => typeof value !== "string");
  if (hasFiles) {
    const encoded = new Response(form);
    // Read before the body: Bun drops the boundary header once the body is consumed.
    const type = encoded.headers.get("content-type");
    if (type === null) throw new Error("FormData serialised without a Content-Type");
    upstream.contentType = type;
    upstream.body = new Uint8Array(await encoded.arrayBuffer());
  } else {
    const fields = new URLSearchParams();
    for (const [name, value] of form) if (typeof value === "string") fields.append(name, value);
    upstream.body = new TextEncoder().encode(fields.toString());
    upstream.contentType = "application/x-www-form-urlencoded";
  }
  return form;
}

/** A form field as Werkzeug's `request.form.get` reads it: the first value, "" when absent. */
export function stringField(form: FormData, name: string): string {
  const value = form.get(name);
  return typeof value === "string" ? value : "";
}
