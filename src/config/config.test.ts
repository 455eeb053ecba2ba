import { describe, expect, test } from "bun:test";
import { ConfigError, readConfig } from "./config.ts";

describe("readConfig", () => {
  test("defaults run a complete local instance", () => {
    const config = readConfig({});
    expect(config.port).toBe(8080);
    expect(config.publicUrl.origin).toBe("http://localhost:8080");
    expect(config.dataDir).toBe("./data");
    expect(config.modelDir).toBe("./data/models");
    expect(config.logLevel).toBe("info");
    expect(config.publicUrlIsDefault).toBe(true);
  });

  test.each([
    ["PORT", "eighty", "PORT"],
    ["PORT", "70000", "PORT"],
    ["PUBLIC_URL", "not a url", "PUBLIC_URL"],
    ["PUBLIC_URL", "ftp://example.com", "PUBLIC_URL"],
    ["PUBLIC_URL", "https://example.com/wiki", "PUBLIC_URL"],
    ["WIKI_PROCESSES_MAX", "0", "WIKI_PROCESSES_MAX"],
    ["WIKI_PROCESSES_MAX", "-3", "WIKI_PROCESSES_MAX"],
    ["LOG_LEVEL", "loud", "LOG_LEVEL"],
  ])("%s=%s stops start-up with a message naming the variable", (name, value, mentioned) => {
    expect(() => readConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => readConfig({ [name]: value })).toThrow(mentioned);
  });

  test("accepts a production origin", () => {
    const config = readConfig({
      PUBLIC_URL: "https://wikibot.example",
      PORT: "3000",
      LOG_LEVEL: "WARN",
    });
    expect(config.publicUrl.host).toBe("wikibot.example");
    expect(config.port).toBe(3000);
    expect(config.logLevel).toBe("warn");
  });
});

describe("Sign in with Bluesky settings", () => {
  test("default to the real PLC directory, DNS handle resolution and https only", () => {
    const config = readConfig({});
    expect(config.atprotoPlcUrl.href).toBe("https://plc.directory/");
    expect(config.atprotoHandleResolver).toBeNull();
    expect(config.atprotoAllowLoopbackHttp).toBe(false);
  });

  test.each([
    ["ATPROTO_ALLOW_LOOPBACK_HTTP", "yes"],
    ["ATPROTO_PLC_URL", "plc.directory"],
    ["ATPROTO_HANDLE_RESOLVER", "ftp://pds.example"],
  ])("%s=%s stops start-up naming the variable", (name, value) => {
    expect(() => readConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => readConfig({ [name]: value })).toThrow(name);
  });
});
