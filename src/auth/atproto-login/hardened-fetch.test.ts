import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  createHardenedFetch,
  HardenedFetchError,
  isLoopbackAddress,
  isPublicAddress,
} from "./hardened-fetch.ts";

/** A loopback server: the only network the tests may use (and what production must refuse). */
let server: ReturnType<typeof Bun.serve>;
let local: string;
beforeAll(() => {
  server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(request) {
      const path = new URL(request.url).pathname;
      if (path === "/redirect") return Response.redirect("http://127.0.0.1:1/elsewhere", 302);
      if (path === "/big") return new Response("x".repeat(64 * 1024));
      if (path === "/big-stream") {
        // No Content-Length: the cap must hold while reading.
        const stream = new ReadableStream({
          pull(controller) {
            controller.enqueue(new Uint8Array(16 * 1024));
          },
        });
        return new Response(stream);
      }
      if (path === "/slow") {
        await Bun.sleep(2000);
        return new Response("late");
      }
      return Response.json({ ok: true });
    },
  });
  local = `http://127.0.0.1:${server.port}`;
});
afterAll(() => server.stop(true));

/** Production settings, with DNS answered from a table so no test needs the network. */
function productionFetch(answers: Record<string, string[]>) {
  return createHardenedFetch({
    allowLoopbackHttp: false,
    resolveHost: async (host) => answers[host] ?? [],
    // Reaching the inner fetch would mean the guard let the request through.
    fetch: Object.assign(async () => new Response("reached"), { preconnect: fetch.preconnect }),
  });
}

async function refusal(call: Promise<Response>): Promise<string> {
  try {
    await call;
  } catch (error) {
    expect(error).toBeInstanceOf(HardenedFetchError);
    return error instanceof Error ? error.message : String(error);
  }
  throw new Error("the request was not refused");
}

describe("outside tests and development (production settings)", () => {
  const guarded = productionFetch({
    "pds.example.com": ["93.184.215.14"],
    "sneaky.example.com": ["93.184.215.14", "10.0.0.7"],
    "metadata.example.com": ["169.254.169.254"],
    "v6-private.example.com": ["fd00::1"],
    "mapped.example.com": ["::ffff:127.0.0.1"],
    localhost: ["127.0.0.1", "::1"],
  });

  test("https to a public host passes", async () => {
    const response = await guarded("https://pds.example.com/xrpc/x");
    expect(await response.text()).toBe("reached");
  });

  test.each([
    ["http://pds.example.com/", "only https"],
    ["https://127.0.0.1/", "non-public"],
    ["https://[::1]/", "non-public"],
    ["https://localhost/", "non-public"],
    ["https://10.1.2.3/", "non-public"],
    ["https://192.168.0.1/", "non-public"],
    ["https://172.20.0.1/", "non-public"],
    ["https://100.64.0.1/", "non-public"],
    ["https://[fe80::1]/", "non-public"],
    ["https://metadata.example.com/latest/meta-data", "non-public"],
    ["https://sneaky.example.com/", "non-public"],
    ["https://v6-private.example.com/", "non-public"],
    ["https://mapped.example.com/", "non-public"],
    ["https://pds.example.com:8443/", "default port"],
    ["https://user:pw@pds.example.com/", "credentials"],
    ["https://unknown.example.com/", "no address"],
    [`${"http"}://127.0.0.1:1/`, "only https"],
  ])("refuses %s", async (url, reason) => {
    expect(await refusal(guarded(url))).toContain(reason);
  });
});

describe("with ATPROTO_ALLOW_LOOPBACK_HTTP (tests, development)", () => {
  const relaxed = createHardenedFetch({
    allowLoopbackHttp: true,
    timeoutMs: 500,
    maxResponseBytes: 32 * 1024,
  });

  test("http to a loopback server passes", async () => {
    const response = await relaxed(`${local}/json`);
    expect(await response.json()).toEqual({ ok: true });
  });

  test("private addresses and http to public hosts are still refused", async () => {
    expect(await refusal(relaxed("http://10.0.0.1/"))).toContain("non-public");
    expect(await refusal(relaxed("http://93.184.215.14/"))).toContain("http to a public host");
  });

  test("a redirect is not followed", async () => {
    expect(await refusal(relaxed(`${local}/redirect`))).toContain("redirect");
  });

  test("a response over the cap is refused, declared or streamed", async () => {
    expect(await refusal(relaxed(`${local}/big`))).toContain("over 32768 bytes");
    expect(await refusal(relaxed(`${local}/big-stream`))).toContain("over 32768 bytes");
  });

  test("a slow server times out", async () => {
    let failed: unknown = null;
    try {
      await relaxed(`${local}/slow`);
    } catch (error) {
      failed = error;
    }
    expect(failed).toBeInstanceOf(Error);
    expect(failed instanceof Error ? failed.name : "").toBe("TimeoutError");
  });
});

test("address classes", () => {
  expect(isPublicAddress("93.184.215.14")).toBe(true);
  expect(isPublicAddress("2606:4700::1111")).toBe(true);
  for (const address of ["127.0.0.1", "0.0.0.0", "10.0.0.1", "::1", "::ffff:10.0.0.1", "fc00::1"])
    expect(isPublicAddress(address)).toBe(false);
  expect(isLoopbackAddress("127.5.0.1")).toBe(true);
  expect(isLoopbackAddress("::ffff:127.0.0.1")).toBe(true);
  expect(isLoopbackAddress("10.0.0.1")).toBe(false);
});
