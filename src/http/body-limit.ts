/** Refuses bodies larger than the limit before a handler reads them. */

export function exceedsDeclaredLength(request: Request, limit: number): boolean {
  const declared = request.headers.get("content-length");
  if (declared === null) return false;
  const length = Number(declared);
  return !Number.isFinite(length) || length > limit;
}

/** Reads a body, stopping with null as soon as it passes `limit` bytes (chunked bodies too). */
export async function readBytesWithin(
  request: Request,
  limit: number,
): Promise<Uint8Array<ArrayBuffer> | null> {
  if (exceedsDeclaredLength(request, limit)) return null;
  if (request.body === null) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of request.body) {
    total += chunk.byteLength;
    if (total > limit) return null;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** Like readBytesWithin, decoded as UTF-8 text. */
export async function readTextWithin(request: Request, limit: number): Promise<string | null> {
  const bytes = await readBytesWithin(request, limit);
  return bytes === null ? null : new TextDecoder().decode(bytes);
}
