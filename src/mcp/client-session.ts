/**
 * The server is stateless (a fresh McpServer per HTTP request), yet commits must name the MCP
 * client that made them, which only `initialize` reports. So the initialize response carries an
 * `Mcp-Session-Id` that holds the client's name, signed and bound to the token, and clients echo
 * it on every later request (MCP transports: "clients … MUST include it"). No server state is
 * kept; authentication never depends on it (every request still presents its bearer token), and
 * a missing, forged or foreign session id only loses the attribution.
 */
import { timingSafeEqual } from "node:crypto";
import { sanitizeClientName } from "../auth/commit-author.ts";
import { randomSecret } from "../lib/random.ts";

export interface ClientIdentity {
  name: string;
  version: string;
}

const PREFIX = "wbs1";

function sign(key: string, payload: string): Buffer {
  return Buffer.from(new Bun.CryptoHasher("sha256", key).update(payload).digest()).subarray(0, 16);
}

/** Visible ASCII only, as the transport requires of session ids. */
export function issueSessionId(
  key: string,
  client: ClientIdentity,
  tokenId: string | null,
): string {
  const payload = Buffer.from(
    JSON.stringify([
      sanitizeClientName(client.name),
      client.version.slice(0, 32),
      tokenId,
      randomSecret(9),
    ]),
  ).toString("base64url");
  return `${PREFIX}.${payload}.${sign(key, payload).toString("base64url")}`;
}

export function readSessionId(
  key: string,
  header: string | null,
  tokenId: string | null,
): ClientIdentity | null {
  if (header === null || header.length > 512) return null;
  const [prefix, payload, mac] = header.split(".");
  if (prefix !== PREFIX || payload === undefined || mac === undefined) return null;
  const presented = Buffer.from(mac, "base64url");
  const expected = sign(key, payload);
  if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) return null;
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
  } catch {
    return null;
  }
  if (!Array.isArray(decoded)) return null;
  const [name, version, boundTo] = decoded;
  if (typeof name !== "string" || typeof version !== "string") return null;
  // Bound to the token that initialized: another caller's session id attributes nothing.
  if (boundTo !== tokenId) return null;
  return { name, version };
}
