import { describe, expect, test } from "bun:test";
import {
  clientResponse,
  forwardedCookies,
  type UpstreamRequest,
  upstreamHeaders,
} from "./proxy.ts";

function upstream(clientHeaders: Record<string, string>): UpstreamRequest {
  return {
    method: "GET",
    pathAndQuery: "/Home",
    clientHeaders: new Headers(clientHeaders),
    body: null,
    publicHost: "demo.wiki.example",
    identity: [
      ["x-otterwiki-name", "Vera%20Viewer"],
      ["x-otterwiki-email", "v%40users.wikibot.invalid"],
      ["x-otterwiki-permissions", "READ"],
    ],
  };
}

describe("headers sent to Otterwiki", () => {
  test("client identity, forwarding and credential headers never pass; ours replace them", () => {
    const headers = upstreamHeaders(
      upstream({
        "x-otterwiki-permissions": "READ,WRITE,UPLOAD,ADMIN",
        "X-Otterwiki-Name": "Mallory",
        "x-otterwiki-email": "mallory@example.org",
        "x-otterwiki-anything": "1",
        "x-forwarded-proto": "http",
        "x-forwarded-host": "evil.example",
        "x-forwarded-for": "10.0.0.1",
        forwarded: "for=10.0.0.1",
        "x-real-ip": "10.0.0.1",
        authorization: "Bearer wbt_x.y",
        "proxy-authorization": "Basic eA==",
        host: "evil.example",
        "content-length": "12",
        referer: "https://demo.wiki.example/Home?edit",
        accept: "text/html",
      }),
    );
    expect(Object.fromEntries(headers)).toEqual({
      "x-otterwiki-name": "Vera%20Viewer",
      "x-otterwiki-email": "v%40users.wikibot.invalid",
      "x-otterwiki-permissions": "READ",
      referer: "https://demo.wiki.example/Home?edit",
      accept: "text/html",
    });
  });

  test("underscore names (SCRIPT_NAME & co.) and client x-wikibot-* headers never pass", () => {
    const headers = upstreamHeaders({
      ...upstream({
        SCRIPT_NAME: "/x",
        path_info: "/-/admin",
        x_otterwiki_permissions: "ADMIN",
        "x-wikibot-route": "save?path=Home",
        "x-forwarded-ssl": "on",
        "content-type": "multipart/form-data; boundary=client",
        accept: "text/html",
      }),
      route: "rename?path=Home",
      contentType: "application/x-www-form-urlencoded",
    });
    expect([...headers.keys()].filter((name) => !name.startsWith("x-otterwiki-"))).toEqual([
      "accept",
      "content-type",
      "x-wikibot-route",
    ]);
    expect(headers.get("x-wikibot-route")).toBe("rename?path=Home");
    expect(headers.get("content-type")).toBe("application/x-www-form-urlencoded");
  });

  test("hop-by-hop headers and the ones Connection names are dropped", () => {
    const headers = upstreamHeaders(
      upstream({
        connection: "keep-alive, X-Secret-Hop",
        "keep-alive": "timeout=5",
        "x-secret-hop": "1",
        te: "trailers",
        upgrade: "websocket",
        "transfer-encoding": "chunked",
        "x-kept": "yes",
      }),
    );
    expect([...headers.keys()].filter((name) => !name.startsWith("x-otterwiki-"))).toEqual([
      "x-kept",
    ]);
  });

  test("our session cookies stay with us; Otterwiki's own cookie passes", () => {
    expect(
      forwardedCookies(
        "wb_wiki_session=sess_a.b; ow_demo=abc; __Host-wb_session=sess_c.d; wb_checked=1; theme=dark",
      ),
    ).toBe("ow_demo=abc; theme=dark");
    expect(forwardedCookies("wb_handoff=x")).toBe("");
  });
});

describe("responses from Otterwiki", () => {
  test("hop-by-hop headers are dropped, every Set-Cookie kept, and the lease released at the end", async () => {
    const headers = new Headers({
      connection: "close, x-hop",
      "x-hop": "1",
      "keep-alive": "timeout=5",
      "content-type": "text/html; charset=utf-8",
    });
    headers.append("set-cookie", "ow_demo=a; Path=/");
    headers.append("set-cookie", "other=b; Path=/");
    let released = 0;
    const response = clientResponse(new Response("<p>page</p>", { status: 200, headers }), () => {
      released += 1;
    }, ["wb_wiki_session=; Max-Age=0"]);
    expect(response.headers.get("connection")).toBeNull();
    expect(response.headers.get("x-hop")).toBeNull();
    expect(response.headers.get("keep-alive")).toBeNull();
    expect(response.headers.getSetCookie()).toEqual([
      "ow_demo=a; Path=/",
      "other=b; Path=/",
      "wb_wiki_session=; Max-Age=0",
    ]);
    expect(response.headers.get("cache-control")).toBe("private, no-cache");
    expect(released).toBe(0);
    expect(await response.text()).toBe("<p>page</p>");
    expect(released).toBe(1);
  });

  test("a client that goes away releases the lease too", async () => {
    let released = 0;
    const response = clientResponse(
      new Response(new ReadableStream({ pull: () => undefined })),
      () => {
        released += 1;
      },
    );
    await response.body?.cancel();
    expect(released).toBe(1);
  });
});

describe("slow clients", () => {
  test("Otterwiki's body is read ahead, so its worker is free before the client reads", async () => {
    let released = 0;
    const chunks = ["<p>one</p>", "<p>two</p>", "<p>three</p>"];
    const upstreamBody = new ReadableStream<Uint8Array>({
      pull(controller) {
        const next = chunks.shift();
        if (next === undefined) controller.close();
        else controller.enqueue(new TextEncoder().encode(next));
      },
    });
    const response = clientResponse(new Response(upstreamBody), () => {
      released += 1;
    });
    // The client has not read a byte yet.
    for (let tick = 0; tick < 20 && released === 0; tick++) await Bun.sleep(1);
    expect(released).toBe(1);
    expect(await response.text()).toBe("<p>one</p><p>two</p><p>three</p>");
    expect(released).toBe(1);
  });
});
