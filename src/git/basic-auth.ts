/**
 * HTTP Basic credentials (RFC 7617) as git sends them. The password is a wiki token and the user
 * name is ignored, the convention of most git hosts; a token typed as the user name with an empty
 * password is accepted too, since that is the other common habit.
 */

export type BasicCredentials =
  | { kind: "none" }
  | { kind: "malformed" }
  | { kind: "token"; token: string };

/** Reads a wiki token from an `Authorization: Basic …` header. */
export function readBasicToken(header: string | null): BasicCredentials {
  if (header === null) return { kind: "none" };
  const match = /^Basic +([A-Za-z0-9+/]+={0,2}) *$/i.exec(header);
  if (match?.[1] === undefined) return { kind: "malformed" };
  const decoded = Buffer.from(match[1], "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) return { kind: "malformed" };
  const username = decoded.slice(0, colon);
  const password = decoded.slice(colon + 1);
  const token = password !== "" ? password : username;
  return token === "" ? { kind: "none" } : { kind: "token", token };
}
