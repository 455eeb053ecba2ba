/**
 * A forwarding proxy for clients that cannot send an Authorization header (the conformance
 * suite): it listens on 127.0.0.1, adds `Authorization: Bearer <token>`, and forwards to a wiki
 * host of the test server. It stands where DNS would: a request addressed to the proxy itself
 * (Host and Origin naming the proxy) is re-addressed to the wiki's host and origin, and any other
 * Host or Origin is passed through unchanged, so the server's own checks still decide.
 */
import type { TestServer } from "./server.ts";

export interface McpProxy {
  /** http://127.0.0.1:<port>/mcp */
  url: string;
  stop(): Promise<void>;
}

export function startMcpProxy(t: TestServer, slug: string, token: string): McpProxy {
  const wikiHost = `${slug}.localhost:${t.port}`;
  const wikiOrigin = t.wikiOrigin(slug);
  const proxy = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      const own = [`127.0.0.1:${proxy.port}`, `localhost:${proxy.port}`];
      const url = new URL(request.url);
      const headers = new Headers(request.headers);
      const host = headers.get("host") ?? "";
      if (own.includes(host)) headers.set("host", wikiHost);
      const origin = headers.get("origin");
      if (origin !== null && own.some((address) => origin === `http://${address}`)) {
        headers.set("origin", wikiOrigin);
      }
      if (!headers.has("authorization")) headers.set("authorization", `Bearer ${token}`);
      const upstream = await fetch(`http://127.0.0.1:${t.port}${url.pathname}${url.search}`, {
        method: request.method,
        headers,
        body:
          request.method === "GET" || request.method === "HEAD"
            ? undefined
            : await request.arrayBuffer(),
        redirect: "manual",
      });
      return new Response(upstream.body, { status: upstream.status, headers: upstream.headers });
    },
  });
  return {
    url: `http://127.0.0.1:${proxy.port}/mcp`,
    stop: () => proxy.stop(true),
  };
}
