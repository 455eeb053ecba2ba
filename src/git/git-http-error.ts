/**
 * The git feature's one error class. git prints the plain-text body of a non-200 answer as
 * `remote: …` lines (remote-curl.c `show_http_message`), so every refusal is written for a person
 * reading their terminal. The git handler maps it to a response in exactly one place.
 */

export class GitHttpError extends Error {
  override name = "GitHttpError";
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
    /** Why, for the log only (e.g. "the token has been revoked"); never sent to the client. */
    readonly detail: string | null = null,
  ) {
    super(message);
  }

  toResponse(): Response {
    return new Response(`${this.message}\n`, {
      status: this.status,
      headers: { "content-type": "text/plain; charset=utf-8", ...this.headers },
    });
  }
}
