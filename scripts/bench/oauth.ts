/**
 * The OAuth authorization server: the full authorization-code flow without the human step —
 * register (RFC 7591) → GET /oauth/authorize (consent page, person already signed in on the wiki
 * host) → POST the Allow decision → exchange the code at /oauth/token — against a real server
 * started in process on port 0, over HTTP. Each run registers its own client, as Claude.ai does.
 */
import { createUserAndWiki, startTestServer } from "../../test/support/server.ts";
import { CookieJar, NAVIGATION_HEADERS, signIn } from "../../test/support/session.ts";
import { figure, type SectionFigures, summaryTable } from "./report.ts";
import { measure, type Summary } from "./stats.ts";

const CALLBACK = "https://claude.ai/api/mcp/auth_callback";

function field(html: string, name: string): string {
  const value = new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1];
  if (value === undefined) throw new Error(`the consent page has no ${name}`);
  return value;
}

function verifierPair() {
  const verifier = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
  return {
    verifier,
    challenge: new Bun.CryptoHasher("sha256").update(verifier).digest("base64url"),
  };
}

/** A wiki-host session for the owner, made by the real handshake (not measured). */
async function wikiHostSession(
  origin: string,
  apexCookie: string,
  start: string,
): Promise<CookieJar> {
  const jars = new Map<string, CookieJar>([[new URL(origin).host, new CookieJar([apexCookie])]]);
  let url = start;
  for (let hop = 0; hop < 8; hop++) {
    const host = new URL(url).host;
    const jar = jars.get(host) ?? new CookieJar();
    jars.set(host, jar);
    const response = await fetch(url, {
      headers: { ...NAVIGATION_HEADERS, cookie: jar.header() },
      redirect: "manual",
    });
    jar.store(response);
    await response.arrayBuffer();
    const location = response.headers.get("location");
    if (response.status !== 302 || location === null) break;
    url = new URL(location, url).href;
  }
  const wikiJar = jars.get(new URL(start).host);
  if (wikiJar === undefined) throw new Error("no wiki-host session");
  return wikiJar;
}

export async function benchOAuthFlow(quick: boolean): Promise<Summary> {
  const t = await startTestServer();
  try {
    await createUserAndWiki(t, { username: "bench", slug: "bench" });
    const wiki = t.wikiOrigin("bench");
    const who = signIn(t, "bench");
    let jar: CookieJar | null = null;

    const flow = async (run: number) => {
      const registered = await fetch(`${wiki}/oauth/register`, {
        method: "POST",
        // One address per run: the per-address registration limit is not what is measured.
        headers: {
          "content-type": "application/json",
          "x-forwarded-for": `192.0.2.${(run % 250) + 1}`,
        },
        body: JSON.stringify({
          client_name: "Claude",
          redirect_uris: [CALLBACK],
          token_endpoint_auth_method: "client_secret_post",
        }),
      });
      const client = (await registered.json()) as { client_id: string; client_secret: string };
      const { verifier, challenge } = verifierPair();
      const authorize = `${wiki}/oauth/authorize?${new URLSearchParams({
        response_type: "code",
        client_id: client.client_id,
        redirect_uri: CALLBACK,
        state: `s${run}`,
        code_challenge: challenge,
        code_challenge_method: "S256",
      })}`;
      jar ??= await wikiHostSession(who.origin, who.apexCookie, authorize);
      // The same address as the registration: the per-address authorize limit is not measured.
      const page = await fetch(authorize, {
        headers: { cookie: jar.header(), "x-forwarded-for": `192.0.2.${(run % 250) + 1}` },
      });
      const html = await page.text();
      const decision = await fetch(`${wiki}/oauth/authorize`, {
        method: "POST",
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          origin: wiki,
          cookie: jar.header(),
        },
        body: new URLSearchParams({
          request: field(html, "request"),
          csrf: field(html, "csrf"),
          decision: "allow",
        }),
        redirect: "manual",
      });
      const code = new URL(decision.headers.get("location") ?? "").searchParams.get("code");
      if (code === null) throw new Error(`no code (status ${decision.status})`);
      const token = await fetch(`${wiki}/oauth/token`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({
          grant_type: "authorization_code",
          code,
          redirect_uri: CALLBACK,
          code_verifier: verifier,
          client_id: client.client_id,
          client_secret: client.client_secret,
        }),
      });
      if (token.status !== 200) throw new Error(`token exchange failed: ${await token.text()}`);
      await token.arrayBuffer();
    };

    // Warm up (JIT, statement cache, the first handshake) before measuring.
    for (let run = 0; run < 10; run++) await flow(run);
    return await measure("OAuth code flow (register→token, no human)", quick ? 20 : 100, (run) =>
      flow(run + 10),
    );
  } finally {
    await t.close();
  }
}

/** The report's figures: whole flows per second and their latency. */
export function oauthReport(flow: Summary): SectionFigures {
  return {
    figures: [
      figure("code flows per second (sequential)", flow.perSecond, "ops/s"),
      figure("code flow p50", flow.p50, "ms"),
      figure("code flow p99", flow.p99, "ms"),
    ],
    tables: [summaryTable([flow])],
    notes: [],
  };
}

if (import.meta.main) {
  const { printTable } = await import("./stats.ts");
  printTable([await benchOAuthFlow(process.argv.includes("--quick"))]);
}
